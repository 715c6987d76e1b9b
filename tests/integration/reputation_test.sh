#!/usr/bin/env bash
# reputation_test.sh -- DNS lists (RFC 5782) and iprev (RFC 8601 §3) end to end:
# mailwarden (libunbound) asks a real DNS server (nsd) for the lists, the clients' PTR
# and forward records, SPF and DMARC while it is the milter of a private Postfix.
#
#   sudo MW_BIN=/path/to/mailwarden tests/integration/reputation_test.sh
#
# Exits 77 (SKIP) without the mailwarden binary, nsd, swaks, postfix or `ip netns`.
# Prints PASS / FAIL lines and "N passed, N failed" last; exits non-zero on failure.
#
# Layout as in dmarc_test.sh: a network namespace of our own holds nsd on 127.0.0.1:53
# (zones test. and 2.0.192.in-addr.arpa., tests/integration/reputation*.zone) and
# mailwarden; Postfix (root namespace) reaches mailwarden's unix socket through the
# file system. Postfix trusts XCLIENT from loopback, so swaks can present each message
# as coming from a TEST-NET-1 client (RFC 5737), as a real MX sees a remote client.
#
#   1  nsd answers in the namespace; mailwarden listens; Postfix accepts XCLIENT.
#   a  192.0.2.10 is listed on bl.test (127.0.0.2, action reject): 550 5.7.1 with the
#      configured reply at end of DATA; nothing delivered.
#   c  192.0.2.13 is allowlisted on wl.test (-3) and confirmed by iprev; its message
#      links to a host on the domain list dbl.test (+6): delivered with
#      iprev=pass ... policy.iprev=mail.good.test, DNSWL_TEST and DBL_TEST_SPAM, score 3.00.
#   b  192.0.2.11 gets Spamhaus' "query refused" code 127.255.255.254 from bl.test: an
#      error, never a listing: delivered, logged, and the list paused; 192.0.2.12,
#      listed, is then not looked up on bl.test (paused) and is delivered.
#   d  `mailwarden check --json` for 192.0.2.10: the lists entry (zone, lookup, query,
#      codes, result listed) and iprev permerror.
#   e  `mailwarden lists test`: the RFC 5782 §5 test points of the three lists hold.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns_dns.sh"
netns_require_bin
netns_require

ZONE=$MW_INTEG_DIR/reputation.zone
REVERSE=$MW_INTEG_DIR/reputation-reverse.zone
AUTHSERV=mx.test.example
HELO=client.good.test

netns_setup mw-rep

mw_workdir W
mkdir -p "$W/nsd" "$W/milter" "$W/msgs" "$W/check"
chmod 0755 "$W/milter"

# --- nsd inside the namespace: two zones --------------------------------------------
nsd_config test "$ZONE" 2.0.192.in-addr.arpa "$REVERSE"

# --- mailwarden's configuration -----------------------------------------------------
MILTER_SOCKET=unix:$W/milter/m.sock
body_config() {
	cat <<EOF
authserv_id: $AUTHSERV
failure_policy: tempfail
log:
  target: stderr
  level: info
rules:
  directories: []
dns:
  resolvers: ["127.0.0.1@$NSD_PORT"]
  # test. and TEST-NET-1's reverse zone are special-use: libunbound would answer them
  # NXDOMAIN itself (RFC 6761 §6.2, RFC 6303)
  forward_special_zones: [test., 2.0.192.in-addr.arpa.]
  timeout_ms: 1000
  retries: 0
  budget_ms: 3000
dmarc:
  mode: monitor
reputation:
  lists:
    - zone: bl.test
      lookup: [client_ip]
      pause: 300
      answers:
        - codes: ["127.0.0.2"]
          symbol: RBL_TEST_SBL
          score: 4.0
          action: reject
          reply: "Client listed at bl.test"
        - codes: ["127.0.0.3"]
          symbol: RBL_TEST_XBL
          score: 1.5
    - zone: wl.test
      lookup: [client_ip]
      answers:
        - codes: ["127.0.10.[0..3]"]
          symbol: DNSWL_TEST
          score: -3.0
    - zone: dbl.test
      lookup: [helo, mail_from, from, dkim, url]
      answers:
        - codes: ["127.0.1.2..127.0.1.6"]
          symbol: DBL_TEST_SPAM
          score: 6.0
EOF
}
CONF=$W/milter/mailwarden.yaml
CHECK_CONF=$W/check/mailwarden.yaml
{
	cat <<EOF
milter:
  socket: "$MILTER_SOCKET"
  user: $MW_MILTER_USER
  drain_timeout: 2
EOF
	body_config
} >"$CONF"
body_config >"$CHECK_CONF"

netns_mw_wrapper

# --- messages ------------------------------------------------------------------------
mkmsg() { netns_mkmsg "$1" a@good.test rep; } # NAME
declare -A FROM
for n in listed allowed refused paused; do
	mkmsg "$n"
	FROM[$n]=a@good.test
done
# c links to a host on the domain list (found by the MIME stage's URL extraction)
printf 'From: a@good.test\nTo: rcpt@dest.test.example\nSubject: rep allowed\nDate: Mon, 01 Jan 2024 00:00:00 +0000\nMessage-ID: <rep-allowed@test.example>\nContent-Type: text/html\n\n<p>Read <a href="http://bad-link.example/offer">this</a>.</p>\n' >"$W/msgs/allowed.lf"
"$MW_PYTHON" "$MW_INTEG_DIR/mw_msgtool.py" crlf "$W/msgs/allowed.lf" "$W/msgs/allowed.eml"

# --- 1: start -------------------------------------------------------------------------
netns_stack_start good.test
# The clients XCLIENT presents relay like loopback does (the sink is the next hop).
if mw_pf_postconf "$W/pf" "smtpd_authorized_xclient_hosts=127.0.0.0/8" \
	"mynetworks=127.0.0.0/8 192.0.2.0/24"; then
	mw_pass "1 Postfix accepts XCLIENT from loopback and relays for 192.0.2.0/24"
else
	mw_fail "1 Postfix accepts XCLIENT"
fi

# send_as NAME IP: NAME's message presented (XCLIENT) as coming from IP; 0 if accepted.
send_as() {
	mw_swaks "$smtp_port" --xclient-addr "$2" --helo "$HELO" --from "${FROM[$1]}" \
		--to "rcpt-$1@dest.test.example" --data "$W/msgs/$1.eml" >"$W/swaks-$1.log" 2>&1
}
# delivered_block NAME: waits (20 s at most) for NAME's copy in the sink; prints its
# unfolded block.
_captured() { mw_find_captured "$W/sink" "Message-ID: <rep-$1@test.example>" >/dev/null; }
delivered_block() {
	local got
	mw_wait_until 20 _captured "$1" || return 1
	got=$(mw_find_captured "$W/sink" "Message-ID: <rep-$1@test.example>") || return 1
	block "$got"
}
# has_all TEXT WANT...: every WANT is a fragment of TEXT; else prints what is missing.
has_all() {
	local text=$1 w missing=""
	shift
	for w in "$@"; do
		grep -q -F -e "$w" <<<"$text" || missing+=" [$w]"
	done
	[[ -z $missing ]] || { echo "missing$missing"; return 1; }
}

# --- a: a listed client is rejected with the list's reply -------------------------------
before=$(mw_count_messages "$W/sink")
rc=0
send_as listed 192.0.2.10 || rc=$?
reply=$(grep -m1 '^<\*\*' "$W/swaks-listed.log" || true)
if [[ $rc -ne 0 && $reply =~ ^'<** '+550\ 5\.7\.1\ Client\ listed\ at\ bl\.test ]] &&
	grep -q '^<- *354' "$W/swaks-listed.log"; then
	mw_pass "a 192.0.2.10 listed on bl.test (127.0.0.2, action reject): ${reply#<\*\* } at end of DATA"
else
	mw_fail "a listed client rejected" "swaks rc=$rc: $(grep -E '^(<-|<\*\*)' "$W/swaks-listed.log" | tail -n 4 | tr '\n' ' ')"
fi
sleep 1
if [[ $(mw_count_messages "$W/sink") -eq $before ]]; then
	mw_pass "a nothing delivered"
else
	mw_fail "a nothing delivered" "sink has $(mw_count_messages "$W/sink") (was $before)"
fi

# --- c: allowlisted, confirmed by iprev, a listed URL host ------------------------------
if ! send_as allowed 192.0.2.13; then
	mw_fail "c 192.0.2.13 accepted" "$(grep -E '^(<-|<\*\*)' "$W/swaks-allowed.log" | tail -n 3 | tr '\n' ' ')"
elif ! blk=$(delivered_block allowed); then
	mw_fail "c delivered once"
elif why=$(has_all "$blk" \
	"iprev=pass smtp.remote-ip=192.0.2.13 policy.iprev=mail.good.test" \
	"spf=pass smtp.mailfrom=a@good.test" "dmarc=pass" \
	"X-Mailwarden-Score: 3.00" "DNSWL_TEST" "DBL_TEST_SPAM"); then
	mw_pass "c allowlisted (-3), a URL host on dbl.test (+6), iprev pass: $(tr '\n' '|' <<<"$blk" | sed 's/|$//')"
else
	mw_fail "c allowlisted, URL host listed, iprev pass" "$why in: $blk"
fi

# --- b: an error answer is never a listing; the list pauses -----------------------------
if ! send_as refused 192.0.2.11; then
	mw_fail "b 192.0.2.11 (answer 127.255.255.254) accepted, not rejected" "$(grep -E '^(<-|<\*\*)' "$W/swaks-refused.log" | tail -n 3 | tr '\n' ' ')"
elif ! blk=$(delivered_block refused); then
	mw_fail "b delivered once"
elif grep -q -F "RBL_TEST" <<<"$blk"; then
	mw_fail "b the error answer counted as a listing" "$blk"
else
	mw_pass "b 192.0.2.11 answered 127.255.255.254 by bl.test: delivered, no list symbol ($(grep -m1 'X-Mailwarden-Score' <<<"$blk"))"
fi
if mw_wait_until 5 grep -q -E 'bl\.test: error answer for 11\.2\.0\.192\.bl\.test: answer 127\.255\.255\.254 .*not asked for 300 s' "$MLOG"; then
	mw_pass "b logged: $(grep -m1 -o 'bl\.test: error answer.*' "$MLOG")"
else
	mw_fail "b the error answer is logged" "$(grep -i 'reputation' "$MLOG" | tail -n 3)"
fi
if ! send_as paused 192.0.2.12; then
	mw_fail "b 192.0.2.12 (listed) while bl.test is paused: delivered" "$(grep -E '^(<-|<\*\*)' "$W/swaks-paused.log" | tail -n 3 | tr '\n' ' ')"
elif ! blk=$(delivered_block paused); then
	mw_fail "b paused: delivered once"
elif ! grep -q -F "RBL_TEST" <<<"$blk" && [[ $(grep -c 'error answer' "$MLOG") -eq 1 ]]; then
	mw_pass "b while paused, bl.test is not asked: listed 192.0.2.12 delivered, one error logged"
else
	mw_fail "b paused list not asked" "$blk / $(grep -c 'error answer' "$MLOG") error lines"
fi

# --- d: check --json --------------------------------------------------------------------
rc=0
ip netns exec "$NS" "$REAL_BIN" check -c "$CHECK_CONF" --client-ip 192.0.2.10 \
	--client-name unknown --helo "$HELO" --mail-from a@good.test --rcpt r@dest.test.example \
	--json "$W/msgs/listed.eml" >"$W/check/listed.json" 2>"$W/check/listed.err" || rc=$?
if [[ $rc -eq 0 ]] && "$MW_PYTHON" - "$W/check/listed.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
want = {"zone": "bl.test", "lookup": "192.0.2.10", "key": "client_ip",
        "query": "10.2.0.192.bl.test", "codes": ["127.0.0.2"], "result": "listed",
        "symbols": ["RBL_TEST_SBL"]}
assert want in j["lists"], j["lists"]
assert j["iprev"] == {"result": "permerror", "name": None}, j["iprev"]
assert j["action"] == "reject", j["action"]
assert {"id": "RBL_TEST_SBL", "score": 4.0} in j["rules"], j["rules"]
EOF
then
	mw_pass "d check --json: lists [{zone bl.test, query 10.2.0.192.bl.test, codes [127.0.0.2], result listed}], iprev permerror"
else
	mw_fail "d check --json lists and iprev" "exit $rc: $(head -c 600 "$W/check/listed.json") $(tail -n 3 "$W/check/listed.err")"
fi

# --- e: lists test ------------------------------------------------------------------------
rc=0
out=$(ip netns exec "$NS" "$REAL_BIN" lists test -c "$CHECK_CONF" 2>&1) || rc=$?
if [[ $rc -eq 0 ]] && has_all "$out" "bl.test: ok" "wl.test: ok" "dbl.test: ok" >/dev/null; then
	mw_pass "e lists test: $(tr '\n' '|' <<<"$out" | sed 's/|$//')"
else
	mw_fail "e lists test" "exit $rc: $out"
fi

mw_summary
