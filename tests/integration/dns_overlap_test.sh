#!/usr/bin/env bash
# dns_overlap_test.sh -- proves that the DNS lookups of one message are in flight at the
# same time (issue 17): a message that needs SPF (MAIL FROM and HELO), DKIM, DMARC,
# iprev and two DNS lists is checked through a DNS server that answers every question
# DELAY ms late, and takes a small multiple of DELAY, not the sum of its lookups.
#
#   sudo MW_BIN=/path/to/mailwarden tests/integration/dns_overlap_test.sh
#
# Exits 77 (SKIP) without the mailwarden binary, the dkim_sign and dns_delay tools (the
# build tree's tests/tools/, or MW_DKIM_SIGN / MW_DNS_DELAY), nsd or `ip netns`.
#
# In a network namespace of our own: nsd on 127.0.0.1:53 (tests/integration/
# reputation*.zone) and tests/tools/dns_delay on 127.0.0.1:5300, which forwards each
# question to nsd and holds each answer DELAY ms. `mailwarden check` (libunbound, the
# same code path as the milter) runs once against nsd directly and once through the
# delay; the difference is what waiting for DNS cost the message.
#
# The message's lookups, one after another, would be at least 9 round trips (the test
# counts the questions dns_delay forwarded): SPF TXT of
# good.test and of client.good.test; the DKIM key sel._domainkey.good.test; DMARC
# _dmarc.good.test and _dmarc.test; iprev's PTR of 192.0.2.20 and then the A records of
# its two names; bl.test for the client; dbl.test for the From/d= domain. Started as
# soon as their input is known, they take two round trips (iprev's PTR, then its forward
# lookups; everything else meanwhile). The test asserts less than 4 (DESIGN.md: latency
# is the slowest chain, not the sum) and prints the measured figure.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns_dns.sh"
netns_require_bin
TOOLS=$(dirname "$REAL_BIN")/tests/tools
DKIM_SIGN=${MW_DKIM_SIGN:-$TOOLS/dkim_sign}
DNS_DELAY=${MW_DNS_DELAY:-$TOOLS/dns_delay}
for tool in "$DKIM_SIGN" "$DNS_DELAY"; do
	if [[ ! -x $tool ]]; then
		echo "SKIP: no $(basename "$tool") at $tool (make builds it)"
		exit 77
	fi
done
netns_require

DELAY=${MW_OVERLAP_DELAY_MS:-250}
ZONE=$MW_INTEG_DIR/reputation.zone
REVERSE=$MW_INTEG_DIR/reputation-reverse.zone
KEY=$MW_REPO_DIR/tests/keys/rsa2048.pem

netns_setup mw-overlap
mw_workdir W
mkdir -p "$W/nsd" "$W/msgs" "$W/check" "$W/delay"

nsd_config test "$ZONE" 2.0.192.in-addr.arpa "$REVERSE"

# config PORT: mailwarden's configuration asking 127.0.0.1@PORT.
config() {
	cat <<EOF
authserv_id: mx.test.example
log:
  target: stderr
  level: warn
rules:
  directories: []
dns:
  resolvers: ["127.0.0.1@$1"]
  forward_special_zones: [test., 2.0.192.in-addr.arpa.]
  timeout_ms: 3000
  retries: 0
  budget_ms: 10000
spf:
  check_helo: true
reputation:
  lists:
    - zone: bl.test
      lookup: [client_ip]
      answers:
        - codes: ["127.0.0.2..127.0.0.7"]
          symbol: RBL_TEST
          score: 1.5
    - zone: dbl.test
      lookup: [from, dkim]
      answers:
        - codes: ["127.0.1.2..127.0.1.6"]
          symbol: DBL_TEST
          score: 6.0
EOF
}
config 53 >"$W/check/direct.yaml"
config 5300 >"$W/check/delayed.yaml"

printf 'From: a@good.test\nTo: rcpt@dest.test.example\nSubject: overlap\nDate: Mon, 01 Jan 2024 00:00:00 +0000\nMessage-ID: <overlap@test.example>\n\nOne message, every check.\n' >"$W/msgs/m.lf"
"$MW_PYTHON" "$MW_INTEG_DIR/mw_msgtool.py" crlf "$W/msgs/m.lf" "$W/msgs/m.unsigned"
if ! "$DKIM_SIGN" --key "$KEY" --domain good.test --selector sel <"$W/msgs/m.unsigned" >"$W/msgs/m.eml" 2>"$W/msgs/sign.err"; then
	mw_fail "the message is signed" "$(cat "$W/msgs/sign.err")"
	mw_summary || exit 1
fi

NSD_PID=""
if nsd_start good.test; then
	mw_pass "1 nsd (pid $NSD_PID) answers inside $NS"
else
	mw_fail "1 nsd starts inside $NS"
	mw_summary || exit 1
fi
ip netns exec "$NS" "$DNS_DELAY" --listen 127.0.0.1:5300 --upstream 127.0.0.1:53 \
	--delay-ms "$DELAY" </dev/null >"$W/delay/out" 2>&1 &
if _mw_record_pid "$W/delay/pid" "$!"; then
	_mw_register proc "$W/delay/pid"
fi
if mw_wait_until 10 grep -q listening "$W/delay/out"; then
	mw_pass "1 dns_delay answers every question $DELAY ms late (127.0.0.1:5300 -> nsd)"
else
	mw_fail "1 dns_delay starts" "$(cat "$W/delay/out")"
	mw_summary || exit 1
fi

# run NAME: one `mailwarden check --json` of the message with config NAME; prints the
# wall time in ms; the JSON in W/check/NAME.json.
run() {
	local t0 t1
	t0=$(mw_now_ms)
	ip netns exec "$NS" "$REAL_BIN" check -c "$W/check/$1.yaml" --client-ip 192.0.2.20 \
		--client-name unknown --helo client.good.test --mail-from a@good.test \
		--rcpt rcpt@dest.test.example --json "$W/msgs/m.eml" >"$W/check/$1.json" 2>"$W/check/$1.err"
	t1=$(mw_now_ms)
	echo $((t1 - t0))
}
verdicts() {
	"$MW_PYTHON" - "$1" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
problems = []
def want(what, got, expected):
    if got != expected:
        problems.append("%s: %r, want %r" % (what, got, expected))
want("spf", j["spf"]["result"], "pass")
want("dkim", [d["result"] for d in j["dkim"]], ["pass"])
want("dmarc", j["dmarc"]["result"], "pass")
want("iprev", j["iprev"], {"result": "pass", "name": "mx20.good.test"})
want("lists", [(l["zone"], l["result"]) for l in j["lists"]], [("bl.test", "listed")])
helo = [h for h in j["headers"] if h["name"] == "Authentication-Results"]
if not helo or "spf=pass smtp.helo=client.good.test" not in helo[0]["value"]:
    problems.append("no HELO SPF result in %r" % helo)
print("; ".join(problems) if problems else "spf pass (MAIL FROM and HELO), dkim pass, dmarc pass, iprev pass (mx20.good.test), bl.test listed, dbl.test asked")
sys.exit(1 if problems else 0)
EOF
}

# Warm-up, not measured: the binary, its libraries and the rules cache in memory.
run direct >/dev/null || true
direct=$(run direct) || true
if why=$(verdicts "$W/check/direct.json"); then
	mw_pass "2 directly against nsd: $why ($direct ms)"
else
	mw_fail "2 directly against nsd" "$why $(tail -n 3 "$W/check/direct.err")"
fi
delayed=$(run delayed) || true
if why=$(verdicts "$W/check/delayed.json"); then
	mw_pass "3 through the $DELAY ms delay: the same verdicts ($delayed ms)"
else
	mw_fail "3 through the delay: the same verdicts" "$why $(tail -n 3 "$W/check/delayed.err")"
fi
# How many questions the delayed run asked: dns_delay counts them at exit.
_mw_stop_pidfile "$W/delay/pid" 5
_mw_unregister proc "$W/delay/pid"
asked=$(sed -n 's/.* \([0-9][0-9]*\) questions forwarded.*/\1/p' "$W/delay/out")
added=$((delayed - direct))
rounds=$("$MW_PYTHON" -c "print('%.1f' % ($added / $DELAY))")
if [[ -n $asked ]] && ((asked >= 9)); then
	mw_pass "4 the message asked $asked questions (each $DELAY ms late: $((asked * DELAY)) ms one after another)"
else
	mw_fail "4 the message asked its questions through dns_delay" "asked '${asked}': $(cat "$W/delay/out")"
fi
if ((added < 4 * DELAY)); then
	mw_pass "4 waiting for DNS cost the message $added ms = $rounds round trips of $DELAY ms for ${asked:-?} questions (under 4 asserted)"
else
	mw_fail "4 the lookups overlap" "added $added ms = $rounds round trips of $DELAY ms (want under 4)"
fi

mw_summary
