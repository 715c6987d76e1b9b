# spf/: the strict RFC 7208 record parser, macro expansion and check_host() over
# dns::Resolver (doc/CONFORMANCE.md says what libspf2 does and what our code does).
# Only .cpp files here: `make fuzz` hands this list to clang as is.
noinst_LIBRARIES += libmw_spf.a
libmw_spf_a_SOURCES = \
	src/spf/record.cpp \
	src/spf/macro.cpp \
	src/spf/check.cpp \
	src/spf/libspf2_engine.cpp
EXTRA_DIST += src/spf/macro.h src/spf/libspf2_engine.h
# What a program using libmw_spf.a links after it.
MW_SPF_LINK = libmw_spf.a libmw_dns.a libmw_message.a libmw_obs.a libmw_base.a \
	$(SPF2_LIBS) $(LDNS_LIBS) $(IDN2_LIBS) $(UNBOUND_LIBS)
