#!/usr/bin/env bash
# bench/run-milter-bench.sh -- direct milter benchmark (issue 7, parts 1-3): milter_load
# -> mailwarden against milter_load -> ref_milter, same messages, same concurrency,
# alternating runs, medians; then the memory run (50 connections x 10 MB).
#
#   sudo bench/run-milter-bench.sh [--build DIR] [--out DIR] [--runs R] [--dns zone|nsd]
#        [--sockets unix,tcp] [--workloads 4k,100k,10m] [--connections C]
#        [--per-connection K] [--scale F] [--rules SPEC,...] [--no-memory] [--memory-only]
#        [--metrics] [--reports sqlite]
#
# --build: the configured build directory holding mailwarden and bench/ (default: the
# current directory; `make bench` builds bench/). --out: where results go (default
# /tmp/mw-bench-DATE; kept). --scale F multiplies every message count (0.1 for a quick
# look). --rules: the rule sets mailwarden runs with, each measured against the same
# reference (bench_rules_dirs: none, shipped, shipped+N; default shipped+1000, the
# issue's workload; `--rules shipped,shipped+10000` measures what 10,000 rules cost).
# Root is needed for the network namespace of --dns nsd; --dns zone works
# without (then everything runs in this namespace, loopback only).
# --metrics (issue 19): a second mailwarden, same config plus metrics.listen on a free
# loopback port, scraped once a second (curl, for the whole direct phase) by a bounded
# loop, runs as a third milter "mailwarden-metrics" in the alternation; its msg/s beside
# mailwarden's is the cost of the metrics (doc/PERFORMANCE.md).
# --reports STORE,... (issue 20): for each store a further mailwarden, same config plus
# dmarc.reports enabled on that store, runs as "mailwarden-reports-STORE" in the
# alternation (every bench message is DMARC-evaluated against p=reject and recorded);
# its msg/s beside mailwarden's is the cost of recording. STORE: sqlite (a file in the
# bench's folder), redis (a redis-server of the bench's own on a loopback port, no
# persistence, stopped by PID).
#
# Layout. Per socket kind, both milters are started once and stay up (warm, as in
# production): mailwarden with a bench config (bench/lib-bench.sh bench_mw_config: SPF
# for MAIL FROM and HELO, DKIM, DMARC, the rules, MIME, header guard, verdict headers;
# DNS from the zone file or from nsd in a namespace of ours), one per rule set in turn,
# ref_milter beside it. For each workload, R runs of
# each milter alternate (odd runs: reference first; even runs: mailwarden first), each
# run a --warmup then the measured phase; every run's JSON is in OUT/raw, the medians in
# OUT/summary.md (bench/bench_summary.py). On TCP, one extra run of ref_milter -N
# (stock libmilter, Nagle on) is the control row for the TCP_NODELAY both milters set.
# The memory run starts a fresh mailwarden (and
# a fresh ref_milter) per workload, so VmHWM is that workload's peak.
#
# Bounds: each milter_load run has --duration-limit 300 and a `timeout`; the message
# counts are fixed. Everything started is stopped by PID (tests/integration/lib.sh), the
# namespace is deleted, on any exit.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../tests/integration/lib.sh"
. "$HERE/lib-bench.sh"

BUILD=$PWD
OUT=/tmp/mw-bench-$(date +%Y%m%d-%H%M%S)
RUNS=5
DNS_MODE=zone
SOCKETS=unix,tcp
WORKLOADS=""
CONNS=10
PER_CONN=1
SCALE=1
MEMORY=1
DIRECT=1
RULES=shipped+1000
METRICS=0
REPORTS=""
while [[ $# -gt 0 ]]; do
	case $1 in
	--build) BUILD=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--dns) DNS_MODE=$2; shift 2 ;;
	--sockets) SOCKETS=$2; shift 2 ;;
	--workloads) WORKLOADS=$2; shift 2 ;;
	--connections) CONNS=$2; shift 2 ;;
	--per-connection) PER_CONN=$2; shift 2 ;;
	--scale) SCALE=$2; shift 2 ;;
	--no-memory) MEMORY=0; shift ;;
	--memory-only) DIRECT=0; shift ;;
	--rules) RULES=$2; shift 2 ;;
	--metrics) METRICS=1; shift ;;
	--reports) REPORTS=$2; shift 2 ;;
	*) sed -n '2,12p' "$0" >&2; exit 2 ;;
	esac
done
case $DNS_MODE in zone | nsd) ;; *) mw_log "--dns zone|nsd"; exit 2 ;; esac
BUILD=$(cd "$BUILD" && pwd)
export MW_BUILD_DIR=$BUILD
BENCH_MW=$BUILD/mailwarden
BENCH_REF=$BUILD/bench/ref_milter
BENCH_LOAD=$BUILD/bench/milter_load
BENCH_SCAN=$BUILD/bench/scan_bench
for b in "$BENCH_MW" "$BENCH_REF" "$BENCH_LOAD" "$BENCH_SCAN"; do
	[[ -x $b ]] || { mw_log "missing $b (run 'make bench' in $BUILD)"; exit 2; }
done

bench_cleanup() {
	local rc=$?
	set +e
	(exit "$rc")
	mw_cleanup
	bench_ns_cleanup
	exit "$rc"
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

mkdir -p "$OUT/raw"
mw_workdir W
mkdir -p "$W/msgs" "$W/mw" "$W/ref" "$W/nsd"
ZONE=$W/bench.zone
bench_zone "$ZONE"
bench_make_messages "$W/msgs"
bench_sign_messages "$W/msgs" "$ZONE"
BENCH_RULES_CACHE=$W/rules-cache
mkdir -p "$BENCH_RULES_CACHE"
bench_machine "$OUT/machine.txt"
cp "$ZONE" "$OUT/bench.zone"
ls -l "$W/msgs"/*.eml | awk '{print $5, $9}' >"$OUT/messages.txt"

if [[ $DNS_MODE == nsd ]]; then
	mw_require_root
	bench_nsd_start "$W/nsd" "$ZONE"
fi

# count WORKLOAD -> "N WARMUP C" for the direct runs.
plan() {
	local n w
	case $1 in
	4k*) n=5000 w=500 ;;
	100k) n=2000 w=100 ;;
	10m) n=60 w=5 ;;
	*) mw_log "unknown workload $1"; return 1 ;;
	esac
	n=$("$MW_PYTHON" -c "import sys; print(max(1, round($n * $SCALE)))")
	w=$("$MW_PYTHON" -c "import sys; print(max(0, round($w * $SCALE)))")
	printf '%s %s\n' "$n" "$w"
}

# load LABEL PID SOCKET MESSAGE N WARMUP C K: one milter_load run -> OUT/raw/LABEL.json.
load() {
	local label=$1 pid=$2 socket=$3 msg=$4 n=$5 warm=$6 c=$7 k=$8 rc=0
	local file=$OUT/raw/${label// /_}.json
	bench_in_ns timeout 400 "$BENCH_LOAD" --socket "$socket" --message "$msg" --messages "$n" \
		--warmup "$warm" --connections "$c" --per-connection "$k" --pid "$pid" \
		--duration-limit 300 --label "$label" --json "$file" \
		--mail-from "$BENCH_FROM" --rcpt "$BENCH_RCPT" --helo "$BENCH_HELO" \
		>"$file.txt" 2>&1 || rc=$?
	sed -n 's/^  throughput *//p; s/^    message *//p' "$file.txt" | paste -sd' ' |
		sed "s|^|$(date +%T) $label: |" >&2
	if [[ $rc -ne 0 ]]; then
		mw_log "milter_load $label exited $rc:"
		cat "$file.txt" >&2
	fi
	return 0
}

# scan LABEL CONFIG MESSAGE: bench/scan_bench (the Scan pipeline in process, no milter)
# -> OUT/raw/LABEL.scan.json (Google Benchmark's JSON).
scan() {
	local label=$1 config=$2 msg=$3
	local file=$OUT/raw/${label// /_}.scan.json
	bench_in_ns timeout 300 "$BENCH_SCAN" "$config" "$msg" --client-ip 192.0.2.10 \
		--helo "$BENCH_HELO" --mail-from "$BENCH_FROM" --rcpt "$BENCH_RCPT" \
		--benchmark_min_time=2 --benchmark_format=json --benchmark_out="$file" \
		--benchmark_out_format=json >/dev/null 2>"$file.err" || {
		mw_log "scan_bench $label failed: $(tail -n 5 "$file.err")"
		return 0
	}
	"$MW_PYTHON" -c 'import json,sys; b=json.load(open(sys.argv[1]))["benchmarks"][0]; print("%.1f us CPU per message" % b["cpu_time"])' "$file" |
		sed "s|^|$(date +%T) $label: |" >&2
}

# socket_for VAR KIND NAME: a libmilter socket spec in VAR. In this shell, not $(...),
# so mw_free_port never hands out a port twice.
socket_for() {
	local tcp_port spec # not "port": mw_free_port has a local of that name
	case $2 in
	unix) spec=unix:$W/$3.sock ;;
	tcp)
		mw_free_port tcp_port
		spec=inet:$tcp_port@127.0.0.1
		;;
	*) mw_log "unknown socket kind $2"; return 1 ;;
	esac
	printf -v "$1" '%s' "$spec"
}

# scraper_start DIR PORT: GET /metrics on 127.0.0.1:PORT once a second (in the namespace
# if any), at most 7200 times, recorded for cleanup.
scraper_start() {
	local dir=$1 port=$2
	mkdir -p "$dir"
	"${BENCH_NS_EXEC[@]}" bash -c 'for ((i = 0; i < 7200; i++)); do
		curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$1/metrics" || echo "scrape failed" >&2
		sleep 1
	done' scraper "$port" </dev/null >>"$dir/scraper.log" 2>&1 &
	_mw_record_pid "$dir/scraper.pid" "$!" || return 1
	_mw_register proc "$dir/scraper.pid"
}

if [[ -z $WORKLOADS ]]; then
	WORKLOADS="4k,100k,10m"
	for s in "${BENCH_SIGNED[@]}"; do WORKLOADS="$s,$WORKLOADS"; done
fi
IFS=, read -r -a WL <<<"$WORKLOADS"
IFS=, read -r -a SK <<<"$SOCKETS"
IFS=, read -r -a RS <<<"$RULES"
IFS=, read -r -a RP <<<"$REPORTS"
for store in "${RP[@]}"; do
	case $store in sqlite | redis) ;; *) mw_log "--reports: unknown store '$store' (sqlite, redis)"; exit 2 ;; esac
done

# report_instance_start KIND STORE: a mailwarden like the plain one plus dmarc.reports on
# STORE; sets REPORT_PID[STORE] and REPORT_SOCK[STORE].
declare -A REPORT_PID REPORT_SOCK
report_instance_start() {
	local kind=$1 store=$2 sock spec dir=$W/mwr-$2
	socket_for sock "$kind" "mwr-$store"
	mkdir -p "$dir"
	cp "$W/mw/mailwarden.yaml" "$dir.yaml"
	sed -i "s|$mw_sock|$sock|" "$dir.yaml"
	case $store in
	sqlite)
		rm -f "$dir/dmarc.sqlite"*
		spec="sqlite:$dir/dmarc.sqlite"
		;;
	redis)
		local redis_port=""  # not "port": mw_free_port has a local of that name
		mw_free_port redis_port
		local port=$redis_port
		# In the milters' network namespace when there is one (--dns nsd).
		${BENCH_NS_EXEC[@]+"${BENCH_NS_EXEC[@]}"} redis-server --port "$port" --bind 127.0.0.1 \
			--save '' --appendonly no --daemonize no --logfile "$dir/redis.log" </dev/null &
		_mw_record_pid "$dir/redis.pid" "$!"
		_mw_register proc "$dir/redis.pid"
		_redis_up() { ${BENCH_NS_EXEC[@]+"${BENCH_NS_EXEC[@]}"} redis-cli -p "$port" PING 2>/dev/null | grep -q PONG; }
		mw_wait_until 10 _redis_up || { mw_log "redis-server did not start: $(tail -3 "$dir/redis.log")"; return 1; }
		REDIS_PORT=$port
		spec="redis://127.0.0.1:$port/0"
		;;
	esac
	# The bench config has a dmarc: block: the reports go into it (YAML: one key once).
	"$MW_PYTHON" - "$dir.yaml" "$spec" <<'PYEOF2'
import sys
path, spec = sys.argv[1], sys.argv[2]
text = open(path).read()
block = ("  reports:\n    enabled: true\n    store: \"%s\"\n"
         "    org_name: bench.example\n    email: dmarc-reports@bench.example\n" % spec)
assert "\ndmarc:\n" in text, "no dmarc: block in the bench config"
open(path, "w").write(text.replace("\ndmarc:\n", "\ndmarc:\n" + block, 1))
PYEOF2
	"$BENCH_MW" configtest -c "$dir.yaml" >/dev/null
	local plain_pid=$BENCH_MW_PID
	bench_mw_start "$dir" "$dir.yaml" "$sock"
	REPORT_PID[$store]=$BENCH_MW_PID
	REPORT_SOCK[$store]=$sock
	BENCH_MW_PID=$plain_pid
	mw_log "$kind: mailwarden-reports-$store pid ${REPORT_PID[$store]} on $sock, store $spec"
}

if [[ $DIRECT == 1 ]]; then
	for kind in "${SK[@]}"; do
		socket_for ref_sock "$kind" ref
		bench_ref_start "$W/ref" "$ref_sock"
		for spec in "${RS[@]}"; do
			socket_for mw_sock "$kind" mw
			bench_rules_dirs "$spec" "$W"
			bench_mw_config "$W/mw/mailwarden.yaml" "$mw_sock" "$DNS_MODE" "$ZONE" "$BENCH_NSD_PORT"
			"$BENCH_MW" configtest -c "$W/mw/mailwarden.yaml" >/dev/null
			cp "$W/mw/mailwarden.yaml" "$OUT/mailwarden-$kind-$spec.yaml"
			bench_mw_start "$W/mw" "$W/mw/mailwarden.yaml" "$mw_sock"
			mw_log "$kind: mailwarden (rules $spec) pid $BENCH_MW_PID on $mw_sock, ref_milter pid $BENCH_REF_PID on $ref_sock"
			milters=(ref mailwarden)
			if [[ $METRICS == 1 ]]; then
				plain_pid=$BENCH_MW_PID
				socket_for mwm_sock "$kind" mwm
				mw_free_port metrics_port
				cp "$W/mw/mailwarden.yaml" "$W/mwm.yaml"
				sed -i "s|$mw_sock|$mwm_sock|" "$W/mwm.yaml"
				printf 'metrics:\n  listen: "127.0.0.1:%s"\n' "$metrics_port" >>"$W/mwm.yaml"
				bench_mw_start "$W/mwm" "$W/mwm.yaml" "$mwm_sock"
				mwm_pid=$BENCH_MW_PID
				BENCH_MW_PID=$plain_pid
				scraper_start "$W/scraper" "$metrics_port"
				milters=(ref mailwarden mailwarden-metrics)
				mw_log "$kind: mailwarden-metrics pid $mwm_pid on $mwm_sock, scraped on 127.0.0.1:$metrics_port every second"
			fi
			for store in "${RP[@]}"; do
				report_instance_start "$kind" "$store"
				milters+=("mailwarden-reports-$store")
			done
			for wl in "${WL[@]}"; do
				read -r n warm <<<"$(plan "$wl")"
				for ((run = 1; run <= RUNS; run++)); do
					order=("${milters[@]}")
					if ((run % 2 == 0)); then
						order=()
						for ((i = ${#milters[@]} - 1; i >= 0; i--)); do order+=("${milters[i]}"); done
					fi
					for m in "${order[@]}"; do
						# rules=: mailwarden's rule set; the reference is measured again
						# beside each one (same minutes, same neighbours) under its name.
						label="mode=direct dns=$DNS_MODE socket=$kind workload=$wl c=$CONNS k=$PER_CONN rules=$spec milter=$m run=$run"
						if [[ $m == ref ]]; then
							load "$label" "$BENCH_REF_PID" "$ref_sock" "$W/msgs/$wl.eml" "$n" "$warm" "$CONNS" "$PER_CONN"
						elif [[ $m == mailwarden-metrics ]]; then
							load "$label" "$mwm_pid" "$mwm_sock" "$W/msgs/$wl.eml" "$n" "$warm" "$CONNS" "$PER_CONN"
						elif [[ $m == mailwarden-reports-* ]]; then
							store=${m#mailwarden-reports-}
							load "$label" "${REPORT_PID[$store]}" "${REPORT_SOCK[$store]}" "$W/msgs/$wl.eml" "$n" "$warm" "$CONNS" "$PER_CONN"
						else
							load "$label" "$BENCH_MW_PID" "$mw_sock" "$W/msgs/$wl.eml" "$n" "$warm" "$CONNS" "$PER_CONN"
						fi
					done
				done
			done
			bench_mw_stop "$W/mw"
			if [[ $METRICS == 1 ]]; then
				_mw_stop_pidfile "$W/scraper/scraper.pid" 5
				_mw_unregister proc "$W/scraper/scraper.pid"
				bench_mw_stop "$W/mwm"
				grep -c 'scrape failed' "$W/scraper/scraper.log" | sed "s|^|$(date +%T) failed scrapes: |" >&2 || true
				cp "$W/mwm/milter.log" "$OUT/mailwarden-metrics-$kind-$spec.log" 2>/dev/null || true
				: >"$W/mwm/milter.log"
			fi
			for store in "${RP[@]}"; do
				bench_mw_stop "$W/mwr-$store"
				# Proof it recorded: the messages counted in the store (every message sent
				# to it, warm-ups included; the store aggregates them into a few rows).
				case $store in
				redis)
					${BENCH_NS_EXEC[@]+"${BENCH_NS_EXEC[@]}"} redis-cli -p "$REDIS_PORT" --scan --pattern 'mailwarden:dmarc:[0-9]*:*' |
						grep -v ':claim' | while read -r key; do
						${BENCH_NS_EXEC[@]+"${BENCH_NS_EXEC[@]}"} redis-cli -p "$REDIS_PORT" HVALS "$key"
					done | awk '{ n++; s += $1 } END { print n + 0, s + 0 }' |
						{ read -r rows msgs; mw_log "$kind: mailwarden-reports-$store stored $msgs messages in $rows rows"; echo "$kind $spec rows=$rows messages=$msgs" >>"$OUT/reports-$store.txt"; }
					_mw_stop_pidfile "$W/mwr-$store/redis.pid" 5
					_mw_unregister proc "$W/mwr-$store/redis.pid"
					;;
				sqlite)
					"$MW_PYTHON" -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(*c.execute("select count(*), coalesce(sum(count),0) from tallies").fetchone())' \
						"$W/mwr-$store/dmarc.sqlite" | { read -r rows msgs; mw_log "$kind: mailwarden-reports-$store stored $msgs messages in $rows rows"; echo "$kind $spec rows=$rows messages=$msgs" >>"$OUT/reports-$store.txt"; }
					;;
				esac
				cp "$W/mwr-$store/milter.log" "$OUT/mailwarden-reports-$store-$kind-$spec.log" 2>/dev/null || true
				: >"$W/mwr-$store/milter.log"
			done
			# The checks alone: the same config and messages through the Scan pipeline in
			# process (bench/scan_bench), once per socket kind's config (they differ only
			# in the socket).
			[[ $kind == "${SK[0]}" ]] && for wl in "${WL[@]}"; do
				scan "mode=scan dns=$DNS_MODE socket=- workload=$wl c=1 k=- rules=$spec milter=scan run=1" \
					"$W/mw/mailwarden.yaml" "$W/msgs/$wl.eml"
			done
			cp "$W/mw/milter.log" "$OUT/mailwarden-$kind-$spec.log" 2>/dev/null || true
			: >"$W/mw/milter.log"
		done
		bench_ref_stop "$W/ref"
		# Control (TCP only, one run): stock libmilter, Nagle left on (ref_milter -N), what
		# the reference would measure without the TCP_NODELAY that mailwarden sets too.
		if [[ $kind == tcp ]]; then
			socket_for stock_sock tcp ref-stock
			bench_ref_start "$W/ref-stock" "$stock_sock" -N
			read -r n warm <<<"$(plan 4k)"
			load "mode=direct dns=$DNS_MODE socket=tcp workload=4k c=$CONNS k=$PER_CONN rules=- milter=ref-stock-nagle run=1" \
				"$BENCH_REF_PID" "$stock_sock" "$W/msgs/4k.eml" $((n / 10)) $((warm / 10)) "$CONNS" "$PER_CONN"
			bench_ref_stop "$W/ref-stock"
		fi
	done
fi

# Memory: 50 concurrent connections, each one message, fresh milters per workload. The
# 4 KB run is the baseline for "per-message memory does not grow with message size".
if [[ $MEMORY == 1 ]]; then
	for wl in 4k 10m; do
		socket_for mw_sock unix mw
		socket_for ref_sock unix ref
		bench_rules_dirs "${RS[0]}" "$W"
		bench_mw_config "$W/mw/mailwarden.yaml" "$mw_sock" "$DNS_MODE" "$ZONE" "$BENCH_NSD_PORT"
		for m in mailwarden ref; do
			label="mode=memory dns=$DNS_MODE socket=unix workload=$wl c=50 k=1 rules=${RS[0]} milter=$m run=1"
			if [[ $m == ref ]]; then
				bench_ref_start "$W/ref" "$ref_sock"
				load "$label" "$BENCH_REF_PID" "$ref_sock" "$W/msgs/$wl.eml" 50 0 50 1
				bench_ref_stop "$W/ref"
			else
				bench_mw_start "$W/mw" "$W/mw/mailwarden.yaml" "$mw_sock"
				load "$label" "$BENCH_MW_PID" "$mw_sock" "$W/msgs/$wl.eml" 50 0 50 1
				bench_mw_stop "$W/mw"
			fi
		done
	done
fi

"$MW_PYTHON" "$HERE/bench_summary.py" "$OUT" | tee "$OUT/summary.md"
mw_log "results in $OUT"
