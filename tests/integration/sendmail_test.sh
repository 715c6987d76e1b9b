#!/usr/bin/env bash
# Integration test: Debian 12's real Sendmail 8.17 (package sendmail-bin) -> mailwarden
# (milter, unix socket) -> a capture SMTP server.
#
# sendmail-bin conflicts with the installed Postfix, so it is never installed: its .deb
# (and sendmail-cf's, and any of its libraries that are not installed) are fetched with
# `apt-get download` and unpacked with `dpkg-deb -x` into a cache, $MW_SENDMAIL_CACHE
# (default ${TMPDIR:-/tmp}/mw-sendmail), once. Each run then builds a private sendmail.cf
# with m4 from sendmail-cf's files and runs `sendmail -bD -q1m -C that.cf` on
# 127.0.0.1:<free port>, with its own queue, pid file, hosts file and service switch,
# no DNS, relaying everything to the capture server on 127.0.0.1:<free port>, through
# contrib/sendmail/sendmail.mc.snippet's INPUT_MAIL_FILTER(mailwarden, S=unix:..., F=T)
# with the socket path swapped. swaks sends one message carrying a
# forged "Authentication-Results: mx.test.example" and a foreign one; the test checks
# what the capture server received.
#
# Sendmail reads the host's name before its .cf, through libc: on a host whose name is
# not qualified in /etc/hosts it queries DNS and then sleeps 60 s ("My unqualified host
# name ... unknown; sleeping for retry"). So it runs under `unshare --uts --mount`, with
# its own host name and /etc/hosts and /etc/nsswitch.conf bind-mounted from the test
# directory inside that private mount namespace only (nothing on the host changes).
# That hosts file also names the capture server (see SMART_HOST below). Where unshare
# is not permitted the test skips.
#
# Env: MAILWARDEN (default ./mailwarden at the repo top), MW_SENDMAIL_CACHE,
#      MW_KEEP=1 keeps the test directory (it is always kept on failure).
# Exit: 0 all passed, 1 a check failed, 77 skipped (no root, no tools, no download).
# Ends with the line "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${MW_SENDMAIL_CACHE:-${TMPDIR:-/tmp}/mw-sendmail}
mailwarden=${MAILWARDEN:-$top/mailwarden}
case "$mailwarden" in
  /*) ;;
  *) mailwarden=$(pwd)/$mailwarden ;;
esac

started=$(date +%s)
passed=0
failed=0
pids=()
w=""

say() { echo "sendmail_test: $*" >&2; }
skip() {
  echo "SKIP: sendmail_test: $*"
  exit 77
}
pass() {
  passed=$((passed + 1))
  echo "ok   $*"
}
fail() {
  failed=$((failed + 1))
  echo "FAIL $*"
}

# Stops a process and the children it forked (sendmail's delivery and queue-run
# children), by PID only: TERM, up to 10 s, then KILL.
stop_pid() {
  local pid=$1 child i
  kill -0 "$pid" 2>/dev/null || return 0
  for child in $(pgrep -P "$pid" 2>/dev/null || true); do
    stop_pid "$child"
  done
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    # Reap it if it is our child (a zombie still answers kill -0).
    if ! ps -o stat= -p "$pid" 2>/dev/null | grep -qv Z; then
      wait "$pid" 2>/dev/null || true
      return 0
    fi
    sleep 0.1
  done
  say "pid $pid did not stop on TERM in 10 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

dump_logs() {
  local f
  for f in "$w/mailwarden.log" "$w/sendmail.out" "$w/capture.log" "$w/swaks.log" "$w/sendmail.trace"; do
    [ -s "$f" ] || continue
    echo "---- $f (last 40 lines)"
    tail -n 40 "$f"
  done
  if [ -n "${sm_cmd:-}" ]; then
    echo "---- sendmail queue (mailq)"
    timeout 30 "${sm_cmd[@]}" -C "$w/sendmail.cf" -bp 2>&1 | head -n 20 || true
  fi
}

stop_all() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    stop_pid "${pids[i]}"
  done
  pids=()
}

# Stops everything, keeps the test directory on failure, prints the summary line last.
summary_done=0
finish() {
  stop_all
  if [ -n "$w" ] && [ -d "$w" ]; then
    if [ "$failed" = 0 ] && [ "${MW_KEEP:-0}" != 1 ]; then
      rm -rf "$w"
    else
      say "test directory kept: $w"
    fi
  fi
  say "runtime $(($(date +%s) - started)) s"
  summary_done=1
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$summary_done" = 0 ] && [ "$rc" != 77 ]; then
    # An unexpected exit (set -e, a signal): stop everything and count it.
    [ "$rc" = 0 ] || failed=$((failed + 1))
    [ "$rc" = 0 ] || echo "FAIL the test script stopped unexpectedly (exit $rc)"
    finish || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits up to $1 seconds for the command "${@:2}" to succeed.
wait_for() {
  local limit=$1 t=0
  shift
  while ! "$@" 2>/dev/null; do
    [ "$t" -ge $((limit * 10)) ] && return 1
    sleep 0.1
    t=$((t + 1))
  done
}

# Fails the whole run early: counted as one failure, with the logs.
abort() {
  fail "$*"
  dump_logs
  finish || exit 1
}

# ---------------------------------------------------------------- prerequisites
[ "$(id -u)" = 0 ] || skip "needs root (sendmail -bD runs as root; unshare)"
for tool in apt-get apt-cache dpkg-deb dpkg-query m4 python3 swaks ss flock timeout unshare; do
  command -v "$tool" >/dev/null || skip "'$tool' not found (contrib/install-deps.sh installs it)"
done
timeout 10 unshare --uts --mount --propagation private true 2>/dev/null ||
  skip "unshare --uts --mount is not permitted here; without it Sendmail would query DNS for this host's name and stall 60 s"

# ---------------------------------------------------------------- 1. unpacked sendmail
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
root=$cache/root
sm_bin=$root/usr/libexec/sendmail/sendmail
cf_dir=$root/usr/share/sendmail/cf
libdir=$root/usr/lib/$multiarch

prepare_sendmail() {
  [ -f "$root/.mw-complete" ] && [ -x "$sm_bin" ] && return 0
  mkdir -p "$cache"
  exec 9>"$cache/.lock"
  flock -w 600 9 || skip "could not lock $cache/.lock in 600 s"
  if [ -f "$root/.mw-complete" ] && [ -x "$sm_bin" ]; then
    exec 9>&-
    return 0
  fi
  local tmp pkgs dep deb
  tmp=$(mktemp -d "$cache/prepare.XXXXXX")
  # sendmail-bin's libraries that this machine lacks (liblockfile1 and libwrap0 next
  # to Postfix) come unpacked too, found through LD_LIBRARY_PATH.
  pkgs=(sendmail-bin sendmail-cf)
  for dep in $(apt-cache depends sendmail-bin 2>/dev/null | awk '$1 ~ /Depends:$/ && $2 ~ /^lib/ {print $2}'); do
    dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q 'install ok installed' || pkgs+=("$dep")
  done
  say "downloading ${pkgs[*]} into $cache"
  download() {
    (cd "$tmp" && timeout 300 apt-get -q -o APT::Sandbox::User=root download "${pkgs[@]}") >"$tmp/download.log" 2>&1
  }
  if ! download; then
    say "apt-get download failed; running apt-get update once"
    if ! timeout 300 apt-get -q update >"$tmp/update.log" 2>&1 || ! download; then
      tail -n 5 "$tmp/download.log" >&2 || true
      rm -rf "$tmp"
      skip "cannot download ${pkgs[*]} with apt-get (no package archive reachable?)"
    fi
  fi
  for deb in "$tmp"/*.deb; do
    dpkg-deb -x "$deb" "$tmp/root"
  done
  # The packaged binary is setgid mail: the dynamic loader then runs in secure mode and
  # ignores LD_LIBRARY_PATH. We run it as root, so the bit is not needed.
  chmod 0755 "$tmp/root/usr/libexec/sendmail/sendmail"
  if LD_LIBRARY_PATH=$tmp/root/usr/lib/$multiarch ldd "$tmp/root/usr/libexec/sendmail/sendmail" | grep -q 'not found'; then
    LD_LIBRARY_PATH=$tmp/root/usr/lib/$multiarch ldd "$tmp/root/usr/libexec/sendmail/sendmail" | grep 'not found' >&2
    rm -rf "$tmp"
    skip "the unpacked sendmail misses libraries"
  fi
  (cd "$tmp" && ls ./*.deb) >"$tmp/root/.mw-complete"
  rm -rf "$root"
  mv "$tmp/root" "$root"
  rm -rf "$tmp"
  exec 9>&-
}
prepare_sendmail
[ -f "$cf_dir/m4/cf.m4" ] || skip "$cf_dir/m4/cf.m4 missing in the unpacked sendmail-cf"
[ -x "$mailwarden" ] || abort "mailwarden binary not found at $mailwarden (set MAILWARDEN)"

w=$(mktemp -d "${TMPDIR:-/tmp}/mw-sendmail-test.XXXXXX")
chmod 0700 "$w"
mkdir -m 0700 "$w/queue" "$w/captured"

# ---------------------------------------------------------------- 3. capture server
python3 "$here/sendmail_capture.py" --listen 127.0.0.1:0 --dir "$w/captured" \
  --port-file "$w/sink.port" --max-seconds 900 >"$w/capture.log" 2>&1 &
pids+=($!)
wait_for 15 test -s "$w/sink.port" || abort "capture server did not start"
sink_port=$(cat "$w/sink.port")

# A free port for Sendmail (the kernel picks; a race with another program is unlikely).
sm_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# ---------------------------------------------------------------- 2. sendmail.cf
sm_host=sendmail.test.example
printf '127.0.0.1\t%s localhost sink.test.example\n' "$sm_host" >"$w/hosts"
printf 'hosts: files\n' >"$w/nsswitch.conf"
printf 'hosts\tfiles\naliases\tfiles\n' >"$w/service.switch"
: >"$w/aliases"

# Notes on the choices (each one a gotcha found the hard way):
# - SMART_HOST is a name from our hosts file, not [127.0.0.1]: Sendmail puts every
#   address of its own interfaces ([127.0.0.1] included) in class $=w, and a smart host
#   in $=w is "this host" and is dropped: Sendmail then delivers straight to the
#   recipient's domain (DNS), which bounced here.
# - The relay mailer (SMART_HOST's) and esmtp both connect to the sink's port.
# - no_default_msa: otherwise -bd also opens port 587 on every address.
# - accept_unresolvable_domains: otherwise MAIL FROM is checked against DNS.
# - nocanonify + hosts-only service switch + Dj: no DNS after the .cf is read.
# - ALIAS_FILE/HELP_FILE/PID/QUEUE/dead.letter: nothing under /etc/mail or /var.
# - DontBlameSendmail=TrustStickyBit: Sendmail checks every directory above the milter's
#   unix socket and refuses it ("local socket name ... unsafe: World writable
#   directory") under /tmp unless told that a sticky world-writable directory is fine.
# The milter lines are the shipped contrib/sendmail/sendmail.mc.snippet's, with our socket.
snippet=$top/contrib/sendmail/sendmail.mc.snippet
[ -f "$snippet" ] || abort "$snippet is missing"
milter_lines=$(grep -E '^(INPUT_MAIL_FILTER|define)\(' "$snippet" | sed "s|unix:/run/mailwarden/milter.sock|unix:$w/mw/m.sock|")
grep -q -F "INPUT_MAIL_FILTER(\`mailwarden', \`S=unix:$w/mw/m.sock, F=T," <<<"$milter_lines" ||
  abort "no INPUT_MAIL_FILTER(mailwarden, S=unix:/run/mailwarden/milter.sock, F=T, ...) line in $snippet"
cat >"$w/sendmail.mc" <<EOF
divert(-1)
mailwarden integration test: a private Sendmail on 127.0.0.1:$sm_port
divert(0)dnl
include(\`$cf_dir/m4/cf.m4')dnl
VERSIONID(\`mailwarden sendmail_test')dnl
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`$sm_host')dnl
define(\`QUEUE_DIR', \`$w/queue')dnl
define(\`confPID_FILE', \`$w/sendmail.pid')dnl
define(\`ALIAS_FILE', \`$w/aliases')dnl
define(\`HELP_FILE', \`$root/etc/mail/helpfile')dnl
define(\`confDEAD_LETTER_DROP', \`$w/dead.letter')dnl
define(\`confSERVICE_SWITCH_FILE', \`$w/service.switch')dnl
define(\`confHOSTS_FILE', \`$w/hosts')dnl
define(\`confBIND_OPTS', \`-DNSRCH -DEFNAMES')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`confTO_IDENT', \`0s')dnl
define(\`confLOG_LEVEL', \`9')dnl
define(\`confMILTER_LOG_LEVEL', \`6')dnl
define(\`SMART_HOST', \`[sink.test.example]')dnl
define(\`RELAY_MAILER_ARGS', \`TCP \$h $sink_port')dnl
define(\`ESMTP_MAILER_ARGS', \`TCP \$h $sink_port')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`promiscuous_relay')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`no_default_msa')dnl
DAEMON_OPTIONS(\`Port=$sm_port, Addr=127.0.0.1, Name=MTA')dnl
$milter_lines
MAILER(\`local')dnl
MAILER(\`smtp')dnl
EOF
# m4 warns on stderr about promiscuous_relay; keep it out of the way.
m4 "$w/sendmail.mc" >"$w/sendmail.cf" 2>"$w/m4.log" || abort "m4 failed: $(cat "$w/m4.log")"
grep -q "^O DaemonPortOptions=Port=$sm_port, Addr=127.0.0.1" "$w/sendmail.cf" ||
  abort "generated sendmail.cf has no DaemonPortOptions for 127.0.0.1:$sm_port"

# How sendmail is run: inside private UTS + mount namespaces when allowed.
cat >"$w/run-sendmail.sh" <<EOF
#!/bin/sh
# Runs inside unshare --uts --mount (private propagation): these mounts are ours alone.
set -e
hostname $sm_host
mount --bind $w/hosts /etc/hosts
if [ -e /etc/nsswitch.conf ]; then mount --bind $w/nsswitch.conf /etc/nsswitch.conf; fi
LD_LIBRARY_PATH=$libdir exec $sm_bin "\$@"
EOF
chmod 0755 "$w/run-sendmail.sh"
sm_cmd=(unshare --uts --mount --propagation private "$w/run-sendmail.sh")

# ---------------------------------------------------------------- 4. mailwarden
# Started as root, it drops to MW_MILTER_USER as in production; the socket's folder is
# that user's (Sendmail's daemon runs as root and reaches it).
MW_MILTER_USER=${MW_MILTER_USER:-mailwarden}
getent passwd "$MW_MILTER_USER" >/dev/null ||
  adduser --system --group --home /nonexistent --no-create-home --quiet "$MW_MILTER_USER"
install -d -o "$MW_MILTER_USER" -g "$MW_MILTER_USER" -m 0750 "$w/mw"
cat >"$w/mailwarden.yaml" <<EOF
milter:
  socket: "unix:$w/mw/m.sock"
  user: $MW_MILTER_USER
authserv_id: mx.test.example
log:
  target: stderr
  level: info
# No DNS here: this test is about Sendmail and the milter; SPF has its own tests.
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
EOF
"$mailwarden" run -c "$w/mailwarden.yaml" >"$w/mailwarden.log" 2>&1 &
mw_pid=$!
pids+=("$mw_pid")
if ! wait_for 20 test -S "$w/mw/m.sock"; then
  kill -0 "$mw_pid" 2>/dev/null || abort "mailwarden exited before opening $w/mw/m.sock"
  abort "mailwarden did not create $w/mw/m.sock in 20 s"
fi
pass "mailwarden listens on unix:$w/mw/m.sock"

# ---------------------------------------------------------------- 2b. sendmail -bD
# -bD is -bd in the foreground, so $! is the daemon itself (unshare and the wrapper
# exec into it); -X traces every SMTP line in and out for the logs on failure.
sm_listening() { ss -Hltn "sport = :$sm_port" | grep -q .; }
"${sm_cmd[@]}" -bD -q1m -C "$w/sendmail.cf" -X "$w/sendmail.trace" >"$w/sendmail.out" 2>&1 &
sm_pid=$!
pids+=("$sm_pid")
if ! wait_for 30 sm_listening; then
  kill -0 "$sm_pid" 2>/dev/null || abort "sendmail exited at start: $(cat "$w/sendmail.out")"
  abort "sendmail did not listen on 127.0.0.1:$sm_port in 30 s"
fi
wait_for 10 test -s "$w/sendmail.pid" || true
if [ "$(head -n 1 "$w/sendmail.pid" 2>/dev/null)" = "$sm_pid" ]; then
  pass "sendmail ($(sed -n 's/^\.\/sendmail-bin_\([^_]*\)_.*/\1/p' "$root/.mw-complete")) listens on 127.0.0.1:$sm_port (pid $sm_pid)"
else
  fail "sendmail pid file $w/sendmail.pid holds '$(head -n 1 "$w/sendmail.pid" 2>/dev/null)', expected $sm_pid"
fi

# ---------------------------------------------------------------- 5. one message
token="mw-sendmail-$(date +%s)-$$"
cat >"$w/body.txt" <<EOF
Hello from the mailwarden Sendmail integration test ($token).

.a line that starts with a dot (SMTP dot-stuffing both ways)
..and one with two
trailing spaces stay   
	a tab-indented line
The end.
EOF
{
  printf 'Authentication-Results: other.example; dkim=pass\n'
  printf 'Authentication-Results: mx.test.example; spf=pass\n'
  printf 'Received: from relay.sender.example (relay.sender.example [192.0.2.1])\n'
  printf '\tby other.example; Mon, 1 Jan 2024 00:00:00 +0000\n'
  printf 'From: Sender <sender@sender.example>\n'
  printf 'To: Recipient <rcpt@dest.example>\n'
  printf 'Subject: sendmail integration %s\n' "$token"
  printf 'Date: %s\n' "$(LC_ALL=C date -R)"
  printf 'Message-ID: <%s@sender.example>\n' "$token"
  printf 'MIME-Version: 1.0\n'
  printf 'Content-Type: text/plain; charset=us-ascii\n'
  printf '\n'
  # swaks always ends DATA with CRLF "." CRLF, so the file's own last newline would
  # become an extra empty line: leave it out.
  head -c -1 "$w/body.txt"
} >"$w/message.eml"

if timeout 120 swaks --server "127.0.0.1:$sm_port" --helo client.test.example \
  --from sender@sender.example --to rcpt@dest.example --timeout 60 \
  --data "@$w/message.eml" >"$w/swaks.log" 2>&1; then
  pass "swaks: Sendmail accepted the message ($(grep -o 'Message accepted for delivery' "$w/swaks.log" | head -n 1 || true))"
else
  abort "swaks failed (exit $?): $(grep -E '^<\*\*|^\*\*\*' "$w/swaks.log" | head -n 3 | tr '\n' ' ')"
fi

if wait_for 90 compgen -G "$w/captured/*.eml" >/dev/null; then
  pass "delivered to the capture server in $(($(date +%s) - started)) s since start"
else
  abort "nothing reached the capture server in 90 s"
fi

# ---------------------------------------------------------------- checks
n=$(compgen -G "$w/captured/*.eml" | wc -l)
if [ "$n" = 1 ]; then pass "exactly one message captured"; else fail "$n messages captured, expected 1"; fi
eml=$(compgen -G "$w/captured/*.eml" | head -n 1)
env=${eml%.eml}.env

if grep -qi '^RCPT To:<rcpt@dest.example>' "$env" && grep -qi '^MAIL From:<sender@sender.example>' "$env"; then
  pass "envelope kept (sender@sender.example -> rcpt@dest.example)"
else
  fail "envelope: $(tr '\n' ' ' <"$env")"
fi

# Headers unfolded, one per line as "Name: value" (value whitespace-collapsed), and the
# body exactly as captured (CRLF -> LF).
python3 - "$eml" "$w/headers.txt" "$w/body.got" <<'EOF'
import re, sys
raw = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n").decode("utf-8", "replace")
head, sep, body = raw.partition("\n\n")
fields = []
for line in head.split("\n"):
    if line[:1] in (" ", "\t") and fields:
        fields[-1] += " " + line.strip()
    else:
        fields.append(line)
with open(sys.argv[2], "w") as f:
    for fl in fields:
        name, _, value = fl.partition(":")
        f.write("%s: %s\n" % (name, re.sub(r"\s+", " ", value).strip()))
open(sys.argv[3], "w").write(body)
EOF

echo "---- captured header block"
cat "$w/headers.txt"
echo "----"

# Line number (1-based) of the first header matching an ERE, or 0.
line_of() { grep -n -m 1 -E "$1" "$w/headers.txt" | cut -d: -f1 || true; }
ar_ours=$(line_of '^Authentication-Results: mx\.test\.example; none$')
verdict=$(line_of '^X-Mailwarden-Verdict: accept$')
# The first header of the message as the client sent it.
first_client=$(line_of '^Authentication-Results: other\.example; dkim=pass$')

if [ -n "$ar_ours" ]; then
  pass "Authentication-Results: mx.test.example; none added (header line $ar_ours)"
else
  fail "no 'Authentication-Results: mx.test.example; none'"
fi
if [ -n "$verdict" ]; then
  pass "X-Mailwarden-Verdict: accept added (header line $verdict)"
else
  fail "no 'X-Mailwarden-Verdict: accept'"
fi
if [ -n "$ar_ours" ] && [ -n "$verdict" ] && [ -n "$first_client" ] &&
  [ "$ar_ours" -lt "$first_client" ] && [ "$verdict" -lt "$first_client" ]; then
  pass "mailwarden's headers are at the top, above every header the client sent"
else
  fail "mailwarden's headers are not above the client's headers (A-R line ${ar_ours:-none}, verdict line ${verdict:-none}, first client header line ${first_client:-none})"
fi
# Milter headers inserted at index 0 land above even Sendmail's own Received: header.
top_two=$(sed -n '1,2p' "$w/headers.txt" | cut -d: -f1 | sort | tr '\n' ' ')
if [ "$top_two" = "Authentication-Results X-Mailwarden-Verdict " ]; then
  pass "they are the first two header lines, above Sendmail's Received:"
else
  fail "the first two header lines are '$top_two', not mailwarden's"
fi

first_received=$(line_of '^Received: ')
last_ours=$(grep -n -E '^(X-Mailwarden-[A-Za-z-]*|Authentication-Results: mx\.test\.example;.*)' "$w/headers.txt" | tail -n 1 | cut -d: -f1 || true)
if [ -n "$last_ours" ] && [ -n "$first_received" ] && [ "$last_ours" -lt "$first_received" ]; then
  pass "the whole mailwarden block ($last_ours lines) is above Sendmail's Received: (line $first_received)"
else
  fail "mailwarden's block is not entirely above Sendmail's Received: (last mailwarden line ${last_ours:-none}, Received line ${first_received:-none})"
fi
# Byte for byte on the wire: with SMFIP_HDR_LEADSPC negotiated, exactly one space after
# the colon (no "Name:  value", no "Name:value") and CRLF line ends.
if grep -q -x -F "$(printf 'Authentication-Results: mx.test.example; none\r')" "$eml" &&
  grep -q -x -F "$(printf 'X-Mailwarden-Verdict: accept\r')" "$eml"; then
  pass "raw bytes: 'Name: value' with one space and CRLF for both headers"
else
  fail "raw bytes of mailwarden's headers differ: $(head -n 2 "$eml" | od -c | head -n 4 | tr -s ' ' | tr '\n' '|')"
fi

n_ours=$(grep -c -E '^Authentication-Results: mx\.test\.example;' "$w/headers.txt" || true)
if grep -q -E '^Authentication-Results: mx\.test\.example; .*spf=pass' "$w/headers.txt"; then
  fail "the forged 'Authentication-Results: mx.test.example; spf=pass' is still there"
else
  pass "the forged 'Authentication-Results: mx.test.example; spf=pass' is gone"
fi
if [ "$n_ours" = 1 ]; then
  pass "exactly one Authentication-Results for mx.test.example"
else
  fail "$n_ours Authentication-Results for mx.test.example, expected 1"
fi
n_foreign=$(grep -c -E '^Authentication-Results: other\.example; dkim=pass$' "$w/headers.txt" || true)
if [ "$n_foreign" = 1 ]; then
  pass "the foreign 'Authentication-Results: other.example; dkim=pass' is kept"
else
  fail "foreign Authentication-Results: found $n_foreign, expected 1"
fi
if grep -q -F "Subject: sendmail integration $token" "$w/headers.txt" &&
  grep -q -F "Message-ID: <$token@sender.example>" "$w/headers.txt"; then
  pass "Subject and Message-ID kept"
else
  fail "Subject or Message-ID changed"
fi

if cmp -s "$w/body.txt" "$w/body.got"; then
  pass "body intact ($(wc -c <"$w/body.txt") bytes, dot-stuffed lines included)"
else
  fail "body differs:"
  diff "$w/body.txt" "$w/body.got" | head -n 20 || true
fi

# mailwarden saw the message: its log names the queue id Sendmail gave it, and (when the
# line carries them) the header count and body size it was shown. Sendmail does not show
# milters its own Received:, and sends the body with CRLF line ends.
qid=$(sed -n 's/^<- *250 2\.0\.0 \([A-Za-z0-9]*\) Message accepted.*/\1/p' "$w/swaks.log" | tail -n 1)
scan_line=""
if [ -n "$qid" ]; then
  scan_line=$(grep -F "$qid" "$w/mailwarden.log" | grep -F 'action=' | tail -n 1 || true)
fi
if [ -n "$scan_line" ]; then
  pass "mailwarden logged queue id $qid: ${scan_line#*"$qid": }"
  want_body=$(($(wc -c <"$w/body.txt") + $(wc -l <"$w/body.txt")))
  want_headers=$(grep -c -v '^\s' <(sed '/^$/q' "$w/message.eml" | sed '$d'))
  got_body=$(sed -n 's/.* body=\([0-9]*\).*/\1/p' <<<"$scan_line")
  got_headers=$(sed -n 's/.* headers=\([0-9]*\).*/\1/p' <<<"$scan_line")
  if [ -n "$got_body" ] || [ -n "$got_headers" ]; then
    if [ "${got_body:-$want_body}" = "$want_body" ] && [ "${got_headers:-$want_headers}" = "$want_headers" ]; then
      pass "mailwarden was shown all $want_headers client headers and the whole body ($want_body bytes with CRLF)"
    else
      fail "mailwarden was shown headers=${got_headers:-?} body=${got_body:-?}, expected headers=$want_headers body=$want_body"
    fi
  fi
else
  fail "mailwarden's log has no scan line for queue id '${qid:-?}'"
fi

# ---------------------------------------------------------------- F=T: milter down
# With mailwarden stopped, F=T must make Sendmail answer 4xx (try later), not deliver.
stop_pid "$mw_pid"
if timeout 120 swaks --server "127.0.0.1:$sm_port" --helo client.test.example \
  --from sender@sender.example --to rcpt@dest.example --timeout 60 \
  --header "Subject: sent while mailwarden is down $token" >"$w/swaks-down.log" 2>&1; then
  fail "with mailwarden stopped Sendmail still accepted a message (F=T should tempfail)"
else
  reply=$(grep -E '^<\*\* +[45][0-9][0-9]' "$w/swaks-down.log" | head -n 1 | sed 's/^<\*\* *//')
  case "$reply" in
    4*) pass "with mailwarden stopped, F=T tempfails: $reply" ;;
    *) fail "with mailwarden stopped, expected a 4xx, got '${reply:-no reply}'" ;;
  esac
fi
sleep 1
n=$(compgen -G "$w/captured/*.eml" | wc -l)
if [ "$n" = 1 ]; then
  pass "nothing more was delivered while mailwarden was down"
else
  fail "$n messages captured after the mailwarden-down attempt, expected still 1"
fi

# ---------------------------------------------------------------- 6. stop by PID
stop_all
if kill -0 "$sm_pid" 2>/dev/null || kill -0 "$mw_pid" 2>/dev/null; then
  fail "a process survived the stop"
else
  pass "sendmail, mailwarden and the capture server stopped"
fi

[ "$failed" = 0 ] || dump_logs
finish
