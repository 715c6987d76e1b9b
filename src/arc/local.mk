# arc/: ARC chain validation (RFC 8617 §5.2) and sealing (§5.1) on OpenSSL: canonicalization, body and
# header hashes, RSA/Ed25519 signatures, keys through dns::Resolver. doc/ARCHITECTURE.md,
# "ARC (src/arc/)". Only .cpp files here: `make fuzz` hands this list to clang as is.
noinst_LIBRARIES += libmw_arc.a
libmw_arc_a_SOURCES = \
	src/arc/canon.cpp \
	src/arc/seal.cpp \
	src/arc/tags.cpp \
	src/arc/verify.cpp
EXTRA_DIST += src/arc/internal.h
# What a program using libmw_arc.a links after it.
MW_ARC_LINK = libmw_arc.a libmw_dns.a libmw_message.a libmw_obs.a libmw_base.a \
	$(LDNS_LIBS) $(IDN2_LIBS) $(UNBOUND_LIBS) $(CRYPTO_LIBS)
# tests/tools/arc_seal: seals a message on stdin (tests/unit/arc/seal_dkimpy_test.sh).
noinst_PROGRAMS += tests/tools/arc_seal
tests_tools_arc_seal_SOURCES = tests/tools/arc_seal.cpp
tests_tools_arc_seal_LDADD = $(MW_ARC_LINK)
