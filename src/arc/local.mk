# arc/: ARC chain validation (RFC 8617 §5.2) on OpenSSL: canonicalization, body and
# header hashes, RSA/Ed25519 signatures, keys through dns::Resolver. doc/ARCHITECTURE.md,
# "ARC (src/arc/)". Only .cpp files here: `make fuzz` hands this list to clang as is.
noinst_LIBRARIES += libmw_arc.a
libmw_arc_a_SOURCES = \
	src/arc/canon.cpp \
	src/arc/verify.cpp
# What a program using libmw_arc.a links after it.
MW_ARC_LINK = libmw_arc.a libmw_dns.a libmw_message.a libmw_obs.a libmw_base.a \
	$(LDNS_LIBS) $(IDN2_LIBS) $(UNBOUND_LIBS) $(CRYPTO_LIBS)
