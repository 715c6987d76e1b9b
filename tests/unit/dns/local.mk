# unit tests of dns/
check_PROGRAMS += tests/unit/dns/dns_tests
TESTS += tests/unit/dns/dns_tests
tests_unit_dns_dns_tests_SOURCES = \
	tests/unit/dns/testing.h \
	tests/unit/dns/resolver_test.cpp \
	tests/unit/dns/zone_test.cpp \
	tests/unit/dns/rdata_test.cpp \
	tests/unit/dns/idna_test.cpp \
	tests/unit/dns/unbound_test.cpp \
	tests/unit/dns/session_test.cpp \
	tests/unit/dns/async_test.cpp \
	tests/unit/dns/dns_delay_process.h \
	tests/support/nsd_server.h tests/support/stop_child.h
tests_unit_dns_dns_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS) $(UNBOUND_CFLAGS)
tests_unit_dns_dns_tests_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_TEST_ZONES='"$(abs_top_srcdir)/tests/unit/dns/zones"' \
	-DMW_DNS_DELAY='"$(abs_top_builddir)/tests/tools/dns_delay"'
# async_test.cpp runs the forwarder: build it first, also for `make tests/unit/dns/dns_tests`.
EXTRA_tests_unit_dns_dns_tests_DEPENDENCIES = tests/tools/dns_delay
tests_unit_dns_dns_tests_LDADD = libmw_dns.a libmw_obs.a libmw_base.a $(LDNS_LIBS) $(IDN2_LIBS) $(UNBOUND_LIBS) $(MW_GTEST_LINK)
EXTRA_DIST += tests/unit/dns/zones
