#!/usr/bin/env bash
# arc_seal_test.sh -- ARC sealing (arc.seal, issue 18 point 4) end to end: mailwarden,
# started as root with its sealing key owned by root and mode 0600 (as an install has
# it), drops to milter.user and seals what a private Postfix delivers; dkimpy
# (python3-dkim's arc_verify, another implementation) must validate our seal.
#
#   sudo MW_BIN=/path/to/mailwarden tests/integration/arc_seal_test.sh
#
# Exits 77 (SKIP) without the mailwarden binary, tests/tools/arc_seal (MW_ARC_SEAL,
# default next to MW_BIN: the build tree), /usr/bin/python3 with dkim, nsd, swaks,
# postfix or `ip netns`. Prints PASS / FAIL lines and "N passed, N failed" last.
#
# Layout as in dmarc_test.sh: nsd and mailwarden in a network namespace of their own
# (mw-arcseal-PID), Postfix outside reaching mailwarden's unix socket. nsd serves
# example. (tests/integration/arc.example.zone plus our sealing key record at
# arcseal._domainkey.forwarder.example, made by arc_seal --record) and example.org.
# (arc.example.org.zone). The chain is the mailing-list round trip of mw_arcchain.py.
#
#   1  nsd answers; mailwarden (dmarc enforce, lists.example.org trusted, arc.seal with
#      the root-only key) starts as root and runs as milter.user.
#   a  a first-hop message: delivered with ARC-Seal i=1 cv=none d=forwarder.example on
#      top, then AMS, AAR (= our Authentication-Results), then our A-R; dkimpy: pass.
#   b  the list's message (ARC i=1 by lists.example.org; author.example p=reject and its
#      DKIM broken by the list): delivered by the trusted-forwarder override, sealed
#      i=2 cv=pass; dkimpy: pass with 2 instances.
#   c  SIGHUP with the same configuration: the key file cannot be read any more
#      (unprivileged), so the running key is kept with a warning; the next message is
#      still sealed and dkimpy validates it.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns_dns.sh"
netns_require_bin
ARC_SEAL=${MW_ARC_SEAL:-$(dirname "$REAL_BIN")/tests/tools/arc_seal}
if [[ ! -x $ARC_SEAL ]]; then
	echo "SKIP: no arc_seal at $ARC_SEAL (set MW_ARC_SEAL; make builds it)"
	exit 77
fi
PY=/usr/bin/python3
if ! "$PY" -c 'import dkim' 2>/dev/null; then
	echo "SKIP: $PY cannot import dkim (python3-dkim)"
	exit 77
fi
netns_require

t_start=$(mw_now_ms)
AUTHSERV=mx.test.example
HELO=mail.lists.example.org
SEAL_DOMAIN=forwarder.example

netns_setup mw-arcseal

mw_workdir W
mkdir -p "$W/nsd" "$W/milter" "$W/msgs" "$W/keys" "$W/chain"
chmod 0755 "$W/milter"

# --- the sealing key: root's, 0600, in a folder only root can enter --------------------
cp "$MW_REPO_DIR/tests/keys/rsa2048.pem" "$W/keys/seal.pem"
chown root:root "$W/keys" "$W/keys/seal.pem"
chmod 0700 "$W/keys"
chmod 0600 "$W/keys/seal.pem"
KEY=$W/keys/seal.pem

# --- the chain (dkimpy) and the zones ----------------------------------------------------
if ! "$PY" "$MW_INTEG_DIR/mw_arcchain.py" --keys "$MW_REPO_DIR/tests/keys" --out "$W/chain" >"$W/chain/out.log" 2>&1; then
	mw_fail "mw_arcchain.py builds the list's chain" "$(tail -n 3 "$W/chain/out.log")"
	mw_summary || exit 1
fi
record=$("$ARC_SEAL" --key "$KEY" --record)
ZONE=$W/nsd/arc.example.zone
ZONE_ORG=$W/nsd/arc.example.org.zone
cp "$MW_INTEG_DIR/arc.example.zone" "$ZONE"
cp "$MW_INTEG_DIR/arc.example.org.zone" "$ZONE_ORG"
# TXT character-strings hold at most 255 octets (RFC 1035 §3.3): split the record.
{
	printf 'arcseal._domainkey.forwarder IN TXT ('
	rest=$record
	while [[ -n $rest ]]; do
		printf ' "%s"' "${rest:0:200}"
		rest=${rest:200}
	done
	printf ' )\n'
} >>"$ZONE"
nsd_config example "$ZONE" example.org "$ZONE_ORG"

# --- mailwarden's configuration -------------------------------------------------------
MILTER_SOCKET=unix:$W/milter/m.sock
CONF=$W/milter/mailwarden.yaml
cat >"$CONF" <<EOF
$(netns_milter_head)
spf:
  enabled: true
  check_helo: false
dkim:
  enabled: true
dmarc:
  enabled: true
  mode: enforce
arc:
  enabled: true
  trusted_sealers: [lists.example.org]
  seal:
    domain: $SEAL_DOMAIN
    selector: arcseal
    key_file: $KEY
reputation:
  iprev:
    enabled: false
rules:
  directories: []
dns:
  resolvers: ["127.0.0.1@${NSD_PORT:-53}"]
  timeout_ms: 1000
  retries: 0
  budget_ms: 3000
EOF
netns_mw_wrapper

# configtest (as root, like the operator) reads the key and finds it published.
if out=$("$REAL_BIN" configtest -c "$CONF" --dns-zone "$ZONE" 2>&1); then
	mw_pass "configtest: the key loads and matches arcseal._domainkey.$SEAL_DOMAIN ($out)"
else
	mw_fail "configtest accepts the key and its record" "$out"
fi

# --- messages ---------------------------------------------------------------------------
declare -A FROM=([first]=x@relay.example [list]=list-bounces@lists.example.org [after]=x@relay.example)
netns_mkmsg first a@forwarder.example arcseal
netns_mkmsg after a@forwarder.example arcseal
cp "$W/chain/list.eml" "$W/msgs/list.eml"

# --- 1: start ---------------------------------------------------------------------------
netns_stack_start lists.example.org
mpid_user=$(ps -o user= -p "$MW_MILTER_PID" 2>/dev/null | tr -d ' ' || true)
if [[ $mpid_user == "$MW_MILTER_USER" ]]; then
	mw_pass "1 mailwarden runs as $mpid_user, the key file is root's, mode $(stat -c %a "$KEY")"
else
	mw_fail "1 mailwarden dropped to $MW_MILTER_USER" "runs as '$mpid_user'"
fi

delivered=0
# deliver NAME MARKER LABEL: sends NAME, waits for its copy (found by MARKER); sets GOT.
GOT=""
deliver() {
	local n=$1 marker=$2 label=$3
	GOT=""
	if ! send "$n"; then
		mw_fail "$label: accepted by Postfix" "$(grep '^<\*\*' "$W/swaks-$n.log" || tail -n 3 "$W/swaks-$n.log")"
		return 0
	fi
	delivered=$((delivered + 1))
	if ! mw_wait_for_messages "$W/sink" "$delivered" 20 ||
		! GOT=$(mw_find_captured "$W/sink" "$marker"); then
		mw_fail "$label: delivered once"
		GOT=""
	fi
}
# sealed LABEL INSTANCE CV: the top of GOT is ARC-Seal, AMS, AAR, our A-R; the seal has
# i=INSTANCE cv=CV d=SEAL_DOMAIN; the AAR holds our A-R's value; dkimpy says cv=pass.
sealed() {
	local label=$1 i=$2 cv=$3 blk names v
	if [[ -z $GOT ]]; then
		mw_fail "$label" "not delivered"
		return 0
	fi
	blk=$(block "$GOT")
	names=$(cut -d: -f1 <<<"$blk" | head -n 4 | tr '\n' ' ')
	if [[ $names != "ARC-Seal ARC-Message-Signature ARC-Authentication-Results Authentication-Results " ]]; then
		mw_fail "$label: ARC set on top" "fields: $names"
		return 0
	fi
	local as aar ar
	as=$(sed -n 1p <<<"$blk")
	aar=$(sed -n 3p <<<"$blk")
	ar=$(sed -n 4p <<<"$blk")
	if [[ $as == *" i=$i;"* && $as == *" cv=$cv;"* && $as == *" d=$SEAL_DOMAIN;"* &&
		"${aar#ARC-Authentication-Results: i=$i; }" == "${ar#Authentication-Results: }" ]]; then
		mw_pass "$label: ARC-Seal i=$i cv=$cv d=$SEAL_DOMAIN above AMS, AAR (= our A-R) and A-R"
	else
		mw_fail "$label: seal tags and AAR" "$as | $aar | $ar"
	fi
	v=$("$PY" "$MW_INTEG_DIR/mw_arcchain.py" verify "$GOT" --zone "$ZONE" --zone "$ZONE_ORG" 2>&1 || true)
	if [[ $v == "cv=pass instances=$i "* ]]; then
		mw_pass "$label: dkimpy arc_verify: $v"
	else
		mw_fail "$label: dkimpy arc_verify passes" "$v"
	fi
}

# --- a: first hop -------------------------------------------------------------------------
deliver first "Message-ID: <arcseal-first@test.example>" "a first hop"
sealed "a first hop" 1 none

# --- b: the list's chain, trusted --------------------------------------------------------
deliver list "Message-ID: <20260101090000.4711@author.example>" "b list chain"
sealed "b over the list's chain" 2 pass
if [[ -n $GOT ]] && block "$GOT" | grep -q 'policy.override=trusted_forwarder'; then
	mw_pass "b delivered by the trusted-forwarder override (dmarc=fail, policy.override)"
else
	mw_fail "b the override is recorded" "$( [[ -n $GOT ]] && block "$GOT" | grep -i dmarc)"
fi

# --- c: SIGHUP with the same configuration ------------------------------------------------
reloads_before=$(grep -c 'configuration reloaded' "$MLOG" || true)
read -r mpid mstart <"$W/milter/milter.pid"
_reloaded() { (($(grep -c 'configuration reloaded' "$MLOG" || true) > reloads_before)); }
if _mw_pid_same "$mpid" "$mstart" && kill -HUP "$mpid" && mw_wait_until 10 _reloaded; then
	mw_pass "c SIGHUP: $(grep 'configuration reloaded' "$MLOG" | tail -n 1 | cut -c 1-120)"
else
	mw_fail "c SIGHUP reloads the configuration" "$(tail -n 3 "$MLOG")"
fi
if grep -q 'keeping the key read at start (a new key needs a restart)' "$MLOG"; then
	mw_pass "c the unreadable key file: running key kept, warning logged"
else
	mw_fail "c warning about the kept key" "$(grep -i arc "$MLOG" | tail -n 3)"
fi
deliver after "Message-ID: <arcseal-after@test.example>" "c after SIGHUP"
sealed "c after SIGHUP" 1 none

# --- stop --------------------------------------------------------------------------------
netns_stack_stop
echo "total $(($(mw_now_ms) - t_start)) ms"
mw_summary
