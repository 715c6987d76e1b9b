#!/usr/bin/env bash
# bench/run-peers-bench.sh -- mailwarden against its peers in one run (issue 21, parts 1
# and 3): the empty libmilter milter, opendkim, opendmarc, rspamd and mailwarden, driven
# by the same load generator with the same messages, the same DNS and the same
# concurrency, alternating runs, medians; every milter's verdicts checked; then the
# latency of each at 80 % of its own measured maximum.
#
#   sudo bench/run-peers-bench.sh [--build DIR] [--out DIR] [--runs R] [--scale F]
#        [--connections C] [--load-pct P] [--milters ref,opendkim,...]
#
# Defaults: 3 runs of 3,000 messages (+300 warmup) per milter and workload, C = 10, P =
# 80. --scale F multiplies the message counts (0.2 for a quick look). --build: the
# configured build directory (`make bench-peers` builds what is needed and runs this).
# --out: results (default /tmp/mw-peers-DATE; kept): OUT/raw/*.json (milter_load's
# reports), *.cpu (the milter's process-tree CPU ticks around the measured phase),
# *.mods.jsonl (the first 3 messages' modifications in full), OUT/summary.md (the
# table of doc/PERFORMANCE.md, bench/peers_summary.py), OUT/machine.txt, the configs.
#
# The milters (each started once, warm, inside the bench's network namespace; each on a
# unix socket in the work directory; the peers run as root in the foreground with
# config files the script writes):
#   ref        bench/ref_milter, the empty libmilter milter (adds one header)
#   opendkim   DKIM verification only (Mode v), keys through its libunbound
#   opendmarc  SPF (its libspf2) and DMARC; DKIM not given (no opendkim A-R in front),
#              so its DMARC passes on aligned SPF, as the bench sender is
#   rspamd     Debian's stock rules and modules, the proxy worker in milter mode scanning
#              itself (self_scan), one process per core; modules that need redis or a
#              server outside the namespace off (bench/peers/rspamd/)
#   mailwarden SPF for MAIL FROM and HELO, DKIM, DMARC, MIME, the shipped rules
#              (bench/lib-bench.sh bench_mw_config, DNS mode nsd)
# DNS: nsd in a namespace of ours (bench_nsd_start) serving the bench zone with both DKIM
# keys and the SPF/DMARC records; mailwarden (libunbound), opendkim (libunbound), rspamd
# (its own resolver) are pointed at 127.0.0.1:53 by config, opendmarc (libresolv,
# libspf2) by /etc/netns/NS/resolv.conf. The namespace has no other network.
#
# Method. Workloads 4k-rsa2048 and 4k-ed25519 (bench_sign_messages). For each workload,
# R runs; in each run every milter once, in rotating order (run r starts at milter r-1).
# One measurement: a milter_load warmup of W messages, then the measured milter_load
# (closed loop, C connections, one message per connection as Postfix's smtpd opens
# them) with the process tree's utime+stime read from /proc before and after (rspamd:
# main process and workers). Medians over the runs: msg/s, CPU ms/msg, p50/p99.
# Latency under load: afterwards, per milter and workload, R open-loop runs
# (milter_load --rate, rotating like the others) at P % of that median msg/s; the
# medians of their due->reply p50/p99 (queueing included) are the "p99 at 80 %" column. openssl speed (rsa2048, ed25519) in the same
# run gives the verification cost difference the ed25519 target compares against.
#
# Verdicts: every run dumps its first 3 messages' modifications; bench/peers_summary.py
# requires, in each Authentication-Results field the milter added: opendkim dkim=pass;
# opendmarc spf=pass, dmarc=pass; rspamd and mailwarden spf=pass, dkim=pass,
# dmarc=pass; ref its X-Ref-Milter header. A milter failing that has "FAIL" in its row
# and the script exits 1.
#
# Bounds: every milter_load has --duration-limit 300 and `timeout 400`; counts fixed;
# every process started is stopped by PID (tests/integration/lib.sh), the namespace
# and /etc/netns/NS are removed on any exit.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../tests/integration/lib.sh"
. "$HERE/lib-bench.sh"

BUILD=$PWD
OUT=/tmp/mw-peers-$(date +%Y%m%d-%H%M%S)
RUNS=3
SCALE=1
CONNS=10
LOAD_PCT=80
MILTERS=ref,opendkim,opendmarc,rspamd,mailwarden
while [[ $# -gt 0 ]]; do
	case $1 in
	--build) BUILD=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--scale) SCALE=$2; shift 2 ;;
	--connections) CONNS=$2; shift 2 ;;
	--load-pct) LOAD_PCT=$2; shift 2 ;;
	--milters) MILTERS=$2; shift 2 ;;
	*) sed -n '2,16p' "$0" >&2; exit 2 ;;
	esac
done
for v in "$RUNS" "$CONNS" "$LOAD_PCT"; do
	[[ $v =~ ^[0-9]+$ ]] || { mw_log "not a number: $v"; exit 2; }
done
[[ $SCALE =~ ^[0-9]*\.?[0-9]+$ ]] || { mw_log "--scale: a positive number"; exit 2; }
((RUNS >= 1 && RUNS <= 20 && CONNS >= 1 && CONNS <= 200 && LOAD_PCT >= 1 && LOAD_PCT <= 100)) || {
	mw_log "--runs 1..20, --connections 1..200, --load-pct 1..100"
	exit 2
}
IFS=, read -r -a ML <<<"$MILTERS"
for m in "${ML[@]}"; do
	case $m in ref | opendkim | opendmarc | rspamd | mailwarden) ;; *) mw_log "--milters: unknown $m"; exit 2 ;; esac
done
mw_require_root
BUILD=$(cd "$BUILD" && pwd)
export MW_BUILD_DIR=$BUILD
BENCH_MW=$BUILD/mailwarden
BENCH_REF=$BUILD/bench/ref_milter
BENCH_LOAD=$BUILD/bench/milter_load
for b in "$BENCH_MW" "$BENCH_REF" "$BENCH_LOAD" "$BUILD/tests/tools/dkim_sign"; do
	[[ -x $b ]] || { mw_log "missing $b (run 'make bench-peers' in the build directory)"; exit 2; }
done
N=$("$MW_PYTHON" -c "print(max(1, round(3000 * $SCALE)))")
WARM=$("$MW_PYTHON" -c "print(max(1, round(300 * $SCALE)))")

bench_peers_install opendkim opendmarc rspamd
OPENDKIM=/usr/sbin/opendkim
OPENDMARC=/usr/sbin/opendmarc
RSPAMD=/usr/bin/rspamd # started by bench_rspamd_start
for b in "$OPENDKIM" "$OPENDMARC" "$RSPAMD"; do
	[[ -x $b ]] || { mw_log "missing $b after the install"; exit 1; }
done

peers_cleanup() {
	local rc=$?
	set +e
	(exit "$rc")
	mw_cleanup
	bench_ns_cleanup
	bench_ns_resolv_cleanup
	exit "$rc"
}
trap peers_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

mkdir -p "$OUT/raw"
mw_workdir W
mkdir -p "$W/msgs" "$W/mw" "$W/ref" "$W/nsd" "$W/peers"
ZONE=$W/bench.zone
bench_zone "$ZONE"
bench_make_messages "$W/msgs" >/dev/null
bench_sign_messages "$W/msgs" "$ZONE"
bench_rules_dirs shipped "$W"
BENCH_RULES_CACHE=$W/rules-cache
mkdir -p "$BENCH_RULES_CACHE"
bench_machine "$OUT/machine.txt"
for p in opendkim opendmarc rspamd; do
	printf '%s: %s\n' "$p" "$(dpkg-query -W -f '${Version}' "$p" 2>/dev/null)"
done >>"$OUT/machine.txt"
cp "$ZONE" "$OUT/bench.zone"

# nsd's response rate limiting (on by default in Debian's build, 200 answers a second
# per client network) would drop and truncate the answers of a milter that does not
# cache (rspamd, opendmarc's libresolv): off, so that every milter gets every answer at
# once; mailwarden and opendkim cache through libunbound either way.
# shellcheck disable=SC2034 # read by bench_nsd_start (lib-bench.sh)
BENCH_NSD_SERVER_EXTRA=$'  rrl-ratelimit: 0\n'
bench_nsd_start "$W/nsd" "$ZONE"
bench_ns_resolv_conf

# openssl speed in the same run: the verification cost of the two algorithms.
timeout 120 openssl speed -seconds 1 rsa2048 ed25519 >"$OUT/openssl-speed.txt" 2>/dev/null ||
	mw_log "openssl speed failed (the ratio line will say so)"

# --- the milters ------------------------------------------------------------------

declare -A PID SOCK
for m in "${ML[@]}"; do
	case $m in
	ref)
		bench_ref_start "$W/ref" "unix:$W/ref.sock"
		PID[ref]=$BENCH_REF_PID
		SOCK[ref]=unix:$W/ref.sock
		;;
	opendkim)
		bench_opendkim_config "$W/peers/opendkim.conf" "$W/peers/opendkim.sock"
		cp "$W/peers/opendkim.conf" "$OUT/"
		bench_peer_start opendkim "$W/peers" "$W/peers/opendkim.sock" 20 "$OPENDKIM" -f -x "$W/peers/opendkim.conf"
		PID[opendkim]=$BENCH_PEER_PID
		SOCK[opendkim]=unix:$W/peers/opendkim.sock
		;;
	opendmarc)
		bench_opendmarc_config "$W/peers/opendmarc.conf" "$W/peers/opendmarc.sock"
		cp "$W/peers/opendmarc.conf" "$OUT/"
		bench_peer_start opendmarc "$W/peers" "$W/peers/opendmarc.sock" 20 "$OPENDMARC" -f -c "$W/peers/opendmarc.conf"
		PID[opendmarc]=$BENCH_PEER_PID
		SOCK[opendmarc]=unix:$W/peers/opendmarc.sock
		;;
	rspamd)
		bench_rspamd_start "$W/rspamd"
		cp -r "$W/rspamd/local" "$OUT/rspamd-config"
		PID[rspamd]=$BENCH_PEER_PID
		SOCK[rspamd]=unix:$W/rspamd/rspamd.sock
		;;
	mailwarden)
		bench_mw_config "$W/mw/mailwarden.yaml" "unix:$W/mw.sock" nsd "$ZONE" "$BENCH_NSD_PORT"
		"$BENCH_MW" configtest -c "$W/mw/mailwarden.yaml" >/dev/null
		cp "$W/mw/mailwarden.yaml" "$OUT/mailwarden.yaml"
		bench_mw_start "$W/mw" "$W/mw/mailwarden.yaml" "unix:$W/mw.sock"
		PID[mailwarden]=$BENCH_MW_PID
		SOCK[mailwarden]=unix:$W/mw.sock
		;;
	esac
	mw_log "$m: pid ${PID[$m]} on ${SOCK[$m]}"
done

# --- the runs ---------------------------------------------------------------------

# proc_ticks PID: "PID COMM TICKS" for each process of the tree (where the CPU went).
proc_ticks() {
	local p
	for p in $(bench_tree_pids "$1"); do
		printf '%s %s %s\n' "$p" "$(tr ' ' _ <"/proc/$p/comm" 2>/dev/null)" "$(bench_cpu_ticks "$p" 2>/dev/null)"
	done
}

# load LABEL MILTER MESSAGE N [EXTRA...]: warmup then the measured milter_load ->
# OUT/raw/LABEL.{json,txt,cpu,mods.jsonl}.
load() {
	local label=$1 m=$2 msg=$3 n=$4 rc=0 t0 t1
	shift 4
	local base=$OUT/raw/${label// /_}
	bench_in_ns timeout 400 "$BENCH_LOAD" --socket "${SOCK[$m]}" --message "$msg" \
		--messages "$WARM" --connections "$CONNS" --duration-limit 300 \
		--mail-from "$BENCH_FROM" --rcpt "$BENCH_RCPT" --helo "$BENCH_HELO" \
		>"$base.warmup.txt" 2>&1 || mw_log "warmup $label: exit $? ($(grep -m1 'first error' "$base.warmup.txt"))"
	proc_ticks "${PID[$m]}" >"$base.procs"
	t0=$(bench_tree_cpu_ticks "${PID[$m]}")
	bench_in_ns timeout 400 "$BENCH_LOAD" --socket "${SOCK[$m]}" --message "$msg" --messages "$n" \
		--connections "$CONNS" --pid "${PID[$m]}" --duration-limit 300 --label "$label" \
		--json "$base.json" --dump-mods "$base.mods.jsonl" --dump-count 3 \
		--mail-from "$BENCH_FROM" --rcpt "$BENCH_RCPT" --helo "$BENCH_HELO" "$@" \
		>"$base.txt" 2>&1 || rc=$?
	t1=$(bench_tree_cpu_ticks "${PID[$m]}")
	proc_ticks "${PID[$m]}" | sed 's/^/after /' >>"$base.procs"
	printf '%s %s %s %s\n' "$t0" "$t1" "$(getconf CLK_TCK)" "$(bench_tree_pids "${PID[$m]}" | wc -l)" >"$base.cpu"
	sed -n 's/^  throughput *//p; s/^    message *//p; s/^    due->reply *//p' "$base.txt" | paste -sd' ' |
		sed "s|^|$(date +%T) $label: cpu $((t1 - t0)) ticks; |" >&2
	if [[ $rc -ne 0 ]]; then
		mw_log "milter_load $label exited $rc: $(grep -m1 'first error' "$base.txt" || tail -n 3 "$base.txt")"
	fi
	return 0
}

WL=("${BENCH_SIGNED[@]}")
# The run loop outermost: each run measures every milter on rsa2048 and on ed25519 back to
# back, so a neighbour's load that comes and goes during the bench lands on both
# workloads alike (with the workload loop outermost, every rsa2048 run came first and the
# ed25519 runs alone met a load that rose meanwhile: +0.23 ms "for ed25519" that was load).
for ((run = 1; run <= RUNS; run++)); do
	for ((i = 0; i < ${#ML[@]}; i++)); do
		m=${ML[(i + run - 1) % ${#ML[@]}]}
		for wl in "${WL[@]}"; do
			load "mode=peers workload=$wl c=$CONNS milter=$m run=$run" "$m" "$W/msgs/$wl.eml" "$N"
		done
	done
done

# Latency under load: P % of each milter's median msg/s, open loop; R runs rotating as
# above (one open-loop run is at the mercy of the machine's neighbours), medians.
declare -A RATE
for wl in "${WL[@]}"; do
	for m in "${ML[@]}"; do
		RATE[$wl $m]=$("$MW_PYTHON" "$HERE/peers_summary.py" --rate "$OUT" "$wl" "$m" "$LOAD_PCT") ||
			mw_log "no measured maximum for $m $wl: no latency-under-load run"
	done
done
for ((run = 1; run <= RUNS; run++)); do
	for ((i = 0; i < ${#ML[@]}; i++)); do
		m=${ML[(i + run - 1) % ${#ML[@]}]}
		for wl in "${WL[@]}"; do
			[[ -n ${RATE[$wl $m]} ]] || continue
			load "mode=rate workload=$wl c=$CONNS milter=$m pct=$LOAD_PCT run=$run" "$m" "$W/msgs/$wl.eml" "$N" \
				--rate "${RATE[$wl $m]}"
		done
	done
done

for m in "${ML[@]}"; do
	case $m in
	ref) cp "$W/ref/ref.log" "$OUT/ref.log" 2>/dev/null || true ;;
	mailwarden) cp "$W/mw/milter.log" "$OUT/mailwarden.log" 2>/dev/null || true ;;
	rspamd) cp "$W/rspamd/rspamd.log" "$OUT/rspamd.log" 2>/dev/null || true ;;
	*) cp "$W/peers/$m.log" "$OUT/$m.log" 2>/dev/null || true ;;
	esac
done
printf 'loadavg_end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"

rc=0
"$MW_PYTHON" "$HERE/peers_summary.py" "$OUT" >"$OUT/summary.md" || rc=$?
cat "$OUT/summary.md"
((rc == 0)) || mw_log "a milter's verdicts were not pass, or a run failed (see the table)"
mw_log "results in $OUT"
exit "$rc"
