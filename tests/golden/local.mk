# Golden tests through the real `mailwarden check` binary (offline: --dns-zone, --now).
# tests/golden/dmarc/<case>/: message + zone + envelope + expected result; see the
# runner's docstring. MW_GOLDEN_UPDATE=1 make check TESTS=tests/golden/dmarc_golden.py
# rewrites the goldens (review the diff).
TESTS += tests/golden/dmarc_golden.py
EXTRA_DIST += tests/golden/dmarc_golden.py tests/golden/arc_fixtures.py tests/golden/dmarc
