# The shipped rules' own test cases (rules/*.yaml `tests:`), run by `make check` through
# the mailwarden binary of this build: `mailwarden rules test $(srcdir)/rules`.
TESTS += tests/rules/shipped_rules_test.sh
EXTRA_DIST += tests/rules/shipped_rules_test.sh
