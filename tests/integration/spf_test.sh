#!/usr/bin/env bash
# spf_test.sh -- SPF end to end: mailwarden (libunbound) asks a real DNS server (nsd)
# while it is the milter of a private Postfix.
#
#   sudo MW_BIN=/path/to/mailwarden tests/integration/spf_test.sh
#
# Exits 77 (SKIP) without the mailwarden binary, nsd, swaks, postfix or `ip netns`.
# Prints PASS / FAIL lines and "N passed, N failed" last; exits non-zero on failure.
#
# Layout. A network namespace of our own (mw-spf-PID) holds nsd on 127.0.0.1:53 and
# mailwarden (`ip netns exec NS mailwarden run`), so no DNS query can leave it: its
# only interface is its own lo. mailwarden listens on a unix socket in the work
# directory, which Postfix (in the root namespace) reaches through the file system.
# The zone is tests/integration/spf.zone.
#
#   1  nsd in the namespace answers; mailwarden in the namespace listens (the PID we
#      recorded is mailwarden itself: `ip netns exec` execs, it does not fork).
#   2  MAIL FROM a@pass.test.example from 127.0.0.1: spf=pass for MAIL FROM and HELO.
#   3  MAIL FROM b@fail.test.example: spf=fail, SPF_FAIL=5.00, verdict tag.
#   4  `mailwarden check --dns-zone spf.zone` (same configuration minus the resolvers,
#      same envelope) prints exactly the block the milter added, for 2 and 3.
#   5  nsd stopped: a new domain gets 451 4.7.1 at end of DATA (temperror -> failure
#      policy), nothing relayed or queued; nsd started again, the client retries:
#      delivered once with spf=pass. `check` with ";@timeout pass.test.example" in the
#      zone: action tempfail.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns_dns.sh"
netns_require_bin
netns_require

t_start=$(mw_now_ms)
ZONE=$MW_INTEG_DIR/spf.zone
AUTHSERV=mx.test.example
HELO=helo.test.example

netns_setup mw-spf

mw_workdir W
mkdir -p "$W/nsd" "$W/milter" "$W/msgs" "$W/check"
chmod 0755 "$W/milter"

# --- nsd inside the namespace ------------------------------------------------------
nsd_config test.example "$ZONE"

# --- mailwarden's configuration -----------------------------------------------------
MILTER_SOCKET=unix:$W/milter/m.sock
common_config() {
	cat <<EOF
$(netns_milter_head)
spf:
  enabled: true
  check_helo: true
  reject_on_fail: false
# DMARC has its own tests (tests/golden/dmarc); its tree walk would leave this zone.
dmarc:
  enabled: false
# iprev has its own test (reputation_test.sh): the milter's libunbound answers the
# client 127.0.0.1's PTR itself (localhost), `check --dns-zone`'s zone does not.
reputation:
  iprev:
    enabled: false
# The rules have their own test (rules_test.sh); none here, whatever /etc holds.
rules:
  directories: []
EOF
}
CONF=$W/milter/mailwarden.yaml
CHECK_CONF=$W/check/mailwarden.yaml
{
	common_config
	cat <<EOF
dns:
  resolvers: ["127.0.0.1@$NSD_PORT"]
  timeout_ms: 1000
  retries: 0
  budget_ms: 3000
EOF
} >"$CONF"
{
	common_config
	cat <<EOF
dns:
  timeout_ms: 1000
  retries: 0
  budget_ms: 3000
EOF
} >"$CHECK_CONF"

netns_mw_wrapper

# --- messages ------------------------------------------------------------------------
mkmsg() { netns_mkmsg "$1" "$2" spf; } # NAME FROM
declare -A FROM=([pass]=a@pass.test.example [fail]=b@fail.test.example [retry]=c@retry.test.example)
for n in pass fail retry; do mkmsg "$n" "${FROM[$n]}"; done


# --- 1: start -------------------------------------------------------------------------
netns_stack_start pass.test.example

delivered=0
# check_cmd NAME OUT [--dns-zone FILE]: mailwarden check with the milter's envelope.
check_cmd() {
	local n=$1 out=$2 zone=${3:-$ZONE}
	shift 3 || shift $#
	"$REAL_BIN" check -c "$CHECK_CONF" --dns-zone "$zone" --client-ip 127.0.0.1 \
		--client-name unknown --helo "$HELO" --mail-from "${FROM[$n]}" \
		--rcpt "rcpt-$n@dest.test.example" "$@" "$W/msgs/$n.eml" >"$out" 2>"$out.err"
}

# deliver_and_check NAME LABEL WANT...: sends NAME, waits for its copy, checks that the
# unfolded block has every WANT line fragment, and that check prints the same block.
deliver_and_check() {
	local n=$1 label=$2 got blk w missing="" rc=0 res
	shift 2
	if ! send "$n"; then
		mw_fail "$label: accepted by Postfix" "$(grep '^<\*\*' "$W/swaks-$n.log" || tail -n 3 "$W/swaks-$n.log")"
		return 0
	fi
	delivered=$((delivered + 1))
	if ! mw_wait_for_messages "$W/sink" "$delivered" 20 ||
		! got=$(mw_find_captured "$W/sink" "Message-ID: <spf-$n@test.example>"); then
		mw_fail "$label: delivered once"
		return 0
	fi
	blk=$(block "$got")
	for w in "$@"; do
		grep -q -F -e "$w" <<<"$blk" || missing+=" [$w]"
	done
	if [[ -z $missing ]]; then
		mw_pass "$label: $(tr '\n' '|' <<<"$blk" | sed 's/|$//')"
	else
		mw_fail "$label" "missing$missing in: $blk"
	fi
	check_cmd "$n" "$W/check/$n.out" || rc=$?
	if [[ $rc -eq 0 ]] && res=$(same_block "$W/check/$n.out" "$got"); then
		mw_pass "4 $n: mailwarden check --dns-zone prints the block the milter added ($res)"
	else
		mw_fail "4 $n: mailwarden check --dns-zone prints the milter's block" "exit $rc ${res:-$(head -c 300 "$W/check/$n.out")}"
	fi
}

# --- 2, 3 (+4) ------------------------------------------------------------------------
deliver_and_check pass "2 pass" \
	"Authentication-Results: $AUTHSERV;" \
	"spf=pass smtp.mailfrom=a@pass.test.example" \
	"spf=pass smtp.helo=$HELO" \
	"X-Mailwarden-Verdict: accept" \
	"X-Mailwarden-Score: 0.00"
deliver_and_check fail "3 fail" \
	"spf=fail smtp.mailfrom=b@fail.test.example" \
	"spf=pass smtp.helo=$HELO" \
	"X-Mailwarden-Verdict: tag" \
	"X-Mailwarden-Score: 5.00" \
	"X-Mailwarden-Rules: SPF_FAIL=5.00"

# --- 5: DNS down -> 451 4.7.1, up again -> delivered once -------------------------------
nsd_stop
if dns_probe pass.test.example; then
	mw_fail "5 nsd stopped" "still answering"
else
	mw_pass "5 nsd stopped (pid $NSD_PID), no answer on 127.0.0.1:$NSD_PORT in $NS"
fi
before=$(mw_count_messages "$W/sink")
t0=$(mw_now_ms)
rc=0
send retry || rc=$?
down_ms=$(($(mw_now_ms) - t0))
cp "$W/swaks-retry.log" "$W/swaks-retry-down.log"
reply=$(grep -m1 '^<\*\*' "$W/swaks-retry.log" || true)
re_451='^<\*\* +451 4\.7\.1 '
if [[ $rc -ne 0 && $reply =~ $re_451 ]] && grep -q '^<- *354' "$W/swaks-retry.log" &&
	! grep -q '^<- *250 .*queued as' "$W/swaks-retry.log"; then
	mw_pass "5 DNS down: 451 4.7.1 at end of DATA (${reply#<\*\* }, ${down_ms} ms)"
else
	mw_fail "5 DNS down: 451 4.7.1 at end of DATA" "swaks rc=$rc: $(grep -E '^(<-|<\*\*)' "$W/swaks-retry.log" | tail -n 4 | tr '\n' ' ')"
fi
if grep -q 'temperror for retry.test.example' "$MLOG"; then
	mw_pass "5 mailwarden logged: $(grep -m1 'temperror for retry.test.example' "$MLOG" | cut -c 1-160)"
else
	mw_fail "5 mailwarden logged the temperror" "$(tail -n 3 "$MLOG")"
fi
sleep 1 # anything wrongly relayed would reach the sink within a second
if [[ $(mw_count_messages "$W/sink") -eq $before && $(mw_pf_queue_count "$W/pf") -eq 0 ]]; then
	mw_pass "5 DNS down: nothing relayed or queued"
else
	mw_fail "5 DNS down: nothing relayed or queued" "sink $(mw_count_messages "$W/sink") (was $before), queue $(mw_pf_queue_count "$W/pf")"
fi
if nsd_start pass.test.example; then
	mw_pass "5 nsd started again (pid $NSD_PID)"
else
	mw_fail "5 nsd started again"
fi
# The client retries; a real sender waits minutes, we try up to 5 times, 2 s apart, and
# say how many attempts it took (libunbound may remember the failed server a while).
attempts=0
accepted=""
while ((attempts < 5)); do
	attempts=$((attempts + 1))
	if send retry; then
		accepted=1
		break
	fi
	cp "$W/swaks-retry.log" "$W/swaks-retry-$attempts.log"
	sleep 2
done
if [[ -n $accepted && $attempts -eq 1 ]]; then
	mw_pass "5 nsd back: the client's retry is accepted at once"
elif [[ -n $accepted ]]; then
	mw_fail "5 nsd back: the client's first retry is accepted" "accepted only at attempt $attempts; before: $(grep -m1 '^<\*\*' "$W/swaks-retry-1.log")"
else
	mw_fail "5 nsd back: the client's retry is accepted" "$attempts attempts: $(grep -m1 '^<\*\*' "$W/swaks-retry.log" || tail -n 2 "$W/swaks-retry.log")"
fi
if [[ -n $accepted ]]; then
	delivered=$((delivered + 1))
	if mw_wait_for_messages "$W/sink" "$delivered" 20; then
		sleep 1 # a second copy, if any, would follow within a second
		copies=$(grep -l -F -e "Message-ID: <spf-retry@test.example>" "$W"/sink/*.eml | wc -l)
		got=$(mw_find_captured "$W/sink" "Message-ID: <spf-retry@test.example>" || true)
		blk=$([[ -n $got ]] && block "$got" || true)
		if [[ $copies -eq 1 && $(mw_pf_queue_count "$W/pf") -eq 0 ]] &&
			grep -q -F "spf=pass smtp.mailfrom=c@retry.test.example" <<<"$blk"; then
			mw_pass "5 retried message delivered exactly once with spf=pass"
		else
			mw_fail "5 retried message delivered exactly once with spf=pass" "$copies copies; $blk"
		fi
	else
		mw_fail "5 retried message delivered"
	fi
fi

# check against a zone whose lookups for pass.test.example time out: tempfail. (The
# pragma's name follows master-file rules: without the final dot it would be relative
# to $ORIGIN, i.e. pass.test.example.test.example.)
{
	cat "$ZONE"
	printf ';@timeout pass.test.example.\n'
} >"$W/check/timeout.zone"
rc=0
check_cmd pass "$W/check/timeout.json" "$W/check/timeout.zone" --json || rc=$?
action=$("$MW_PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["action"])' "$W/check/timeout.json" 2>/dev/null || true)
if [[ $rc -eq 0 && $action == tempfail ]] && grep -q '"action": "tempfail"' "$W/check/timeout.json"; then
	mw_pass "5 check with ;@timeout pass.test.example.: \"action\": \"tempfail\""
else
	mw_fail "5 check with ;@timeout: action tempfail" "exit $rc, action '$action': $(head -c 300 "$W/check/timeout.json")"
fi

# Postfix's log: the 451 came from the milter at end of data.
if grep -q -E 'milter-reject: END-OF-MESSAGE from [^ ]+: 4\.7\.1 .*from=<c@retry\.test\.example>' "$W/pf/maillog"; then
	mw_pass "5 Postfix logged milter-reject END-OF-MESSAGE 4.7.1 for the retry message"
else
	mw_fail "5 Postfix logged the milter's 451" "$(grep -E 'milter|451' "$W/pf/maillog" | tail -n 2)"
fi

# --- stop ------------------------------------------------------------------------------
netns_stack_stop
echo "total $(($(mw_now_ms) - t_start)) ms"
mw_summary
