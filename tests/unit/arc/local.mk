# unit tests of arc/: RFC 6376 §3.4.6 canonicalization, structure errors, chains sealed
# with keys made at run time over a ZoneResolver (pass, temperror, revoked, RSA < 1024).
check_PROGRAMS += tests/unit/arc/arc_tests
TESTS += tests/unit/arc/arc_tests
tests_unit_arc_arc_tests_SOURCES = tests/unit/arc/arc_test.cpp
tests_unit_arc_arc_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS)
tests_unit_arc_arc_tests_LDADD = $(MW_ARC_LINK) $(MW_GTEST_LINK)

# unit tests of arc/seal.h: key loading errors, key records and checkPublishedKey over
# tests/keys/keys.zone, seals verified by our Verifier (hops 1-3, cv=fail, N = 50).
check_PROGRAMS += tests/unit/arc/seal_tests
TESTS += tests/unit/arc/seal_tests
tests_unit_arc_seal_tests_SOURCES = tests/unit/arc/seal_test.cpp
tests_unit_arc_seal_tests_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_TEST_KEYS_DIR='"$(abs_top_srcdir)/tests/keys"'
tests_unit_arc_seal_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS)
tests_unit_arc_seal_tests_LDADD = $(MW_ARC_LINK) $(MW_GTEST_LINK)
# Our seals validated by dkimpy (python3-dkim), and our hop over a chain dkimpy made.
TESTS += tests/unit/arc/seal_dkimpy_test.sh
dist_noinst_SCRIPTS += tests/unit/arc/seal_dkimpy_test.sh
# arc.seal through configtest (key, published record via --dns-zone) and check (the
# ARC set it would add, check --json arc.sealed).
TESTS += tests/unit/arc/seal_cli_test.sh
dist_noinst_SCRIPTS += tests/unit/arc/seal_cli_test.sh
