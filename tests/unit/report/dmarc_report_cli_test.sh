#!/usr/bin/env bash
# dmarc_report_cli_test.sh -- `mailwarden dmarc-report` end to end (issue 20, point 3):
# records written to a SQLite store by record_store; --dry-run changes nothing; --out
# writes each report's gzip and mail, every gzip extracts and validates with xmllint
# against the RFC 9990 schema; a second run sends nothing; two runs in parallel send each
# domain's report exactly once between them; a fake sendmail that exits 75 gives exit 75
# and marks nothing, and the next run with a fake sendmail that keeps its input sends it.
# (The fake sendmail scripts stand in for the MTA; the Postfix end-to-end test is
# elsewhere.) Run by `make check` from the build directory; prints "N passed, N failed".
set -uo pipefail
bin=./mailwarden
rec=./tests/unit/report/record_store
here=$(cd "$(dirname "$0")" && pwd)
conf=${MW_CONFORMANCE_DIR:-$here/../../../../shared/conformance}
xsd=$conf/dmarc-reporting/dmarc-xml-0.2.xsd
if [[ ! -x $bin || ! -x $rec ]]; then
	echo "SKIP: run from the build directory after make check's programs are built"
	exit 77
fi
if ! command -v xmllint >/dev/null 2>&1 || [[ ! -r $xsd ]]; then
	echo "SKIP: xmllint or the RFC 9990 schema ($xsd) not available"
	exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "PASS $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
expect() { # NAME CONDITION-RESULT(0/1) [DETAIL]
	if [[ $2 == 0 ]]; then pass "$1"; else fail "$1"; [[ -n ${3:-} ]] && echo "$3" | head -20; fi
}

cat >"$work/zone" <<'ZONE'
$TTL 300
$ORIGIN test.
_dmarc.a TXT "v=DMARC1; p=reject; rua=mailto:agg@a.test"
_dmarc.b TXT "v=DMARC1; p=none; rua=mailto:dmarc@reports.ext.test,https://x.test/r"
b.test._report._dmarc.reports.ext TXT "v=DMARC1"
_dmarc.c TXT "v=DMARC1; p=none; rua=mailto:dmarc@reports.ext.test"
ZONE
cat >"$work/mw.yaml" <<YAML
authserv_id: mx.test.example
rules:
  directories: []
dmarc:
  reports:
    enabled: true
    store: "sqlite:$work/dmarc.sqlite"
    org_name: Test Receiver
    email: dmarc@mx.test.example
    extra_contact_info: https://mx.test.example/dmarc
YAML
day1=1772323200   # 2026-03-01T00:00:00Z
d=86400
for dom in a.test b.test c.test; do
	"$rec" "$work/dmarc.sqlite" $dom 192.0.2.1 $((day1 + 100)) 3 &&
		"$rec" "$work/dmarc.sqlite" $dom 2001:db8::25 $((day1 + 200)) 2 ||
		{ echo "FAIL record_store"; exit 1; }
done
report() { "$bin" dmarc-report -c "$work/mw.yaml" --dns-zone "$work/zone" "$@"; }

# --dry-run: prints what would go, changes nothing.
out=$(report --dry-run --now $((day1 + d + 3600)) 2>&1); rc=$?
[[ $rc == 0 && $out == *"would send a.test 2026-03-01 to mailto:agg@a.test"* &&
	$out == *"would send b.test 2026-03-01 to mailto:dmarc@reports.ext.test"* ]]
expect "dry run prints the reports" $? "$out"
[[ $out == *"c.test 2026-03-01: mailto:dmarc@reports.ext.test: unauthorized"* ]]
expect "unauthorized external destination skipped" $? "$out"

# --out: two reports (a.test, b.test), each gzip valid against the schema (and both are
# still there to send: the dry run claimed nothing).
mkdir "$work/out1" "$work/out2"
out=$(report --out "$work/out1" --now $((day1 + d + 3600)) 2>&1); rc=$?
[[ $rc == 0 && $out == *"sent 2 report(s) in 2 mail(s)"* && $out == *"1 not mailto"* &&
	$out == *"1 unauthorized"* ]]
expect "--out sends a.test and b.test (exit $rc)" $? "$out"
for f in "mx.test.example!a.test!$day1!$((day1 + d - 1)).xml.gz" \
	"mx.test.example!b.test!$day1!$((day1 + d - 1)).xml.gz"; do
	if [[ -s $work/out1/$f && -s $work/out1/$f.eml ]] &&
		gzip -dc "$work/out1/$f" >"$work/r.xml" &&
		xmllint --noout --schema "$xsd" "$work/r.xml" 2>"$work/err"; then
		pass "$f extracts and validates"
	else
		fail "$f"; cat "$work/err" 2>/dev/null | head
	fi
done
eml="$work/out1/mx.test.example!a.test!$day1!$((day1 + d - 1)).xml.gz.eml"
# The Subject is folded (RFC 5322 §2.1.1: over 78 characters) as RFC 9990's example is.
[[ $(sed -n '/^Subject:/{N;N;p;}' "$eml") == "Subject: Report Domain: a.test"$'\n'" Submitter: mx.test.example"$'\n'" Report-ID: <2026-03-01.a.test@mx.test.example>" ]] &&
	grep -q '^Message-ID: <2026-03-01.a.test@mx.test.example>$' "$eml" &&
	grep -q '^To: agg@a.test$' "$eml" &&
	grep -q "^Content-Disposition: attachment; filename=\"mx.test.example!a.test!$day1!$((day1 + d - 1)).xml.gz\"$" "$eml"
expect "the mail has RFC 9990's subject, id and attachment" $?
grep -q '<count>3</count>' "$work/r.xml" && grep -q '<source_ip>2001:db8::25</source_ip>' "$work/r.xml"
expect "the report carries the rows and counts" $?

# A second run sends nothing.
out=$(report --out "$work/out2" --now $((day1 + d + 7200)) 2>&1); rc=$?
[[ $rc == 0 && $out == *"sent 0 report(s)"* && -z $(ls "$work/out2") ]]
expect "a second run sends nothing" $? "$out"

# Two runs in parallel on a new day: each domain's report exactly once across both.
day2=$((day1 + d))
for dom in a.test b.test; do
	"$rec" "$work/dmarc.sqlite" $dom 192.0.2.2 $((day2 + 50)) 4 || exit 1
done
mkdir "$work/p1" "$work/p2"
report --out "$work/p1" --now $((day2 + d + 60)) >"$work/p1.log" 2>&1 &
pid1=$!
report --out "$work/p2" --now $((day2 + d + 60)) >"$work/p2.log" 2>&1 &
pid2=$!
wait $pid1; rc1=$?
wait $pid2; rc2=$?
n_a=$(ls "$work/p1" "$work/p2" | grep -c "^mx.test.example!a.test!$day2!.*\.xml\.gz$")
n_b=$(ls "$work/p1" "$work/p2" | grep -c "^mx.test.example!b.test!$day2!.*\.xml\.gz$")
[[ $rc1 == 0 && $rc2 == 0 && $n_a == 1 && $n_b == 1 ]]
expect "parallel runs: each report once (a=$n_a b=$n_b, exit $rc1/$rc2)" $? "$(cat "$work/p1.log" "$work/p2.log")"

# A failing MTA: exit 75, nothing marked; the next run with a working one sends it.
day3=$((day2 + d))
"$rec" "$work/dmarc.sqlite" a.test 192.0.2.3 $((day3 + 10)) 1 || exit 1
printf '#!/bin/sh\ncat >/dev/null\nexit 75\n' >"$work/sendmail-fail"
printf '#!/bin/sh\n[ "$1 $2" = "-t -oi" ] || exit 64\ncat >"%s/sent.$$"\n' "$work" >"$work/sendmail-ok"
chmod +x "$work/sendmail-fail" "$work/sendmail-ok"
out=$(report --sendmail "$work/sendmail-fail" --now $((day3 + d + 60)) 2>&1); rc=$?
[[ $rc == 75 && $out == *"exit status 75"* && $out == *"1 failed"* ]]
expect "a failing sendmail gives exit 75" $? "rc=$rc $out"
out=$(report --sendmail "$work/sendmail-ok" --now $((day3 + d + 120)) 2>&1); rc=$?
sent=$(cat "$work"/sent.* 2>/dev/null)
[[ $rc == 0 && $out == *"sent 1 report(s) in 1 mail(s)"* &&
	$sent == *"Report-ID: <2026-03-03.a.test@mx.test.example>"* && $sent == *"To: agg@a.test"* ]]
expect "the next run sends it through sendmail -t -oi" $? "rc=$rc $out"
# The piped mail's attachment is the report: decode, extract, validate.
awk '/^Content-Disposition: attachment/{f=1; getline; next} /^--/{f=0} f' <<<"$sent" |
	base64 -d 2>/dev/null | gzip -dc >"$work/piped.xml" 2>/dev/null &&
	xmllint --noout --schema "$xsd" "$work/piped.xml" 2>/dev/null
expect "the piped attachment validates" $?
out=$(report --sendmail "$work/sendmail-ok" --now $((day3 + d + 180)) 2>&1)
[[ $(ls "$work"/sent.* | wc -l) == 1 ]]
expect "then nothing is sent again" $? "$out"

# Bad input: a period not over yet, a bad date; and a configuration without reports.
out=$(report --period 2026-03-05 --now $((day3 + d)) 2>&1); rc=$?
[[ $rc == 1 && $out == *"not over yet"* ]]; expect "a period not over is refused" $? "$out"
out=$(report --period 2026-02-30 2>&1); rc=$?
[[ $rc == 1 && $out == *"not a date"* ]]; expect "a bad date is refused" $? "$out"
printf 'authserv_id: mx.test.example\nrules:\n  directories: []\n' >"$work/off.yaml"
out=$("$bin" dmarc-report -c "$work/off.yaml" 2>&1); rc=$?
# Not an error (the package's timer runs it everywhere): exit 0, saying why nothing happens.
[[ $rc == 0 && $out == *"dmarc.reports is not enabled: nothing to report"* ]]; expect "reports off: nothing to do, exit 0" $? "$out"

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
