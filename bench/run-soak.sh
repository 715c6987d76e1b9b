#!/usr/bin/env bash
# bench/run-soak.sh -- the soak of issue 7: mail through a private Postfix with
# mailwarden at a steady rate for M minutes, SIGHUP (reload) to mailwarden every minute;
# zero lost, zero tempfails, RSS flat.
#
#   sudo bench/run-soak.sh [--build DIR] [--out DIR] [--minutes M] [--rate MSG_PER_S]
#        [--fraction F] [--hup-every SECONDS] [--workload 4k-rsa2048|4k|100k] [--dns zone|nsd] [--rules SPEC]
#
# --minutes: default 30. --rate: messages per second offered; without it the script
# first measures the maximum (1,000 messages, 10 sessions, as run-postfix-bench.sh) and
# offers --fraction (default 0.8) of it. --hup-every: default 60.
#
# Pacing: once a second, one smtp-source batch of this second's share of the rate
# (at most 10 sessions) is started in the background; a batch that is still running 120 s
# later is killed (by PID) and counted as failed. If 60 batches are outstanding the
# second is skipped and counted ("behind": the rate is above what the system takes).
# smtp-source exits non-zero on any 4xx/5xx, so a tempfail from the milter is a failed
# batch; the maillog is searched for milter-reject, deferred and bounced lines too.
# Every 10 s: mailwarden's VmRSS, VmHWM, the sink's count -> OUT/soak-samples.tsv.
# At the end: all batches reaped, the sink waited for (at most 300 s), the queue must be
# empty. OUT/soak.json: offered, accepted (batches that exited 0 x their size), at_sink,
# lost, failed batches, rejects/deferrals, HUPs sent and reloads mailwarden logged, RSS
# from minute 5 to 10 and of the last 5 minutes, and its trend (below); ok = nothing
# lost, no failure, RSS growth and trend after minute 5 both under 5 %.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../tests/integration/lib.sh"
. "$HERE/lib-bench.sh"

BUILD=$PWD
OUT=/tmp/mw-soak-$(date +%Y%m%d-%H%M%S)
MINUTES=30
RATE=""
FRACTION=0.8
HUP_EVERY=60
WORKLOAD=4k-rsa2048
DNS_MODE=zone
RULES=shipped+1000
while [[ $# -gt 0 ]]; do
	case $1 in
	--build) BUILD=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--minutes) MINUTES=$2; shift 2 ;;
	--rate) RATE=$2; shift 2 ;;
	--fraction) FRACTION=$2; shift 2 ;;
	--hup-every) HUP_EVERY=$2; shift 2 ;;
	--workload) WORKLOAD=$2; shift 2 ;;
	--dns) DNS_MODE=$2; shift 2 ;;
	--rules) RULES=$2; shift 2 ;;
	*) sed -n '2,12p' "$0" >&2; exit 2 ;;
	esac
done
mw_require_root
for tool in postfix smtp-source smtp-sink; do
	command -v "$tool" >/dev/null || { mw_log "$tool not installed"; exit 2; }
done
BUILD=$(cd "$BUILD" && pwd)
export MW_BUILD_DIR=$BUILD
BENCH_MW=$BUILD/mailwarden
[[ -x $BENCH_MW ]] || { mw_log "missing $BENCH_MW"; exit 2; }

BATCH_PIDS=()   # smtp-source batches still running
BATCH_SIZE=()   # their message counts
BATCH_START=()  # their start times (SECONDS)
bench_cleanup() {
	local rc=$? i
	set +e
	(exit "$rc")
	for i in "${!BATCH_PIDS[@]}"; do
		kill -TERM "${BATCH_PIDS[i]}" 2>/dev/null
		wait "${BATCH_PIDS[i]}" 2>/dev/null
	done
	mw_cleanup
	bench_ns_cleanup
	exit "$rc"
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

mkdir -p "$OUT"
mw_workdir W
mkdir -p "$W/msgs" "$W/mw" "$W/nsd"
ZONE=$W/bench.zone
bench_zone "$ZONE"
bench_make_messages "$W/msgs"
bench_sign_messages "$W/msgs" "$ZONE"
bench_machine "$OUT/machine.txt"
[[ $DNS_MODE == nsd ]] && bench_nsd_start "$W/nsd" "$ZONE"
bench_sink_start "$W/sink"
MW_SOCK=unix:$W/mw/mw.sock
BENCH_RULES_CACHE=$W/rules-cache
mkdir -p "$BENCH_RULES_CACHE"
bench_rules_dirs "$RULES" "$W"
bench_mw_config "$W/mw/mailwarden.yaml" "$MW_SOCK" "$DNS_MODE" "$ZONE" "$BENCH_NSD_PORT"
"$BENCH_MW" configtest -c "$W/mw/mailwarden.yaml" >/dev/null
bench_mw_start "$W/mw" "$W/mw/mailwarden.yaml" "$MW_SOCK"
MW_START=$(_mw_pid_starttime "$BENCH_MW_PID")
mw_free_port PF_PORT
mw_pf_start "$W/pf" "$PF_PORT" "$BENCH_SINK_PORT" "$MW_SOCK" default_process_limit=200 \
	smtp_destination_concurrency_limit=50 default_destination_concurrency_limit=50
MSG=$W/msgs/$WORKLOAD.eml

# source_batch N SESSIONS: one smtp-source run, bounded. Called in the foreground, or
# with & so that $! is timeout's own PID (a TERM to it reaches smtp-source).
SOURCE_ARGS=(-F "$MSG" -f "$BENCH_FROM" -t "$BENCH_RCPT" -M "$BENCH_HELO" "127.0.0.1:$PF_PORT")
source_batch() {
	timeout 120 smtp-source -s "$2" -m "$1" "${SOURCE_ARGS[@]}" >>"$W/source.log" 2>&1
}

if [[ -z $RATE ]]; then
	c0=$(bench_sink_count)
	t0=$(date +%s%N)
	source_batch 1000 10 || { mw_log "rate probe: smtp-source failed"; exit 1; }
	mw_wait_until 300 bench_sink_at_least $((c0 + 1000)) || { mw_log "rate probe: not all at the sink"; exit 1; }
	t1=$(date +%s%N)
	MAX=$("$MW_PYTHON" -c "print(round(1000 / (($t1 - $t0) / 1e9), 1))")
	RATE=$("$MW_PYTHON" -c "print(round($MAX * $FRACTION, 1))")
	mw_log "maximum $MAX msg/s through Postfix + mailwarden; offering $RATE msg/s"
fi

# reap_batches: collects finished batches; kills (by PID) those older than 120 s.
ACCEPTED=0
FAILED_BATCHES=0
reap_batches() {
	local i rc keep_p=() keep_s=() keep_t=()
	for i in "${!BATCH_PIDS[@]}"; do
		if kill -0 "${BATCH_PIDS[i]}" 2>/dev/null && ((SECONDS - BATCH_START[i] < 130)); then
			keep_p+=("${BATCH_PIDS[i]}") keep_s+=("${BATCH_SIZE[i]}") keep_t+=("${BATCH_START[i]}")
			continue
		fi
		kill -TERM "${BATCH_PIDS[i]}" 2>/dev/null || true
		rc=0
		wait "${BATCH_PIDS[i]}" || rc=$?
		if [[ $rc -eq 0 ]]; then
			ACCEPTED=$((ACCEPTED + BATCH_SIZE[i]))
		else
			FAILED_BATCHES=$((FAILED_BATCHES + 1))
		fi
	done
	BATCH_PIDS=("${keep_p[@]}") BATCH_SIZE=("${keep_s[@]}") BATCH_START=("${keep_t[@]}")
}

rejects() { grep -c -E 'milter-reject|status=deferred|status=bounced' "$W/pf/maillog" || true; }

printf 'second\tsink\trss_kib\thwm_kib\toutstanding\n' >"$OUT/soak-samples.tsv"
TOTAL_S=$((MINUTES * 60))
RATE_MILLI=$("$MW_PYTHON" -c "print(round($RATE * 1000))")
c_start=$(bench_sink_count)
rej_start=$(rejects)
OFFERED=0
BEHIND=0
HUPS=0
t_begin=$(date +%s%N)
for ((sec = 0; sec < TOTAL_S; sec++)); do
	# This second's share of the rate, so fractional rates come out right on average.
	n=$(((RATE_MILLI * (sec + 1)) / 1000 - (RATE_MILLI * sec) / 1000))
	reap_batches
	if ((${#BATCH_PIDS[@]} >= 60)); then
		BEHIND=$((BEHIND + 1))
	elif ((n > 0)); then
		timeout 120 smtp-source -s $((n < 10 ? n : 10)) -m "$n" "${SOURCE_ARGS[@]}" >>"$W/source.log" 2>&1 &
		BATCH_PIDS+=("$!") BATCH_SIZE+=("$n") BATCH_START+=("$SECONDS")
		OFFERED=$((OFFERED + n))
	fi
	if ((sec > 0 && sec % HUP_EVERY == 0)); then
		if _mw_pid_same "$BENCH_MW_PID" "$MW_START"; then
			kill -HUP "$BENCH_MW_PID"
			HUPS=$((HUPS + 1))
		fi
	fi
	if ((sec % 10 == 0)); then
		printf '%s\t%s\t%s\t%s\t%s\n' "$sec" "$(bench_sink_count)" "$(bench_rss_kib "$BENCH_MW_PID")" \
			"$(bench_hwm_kib "$BENCH_MW_PID")" "${#BATCH_PIDS[@]}" >>"$OUT/soak-samples.tsv"
	fi
	# Sleep to the next whole second since the start.
	now=$(date +%s%N)
	next=$((t_begin + (sec + 1) * 1000000000))
	if ((next > now)); then
		sleep "$(printf '0.%03d' $(((next - now) / 1000000 % 1000)))"
	fi
done
while ((${#BATCH_PIDS[@]} > 0)); do
	reap_batches
	sleep 0.5
done
mw_wait_until 300 bench_sink_at_least $((c_start + ACCEPTED)) || true
AT_SINK=$(($(bench_sink_count) - c_start))
QUEUED=$(mw_pf_queue_count "$W/pf")
REJ=$(($(rejects) - rej_start))
ALIVE=false
_mw_pid_same "$BENCH_MW_PID" "$MW_START" && ALIVE=true
RELOADS=$(grep -c -i 'reload' "$W/mw/milter.log" || true)
cp "$W/mw/milter.log" "$OUT/mailwarden-soak.log"
cp "$W/pf/maillog" "$OUT/postfix-soak.maillog"

"$MW_PYTHON" - "$OUT" <<EOF
import csv, json, os, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(out, "soak-samples.tsv")), delimiter="\t"))
rss = [(int(r["second"]), int(r["rss_kib"] or 0)) for r in rows]
# The issue's criterion: RSS grows under 5 % after the first 5 minutes. RSS sampled
# every 10 s under load moves by about +-2 % from sample to sample (10 connections'
# parser and Hyperscan state, malloc arenas; 0.8 MB standard deviation in the 30-minute
# run of 2026-11-24, no phase relation to the SIGHUPs), so one minute against another
# is a coin toss at 5 %. Growth is judged on windows and on the trend: baseline = the
# mean from minute 5 to 10, end = the mean of the last 5 minutes (runs under 15 minutes:
# from minute 5, or half the run when under 10, with windows a third of what remains),
# trend = the least-squares slope of every sample from the baseline's start, over that
# span; flat = both under 5 % of the baseline. The one-minute values are reported too.
last_s = max(s for s, _ in rss) if rss else 0
base_s = 300 if last_s >= 600 else last_s // 2
win = 300 if last_s >= 900 else max(60, (last_s - base_s) // 3)
avg = lambda xs: sum(xs) / len(xs) if xs else 0.0
first = [v for s, v in rss if base_s <= s < base_s + win]
last = [v for s, v in rss if s > last_s - win]
first_min = [v for s, v in rss if base_s <= s < base_s + 60]
last_min = [v for s, v in rss if s > last_s - 60]
tail = [(s, v) for s, v in rss if s >= base_s]
slope = 0.0
if len(tail) >= 2:
    ms, mv = avg([s for s, _ in tail]), avg([v for _, v in tail])
    den = sum((s - ms) ** 2 for s, _ in tail)
    slope = sum((s - ms) * (v - mv) for s, v in tail) / den if den else 0.0
span = last_s - base_s
growth = avg(last) / avg(first) - 1 if avg(first) else 1.0
trend = slope * span / avg(first) if avg(first) else 1.0
flat = growth < 0.05 and trend < 0.05
r = {
    "minutes": $MINUTES, "rate_offered": $RATE, "hup_every_s": $HUP_EVERY,
    "workload": "$WORKLOAD", "dns": "$DNS_MODE",
    "offered": $OFFERED, "accepted": $ACCEPTED, "at_sink": $AT_SINK,
    "lost": $ACCEPTED - $AT_SINK, "failed_batches": $FAILED_BATCHES,
    "seconds_behind": $BEHIND, "rejects_or_deferrals": $REJ, "queued_after": $QUEUED,
    "hups_sent": $HUPS, "reload_lines_in_log": $RELOADS, "mailwarden_alive": "$ALIVE" == "true",
    "rss_baseline_from_s": base_s, "rss_window_s": win,
    "rss_kib_baseline_window_avg": round(avg(first)), "rss_kib_last_window_avg": round(avg(last)),
    "rss_growth_pct": round(100 * growth, 2), "rss_trend_pct": round(100 * trend, 2),
    "rss_kib_baseline_minute_avg": round(avg(first_min)), "rss_kib_last_minute_avg": round(avg(last_min)),
    "rss_kib_max": max(v for _, v in rss) if rss else 0, "rss_flat": flat,
}
r["ok"] = (r["lost"] == 0 and r["failed_batches"] == 0 and r["rejects_or_deferrals"] == 0
           and r["queued_after"] == 0 and r["offered"] == r["accepted"] and flat
           and r["mailwarden_alive"])
json.dump(r, open(os.path.join(out, "soak.json"), "w"), indent=1)
print(json.dumps(r, indent=1))
EOF
mw_log "results in $OUT"
