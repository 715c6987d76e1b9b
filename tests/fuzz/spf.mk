# fuzz targets of spf/: the record parser (spf_record) and check_host() over a
# ZoneResolver built from the input (spf_eval). Seeds: the SPF/TXT values of the OpenSPF
# suites plus hand-written macro-heavy records (spf_record), and one file per
# rfc7208-tests.yml test in the "NAME TYPE VALUE" line format (spf_eval).
MW_FUZZ_TARGETS += spf_record spf_eval
check_PROGRAMS += tests/fuzz/spf_record_replay tests/fuzz/spf_eval_replay
TESTS += tests/fuzz/spf_record_replay tests/fuzz/spf_eval_replay

tests_fuzz_spf_record_replay_SOURCES = tests/fuzz/spf_record_fuzz.cpp tests/fuzz/replay_main.cpp
tests_fuzz_spf_record_replay_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/spf_record"'
tests_fuzz_spf_record_replay_LDADD = $(MW_SPF_LINK)

tests_fuzz_spf_eval_replay_SOURCES = tests/fuzz/spf_eval_fuzz.cpp tests/fuzz/replay_main.cpp
tests_fuzz_spf_eval_replay_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/spf_eval"'
tests_fuzz_spf_eval_replay_LDADD = $(MW_SPF_LINK)
