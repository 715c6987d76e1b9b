#!/usr/bin/env bash
# tests/integration/milter_protocol_test.sh — mailwarden driven by our own MTA-side milter
# client (tests/tools/milter_client, protocol version 6 as Postfix speaks it):
#   * the protocol edge cases, one behaviour each: close without connect, abort mid-body,
#     many messages on one connection, 1-byte body chunks, header bytes at the limit,
#     and Sendmail's SMFIC_QUIT_NC session reuse;
#   * Authentication-Results inserted at the top, forged ones (our authserv-id) removed
#     highest index first, foreign ones kept;
#   * latency, unix socket vs TCP (N=500, one message at a time): FAIL if the TCP p50
#     from BODYEOB to the final reply is more than 2 ms above the unix one (that is what
#     a Nagle / delayed-ACK stall looks like: ~40 ms). For comparison it also measures
#     TCP with TCP_NODELAY set on the client side (Postfix does not set it).
# Needs: MAILWARDEN (default ./mailwarden) and MILTER_CLIENT (default
# tests/tools/milter_client next to it). Prints "N passed, N failed"; exit 1 on failure,
# 77 (skip) when the binaries are missing.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
MAILWARDEN=${MAILWARDEN:-$top/mailwarden}
MILTER_CLIENT=${MILTER_CLIENT:-$(dirname "$MAILWARDEN")/tests/tools/milter_client}
N=${MILTER_LATENCY_N:-500}
HEADER_LIMIT=4096

if [ ! -x "$MAILWARDEN" ] || [ ! -x "$MILTER_CLIENT" ]; then
  echo "skipped: need $MAILWARDEN and $MILTER_CLIENT (run make first)"
  exit 77
fi

# Started as root, mailwarden drops to MW_MILTER_USER as in production; the folder of
# its sockets is that user's (lib.sh: mw_milter_socket_dir; the client runs as root).
. "$top/tests/integration/lib.sh"
work=$(mktemp -d /tmp/mw-proto-test.XXXXXX)
mw_milter_socket_dir "$work"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]+"${pids[@]}"}"; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; }

# Runs the client with a time limit; its output goes to stdout.
client() { timeout 300 "$MILTER_CLIENT" "$@"; }

# write_config NAME SOCKET [EXTRA_YAML_LINE...] — prints the config path.
write_config() {
  local name=$1 socket=$2 conf
  shift 2
  conf="$work/$name.yaml"
  {
    echo "milter: {socket: \"$socket\", user: $MW_MILTER_USER, drain_timeout: 5}"
    echo "authserv_id: mx.test.example"
    echo "log: {target: stderr, level: info}"
    echo "spf: {enabled: false}  # protocol tests ask no DNS"
    echo "dkim: {enabled: false}"
    echo "dmarc: {enabled: false}"
    echo "arc: {enabled: false}"
    echo "reputation: {iprev: {enabled: false}}"
    echo "rules: {directories: []}"
    local line
    for line in "$@"; do
      echo "$line"
    done
  } >"$conf"
  echo "$conf"
}

# listening SPEC — whether something listens on unix:/path or inet:PORT@HOST.
listening() {
  local spec=$1 hex
  case "$spec" in
    unix:*) [ -S "${spec#unix:}" ] ;;
    inet:*)
      hex=$(printf ':%04X' "$(echo "${spec#inet:}" | cut -d@ -f1)")
      awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { found = 1 }
                       END { exit !found }' /proc/net/tcp /proc/net/tcp6 ;;
    *) return 1 ;;
  esac
}

# start_milter NAME CONF SPEC — starts mailwarden in the background, sets $milter_pid,
# and waits until it listens on SPEC. Returns 1 if it exits or does not listen in 10 s.
milter_pid=
start_milter() {
  local name=$1 conf=$2 spec=$3 _
  "$MAILWARDEN" run -c "$conf" >"$work/$name.log" 2>&1 &
  milter_pid=$!
  pids+=("$milter_pid")
  for _ in $(seq 1 100); do
    if ! kill -0 "$milter_pid" 2>/dev/null; then
      echo "mailwarden ($name) exited early:" >&2
      tail -5 "$work/$name.log" >&2
      return 1
    fi
    if listening "$spec"; then
      return 0
    fi
    sleep 0.1
  done
  kill -KILL "$milter_pid" 2>/dev/null || true
  wait "$milter_pid" 2>/dev/null || true
  echo "mailwarden ($name) did not start listening" >&2
  return 1
}

# stop_milter NAME — SIGTERM to $milter_pid; PASS if it exits 0 within 15 s.
stop_milter() {
  local name=$1 waited=0 rc=0
  if ! kill -0 "$milter_pid" 2>/dev/null; then
    fail "$name: mailwarden was no longer running"
    return 0
  fi
  kill -TERM "$milter_pid"
  while kill -0 "$milter_pid" 2>/dev/null && [ "$waited" -lt 150 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$milter_pid" 2>/dev/null; then
    kill -KILL "$milter_pid" 2>/dev/null || true
    fail "$name: mailwarden did not stop on SIGTERM"
  fi
  wait "$milter_pid" || rc=$?
  if [ "$rc" = 0 ]; then
    pass "$name: mailwarden alive until the end, exit 0 on SIGTERM"
  else
    fail "$name: mailwarden exit status $rc"
    tail -5 "$work/$name.log"
  fi
}

# A TCP port nobody listens on (from /proc/net/tcp{,6}); offset picks another one.
free_port() {
  local port=$(( 20000 + ($$ + ${1:-0} * 101) % 20000 )) tries hex
  for tries in $(seq 1 200); do
    hex=$(printf '%04X' "$port")
    if ! cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '{print $2}' | grep -q ":$hex\$"; then
      echo "$port"
      return 0
    fi
    port=$(( port + 1 ))
  done
  echo "no free TCP port after $tries tries" >&2
  return 1
}

# expect_edge NAME OUTPUT_FILE RC
expect_edge() {
  local name=$1 out=$2 rc=$3
  if [ "$rc" = 0 ] && grep -q "^edge $name: PASS\$" "$out"; then
    pass "edge $name"
  else
    fail "edge $name (exit $rc)"
    sed 's/^/    /' "$out" | cut -c1-200 | tail -20
  fi
}

# p50 VALUE from a "latency eob_to_reply_ms ..." line.
p50_of() { sed -n "s/^latency $2 .* p50=\([0-9.]*\) .*/\1/p" "$1"; }

# ---- messages ----------------------------------------------------------------------
cat >"$work/plain.eml" <<'EOF'
From: Alice <alice@example.org>
To: Bob <bob@mx.test.example>
Subject: protocol test
Date: Thu, 01 Jan 2026 00:00:00 +0000
Message-ID: <plain.1@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Hello Bob,

this is a plain message for the milter protocol test. It has a few lines so that
abort-mid-body has a middle to abort in, and one-byte-chunks has something to chop.

-- 
Alice
EOF

# Ours at index 1 and 3, a foreign one at index 2: remove 3, then 1; keep 2.
cat >"$work/forged.eml" <<'EOF'
Authentication-Results: mx.test.example; spf=pass smtp.mailfrom=example.org
Authentication-Results: other.example; spf=pass smtp.mailfrom=example.org
Received: from mail.example.net (mail.example.net [192.0.2.10])
	by mx.test.example with ESMTP id 4B0000000001
Authentication-Results: mx.test.example; spf=pass smtp.mailfrom=example.org
From: Mallory <mallory@example.org>
To: Bob <bob@mx.test.example>
Subject: forged results
Message-ID: <forged.1@example.org>

Trust me.
EOF

# ---- edge cases and header edits on the unix socket ------------------------------------
sock="$work/m.sock"
conf=$(write_config unix "unix:$sock")
if ! start_milter unix "$conf" "unix:$sock"; then
  fail "mailwarden starts on unix:$sock"
  echo "$passed passed, $failed failed"
  exit 1
fi
pass "mailwarden starts on unix:$sock"

for edge in close-without-connect abort-mid-body many-messages one-byte-chunks quit-nc; do
  rc=0
  client edge "$edge" --socket "unix:$sock" --eml "$work/plain.eml" >"$work/edge-$edge.out" 2>&1 || rc=$?
  expect_edge "$edge" "$work/edge-$edge.out" "$rc"
done

rc=0
client send --socket "unix:$sock" --eml "$work/plain.eml" >"$work/plain.out" 2>&1 || rc=$?
if [ "$rc" = 0 ] &&
  grep -q '^msg 1 insheader 0 Authentication-Results: mx.test.example;' "$work/plain.out" &&
  grep -q '^msg 1 reply continue$' "$work/plain.out"; then
  pass "plain message: Authentication-Results inserted at the top, reply continue"
else
  fail "plain message (exit $rc)"
  sed 's/^/    /' "$work/plain.out" | cut -c1-200
fi
if ! grep -q '^negotiated version 6 .*' "$work/plain.out"; then
  fail "negotiation: $(grep '^negotiated' "$work/plain.out" || echo none)"
else
  pass "negotiation: $(grep '^negotiated' "$work/plain.out")"
fi

rc=0
client send --socket "unix:$sock" --eml "$work/forged.eml" >"$work/forged.out" 2>&1 || rc=$?
edits=$(grep -E '^msg 1 (chgheader|insheader)' "$work/forged.out" | awk '{print $3, $4, $5}' | tr '\n' ';')
first_ins=$(grep -n '^msg 1 insheader' "$work/forged.out" | head -1 | cut -d: -f1)
last_chg=$(grep -n '^msg 1 chgheader' "$work/forged.out" | tail -1 | cut -d: -f1)
if [ "$rc" = 0 ] &&
  [ "$(grep -c '^msg 1 chgheader' "$work/forged.out")" = 2 ] &&
  grep -q '^msg 1 chgheader 3 Authentication-Results (delete)$' "$work/forged.out" &&
  grep -q '^msg 1 chgheader 1 Authentication-Results (delete)$' "$work/forged.out" &&
  [ "$(grep -n '^msg 1 chgheader 3 ' "$work/forged.out" | cut -d: -f1)" -lt \
    "$(grep -n '^msg 1 chgheader 1 ' "$work/forged.out" | cut -d: -f1)" ] &&
  [ -n "$first_ins" ] && [ "$last_chg" -lt "$first_ins" ] &&
  grep -q '^msg 1 insheader 0 Authentication-Results: mx.test.example;' "$work/forged.out"; then
  pass "forged Authentication-Results: chgheader 3 then 1 (foreign 2 kept), then insheader ($edits)"
else
  fail "forged Authentication-Results (exit $rc): $edits"
  sed 's/^/    /' "$work/forged.out" | cut -c1-200
fi
stop_milter unix

# ---- header bytes at the limit ----------------------------------------------------------
sock="$work/l.sock"
conf=$(write_config limit "unix:$sock" "limits: {header_bytes: $HEADER_LIMIT}")
if start_milter limit "$conf" "unix:$sock"; then
  rc=0
  client edge header-at-limit --socket "unix:$sock" --eml "$work/plain.eml" \
    --header-limit "$HEADER_LIMIT" >"$work/edge-header-at-limit.out" 2>&1 || rc=$?
  expect_edge header-at-limit "$work/edge-header-at-limit.out" "$rc"
  grep -E '^msg [12] (header bytes|insheader 0 X-Mailwarden-Verdict|reply)' \
    "$work/edge-header-at-limit.out" | cut -c1-160 | sed 's/^/    /' || true
  stop_milter limit
else
  fail "mailwarden starts with limits.header_bytes: $HEADER_LIMIT"
fi

# ---- latency: unix socket vs TCP ----------------------------------------------------------
sock="$work/p.sock"
conf=$(write_config perf-unix "unix:$sock")
sed -i 's/level: info/level: warn/' "$conf"  # no log line per message while measuring
unix_p50='' tcp_p50='' tcp_nd_p50=''
if start_milter perf-unix "$conf" "unix:$sock"; then
  rc=0
  client send --socket "unix:$sock" --eml "$work/plain.eml" --count "$N" --latency --quiet \
    >"$work/lat-unix.out" 2>&1 || rc=$?
  sed 's/^/    unix: /' "$work/lat-unix.out"
  unix_p50=$(p50_of "$work/lat-unix.out" eob_to_reply_ms)
  if [ "$rc" = 0 ] && [ -n "$unix_p50" ]; then
    pass "latency over unix: $N messages"
  else
    fail "latency over unix (exit $rc)"
  fi
  stop_milter perf-unix
else
  fail "mailwarden starts for the unix latency run"
fi

started=0
for attempt in 1 2 3 4 5; do
  port=$(free_port "$attempt") || break
  conf=$(write_config perf-tcp "inet:$port@127.0.0.1")
  sed -i 's/level: info/level: warn/' "$conf"
  if start_milter perf-tcp "$conf" "inet:$port@127.0.0.1"; then
    started=1
    break
  fi
done
if [ "$started" = 1 ]; then
  rc=0
  client send --socket "inet:$port@127.0.0.1" --eml "$work/plain.eml" --count "$N" --latency \
    --quiet >"$work/lat-tcp.out" 2>&1 || rc=$?
  sed 's/^/    tcp: /' "$work/lat-tcp.out"
  tcp_p50=$(p50_of "$work/lat-tcp.out" eob_to_reply_ms)
  if [ "$rc" = 0 ] && [ -n "$tcp_p50" ]; then
    pass "latency over TCP: $N messages"
  else
    fail "latency over TCP (exit $rc)"
  fi
  rc=0
  client send --socket "inet:$port@127.0.0.1" --eml "$work/plain.eml" --count "$N" --latency \
    --quiet --client-nodelay >"$work/lat-tcp-nd.out" 2>&1 || rc=$?
  sed 's/^/    tcp, client TCP_NODELAY: /' "$work/lat-tcp-nd.out"
  tcp_nd_p50=$(p50_of "$work/lat-tcp-nd.out" eob_to_reply_ms)
  stop_milter perf-tcp
else
  fail "mailwarden starts on a free TCP port"
fi

# The control: the same TCP run with mailwarden's TCP_NODELAY taken away (an LD_PRELOAD
# shim turns setsockopt(TCP_NODELAY) into a no-op). Informational, not counted: whether
# Nagle + delayed ACK stall depends on the kernel; on Linux expect ~40 ms.
shim_c="$work/nonodelay.c"
cat >"$shim_c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
int setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
  static int (*real)(int, int, int, const void *, socklen_t);
  if (real == 0) real = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
  if (level == IPPROTO_TCP && name == TCP_NODELAY) return 0;
  return real(fd, level, name, val, len);
}
EOF
if [ "$started" = 1 ] && "${CC:-cc}" -shared -fPIC -o "$work/nonodelay.so" "$shim_c" -ldl 2>/dev/null; then
  conf=$(write_config nagle "inet:$port@127.0.0.1")
  sed -i 's/level: info/level: warn/' "$conf"
  # (verify_asan_link_order=0: a sanitizer build accepts the preloaded shim)
  if ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
    LD_PRELOAD="$work/nonodelay.so" start_milter nagle "$conf" "inet:$port@127.0.0.1"; then
    client send --socket "inet:$port@127.0.0.1" --eml "$work/plain.eml" --count 100 --warmup 5 \
      --latency --quiet 2>&1 | sed 's/^/    tcp, mailwarden without TCP_NODELAY (control): /' || true
    stop_milter nagle
  fi
else
  echo "    (control without TCP_NODELAY skipped: no C compiler or no TCP run)"
fi

# SIGTERM with a message in flight: the message still gets its verdict, a message that
# starts after the signal gets 451 4.3.2, and mailwarden exits 0 once the first is done.
sock_drain="$work/drain.sock"
conf=$(write_config drain "unix:$sock_drain")
if start_milter drain "$conf" "unix:$sock_drain"; then
  client send --socket "unix:$sock_drain" --eml "$work/plain.eml" --pause-before-eom-ms 2000 \
    >"$work/drain-open.out" 2>&1 &
  open_pid=$!
  pids+=("$open_pid")
  sleep 0.7
  kill -TERM "$milter_pid"
  sleep 0.3
  client send --socket "unix:$sock_drain" --eml "$work/plain.eml" >"$work/drain-new.out" 2>&1 || true
  open_rc=0
  wait "$open_pid" || open_rc=$?
  if [ "$open_rc" = 0 ] && grep -q '^msg 1 insheader 0 Authentication-Results: mx.test.example' "$work/drain-open.out" \
    && grep -q '^msg 1 reply continue' "$work/drain-open.out"; then
    pass "SIGTERM: the message in flight got its headers and reply"
  else
    fail "SIGTERM: the message in flight was not finished (exit $open_rc)"
    tail -5 "$work/drain-open.out"
  fi
  if grep -q '^msg 1 reply replycode 451 4.3.2' "$work/drain-new.out"; then
    pass "SIGTERM: a message started during the drain gets 451 4.3.2"
  else
    fail "SIGTERM: a message started during the drain was not refused with 451 4.3.2"
    tail -5 "$work/drain-new.out"
  fi
  drain_rc=0
  for _ in $(seq 1 100); do
    kill -0 "$milter_pid" 2>/dev/null || break
    sleep 0.1
  done
  wait "$milter_pid" || drain_rc=$?
  if [ "$drain_rc" = 0 ]; then
    pass "SIGTERM: mailwarden exited 0 after the drain"
  else
    fail "SIGTERM: mailwarden exit status $drain_rc"
  fi
fi

# --- the life of the process: one instance per socket, errors that say why, quick stop ---
now_ms() { date +%s%3N; }
inode_of() { stat -c %i "$1" 2>/dev/null; }

# An idle milter is gone well within 2 s of SIGTERM (libmilter alone takes 3-7 s).
sock_life="$work/life.sock"
conf=$(write_config life "unix:$sock_life")
if start_milter life "$conf" "unix:$sock_life"; then
  first_pid=$milter_pid
  first_inode=$(inode_of "$sock_life")
  perms=$(stat -c '%a %U:%G' "$sock_life")
  if [ "$perms" = "660 $MW_MILTER_USER:$MW_MILTER_USER" ]; then
    pass "the socket is 0660 $MW_MILTER_USER:$MW_MILTER_USER (no chmod by the test)"
  else
    fail "the socket's mode and owner: $perms"
  fi
  # A second instance on the same socket refuses, names the first, and leaves its socket.
  rc=0
  timeout 20 "$MAILWARDEN" run -c "$conf" >"$work/second.out" 2>&1 || rc=$?
  if [ "$rc" = 1 ] && grep -q "another process (pid $first_pid: .*mailwarden run -c $conf) answers on unix:$sock_life" "$work/second.out" \
    && [ "$(inode_of "$sock_life")" = "$first_inode" ]; then
    pass "a second instance refuses: $(head -1 "$work/second.out" | cut -c 1-150)"
  else
    fail "a second instance on the same socket (exit $rc): $(head -2 "$work/second.out")"
  fi
  rc=0
  client send --socket "unix:$sock_life" --eml "$work/plain.eml" >"$work/life.out" 2>&1 || rc=$?
  if [ "$rc" = 0 ] && grep -q '^msg 1 reply continue' "$work/life.out"; then
    pass "the first instance still serves after the refused start"
  else
    fail "the first instance after a refused second start (exit $rc)"
  fi
  # Someone else's socket now at the path (an instance that replaced ours): our exit
  # must leave it alone.
  python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$work/other.sock"
  mv "$work/other.sock" "$sock_life"
  other_inode=$(inode_of "$sock_life")
  t0=$(now_ms)
  kill -TERM "$first_pid"
  rc=0
  for _ in $(seq 1 100); do
    kill -0 "$first_pid" 2>/dev/null || break
    sleep 0.02
  done
  wait "$first_pid" || rc=$?
  took=$(($(now_ms) - t0))
  if [ "$rc" = 0 ] && [ "$took" -lt 2000 ]; then
    pass "an idle milter exits ${took} ms after SIGTERM (status 0)"
  else
    fail "an idle milter after SIGTERM: status $rc after ${took} ms"
  fi
  if [ "$(inode_of "$sock_life")" = "$other_inode" ]; then
    pass "at exit it left the socket that replaced its own"
  else
    fail "at exit it removed or changed a socket that was not its own"
  fi
  rm -f "$sock_life"
else
  fail "mailwarden starts on unix:$sock_life"
fi

# Start-up failures name the path, the errno text and the remedy.
expect_start_error() {
  local name=$1 spec=$2 want=$3 rc=0 conf
  conf=$(write_config "$name" "$spec")
  timeout 20 "$MAILWARDEN" run -c "$conf" >"$work/$name.out" 2>&1 || rc=$?
  if [ "$rc" = 1 ] && grep -qF "$want" "$work/$name.out"; then
    pass "start error, $name: $(head -1 "$work/$name.out" | cut -c 1-160)"
  else
    fail "start error, $name (exit $rc): want '$want', got: $(head -2 "$work/$name.out")"
  fi
}
expect_start_error no-folder "unix:$work/nodir/m.sock" \
  "mailwarden: cannot open socket unix:$work/nodir/m.sock: No such file or directory: create the folder $work/nodir, owned by $MW_MILTER_USER"
ln -s /etc/passwd "$work/link.sock"
expect_start_error symlink "unix:$work/link.sock" \
  "mailwarden: cannot open socket unix:$work/link.sock: $work/link.sock is a symbolic link, not a socket"
if [ "$(readlink "$work/link.sock")" = /etc/passwd ] && [ "$(stat -c %U /etc/passwd)" = root ]; then
  pass "the symbolic link and its target are untouched"
else
  fail "the symbolic link at the socket path was followed or replaced"
fi
busy_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(1); time.sleep(30)' "$busy_port" &
busy_pid=$!
pids+=("$busy_pid")
for _ in $(seq 1 50); do listening "inet:$busy_port@127.0.0.1" && break; sleep 0.1; done
expect_start_error port-in-use "inet:$busy_port@127.0.0.1" \
  "mailwarden: cannot open socket inet:$busy_port@127.0.0.1: Address already in use: another process listens on it"
kill -TERM "$busy_pid" 2>/dev/null || true

if [ -n "$unix_p50" ] && [ -n "$tcp_p50" ]; then
  echo "p50 BODYEOB -> final reply: unix ${unix_p50} ms, TCP ${tcp_p50} ms," \
    "TCP with client TCP_NODELAY ${tcp_nd_p50:-?} ms"
  if awk -v t="$tcp_p50" -v u="$unix_p50" 'BEGIN { exit !(t <= u + 2.0) }'; then
    pass "TCP p50 ${tcp_p50} ms <= unix p50 ${unix_p50} ms + 2 ms (no Nagle stall at end of message)"
  else
    fail "TCP p50 ${tcp_p50} ms > unix p50 ${unix_p50} ms + 2 ms: end-of-message replies stall"
  fi
else
  fail "latency comparison: missing measurements"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
