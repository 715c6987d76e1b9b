# fuzz target of verdict/: Authentication-Results values as senders write them.
MW_FUZZ_TARGETS += authres
check_PROGRAMS += tests/fuzz/authres_replay
TESTS += tests/fuzz/authres_replay
tests_fuzz_authres_replay_SOURCES = tests/fuzz/authres_fuzz.cpp tests/fuzz/replay_main.cpp
tests_fuzz_authres_replay_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/authres"'
tests_fuzz_authres_replay_LDADD = libmw_verdict.a libmw_message.a libmw_base.a
