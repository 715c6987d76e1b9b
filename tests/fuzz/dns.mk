# fuzz target of dns/: master-file text into ZoneResolver::loadText, then queries.
MW_FUZZ_TARGETS += zone
check_PROGRAMS += tests/fuzz/zone_replay
TESTS += tests/fuzz/zone_replay
tests_fuzz_zone_replay_SOURCES = tests/fuzz/zone_fuzz.cpp tests/fuzz/replay_main.cpp
tests_fuzz_zone_replay_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/zone"'
tests_fuzz_zone_replay_LDADD = libmw_dns.a libmw_base.a $(LDNS_LIBS) $(IDN2_LIBS) $(UNBOUND_LIBS)

# dns_wire: libunbound's ub_result into an Answer (rdata.cpp) and wire names (names.cpp),
# names checked against libldns's reading of their presentation form.
MW_FUZZ_TARGETS += dns_wire
check_PROGRAMS += tests/fuzz/dns_wire_replay
TESTS += tests/fuzz/dns_wire_replay
tests_fuzz_dns_wire_replay_SOURCES = tests/fuzz/dns_wire_fuzz.cpp tests/fuzz/replay_main.cpp
tests_fuzz_dns_wire_replay_CPPFLAGS = $(AM_CPPFLAGS) $(LDNS_CFLAGS) $(UNBOUND_CFLAGS) \
	-DMW_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/dns_wire"'
tests_fuzz_dns_wire_replay_LDADD = libmw_dns.a libmw_base.a $(LDNS_LIBS) $(IDN2_LIBS) $(UNBOUND_LIBS)
