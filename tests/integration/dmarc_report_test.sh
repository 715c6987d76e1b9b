#!/usr/bin/env bash
# dmarc_report_test.sh -- DMARC aggregate reports end to end (issue 20): mail in through
# a private Postfix to mailwarden (recording into its SQLite store), then
# `mailwarden dmarc-report`, run as the milter's user as the packaged systemd timer runs
# it, hands the reports to that Postfix's sendmail(1); Postfix delivers them to the
# capture server, where the gzip attachments are taken apart and validated.
#
#   sudo MW_BIN=/path/to/mailwarden tests/integration/dmarc_report_test.sh
#
# Exits 77 (SKIP) without mailwarden, dkim_sign (MW_DKIM_SIGN, default next to MW_BIN),
# nsd, swaks, postfix, xmllint, setpriv, unshare or `ip netns`. Prints PASS / FAIL lines
# and "N passed, N failed" last; exits non-zero on failure.
#
# Layout as in dmarc_test.sh: our namespace holds nsd (tests/integration/
# dmarc_report.zone) and mailwarden; Postfix runs in the root namespace. The report
# command runs in the namespace too (its DNS: rua and _report._dmarc lookups), as
# MW_MILTER_USER, in a private mount namespace where /etc/postfix is a copy that lists the
# private instance in alternate_config_directories: that is how a non-root sendmail(1) may
# submit to a Postfix instance other than the default one (MAIL_CONFIG). Everything else
# is as deployed: postdrop keeps its set-group-ID, the store file belongs to the milter
# user, nothing is chmod'ed open.
#
#   1  nsd, the milter (dmarc.reports on, store sqlite in its folder) and Postfix start.
#   a  3 signed messages From good.example (pass), 2 spoofs of bank.example (p=reject:
#      550, recorded with disposition reject), 1 From shady.example (p=none) go in.
#   b  `dmarc-report --now <tomorrow 00:30 UTC>` as the milter user exits 0 and says what
#      it did: 2 reports sent, shady.example's destination unauthorized.
#   c  exactly two report mails reach the capture server: to dmarc@good.example and to
#      reports@rua.example (bank.example's authorized external destination); none to
#      victim.example.
#   d  each mail follows RFC 9990 "Email": Subject "Report Domain: D Submitter: S
#      Report-ID: <id>", one application/gzip attachment named
#      S!D!begin!end.xml.gz covering today (UTC), From the configured address, which is
#      the envelope sender too (sendmail -f: the report's own DMARC depends on it).
#   e  each gunzipped report validates with xmllint --schema against the RFC 9990 schema
#      (../shared/conformance/dmarc-reporting/dmarc-xml-0.2.xsd).
#   f  the counts: good.example one record, count 3, disposition pass, dkim pass;
#      bank.example one record, count 2, disposition reject, from 127.0.0.1.
#   g  a second run sends nothing (the store remembers the period as sent).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns_dns.sh"
netns_require_bin
DKIM_SIGN=${MW_DKIM_SIGN:-$(dirname "$REAL_BIN")/tests/tools/dkim_sign}
if [[ ! -x $DKIM_SIGN ]]; then
	echo "SKIP: no dkim_sign at $DKIM_SIGN (set MW_DKIM_SIGN; make builds it)"
	exit 77
fi
for tool in xmllint setpriv unshare; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool not installed"
		exit 77
	fi
done
XSD=${MW_CONFORMANCE_DIR:-$MW_REPO_DIR/../shared/conformance}/dmarc-reporting/dmarc-xml-0.2.xsd
if [[ ! -f $XSD ]]; then
	echo "SKIP: no RFC 9990 schema at $XSD"
	exit 77
fi
netns_require

ZONE=$MW_INTEG_DIR/dmarc_report.zone
KEY=$MW_REPO_DIR/tests/keys/rsa2048.pem
AUTHSERV=mx.test.example
HELO=client.good.example

netns_setup mw-dmrep

mw_workdir W
mkdir -p "$W/nsd" "$W/milter" "$W/msgs" "$W/reports"
chmod 0755 "$W/milter"

nsd_config example "$ZONE"

MILTER_SOCKET=unix:$W/milter/m.sock
STORE=$W/milter/dmarc.sqlite
CONF=$W/milter/mailwarden.yaml
cat >"$CONF" <<EOF
$(netns_milter_head)
spf:
  enabled: true
  check_helo: false
  reject_on_fail: false
dkim:
  enabled: true
dmarc:
  enabled: true
  mode: enforce
  reports:
    enabled: true
    store: "sqlite:$STORE"
    org_name: mx.test.example
    email: dmarc-reports@test.example
arc:
  enabled: false
reputation:
  iprev:
    enabled: false
rules:
  directories: []
dns:
  resolvers: ["127.0.0.1@$NSD_PORT"]
  timeout_ms: 1000
  retries: 0
  budget_ms: 3000
EOF
netns_mw_wrapper

# --- messages ------------------------------------------------------------------------
declare -A FROM=()
for i in 1 2 3; do
	netns_mkmsg "good$i" a@good.example dmrep
	FROM[good$i]=a@good.example
	if ! "$DKIM_SIGN" --key "$KEY" --domain good.example --selector sel <"$W/msgs/good$i.eml" >"$W/msgs/good$i.signed" 2>"$W/msgs/sign.err"; then
		mw_fail "a dkim_sign signs the message" "$(cat "$W/msgs/sign.err")"
		mw_summary || exit 1
	fi
	mv "$W/msgs/good$i.signed" "$W/msgs/good$i.eml"
done
for i in 1 2; do
	netns_mkmsg "spoof$i" ceo@bank.example dmrep
	FROM[spoof$i]=x@spoofer.example
done
netns_mkmsg shady news@shady.example dmrep
FROM[shady]=x@spoofer.example

# --- 1, a: start, mail in ------------------------------------------------------------------
netns_stack_start sel._domainkey.good.example

accepted=0 refused=0
for n in good1 good2 good3 shady; do
	if send "$n"; then accepted=$((accepted + 1)); fi
done
for n in spoof1 spoof2; do
	if ! send "$n" && grep -q '^<\*\* *550 5\.7\.1' "$W/swaks-$n.log"; then refused=$((refused + 1)); fi
done
if [[ $accepted -eq 4 && $refused -eq 2 ]] && mw_wait_for_messages "$W/sink" 4 20; then
	mw_pass "a 4 messages accepted and delivered, 2 spoofs of bank.example refused 550 5.7.1"
else
	mw_fail "a mail in" "accepted $accepted (want 4), refused $refused (want 2), sink $(mw_count_messages "$W/sink")"
fi

# The recorder's writer batches what arrives within 100 ms: wait (bounded) until the store
# counts all 6 evaluated messages (3 + 2 refused + 1) before reporting.
_recorded() {
	[[ $("$MW_PYTHON" -c 'import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(c.execute("select coalesce(sum(count), 0) from tallies").fetchone()[0])' "$STORE" 2>/dev/null) == 6 ]]
}
mw_wait_until 10 _recorded || mw_fail "a the store counts the 6 evaluated messages"

# --- b: the report job, as the timer runs it ----------------------------------------------
# Tomorrow 00:30 UTC: today is a complete period then.
today=$(( $(date -u +%s) / 86400 ))
now=$(( (today + 1) * 86400 + 1800 ))
mkdir -p "$W/etc-postfix"
cp -a /etc/postfix/. "$W/etc-postfix/"
printf '\nalternate_config_directories = %s\n' "$W/pf/etc" >>"$W/etc-postfix/main.cf"
# report_job OUT: dmarc-report in NS, in a private mount namespace, as MW_MILTER_USER.
report_job() {
	ip netns exec "$NS" unshare --mount --propagation private \
		sh -c 'mount --bind "$1" /etc/postfix && shift && exec "$@"' sh "$W/etc-postfix" \
		setpriv --reuid="$MW_MILTER_USER" --regid="$MW_MILTER_USER" --init-groups \
		env MAIL_CONFIG="$W/pf/etc" "$REAL_BIN" dmarc-report -c "$CONF" --now "$now" >"$1" 2>&1
}
rc=0
report_job "$W/job1.out" || rc=$?
if [[ $rc -eq 0 ]] && grep -q 'sent 2 report' "$W/job1.out" && grep -qi 'unauthori' "$W/job1.out"; then
	mw_pass "b dmarc-report as $MW_MILTER_USER: $(tail -n 1 "$W/job1.out")"
else
	mw_fail "b dmarc-report exits 0, 2 reports, shady.example unauthorized" "exit $rc: $(tr '\n' '|' <"$W/job1.out" | cut -c 1-600)"
fi

# --- c-f: what reached the capture server --------------------------------------------------
mw_wait_for_messages "$W/sink" 6 30 || true
"$MW_PYTHON" - "$W/sink" "$W/reports" "$today" >"$W/reports.txt" 2>&1 <<'PYEOF' || true
import email, email.policy, glob, gzip, json, os, re, sys
sink, out, today = sys.argv[1], sys.argv[2], int(sys.argv[3])
begin, end = today * 86400, today * 86400 + 86399
for path in sorted(glob.glob(os.path.join(sink, "*.eml"))):
    raw = open(path, "rb").read()
    if b"Report Domain:" not in raw:
        continue
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    subject = " ".join(str(msg["Subject"]).split())
    m = re.fullmatch(r"Report Domain: (\S+) Submitter: (\S+) Report-ID: <(\S+)>", subject)
    parts = [p for p in msg.walk() if p.get_content_type() == "application/gzip"]
    fname = parts[0].get_filename() if len(parts) == 1 else None
    want = "%s!%s!%d!%d.xml.gz" % (m.group(2), m.group(1), begin, end) if m else None
    env = json.load(open(path[:-4] + ".env"))
    status = "ok" if (m and fname == want and str(msg["From"]).endswith("dmarc-reports@test.example")
                      and env["mail_from"] == "dmarc-reports@test.example") else "bad"
    domain = m.group(1) if m else "?"
    xml = gzip.decompress(parts[0].get_payload(decode=True)) if len(parts) == 1 else b""
    open(os.path.join(out, domain + ".xml"), "wb").write(xml)
    print("MAIL %s to=%s subject_ok=%s file=%s want=%s envelope_from=%s status=%s" % (
        domain, msg["To"], bool(m), fname, want, env["mail_from"], status))
PYEOF
cat "$W/reports.txt" >&2
tos=$(grep '^MAIL' "$W/reports.txt" | sed -n 's/.* to=\([^ ]*\).*/\1/p' | sort | tr '\n' ' ')
if [[ $tos == "dmarc@good.example reports@rua.example " ]]; then
	mw_pass "c two report mails delivered: to $tos; none to victim.example"
else
	mw_fail "c report mails to dmarc@good.example and reports@rua.example only" "got: '$tos' $(tr '\n' '|' <"$W/reports.txt" | cut -c 1-400)"
fi
if [[ $(grep -c '^MAIL .* status=ok' "$W/reports.txt") -eq 2 ]]; then
	mw_pass "d RFC 9990 Subject, From (and MAIL FROM) and one application/gzip attachment named submitter!domain!$((today * 86400))!$((today * 86400 + 86399)).xml.gz"
else
	mw_fail "d RFC 9990 mail layout" "$(tr '\n' '|' <"$W/reports.txt" | cut -c 1-600)"
fi
for d in good.example bank.example; do
	out=""
	if [[ -s $W/reports/$d.xml ]] && out=$(xmllint --noout --schema "$XSD" "$W/reports/$d.xml" 2>&1); then
		mw_pass "e $d report: $out"
	else
		mw_fail "e $d report validates against the RFC 9990 schema" "${out:-no report}"
	fi
done
# f: the records, read with xmllint's XPath (namespace-agnostic local-name()).
rec() { # FILE XPATH
	xmllint --xpath "$2" "$1" 2>/dev/null || true
}
summary() { # FILE: "count disposition dkim spf source_ip" per record
	local f=$1 n i
	n=$(rec "$f" "count(//*[local-name()='record'])")
	for ((i = 1; i <= ${n:-0}; i++)); do
		printf '%s %s %s %s\n' \
			"$(rec "$f" "string((//*[local-name()='record'])[$i]//*[local-name()='count'])")" \
			"$(rec "$f" "string((//*[local-name()='record'])[$i]//*[local-name()='policy_evaluated']/*[local-name()='disposition'])")" \
			"$(rec "$f" "string((//*[local-name()='record'])[$i]//*[local-name()='policy_evaluated']/*[local-name()='dkim'])")" \
			"$(rec "$f" "string((//*[local-name()='record'])[$i]//*[local-name()='source_ip'])")"
	done
}
good=$(summary "$W/reports/good.example.xml" 2>/dev/null || true)
bank=$(summary "$W/reports/bank.example.xml" 2>/dev/null || true)
if [[ $good == "3 pass pass 127.0.0.1" && $bank == "2 reject fail 127.0.0.1" ]]; then
	mw_pass "f good.example: 1 record ($good); bank.example: 1 record ($bank)"
else
	mw_fail "f the records" "good.example: '$good' (want '3 pass pass 127.0.0.1'); bank.example: '$bank' (want '2 reject fail 127.0.0.1')"
fi

# --- g: exactly once ------------------------------------------------------------------------
rc=0
report_job "$W/job2.out" || rc=$?
sleep 2 # a report wrongly sent again would reach the sink within this
if [[ $rc -eq 0 ]] && grep -q 'sent 0 report' "$W/job2.out" && [[ $(mw_count_messages "$W/sink") -eq 6 ]]; then
	mw_pass "g a second run sends nothing: $(tail -n 1 "$W/job2.out")"
else
	mw_fail "g a second run sends nothing" "exit $rc, sink $(mw_count_messages "$W/sink") (want 6): $(tr '\n' '|' <"$W/job2.out" | cut -c 1-400)"
fi

netns_stack_stop
mw_summary
