# unit tests of dkim/: sign and verify with the keys of tests/keys over a ZoneResolver
# loaded from tests/keys/keys.zone (RFC 8301 policy, BADSIGHANDLES, limits, t=/x=,
# temperror, chunking).
check_PROGRAMS += tests/unit/dkim/dkim_tests
TESTS += tests/unit/dkim/dkim_tests
tests_unit_dkim_dkim_tests_SOURCES = tests/unit/dkim/dkim_test.cpp \
	tests/support/lsan_opendkim.cpp
tests_unit_dkim_dkim_tests_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_TEST_KEYS_DIR='"$(abs_top_srcdir)/tests/keys"'
tests_unit_dkim_dkim_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS)
tests_unit_dkim_dkim_tests_LDADD = $(MW_DKIM_LINK) $(MW_GTEST_LINK)
EXTRA_DIST += tests/keys
# `mailwarden check` with DKIM: JSON fields, A-R properties, --now driving t=/x=.
TESTS += tests/unit/dkim/check_cli_test.sh
dist_noinst_SCRIPTS += tests/unit/dkim/check_cli_test.sh
