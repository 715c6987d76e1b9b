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

# The same lists through `check --dns-zone` (the milter's pipeline, offline): a listed
# client and a listed URL host, each with its symbol and score; an error answer is
# reported "blocked" and scores nothing; iprev from the zone's PTR and A records.
cat >>"$tmp/lists.zone" <<'ZONE'
9.2.0.192.good.example. A 127.0.0.2
9.2.0.192.refused.example. A 127.255.255.254
bad.example.dom.example. A 127.0.1.2
9.2.0.192.in-addr.arpa. PTR mx.sender.example.
mx.sender.example. A 192.0.2.9
ZONE
{
  printf 'authserv_id: mx.example.org\nrules: {directories: []}\nreputation:\n  lists:\n'
  list good.example client_ip 127.0.0.2 GOOD_LISTED
  list refused.example client_ip 127.0.0.2 REFUSED_LISTED
  list dom.example url 127.0.1.2 DOM_LISTED
} >"$tmp/check.yaml"
printf 'From: a@sender.example\r\nSubject: x\r\n\r\nsee http://bad.example/x\r\n' >"$tmp/m.eml"
out=$("$bin" check -c "$tmp/check.yaml" --dns-zone "$tmp/lists.zone" --client-ip 192.0.2.9 \
  --helo mx.sender.example --mail-from a@sender.example --json "$tmp/m.eml" 2>&1); rc=$?
one=$(printf '%s' "$out" | tr -d ' \n')
check "check: listed client" 0 '{"zone":"good.example","lookup":"192.0.2.9","key":"client_ip","query":"9.2.0.192.good.example","codes":["127.0.0.2"],"result":"listed","symbols":["GOOD_LISTED"]}' "$rc" "$one"
check "check: error answer blocked" 0 '{"zone":"refused.example","lookup":"192.0.2.9","key":"client_ip","query":"9.2.0.192.refused.example","codes":["127.255.255.254"],"result":"blocked","symbols":[]}' "$rc" "$one"
check "check: URL host listed" 0 '"query":"bad.example.dom.example","codes":["127.0.1.2"],"result":"listed","symbols":["DOM_LISTED"]' "$rc" "$one"
check "check: iprev" 0 '"iprev":{"result":"pass","name":"mx.sender.example"}' "$rc" "$one"
check "check: scores" 0 '{"id":"DOM_LISTED","score":0.0},{"id":"GOOD_LISTED","score":0.0}' "$rc" "$one"
case "$one" in *REFUSED_LISTED*) echo "FAIL check: the error answer counted as a listing"; failed=1 ;; *) echo "ok check: the error answer is no listing" ;; esac
exit $failed
