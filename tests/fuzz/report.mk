# fuzz target of report/ (issue 20): rua mailto: URIs from DNS (parseMailto), stored
# tuples (recordFromKey round trip), text in a report (xmlSafe, renderAggregateReport).
# Seeds: the mailto forms of the unit tests (size suffixes, percent-escapes, header
# injection attempts), tuple keys, hostile text.
MW_FUZZ_TARGETS += report
check_PROGRAMS += tests/fuzz/report_replay
TESTS += tests/fuzz/report_replay

tests_fuzz_report_replay_SOURCES = tests/fuzz/report_fuzz.cpp tests/fuzz/replay_main.cpp
tests_fuzz_report_replay_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/report"'
tests_fuzz_report_replay_LDADD = $(MW_REPORT_LINK)
