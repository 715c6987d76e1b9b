#!/usr/bin/env bash
# postfix_milter_test.sh -- mailwarden as the milter of a private Postfix on loopback.
#
#   sudo MW_BIN=/path/to/mailwarden tests/integration/postfix_milter_test.sh
#
# Exits 77 (automake's SKIP) when the mailwarden binary does not exist. Prints PASS /
# FAIL lines and "N passed, N failed" last; exits non-zero on any failure.
#
# What mailwarden is known to do (README, doc/ARCHITECTURE.md, src/verdict/verdict.cpp):
# at end of message it removes incoming Authentication-Results that claim our
# authserv-id and incoming X-Mailwarden-* fields, then inserts at index 0, so that the
# delivered message begins with
#
#     Authentication-Results: <authserv_id>; none
#     X-Mailwarden-Verdict: accept
#     X-Mailwarden-Score: 0.00
#     X-Mailwarden-Rules: none
#     Received: ... by mx.test.example (Postfix) ...     <- Postfix's own, below ours
#     <the message as sent, minus the removed fields>
#
# Sections (numbers as in the checks' names):
#   1+2  three messages (8-bit body, long folded headers, ~20 MB attachment; the same
#        as postfix_relay_test.sh): the block above, byte for byte, then Postfix's
#        Received:, then the message exactly as sent.
#   3    forged Authentication-Results for our authserv-id (plain, other case with
#        comments and a version, folded) and X-Mailwarden-* impostors are removed;
#        foreign Authentication-Results stay; the rest arrives byte for byte.
#   4    `mailwarden check` with the same configuration and envelope prints, up to its
#        first empty line, exactly the block the milter put on the delivered copy: for
#        every message sent one by one, and one stream message per authserv-id.
#   5    SIGTERM with a message in the middle of DATA: it drains (the client gets 250 and
#        the message is delivered with its block); mailwarden gone: the client gets
#        451 4.7.1 and nothing is queued; mailwarden started again, the client sends
#        again: delivered once. Also: the next hop tempfails, Postfix queues the
#        milter-processed message and delivers it later with one block (the milter
#        runs once, at SMTP time).
#   6    500 messages (smtp-source, 5 sessions) while mailwarden gets SIGHUP every
#        100 ms and authserv_id changes once mid-stream: 500 delivered, each with one
#        Authentication-Results naming the old or the new id, nothing deferred or
#        rejected, mailwarden still running, reloads logged.
#   7    an invalid configuration on SIGHUP (bad YAML; valid YAML with a bad value):
#        "reload rejected", mailwarden keeps running, the next message is stamped with
#        the running authserv-id.
#   8    the same through an inet:PORT@127.0.0.1 socket (one message), and clean stop.
#
# Note on section 5: Postfix connects to the milter when the SMTP session starts; if
# that fails, milter_default_action = tempfail makes smtpd answer every command with
# 451 4.7.1, so the client sees the 4xx at MAIL FROM, not at end of DATA. The check
# accepts a 4xx at any command up to end of DATA and says where it came.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/messages.sh"
mw_require_root
bin=$(mw_bin)
if [[ ! -x $bin ]]; then
	echo "SKIP: no mailwarden binary at $bin (set MW_BIN)"
	exit 77
fi
for tool in swaks smtp-source postfix; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool not installed"
		exit 77
	fi
done
mw_install_trap

t_start=$(mw_now_ms)
AUTHSERV=mx.test.example
AUTHSERV_NEW=new.test.example
TOOL=("$MW_PYTHON" "$MW_INTEG_DIR/mw_msgtool.py")
smtp_port="" smtp_inet="" milter_port="" # set by mw_free_port
mw_workdir W
MSG=$W/msgs
mkdir -p "$MSG" "$W/check"
VERIFY=("$MW_PYTHON" "$W/verify.py")

# --- verify.py: the comparisons ---------------------------------------------------
cat >"$W/verify.py" <<'PYEOF'
"""Checks on captured messages (stdlib only). Every subcommand exits 0 on success, 1
with a reason on stdout otherwise.

  block FILE ID...           FILE begins with mailwarden's four fields for one of the
                             IDs (exact bytes), directly followed by a Received: field.
                             Prints the ID.
  rest FILE EXPECTED RCPT    after the fields above FILE the one Received: field is
                             Postfix's (for <RCPT>), and the remainder is EXPECTED.
  checkout CHECK_OUT FILE    `mailwarden check` output up to its first empty line equals
                             the fields above FILE's first Received: (CRLF -> LF).
  original FILE OUT          writes FILE minus the fields above the first Received: and
                             that Received: (the message as the client sent it).
  stream DIR FROM ID...      every captured message with envelope sender FROM: exactly
                             one Authentication-Results in the header, the four-field
                             block for one of the IDs on top. Prints the count per ID.
"""
import glob
import json
import os
import re
import sys

NAMES = [b"authentication-results", b"x-mailwarden-verdict", b"x-mailwarden-score",
         b"x-mailwarden-rules"]


def fields(data):
    out, pos = [], 0
    while pos < len(data):
        end = data.find(b"\r\n", pos)
        if end < 0 or end == pos:
            break
        le = end + 2
        while data[le:le + 1] in (b" ", b"\t"):
            nxt = data.find(b"\r\n", le)
            if nxt < 0:
                break
            le = nxt + 2
        out.append(data[pos:le])
        pos = le
    return out


def name(raw):
    return raw.split(b":", 1)[0].strip().lower()


def above_received(fs):
    blk = []
    for f in fs:
        if name(f) == b"received":
            break
        blk.append(f)
    return blk


def expected(authserv):
    return [b"Authentication-Results: " + authserv + b"; none\r\n",
            b"X-Mailwarden-Verdict: accept\r\n",
            b"X-Mailwarden-Score: 0.00\r\n",
            b"X-Mailwarden-Rules: none\r\n"]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def block_problem(fs, ids):
    """(id, None) if fs starts with the block for one of ids + Received, else (None, why)."""
    for i in ids:
        if fs[:4] == expected(i):
            if len(fs) < 5 or name(fs[4]) != b"received":
                return None, "block not followed by Received: %r" % (fs[4:5],)
            return i.decode(), None
    return None, "top fields: %r" % (fs[:5],)


def cmd_block(path, *ids):
    got, why = block_problem(fields(read(path)), [i.encode() for i in ids])
    print(got if got else why)
    return 0 if got else 1


def cmd_rest(path, exp_path, rcpt):
    data, want = read(path), read(exp_path)
    fs = fields(data)
    blk = above_received(fs)
    if len(blk) == len(fs):
        print("no Received: field")
        return 1
    rec = fs[len(blk)]
    pat = (rb"Received: from client\.test\.example \(unknown \[127\.0\.0\.1\]\)\r\n"
           rb"\tby mx\.test\.example \(Postfix\) with ESMTP id [0-9A-F]+\r\n"
           rb"\tfor <" + re.escape(rcpt.encode()) + rb">; [^\r\n]+\r\n")
    if not re.fullmatch(pat, rec):
        print("Received: is not Postfix's: %r" % rec)
        return 1
    off = sum(len(f) for f in blk) + len(rec)
    rest = data[off:]
    if rest != want:
        d = next((i for i, (a, b) in enumerate(zip(rest, want)) if a != b),
                 min(len(rest), len(want)))
        print("differs at byte %d (got %d bytes, want %d): got %r want %r"
              % (d, len(rest), len(want), rest[max(0, d - 40):d + 40],
                 want[max(0, d - 40):d + 40]))
        return 1
    print("identical: %d bytes below %d bytes of %d added field(s)" % (len(want), off, len(blk) + 1))
    return 0


def cmd_checkout(out_path, path):
    out = read(out_path).replace(b"\r\n", b"\n")
    cut = out.find(b"\n\n")
    if cut < 0:
        print("check output has no empty line: %r" % out[:300])
        return 1
    printed = out[:cut + 1]
    milter = b"".join(above_received(fields(read(path)))).replace(b"\r\n", b"\n")
    if printed != milter:
        print("check printed %r, the milter added %r" % (printed, milter))
        return 1
    print("%d bytes, %d line(s)" % (len(printed), printed.count(b"\n")))
    return 0


def cmd_original(path, out_path):
    data = read(path)
    fs = fields(data)
    blk = above_received(fs)
    off = sum(len(f) for f in blk) + len(fs[len(blk)])
    with open(out_path, "wb") as f:
        f.write(data[off:])
    return 0


def cmd_stream(d, sender, *ids):
    ids_b = [i.encode() for i in ids]
    counts = {i: 0 for i in ids}
    problems, total, first = [], 0, {}
    for env_path in sorted(glob.glob(os.path.join(d, "*.env"))):
        with open(env_path) as f:
            env = json.load(f)
        if env.get("mail_from") != sender:
            continue
        total += 1
        eml = env_path[:-4] + ".eml"
        fs = fields(read(eml))
        ars = [f for f in fs if name(f) == b"authentication-results"]
        got, why = block_problem(fs, ids_b)
        if len(ars) != 1:
            problems.append("%s: %d Authentication-Results" % (eml, len(ars)))
        elif not got:
            problems.append("%s: %s" % (eml, why))
        else:
            counts[got] += 1
            first.setdefault(got, eml)
    print(json.dumps({"total": total, "per_id": counts, "sample": first,
                      "problems": problems[:5], "n_problems": len(problems)}))
    return 0 if not problems else 1


CMDS = {"block": cmd_block, "rest": cmd_rest, "checkout": cmd_checkout,
        "original": cmd_original, "stream": cmd_stream}
sys.exit(CMDS[sys.argv[1]](*sys.argv[2:]))
PYEOF

# --- the messages (wire form) -----------------------------------------------------
# 1-3: the same three messages as postfix_relay_test.sh (keep them in step).

t0=$(mw_now_ms)
mw_make_relay_messages "$MSG"

# 3. Forged results. Lines marked "-" must be removed by mailwarden, the rest kept.
#    The foreign ones include one whose *value* mentions our id (not as authserv-id).
forged_lines=(
	"-Authentication-Results: mx.test.example; spf=pass smtp.mailfrom=origin.test.example"
	"+From: forger@origin.test.example"
	"+To: rcpt@dest.test.example"
	"+Authentication-Results: other.example; dkim=pass header.d=origin.test.example"
	"+Subject: forged results"
	"-X-Mailwarden-Verdict: accept"
	"-Authentication-Results: (forged again) MX.Test.EXAMPLE (with a version) 1; spf=pass"
	"+Authentication-Results: other.example (mentions mx.test.example); dkim=pass header.d=mx.test.example"
	"-x-mailwarden-score: -100.00"
	"-Authentication-Results: mx.test.example;"
	"-	spf=pass smtp.mailfrom=origin.test.example (folded)"
	"+Date: Mon, 01 Jan 2024 00:00:03 +0000"
	"+Message-ID: <forged-3@origin.test.example>"
	"+"
	"+The header of this message claims results from mx.test.example."
)
: >"$MSG/forged.lf"
: >"$MSG/forged-expected.lf"
for l in "${forged_lines[@]}"; do
	printf '%s\n' "${l:1}" >>"$MSG/forged.lf"
	[[ ${l:0:1} == + ]] && printf '%s\n' "${l:1}" >>"$MSG/forged-expected.lf"
done

# 5, 7, 8: small messages.
mkmsg() { # NAME MESSAGE-ID SUBJECT
	printf 'From: sender@origin.test.example\nTo: rcpt@dest.test.example\nSubject: %s\nDate: Mon, 01 Jan 2024 00:00:05 +0000\nMessage-ID: <%s>\n\n%s\n.a dotted line\n' \
		"$3" "$2" "$3" >"$MSG/$1.lf"
}
mkmsg retry retry-5@origin.test.example "sent while mailwarden is down, then again"
mkmsg queued queued-5@origin.test.example "held in Postfix's queue after the milter"
mkmsg afterbad afterbad-7@origin.test.example "after a rejected reload"
mkmsg inet inet-8@origin.test.example "through an inet milter socket"

for n in forged forged-expected retry queued afterbad inet; do
	"${TOOL[@]}" crlf "$MSG/$n.lf" "$MSG/$n.eml"
done
echo "generated messages ($(($(mw_now_ms) - t0)) ms); big is $(stat -c %s "$MSG/big.eml") B"

for n in eightbit folded retry queued afterbad inet big; do
	cp "$MSG/$n.eml" "$MSG/$n-expected.eml"
done

declare -A MSGID=(
	[eightbit]='<eightbit-1@origin.test.example>'
	[folded]='<folded-2@origin.test.example>'
	[big]='<attachment-20240101-15728640@test.example>'
	[forged]='<forged-3@origin.test.example>'
	[retry]='<retry-5@origin.test.example>'
	[queued]='<queued-5@origin.test.example>'
	[afterbad]='<afterbad-7@origin.test.example>'
	[inet]='<inet-8@origin.test.example>'
)
declare -A FROM=(
	[eightbit]=juergen@origin.test.example
	[folded]=sender@origin.test.example
	[big]=big-sender@origin.test.example
	[forged]=forger@origin.test.example
	[retry]=sender@origin.test.example
	[queued]=sender@origin.test.example
	[afterbad]=sender@origin.test.example
	[inet]=sender@origin.test.example
)

# --- mailwarden's configuration ----------------------------------------------------
# write_config FILE AUTHSERV: the test configuration (lib.sh's mw_milter_config plus a
# short drain_timeout, see section 5), written to a temporary name and renamed, so a
# SIGHUP never reads a half-written file. No authentication method and no rules: the
# block above is exactly "none" (DKIM would add dkim=none, rules from /etc a score);
# they have their own tests.
DRAIN_SECONDS=4
write_config() {
	cat >"$1.tmp" <<-YAML
		milter:
		  socket: "$MILTER_SOCKET"
		  user: $MW_MILTER_USER
		  drain_timeout: $DRAIN_SECONDS
		authserv_id: $2
		log:
		  target: stderr
		  level: info
		spf:
		  enabled: false
		dkim:
		  enabled: false
		dmarc:
		  enabled: false
		arc:
		  enabled: false
		reputation:
		  iprev:
		    enabled: false
		rules:
		  directories: []
	YAML
	mv -f "$1.tmp" "$1"
}
# write_raw FILE: stdin becomes FILE, atomically.
write_raw() {
	cat >"$1.tmp"
	mv -f "$1.tmp" "$1"
}
MDIR=$W/milter
CONF=$MDIR/mailwarden.yaml
MILTER_SOCKET=unix:$MDIR/m.sock
mkdir -p "$MDIR"
write_config "$CONF" "$AUTHSERV"
cp "$CONF" "$W/check/conf-$AUTHSERV.yaml" # for `mailwarden check`
MLOG=$MDIR/milter.log

# --- start ------------------------------------------------------------------------
t0=$(mw_now_ms)
mw_sink_start "$W/sink" 0
mw_milter_start "$MDIR" "$CONF"
mw_free_port smtp_port
mw_pf_start "$W/pf" "$smtp_port" "$MW_SINK_PORT" "$MILTER_SOCKET"
PFLOG=$W/pf/maillog
echo "started sink, mailwarden and postfix in $(($(mw_now_ms) - t0)) ms"

delivered=0 # messages the sink should hold by now

# send NAME [swaks options]: sends MSG/NAME.eml; 0 if Postfix accepted it.
send() {
	local n=$1
	shift
	mw_swaks "$smtp_port" --from "${FROM[$n]}" --to "rcpt-$n@dest.test.example" \
		--data "$MSG/$n.eml" "$@" >"$W/swaks-$n.log" 2>&1
}

# verify NAME CONF AUTHSERV [LABEL]: the captured copy of NAME carries the block for
# AUTHSERV (1), Postfix's Received and the expected original (2), and `mailwarden
# check -c CONF` prints the same block (4).
verify() {
	local n=$1 conf=$2 id=$3 label=${4:-$1} got out
	if ! got=$(mw_find_captured "$W/sink" "Message-ID: ${MSGID[$n]}"); then
		mw_fail "$label: captured once" "$(grep -l -F -e "${MSGID[$n]}" "$W"/sink/*.eml 2>/dev/null | wc -l) copies"
		return 0
	fi
	if out=$("${VERIFY[@]}" block "$got" "$id"); then
		mw_pass "1 $label: the four mailwarden fields on top, in order, CRLF, for $id"
	else
		mw_fail "1 $label: the four mailwarden fields on top" "$out"
	fi
	if out=$("${VERIFY[@]}" rest "$got" "$MSG/$n-expected.eml" "rcpt-$n@dest.test.example"); then
		mw_pass "2 $label: Postfix's Received, then the message byte for byte ($out)"
	else
		mw_fail "2 $label: Postfix's Received, then the message byte for byte" "$out"
	fi
	local rc=0
	"$bin" check -c "$conf" --client-ip 127.0.0.1 --client-name unknown \
		--helo client.test.example --mail-from "${FROM[$n]}" --rcpt "rcpt-$n@dest.test.example" \
		"$MSG/$n.eml" >"$W/check/$n.out" 2>"$W/check/$n.err" || rc=$?
	if [[ $rc -ne 0 ]]; then
		mw_fail "4 $label: mailwarden check" "exit $rc: $(head -c 300 "$W/check/$n.err")"
	elif out=$("${VERIFY[@]}" checkout "$W/check/$n.out" "$got"); then
		mw_pass "4 $label: mailwarden check prints the block the milter added ($out)"
	else
		mw_fail "4 $label: mailwarden check prints the block the milter added" "$out"
	fi
}

# --- 1, 2, 3, 4: content ------------------------------------------------------------
for n in eightbit folded big forged; do
	t1=$(mw_now_ms)
	if send "$n"; then
		delivered=$((delivered + 1))
		echo "sent $n, accepted in $(($(mw_now_ms) - t1)) ms"
	else
		mw_fail "send $n" "$(grep '^<\*\*' "$W/swaks-$n.log" || tail -n 3 "$W/swaks-$n.log")"
	fi
done
if mw_wait_for_messages "$W/sink" "$delivered" 60; then
	for n in eightbit folded big; do
		verify "$n" "$W/check/conf-$AUTHSERV.yaml" "$AUTHSERV"
	done
	verify forged "$W/check/conf-$AUTHSERV.yaml" "$AUTHSERV" "3 forged"
	got=$(mw_find_captured "$W/sink" "Message-ID: ${MSGID[forged]}") || got=/dev/null
	hdr=$(sed -n '1,/^\r$/p' "$got" | tr -d '\r')
	n_ours=$(grep -c -i '^Authentication-Results: *\((.*) *\)\?mx\.test\.example\b' <<<"$hdr" || true)
	n_foreign=$(grep -c '^Authentication-Results: other\.example' <<<"$hdr" || true)
	n_mw=$(grep -c -i '^X-Mailwarden-' <<<"$hdr" || true)
	if [[ $n_ours -eq 1 && $n_foreign -eq 2 && $n_mw -eq 3 ]]; then
		mw_pass "3 forged: 3 forged A-R and 2 X-Mailwarden-* impostors gone, 2 foreign A-R kept, ours once"
	else
		mw_fail "3 forged" "A-R for $AUTHSERV: $n_ours (want 1), foreign: $n_foreign (want 2), X-Mailwarden-*: $n_mw (want 3)"
	fi
else
	mw_fail "1-4: relay" "$(mw_count_messages "$W/sink") of $delivered captured; $(tail -n 5 "$PFLOG")"
fi

# --- 5: mailwarden down -> 4xx, nothing lost; back up -> the client's retry delivered once
# SIGTERM arrives while a client is in the middle of DATA (its MAIL FROM and header
# already went to mailwarden). mailwarden finishes messages in flight before it lets
# libmilter stop (doc/ARCHITECTURE.md, Signals), so the client gets 250 for its final
# dot and the message is delivered with mailwarden's block.
cat >"$W/slow_client.py" <<'PYEOF'
"""slow_client.py PORT MSGFILE READY GO: one SMTP transaction that stops in the middle
of DATA: creates READY, waits (<= 20 s) for GO to exist, sends the rest and the final
dot, and prints the reply to it, or TIMEOUT after 8 s."""
import os, socket, sys, time
port, msg, ready, go = int(sys.argv[1]), open(sys.argv[2], "rb").read(), sys.argv[3], sys.argv[4]
s = socket.create_connection(("127.0.0.1", port), timeout=30)
f = s.makefile("rb")
def reply():
    while True:
        line = f.readline().decode("ascii", "replace").rstrip("\r\n")
        if line[3:4] != "-":
            return line
def cmd(c, want):
    s.sendall(c.encode() + b"\r\n")
    r = reply()
    if not r.startswith(want):
        print("UNEXPECTED %s -> %s" % (c, r))
        sys.exit(1)
reply()
cmd("EHLO client.test.example", "250")
cmd("MAIL FROM:<sender@origin.test.example>", "250")
cmd("RCPT TO:<rcpt-drain@dest.test.example>", "250")
cmd("DATA", "354")
cut = msg.index(b"\r\n\r\n") + 4  # no line starts with "." in what is sent here
s.sendall(msg[:cut])
open(ready, "w").close()
deadline = time.time() + 20
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.05)
s.sendall(msg[cut:].replace(b"\r\n.", b"\r\n..") + b".\r\n")
s.settimeout(8)
try:
    print(reply())
except socket.timeout:
    print("TIMEOUT")
s.close()
PYEOF
mkmsg drain drain-5@origin.test.example "in flight when mailwarden gets SIGTERM"
"${TOOL[@]}" crlf "$MSG/drain.lf" "$MSG/drain.eml"
cp "$MSG/drain.eml" "$MSG/drain-expected.eml"
MSGID[drain]='<drain-5@origin.test.example>'
FROM[drain]=sender@origin.test.example
"$MW_PYTHON" "$W/slow_client.py" "$smtp_port" "$MSG/drain.eml" "$W/drain.ready" "$W/drain.go" \
	>"$W/drain.out" 2>&1 &
slow_pid=$!
_mw_record_pid "$W/slow.pid" "$slow_pid" && _mw_register proc "$W/slow.pid"
old_pid=$MW_MILTER_PID
read -r _ old_start <"$MDIR/milter.pid"
t0=$(mw_now_ms)
if mw_wait_until 20 test -e "$W/drain.ready"; then
	sleep 0.5 # the header is with mailwarden by now
	t0=$(mw_now_ms)
	kill -TERM "$old_pid"
	sleep 0.2
	touch "$W/drain.go"
	read -r _ slow_start <"$W/slow.pid"
	mw_wait_until 30 _mw_pf_gone "$slow_pid" "$slow_start" || true
	drain_reply=$(cat "$W/drain.out")
	if [[ $drain_reply == 250* ]]; then
		delivered=$((delivered + 1))
		mw_pass "5 SIGTERM with a message in flight: it drained, the client got '$drain_reply'"
		if mw_wait_for_messages "$W/sink" "$delivered" 30; then
			verify drain "$W/check/conf-$AUTHSERV.yaml" "$AUTHSERV" "5 drained"
		fi
	else
		mw_fail "5 SIGTERM with a message in flight" "client: $drain_reply"
	fi
else
	mw_fail "5 slow client reached DATA" "$(cat "$W/drain.out")"
	kill -TERM "$old_pid"
fi
_mw_stop_pidfile "$W/slow.pid" 2
_mw_unregister proc "$W/slow.pid"
# Gone within drain_timeout, plus up to 5 s for libmilter's listener to notice the
# stop (it polls with a 5 s timeout), plus slack.
if mw_wait_until $((DRAIN_SECONDS + 10)) _mw_pf_gone "$old_pid" "$old_start" &&
	grep -q 'milter: stopped' "$MLOG"; then
	mw_pass "5 SIGTERM: mailwarden $old_pid exited ($(($(mw_now_ms) - t0)) ms after the signal)"
else
	mw_fail "5 SIGTERM: mailwarden exits" "pid $old_pid still alive after $(($(mw_now_ms) - t0)) ms; $(tail -n 3 "$MLOG")"
fi
mw_milter_stop "$MDIR" 5 # reaps it and forgets its pid file
before=$(mw_count_messages "$W/sink")
rc=0
send retry || rc=$?
cp "$W/swaks-retry.log" "$W/swaks-retry-down.log"
reply=$(grep -m1 '^<\*\*' "$W/swaks-retry.log" || true)
stage=$(grep -B1 -m1 '^<\*\*' "$W/swaks-retry.log" | head -n 1 | sed 's/^ *-> *//' | cut -c 1-30)
re_4xx='^<\*\* +4[0-9][0-9] 4\.7\.1 '
if [[ $rc -ne 0 && $reply =~ $re_4xx ]] &&
	! grep -q '^<- *250 .*queued as' "$W/swaks-retry.log"; then
	mw_pass "5 mailwarden down: 4xx to the client (${reply#<\*\* } after ${stage:-?})"
else
	mw_fail "5 mailwarden down: 4xx to the client" "swaks rc=$rc: $(tail -n 4 "$W/swaks-retry.log" | tr '\n' ' ')"
fi
sleep 1 # anything wrongly queued would reach the sink within a second
if [[ $(mw_count_messages "$W/sink") -eq $before && $(mw_pf_queue_count "$W/pf") -eq 0 ]]; then
	mw_pass "5 mailwarden down: nothing relayed or queued"
else
	mw_fail "5 mailwarden down: nothing relayed or queued" "sink $(mw_count_messages "$W/sink") (was $before), queue $(mw_pf_queue_count "$W/pf")"
fi
if mw_milter_start "$MDIR" "$CONF"; then
	mw_pass "5 mailwarden started again (pid $MW_MILTER_PID)"
else
	mw_fail "5 mailwarden started again"
fi
if send retry; then
	delivered=$((delivered + 1))
	mw_pass "5 the client's retry is accepted"
else
	mw_fail "5 the client's retry is accepted" "$(grep '^<\*\*' "$W/swaks-retry.log" || tail -n 3 "$W/swaks-retry.log")"
fi
if mw_wait_for_messages "$W/sink" "$delivered" 30; then
	sleep 1 # a second copy, if any, would follow within a second
	copies=$(grep -l -F -e "Message-ID: ${MSGID[retry]}" "$W"/sink/*.eml | wc -l)
	if [[ $copies -eq 1 && $(mw_pf_queue_count "$W/pf") -eq 0 ]]; then
		mw_pass "5 retried message delivered exactly once"
	else
		mw_fail "5 retried message delivered exactly once" "$copies copies, queue $(mw_pf_queue_count "$W/pf")"
	fi
	verify retry "$W/check/conf-$AUTHSERV.yaml" "$AUTHSERV" "5 retry"
else
	mw_fail "5 retried message delivered"
fi

# 5b: Postfix holds the milter-processed message (next hop says 451), delivers it later
# with one block: the milter runs once, at SMTP time, not again on redelivery.
mw_sink_mode "$W/sink" tempfail
if send queued; then
	mw_pass "5b accepted by Postfix while the next hop tempfails"
else
	mw_fail "5b accepted by Postfix while the next hop tempfails" "$(tail -n 3 "$W/swaks-queued.log")"
fi
qid=$(sed -n 's/^<- *250 .*queued as \([0-9A-F]*\).*/\1/p' "$W/swaks-queued.log" | head -n 1)
if [[ -n $qid ]] && mw_pf_wait_log "$W/pf" "$qid: .*status=deferred" 20; then
	mw_pass "5b deferred in Postfix's queue ($qid)"
else
	mw_fail "5b deferred in Postfix's queue" "queue id '$qid'"
fi
mw_sink_mode "$W/sink" accept
mw_pf_flush "$W/pf"
if mw_wait_for_messages "$W/sink" $((delivered + 1)) 30; then
	delivered=$((delivered + 1))
	verify queued "$W/check/conf-$AUTHSERV.yaml" "$AUTHSERV" "5b queued"
	scans=$(grep -c "$qid: scan: action=" "$MLOG" || true)
	if [[ $scans -eq 1 ]]; then
		mw_pass "5b mailwarden scanned the queued message once"
	else
		mw_fail "5b mailwarden scanned the queued message once" "$scans scan lines for $qid"
	fi
else
	mw_fail "5b delivered after the flush" "$(grep "$qid" "$PFLOG" | tail -n 3)"
fi

# --- 6: SIGHUP every 100 ms during 500 messages, authserv_id changed once ------------
STREAM_N=500
STREAM_FROM=from@test.example
pf_lines=$(wc -l <"$PFLOG")
m_lines=$(wc -l <"$MLOG")
scans_before=$(grep -c 'scan: action=' "$MLOG" || true)
milter_pid=$MW_MILTER_PID
read -r _ milter_start <"$MDIR/milter.pid"
rm -f "$W/stream.done" "$W/stream.switched"

# The HUP loop: at most 600 signals (60 s), stops when the stream is done or mailwarden
# is no longer the recorded process. Once mailwarden has scanned 150 stream messages
# it switches authserv_id (atomic rename) before the next HUP.
(
	i=0
	while ((i < 600)) && [[ ! -e $W/stream.done ]] && _mw_pid_same "$milter_pid" "$milter_start"; do
		if [[ ! -e $W/stream.switched ]] &&
			(($(grep -c 'scan: action=' "$MLOG") >= scans_before + 150)); then
			write_config "$CONF" "$AUTHSERV_NEW"
			echo "$i" >"$W/stream.switched"
		fi
		kill -HUP "$milter_pid" 2>/dev/null || break
		i=$((i + 1))
		sleep 0.1
	done
	echo "$i" >"$W/hup.count"
) &
hup_pid=$!
_mw_record_pid "$W/hup.pid" "$hup_pid" && _mw_register proc "$W/hup.pid"

t0=$(mw_now_ms)
ss_rc=0
# smtp-source aborts at the first reply that is not 2xx/3xx (no -A).
timeout 120 smtp-source -c -l 1000 -m "$STREAM_N" -s 5 -f "$STREAM_FROM" -t to@test.example \
	"127.0.0.1:$smtp_port" >"$W/smtp-source.log" 2>&1 || ss_rc=$?
ss_ms=$(($(mw_now_ms) - t0))
if mw_wait_for_messages "$W/sink" $((delivered + STREAM_N)) 60; then
	stream_ok=1
else
	stream_ok=0
fi
touch "$W/stream.done"
mw_wait_until 10 test -s "$W/hup.count" || true
_mw_stop_pidfile "$W/hup.pid" 2
_mw_unregister proc "$W/hup.pid"
hups=$(cat "$W/hup.count" 2>/dev/null || echo "?")
switched_at=$(cat "$W/stream.switched" 2>/dev/null || echo "")
cp "$CONF" "$W/check/conf-$AUTHSERV_NEW.yaml"
echo "stream: smtp-source exit $ss_rc after $ss_ms ms; $hups SIGHUPs; authserv_id switched before HUP #${switched_at:-never}"

if [[ $ss_rc -eq 0 ]]; then
	mw_pass "6 smtp-source sent $STREAM_N messages, every reply positive ($ss_ms ms)"
else
	mw_fail "6 smtp-source" "exit $ss_rc: $(tail -c 300 "$W/smtp-source.log")"
fi
if [[ $stream_ok -eq 1 ]]; then
	delivered=$((delivered + STREAM_N))
fi
if out=$("${VERIFY[@]}" stream "$W/sink" "$STREAM_FROM" "$AUTHSERV" "$AUTHSERV_NEW"); then
	total=$("$MW_PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1])["total"])' "$out")
	if [[ $total -eq $STREAM_N ]]; then
		mw_pass "6 $STREAM_N delivered, each with exactly one A-R and the block, old or new id: $out"
	else
		mw_fail "6 $STREAM_N delivered" "$out"
	fi
else
	mw_fail "6 each stream message has one A-R and the block" "$out"
fi
n_old=$("$MW_PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1])["per_id"][sys.argv[2]])' "$out" "$AUTHSERV" 2>/dev/null || echo 0)
n_new=$("$MW_PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1])["per_id"][sys.argv[2]])' "$out" "$AUTHSERV_NEW" 2>/dev/null || echo 0)
if [[ -n $switched_at && $n_old -gt 0 && $n_new -gt 0 ]]; then
	mw_pass "6 authserv_id changed mid-stream: $n_old with $AUTHSERV, $n_new with $AUTHSERV_NEW"
else
	mw_fail "6 authserv_id changed mid-stream" "switched='$switched_at' old=$n_old new=$n_new"
fi
# Each id once through `mailwarden check` as well (the original is what is left below
# Received:; smtp-source's HELO is this machine's name, as Received: shows).
for id in "$AUTHSERV" "$AUTHSERV_NEW"; do
	sample=$("$MW_PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1])["sample"].get(sys.argv[2], ""))' "$out" "$id" 2>/dev/null || true)
	[[ -n $sample ]] || continue
	"${VERIFY[@]}" original "$sample" "$W/check/stream-$id.eml"
	helo=$(sed -n '1,/^\r$/s/^Received: from \([^ ]*\) .*/\1/p' "$sample" | head -n 1)
	rc=0
	"$bin" check -c "$W/check/conf-$id.yaml" --client-ip 127.0.0.1 --client-name unknown \
		--helo "$helo" --mail-from "$STREAM_FROM" --rcpt to@test.example \
		"$W/check/stream-$id.eml" >"$W/check/stream-$id.out" 2>&1 || rc=$?
	if [[ $rc -eq 0 ]] && res=$("${VERIFY[@]}" checkout "$W/check/stream-$id.out" "$sample"); then
		mw_pass "4 stream message ($id): mailwarden check prints the block the milter added"
	else
		mw_fail "4 stream message ($id): mailwarden check" "exit $rc ${res:-}"
	fi
done
# Postfix's log for the stream: every message sent, nothing deferred or refused.
_stream_sent() { (($(tail -n +$((pf_lines + 1)) "$PFLOG" | grep -c 'status=sent') >= STREAM_N)); }
mw_wait_until 30 _stream_sent || true
tail -n +$((pf_lines + 1)) "$PFLOG" >"$W/maillog-stream.txt"
sent_lines=$(grep -c 'status=sent' "$W/maillog-stream.txt" || true)
if grep -E 'milter-reject|status=deferred|status=bounced|4\.7\.1|reject:|warning:|fatal:|panic:' "$W/maillog-stream.txt" >"$W/maillog-stream-bad.txt"; then
	mw_fail "6 Postfix's log for the stream" "$(wc -l <"$W/maillog-stream-bad.txt") bad lines: $(head -n 3 "$W/maillog-stream-bad.txt")"
elif [[ $sent_lines -ne $STREAM_N ]]; then
	mw_fail "6 Postfix's log for the stream" "$sent_lines status=sent lines, want $STREAM_N"
else
	mw_pass "6 Postfix's log: $STREAM_N status=sent, no milter-reject / deferred / 4.7.1 / reject / warning"
fi
tail -n +$((m_lines + 1)) "$MLOG" >"$W/milter-stream.log"
reloads=$(grep -c 'milter: configuration reloaded' "$W/milter-stream.log" || true)
if _mw_pid_same "$milter_pid" "$milter_start"; then
	mw_pass "6 mailwarden still running (pid $milter_pid)"
else
	mw_fail "6 mailwarden still running" "pid $milter_pid gone; $(tail -n 5 "$MLOG")"
fi
if [[ $hups =~ ^[0-9]+$ && $reloads -ge 1 && $reloads -le $hups ]] &&
	! grep -q -E 'reload rejected|reload failed|: error: ' "$W/milter-stream.log"; then
	mw_pass "6 mailwarden logged $reloads reloads for $hups SIGHUPs, no errors"
else
	mw_fail "6 reloads logged" "$reloads reloads for $hups SIGHUPs; $(grep -E 'error|rejected' "$W/milter-stream.log" | head -n 3)"
fi
stream_scans=$(grep -c "scan: action=accept .* from=<$STREAM_FROM>" "$W/milter-stream.log" || true)
if [[ $stream_scans -eq $STREAM_N ]]; then
	mw_pass "6 mailwarden scanned each stream message once"
else
	mw_fail "6 mailwarden scanned each stream message once" "$stream_scans scan lines"
fi

# --- 7: a bad configuration on SIGHUP ---------------------------------------------
# The running id is now AUTHSERV_NEW. Two bad files: broken YAML, and valid YAML with a
# bad value next to a *different* authserv_id (which must not leak in).
RUNNING=$AUTHSERV_NEW
_more_rejected() { (($(grep -c 'reload rejected' "$MLOG") > $1)); }
bad_reload() { # LABEL: SIGHUP with CONF as it is; wait for one more "reload rejected"
	local label=$1 n
	n=$(grep -c 'reload rejected' "$MLOG" || true)
	kill -HUP "$MW_MILTER_PID"
	if mw_wait_until 10 _more_rejected "$n"; then
		mw_pass "7 $label: mailwarden logs: $(grep 'reload rejected' "$MLOG" | tail -n 1 | cut -c 1-160)"
	else
		mw_fail "7 $label: reload rejected logged" "$(tail -n 3 "$MLOG")"
	fi
}
write_raw "$CONF" <<EOF
milter:
  socket: "$MILTER_SOCKET"
  user: $MW_MILTER_USER
authserv_id: [bad.test.example
log: {target: stderr, level: info
EOF
bad_reload "invalid YAML"
write_raw "$CONF" <<EOF
milter:
  socket: "$MILTER_SOCKET"
  user: $MW_MILTER_USER
authserv_id: bad.test.example
log:
  target: stderr
  level: loudest
EOF
bad_reload "valid YAML, bad log.level"
if _mw_pid_same "$milter_pid" "$milter_start"; then
	mw_pass "7 mailwarden still running after the bad reloads"
else
	mw_fail "7 mailwarden still running after the bad reloads" "$(tail -n 5 "$MLOG")"
fi
if send afterbad; then
	delivered=$((delivered + 1))
	if mw_wait_for_messages "$W/sink" "$delivered" 30; then
		verify afterbad "$W/check/conf-$RUNNING.yaml" "$RUNNING" "7 after the bad reloads"
	else
		mw_fail "7 message after the bad reloads delivered"
	fi
else
	mw_fail "7 message after the bad reloads accepted" "$(grep '^<\*\*' "$W/swaks-afterbad.log" || tail -n 3 "$W/swaks-afterbad.log")"
fi

# --- 8: inet socket, then stop everything ----------------------------------------------
t0=$(mw_now_ms)
mw_milter_stop "$MDIR" 15
mw_pf_stop "$W/pf"
mw_free_port milter_port
MILTER_SOCKET=inet:$milter_port@127.0.0.1
MDIR=$W/milter-inet
mkdir -p "$MDIR"
write_config "$MDIR/mailwarden.yaml" "$AUTHSERV"
mw_milter_start "$MDIR" "$MDIR/mailwarden.yaml"
mw_free_port smtp_inet
mw_pf_start "$W/pf-inet" "$smtp_inet" "$MW_SINK_PORT" "$MILTER_SOCKET"
smtp_port=$smtp_inet # for send()
if send inet; then
	delivered=$((delivered + 1))
	if mw_wait_for_messages "$W/sink" "$delivered" 30; then
		verify inet "$MDIR/mailwarden.yaml" "$AUTHSERV" "8 inet:$milter_port@127.0.0.1"
	else
		mw_fail "8 inet: delivered"
	fi
else
	mw_fail "8 inet: accepted" "$(grep '^<\*\*' "$W/swaks-inet.log" || tail -n 3 "$W/swaks-inet.log")"
fi

master_pid=$MW_PF_MASTER_PID
inet_pid=$MW_MILTER_PID
sink_pid=$MW_SINK_PID
mw_milter_stop "$MDIR" 15
mw_pf_stop "$W/pf-inet"
mw_sink_stop "$W/sink"
left="$(mw_pf_leftovers "$W/pf") $(mw_pf_leftovers "$W/pf-inet")"
if [[ -z ${left// /} ]] && ! mw_pid_alive "$master_pid" && ! mw_pid_alive "$inet_pid" &&
	! mw_pid_alive "$milter_pid" && ! mw_pid_alive "$sink_pid" &&
	! mw_port_open "$smtp_inet" && ! mw_port_open "$milter_port" && ! mw_port_open "$MW_SINK_PORT"; then
	mw_pass "8 stop: postfix, mailwarden and the sink gone, ports closed"
else
	mw_fail "8 stop" "left: '$left'"
fi

echo "total $(($(mw_now_ms) - t_start)) ms"
mw_summary
