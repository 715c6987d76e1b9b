# dns/: the Resolver interface, ZoneResolver (master files, tests) and UnboundResolver.
noinst_LIBRARIES += libmw_dns.a
libmw_dns_a_SOURCES = \
	src/dns/names.h \
	src/dns/names.cpp \
	src/dns/resolver.cpp \
	src/dns/zone_parse.h \
	src/dns/zone_parse.cpp \
	src/dns/zone.cpp
libmw_dns_a_CXXFLAGS = $(AM_CXXFLAGS) $(LDNS_CFLAGS) $(UNBOUND_CFLAGS)
