#!/usr/bin/env bash
# postfix_relay_test.sh -- the harness itself, with no milter: a private Postfix on
# loopback relays three messages to the capture server, and each arrives byte for
# byte as it was sent, apart from the one Received: header Postfix puts on top.
#
#   sudo tests/integration/postfix_relay_test.sh      # prints "N passed, N failed"
#
# What the comparison strips, and why that is all it may strip:
#   * Exactly one leading header field, named Received, which Postfix's cleanup(8)
#     prepends ("from client.test.example (unknown [127.0.0.1]) by mx.test.example
#     (Postfix) with ESMTP id ..."). It is checked to be Postfix's.
#   * The SMTP transparency dots, on both hops (mw_swaks dot-stuffs, the capture
#     server removes them), so lines beginning with "." arrive as sent.
# Nothing else: the sent files are in wire form (CRLF line ends, ending in CRLF), the
# capture server stores CRLF as received, and no trailing newline is added or taken
# away, so no line-ending normalization is needed. The main.cf keeps Postfix from
# rewriting headers of mail from remote clients (local_header_rewrite_clients =), as
# a real MX does; with Debian's default (permit_inet_interfaces) a loopback client
# would count as local and get its header addresses rewritten and missing Date /
# Message-ID added.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/messages.sh"
mw_require_root
mw_install_trap

TOOL=("$MW_PYTHON" "$MW_INTEG_DIR/mw_msgtool.py")
t_start=$(mw_now_ms)
smtp_port="" # set by mw_free_port
mw_workdir W
MSG=$W/msgs
mkdir -p "$MSG"

# --- the messages (wire form) ---------------------------------------------------

t0=$(mw_now_ms)
mw_make_relay_messages "$MSG"
big_size=$(stat -c %s "$MSG/big.eml")
echo "generated messages: 8bit $(stat -c %s "$MSG/eightbit.eml") B, folded $(stat -c %s "$MSG/folded.eml") B, big $big_size B ($(($(mw_now_ms) - t0)) ms)"

# --- the servers ------------------------------------------------------------------

t0=$(mw_now_ms)
mw_sink_start "$W/sink" 0
mw_free_port smtp_port
mw_pf_start "$W/pf" "$smtp_port" "$MW_SINK_PORT"
echo "started sink and postfix in $(($(mw_now_ms) - t0)) ms"

# --- send -------------------------------------------------------------------------

declare -A MSGID=(
	[eightbit]='<eightbit-1@origin.test.example>'
	[folded]='<folded-2@origin.test.example>'
	[big]='<attachment-20240101-15728640@test.example>'
)
declare -A FROM=(
	[eightbit]=juergen@origin.test.example
	[folded]=sender@origin.test.example
	[big]=big-sender@origin.test.example
)
names=(eightbit folded big)

t0=$(mw_now_ms)
for n in "${names[@]}"; do
	t1=$(mw_now_ms)
	if mw_swaks "$smtp_port" --from "${FROM[$n]}" --to "rcpt-$n@dest.test.example" \
		--data "$MSG/$n.eml" >"$W/swaks-$n.log" 2>&1; then
		mw_pass "send $n (accepted in $(($(mw_now_ms) - t1)) ms)"
	else
		mw_fail "send $n" "swaks exit $?; $(tail -n 3 "$W/swaks-$n.log" | tr '\n' ' ')"
	fi
done

if mw_wait_for_messages "$W/sink" "${#names[@]}" 60; then
	mw_pass "all ${#names[@]} messages relayed to the capture server ($(($(mw_now_ms) - t0)) ms from first send)"
else
	mw_fail "relay" "$(mw_count_messages "$W/sink") of ${#names[@]} captured; maillog tail: $(tail -n 5 "$W/pf/maillog")"
fi

# --- compare ----------------------------------------------------------------------

for n in "${names[@]}"; do
	if ! got=$(mw_find_captured "$W/sink" "Message-ID: ${MSGID[$n]}"); then
		mw_fail "content $n" "not captured"
		continue
	fi
	if out=$("${TOOL[@]}" compare "$MSG/$n.eml" "$got" --prepended Received --expect-prepended 1); then
		if grep -q 'by mx.test.example (Postfix) with ESMTP id' <<<"$out"; then
			mw_pass "content $n byte for byte ($(stat -c %s "$MSG/$n.eml") B, one Postfix Received: stripped)"
		else
			mw_fail "content $n" "the stripped Received: is not Postfix's: $out"
		fi
	else
		mw_fail "content $n" "$out"
	fi
	printf '%s\n' "$out" | sed "s/^/  [$n] /"
	env_file=${got%.eml}.env
	want_env="\"mail_from\": \"${FROM[$n]}\""
	want_rcpt="\"rcpt_to\": [\"rcpt-$n@dest.test.example\"]"
	if grep -q -F "$want_env" "$env_file" && grep -q -F "$want_rcpt" "$env_file"; then
		mw_pass "envelope $n"
	else
		mw_fail "envelope $n" "$(cat "$env_file")"
	fi
done

# Postfix itself should have had nothing to complain about.
if grep -E '(warning|error|fatal|panic):' "$W/pf/maillog" >"$W/pf-problems.txt"; then
	mw_fail "maillog clean" "$(head -n 5 "$W/pf-problems.txt")"
else
	mw_pass "maillog has no warning/error/fatal/panic"
fi
if [[ $(mw_pf_queue_count "$W/pf") -eq 0 ]]; then
	mw_pass "queue empty"
else
	mw_fail "queue empty" "$(postqueue -c "$W/pf/etc" -p | tail -n 5)"
fi

# --- stop, and check that stopping leaves nothing behind ----------------------------

t0=$(mw_now_ms)
master_pid=$MW_PF_MASTER_PID
sink_pid=$MW_SINK_PID
mw_pf_stop "$W/pf"
mw_sink_stop "$W/sink"
left=$(mw_pf_leftovers "$W/pf")
if [[ -z $left ]] && ! mw_pid_alive "$master_pid" && ! mw_pid_alive "$sink_pid" &&
	! mw_port_open "$smtp_port" && ! mw_port_open "$MW_SINK_PORT"; then
	mw_pass "stop: master $master_pid, its daemons and sink $sink_pid gone, ports closed ($(($(mw_now_ms) - t0)) ms)"
else
	mw_fail "stop" "left in queue dir: '${left}'; ports $smtp_port/$MW_SINK_PORT"
fi

echo "total $(($(mw_now_ms) - t_start)) ms"
mw_summary
