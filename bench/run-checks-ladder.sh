#!/usr/bin/env bash
# bench/run-checks-ladder.sh -- where the checks' time goes (issue 7's profile table):
# bench/scan_bench on one message with the checks switched on one at a time, in process
# (no milter, no sockets, zone DNS), so each step's cost is the difference to the one
# before.
#
#   bench/run-checks-ladder.sh [--build DIR] [--out DIR] [--workload 4k-rsa2048|4k-ed25519|4k|100k]
#        [--repetitions R] [--no-callgrind] [--arc-only]
#
# Steps: MIME + header guard + verdict only; + SPF (MAIL FROM and HELO); + DKIM; + DMARC;
# + the shipped rules; + 1,000 generated rules (the whole bench configuration).
# Then the ARC step (issue 18), a table of its own: bench/arc_bench on the dkimpy chains
# of tests/integration/mw_arcchain.py (a 2-instance and a 1-instance chain, ~4 KB body)
# beside DKIM verification of the author's original message, in one run, keys from a
# ZoneResolver (CPU only). scan/ has no ARC stage yet, so ARC is not a rung of the
# ladder. Skipped, with a message, when /usr/bin/python3 lacks dkim or authres;
# --arc-only runs that table alone (a few seconds).
# Per step: CPU microseconds per message, the minimum and the median of R (default 15)
# Google Benchmark repetitions (the minimum is the least disturbed by the VM's
# neighbours); with valgrind installed, also instructions per message from callgrind,
# which do not move between runs: (Ir of 101 messages - Ir of 1) / 100, warm caches,
# Hyperscan's AVX2 code (valgrind has no AVX-512). OUT/ladder.md is the table;
# OUT/raw/ the configs and outputs. No root needed. Bounds: every program under
# `timeout`, fixed iteration counts.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../tests/integration/lib.sh"
. "$HERE/lib-bench.sh"

BUILD=$PWD
OUT=/tmp/mw-ladder-$(date +%Y%m%d-%H%M%S)
WORKLOAD=4k-rsa2048
REPS=15
CALLGRIND=1
ARC_ONLY=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--build) BUILD=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--workload) WORKLOAD=$2; shift 2 ;;
	--repetitions) REPS=$2; shift 2 ;;
	--no-callgrind) CALLGRIND=0; shift ;;
	--arc-only) ARC_ONLY=1; shift ;;
	*) sed -n '2,24p' "$0" >&2; exit 2 ;;
	esac
done
BUILD=$(cd "$BUILD" && pwd)
export MW_BUILD_DIR=$BUILD
SCAN=$BUILD/bench/scan_bench
[[ $ARC_ONLY == 1 || -x $SCAN ]] || { mw_log "missing $SCAN (make bench/scan_bench in $BUILD)"; exit 2; }
if [[ $CALLGRIND == 1 ]] && ! command -v valgrind >/dev/null; then
	mw_log "valgrind not installed: CPU times only"
	CALLGRIND=0
fi
trap 'mw_cleanup' EXIT

mkdir -p "$OUT/raw"
mw_workdir W
mkdir -p "$W/msgs"
ZONE=$W/bench.zone
bench_zone "$ZONE"
bench_make_messages "$W/msgs"
bench_sign_messages "$W/msgs" "$ZONE"
MSG=$W/msgs/$WORKLOAD.eml
[[ -f $MSG ]] || { mw_log "unknown workload $WORKLOAD"; exit 2; }
BENCH_RULES_CACHE=$W/rules-cache
mkdir -p "$BENCH_RULES_CACHE"
bench_machine "$OUT/machine.txt"
ENVELOPE=(--client-ip 192.0.2.10 --helo "$BENCH_HELO" --mail-from "$BENCH_FROM" --rcpt "$BENCH_RCPT")

# step NAME SPF DKIM DMARC RULES: one row.
step() {
	local name=$1 config=$OUT/raw/$1.yaml
	bench_rules_dirs "$5" "$W"
	BENCH_SPF=$2 BENCH_DKIM=$3 BENCH_DMARC=$4 bench_mw_config "$config" "unix:$W/unused.sock" zone "$ZONE"
	timeout 600 "$SCAN" "$config" "$MSG" "${ENVELOPE[@]}" --benchmark_repetitions="$REPS" \
		--benchmark_min_time=0.2 --benchmark_format=json >"$OUT/raw/$name.json" 2>"$OUT/raw/$name.err" || {
		mw_log "scan_bench $name failed: $(tail -n 3 "$OUT/raw/$name.err")"
		return 1
	}
	local ir="-"
	if [[ $CALLGRIND == 1 ]]; then
		local n ir1 ir101
		for n in 1 101; do
			timeout 900 valgrind --tool=callgrind --toggle-collect='*BM_Scan*' \
				--callgrind-out-file="$OUT/raw/$name.$n.callgrind" "$SCAN" "$config" "$MSG" "${ENVELOPE[@]}" \
				--iterations "$n" >"$OUT/raw/$name.$n.out" 2>"$OUT/raw/$name.$n.err"
		done
		ir1=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$OUT/raw/$name.1.err")
		ir101=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$OUT/raw/$name.101.err")
		ir=$(( (ir101 - ir1) / 100 ))
	fi
	"$MW_PYTHON" - "$OUT/raw/$name.json" "$name" "$ir" >>"$OUT/raw/rows.tsv" <<'EOF'
import json, statistics, sys
d = json.load(open(sys.argv[1]))
cpu = sorted(b["cpu_time"] for b in d["benchmarks"] if b.get("run_type") == "iteration")
print(f"{sys.argv[2]}\t{cpu[0]:.1f}\t{statistics.median(cpu):.1f}\t{sys.argv[3]}")
EOF
	mw_log "$name: $(tail -n 1 "$OUT/raw/rows.tsv")"
}

# arc_step: the ARC table (issue 18), appended to OUT/ladder.md.
arc_step() {
	local arc=$BUILD/bench/arc_bench dkimpy=/usr/bin/python3
	if [[ ! -x $arc ]]; then
		mw_log "no $arc (make bench/arc_bench): ARC step skipped"
		return 0
	fi
	if ! "$dkimpy" -c 'import dkim, authres' 2>/dev/null; then
		mw_log "$dkimpy lacks dkim or authres (python3-dkim, python3-authres): ARC step skipped"
		return 0
	fi
	timeout 120 "$dkimpy" "$HERE/../tests/integration/mw_arcchain.py" --keys "$HERE/../tests/keys" \
		--out "$W/arc" || { mw_log "mw_arcchain.py failed"; return 1; }
	cp "$W/arc/two-hop.eml" "$OUT/raw/arc-two-hop.eml"
	timeout 600 "$arc" "$W/arc" --benchmark_repetitions="$REPS" --benchmark_min_time=0.2 \
		--benchmark_format=json >"$OUT/raw/arc.json" 2>"$OUT/raw/arc.err" || {
		mw_log "arc_bench failed: $(tail -n 3 "$OUT/raw/arc.err")"
		return 1
	}
	"$MW_PYTHON" - "$OUT/raw/arc.json" >>"$OUT/ladder.md" <<'EOF'
import json, statistics, sys
d = json.load(open(sys.argv[1]))
what = {
    "BM_ArcVerify/two-hop": ("ARC, 2-instance chain (two-hop.eml)", "2 AMS + 2 AS"),
    "BM_ArcVerify/one-hop": ("ARC, 1-instance chain (list.eml)", "1 AMS + 1 AS"),
    "BM_DkimVerify/original": ("DKIM, the author's signature (original.eml; dkim/'s key cache warm)",
                               "1 DKIM-Signature"),
    "BM_Reference_DecodeKey/rsa2048": ("reference: OpenSSL d2i_PUBKEY of one 2048-bit key", "none"),
}
runs = {}
for b in d["benchmarks"]:
    if b.get("run_type") == "iteration":
        if b.get("error_occurred"):
            sys.exit(f"{b['name']}: {b.get('error_message')}")
        runs.setdefault(b["run_name"], []).append(b)
print("\n### ARC beside DKIM (bench/arc_bench, dkimpy chains, rsa-sha256 2048, zone DNS)\n")
print("| message | signatures verified | body bytes | CPU µs/msg min | median |")
print("|---|---|---:|---:|---:|")
for name, (label, sigs) in what.items():
    rs = runs.get(name)
    if not rs:
        continue
    cpu = sorted(r["cpu_time"] for r in rs)
    body = int(rs[0].get("body_bytes", 0)) or "–"
    print(f"| {label} | {sigs} | {body} | {cpu[0]:.1f} | {statistics.median(cpu):.1f} |")
EOF
}

if [[ $ARC_ONLY == 1 ]]; then
	: >"$OUT/ladder.md"
	arc_step
	cat "$OUT/ladder.md"
	mw_log "results in $OUT"
	exit 0
fi

: >"$OUT/raw/rows.tsv"
step "mime-verdict-only" false false false none
step "+spf" true false false none
step "+dkim" true true false none
step "+dmarc" true true true none
step "+shipped-rules" true true true shipped
step "+1000-rules" true true true shipped+1000

"$MW_PYTHON" - "$OUT/raw/rows.tsv" "$WORKLOAD" >"$OUT/ladder.md" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
print(f"### The checks one at a time ({sys.argv[2]}, scan_bench, zone DNS)\n")
print("| step | CPU µs/msg min | median | step (min) | instructions/msg | step | share of all |")
print("|---|---:|---:|---:|---:|---:|---:|")
prev_t = prev_i = None
total_i = int(rows[-1][3]) if rows[-1][3] != "-" else None
for name, tmin, tmed, ir in rows:
    t = float(tmin)
    dt = "–" if prev_t is None else f"{t - prev_t:+.1f}"
    if ir == "-":
        print(f"| {name} | {tmin} | {tmed} | {dt} | – | – | – |")
    else:
        i = int(ir)
        base = i if prev_i is None else i - prev_i
        di = f"{i:,}" if prev_i is None else f"{i - prev_i:+,}"
        share = f"{100 * base / total_i:.0f} %" if total_i else "–"
        print(f"| {name} | {tmin} | {tmed} | {dt} | {i:,} | {di} | {share} |")
        prev_i = i
    prev_t = t
EOF
arc_step
cat "$OUT/ladder.md"
mw_log "results in $OUT"
