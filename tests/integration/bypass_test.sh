#!/usr/bin/env bash
# bypass_test.sh -- our own users are not judged like strangers (issue 19, point 3),
# through a private Postfix with SMTP AUTH (Cyrus SASL, sasldb: mw_pf_sasl).
#
#   sudo MW_BIN=/path/to/mailwarden tests/integration/bypass_test.sh
#
# mailwarden answers DNS from a zone file (dns.zone_files: no network): own.example
# publishes p=reject and an SPF record that does not list 127.0.0.1, so a message From
# alice@own.example sent from 127.0.0.1 fails SPF and DMARC. dmarc.mode: enforce.
#   1  unauthenticated: 550 5.7.1 at end of DATA, nothing delivered
#   2  the same message after AUTH PLAIN as alice: delivered, A-R
#      "(not checked: spf, dmarc; authenticated client)" and
#      auth=pass smtp.auth=alice@mx.test.example (smtpd_sasl_local_domain); the EHLO
#      offers exactly AUTH PLAIN LOGIN, i.e. smtpd read our smtpd.conf (mw_pf_sasl
#      explains why it lives in the instance's config_directory/sasl on Debian)
#   3  bypass.trusted_networks: [127.0.0.0/8] and SIGHUP: unauthenticated, delivered
#      with "(not checked: spf, dmarc; trusted network)"
# Exits 77 without the binary, swaks, postfix or saslpasswd2.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
mw_require_root
bin=$(mw_bin)
if [[ ! -x $bin ]]; then
	echo "SKIP: no mailwarden binary at $bin (set MW_BIN)"
	exit 77
fi
for tool in swaks postfix saslpasswd2; do
	command -v "$tool" >/dev/null || {
		echo "SKIP: $tool not installed (contrib/install-deps.sh)"
		exit 77
	}
done
mw_install_trap
mw_workdir W
mkdir -p "$W/milter" "$W/msgs"
chmod 0755 "$W/milter"

cat >"$W/own.zone" <<'EOF'
$TTL 300
$ORIGIN example.
own TXT "v=spf1 ip4:198.51.100.0/24 -all"
_dmarc.own TXT "v=DMARC1; p=reject"
EOF
chmod 0644 "$W/own.zone"
CONF=$W/milter/mailwarden.yaml
write_config() { # [EXTRA]
	cat >"$CONF" <<EOF
milter:
  socket: "unix:$W/milter/m.sock"
  user: $MW_MILTER_USER
authserv_id: mx.test.example
log:
  target: stderr
  level: info
dns:
  zone_files: ["$W/own.zone"]
spf:
  check_helo: false
dkim:
  enabled: false
arc:
  enabled: false
dmarc:
  mode: enforce
reputation:
  iprev:
    enabled: false
rules:
  directories: []
$1
EOF
	chmod 0644 "$CONF"
}
write_config ""
mw_milter_start "$W/milter" "$CONF"
mw_sink_start "$W/sink" 0
smtp="" # set by mw_free_port
mw_free_port smtp
readarray -t SASL < <(mw_pf_sasl "$W/pf" alice s3cret-pw)
[[ ${#SASL[@]} -gt 0 ]] || { mw_fail "SASL set up (mw_pf_sasl)"; mw_summary; exit 1; }
mw_pf_start "$W/pf" "$smtp" "$MW_SINK_PORT" "unix:$W/milter/m.sock" "${SASL[@]}"

msg() { # NAME
	printf 'From: Alice <alice@own.example>\r\nTo: bob@dest.test.example\r\nSubject: from the road\r\nMessage-ID: <bypass-%s@own.example>\r\n\r\nhello\r\n' "$1" >"$W/msgs/$1.eml"
}
send() { # NAME [SWAKS ARGS...]
	local n=$1
	shift
	msg "$n"
	mw_swaks "$MW_PF_PORT" --from alice@own.example --data "$W/msgs/$n.eml" "$@" >"$W/swaks-$n.log" 2>&1
}
block() { # FILE: our A-R, unfolded
	"$MW_PYTHON" - "$1" <<'PYEOF'
import sys, email
raw = open(sys.argv[1], "rb").read().split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
fields = raw.replace("\r\n\t", " ").replace("\r\n ", " ").split("\r\n")
print("\n".join(f for f in fields if f.lower().startswith("authentication-results: mx.test.example")))
PYEOF
}

# --- 1: a stranger ---------------------------------------------------------------------
rc=0
send stranger || rc=$?
reply=$(grep -m1 '^<\*\*' "$W/swaks-stranger.log" || true)
if [[ $rc -ne 0 && $reply =~ ^\<\*\*\ +550\ 5\.7\.1\ .*own\.example ]]; then
	mw_pass "1 unauthenticated From own.example (p=reject) via 127.0.0.1: ${reply#<\*\* }"
else
	mw_fail "1 unauthenticated: 550 5.7.1" "rc=$rc $(grep -E '^(<-|<\*\*)' "$W/swaks-stranger.log" | tail -n 3 | tr '\n' ' ')"
fi

# --- 2: the same user, authenticated -----------------------------------------------------
delivered=0
check_delivered() { # NAME LABEL WANT...
	local n=$1 label=$2 got ar w missing=""
	shift 2
	delivered=$((delivered + 1))
	if ! mw_wait_for_messages "$W/sink" "$delivered" 20 ||
		! got=$(mw_find_captured "$W/sink" "Message-ID: <bypass-$n@own.example>"); then
		mw_fail "$label: delivered" "$(grep -E '^(<-|<\*\*)' "$W/swaks-$n.log" | tail -n 3 | tr '\n' ' ')"
		return 0
	fi
	ar=$(block "$got")
	for w in "$@"; do
		grep -q -F -e "$w" <<<"$ar" || missing+=" [$w]"
	done
	if [[ -z $missing ]]; then
		mw_pass "$label: $ar"
	else
		mw_fail "$label" "missing$missing in: $ar"
	fi
}
if send authenticated --auth PLAIN --auth-user alice --auth-password s3cret-pw; then
	check_delivered authenticated "2 AUTH PLAIN as alice: delivered" \
		"mx.test.example (not checked: spf, dmarc; authenticated client);" \
		"auth=pass smtp.auth=alice@mx.test.example"
else
	mw_fail "2 AUTH PLAIN as alice: accepted" "$(grep -E '^(<-|<\*\*)' "$W/swaks-authenticated.log" | tail -n 4 | tr '\n' ' ')"
fi
if grep -q -E '^<-  250-AUTH PLAIN LOGIN$' "$W/swaks-authenticated.log"; then
	mw_pass "2 EHLO offers AUTH PLAIN LOGIN (our smtpd.conf, not the system's SASL set-up)"
else
	mw_fail "2 EHLO offers AUTH PLAIN LOGIN" "$(grep -E '^<-  250-AUTH' "$W/swaks-authenticated.log" || echo 'no AUTH line')"
fi
if grep -q 'auth=pass smtp.auth=alice' <<<"$(cat "$W/sink"/* 2>/dev/null | tr -d '\r')" &&
	! grep -q 'spf=' <<<"$(block "$(mw_find_captured "$W/sink" "Message-ID: <bypass-authenticated@own.example>")")"; then
	mw_pass "2 no spf= or dmarc= result for the authenticated message (not asked)"
else
	mw_fail "2 no spf= result for the authenticated message"
fi

# --- 3: a trusted network --------------------------------------------------------------
write_config "bypass:
  trusted_networks: [127.0.0.0/8]"
n=$(grep -c 'configuration reloaded' "$W/milter/milter.log" || true)
kill -HUP "$MW_MILTER_PID"
_reloaded() { (($(grep -c 'configuration reloaded' "$W/milter/milter.log") > n)); }
if mw_wait_until 10 _reloaded; then
	if send trusted; then
		check_delivered trusted "3 trusted_networks 127.0.0.0/8, no AUTH: delivered" \
			"mx.test.example (not checked: spf, dmarc; trusted network);"
	else
		mw_fail "3 trusted network: accepted" "$(grep -E '^(<-|<\*\*)' "$W/swaks-trusted.log" | tail -n 3 | tr '\n' ' ')"
	fi
else
	mw_fail "3 reload with bypass.trusted_networks" "$(tail -n 3 "$W/milter/milter.log")"
fi

mw_pf_stop "$W/pf"
mw_milter_stop "$W/milter"
mw_summary
