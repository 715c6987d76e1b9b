#!/bin/sh
# `mailwarden lists test` as an operator runs it, over zone files (--dns-zone): one line
# per list, exit 0 when all pass the RFC 5782 §5 test points, 1 otherwise, 2 for a bad
# configuration. Run by `make check` from the build folder (automake exports srcdir).
set -u
bin=./mailwarden
failed=0
check() {  # check NAME EXPECTED-RC EXPECTED-TEXT ACTUAL-RC ACTUAL-OUTPUT
  if [ "$4" != "$2" ]; then echo "FAIL $1: exit $4, expected $2"; echo "$5"; failed=1; return; fi
  case "$5" in *"$3"*) echo "ok $1" ;; *) echo "FAIL $1: output lacks '$3':"; echo "$5"; failed=1 ;; esac
}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/lists.zone" <<'ZONE'
2.0.0.127.good.example. A 127.0.0.2
2.0.0.127.all.example.  A 127.0.0.2
1.0.0.127.all.example.  A 127.0.0.3
2.0.0.127.refused.example. A 127.255.255.254
test.dom.example. A 127.0.1.2
ZONE
list() {  # list ZONE LOOKUP CODE SYMBOL
  printf '    - zone: %s\n      lookup: [%s]\n      answers:\n        - codes: ["%s"]\n          symbol: %s\n' "$1" "$2" "$3" "$4"
}
{
  printf 'authserv_id: mx.example.org\nrules: {directories: []}\nreputation:\n  lists:\n'
  list good.example client_ip 127.0.0.[2..3] GOOD
  list dom.example url 127.0.1.2 DOM
} >"$tmp/ok.yaml"
out=$("$bin" lists test -c "$tmp/ok.yaml" --dns-zone "$tmp/lists.zone" 2>&1); rc=$?
check "lists test all ok" 0 "good.example: ok
dom.example: ok" "$rc" "$out"
{
  printf 'authserv_id: mx.example.org\nrules: {directories: []}\nreputation:\n  lists:\n'
  list good.example client_ip 127.0.0.2 GOOD
  list all.example client_ip 127.0.0.[2..3] ALL
  list refused.example client_ip 127.0.0.2 REFUSED
} >"$tmp/bad.yaml"
out=$("$bin" lists test -c "$tmp/bad.yaml" --dns-zone "$tmp/lists.zone" 2>&1); rc=$?
check "lists test good list" 1 "good.example: ok" "$rc" "$out"
check "lists test answers everything" 1 "all.example: 127.0.0.1 is listed (127.0.0.3): the zone answers for everything — do not use it" "$rc" "$out"
check "lists test blocked resolver" 1 "refused.example: the test point 127.0.0.2 is not listed — wrong zone or blocked resolver (answer 127.255.255.254" "$rc" "$out"
printf 'rules: {directories: []}\nreputation:\n  lists:\n    - zone: x.example\n      lookup: [ip]\n' >"$tmp/broken.yaml"
out=$("$bin" lists test -c "$tmp/broken.yaml" 2>&1); rc=$?
check "lists test bad config" 2 "broken.yaml:5: reputation.lists[0].lookup[0]: unknown value 'ip'" "$rc" "$out"
printf 'rules: {directories: []}\n' >"$tmp/none.yaml"
out=$("$bin" lists test -c "$tmp/none.yaml" 2>&1); rc=$?
check "lists test no lists" 0 "no DNS lists configured" "$rc" "$out"
out=$("$bin" lists 2>&1); rc=$?
check "lists without test" 1 "expected 'test'" "$rc" "$out"
exit $failed
