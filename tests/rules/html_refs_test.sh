#!/bin/sh
# tests/rules/html_refs_test.sh -- `make check`: the body:text rules of
# tests/rules/html_refs/ match words spelled with HTML character references (every case
# passes and every case ran; shipped_rules_test.sh does the counting).
here=$(cd "$(dirname "$0")" && pwd)
MW_RULES_DIR=$here/html_refs exec sh "$here/shipped_rules_test.sh"
