#!/usr/bin/env bash
# bench/smoke_test.sh -- `make check`: the benchmark's two programs work together.
# ref_milter listens on a unix socket in a temp dir; milter_load sends 40 messages over
# 4 connections, 5 per connection, with ref_milter's PID for /proc sampling, and must
# report 40 accepts, 40 added X-Ref-Milter headers, no errors, the negotiated flags,
# ordered latencies and /proc readings. A socket nobody listens on must give counted
# errors and exit 1 (not a hang or a crash), bad usage exit 2. Everything it starts is
# stopped by PID; every run is bounded by `timeout`. An open-loop run (--rate) must be
# paced and report its due->reply latencies; --dump-mods must keep the first messages'.
set -euo pipefail

BUILD=${MW_BUILD_DIR:-.}
LOAD=$BUILD/bench/milter_load
REF=$BUILD/bench/ref_milter
for b in "$LOAD" "$REF"; do
	[[ -x $b ]] || { echo "SKIP: $b not built"; exit 77; }
done
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/mw-bench-smoke.XXXXXX")
REF_PID=""
cleanup() {
	if [[ -n $REF_PID ]]; then
		kill -TERM "$REF_PID" 2>/dev/null || true
		wait "$REF_PID" 2>/dev/null || true
	fi
	rm -rf -- "$T"
}
trap cleanup EXIT

# A message with a known body: 3 lines of 10 bytes + CRLF.
printf 'From: a@example.org\r\nTo: b@example.net\r\nSubject: smoke\r\n\r\n0123456789\r\n0123456789\r\n0123456789\r\n' >"$T/m.eml"

"$REF" -p "unix:$T/ref.sock" -T 30 2>"$T/ref.err" &
REF_PID=$!
for _ in $(seq 50); do
	[[ -S $T/ref.sock ]] && break
	sleep 0.1
done
[[ -S $T/ref.sock ]] || { echo "FAIL: ref_milter did not listen"; cat "$T/ref.err"; exit 1; }

rc=0
timeout 60 "$LOAD" --socket "unix:$T/ref.sock" --message "$T/m.eml" --messages 40 \
	--connections 4 --per-connection 5 --warmup 4 --pid "$REF_PID" --json "$T/out.json" \
	--label smoke >"$T/table.txt" || rc=$?
cat "$T/table.txt"
[[ $rc -eq 0 ]] || { echo "FAIL: milter_load exited $rc"; exit 1; }

python3 - "$T/out.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
want = {
    "completed": 40, "errors": 0, "ok": True,
    "replies": {"accept": 40}, "modifications": {"addheader": 40},
    "headers_added": {"X-Ref-Milter": 40},
}
bad = [f"{k}: got {r.get(k)!r} want {v!r}" for k, v in want.items() if r.get(k) != v]
# 5 per connection; a worker whose last connection ran out of messages early has one
# short connection: 8 to 8 + 4 workers - 1.
if not 8 <= r["connections_opened"] <= 11:
    bad.append(f"connections_opened: got {r['connections_opened']} want 8..11")
m = r.get("milter", {})
if not (m.get("alive_at_end") and m.get("rss_kib_max", 0) > 0 and m.get("threads_max", 0) >= 1):
    bad.append(f"milter /proc readings: {m!r}")
if not (0 < r["latency_ms"]["p50"] <= r["latency_ms"]["p99"] <= r["latency_ms"]["max"]):
    bad.append(f"latency not ordered: {r['latency_ms']!r}")
if not r["negotiated"].startswith("version 6 actions 0x1 "):
    bad.append(f"negotiated: {r['negotiated']!r}")
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
echo "PASS: 40 messages through ref_milter, counts and /proc readings as expected"

# --json - puts the JSON alone on stdout.
rc=0
timeout 60 "$LOAD" --socket "unix:$T/ref.sock" --message "$T/m.eml" --messages 1 \
	--connections 1 --json - >"$T/one.json" 2>/dev/null || rc=$?
[[ $rc -eq 0 ]] || { echo "FAIL: single message exited $rc"; exit 1; }
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["completed"] == 1' "$T/one.json" ||
	{ echo "FAIL: --json - output"; exit 1; }
echo "PASS: --json - prints one JSON object"

# Open loop: 20 messages offered at 100/s over 2 connections take at least the 0.19 s
# the schedule spans (the last is due at 19/100 s), report due->reply percentiles, and
# --dump-mods keeps the first 3 messages' modifications in full.
rc=0
timeout 60 "$LOAD" --socket "unix:$T/ref.sock" --message "$T/m.eml" --messages 20 \
	--connections 2 --rate 100 --dump-mods "$T/mods.jsonl" --dump-count 3 \
	--json "$T/rate.json" >"$T/rate.txt" 2>&1 || rc=$?
[[ $rc -eq 0 ]] || { echo "FAIL: --rate run exited $rc"; cat "$T/rate.txt"; exit 1; }
python3 - "$T/rate.json" "$T/mods.jsonl" <<'PY' || { cat "$T/rate.txt"; exit 1; }
import json, sys
r = json.load(open(sys.argv[1]))
lines = [json.loads(l) for l in open(sys.argv[2])]
bad = []
if r["completed"] != 20 or r["rate"] != 100:
    bad.append(f"completed {r['completed']} rate {r['rate']}")
if r["wall_s"] < 0.19:
    bad.append(f"20 messages at 100/s done in {r['wall_s']} s: not paced")
s = r["sched_to_reply_ms"]
if not (0 < s["p50"] <= s["p99"] <= s["max"]):
    bad.append(f"sched_to_reply_ms not ordered: {s!r}")
if [l["number"] for l in lines] != [0, 1, 2]:
    bad.append(f"dump numbers {[l['number'] for l in lines]}")
if not all(any(m["name"] == "X-Ref-Milter" for m in l["modifications"]) for l in lines):
    bad.append(f"dump lacks X-Ref-Milter: {lines!r}")
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
echo "PASS: --rate paces an open loop and reports due->reply; --dump-mods keeps the first 3"

# Nobody listening: every message is an error, exit status 1, quickly.
rc=0
timeout 60 "$LOAD" --socket "unix:$T/nobody.sock" --message "$T/m.eml" --messages 5 \
	--connections 2 >"$T/refused.txt" 2>&1 || rc=$?
if [[ $rc -ne 1 ]] || ! grep -q 'errors 5' "$T/refused.txt"; then
	echo "FAIL: refused connections: exit $rc"; cat "$T/refused.txt"; exit 1
fi
echo "PASS: refused connections are 5 counted errors, exit 1"

# Bad usage: exit 2.
rc=0
"$LOAD" --socket "unix:$T/ref.sock" >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] || { echo "FAIL: missing --message gave exit $rc, want 2"; exit 1; }
echo "PASS: bad usage exits 2"
