# fuzz targets of dmarc/: the record parser (dmarc_record) and the From parser with the
# author-domain rules (from). Seeds: the records of dmarc-vectors.yaml and the golden
# cases, and From values with display-name tricks, groups, comments and obs- forms.
MW_FUZZ_TARGETS += dmarc_record from
check_PROGRAMS += tests/fuzz/dmarc_record_replay tests/fuzz/from_replay
TESTS += tests/fuzz/dmarc_record_replay tests/fuzz/from_replay

tests_fuzz_dmarc_record_replay_SOURCES = tests/fuzz/dmarc_record_fuzz.cpp tests/fuzz/replay_main.cpp
tests_fuzz_dmarc_record_replay_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/dmarc_record"'
tests_fuzz_dmarc_record_replay_LDADD = $(MW_DMARC_LINK)

tests_fuzz_from_replay_SOURCES = tests/fuzz/from_fuzz.cpp tests/fuzz/replay_main.cpp
tests_fuzz_from_replay_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/from"'
tests_fuzz_from_replay_LDADD = $(MW_DMARC_LINK)
