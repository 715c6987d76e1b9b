# unit tests of rules/: every scope, composites, thresholds, the cache, error fixtures
# (errors/*.yaml, one file per error kind; its first line says the expected message).
check_PROGRAMS += tests/unit/rules/rules_tests
TESTS += tests/unit/rules/rules_tests
tests_unit_rules_rules_tests_SOURCES = tests/unit/rules/rules_test.cpp tests/unit/rules/text_test.cpp
tests_unit_rules_rules_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS)
tests_unit_rules_rules_tests_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_RULES_ERRORS='"$(abs_top_srcdir)/tests/unit/rules/errors"'
tests_unit_rules_rules_tests_LDADD = $(MW_CORE_LINK) $(MW_GTEST_LINK)
EXTRA_DIST += tests/unit/rules/errors

# The CLI: `rules test` output and exit codes, `configtest` with rule errors, `check --json`.
TESTS += tests/unit/rules/rules_cli_test.sh
EXTRA_DIST += tests/unit/rules/rules_cli_test.sh tests/unit/rules/cli
