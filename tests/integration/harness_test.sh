#!/usr/bin/env bash
# harness_test.sh -- the parts of lib.sh that postfix_relay_test.sh does not use:
#   * deferral and retry: the capture server tempfails, Postfix queues the message,
#     mw_pf_flush makes it retry once the sink accepts again;
#   * mw_milter_start / mw_milter_stop, with mw_fake_milter.py standing in for
#     mailwarden (it listens but never speaks the milter protocol), which also shows
#     milter_default_action = tempfail at work: Postfix answers 4xx, nothing is lost;
#   * the same with an inet:PORT@127.0.0.1 socket (Postfix spells it inet:127.0.0.1:PORT);
#   * mw_milter_start failing cleanly when the milter exits before listening.
#
#   sudo tests/integration/harness_test.sh      # prints "N passed, N failed"
set -euo pipefail

. "$(dirname "$0")/lib.sh"
mw_require_root
mw_install_trap

t_start=$(mw_now_ms)
smtp_port="" smtp2="" smtp3="" milter_port="" # set by mw_free_port
mw_workdir W
MSG=$W/msgs
mkdir -p "$MSG"
printf 'From: sender@origin.test.example\nTo: rcpt@dest.test.example\nSubject: retry\nMessage-ID: <retry-1@origin.test.example>\n\nretry me\n' >"$MSG/retry.lf"
"$MW_PYTHON" "$MW_INTEG_DIR/mw_msgtool.py" crlf "$MSG/retry.lf" "$MSG/retry.eml"

mw_sink_start "$W/sink" 0
mw_free_port smtp_port
mw_pf_start "$W/pf" "$smtp_port" "$MW_SINK_PORT"

# --- deferral and retry ----------------------------------------------------------
mw_sink_mode "$W/sink" tempfail
if mw_swaks "$smtp_port" --data "$MSG/retry.eml" >"$W/swaks-retry.log" 2>&1; then
	mw_pass "retry: Postfix accepted the message"
else
	mw_fail "retry: Postfix accepted the message" "$(tail -n 3 "$W/swaks-retry.log")"
fi
if mw_pf_wait_log "$W/pf" 'status=deferred .*told to tempfail' 20; then
	mw_pass "retry: deferred on the sink's 451"
else
	mw_fail "retry: deferred on the sink's 451"
fi
if [[ $(mw_pf_queue_count "$W/pf") -eq 1 ]]; then
	mw_pass "retry: one message queued"
else
	mw_fail "retry: one message queued" "queue has $(mw_pf_queue_count "$W/pf")"
fi
mw_sink_mode "$W/sink" accept
t0=$(mw_now_ms)
mw_pf_flush "$W/pf"
if mw_wait_for_messages "$W/sink" 1 20 && mw_find_captured "$W/sink" '<retry-1@origin.test.example>' >/dev/null; then
	mw_pass "retry: delivered after mw_pf_flush ($(($(mw_now_ms) - t0)) ms)"
else
	mw_fail "retry: delivered after mw_pf_flush"
fi
mw_pf_stop "$W/pf"

# --- milter: unix socket, fake milter that hangs up -> tempfail ----------------------
export MW_BIN=$MW_INTEG_DIR/mw_fake_milter.py
sock=$W/milter/milter.sock
mkdir -p "$W/milter"
mw_milter_config "$W/milter/mailwarden.yaml" "unix:$sock"
if mw_milter_start "$W/milter" "$W/milter/mailwarden.yaml"; then
	mw_pass "milter start (unix socket, mode $(stat -c %a "$sock"))"
else
	mw_fail "milter start (unix socket)"
fi
mw_free_port smtp2
mw_pf_start "$W/pf2" "$smtp2" "$MW_SINK_PORT" "unix:$sock"
if [[ $(postconf -c "$W/pf2/etc" -h smtpd_milters) == "unix:$sock" ]]; then
	mw_pass "smtpd_milters = unix:$sock"
else
	mw_fail "smtpd_milters" "$(postconf -c "$W/pf2/etc" smtpd_milters)"
fi
before=$(mw_count_messages "$W/sink")
rc=0
mw_swaks "$smtp2" --data "$MSG/retry.eml" >"$W/swaks-milter.log" 2>&1 || rc=$?
if [[ $rc -ne 0 ]] && grep -q '^<\*\* *4[0-9][0-9] ' "$W/swaks-milter.log"; then
	mw_pass "broken milter -> 4xx ($(grep -m1 '^<\*\* *4' "$W/swaks-milter.log" | tr -s ' '))"
else
	mw_fail "broken milter -> 4xx" "swaks rc=$rc: $(tail -n 4 "$W/swaks-milter.log")"
fi
sleep 1
if [[ $(mw_count_messages "$W/sink") -eq $before && $(mw_pf_queue_count "$W/pf2") -eq 0 ]]; then
	mw_pass "broken milter -> nothing queued or relayed"
else
	mw_fail "broken milter -> nothing queued or relayed"
fi
milter_pid=$MW_MILTER_PID
mw_milter_stop "$W/milter"
if ! mw_pid_alive "$milter_pid"; then
	mw_pass "milter stop (pid $milter_pid gone)"
else
	mw_fail "milter stop" "pid $milter_pid still alive"
fi
mw_pf_stop "$W/pf2"

# --- milter: inet socket in libmilter form ------------------------------------------
mw_free_port milter_port
mw_milter_config "$W/milter/inet.yaml" "inet:$milter_port@127.0.0.1"
mw_milter_start "$W/milter" "$W/milter/inet.yaml"
mw_free_port smtp3
mw_pf_start "$W/pf3" "$smtp3" "$MW_SINK_PORT" "inet:$milter_port@127.0.0.1"
if [[ $(postconf -c "$W/pf3/etc" -h smtpd_milters) == "inet:127.0.0.1:$milter_port" ]] &&
	mw_port_open "$milter_port"; then
	mw_pass "inet milter: listening, smtpd_milters = inet:127.0.0.1:$milter_port"
else
	mw_fail "inet milter" "$(postconf -c "$W/pf3/etc" smtpd_milters)"
fi
rc=0
mw_swaks "$smtp3" --data "$MSG/retry.eml" >"$W/swaks-inet.log" 2>&1 || rc=$?
if [[ $rc -ne 0 ]] && grep -q '^<\*\* *4[0-9][0-9] ' "$W/swaks-inet.log"; then
	mw_pass "broken inet milter -> 4xx"
else
	mw_fail "broken inet milter -> 4xx" "swaks rc=$rc"
fi
mw_milter_stop "$W/milter"
mw_pf_stop "$W/pf3"

# --- milter that exits before listening ----------------------------------------------
rc=0
MW_FAKE_MILTER_MODE="exit" mw_milter_start "$W/milter-bad" "$W/milter/mailwarden.yaml" 2>"$W/milter-bad.err" || rc=$?
if [[ $rc -ne 0 ]] && grep -q 'told to fail' "$W/milter-bad.err"; then
	mw_pass "mw_milter_start fails and shows the log when the milter exits"
else
	mw_fail "mw_milter_start with a failing milter" "rc=$rc $(cat "$W/milter-bad.err")"
fi

echo "total $(($(mw_now_ms) - t_start)) ms"
mw_summary
