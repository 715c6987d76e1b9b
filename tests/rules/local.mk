# The shipped rules' own test cases (rules/*.yaml `tests:`), run by `make check` through
# the mailwarden binary of this build: `mailwarden rules test $(srcdir)/rules`.
TESTS += tests/rules/shipped_rules_test.sh
EXTRA_DIST += tests/rules/shipped_rules_test.sh
# SpamAssassin's packaged sample-spam.txt (GTUBE) is rejected by the shipped rules;
# fails, not skips, when the spamassassin package is missing (contrib/install-deps.sh).
TESTS += tests/rules/sample_spam_test.sh
EXTRA_DIST += tests/rules/sample_spam_test.sh
# body:text over HTML character references (issue 16 point 4): tests/rules/html_refs/.
TESTS += tests/rules/html_refs_test.sh
EXTRA_DIST += tests/rules/html_refs_test.sh tests/rules/html_refs
