#!/usr/bin/env bash
# postfix_milter_test.sh -- mailwarden as the milter of a private Postfix: a message
# goes through and arrives unchanged apart from the header fields Postfix and
# mailwarden add (Received and Authentication-Results on top, X-Mailwarden-* and
# X-Spam-* appended), and it carries an Authentication-Results for our authserv-id.
# Run once over a unix socket and once over inet.
#
#   sudo MW_BIN=/path/to/mailwarden tests/integration/postfix_milter_test.sh
#
# Exits 77 (automake's SKIP) when the mailwarden binary does not exist.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
mw_require_root
bin=$(mw_bin)
if [[ ! -x $bin ]]; then
	echo "SKIP: no mailwarden binary at $bin (set MW_BIN)"
	exit 77
fi
mw_install_trap

AUTHSERV=mx.test.example
milter_port="" # set by mw_free_port
mw_workdir W
MSG=$W/msgs
mkdir -p "$MSG"
cat >"$MSG/plain.lf" <<'EOF'
From: sender@origin.test.example
To: rcpt@dest.test.example
Subject: through the milter
Date: Mon, 01 Jan 2024 00:00:00 +0000
Message-ID: <milter-1@origin.test.example>

A plain message for the milter.
.a line starting with a dot
EOF
"$MW_PYTHON" "$MW_INTEG_DIR/mw_msgtool.py" crlf "$MSG/plain.lf" "$MSG/plain.eml"

mw_sink_start "$W/sink" 0

run_case() {
	local name=$1 socket=$2 smtp="" before got out
	mw_milter_config "$W/$name.yaml" "$socket" "$AUTHSERV"
	if ! mw_milter_start "$W/milter-$name" "$W/$name.yaml"; then
		mw_fail "$name: mailwarden starts"
		return 0
	fi
	mw_pass "$name: mailwarden starts on $socket"
	mw_free_port smtp
	mw_pf_start "$W/pf-$name" "$smtp" "$MW_SINK_PORT" "$socket"
	before=$(mw_count_messages "$W/sink")
	if mw_swaks "$smtp" --data "$MSG/plain.eml" >"$W/swaks-$name.log" 2>&1; then
		mw_pass "$name: accepted"
	else
		mw_fail "$name: accepted" "$(grep '^<\*\*' "$W/swaks-$name.log" || tail -n 3 "$W/swaks-$name.log")"
		mw_pf_stop "$W/pf-$name"
		mw_milter_stop "$W/milter-$name"
		return 0
	fi
	if mw_wait_for_messages "$W/sink" $((before + 1)) 30; then
		mw_pass "$name: relayed"
	else
		mw_fail "$name: relayed" "$(tail -n 5 "$W/pf-$name/maillog")"
		return 0
	fi
	local -a all=("$W/sink"/*.eml)
	got=${all[-1]}
	if grep -q -i "^Authentication-Results: $AUTHSERV" "$got"; then
		mw_pass "$name: Authentication-Results for $AUTHSERV"
	else
		mw_fail "$name: Authentication-Results for $AUTHSERV" "$(sed -n '1,/^\r$/p' "$got")"
	fi
	if out=$("$MW_PYTHON" "$MW_INTEG_DIR/mw_msgtool.py" compare "$MSG/plain.eml" "$got" \
		--prepended Received --prepended Authentication-Results \
		--added X-Mailwarden-Verdict --added X-Mailwarden-Score --added X-Mailwarden-Rules \
		--added X-Spam-Flag --added X-Spam-Status); then
		mw_pass "$name: rest of the message unchanged"
	else
		mw_fail "$name: rest of the message unchanged" "$out"
	fi
	printf '%s\n' "$out" | sed "s/^/  [$name] /"
	mw_pf_stop "$W/pf-$name"
	mw_milter_stop "$W/milter-$name"
}

run_case unix "unix:$W/milter-unix/mailwarden.sock"
mw_free_port milter_port
run_case inet "inet:$milter_port@127.0.0.1"

mw_summary
