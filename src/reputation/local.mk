# reputation/: DNS block and allow lists (RFC 5782: keys, answer classes, the pause after
# error answers, §5 test points) and iprev (RFC 8601 §3) over dns::Resolver::start().
# options.cpp (the code syntax and validate()) uses base only: config/ calls it.
# Only .cpp files here: `make fuzz` hands this list to clang as is.
noinst_LIBRARIES += libmw_reputation.a
libmw_reputation_a_SOURCES = \
	src/reputation/options.cpp \
	src/reputation/lists.cpp \
	src/reputation/iprev.cpp
libmw_reputation_a_CXXFLAGS = $(AM_CXXFLAGS) $(CRYPTO_CFLAGS)
# What a program using libmw_reputation.a links after it.
MW_REPUTATION_LINK = libmw_reputation.a libmw_dns.a libmw_message.a libmw_obs.a libmw_base.a \
	$(LDNS_LIBS) $(IDN2_LIBS) $(UNBOUND_LIBS) $(CRYPTO_LIBS) $(FMT_LIBS)
