#!/usr/bin/env bash
# bench/run-checks-ladder.sh -- where the checks' time goes (issue 7's profile table):
# bench/scan_bench on one message with the checks switched on one at a time, in process
# (no milter, no sockets, zone DNS), so each step's cost is the difference to the one
# before.
#
#   bench/run-checks-ladder.sh [--build DIR] [--out DIR] [--workload 4k-rsa2048|4k-ed25519|4k|100k]
#        [--repetitions R] [--no-callgrind]
#
# Steps: MIME + header guard + verdict only; + SPF (MAIL FROM and HELO); + DKIM; + DMARC;
# + the shipped rules; + 1,000 generated rules (the whole bench configuration).
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
while [[ $# -gt 0 ]]; do
	case $1 in
	--build) BUILD=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--workload) WORKLOAD=$2; shift 2 ;;
	--repetitions) REPS=$2; shift 2 ;;
	--no-callgrind) CALLGRIND=0; shift ;;
	*) sed -n '2,18p' "$0" >&2; exit 2 ;;
	esac
done
BUILD=$(cd "$BUILD" && pwd)
export MW_BUILD_DIR=$BUILD
SCAN=$BUILD/bench/scan_bench
[[ -x $SCAN ]] || { mw_log "missing $SCAN (make bench/scan_bench in $BUILD)"; exit 2; }
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
cat "$OUT/ladder.md"
mw_log "results in $OUT"
