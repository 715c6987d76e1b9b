#!/bin/sh
# tests/rules/shipped_rules_test.sh -- `make check`: every test case of the shipped rules
# (rules/*.yaml) passes under `mailwarden rules test`, and every case ran: the count it
# reports must equal the number of `expect:` lines in the files, so a rule file that
# silently loaded nothing cannot pass. Runs from the build directory (./mailwarden);
# MW_BIN and MW_RULES_DIR override.
set -u
here=$(cd "$(dirname "$0")" && pwd)
rules=${MW_RULES_DIR:-$here/../../rules}
bin=${MW_BIN:-./mailwarden}
if [ ! -x "$bin" ]; then
	echo "no mailwarden binary at $bin" >&2
	exit 1
fi
out=$("$bin" rules test "$rules" 2>&1)
rc=$?
printf '%s\n' "$out"
want=$(cat "$rules"/*.yaml | grep -c '^[[:space:]]*expect:[[:space:]]*\(hit\|miss\)')
summary=$(printf '%s\n' "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' | tail -n 1)
passed=${summary% *}
failed=${summary#* }
if [ "$rc" -ne 0 ] || [ -z "$summary" ] || [ "$failed" != 0 ] || [ "$passed" != "$want" ]; then
	echo "FAIL: mailwarden rules test $rules: exit $rc, '${summary:-no summary}' passed/failed, want $want passed" >&2
	exit 1
fi
echo "PASS: $passed cases of the shipped rules"
