# Golden tests through the real `mailwarden check` binary (offline: --dns-zone, --now).
# tests/golden/dmarc/<case>/: message + zone + envelope + expected result; see the
# runner's docstring. MW_GOLDEN_UPDATE=1 make check TESTS=tests/golden/dmarc_golden.py
# rewrites the goldens (review the diff).
TESTS += tests/golden/dmarc_golden.py
EXTRA_DIST += tests/golden/golden_support.py tests/golden/dmarc_golden.py tests/golden/arc_fixtures.py tests/golden/dmarc

# The per-message log line, text and JSON (issue 19): tests/golden/logline/<case>/, see the
# runner's docstring; MW_GOLDEN_UPDATE=1 rewrites its goldens too.
TESTS += tests/golden/logline_golden.py
EXTRA_DIST += tests/golden/logline_golden.py tests/golden/logline
