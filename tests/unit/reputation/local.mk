# unit tests of reputation/: keys, code matching, blocked answers and the pause, iprev,
# the RFC 5782 §5 test points, all over a ZoneResolver.
check_PROGRAMS += tests/unit/reputation/reputation_tests
TESTS += tests/unit/reputation/reputation_tests
tests_unit_reputation_reputation_tests_SOURCES = \
	tests/unit/reputation/options_test.cpp \
	tests/unit/reputation/lists_test.cpp \
	tests/unit/reputation/iprev_test.cpp
tests_unit_reputation_reputation_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS)
tests_unit_reputation_reputation_tests_LDADD = $(MW_REPUTATION_LINK) $(MW_GTEST_LINK)

# The CLI: `lists test` over zone files, its lines and exit codes.
TESTS += tests/unit/reputation/lists_cli_test.sh
EXTRA_DIST += tests/unit/reputation/lists_cli_test.sh
