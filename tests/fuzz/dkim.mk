# fuzz target of dkim/: verification of a fuzzed message against fixed keys
# (dkim_verify). Seeds: messages signed with tests/keys and damaged variants.
MW_FUZZ_TARGETS += dkim_verify
check_PROGRAMS += tests/fuzz/dkim_verify_replay
TESTS += tests/fuzz/dkim_verify_replay
tests_fuzz_dkim_verify_replay_SOURCES = tests/fuzz/dkim_verify_fuzz.cpp tests/fuzz/replay_main.cpp
tests_fuzz_dkim_verify_replay_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/dkim_verify"'
tests_fuzz_dkim_verify_replay_LDADD = $(MW_DKIM_LINK)
