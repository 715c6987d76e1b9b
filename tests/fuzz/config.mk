# fuzz target of config/: arbitrary bytes as a configuration file.
MW_FUZZ_TARGETS += config
check_PROGRAMS += tests/fuzz/config_replay
TESTS += tests/fuzz/config_replay
tests_fuzz_config_replay_SOURCES = tests/fuzz/config_fuzz.cpp tests/fuzz/replay_main.cpp
tests_fuzz_config_replay_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/config"'
tests_fuzz_config_replay_LDADD = libmw_config.a libmw_report.a libmw_reputation.a libmw_dns.a libmw_obs.a libmw_base.a $(YAML_LIBS) $(FMT_LIBS) $(IDN2_LIBS)
