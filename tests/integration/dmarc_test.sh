#!/usr/bin/env bash
# dmarc_test.sh -- DKIM and DMARC end to end: mailwarden (libunbound) asks a real DNS
# server (nsd) for SPF, DKIM key and DMARC records while it is the milter of a private
# Postfix.
#
#   sudo MW_BIN=/path/to/mailwarden tests/integration/dmarc_test.sh
#
# Exits 77 (SKIP) without the mailwarden binary, the dkim_sign tool (MW_DKIM_SIGN,
# default: tests/tools/dkim_sign next to MW_BIN, i.e. the build tree), nsd, swaks,
# postfix or `ip netns`. Prints PASS / FAIL lines and "N passed, N failed" last; exits
# non-zero on failure.
#
# Layout as in spf_test.sh: a network namespace of our own (mw-dmarc-PID) holds nsd on
# 127.0.0.1:53 and mailwarden; Postfix (root namespace) reaches mailwarden's unix socket
# through the file system. The zone is tests/integration/dmarc.zone (all of "example.").
#
#   1  nsd answers in the namespace; mailwarden (dmarc.mode: enforce) listens.
#   a  a message From a@good.example, signed at test time with dkim_sign (d=good.example,
#      tests/keys/rsa2048.pem), MAIL FROM a@good.example: delivered with spf=pass,
#      dkim=pass and dmarc=pass in Authentication-Results.
#   b  From ceo@bank.example (p=reject), unsigned, MAIL FROM x@spoofer.example (SPF
#      passes, not aligned): 550 5.7.1 at end of DATA naming the policy, nothing
#      delivered or queued.
#   c  the configuration rewritten with dmarc.mode: monitor and SIGHUP: the same spoof
#      is delivered with dmarc=fail (p=reject ... not enforced: monitor mode).
#   d  `mailwarden check --dns-zone dmarc.zone` (same configuration minus the
#      resolvers, same envelope) prints exactly the block the milter added for a.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns_dns.sh"
netns_require_bin
DKIM_SIGN=${MW_DKIM_SIGN:-$(dirname "$REAL_BIN")/tests/tools/dkim_sign}
if [[ ! -x $DKIM_SIGN ]]; then
	echo "SKIP: no dkim_sign at $DKIM_SIGN (set MW_DKIM_SIGN; make builds it)"
	exit 77
fi
netns_require

t_start=$(mw_now_ms)
ZONE=$MW_INTEG_DIR/dmarc.zone
KEY=$MW_REPO_DIR/tests/keys/rsa2048.pem
AUTHSERV=mx.test.example
HELO=client.good.example

netns_setup mw-dmarc

mw_workdir W
mkdir -p "$W/nsd" "$W/milter" "$W/msgs" "$W/check"
chmod 0755 "$W/milter"

# --- nsd inside the namespace ------------------------------------------------------
nsd_config example "$ZONE"

# --- mailwarden's configuration -----------------------------------------------------
MILTER_SOCKET=unix:$W/milter/m.sock
common_config() { # MODE
	cat <<EOF
$(netns_milter_head)
spf:
  enabled: true
  check_helo: false
  reject_on_fail: false
dkim:
  enabled: true
dmarc:
  enabled: true
  mode: $1
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
milter_config() { # MODE
	common_config "$1"
	cat <<EOF
dns:
  resolvers: ["127.0.0.1@$NSD_PORT"]
  timeout_ms: 1000
  retries: 0
  budget_ms: 3000
EOF
}
CONF=$W/milter/mailwarden.yaml
CHECK_CONF=$W/check/mailwarden.yaml
milter_config enforce >"$CONF"
{
	common_config enforce
	cat <<EOF
dns:
  timeout_ms: 1000
  retries: 0
  budget_ms: 3000
EOF
} >"$CHECK_CONF"

netns_mw_wrapper

# --- messages ------------------------------------------------------------------------
mkmsg() { netns_mkmsg "$1" "$2" dmarc; } # NAME FROM
declare -A FROM=([signed]=a@good.example [spoof]=x@spoofer.example [monitor]=x@spoofer.example)
mkmsg signed a@good.example
mkmsg spoof ceo@bank.example
mkmsg monitor ceo@bank.example
# Signed now (t= is the current time, no x=): the milter verifies with its own clock.
if ! "$DKIM_SIGN" --key "$KEY" --domain good.example --selector sel <"$W/msgs/signed.eml" >"$W/msgs/signed.signed" 2>"$W/msgs/sign.err"; then
	mw_fail "a dkim_sign signs the message" "$(cat "$W/msgs/sign.err")"
	mw_summary || exit 1
fi
mv "$W/msgs/signed.signed" "$W/msgs/signed.eml"


# --- 1: start -------------------------------------------------------------------------
netns_stack_start sel._domainkey.good.example

delivered=0
# check_cmd NAME OUT: mailwarden check with the milter's envelope.
check_cmd() {
	"$REAL_BIN" check -c "$CHECK_CONF" --dns-zone "$ZONE" --client-ip 127.0.0.1 \
		--client-name unknown --helo "$HELO" --mail-from "${FROM[$1]}" \
		--rcpt "rcpt-$1@dest.test.example" "$W/msgs/$1.eml" >"$2" 2>"$2.err"
}

# deliver NAME LABEL WANT...: sends NAME, waits for its copy, checks that the unfolded
# block has every WANT line fragment; sets GOT to the captured file ("" if none).
GOT=""
deliver() {
	local n=$1 label=$2 blk w missing=""
	shift 2
	GOT=""
	if ! send "$n"; then
		mw_fail "$label: accepted by Postfix" "$(grep '^<\*\*' "$W/swaks-$n.log" || tail -n 3 "$W/swaks-$n.log")"
		return 0
	fi
	delivered=$((delivered + 1))
	if ! mw_wait_for_messages "$W/sink" "$delivered" 20 ||
		! GOT=$(mw_find_captured "$W/sink" "Message-ID: <dmarc-$n@test.example>"); then
		mw_fail "$label: delivered once"
		GOT=""
		return 0
	fi
	blk=$(block "$GOT")
	for w in "$@"; do
		grep -q -F -e "$w" <<<"$blk" || missing+=" [$w]"
	done
	if [[ -z $missing ]]; then
		mw_pass "$label: $(tr '\n' '|' <<<"$blk" | sed 's/|$//')"
	else
		mw_fail "$label" "missing$missing in: $blk"
	fi
}

# --- a (+d): signed, aligned -----------------------------------------------------------
deliver signed "a signed by good.example" \
	"Authentication-Results: $AUTHSERV;" \
	"spf=pass smtp.mailfrom=a@good.example" \
	"dkim=pass" "header.d=good.example" \
	"dmarc=pass (p=reject" "header.from=good.example" \
	"X-Mailwarden-Verdict: accept"
if [[ -n $GOT ]]; then
	rc=0
	check_cmd signed "$W/check/signed.out" || rc=$?
	if [[ $rc -eq 0 ]] && res=$(same_block "$W/check/signed.out" "$GOT"); then
		mw_pass "d mailwarden check --dns-zone prints the block the milter added for a ($res)"
	else
		mw_fail "d mailwarden check --dns-zone prints the milter's block for a" "exit $rc ${res:-$(head -c 300 "$W/check/signed.out")}"
	fi
else
	mw_fail "d mailwarden check --dns-zone prints the milter's block for a" "a was not delivered"
fi

# --- b: spoof of a p=reject domain, enforce --------------------------------------------
before=$(mw_count_messages "$W/sink")
rc=0
send spoof || rc=$?
reply=$(grep -m1 '^<\*\*' "$W/swaks-spoof.log" || true)
re_550='^<\*\* +550 5\.7\.1 .*bank\.example'
if [[ $rc -ne 0 && $reply =~ $re_550 ]] && grep -q '^<- *354' "$W/swaks-spoof.log" &&
	! grep -q '^<- *250 .*queued as' "$W/swaks-spoof.log"; then
	mw_pass "b spoof of bank.example (p=reject), enforce: 550 5.7.1 at end of DATA (${reply#<\*\* })"
else
	mw_fail "b spoof: 550 5.7.1 at end of DATA" "swaks rc=$rc: $(grep -E '^(<-|<\*\*)' "$W/swaks-spoof.log" | tail -n 4 | tr '\n' ' ')"
fi
sleep 1 # anything wrongly relayed would reach the sink within a second
if [[ $(mw_count_messages "$W/sink") -eq $before && $(mw_pf_queue_count "$W/pf") -eq 0 ]]; then
	mw_pass "b nothing delivered or queued"
else
	mw_fail "b nothing delivered or queued" "sink $(mw_count_messages "$W/sink") (was $before), queue $(mw_pf_queue_count "$W/pf")"
fi
if grep -q -E 'milter-reject: END-OF-MESSAGE from [^ ]+: 5\.7\.1 .*from=<x@spoofer\.example>' "$W/pf/maillog"; then
	mw_pass "b Postfix logged milter-reject END-OF-MESSAGE 5.7.1"
else
	mw_fail "b Postfix logged the milter's 550" "$(grep -E 'milter|550' "$W/pf/maillog" | tail -n 2)"
fi

# --- c: monitor mode through SIGHUP ----------------------------------------------------
milter_config monitor >"$CONF"
reloads_before=$(grep -c 'configuration reloaded' "$MLOG" || true)
read -r mpid mstart <"$W/milter/milter.pid"
_reloaded() { (($(grep -c 'configuration reloaded' "$MLOG" || true) > reloads_before)); }
# The DNS settings are the same: the reload keeps the libunbound context and its cache.
if _mw_pid_same "$mpid" "$mstart" && kill -HUP "$mpid" && mw_wait_until 10 _reloaded &&
	grep 'configuration reloaded' "$MLOG" | tail -n 1 | grep -q 'DNS cache kept'; then
	mw_pass "c SIGHUP: $(grep 'configuration reloaded' "$MLOG" | tail -n 1 | cut -c 1-160)"
else
	mw_fail "c SIGHUP reloads the configuration (dmarc.mode: monitor)" "$(tail -n 3 "$MLOG")"
fi
deliver monitor "c the same spoof in monitor mode" \
	"spf=pass smtp.mailfrom=x@spoofer.example" \
	"dkim=none" \
	"dmarc=fail (p=reject" "not enforced: monitor mode" "header.from=bank.example" \
	"X-Mailwarden-Rules: DMARC_REJECT="

# --- stop ------------------------------------------------------------------------------
netns_stack_stop
echo "total $(($(mw_now_ms) - t_start)) ms"
mw_summary
