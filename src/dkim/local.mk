# dkim/: libopendkim verification (our RFC 8301 policy, keys through dns::Resolver) and
# signing; the only folder that includes opendkim/dkim.h. doc/ARCHITECTURE.md, dkim/.
# Only .cpp files here: `make fuzz` hands this list to clang as is.
noinst_LIBRARIES += libmw_dkim.a
libmw_dkim_a_SOURCES = \
	src/dkim/verify.cpp \
	src/dkim/sign.cpp \
	src/dkim/key_cache.cpp
EXTRA_DIST += src/dkim/opendkim.h src/dkim/key_cache.h
libmw_dkim_a_CXXFLAGS = $(AM_CXXFLAGS) $(OPENDKIM_CFLAGS)
# What a program using libmw_dkim.a links after it.
MW_DKIM_LINK = libmw_dkim.a libmw_dns.a libmw_message.a libmw_obs.a libmw_base.a \
	$(OPENDKIM_LIBS) $(LDNS_LIBS) $(IDN2_LIBS) $(UNBOUND_LIBS)

# tests/tools/dkim_sign: signs a message on stdin (tests, DMARC golden cases, demo).
noinst_PROGRAMS += tests/tools/dkim_sign
tests_tools_dkim_sign_SOURCES = tests/tools/dkim_sign.cpp tests/support/lsan_opendkim.cpp
tests_tools_dkim_sign_LDADD = $(MW_DKIM_LINK)
