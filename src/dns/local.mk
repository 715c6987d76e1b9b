# dns/: the Resolver interface, ZoneResolver (master files, tests) and UnboundResolver.
# Private headers go in EXTRA_DIST, not SOURCES: `make fuzz` compiles the SOURCES list.
noinst_LIBRARIES += libmw_dns.a
libmw_dns_a_SOURCES = \
	src/dns/names.cpp \
	src/dns/idna.cpp \
	src/dns/resolver.cpp \
	src/dns/zone_parse.cpp \
	src/dns/zone.cpp \
	src/dns/rdata.cpp \
	src/dns/unbound.cpp \
	src/dns/session.cpp
libmw_dns_a_CXXFLAGS = $(AM_CXXFLAGS) $(LDNS_CFLAGS) $(UNBOUND_CFLAGS) $(IDN2_CFLAGS)
EXTRA_DIST += src/dns/names.h src/dns/zone_parse.h src/dns/rdata.h
