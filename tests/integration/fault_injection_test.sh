#!/usr/bin/env bash
# tests/integration/fault_injection_test.sh — issue 16, "nothing kills the milter":
# tests/tools/fault_milter (mailwarden's milter library with an allocation fault injected
# per session and event; a test program, never installed) serves sessions from
# tests/tools/milter_client. For each libmilter callback — negotiate, connect, helo, mail,
# rcpt, header, eoh, body, eom — one session has its N-th allocation in that callback
# fail (several N each), while other sessions run concurrently (negotiation: before the
# load starts, see below). Checks:
#   * the fault fired (the milter's "fault-inject: ... failed" line: no vacuous pass);
#   * that message got 451 (the failure policy's reply);
#   * every concurrent session got its normal verdict (continue, with the headers);
#   * the process is still alive afterwards, serves a normal message, counted the
#     faults in internal_errors and stops cleanly on SIGTERM.
# Needs root (mailwarden drops to its user). Prints "N passed, N failed"; exit 1 on
# failure, 77 (skip) when the binaries are missing.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
MAILWARDEN=${MAILWARDEN:-$top/mailwarden}
build=$(dirname "$MAILWARDEN")
FAULT_MILTER=${FAULT_MILTER:-$build/tests/tools/fault_milter}
MILTER_CLIENT=${MILTER_CLIENT:-$build/tests/tools/milter_client}

if [ ! -x "$FAULT_MILTER" ] || [ ! -x "$MILTER_CLIENT" ]; then
  echo "skipped: need $FAULT_MILTER and $MILTER_CLIENT (run make first)"
  exit 77
fi
if [ "$(id -u)" != 0 ]; then
  echo "skipped: needs root (the milter drops to its user)"
  exit 77
fi

# Started as root, mailwarden drops to MW_MILTER_USER as in production; the folder of
# its sockets is that user's (lib.sh: mw_milter_socket_dir; the client runs as root).
. "$top/tests/integration/lib.sh"
work=$(mktemp -d /tmp/mw-fault-test.XXXXXX)
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

socket="unix:$work/milter.sock"
conf="$work/mailwarden.yaml"
cat >"$conf" <<YAML
milter: {socket: "$socket", user: $MW_MILTER_USER, drain_timeout: 5}
authserv_id: mx.test.example
log: {target: stderr, level: info}
spf: {enabled: false}   # no DNS in this test
dkim: {enabled: false}
dmarc: {enabled: false}
arc: {enabled: false}
reputation: {iprev: {enabled: false}}
rules: {directories: ["$top/rules"], cache_dir: ""}
YAML

log="$work/milter.log"
MW_FAULT_DIR=$work "$FAULT_MILTER" "$conf" >"$log" 2>&1 &
milter_pid=$!
pids+=("$milter_pid")
for _ in $(seq 1 100); do
  [ -S "$work/milter.sock" ] && break
  kill -0 "$milter_pid" 2>/dev/null || break
  sleep 0.1
done
if [ ! -S "$work/milter.sock" ]; then
  echo "fault_milter did not start:"; tail -5 "$log"
  echo "0 passed, 1 failed"
  exit 1
fi

client() { timeout 120 "$MILTER_CLIENT" send --socket "$socket" "$@"; }

# One faulty message: EVENT N [client options...]
planned=0
faulty() {
  local event=$1 n=$2 out before after
  shift 2
  planned=$((planned + 1))
  before=$(grep -c "fault-inject: $event allocation $n failed" "$log" || true)
  out=$(client "$@" 2>&1) || true
  after=$(grep -c "fault-inject: $event allocation $n failed" "$log" || true)
  if [ "$after" -gt "$before" ]; then
    pass "$event #$n: the fault fired"
  else
    fail "$event #$n: the fault did not fire ($(grep "fault-inject: $event" "$log" | tail -1))"
  fi
  if grep -q "^msg 1 reply replycode 451 " <<<"$out"; then
    pass "$event #$n: that message got 451"
  else
    fail "$event #$n: that message got: $(grep '^msg 1 reply' <<<"$out" || echo "$out")"
  fi
  if kill -0 "$milter_pid" 2>/dev/null; then
    pass "$event #$n: the milter is alive"
  else
    fail "$event #$n: the milter died"
  fi
}

# Negotiation carries nothing the test could pick a session by: the trigger is a file the
# next negotiating session removes, so this one runs before the concurrent load starts.
: >"$work/negotiate"
faulty negotiate 1
if [ -e "$work/negotiate" ]; then
  fail "negotiate: the trigger file was not consumed"
fi

# Background load: 4 clients x 25 messages (5 per connection, each held open 100 ms before
# end of message), all through the faults.
load_pids=()
for i in 1 2 3 4; do
  client --count 25 --per-connection 5 --pause-before-eom-ms 100 \
    --mail-from "load$i@example.org" >"$work/load$i.out" 2>&1 &
  load_pids+=("$!")
done

# N: the first allocation of the callback, and a later one where the callback has one.
for n in 1 2; do
  faulty connect "$n" --client-name "fault-connect-$n.example.net"
  faulty rcpt "$n" --mail-from "fault-rcpt-$n@example.org"
done
faulty helo 1 --helo "fault-helo-1.example.net"
for n in 1 3; do
  for event in mail header eoh body eom; do
    faulty "$event" "$n" --mail-from "fault-$event-$n@example.org"
  done
done
for event in mail header eom; do
  faulty "$event" 10 --mail-from "fault-$event-10@example.org"
done

running=0
for pid in "${load_pids[@]}"; do
  if kill -0 "$pid" 2>/dev/null; then running=$((running + 1)); fi
done
if [ "$running" -gt 0 ]; then
  pass "the faults happened while $running load client(s) were still sending"
else
  fail "the load was over before the faults ended: nothing concurrent was shown"
fi
for i in "${!load_pids[@]}"; do
  rc=0
  wait "${load_pids[$i]}" || rc=$?
  n=$((i + 1))
  ok=$(grep -c '^msg [0-9]* reply continue$' "$work/load$n.out" || true)
  ar=$(grep -c '^msg [0-9]* insheader 0 Authentication-Results: mx.test.example' "$work/load$n.out" || true)
  if [ "$rc" = 0 ] && [ "$ok" = 25 ] && [ "$ar" = 25 ]; then
    pass "concurrent client $n: 25/25 messages got their normal verdict"
  else
    fail "concurrent client $n: exit $rc, $ok/25 continue, $ar/25 with Authentication-Results"
  fi
done

out=$(client --mail-from "after@example.org" 2>&1) || true
if grep -q '^msg 1 reply continue$' <<<"$out"; then
  pass "after the faults: a normal message is accepted"
else
  fail "after the faults: $(grep '^msg 1 reply' <<<"$out" || echo "$out")"
fi

kill -TERM "$milter_pid"
rc=0
wait "$milter_pid" || rc=$?
if [ "$rc" = 0 ]; then
  pass "SIGTERM: clean exit"
else
  fail "SIGTERM: exit status $rc"
fi
faults=$(grep -c 'fault-inject: .* failed' "$log" || true)
errors=$(sed -n 's/.*internal_errors \([0-9]*\).*/\1/p' "$log" | tail -1)
if [ -n "$errors" ] && [ "$errors" -ge "$faults" ] && [ "$faults" = "$planned" ]; then
  pass "$faults of $planned planned faults fired, internal_errors $errors"
else
  fail "$faults of $planned planned faults fired, internal_errors ${errors:-missing}"
fi
if grep -q 'not reached' "$log"; then
  fail "a planned fault was never reached: $(grep 'not reached' "$log" | head -3 | tr '\n' ' ')"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
