# dmarc/: RFC 9989 — record parser, DNS Tree Walk, organizational domains, alignment and
# evaluation over dns::Resolver (no Public Suffix List).
# Only .cpp files here: `make fuzz` hands this list to clang as is.
noinst_LIBRARIES += libmw_dmarc.a
libmw_dmarc_a_SOURCES = \
	src/dmarc/record.cpp \
	src/dmarc/discovery.cpp \
	src/dmarc/author.cpp
# What a program using libmw_dmarc.a links after it.
MW_DMARC_LINK = libmw_dmarc.a libmw_dns.a libmw_message.a libmw_obs.a libmw_base.a \
	$(LDNS_LIBS) $(IDN2_LIBS) $(UNBOUND_LIBS)
