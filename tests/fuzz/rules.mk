# fuzz targets of rules/: the rule loader (YAML in) and matching (message in, fixed rules).
MW_FUZZ_TARGETS += rules_load rules_match
check_PROGRAMS += tests/fuzz/rules_load_replay tests/fuzz/rules_match_replay
TESTS += tests/fuzz/rules_load_replay tests/fuzz/rules_match_replay
tests_fuzz_rules_load_replay_SOURCES = tests/fuzz/rules_load_fuzz.cpp tests/fuzz/replay_main.cpp
tests_fuzz_rules_load_replay_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/rules_load"'
tests_fuzz_rules_load_replay_LDADD = libmw_rules.a libmw_message.a libmw_obs.a libmw_base.a \
	$(YAML_LIBS) $(FMT_LIBS) $(HS_LIBS)
tests_fuzz_rules_match_replay_SOURCES = tests/fuzz/rules_match_fuzz.cpp tests/fuzz/replay_main.cpp
tests_fuzz_rules_match_replay_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/rules_match"'
tests_fuzz_rules_match_replay_LDADD = libmw_rules.a libmw_message.a libmw_obs.a libmw_base.a \
	$(YAML_LIBS) $(FMT_LIBS) $(HS_LIBS)
