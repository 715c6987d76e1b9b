# tests/tools: milter_client, our MTA side of the milter protocol (version 6, as Postfix
# speaks it), for tests/integration/milter_protocol_test.sh and latency measurements.
# Built by `make`, never installed. milter_protocol.{h,cpp} is reusable by other tools.
noinst_PROGRAMS += tests/tools/milter_client
tests_tools_milter_client_SOURCES = tests/tools/milter_client.cpp \
	tests/tools/milter_protocol.cpp tests/tools/milter_protocol.h
tests_tools_milter_client_LDADD = libmw_base.a

# Unit tests of the protocol encoding, decoding and message parsing (no milter needed).
check_PROGRAMS += tests/tools/milter_protocol_tests
TESTS += tests/tools/milter_protocol_tests
tests_tools_milter_protocol_tests_SOURCES = tests/tools/milter_protocol_test.cpp \
	tests/tools/milter_protocol.cpp tests/tools/milter_protocol.h
tests_tools_milter_protocol_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS)
tests_tools_milter_protocol_tests_LDADD = libmw_base.a $(MW_GTEST_LINK)

EXTRA_DIST += tests/integration/milter_protocol_test.sh

# fault_milter: mailwarden's milter with allocation faults injected per session and event
# (tests/integration/fault_injection_test.sh). The wrap of smfi_register and the
# replaced operator new exist in this test program only, never in `mailwarden`.
noinst_PROGRAMS += tests/tools/fault_milter
tests_tools_fault_milter_SOURCES = tests/tools/fault_milter.cpp \
	tests/support/alloc_fault.cpp tests/support/alloc_fault.h
tests_tools_fault_milter_LDFLAGS = $(AM_LDFLAGS) -Wl,--wrap=smfi_register
tests_tools_fault_milter_LDADD = libmw_milter.a libmw_metrics.a $(MW_CORE_LIBS) $(MILTER_LIBS) -lpthread \
	$(MHD_LIBS) $(CRYPTO_LIBS) \
	$(YAML_LIBS) $(FMT_LIBS) $(SPF2_LIBS) $(OPENDKIM_LIBS) $(LDNS_LIBS) $(IDN2_LIBS) $(UNBOUND_LIBS) $(HS_LIBS) \
	$(SQLITE3_LIBS) $(HIREDIS_LIBS) $(XML2_LIBS) $(ZLIB_LIBS)

# dns_delay: a loopback DNS forwarder that holds every answer --delay-ms, for the tests
# of lookups in flight at once (tests/unit/dns/async_test.cpp) and benchmarks.
noinst_PROGRAMS += tests/tools/dns_delay
tests_tools_dns_delay_SOURCES = tests/tools/dns_delay.cpp

# arc_verify: arc::verifyMessage on a message from stdin, keys from zone files; prints
# "cv=... instances=N oldest_pass=K sealers=..." (tests/tools/arc_chain_test.sh
# and the ARC integration tests, against dkimpy's arc_verify).
noinst_PROGRAMS += tests/tools/arc_verify
tests_tools_arc_verify_SOURCES = tests/tools/arc_verify.cpp
tests_tools_arc_verify_LDADD = $(MW_ARC_LINK)
# The dkimpy mailing-list chains (tests/integration/mw_arcchain.py) validated by
# arc_verify and by dkimpy: no root, no Postfix, so part of `make check`.
TESTS += tests/tools/arc_chain_test.sh
EXTRA_DIST += tests/tools/arc_chain_test.sh tests/integration/mw_arcchain.py \
	tests/integration/arc.example.zone tests/integration/arc.example.org.zone \
	tests/keys/arc-author.example.pem tests/keys/arc-lists.example.org.pem \
	tests/keys/arc-relay.example.pem
