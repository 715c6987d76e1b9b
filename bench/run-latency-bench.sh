#!/usr/bin/env bash
# bench/run-latency-bench.sh -- the added SMTP latency per message against a DNS that
# answers late (issue 17, "Performance"): mailwarden with every check on (SPF for MAIL
# FROM and HELO, DKIM, DMARC, iprev, an IP list and a domain list) against opendkim +
# opendmarc (DKIM; SPF and DMARC), on the same DNS, in the same run.
#
#   sudo bench/run-latency-bench.sh [--build DIR] [--out DIR] [--runs R] [--messages N]
#        [--warmup W] [--delay-ms D]
#
# Defaults: 3 runs of 200 messages (+5 warmup) per milter, 20 ms. --build: the configured
# build directory (mailwarden, bench/milter_load, tests/tools/{dns_delay,dkim_sign}; `make
# bench-latency` builds them and runs this). --out: results (default
# /tmp/mw-latency-DATE; kept): OUT/raw/MILTER-runR.json (milter_load's report) and .jsonl
# (one line per message), OUT/summary.md (the table of doc/PERFORMANCE.md).
#
# DNS. A network namespace of our own (its only interface its own lo): nsd on
# 127.0.0.1:5353 serves the bench zones (example. and 18.198.in-addr.arpa.,
# bench/latency_bench.py gen), tests/tools/dns_delay on 127.0.0.1:53 forwards to it and
# holds every answer --delay-ms. Every milter runs inside the namespace and asks
# 127.0.0.1:53: mailwarden through libunbound (dns.resolvers), opendkim through its
# libunbound (Nameservers 127.0.0.1: ub_ctx_set_fwd), opendmarc through the stub resolver
# of libresolv (its DMARC queries) and libspf2 (its SPF), which read /etc/resolv.conf:
# `ip netns exec` bind-mounts /etc/netns/NS/resolv.conf ("nameserver 127.0.0.1") over
# it. That the peers really wait for the delayed DNS is visible in their latency (each
# message costs them at least one delay) and in their verdicts (pass only with answers).
#
# Cold lookups. A real MX sees mostly new senders, and the bench must not be answered
# from a cache: every message of the whole bench (all runs, warmup included) has a
# sender domain sNNNNN.example and a client address 198.18.x.y of its own (RFC 2544's
# benchmarking range), with its own SPF, HELO, DKIM key, DMARC, PTR and list records.
# The milters are started once and stay up (warm processes, cold DNS). What stays cached
# is what a production resolver would have cached too (nothing here: all names differ).
#
# Per message, per sender: SPF MAIL FROM = TXT, then the included TXT (2 round trips);
# SPF HELO = TXT, then the A of its "a" (2); DKIM key TXT (1); DMARC _dmarc TXT (1);
# iprev = PTR, then the A of the name (2); the IP list and the domain list (1 each): 10
# lookups, 2 round trips when started as soon as their input is known.
#
# Method. One milter_load per milter and run: 1 connection, one message per connection
# (each message its own client, --plan), sequentially, W warmup messages first. Latency
# (a) end-of-body -> final reply, (b) connect -> final reply (socket connect, OPTNEG,
# CONNECT, HELO, the transaction; milter_load's --per-message file). Postfix calls its
# milters one after the other for each event, so the added latency of "opendkim +
# opendmarc" for a message is the sum of the two milters' latencies for that message:
# milter_load drives opendkim with the run's messages, then opendmarc with the same
# messages carrying the Authentication-Results field opendkim added to each (what
# Postfix hands the second milter; opendmarc trusts it by AuthservID), and the summary
# adds the two per message before taking percentiles. Runs alternate (odd runs: the
# peers first; even runs: mailwarden first); the table gives medians over the runs of
# each run's p50 and p99. Every message's verdicts are checked (latency_bench.py
# summary): mailwarden spf=pass for MAIL FROM and HELO, dkim, dmarc and iprev pass, both
# list symbols; opendkim dkim=pass; opendmarc spf=pass and dmarc=pass.
#
# opendkim and opendmarc are installed with apt-get if missing (never added to
# contrib/install-deps.sh: CI does not need them); a service the package starts is
# stopped by its PID. They run in the foreground (-f) as root with config files in the
# work directory.
#
# Bounds: every milter_load has --duration-limit 300 and a `timeout 600`; message counts
# are fixed; everything started is stopped by PID (tests/integration/lib.sh), the
# namespace and /etc/netns/NS are removed, on any exit.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../tests/integration/lib.sh"
. "$HERE/lib-bench.sh"
. "$HERE/../tests/integration/netns_dns.sh"  # nsd_config

BUILD=$PWD
OUT=/tmp/mw-latency-$(date +%Y%m%d-%H%M%S)
RUNS=3
MESSAGES=200
WARMUP=5
DELAY=20
while [[ $# -gt 0 ]]; do
	case $1 in
	--build) BUILD=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--messages) MESSAGES=$2; shift 2 ;;
	--warmup) WARMUP=$2; shift 2 ;;
	--delay-ms) DELAY=$2; shift 2 ;;
	*) sed -n '2,12p' "$0" >&2; exit 2 ;;
	esac
done
for v in "$RUNS" "$MESSAGES" "$WARMUP" "$DELAY"; do
	[[ $v =~ ^[0-9]+$ ]] || { mw_log "not a number: $v"; exit 2; }
done
((RUNS >= 1 && RUNS <= 20 && MESSAGES >= 1 && MESSAGES <= 5000 && WARMUP <= 100 && DELAY <= 1000)) || {
	mw_log "--runs 1..20, --messages 1..5000, --warmup 0..100, --delay-ms 0..1000"
	exit 2
}
mw_require_root
BUILD=$(cd "$BUILD" && pwd)
export MW_BUILD_DIR=$BUILD
BENCH_MW=$BUILD/mailwarden
LOAD=$BUILD/bench/milter_load
DNS_DELAY=$BUILD/tests/tools/dns_delay
SIGNER=$BUILD/tests/tools/dkim_sign
NSD=${MW_NSD:-/usr/sbin/nsd}
for b in "$BENCH_MW" "$LOAD" "$DNS_DELAY" "$SIGNER" "$NSD"; do
	[[ -x $b ]] || { mw_log "missing $b (run 'make bench-latency' in the build directory)"; exit 2; }
done

# --- opendkim and opendmarc ---------------------------------------------------------

OPENDKIM=/usr/sbin/opendkim
OPENDMARC=/usr/sbin/opendmarc
# Installed with service starts denied; anything a postinst started anyway is stopped by
# PID (bench/lib-bench.sh bench_peers_install).
bench_peers_install opendkim opendmarc || exit 1

# --- cleanup ------------------------------------------------------------------------

NS=""
NETNS_DIR=""
NETNS_PARENT_MADE=""
lat_cleanup() {
	local rc=$?
	set +e
	(exit "$rc")
	mw_cleanup
	if [[ -n $NS ]]; then
		ip netns del "$NS" 2>/dev/null || mw_log "could not delete namespace $NS"
	fi
	[[ -n $NETNS_DIR ]] && rm -rf -- "$NETNS_DIR"
	# /etc/netns itself only if this run made it and nobody else put anything there
	[[ -n $NETNS_PARENT_MADE ]] && rmdir /etc/netns 2>/dev/null
	exit "$rc"
}
trap lat_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

mkdir -p "$OUT/raw"
mw_workdir W
mkdir -p "$W/nsd" "$W/mw" "$W/peers" "$W/delay"

mw_log "generating $((RUNS * (MESSAGES + WARMUP))) senders: zones, signed messages, plans"
"$MW_PYTHON" "$HERE/latency_bench.py" gen "$W" --runs "$RUNS" --messages "$MESSAGES" \
	--warmup "$WARMUP" --signer "$SIGNER" --key "$MW_REPO_DIR/tests/keys/rsa2048.pem" \
	--key-zone "$MW_INTEG_DIR/reputation.zone"
bench_machine "$OUT/machine.txt"
{
	printf 'opendkim %s\n' "$(dpkg-query -W -f '${Version}' opendkim 2>/dev/null)"
	printf 'opendmarc %s\n' "$(dpkg-query -W -f '${Version}' opendmarc 2>/dev/null)"
	printf 'nsd %s\n' "$(dpkg-query -W -f '${Version}' nsd 2>/dev/null)"
} >>"$OUT/machine.txt"

# --- the namespace: nsd, dns_delay, resolv.conf -------------------------------------

NS=mw-latency-$$
ip netns add "$NS" || { NS=""; mw_log "cannot create a network namespace"; exit 1; }
ip netns exec "$NS" ip link set lo up
NETNS_DIR=/etc/netns/$NS
[[ -d /etc/netns ]] || NETNS_PARENT_MADE=1
mkdir -p "$NETNS_DIR"
printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:2\n' >"$NETNS_DIR/resolv.conf"
NSX=(ip netns exec "$NS")

NSD_PORT=5353 nsd_config example "$W/zone/example.zone" 18.198.in-addr.arpa "$W/zone/reverse.zone"
"${NSX[@]}" "$NSD" -d -c "$W/nsd/nsd.conf" </dev/null >>"$W/nsd/nsd.out" 2>&1 &
_mw_record_pid "$W/nsd/nsd.pid" "$!" || { mw_log "nsd exited: $(tail -n 5 "$W/nsd/nsd.out" "$W/nsd/nsd.log" 2>/dev/null)"; exit 1; }
_mw_register proc "$W/nsd/nsd.pid"
"${NSX[@]}" "$DNS_DELAY" --listen 127.0.0.1:53 --upstream 127.0.0.1:5353 --delay-ms "$DELAY" \
	</dev/null >"$W/delay/out" 2>&1 &
_mw_record_pid "$W/delay/pid" "$!" || { mw_log "dns_delay exited: $(cat "$W/delay/out")"; exit 1; }
_mw_register proc "$W/delay/pid"
mw_wait_until 10 grep -q listening "$W/delay/out" || { mw_log "dns_delay: $(cat "$W/delay/out")"; exit 1; }

# dns_ok NAME TYPE: one query through the stub resolver inside the namespace (the path
# opendmarc takes), answered (through dns_delay and nsd).
dns_ok() {
	"${NSX[@]}" "$MW_PYTHON" - "$1" <<'EOF'
import socket, sys
# getaddrinfo reads the namespace's resolv.conf (glibc's stub resolver, like libresolv)
try:
    socket.getaddrinfo(sys.argv[1], None, socket.AF_INET)
except OSError:
    sys.exit(1)
EOF
}
mw_wait_until 20 dns_ok mail.s00000.example || { mw_log "no DNS answer in $NS: $(tail -n 5 "$W/nsd/nsd.log")"; exit 1; }
mw_log "namespace $NS: nsd on 127.0.0.1:5353, dns_delay ($DELAY ms) on 127.0.0.1:53, $NETNS_DIR/resolv.conf"

# --- the milters --------------------------------------------------------------------

MW_SOCK=unix:$W/mw/mw.sock
bench_rules_dirs shipped "$W"
BENCH_RULES_CACHE=$W/rules-cache
mkdir -p "$BENCH_RULES_CACHE"
bench_mw_config "$W/mw/mailwarden.yaml" "$MW_SOCK" nsd "" 53
cat >>"$W/mw/mailwarden.yaml" <<'EOF'
reputation:
  lists:
    - zone: bl.example
      lookup: [client_ip]
      answers:
        - codes: ["127.0.0.2..127.0.0.7"]
          symbol: RBL_LAT
          score: 0.5
    - zone: dbl.example
      lookup: [from, dkim]
      answers:
        - codes: ["127.0.1.2..127.0.1.6"]
          symbol: DBL_LAT
          score: 0.5
  iprev:
    enabled: true
EOF
"$BENCH_MW" configtest -c "$W/mw/mailwarden.yaml" >/dev/null
cp "$W/mw/mailwarden.yaml" "$OUT/mailwarden.yaml"
# shellcheck disable=SC2034 # read by bench_mw_start (lib-bench.sh): mailwarden in the namespace
BENCH_NS_EXEC=("${NSX[@]}")
bench_mw_start "$W/mw" "$W/mw/mailwarden.yaml" "$MW_SOCK"

# The peers' configurations and start as bench-peers has them (bench/lib-bench.sh):
# opendkim verifying only, keys through its libunbound forwarding to 127.0.0.1 (here the
# delayed DNS); opendmarc checking SPF itself (libspf2), DKIM from opendkim's A-R, no
# history file, no rejection, DNS through the namespace's resolv.conf.
bench_opendkim_config "$W/peers/opendkim.conf" "$W/peers/opendkim.sock"
bench_opendmarc_config "$W/peers/opendmarc.conf" "$W/peers/opendmarc.sock"
cp "$W/peers/opendkim.conf" "$W/peers/opendmarc.conf" "$OUT/"
bench_peer_start opendkim "$W/peers" "$W/peers/opendkim.sock" 20 "$OPENDKIM" -f -x "$W/peers/opendkim.conf"
DKIM_PID=$BENCH_PEER_PID
bench_peer_start opendmarc "$W/peers" "$W/peers/opendmarc.sock" 20 "$OPENDMARC" -f -c "$W/peers/opendmarc.conf"
DMARC_PID=$BENCH_PEER_PID
mw_log "mailwarden pid $BENCH_MW_PID, opendkim pid $DKIM_PID, opendmarc pid $DMARC_PID"

# load NAME RUN PID SOCKET PLAN: one milter_load run -> OUT/raw/NAME-runRUN.json{,l}.
load() {
	local name=$1 run=$2 pid=$3 socket=$4 plan=$5 rc=0
	local base=$OUT/raw/$name-run$run
	timeout 600 "$LOAD" --socket "$socket" --plan "$plan" --messages "$MESSAGES" \
		--warmup "$WARMUP" --connections 1 --per-connection 1 --pid "$pid" \
		--duration-limit 300 --timeout-ms 10000 --rcpt user@mx.test.example \
		--label "latency delay=$DELAY milter=$name run=$run" --json "$base.json" \
		--per-message "$base.jsonl" >"$base.txt" 2>&1 || rc=$?
	sed -n 's/^    \(eob->reply\|connect->reply\) */\1 /p' "$base.txt" | paste -sd' ' |
		sed "s|^|$(date +%T) $name run $run (p50 p90 p99 max mean): |" >&2
	if [[ $rc -ne 0 ]]; then
		mw_log "milter_load $name run $run exited $rc:"
		cat "$base.txt" >&2
		return 1
	fi
}

peers() {
	local run=$1
	load opendkim "$run" "$DKIM_PID" "unix:$W/peers/opendkim.sock" "$W/plan-$run.txt"
	"$MW_PYTHON" "$HERE/latency_bench.py" chain "$OUT/raw/opendkim-run$run.jsonl" \
		"$W/plan-$run.txt" "$W/chain-$run" "$W/plan-$run-dmarc.txt"
	load opendmarc "$run" "$DMARC_PID" "unix:$W/peers/opendmarc.sock" "$W/plan-$run-dmarc.txt"
}

for ((run = 1; run <= RUNS; run++)); do
	if ((run % 2 == 1)); then
		peers "$run"
		load mailwarden "$run" "$BENCH_MW_PID" "$MW_SOCK" "$W/plan-$run.txt"
	else
		load mailwarden "$run" "$BENCH_MW_PID" "$MW_SOCK" "$W/plan-$run.txt"
		peers "$run"
	fi
done
cp "$W/mw/milter.log" "$OUT/mailwarden.log" 2>/dev/null || true
cp "$W/peers/opendkim.log" "$W/peers/opendmarc.log" "$OUT/" 2>/dev/null || true

rc=0
"$MW_PYTHON" "$HERE/latency_bench.py" summary "$OUT" "$DELAY" >"$OUT/summary.md" || rc=$?
cat "$OUT/summary.md"
((rc == 0)) || mw_log "some verdicts were not the expected pass (see the table)"
mw_log "results in $OUT"
exit "$rc"
