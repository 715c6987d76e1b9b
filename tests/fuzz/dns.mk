# fuzz target of dns/: master-file text into ZoneResolver::loadText, then queries.
MW_FUZZ_TARGETS += zone
check_PROGRAMS += tests/fuzz/zone_replay
TESTS += tests/fuzz/zone_replay
tests_fuzz_zone_replay_SOURCES = tests/fuzz/zone_fuzz.cpp tests/fuzz/replay_main.cpp
tests_fuzz_zone_replay_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/zone"'
tests_fuzz_zone_replay_LDADD = libmw_dns.a libmw_base.a $(LDNS_LIBS) $(UNBOUND_LIBS)
