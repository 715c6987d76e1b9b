#!/usr/bin/env bash
# arc_test.sh -- ARC (RFC 8617) and DMARC enforce mode end to end: a mailing list that
# rewrites the Subject and adds a footer breaks the author's DKIM signature; its ARC seal
# lets mailwarden deliver the message only when the list is a trusted sealer (issue 18).
#
#   sudo MW_BIN=/path/to/mailwarden tests/integration/arc_test.sh
#
# Exits 77 (SKIP) without the mailwarden binary, nsd, swaks, postfix, `ip netns`, or
# dkimpy in /usr/bin/python3 (python3-dkim, python3-authres). Prints PASS / FAIL lines and
# "N passed, N failed" last; exits non-zero on failure.
#
# The chains are built at test time by mw_arcchain.py (dkimpy: dkim.sign, dkim.arc_sign)
# from the committed keys, so nothing here was signed by our own code. Layout as in
# dmarc_test.sh: nsd and mailwarden (libunbound) in a namespace of our own, serving
# tests/integration/arc.example.zone (author.example: p=reject, its DKIM key;
# relay.example) and arc.example.org.zone (lists.example.org: SPF for 127.0.0.1, its
# sealing key). Every message arrives from 127.0.0.1 with MAIL FROM
# list-bounces@lists.example.org: SPF passes for the list, which does not align with
# From: author@author.example, and the author's signature no longer verifies, so DMARC
# fails under p=reject.
#
#   1  nsd answers in the namespace; mailwarden (dmarc.mode: enforce,
#      arc.trusted_sealers: [lists.example.org]) listens.
#   a  list.eml (sealed by the list, cv=none, its A-R saw dmarc=pass): delivered, with
#      dmarc=fail naming the trusted-forwarder override (policy.override=trusted_forwarder)
#      and arc=pass in our Authentication-Results; the author's dkim=fail still shown.
#   b  `mailwarden check --dns-zone` (same zones and envelope) prints exactly the block
#      the milter added for a.
#   c  list-tampered.eml (the body altered after the seal): arc=fail, so no override:
#      550 5.7.1 at end of DATA, nothing delivered or queued.
#   d  the configuration rewritten without trusted sealers and SIGHUP: list.eml again
#      (a valid chain from a sealer we do not trust) is refused 550 5.7.1.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns_dns.sh"
netns_require_bin
DKIMPY_PYTHON=${MW_DKIMPY_PYTHON:-/usr/bin/python3}
if ! "$DKIMPY_PYTHON" -c 'import dkim, authres' 2>/dev/null; then
	echo "SKIP: $DKIMPY_PYTHON cannot import dkim and authres (apt-get install python3-dkim python3-authres)"
	exit 77
fi
netns_require

t_start=$(mw_now_ms)
AUTHSERV=mx.test.example
HELO=lists.example.org
LIST_FROM=list-bounces@lists.example.org

netns_setup mw-arc

mw_workdir W
mkdir -p "$W/nsd" "$W/milter" "$W/msgs" "$W/check" "$W/chain"
chmod 0755 "$W/milter"

# --- the chains, built by dkimpy -----------------------------------------------------
if ! "$DKIMPY_PYTHON" "$MW_INTEG_DIR/mw_arcchain.py" --keys "$MW_REPO_DIR/tests/keys" \
	--out "$W/chain" >"$W/chain/build.log" 2>&1; then
	mw_fail "mw_arcchain.py builds the mailing-list chains" "$(tail -n 5 "$W/chain/build.log")"
	mw_summary || exit 1
fi
ZONE_COM=$MW_INTEG_DIR/arc.example.zone
ZONE_ORG=$MW_INTEG_DIR/arc.example.org.zone
# The committed zones must be the records of the committed keys (arc_chain_test.sh
# checks this too; a stale zone would make every case below fail for the wrong reason).
if cmp -s "$W/chain/arc.example.zone" "$ZONE_COM" && cmp -s "$W/chain/arc.example.org.zone" "$ZONE_ORG"; then
	mw_pass "0 dkimpy built list.eml, list-tampered.eml; the committed zones hold their keys"
else
	mw_fail "0 the committed zones match the keys" "regenerate with mw_arcchain.py zone"
fi
cp "$W/chain/list.eml" "$W/msgs/list.eml"
cp "$W/chain/list.eml" "$W/msgs/untrusted.eml"
cp "$W/chain/list-tampered.eml" "$W/msgs/tampered.eml"
declare -A FROM=([list]=$LIST_FROM [untrusted]=$LIST_FROM [tampered]=$LIST_FROM)

# --- nsd inside the namespace ------------------------------------------------------
nsd_config example "$ZONE_COM" example.org "$ZONE_ORG"

# --- mailwarden's configuration -----------------------------------------------------
MILTER_SOCKET=unix:$W/milter/m.sock
common_config() { # TRUSTED_SEALERS (YAML flow list)
	cat <<EOF
$(netns_milter_head)
spf:
  enabled: true
  reject_on_fail: false
dkim:
  enabled: true
dmarc:
  enabled: true
  mode: enforce
arc:
  enabled: true
  trusted_sealers: $1
# iprev has its own test (reputation_test.sh): the milter's libunbound answers the
# client 127.0.0.1's PTR itself (localhost), the zones of check --dns-zone do not.
reputation:
  iprev:
    enabled: false
rules:
  directories: []
EOF
}
dns_config() {
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
{
	common_config "[lists.example.org]"
	dns_config
} >"$CONF"
common_config "[lists.example.org]" >"$CHECK_CONF"

netns_mw_wrapper

# --- 1: start -------------------------------------------------------------------------
netns_stack_start sel._domainkey.lists.example.org

delivered=0
# refused NAME LABEL: NAME is refused 550 5.7.1 at end of DATA naming author.example's
# policy, and nothing reaches the sink or stays queued.
refused() {
	local n=$1 label=$2 before rc=0 reply
	before=$(mw_count_messages "$W/sink")
	send "$n" || rc=$?
	reply=$(grep -m1 '^<\*\*' "$W/swaks-$n.log" || true)
	local re_550='^<\*\* +550 5\.7\.1 .*author\.example'
	if [[ $rc -ne 0 && $reply =~ $re_550 ]] && grep -q '^<- *354' "$W/swaks-$n.log" &&
		! grep -q '^<- *250 .*queued as' "$W/swaks-$n.log"; then
		mw_pass "$label: ${reply#<\*\* }"
	else
		mw_fail "$label: 550 5.7.1 at end of DATA" "swaks rc=$rc: $(grep -E '^(<-|<\*\*)' "$W/swaks-$n.log" | tail -n 4 | tr '\n' ' ')"
	fi
	sleep 1 # anything wrongly relayed would reach the sink within a second
	if [[ $(mw_count_messages "$W/sink") -eq $before && $(mw_pf_queue_count "$W/pf") -eq 0 ]]; then
		mw_pass "$label: nothing delivered or queued"
	else
		mw_fail "$label: nothing delivered or queued" "sink $(mw_count_messages "$W/sink") (was $before), queue $(mw_pf_queue_count "$W/pf")"
	fi
}

# --- a: the list is trusted ------------------------------------------------------------
GOT=""
rc=0
send list || rc=$?
if [[ $rc -ne 0 ]]; then
	mw_fail "a list.eml accepted by Postfix (trusted sealer)" "$(grep '^<\*\*' "$W/swaks-list.log" || tail -n 3 "$W/swaks-list.log")"
else
	delivered=$((delivered + 1))
	if mw_wait_for_messages "$W/sink" "$delivered" 20 &&
		GOT=$(mw_find_captured "$W/sink" "Message-ID: <20260101090000.4711@author.example>"); then
		blk=$(block "$GOT")
		missing=""
		for w in "Authentication-Results: $AUTHSERV;" \
			"spf=pass smtp.mailfrom=$LIST_FROM" \
			"dkim=fail" "header.d=author.example" \
			"dmarc=fail (p=reject" "not enforced: trusted forwarder arc=pass as[1].d=lists.example.org" \
			"header.from=author.example policy.override=trusted_forwarder;" \
			"arc=pass smtp.remote-ip=127.0.0.1" \
			"X-Mailwarden-Verdict: accept"; do
			grep -q -F -e "$w" <<<"$blk" || missing+=" [$w]"
		done
		# arc comes after dmarc in our field (RFC 8617 §10 method, issue 18).
		order=$(grep -o -E '; (dmarc|arc)=[a-z]+' <<<"$blk" | tr '\n' ' ')
		if [[ -z $missing && $order == "; dmarc=fail ; arc=pass " ]]; then
			mw_pass "a list.eml from a trusted sealer delivered: $(grep -o 'dmarc=fail.*' <<<"$blk" | head -n 1 | cut -c 1-230)"
		else
			mw_fail "a list.eml from a trusted sealer delivered with the override" "missing$missing, order '$order' in: $blk"
		fi
	else
		mw_fail "a list.eml delivered once"
		GOT=""
	fi
fi

# --- b: check prints the same block ----------------------------------------------------
if [[ -n $GOT ]]; then
	rc=0
	"$REAL_BIN" check -c "$CHECK_CONF" --dns-zone "$ZONE_COM" --dns-zone "$ZONE_ORG" \
		--client-ip 127.0.0.1 --client-name unknown --helo "$HELO" --mail-from "$LIST_FROM" \
		--rcpt rcpt-list@dest.test.example "$W/msgs/list.eml" >"$W/check/list.out" 2>"$W/check/list.err" || rc=$?
	if [[ $rc -eq 0 ]] && res=$(same_block "$W/check/list.out" "$GOT"); then
		mw_pass "b mailwarden check --dns-zone prints the block the milter added for a ($res)"
	else
		mw_fail "b mailwarden check --dns-zone prints the milter's block for a" "exit $rc ${res:-$(head -c 300 "$W/check/list.out")}"
	fi
else
	mw_fail "b mailwarden check --dns-zone prints the milter's block for a" "a was not delivered"
fi

# --- c: altered after the seal -----------------------------------------------------------
refused tampered "c list-tampered.eml (body altered after the seal), trusted sealer"
if grep -q -E 'milter-reject: END-OF-MESSAGE from [^ ]+: 5\.7\.1 .*to=<rcpt-tampered@' "$W/pf/maillog"; then
	mw_pass "c Postfix logged milter-reject END-OF-MESSAGE 5.7.1"
else
	mw_fail "c Postfix logged the milter's 550" "$(grep -E 'milter|550' "$W/pf/maillog" | tail -n 2)"
fi

# --- d: the list no longer trusted, through SIGHUP ------------------------------------------
{
	common_config "[]"
	dns_config
} >"$CONF"
reloads_before=$(grep -c 'configuration reloaded' "$MLOG" || true)
read -r mpid mstart <"$W/milter/milter.pid"
_reloaded() { (($(grep -c 'configuration reloaded' "$MLOG" || true) > reloads_before)); }
if _mw_pid_same "$mpid" "$mstart" && kill -HUP "$mpid" && mw_wait_until 10 _reloaded; then
	mw_pass "d SIGHUP: $(grep 'configuration reloaded' "$MLOG" | tail -n 1 | cut -c 1-160)"
else
	mw_fail "d SIGHUP reloads the configuration (no trusted sealers)" "$(tail -n 3 "$MLOG")"
fi
refused untrusted "d list.eml, a valid chain from a sealer not trusted"

# --- stop ------------------------------------------------------------------------------
netns_stack_stop
echo "total $(($(mw_now_ms) - t_start)) ms"
mw_summary
