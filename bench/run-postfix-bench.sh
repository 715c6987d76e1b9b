#!/usr/bin/env bash
# bench/run-postfix-bench.sh -- end-to-end benchmark through Postfix (issue 7, part 4):
# smtp-source -> a private Postfix -> smtp-sink, with no milter, with ref_milter and with
# mailwarden, alternating, in one run; every message counted at the sink.
#
#   sudo bench/run-postfix-bench.sh [--build DIR] [--out DIR] [--runs R] [--dns zone|nsd] [--rules SPEC]
#        [--workloads 4k-rsa2048,100k,10m] [--sessions C] [--scale F] [--peers]
#
# --build: the configured build directory (mailwarden, bench/ref_milter; `make bench`).
# --out: results (default /tmp/mw-pfbench-DATE, kept; may be the same directory as
# run-milter-bench.sh's, and bench_summary.py then prints both). --sessions: smtp-source
# -s, parallel SMTP sessions (default 10), one message per session. --scale F multiplies
# the message counts (default 1: 4k 2000, 100k 500, 10m 20 per run).
#
# Layout (tests/integration/lib.sh does the private instances, PID records and cleanup):
# one smtp-sink (running counters, -c) on a free loopback port; three private Postfix
# instances relaying every message to it: pf-none (no milter), pf-ref (ref_milter on a
# unix socket) and pf-mw (mailwarden, the bench config of bench/lib-bench.sh, on a unix
# socket; with --dns nsd it runs in a namespace of ours with nsd, Postfix reaching it
# through the file system). All three stay up for the whole bench; runs rotate their
# order (run 1: none, ref, mw; run 2: ref, mw, none; run 3: mw, none, ref; ...).
# --peers (issue 21; needs --dns nsd, installs the packages if missing): two more
# instances in the rotation, pf-rspamd (rspamd in milter mode, bench_rspamd_start) and
# pf-dkdm (opendkim then opendmarc, Postfix's smtpd_milters list, as a site runs the
# pair); the peers run in the namespace like mailwarden, with the configs of
# bench/run-peers-bench.sh; their CPU is that of all their processes.
#
# One run: note the sink's message count; start the clock; smtp-source sends N messages
# (-F the workload file) over C sessions; stop the clock when the sink has counted N
# more. msg/s = N / that time. smtp-source aborts on any reply that is not 2xx (a
# tempfail or reject from the milter), so "sent" is what Postfix accepted; "at_sink" is
# what arrived; both, the queue left behind, and the milter's CPU and VmHWM (from /proc)
# go to OUT/raw/*.json. Bounds: smtp-source under `timeout 600`, the wait for the sink
# at most 300 s, fixed counts.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../tests/integration/lib.sh"
. "$HERE/lib-bench.sh"

BUILD=$PWD
OUT=/tmp/mw-pfbench-$(date +%Y%m%d-%H%M%S)
RUNS=3
DNS_MODE=zone
RULES=shipped+1000
WORKLOADS=4k-rsa2048,100k,10m
SESSIONS=10
SCALE=1
PEERS=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--build) BUILD=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--dns) DNS_MODE=$2; shift 2 ;;
	--rules) RULES=$2; shift 2 ;;
	--workloads) WORKLOADS=$2; shift 2 ;;
	--sessions) SESSIONS=$2; shift 2 ;;
	--scale) SCALE=$2; shift 2 ;;
	--peers) PEERS=1; shift ;;
	*) sed -n '2,14p' "$0" >&2; exit 2 ;;
	esac
done
mw_require_root
for tool in postfix smtp-source smtp-sink; do
	command -v "$tool" >/dev/null || { mw_log "$tool not installed"; exit 2; }
done
if [[ $PEERS == 1 && $DNS_MODE != nsd ]]; then
	mw_log "--peers needs --dns nsd (the peers resolve through the namespace's nsd)"
	exit 2
fi
BUILD=$(cd "$BUILD" && pwd)
export MW_BUILD_DIR=$BUILD
BENCH_MW=$BUILD/mailwarden
BENCH_REF=$BUILD/bench/ref_milter
for b in "$BENCH_MW" "$BENCH_REF"; do
	[[ -x $b ]] || { mw_log "missing $b (run 'make bench' in $BUILD)"; exit 2; }
done

bench_cleanup() {
	local rc=$?
	set +e
	(exit "$rc")
	mw_cleanup
	bench_ns_cleanup
	bench_ns_resolv_cleanup
	exit "$rc"
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

mkdir -p "$OUT/raw"
mw_workdir W
mkdir -p "$W/msgs" "$W/mw" "$W/ref" "$W/nsd" "$W/sink" "$W/peers"
ZONE=$W/bench.zone
bench_zone "$ZONE"
bench_make_messages "$W/msgs"
bench_sign_messages "$W/msgs" "$ZONE"
[[ -f $OUT/machine.txt ]] || bench_machine "$OUT/machine.txt"
if [[ $PEERS == 1 ]]; then
	bench_peers_install opendkim opendmarc rspamd
	# rspamd and opendmarc's libresolv do not cache: no response rate limiting
	# (bench/run-peers-bench.sh says why).
	# shellcheck disable=SC2034 # read by bench_nsd_start (lib-bench.sh)
	BENCH_NSD_SERVER_EXTRA=$'  rrl-ratelimit: 0\n'
fi
if [[ $DNS_MODE == nsd ]]; then
	bench_nsd_start "$W/nsd" "$ZONE"
fi
[[ $PEERS == 1 ]] && bench_ns_resolv_conf

# --- the sink ------------------------------------------------------------------------
bench_sink_start "$W/sink"

# --- the milters and the three Postfix instances ---------------------------------------
MW_SOCK=unix:$W/mw/mw.sock
REF_SOCK=unix:$W/ref/ref.sock
BENCH_RULES_CACHE=$W/rules-cache
mkdir -p "$BENCH_RULES_CACHE"
bench_rules_dirs "$RULES" "$W"
bench_mw_config "$W/mw/mailwarden.yaml" "$MW_SOCK" "$DNS_MODE" "$ZONE" "$BENCH_NSD_PORT"
"$BENCH_MW" configtest -c "$W/mw/mailwarden.yaml" >/dev/null
bench_mw_start "$W/mw" "$W/mw/mailwarden.yaml" "$MW_SOCK"
bench_ref_start "$W/ref" "$REF_SOCK"
declare -A PF_PORT PF_MILTER_PID
ROT=(none ref mw)
declare -A PF_NAME=([none]=none [ref]=ref [mw]=mailwarden)
if [[ $PEERS == 1 ]]; then
	ROT+=(rspamd dkdm)
	PF_NAME[rspamd]=rspamd
	PF_NAME[dkdm]=opendkim+opendmarc
	bench_rspamd_start "$W/rspamd"
	RSPAMD_PID=$BENCH_PEER_PID
	bench_opendkim_config "$W/peers/opendkim.conf" "$W/peers/opendkim.sock"
	bench_peer_start opendkim "$W/peers" "$W/peers/opendkim.sock" 20 /usr/sbin/opendkim -f -x "$W/peers/opendkim.conf"
	DKIM_PID=$BENCH_PEER_PID
	bench_opendmarc_config "$W/peers/opendmarc.conf" "$W/peers/opendmarc.sock"
	bench_peer_start opendmarc "$W/peers" "$W/peers/opendmarc.sock" 20 /usr/sbin/opendmarc -f -c "$W/peers/opendmarc.conf"
	DMARC_PID=$BENCH_PEER_PID
	mw_log "peers: rspamd pid $RSPAMD_PID, opendkim pid $DKIM_PID, opendmarc pid $DMARC_PID"
fi
for v in "${ROT[@]}"; do
	mw_free_port pf_port # not "port": mw_free_port has a local of that name
	PF_PORT[$v]=$pf_port
done
# Throughput settings: enough smtpd processes for the sessions, no delivery throttling
# to the sink; the rest is lib.sh's test instance (no DNS, loopback only).
PF_TUNING=(default_process_limit=200 smtp_destination_concurrency_limit=50
	default_destination_concurrency_limit=50 smtp_connection_cache_on_demand=yes
	milter_content_timeout=300s)
mw_pf_start "$W/pf-none" "${PF_PORT[none]}" "$BENCH_SINK_PORT" "" "${PF_TUNING[@]}"
mw_pf_start "$W/pf-ref" "${PF_PORT[ref]}" "$BENCH_SINK_PORT" "$REF_SOCK" "${PF_TUNING[@]}"
mw_pf_start "$W/pf-mw" "${PF_PORT[mw]}" "$BENCH_SINK_PORT" "$MW_SOCK" "${PF_TUNING[@]}"
PF_MILTER_PID=([none]="" [ref]=$BENCH_REF_PID [mw]=$BENCH_MW_PID)
if [[ $PEERS == 1 ]]; then
	mw_pf_start "$W/pf-rspamd" "${PF_PORT[rspamd]}" "$BENCH_SINK_PORT" "unix:$W/rspamd/rspamd.sock" "${PF_TUNING[@]}"
	mw_pf_start "$W/pf-dkdm" "${PF_PORT[dkdm]}" "$BENCH_SINK_PORT" \
		"unix:$W/peers/opendkim.sock unix:$W/peers/opendmarc.sock" "${PF_TUNING[@]}"
	# CPU of a variant: every process of its milters (rspamd: main and workers).
	PF_MILTER_PID[rspamd]=$(bench_tree_pids "$RSPAMD_PID" | paste -sd' ')
	PF_MILTER_PID[dkdm]="$DKIM_PID $DMARC_PID"
fi

# pids_cpu_ticks "PID..." / pids_hwm_kib "PID...": the sum over the variant's milter
# processes (one for the original three variants, as before).
pids_cpu_ticks() {
	local p sum=0
	for p in $1; do sum=$((sum + $(bench_cpu_ticks "$p"))); done
	echo "$sum"
}
pids_hwm_kib() {
	local p sum=0
	for p in $1; do sum=$((sum + $(bench_hwm_kib "$p"))); done
	echo "$sum"
}

rejects_in() { grep -c -E 'milter-reject|status=deferred|status=bounced' "$1/maillog" || true; }

plan() {
	local n
	case $1 in
	4k*) n=2000 ;;
	100k) n=500 ;;
	10m) n=20 ;;
	*) mw_log "unknown workload $1"; return 1 ;;
	esac
	"$MW_PYTHON" -c "print(max(1, round($n * $SCALE)))"
}

# one_run VARIANT WORKLOAD RUN
one_run() {
	local v=$1 wl=$2 run=$3 n c0 t0 t1 rc=0 pid cpu0 cpu1 rej0 rej1 at_sink queued ok
	n=$(plan "$wl")
	pid=${PF_MILTER_PID[$v]}
	local label="mode=postfix dns=$DNS_MODE workload=$wl c=$SESSIONS milter=${PF_NAME[$v]} run=$run"
	local file=$OUT/raw/${label// /_}.json
	c0=$(bench_sink_count)
	rej0=$(rejects_in "$W/pf-$v")
	cpu0=$(pids_cpu_ticks "$pid")
	t0=$(date +%s%N)
	timeout 600 smtp-source -s "$SESSIONS" -m "$n" -F "$W/msgs/$wl.eml" \
		-f "$BENCH_FROM" -t "$BENCH_RCPT" -M "$BENCH_HELO" \
		"127.0.0.1:${PF_PORT[$v]}" >"$file.source" 2>&1 || rc=$?
	mw_wait_until 300 bench_sink_at_least $((c0 + n)) || true
	t1=$(date +%s%N)
	cpu1=$(pids_cpu_ticks "$pid")
	at_sink=$(($(bench_sink_count) - c0))
	rej1=$(rejects_in "$W/pf-$v")
	queued=$(mw_pf_queue_count "$W/pf-$v")
	ok=false
	[[ $rc -eq 0 && $at_sink -eq $n && $queued -eq 0 && $rej1 -eq $rej0 ]] && ok=true
	"$MW_PYTHON" - "$file" <<EOF
import json, os, sys
n, secs, ticks = $n, ($t1 - $t0) / 1e9, $cpu1 - $cpu0
hz = os.sysconf("SC_CLK_TCK")
json.dump({
    "tool": "run-postfix-bench.sh", "label": "$label", "attempted": n,
    "sent": n if $rc == 0 else None,
    "smtp_source_exit": $rc, "at_sink": $at_sink, "queued_after": $queued,
    "rejects_or_deferrals": $rej1 - $rej0, "wall_s": secs,
    "msg_per_s": $at_sink / secs if secs > 0 else 0,
    "milter_pid": "$pid" or None,
    "milter_cpu_ms_per_msg": (ticks * 1000 / hz / n) if "$pid" else None,
    "milter_hwm_kib": int("$(pids_hwm_kib "$pid")" or 0) or None,
    "ok": "$ok" == "true",
}, open(sys.argv[1], "w"), indent=1)
EOF
	mw_log "$label: $at_sink of $n at the sink in $(((t1 - t0) / 1000000)) ms, smtp-source exit $rc, queue $queued, ok=$ok"
	if [[ $rc -ne 0 ]]; then
		tail -n 5 "$file.source" >&2
	fi
}

IFS=, read -r -a WL <<<"$WORKLOADS"
for wl in "${WL[@]}"; do
	# A first message through each instance (not counted): smtpd processes, the milter
	# connection path and the sink connection cache are warm for every variant alike.
	for v in "${ROT[@]}"; do
		c0=$(bench_sink_count)
		timeout 120 smtp-source -s 2 -m 4 -F "$W/msgs/$wl.eml" -f "$BENCH_FROM" -t "$BENCH_RCPT" \
			-M "$BENCH_HELO" "127.0.0.1:${PF_PORT[$v]}" >/dev/null 2>&1 || mw_log "warm-up via $v failed"
		mw_wait_until 120 bench_sink_at_least $((c0 + 4)) || mw_log "warm-up via $v: not all at the sink"
	done
	for ((run = 1; run <= RUNS; run++)); do
		s=$(((run - 1) % ${#ROT[@]}))
		for ((i = 0; i < ${#ROT[@]}; i++)); do
			one_run "${ROT[(s + i) % ${#ROT[@]}]}" "$wl" "$run"
		done
	done
done

for v in "${ROT[@]}"; do cp "$W/pf-$v/maillog" "$OUT/postfix-$v.maillog" 2>/dev/null || true; done
cp "$W/mw/milter.log" "$OUT/mailwarden-postfix.log" 2>/dev/null || true
"$MW_PYTHON" "$HERE/bench_summary.py" "$OUT" | tee "$OUT/summary.md"
mw_log "results in $OUT"
