#!/bin/sh
# `mailwarden rules test` and `configtest` as an operator runs them: output and exit codes.
# Run by `make check` from the build folder (automake exports srcdir).
set -u
bin=./mailwarden
fixtures="${srcdir:-.}/tests/unit/rules/cli"
errors="${srcdir:-.}/tests/unit/rules/errors"
failed=0
check() {  # check NAME EXPECTED-RC EXPECTED-TEXT ACTUAL-RC ACTUAL-OUTPUT
  if [ "$4" != "$2" ]; then echo "FAIL $1: exit $4, expected $2"; failed=1; return; fi
  case "$5" in *"$3"*) echo "ok $1" ;; *) echo "FAIL $1: output lacks '$3':"; echo "$5"; failed=1 ;; esac
}
out=$("$bin" rules test "$fixtures" 2>&1); rc=$?
check "rules test summary" 1 "4 passed, 1 failed" "$rc" "$out"
check "rules test failure location" 1 "$fixtures/10-sample.yaml:15: rule ATTACH_EXE: expected hit, got miss" "$rc" "$out"

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/rules"
cp "$errors/duplicate-id.yaml" "$errors/unknown-scope.yaml" "$tmp/rules/"
printf 'authserv_id: mx.example.org\nrules:\n  directories: [%s/rules]\n  cache_dir: ""\n' "$tmp" > "$tmp/mw.yaml"
out=$("$bin" configtest -c "$tmp/mw.yaml" 2>&1); rc=$?
check "configtest duplicate id" 1 "$tmp/rules/duplicate-id.yaml:8: rule SAME: duplicate id" "$rc" "$out"
check "configtest unknown scope" 1 "$tmp/rules/unknown-scope.yaml:5: rule BAD_SCOPE: unknown scope 'bodyy'" "$rc" "$out"
out=$("$bin" rules test -c "$tmp/mw.yaml" 2>&1); rc=$?
check "rules test with bad rules" 2 "2 rule error(s)" "$rc" "$out"
rm "$tmp/rules/duplicate-id.yaml" "$tmp/rules/unknown-scope.yaml"
cp "$fixtures/10-sample.yaml" "$tmp/rules/" && mkdir "$tmp/rules/cases" && cp "$fixtures/cases/invoice-exe.eml" "$tmp/rules/cases/"
printf 'authserv_id: mx.example.org\nspf:\n  enabled: false\nrules:\n  directories: [%s/rules]\n  cache_dir: %s/cache\n' "$tmp" "$tmp" > "$tmp/mw.yaml"
mkdir "$tmp/cache"
out=$("$bin" check -c "$tmp/mw.yaml" --json "$fixtures/cases/invoice-exe.eml" 2>&1); rc=$?
check "check --json rules" 0 '"id": "ATTACH_EXE"' "$rc" "$out"
ls "$tmp/cache"/rules-attachment_name-*.hsdb >/dev/null 2>&1 || { echo "FAIL cache file not written"; failed=1; }
exit $failed
