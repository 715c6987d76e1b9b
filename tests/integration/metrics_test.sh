#!/usr/bin/env bash
# metrics_test.sh -- the Prometheus endpoint (metrics.listen, issue 19) of a mailwarden
# started as root (it drops to milter.user) behind a real, private Postfix on loopback.
#
#   sudo MW_BIN=/path/to/mailwarden tests/integration/metrics_test.sh
#
# Exits 77 (automake's SKIP) when the mailwarden binary or Postfix/swaks are missing.
# Prints PASS / FAIL lines and "N passed, N failed" last; exits non-zero on any failure.
# Scrapes with curl (contrib/install-deps.sh installs it), or Python's urllib without it.
# promtool (Debian's prometheus package) checks the scrape and the alert rules; without
# it those two checks are reported as SKIP lines, not passed.
#
# Checks (numbers as in the checks' names):
#   0  configtest: a bad metrics.listen is an error naming FILE:LINE; the good one passes.
#   1  the endpoint: 200 on /metrics with the 0.0.4 content type, 404 elsewhere, 405 for
#      POST; build info names version, hyperscan, opendkim and openssl.
#   2  N messages with mixed verdicts (accept, tag, quarantine, reject by GTUBE and by a
#      rule's action) in two batches with a SIGHUP between them: every action counter,
#      the rule hits and the message-duration count moved by exactly what was sent; no
#      sample of the first scrape went down; the config generation rose by one and
#      reloads{ok} by one; no message in flight at the end.
#   3  a reload that moves metrics.listen to a port in use is rejected with a log line
#      naming the address; the endpoint keeps answering on the old port and
#      reloads{rejected} rose by one; a reload to a free port moves it there.
#   4  promtool check metrics on the final scrape; the Grafana dashboard is valid JSON
#      whose queries name only metrics the endpoint serves; promtool check rules on
#      contrib/prometheus/mailwarden-alerts.yml.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
mw_require_root
bin=$(mw_bin)
if [[ ! -x $bin ]]; then
	echo "SKIP: no mailwarden binary at $bin (set MW_BIN)"
	exit 77
fi
for tool in swaks postfix; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool not installed"
		exit 77
	fi
done
mw_install_trap

t_start=$(mw_now_ms)
RULES_DIR=${MW_RULES_DIR:-$MW_REPO_DIR/rules}
CASES=$RULES_DIR/cases
TOOL=("$MW_PYTHON" "$MW_INTEG_DIR/mw_msgtool.py")
smtp_port="" metrics_port="" metrics_port2=""
mw_workdir W
MSG=$W/msgs
mkdir -p "$MSG"

# scrape PORT FILE: GET /metrics into FILE (headers in FILE.headers); false on failure.
scrape() {
	if command -v curl >/dev/null; then
		curl -sS --max-time 10 -D "$2.headers" -o "$2" "http://127.0.0.1:$1/metrics"
	else
		"$MW_PYTHON" - "$1" "$2" <<'PYEOF'
import sys, urllib.request
with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=10) as r:
    open(sys.argv[2], "wb").write(r.read())
    open(sys.argv[2] + ".headers", "w").write("HTTP/1.1 %d\r\n%s" % (r.status, r.headers))
PYEOF
	fi
}

# http_status PORT METHOD PATH: the status code of one request.
http_status() {
	"$MW_PYTHON" - "$@" <<'PYEOF'
import sys, urllib.request, urllib.error
req = urllib.request.Request("http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[3]), method=sys.argv[2],
                             data=b"" if sys.argv[2] == "POST" else None)
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
PYEOF
}

# --- mailwarden and Postfix ------------------------------------------------------
MDIR=$W/milter
mkdir -p "$MDIR"
chmod 0755 "$MDIR"
MILTER_SOCKET=unix:$MDIR/milter.sock
CONF=$MDIR/mailwarden.yaml
mw_free_port metrics_port
mw_free_port metrics_port2
mw_milter_config "$CONF" "$MILTER_SOCKET" mx.test.example "$RULES_DIR"
cp "$CONF" "$W/base.yaml"
printf 'metrics:\n  listen: "127.0.0.1:%s"\n' "$metrics_port" >>"$CONF"

# --- 0: configtest -------------------------------------------------------------------
BAD=$W/bad.yaml
cp "$W/base.yaml" "$BAD"
bad_line=$(($(wc -l <"$BAD") + 2))
printf 'metrics:\n  listen: "localhost:%s"\n' "$metrics_port" >>"$BAD"
rc=0
"$bin" configtest -c "$BAD" >"$W/configtest-bad.out" 2>&1 || rc=$?
if [[ $rc -ne 0 ]] && grep -q -F "$BAD:$bad_line: metrics.listen: 'localhost' is not an IPv4 address" "$W/configtest-bad.out"; then
	mw_pass "0 configtest: $(grep -m1 -F "$BAD:" "$W/configtest-bad.out")"
else
	mw_fail "0 configtest rejects a bad metrics.listen with file:line" "rc=$rc $(head -n 3 "$W/configtest-bad.out")"
fi
if "$bin" configtest -c "$CONF" >"$W/configtest.out" 2>&1; then
	mw_pass "0 configtest accepts metrics.listen 127.0.0.1:$metrics_port"
else
	mw_fail "0 configtest accepts the configuration" "$(head -n 5 "$W/configtest.out")"
	mw_summary || exit 1
fi

mw_sink_start "$W/sink" 0
mw_milter_start "$MDIR" "$CONF"
mw_free_port smtp_port
mw_pf_start "$W/pf" "$smtp_port" "$MW_SINK_PORT" "$MILTER_SOCKET"
MLOG=$MDIR/milter.log

# --- 1: the endpoint ---------------------------------------------------------------------
if mw_wait_until 10 mw_port_open "$metrics_port" && scrape "$metrics_port" "$W/s0.prom"; then
	mw_pass "1 scraped http://127.0.0.1:$metrics_port/metrics ($(wc -l <"$W/s0.prom") lines)"
else
	mw_fail "1 scrape" "$(tail -n 5 "$MLOG")"
	mw_summary || exit 1
fi
if grep -qi '^Content-Type: text/plain; version=0.0.4' "$W/s0.prom.headers"; then
	mw_pass "1 Content-Type: $(grep -i '^Content-Type' "$W/s0.prom.headers" | tr -d '\r')"
else
	mw_fail "1 Content-Type" "$(tr -d '\r' <"$W/s0.prom.headers")"
fi
s404=$(http_status "$metrics_port" GET /) s404b=$(http_status "$metrics_port" GET /metrics/x)
s405=$(http_status "$metrics_port" POST /metrics)
if [[ $s404 == 404 && $s404b == 404 && $s405 == 405 ]]; then
	mw_pass "1 GET / -> 404, GET /metrics/x -> 404, POST /metrics -> 405"
else
	mw_fail "1 nothing but GET/HEAD /metrics" "/ $s404, /metrics/x $s404b, POST $s405"
fi
if grep -E '^mailwarden_build_info\{version="[^"]+",hyperscan="[^"]+",opendkim="[^"]+",openssl="[^"]+"\} 1$' "$W/s0.prom" >/dev/null; then
	mw_pass "1 $(grep '^mailwarden_build_info' "$W/s0.prom")"
else
	mw_fail "1 build info" "$(grep build_info "$W/s0.prom")"
fi
if [[ $(stat -c %U "/proc/$MW_MILTER_PID") == "$MW_MILTER_USER" ]]; then
	mw_pass "1 served after the drop to $MW_MILTER_USER (bound as root)"
else
	mw_fail "1 privilege drop" "process owner $(stat -c %U "/proc/$MW_MILTER_PID")"
fi

# --- messages ------------------------------------------------------------------------
# send NAME: sends $MSG/NAME.eml to rcpt-NAME@dest.test.example (the transcript in
# $W/swaks-NAME.log); the exit status is swaks' (non-zero on a 5xx).
send() {
	mw_swaks "$smtp_port" --to "rcpt-$1@dest.test.example" --data "$MSG/$1.eml" >"$W/swaks-$1.log" 2>&1
}
# plain N: an ordinary message (verdict accept).
plain() {
	{
		printf 'From: Alice <alice@origin.test.example>\n'
		printf 'To: rcpt-plain@dest.test.example\n'
		printf 'Subject: Minutes of meeting %s\n' "$1"
		printf 'Date: Mon, 02 Mar 2026 10:00:00 +0000\n'
		printf 'Message-ID: <plain-%s@origin.test.example>\n' "$1"
		printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n'
		printf 'Hi all,\n\nthe minutes are on the wiki.\n\nAlice\n'
	} >"$MSG/plain$1.lf"
	"${TOOL[@]}" crlf "$MSG/plain$1.lf" "$MSG/plain$1.eml"
}
# tagmsg N: rules_test.sh's phishing-like message: SUBJ_ACCOUNT_ALERT, BODY_ACCOUNT_SUSPENDED,
# BODY_VERIFY_ACCOUNT and URL_BARE_IPV4, 6.5 in all: tag.
tagmsg() {
	{
		printf 'From: Mail Administrator <admin@origin.test.example>\n'
		printf 'To: rcpt-tag@dest.test.example\n'
		printf 'Subject: Your mailbox will be deactivated\n'
		printf 'Date: Mon, 02 Mar 2026 10:00:00 +0000\n'
		printf 'Message-ID: <tag-%s@origin.test.example>\n' "$1"
		printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n'
		printf 'Dear user,\n\nYour account has been suspended because of unusual sign-in activity.\n'
		printf 'Please verify your account information within 24 hours at\n'
		printf 'http://198.51.100.23/owa/login.php\n\nMail Administrator\n'
	} >"$MSG/tag$1.lf"
	"${TOOL[@]}" crlf "$MSG/tag$1.lf" "$MSG/tag$1.eml"
}
for i in 1 2 3; do plain "$i"; done
for i in 1 2; do tagmsg "$i"; done
cp "$CASES/gtube.eml" "$MSG/gtube1.eml"
cp "$CASES/gtube.eml" "$MSG/gtube2.eml"
cp "$CASES/invoice-exe.eml" "$MSG/exe1.eml"
cp "$CASES/rlo-name.eml" "$MSG/hold1.eml"

# The batches: what each message must count as.
declare -A want=([accept]=0 [tag]=0 [quarantine]=0 [reject]=0 [tempfail]=0)
sent_ok=1
# batch NAME:ACTION...: sends each, adds its action to want[]; a 5xx is expected for reject.
batch() {
	local item name action rc
	for item in "$@"; do
		name=${item%%:*} action=${item#*:}
		rc=0
		send "$name" || rc=$?
		if [[ $action == reject ]]; then
			[[ $rc -ne 0 ]] && grep -q '^<\*\* *550' "$W/swaks-$name.log" || {
				sent_ok=0
				mw_log "$name: expected a 550: $(grep -E '^<(\*\*|-)' "$W/swaks-$name.log" | tail -n 2 | tr '\n' ' ')"
			}
		elif [[ $rc -ne 0 ]]; then
			sent_ok=0
			mw_log "$name: refused: $(grep '^<\*\*' "$W/swaks-$name.log" | tr '\n' ' ')"
		fi
		want[$action]=$((want[$action] + 1))
	done
}

batch plain1:accept tag1:tag gtube1:reject hold1:quarantine plain2:accept
scrape "$metrics_port" "$W/s1.prom"

# SIGHUP between the batches: a reload with the same metrics.listen (the endpoint stays).
reloads_before=$(grep -c 'configuration reloaded' "$MLOG" || true)
kill -HUP "$MW_MILTER_PID"
_reloaded() { (($(grep -c 'configuration reloaded' "$MLOG" || true) > reloads_before)); }
if mw_wait_until 30 _reloaded; then
	mw_pass "2 SIGHUP: $(grep 'configuration reloaded' "$MLOG" | tail -n 1 | sed 's/^.*milter: //')"
else
	mw_fail "2 SIGHUP reload" "$(tail -n 3 "$MLOG")"
fi
scrape "$metrics_port" "$W/s2.prom"

batch tag2:tag exe1:reject gtube2:reject plain3:accept
if [[ $sent_ok == 1 ]]; then
	mw_pass "2 sent ${#want[@]} kinds: accept ${want[accept]}, tag ${want[tag]}, quarantine ${want[quarantine]}, reject ${want[reject]}"
else
	mw_fail "2 every message got the SMTP answer its verdict gives" "see the log above"
fi
# The verdict is counted before the MTA hears it: by now every one is in.
scrape "$metrics_port" "$W/s3.prom"

# compare.py S0 S1 S2 S3 WANT_JSON: the deltas and monotonicity checks; one line per check,
# "PASS text" or "FAIL text".
cat >"$W/compare.py" <<'PYEOF'
import json, re, sys

def parse(path):
    out = {}
    for line in open(path):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$', line)
        if not m:
            print("FAIL unparsable line: %r" % line)
            continue
        out[m.group(1)] = float(m.group(2))
    return out

s0, s1, s2, s3 = (parse(p) for p in sys.argv[1:5])
want = json.loads(sys.argv[5])
actions = {k: v for k, v in want.items() if not k.startswith("_")}
total = sum(actions.values())

def d(key, a=s0, b=s3):
    return b.get(key, 0) - a.get(key, 0)

for action, n in sorted(actions.items()):
    key = 'mailwarden_messages_total{action="%s"}' % action
    got = d(key)
    print(("PASS" if got == n else "FAIL") + " %s moved by %d (want %d)" % (key, got, n))

def rule(r):
    return 'mailwarden_rule_hits_total{rule="%s"}' % r
for r, n in (("GTUBE", want["_gtube"]), ("URL_BARE_IPV4", want["tag"]),
             ("SUBJ_ACCOUNT_ALERT", want["tag"]), ("ATTACH_EXECUTABLE", want["_exe"])):
    got = d(rule(r))
    print(("PASS" if got == n else "FAIL") + " %s moved by %d (want %d)" % (rule(r), got, n))

k = "mailwarden_message_duration_seconds_count"
print(("PASS" if d(k) == total else "FAIL") + " %s moved by %d (want %d)" % (k, d(k), total))
k = 'mailwarden_message_duration_seconds_bucket{le="+Inf"}'
print(("PASS" if s3.get(k) == s3.get("mailwarden_message_duration_seconds_count") else "FAIL") +
      " +Inf bucket equals _count (%s)" % s3.get(k))
stage = [x for x in s3 if x.startswith('mailwarden_stage_duration_seconds_count{stage="rules"}')]
print(("PASS" if stage and d(stage[0]) == total else "FAIL") +
      " stage rules timed once per message (%s)" % (d(stage[0]) if stage else "absent"))
k = "mailwarden_messages_in_flight"
print(("PASS" if s3.get(k) == 0 else "FAIL") + " %s is %s at the end" % (k, s3.get(k)))

# Across the SIGHUP (s1 -> s2) and after it (s2 -> s3) nothing went down, except gauges.
gauges = ("mailwarden_messages_in_flight", "mailwarden_config_generation", "mailwarden_build_info")
down = [(x, a[x], b.get(x)) for a, b in ((s1, s2), (s2, s3)) for x in a
        if not x.startswith(gauges) and (b.get(x) is None or b[x] < a[x])]
print(("PASS" if not down else "FAIL") + " no counter went down or vanished across the SIGHUP"
      + ("" if not down else ": %s" % down[:5]))
g = "mailwarden_config_generation"
print(("PASS" if s2.get(g) == s1.get(g, 0) + 1 else "FAIL") + " %s %s -> %s" % (g, s1.get(g), s2.get(g)))
r = 'mailwarden_reloads_total{result="ok"}'
print(("PASS" if d(r, s1, s2) == 1 else "FAIL") + " %s moved by %d across the SIGHUP" % (r, d(r, s1, s2)))
k = 'mailwarden_messages_total{action="reject"}'
print(("PASS" if s2.get(k) == s1.get(k) else "FAIL") + " the SIGHUP left %s at %s" % (k, s2.get(k)))
PYEOF
want_json=$(printf '{"accept": %d, "tag": %d, "quarantine": %d, "reject": %d, "tempfail": 0, "_gtube": 2, "_exe": 1}' \
	"${want[accept]}" "${want[tag]}" "${want[quarantine]}" "${want[reject]}")
# The "_" entries are rule-hit expectations (GTUBE, ATTACH_EXECUTABLE), not actions.
"$MW_PYTHON" "$W/compare.py" "$W/s0.prom" "$W/s1.prom" "$W/s2.prom" "$W/s3.prom" "$want_json" \
	>"$W/compare.out" 2>&1 || true
while IFS= read -r line; do
	case $line in
	PASS\ *) mw_pass "2 ${line#PASS }" ;;
	FAIL\ *) mw_fail "2 ${line#FAIL }" ;;
	*) mw_fail "2 compare.py" "$line" ;;
	esac
done <"$W/compare.out"

# --- 3: reloads that move the endpoint ------------------------------------------------
# (a) to the sink's port, which is in use: rejected, the old endpoint keeps serving.
cp "$W/base.yaml" "$CONF"
printf 'metrics:\n  listen: "127.0.0.1:%s"\n' "$MW_SINK_PORT" >>"$CONF"
rejected_before=$(grep -c 'reload rejected' "$MLOG" || true)
kill -HUP "$MW_MILTER_PID"
_rejected() { (($(grep -c 'reload rejected' "$MLOG" || true) > rejected_before)); }
if mw_wait_until 30 _rejected && grep 'reload rejected' "$MLOG" | tail -n 1 | grep -q -F "metrics: bind 127.0.0.1:$MW_SINK_PORT: Address already in use"; then
	mw_pass "3 $(grep 'reload rejected' "$MLOG" | tail -n 1 | sed 's/^.*milter: //')"
else
	mw_fail "3 a reload to a port in use is rejected" "$(tail -n 3 "$MLOG")"
fi
if scrape "$metrics_port" "$W/s4.prom" &&
	[[ $(grep '^mailwarden_reloads_total{result="rejected"}' "$W/s4.prom" | cut -d' ' -f2) == \
		$(($(grep '^mailwarden_reloads_total{result="rejected"}' "$W/s3.prom" | cut -d' ' -f2) + 1)) ]]; then
	mw_pass "3 the old endpoint still serves; $(grep '^mailwarden_reloads_total{result="rejected"}' "$W/s4.prom")"
else
	mw_fail "3 old endpoint after a rejected reload" "$(grep reloads_total "$W/s4.prom" 2>/dev/null)"
fi
# (b) to a free port: moved.
cp "$W/base.yaml" "$CONF"
printf 'metrics:\n  listen: "127.0.0.1:%s"\n' "$metrics_port2" >>"$CONF"
kill -HUP "$MW_MILTER_PID"
if mw_wait_until 30 mw_port_open "$metrics_port2" && scrape "$metrics_port2" "$W/s5.prom" &&
	mw_wait_until 10 eval '! mw_port_open '"$metrics_port"; then
	mw_pass "3 a reload moved the endpoint to 127.0.0.1:$metrics_port2 and closed $metrics_port"
else
	mw_fail "3 endpoint moved by a reload" "$(tail -n 3 "$MLOG")"
fi

# --- 4: promtool, the dashboard, the alert rules --------------------------------------
final=$W/s5.prom
[[ -s $final ]] || final=$W/s3.prom
if command -v promtool >/dev/null; then
	if promtool check metrics <"$final" >"$W/promtool.out" 2>&1; then
		mw_pass "4 promtool check metrics: no complaint"
	else
		mw_fail "4 promtool check metrics" "$(head -n 5 "$W/promtool.out")"
	fi
	if promtool check rules "$MW_REPO_DIR/contrib/prometheus/mailwarden-alerts.yml" >"$W/rules.out" 2>&1; then
		mw_pass "4 promtool check rules: $(grep -m1 -o 'SUCCESS: [0-9]* rules found' "$W/rules.out")"
	else
		mw_fail "4 promtool check rules" "$(head -n 5 "$W/rules.out")"
	fi
else
	echo "SKIP: 4 promtool check metrics / rules: promtool not installed (Debian package prometheus)"
fi
if out=$("$MW_PYTHON" - "$MW_REPO_DIR/contrib/grafana/mailwarden-dashboard.json" "$final" \
	"$MW_REPO_DIR/contrib/prometheus/mailwarden-alerts.yml" <<'PYEOF'
import json, re, sys
dash = json.load(open(sys.argv[1]))
served = set()
for line in open(sys.argv[2]):
    if line.startswith("# TYPE "):
        name, kind = line.split()[2:4]
        served.add(name)
        if kind == "histogram":
            served.update({name + "_bucket", name + "_sum", name + "_count"})
exprs = []
def walk(x):
    if isinstance(x, dict):
        if isinstance(x.get("expr"), str):
            exprs.append(x["expr"])
        for v in x.values():
            walk(v)
    elif isinstance(x, list):
        for v in x:
            walk(v)
walk(dash)
exprs += re.findall(r"expr:\s*(.+)", open(sys.argv[3]).read())
unknown = sorted({m for e in exprs for m in re.findall(r"\bmailwarden_[a-z_]+", e)} - served)
if not exprs or unknown:
    print("no queries" if not exprs else "names not served: %s" % unknown); sys.exit(1)
print("%d panels, %d queries, every mailwarden_* name served" % (len(dash["panels"]), len(exprs)))
PYEOF
); then
	mw_pass "4 dashboard and alerts: $out"
else
	mw_fail "4 dashboard JSON and alert queries" "$out"
fi

echo "--- scrape (trimmed) ---"
grep -E '^mailwarden_(messages_total|reloads_total|config_generation|rule_hits_total\{rule="GTUBE"|dns_queries_total|tempfails_total|build_info)' "$final" || true
mw_milter_stop "$MDIR" 15
mw_pf_stop "$W/pf"
mw_sink_stop "$W/sink"
echo "total $(($(mw_now_ms) - t_start)) ms"
mw_summary
