#!/usr/bin/env bash
# rules_test.sh -- the shipped rules (rules/) through a real, private Postfix on
# loopback with mailwarden as its milter.
#
#   sudo MW_BIN=/path/to/mailwarden tests/integration/rules_test.sh
#
# Exits 77 (automake's SKIP) when the mailwarden binary or Postfix/swaks are missing.
# Prints PASS / FAIL lines and "N passed, N failed" last; exits non-zero on any failure.
# mailwarden reads the rules straight from the source tree (rules.directories; override
# with MW_RULES_DIR), with the default thresholds (tag 5, quarantine 10, reject 15) and
# SPF off (no DNS here).
#
# Checks (numbers as in the checks' names):
#   0  `mailwarden configtest` accepts the configuration with the shipped rules.
#   1  GTUBE (rules/cases/gtube.eml): 550 5.7.1 with the rule's reply text as the answer
#      to the end of DATA (after 354, not before); Postfix logs milter-reject at
#      END-OF-MESSAGE; nothing delivered.
#   1b the same for SpamAssassin's own GTUBE message, the sample-spam.txt of Debian's
#      spamassassin package (gunzipped if need be; MW_SAMPLE_SPAM overrides). A missing
#      file is a FAILURE, not a skip: contrib/install-deps.sh installs the package.
#   2  a phishing-like message whose rules add up to between tag and quarantine: 250,
#      delivered with X-Mailwarden-Verdict: tag, the expected rules in
#      X-Mailwarden-Rules, X-Mailwarden-Score equal to the sum of their scores;
#      `mailwarden check --json` on the same message agrees on action and rules.
#   3  a quarantine-action rule (ATTACH_RTL_OVERRIDE, rules/cases/rlo-name.eml): 250 to
#      the client, Postfix logs milter-hold, `postqueue -j` of the private instance
#      shows it in the "hold" queue, `postcat -q` shows its content; not delivered.
#   4  an executable attachment (ATTACH_EXECUTABLE: action reject with its own reply
#      text) is refused; an ordinary message is delivered with verdict accept; the
#      next hop got exactly the accepted messages.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
mw_require_root
bin=$(mw_bin)
if [[ ! -x $bin ]]; then
	echo "SKIP: no mailwarden binary at $bin (set MW_BIN)"
	exit 77
fi
for tool in swaks postfix postqueue postcat; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool not installed"
		exit 77
	fi
done
mw_install_trap

t_start=$(mw_now_ms)
RULES_DIR=${MW_RULES_DIR:-$MW_REPO_DIR/rules}
CASES=$RULES_DIR/cases
TOOL=("$MW_PYTHON" "$MW_INTEG_DIR/mw_msgtool.py")
smtp_port="" # set by mw_free_port
mw_workdir W
MSG=$W/msgs
mkdir -p "$MSG"

# --- mailwarden and Postfix ------------------------------------------------------
MDIR=$W/milter
mkdir -p "$MDIR"
chmod 0755 "$MDIR"
MILTER_SOCKET=unix:$MDIR/milter.sock
CONF=$MDIR/mailwarden.yaml
mw_milter_config "$CONF" "$MILTER_SOCKET" mx.test.example "$RULES_DIR"
cat >>"$CONF" <<EOF
thresholds:
  tag: 5
  quarantine: 10
  reject: 15
EOF
if "$bin" configtest -c "$CONF" >"$W/configtest.out" 2>&1; then
	mw_pass "0 configtest accepts the configuration with the shipped rules"
else
	mw_fail "0 configtest" "$(head -n 5 "$W/configtest.out")"
	mw_summary || exit 1
fi
mw_sink_start "$W/sink" 0
mw_milter_start "$MDIR" "$CONF"
mw_free_port smtp_port
mw_pf_start "$W/pf" "$smtp_port" "$MW_SINK_PORT" "$MILTER_SOCKET"
PFLOG=$W/pf/maillog

# send NAME [swaks options]: sends $MSG/NAME.eml from sender@origin.test.example to
# rcpt-NAME@dest.test.example; the swaks transcript goes to $W/swaks-NAME.log.
send() {
	local n=$1
	shift
	mw_swaks "$smtp_port" --to "rcpt-$n@dest.test.example" --data "$MSG/$n.eml" "$@" \
		>"$W/swaks-$n.log" 2>&1
}

# queue_id NAME: Postfix's queue id from the 250 reply to the end of DATA.
queue_id() {
	sed -n 's/^<- *250 .*queued as \([0-9A-F]*\).*/\1/p' "$W/swaks-$1.log" | head -n 1
}

# header_of FILE NAME: the value of the first field NAME in FILE's header (unfolded).
header_of() {
	"$MW_PYTHON" - "$1" "$2" <<'PYEOF'
import email, email.policy, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.compat32)
v = msg.get(sys.argv[2])
print("" if v is None else " ".join(v.split()))
PYEOF
}

# rejected_at_eod NAME CODE TEXT: the first error reply in the transcript starts with
# CODE, contains TEXT, and comes after the server's 354 (so it answers the end of DATA,
# not the envelope).
rejected_at_eod() {
	local log=$W/swaks-$1.log reply n_err n_354
	grep -q '^<- *354' "$log" || return 1
	reply=$(grep -m1 '^<\*\*' "$log") || return 1
	[[ $reply == "<** $2"* && $reply == *"$3"* ]] || return 1
	n_err=$(grep -n -m1 '^<\*\*' "$log" | cut -d: -f1)
	n_354=$(grep -n -m1 '^<- *354' "$log" | cut -d: -f1)
	((n_err > n_354))
}

delivered=0

# --- 1: GTUBE -> 550 at end of DATA, nothing delivered ----------------------------------
cp "$CASES/gtube.eml" "$MSG/gtube.eml"
rc=0
send gtube || rc=$?
if [[ $rc -ne 0 ]] && rejected_at_eod gtube "550 5.7.1" "GTUBE test message rejected"; then
	mw_pass "1 GTUBE: '$(grep -m1 '^<\*\*' "$W/swaks-gtube.log")' after the end of DATA"
else
	mw_fail "1 GTUBE: 550 at end of DATA" "swaks rc=$rc: $(grep -E '^(<\*\*|<- *354)' "$W/swaks-gtube.log" | tr '\n' ' ')"
fi
if mw_pf_wait_log "$W/pf" 'milter-reject: END-OF-MESSAGE .*GTUBE test message rejected' 10; then
	mw_pass "1 GTUBE: Postfix logged milter-reject at END-OF-MESSAGE"
else
	mw_fail "1 GTUBE: Postfix's milter-reject log line" "$(grep -i milter "$PFLOG" | tail -n 2)"
fi

# --- 1b: SpamAssassin's sample-spam.txt -> 550 at end of DATA --------------------------
sample=${MW_SAMPLE_SPAM:-}
if [[ -z $sample ]]; then
	for f in /usr/share/doc/spamassassin/examples/sample-spam.txt{,.gz}; do
		[[ -f $f ]] && sample=$f && break
	done
fi
if [[ -n $sample && -f $sample ]]; then
	# The packaged file has LF line ends; SMTP wants CRLF.
	if [[ $sample == *.gz ]]; then
		gzip -dc "$sample" >"$MSG/sample-spam.lf"
	else
		cp "$sample" "$MSG/sample-spam.lf"
	fi
	"${TOOL[@]}" crlf "$MSG/sample-spam.lf" "$MSG/sample-spam.eml"
	rc=0
	send sample-spam || rc=$?
	if [[ $rc -ne 0 ]] && rejected_at_eod sample-spam "550 5.7.1" "GTUBE test message rejected"; then
		mw_pass "1b $sample: '$(grep -m1 '^<\*\*' "$W/swaks-sample-spam.log")' after the end of DATA"
	else
		mw_fail "1b $sample: 550 at end of DATA" "swaks rc=$rc: $(grep -E '^(<\*\*|<- *354)' "$W/swaks-sample-spam.log" | tr '\n' ' ')"
	fi
else
	mw_fail "1b SpamAssassin's sample-spam.txt" "not found (${sample:-/usr/share/doc/spamassassin/examples/sample-spam.txt[.gz]}): install spamassassin (contrib/install-deps.sh) or set MW_SAMPLE_SPAM"
fi

# --- 4a: executable attachment -> 550 with the rule's reply ------------------------------
cp "$CASES/invoice-exe.eml" "$MSG/exe.eml"
rc=0
send exe || rc=$?
if [[ $rc -ne 0 ]] && rejected_at_eod exe "550 " "Executable attachments are not accepted"; then
	mw_pass "4 executable attachment: '$(grep -m1 '^<\*\*' "$W/swaks-exe.log")'"
else
	mw_fail "4 executable attachment rejected" "swaks rc=$rc: $(grep -E '^(<\*\*|<- *354)' "$W/swaks-exe.log" | tr '\n' ' ')"
fi

# --- 2: over the tag threshold -> delivered with the verdict headers ---------------------
# Rules meant to hit: SUBJ_ACCOUNT_ALERT 1.5, BODY_ACCOUNT_SUSPENDED 1.5,
# BODY_VERIFY_ACCOUNT 1.5, URL_BARE_IPV4 2.0 = 6.5: above tag (5), below quarantine (10).
TAG_RULES=(SUBJ_ACCOUNT_ALERT BODY_ACCOUNT_SUSPENDED BODY_VERIFY_ACCOUNT URL_BARE_IPV4)
{
	printf 'From: Mail Administrator <admin@origin.test.example>\n'
	printf 'To: rcpt-tag@dest.test.example\n'
	printf 'Subject: Your mailbox will be deactivated\n'
	printf 'Date: Mon, 02 Mar 2026 10:00:00 +0000\n'
	printf 'Message-ID: <tag-1@origin.test.example>\n'
	printf 'MIME-Version: 1.0\n'
	printf 'Content-Type: text/plain; charset=us-ascii\n'
	printf '\n'
	printf 'Dear user,\n\n'
	printf 'Your account has been suspended because of unusual sign-in activity.\n'
	printf 'Please verify your account information within 24 hours at\n'
	printf 'http://198.51.100.23/owa/login.php\n\n'
	printf 'Mail Administrator\n'
} >"$MSG/tag.lf"
"${TOOL[@]}" crlf "$MSG/tag.lf" "$MSG/tag.eml"
if send tag; then
	delivered=$((delivered + 1))
	mw_pass "2 tagged message accepted ($(queue_id tag))"
else
	mw_fail "2 tagged message accepted" "$(grep '^<\*\*' "$W/swaks-tag.log" || tail -n 3 "$W/swaks-tag.log")"
fi
got=""
if mw_wait_for_messages "$W/sink" "$delivered" 30; then
	got=$(mw_find_captured "$W/sink" "Message-ID: <tag-1@origin.test.example>") || got=""
fi
if [[ -n $got ]]; then
	verdict=$(header_of "$got" X-Mailwarden-Verdict)
	score=$(header_of "$got" X-Mailwarden-Score)
	rules=$(header_of "$got" X-Mailwarden-Rules)
	echo "tag message: verdict '$verdict', score '$score', rules '$rules'"
	if [[ $verdict == tag* ]]; then
		mw_pass "2 X-Mailwarden-Verdict: $verdict"
	else
		mw_fail "2 X-Mailwarden-Verdict is tag" "'$verdict'"
	fi
	missing=""
	for r in "${TAG_RULES[@]}"; do
		[[ $rules =~ (^|[^A-Z0-9_])$r([^A-Z0-9_]|$) ]] || missing+=" $r"
	done
	if [[ -z $missing ]]; then
		mw_pass "2 X-Mailwarden-Rules names ${TAG_RULES[*]}"
	else
		mw_fail "2 X-Mailwarden-Rules names the expected rules" "missing:$missing in '$rules'"
	fi
	# The score is the sum of the listed contributions and lies in [tag, quarantine).
	if out=$("$MW_PYTHON" - "$score" "$rules" <<'PYEOF'
import re, sys
score = float(sys.argv[1])
parts = [float(x) for x in re.findall(r"[A-Z][A-Z0-9_]*\s*[=:(]\s*(-?\d+(?:\.\d+)?)", sys.argv[2])]
if not parts:
    print("no scores in X-Mailwarden-Rules"); sys.exit(1)
if abs(sum(parts) - score) > 0.005:
    print("sum of rules %.2f != score %.2f" % (sum(parts), score)); sys.exit(1)
if not 5 <= score < 10:
    print("score %.2f not in [5, 10)" % score); sys.exit(1)
print("%.2f = the sum of %d contributions, in [5, 10)" % (score, len(parts)))
PYEOF
	); then
		mw_pass "2 X-Mailwarden-Score: $out"
	else
		mw_fail "2 X-Mailwarden-Score" "$out"
	fi
	# `mailwarden check` on the message as sent, with the envelope Postfix gave.
	rc=0
	"$bin" check -c "$CONF" --json --client-ip 127.0.0.1 --client-name unknown \
		--helo client.test.example --mail-from sender@origin.test.example \
		--rcpt rcpt-tag@dest.test.example "$MSG/tag.eml" >"$W/check-tag.json" 2>"$W/check-tag.err" || rc=$?
	out=""
	if [[ $rc -eq 0 ]] && out=$("$MW_PYTHON" - "$W/check-tag.json" "$verdict" "$rules" <<'PYEOF'
import json, re, sys
j = json.load(open(sys.argv[1]))
ids = [r["id"] for r in j["rules"]]
if not sys.argv[2].startswith(j["action"]):
    print("check says %s, the milter said %s" % (j["action"], sys.argv[2])); sys.exit(1)
missing = [i for i in ids if not re.search(r"(^|[^A-Z0-9_])%s([^A-Z0-9_]|$)" % i, sys.argv[3])]
if missing:
    print("check hit %s, not in the delivered header" % missing); sys.exit(1)
print("%s, %d rules, score %.2f" % (j["action"], len(ids), j["score"]))
PYEOF
	); then
		mw_pass "2 mailwarden check agrees: $out"
	else
		mw_fail "2 mailwarden check agrees" "exit $rc ${out:-} $(head -c 300 "$W/check-tag.err")"
	fi
else
	mw_fail "2 tagged message delivered once"
fi

# --- 3: quarantine action -> Postfix's hold queue ---------------------------------------
cp "$CASES/rlo-name.eml" "$MSG/hold.eml"
if send hold; then
	mw_pass "3 quarantined message accepted by Postfix ($(queue_id hold))"
else
	mw_fail "3 quarantined message accepted" "$(grep '^<\*\*' "$W/swaks-hold.log" || tail -n 3 "$W/swaks-hold.log")"
fi
qid=$(queue_id hold)
if [[ -n $qid ]] && mw_pf_wait_log "$W/pf" "$qid: milter-hold: END-OF-MESSAGE" 10; then
	mw_pass "3 Postfix logged '$qid: milter-hold' at END-OF-MESSAGE"
else
	mw_fail "3 Postfix's milter-hold log line" "queue id '$qid': $(grep -i milter "$PFLOG" | tail -n 2)"
fi
# _in_hold QID: postqueue -j (one JSON object per message) lists QID in queue "hold".
_in_hold() {
	timeout 30 postqueue -c "$W/pf/etc" -j | "$MW_PYTHON" -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    if e["queue_id"] == sys.argv[1] and e["queue_name"] == "hold":
        sys.exit(0)
sys.exit(1)' "$1"
}
if [[ -n $qid ]] && mw_wait_until 10 _in_hold "$qid"; then
	mw_pass "3 postqueue -j: $qid is in the hold queue"
else
	mw_fail "3 postqueue -j: in the hold queue" "$(timeout 30 postqueue -c "$W/pf/etc" -j | head -c 400)"
fi
if [[ -n $qid ]] && timeout 30 postcat -c "$W/pf/etc" -q "$qid" >"$W/postcat-hold.txt" 2>&1 &&
	grep -q 'Message-ID: <rlo-1@supplier.test.example>' "$W/postcat-hold.txt"; then
	mw_pass "3 postcat -q $qid shows the held message"
else
	mw_fail "3 postcat shows the held message" "$(head -c 300 "$W/postcat-hold.txt" 2>/dev/null)"
fi

# --- 4b: an ordinary message -> accept --------------------------------------------------
{
	printf 'From: Alice <alice@origin.test.example>\n'
	printf 'To: rcpt-plain@dest.test.example\n'
	printf 'Subject: Minutes of the Tuesday meeting\n'
	printf 'Date: Mon, 02 Mar 2026 10:00:00 +0000\n'
	printf 'Message-ID: <plain-1@origin.test.example>\n'
	printf 'MIME-Version: 1.0\n'
	printf 'Content-Type: text/plain; charset=us-ascii\n'
	printf '\n'
	printf 'Hi all,\n\nthe minutes are on https://wiki.origin.test.example/meetings/tuesday\n\nAlice\n'
} >"$MSG/plain.lf"
"${TOOL[@]}" crlf "$MSG/plain.lf" "$MSG/plain.eml"
if send plain; then
	delivered=$((delivered + 1))
	got=""
	if mw_wait_for_messages "$W/sink" "$delivered" 30; then
		got=$(mw_find_captured "$W/sink" "Message-ID: <plain-1@origin.test.example>") || got=""
	fi
	if [[ -n $got ]]; then
		verdict=$(header_of "$got" X-Mailwarden-Verdict)
		if [[ $verdict == accept* ]]; then
			mw_pass "4 ordinary message delivered: verdict '$verdict', score $(header_of "$got" X-Mailwarden-Score), rules '$(header_of "$got" X-Mailwarden-Rules)'"
		else
			mw_fail "4 ordinary message: verdict accept" "'$verdict' rules '$(header_of "$got" X-Mailwarden-Rules)'"
		fi
	else
		mw_fail "4 ordinary message delivered"
	fi
else
	mw_fail "4 ordinary message accepted" "$(grep '^<\*\*' "$W/swaks-plain.log" || tail -n 3 "$W/swaks-plain.log")"
fi

# Nothing but the accepted messages reached the next hop.
sleep 1 # a wrongly released message would arrive within a second
if [[ $(mw_count_messages "$W/sink") -eq $delivered ]] &&
	! grep -q -F -e 'gtube-1@origin' -e 'GTUBE1.1010101@example.net' -e 'inv-0312@supplier' -e 'rlo-1@supplier' "$W"/sink/*.eml 2>/dev/null; then
	mw_pass "4 the next hop got exactly the $delivered accepted messages (no GTUBE, executable or held one)"
else
	mw_fail "4 the next hop got exactly the accepted messages" "$(mw_count_messages "$W/sink") captured, want $delivered"
fi

mw_milter_stop "$MDIR" 15
mw_pf_stop "$W/pf"
mw_sink_stop "$W/sink"
echo "total $(($(mw_now_ms) - t_start)) ms"
mw_summary
