# fuzz target of scan/: envelope + message through a whole Scan with every offline check
# on (SPF, DKIM, DMARC over a ZoneResolver, the shipped rules). Seeds: messages and
# envelopes that pass, fail and tempfail each check (tests/fuzz/corpus/scan).
MW_FUZZ_TARGETS += scan
check_PROGRAMS += tests/fuzz/scan_replay
TESTS += tests/fuzz/scan_replay
tests_fuzz_scan_replay_SOURCES = tests/fuzz/scan_fuzz.cpp tests/fuzz/replay_main.cpp
tests_fuzz_scan_replay_CPPFLAGS = $(AM_CPPFLAGS) -DMW_FUZZ_SRCDIR='"$(abs_top_srcdir)"' \
	-DMW_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/scan"'
tests_fuzz_scan_replay_LDADD = $(MW_CORE_LINK)
