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
mw_require_root
mw_install_trap

TOOL=("$MW_PYTHON" "$MW_INTEG_DIR/mw_msgtool.py")
t_start=$(mw_now_ms)
smtp_port="" # set by mw_free_port
mw_workdir W
MSG=$W/msgs
mkdir -p "$MSG"

# --- the messages (wire form) ---------------------------------------------------

# 1. 8-bit: raw UTF-8 and Latin-1 bytes in a header and in the body, lines that begin
#    with "." (dot-stuffing), a "From " line, trailing white space, and text swaks
#    would rewrite without --no-data-fixup (a literal backslash-n, %DATE%).
{
	printf 'From: =?UTF-8?Q?J=C3=BCrgen?= <juergen@origin.test.example>\n'
	printf 'To: rcpt@dest.test.example\n'
	printf 'Subject: 8bit body \xc3\xa4\xc3\xb6\xc3\xbc\n'
	printf 'X-Raw-Latin1: caf\xe9\n'
	printf 'Date: Mon, 01 Jan 2024 00:00:00 +0000\n'
	printf 'Message-ID: <eightbit-1@origin.test.example>\n'
	printf 'MIME-Version: 1.0\n'
	printf 'Content-Type: text/plain; charset=utf-8\n'
	printf 'Content-Transfer-Encoding: 8bit\n'
	printf '\n'
	printf 'Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln \xe2\x80\x94 \xf0\x9f\x93\xa8\n'
	printf 'Latin-1, not UTF-8: \xe9\xe8\xff\xa0end\n'
	printf '.a line that starts with a dot\n'
	printf '..two dots\n'
	printf '.\x20\n'
	printf 'From the desk of someone (an mbox From_ line)\n'
	printf 'trailing spaces   \n'
	printf 'trailing tab\t\n'
	printf 'literal backslash-n: \\n and a token: %%DATE%% %%FROM_ADDRESS%%\n'
	printf '\n'
	printf '\n'
	printf 'two empty lines above, the last line has 998 octets:\n'
	printf '%0998d\n' 0
} >"$MSG/eightbit.lf"
"${TOOL[@]}" crlf "$MSG/eightbit.lf" "$MSG/eightbit.eml"

# 2. Long folded headers: a Subject folded three times, a 100-id References header
#    (about 5 KB, one id per line), tab continuations, a 990-octet unfolded line, an
#    empty value and a value with no space after the colon.
{
	printf 'From: sender@origin.test.example\n'
	printf 'To: rcpt@dest.test.example\n'
	printf 'Subject: a subject that is long enough that the sending client folded it\n'
	printf ' over several lines, once with a space,\n'
	printf '\tonce with a tab,\n'
	printf '   and once with three spaces\n'
	printf 'Date: Mon, 01 Jan 2024 00:00:01 +0000\n'
	printf 'Message-ID: <folded-2@origin.test.example>\n'
	printf 'References:'
	for i in $(seq 1 100); do
		printf ' <ref-%03d.%s@origin.test.example>\n' "$i" "abcdefghijklmnopqrstuvwxyz"
	done
	printf 'X-Long-Unfolded: %s\n' "$(printf 'x%.0s' $(seq 1 973))"
	printf 'X-Empty:\n'
	printf 'X-NoSpace:value\n'
	printf 'X-Tabbed:\tvalue after a tab\n'
	printf '\tcontinued with a tab\n'
	printf '\n'
	printf 'Body of the folded-header message.\n'
} >"$MSG/folded.lf"
"${TOOL[@]}" crlf "$MSG/folded.lf" "$MSG/folded.eml"

# 3. About 20 MB: 15 MiB of pseudo-random bytes (fixed seed, so every run sends the
#    same message) as a base64 attachment.
t0=$(mw_now_ms)
"${TOOL[@]}" attachment "$MSG/big.eml" --seed 20240101 --bytes $((15 * 1024 * 1024)) \
	--subject "20 MB attachment"
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
