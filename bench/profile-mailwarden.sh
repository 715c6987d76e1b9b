#!/usr/bin/env bash
# bench/profile-mailwarden.sh -- mailwarden alone under the peers bench's conditions
# (issue 21, part 2): nsd in a network namespace of ours, the signed 4k-rsa2048 and
# 4k-ed25519 messages, bench/milter_load with 10 connections, one message per
# connection, the shipped rules. Several mailwarden binaries run side by side on the
# same nsd and are measured alternating (run r starts at binary r), so that a before/
# after comparison on a busy machine sees the same neighbours.
#
#   sudo bench/profile-mailwarden.sh BUILD OUT RUNS N PERF NAME=BINARY...
#
# BUILD: the configured build directory (bench/milter_load, tests/tools/dkim_sign);
# OUT: results; RUNS measured runs of N messages per binary and workload, after a
# 300-message warmup; PERF=1: first `perf record -g` (dwarf) on the first binary for N
# messages per workload, OUT/perf-WORKLOAD.data. OUT/cpu.txt: one line per run with the
# milter's utime+stime per message (/proc, all threads); OUT/NAME-WORKLOAD.mods.jsonl:
# the first 3 messages' modifications (compare them between binaries).
# Bounds: every milter_load has --duration-limit 300 and `timeout 400`; everything
# started is stopped by PID (tests/integration/lib.sh), the namespace removed on exit.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$HERE/../tests/integration/lib.sh"
# shellcheck source=lib-bench.sh
. "$HERE/lib-bench.sh"
[[ $# -ge 6 ]] || { sed -n '2,18p' "$0" >&2; exit 2; }
mw_require_root
BUILD=$1 OUT=$2 RUNS=$3 N=$4 PERF=$5; shift 5
BUILD=$(cd "$BUILD" && pwd)
export MW_BUILD_DIR=$BUILD
BENCH_LOAD=$BUILD/bench/milter_load
declare -A BIN PID SOCK; NAMES=()
for a in "$@"; do BIN[${a%%=*}]=${a#*=}; NAMES+=("${a%%=*}"); done
BENCH_MW=${BIN[${NAMES[0]}]}
cleanup() { local rc=$?; set +e; mw_cleanup; bench_ns_cleanup; exit $rc; }
trap cleanup EXIT
mkdir -p "$OUT"
mw_workdir W
mkdir -p "$W/msgs" "$W/nsd"
ZONE=$W/bench.zone
bench_zone "$ZONE"
bench_make_messages "$W/msgs" >/dev/null
bench_sign_messages "$W/msgs" "$ZONE"
bench_rules_dirs shipped "$W"
BENCH_RULES_CACHE=$W/rules-cache; mkdir -p "$BENCH_RULES_CACHE"
# shellcheck disable=SC2034 # read by bench_nsd_start (lib-bench.sh)
BENCH_NSD_SERVER_EXTRA=$'  rrl-ratelimit: 0\n'
bench_nsd_start "$W/nsd" "$ZONE"
for n in "${NAMES[@]}"; do
  # shellcheck disable=SC2034 # read by bench_mw_start (lib-bench.sh)
  BENCH_MW=${BIN[$n]}
  mkdir -p "$W/$n"
  bench_mw_config "$W/$n/mw.yaml" "unix:$W/$n.sock" nsd "$ZONE" "$BENCH_NSD_PORT"
  bench_mw_start "$W/$n" "$W/$n/mw.yaml" "unix:$W/$n.sock"
  PID[$n]=$BENCH_MW_PID; SOCK[$n]=unix:$W/$n.sock
done
ld() { # name msg n [json]
  bench_in_ns timeout 400 "$BENCH_LOAD" --socket "${SOCK[$1]}" --message "$2" --messages "$3" \
    --connections 10 --duration-limit 300 --mail-from "$BENCH_FROM" --rcpt "$BENCH_RCPT" --helo "$BENCH_HELO" ${4:+--dump-mods "$4" --dump-count 3} >/dev/null 2>&1
}
for wl in "${BENCH_SIGNED[@]}"; do
  for n in "${NAMES[@]}"; do ld "$n" "$W/msgs/$wl.eml" 300 "$OUT/$n-$wl.mods.jsonl"; done
  if [[ $PERF == 1 ]]; then
    n=${NAMES[0]}
    perf record -F 2000 -g --call-graph dwarf,16384 -p "${PID[$n]}" -o "$OUT/perf-$wl.data" 2>"$OUT/perf-$wl.log" &
    pp=$!; sleep 1
    ld "$n" "$W/msgs/$wl.eml" "$N"
    kill -INT $pp; wait $pp || true
  fi
  for ((r = 0; r < RUNS; r++)); do
    for ((i = 0; i < ${#NAMES[@]}; i++)); do
      n=${NAMES[(i + r) % ${#NAMES[@]}]}
      t0=$(bench_cpu_ticks "${PID[$n]}"); s0=$(date +%s%N)
      ld "$n" "$W/msgs/$wl.eml" "$N"
      t1=$(bench_cpu_ticks "${PID[$n]}"); s1=$(date +%s%N)
      printf '%s %s run=%d cpu_ms_per_msg=%.4f wall_s=%.2f load=%s\n' "$wl" "$n" "$r" \
        "$(echo "($t1-$t0)*1000/$(getconf CLK_TCK)/$N" | bc -l)" "$(echo "($s1-$s0)/1000000000" | bc -l)" "$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$OUT/cpu.txt"
    done
  done
done
for n in "${NAMES[@]}"; do cp "$W/$n/milter.log" "$OUT/$n.log" 2>/dev/null || true; done
