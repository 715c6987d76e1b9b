# fuzz target of arc/: ARC chain validation of a fuzzed message against the ValiMail
# suite's key (arc). Seeds: suite messages (passing chains of 1..5 instances, broken ones).
MW_FUZZ_TARGETS += arc
check_PROGRAMS += tests/fuzz/arc_replay
TESTS += tests/fuzz/arc_replay
tests_fuzz_arc_replay_SOURCES = tests/fuzz/arc_fuzz.cpp tests/fuzz/replay_main.cpp
tests_fuzz_arc_replay_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/arc"'
tests_fuzz_arc_replay_LDADD = $(MW_ARC_LINK)
