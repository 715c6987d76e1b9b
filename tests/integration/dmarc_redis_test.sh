#!/usr/bin/env bash
# dmarc_redis_test.sh -- DMARC aggregate reports from two MX hosts into one Redis (issue 20):
# two `mailwarden run` processes (each its own milter socket, the same configuration
# otherwise, dmarc.reports.store a redis-server of this test's own on a unix socket),
# driven by tests/tools/milter_client the way Postfix drives them. DNS is a zone file
# (offline): example.org publishes SPF for 192.0.2.0/24 and DMARC p=none, so every
# message passes DMARC and is recorded.
#
#   sudo MW_BIN=/path/to/build/mailwarden tests/integration/dmarc_redis_test.sh
#
# Checks:
#   1  configtest: a Redis that does not answer is an error at the reports line; with
#      Redis up the configuration is OK.
#   2  50 messages through each instance (25 from each of 2 source IPs), both at once:
#      the store holds 2 rows for example.org with counts summing to 100, 50 per IP;
#      each instance counted 50 stored records on its metrics endpoint.
#   3  Redis stopped (SIGTERM by its PID; it saves its data) mid-run: 20 more messages
#      through instance A get the same verdicts as before, within a bound, and
#      mailwarden_dmarc_records_total{result="spooled"} rises by 20.
#   4  Redis restarted on the same socket: the next messages flush the spool; the store
#      then counts every message sent (100 + 20 + the ones that flushed it).
# Needs root (mailwarden drops to its user) and redis-server; exits 77 (skip) without
# them or without the binaries. Prints PASS/FAIL lines and "N passed, N failed".
set -euo pipefail

. "$(dirname "$0")/lib.sh"
mw_require_root
bin=$(mw_bin)
build=$(dirname "$bin")
CLIENT=${MILTER_CLIENT:-$build/tests/tools/milter_client}
if [[ ! -x $bin || ! -x $CLIENT ]]; then
	echo "SKIP: need $bin and $CLIENT (set MW_BIN; run make first)"
	exit 77
fi
for tool in redis-server redis-cli curl; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool not installed"
		exit 77
	fi
done
mw_install_trap
mw_workdir W

# --- Redis: our own, on a unix socket, persisting across our restart ------------------
RDIR=$W/redis
mkdir -p "$RDIR"
chmod 0755 "$RDIR"
RSOCK=$RDIR/redis.sock
redis_start() {
	# 0777: the milter reconnects after dropping to its user; the folder is the test's.
	redis-server --port 0 --unixsocket "$RSOCK" --unixsocketperm 777 --save "3600 1" \
		--dbfilename dump.rdb --dir "$RDIR" --appendonly no --daemonize no \
		--logfile "$RDIR/redis.log" </dev/null &
	local pid=$!
	_mw_record_pid "$RDIR/redis.pid" "$pid" || return 1
	_mw_register proc "$RDIR/redis.pid"
	mw_wait_until 10 rcli PING >/dev/null
}
redis_stop() { # SIGTERM: Redis saves (save points are set) and exits
	_mw_stop_pidfile "$RDIR/redis.pid" 10
	_mw_unregister proc "$RDIR/redis.pid"
}
rcli() { redis-cli -s "$RSOCK" "$@" 2>/dev/null; }

# store_counts: "ROWS SUM" over every day's example.org hash; per-IP counts to $W/byip.
store_counts() {
	local key rows=0 sum=0 field value
	: >"$W/byip"
	while read -r key; do
		[[ -n $key ]] || continue
		while read -r field && read -r value; do
			rows=$((rows + 1))
			sum=$((sum + value))
			printf '%s %s\n' "$(sed -n 's/.*"ip":"\([^"]*\)".*/\1/p' <<<"$field")" "$value" >>"$W/byip"
		done < <(rcli HGETALL "$key")
	done < <(rcli --scan --pattern 'mailwarden:dmarc:*:example.org' | grep -v ':claim:')
	echo "$rows $sum"
}

# --- DNS (offline) and the two instances ---------------------------------------------------
cat >"$W/zone" <<'ZONE'
$TTL 300
$ORIGIN example.org.
@ TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc TXT "v=DMARC1; p=none"
ZONE
metrics_a="" metrics_b=""
mw_free_port metrics_a
mw_free_port metrics_b
config() { # NAME METRICS_PORT
	cat <<YAML
milter: {socket: "unix:$W/$1/milter.sock", user: $MW_MILTER_USER, drain_timeout: 5}
authserv_id: mx.test.example
log: {target: stderr, level: info}
dns: {zone_files: ["$W/zone"]}
rules: {directories: []}
reputation: {iprev: {enabled: false}}
metrics: {listen: "127.0.0.1:$2"}
dmarc:
  reports:
    enabled: true
    store: "redis+unix://$RSOCK"
    org_name: Test Receiver
    email: dmarc@mx.test.example
YAML
}
mkdir -p "$W/a" "$W/b"
config a "$metrics_a" >"$W/a.yaml"
config b "$metrics_b" >"$W/b.yaml"

# --- 1: configtest -------------------------------------------------------------------------
rc=0
"$bin" configtest -c "$W/a.yaml" >"$W/configtest-down.out" 2>&1 || rc=$?
if [[ $rc -ne 0 ]] && grep -q -F "$W/a.yaml:9: dmarc.reports: redis store redis+unix://$RSOCK: cannot connect" "$W/configtest-down.out"; then
	mw_pass "1 configtest: $(grep -m1 -F "$W/a.yaml:" "$W/configtest-down.out")"
else
	mw_fail "1 configtest reports a Redis that does not answer at the reports line" "rc=$rc $(head -n 3 "$W/configtest-down.out")"
fi
redis_start || {
	mw_fail "redis-server started" "$(tail -5 "$RDIR/redis.log")"
	mw_summary
	exit 1
}
if "$bin" configtest -c "$W/a.yaml" >"$W/configtest.out" 2>&1; then
	mw_pass "1 configtest with Redis up"
else
	mw_fail "1 configtest with Redis up" "$(head -n 5 "$W/configtest.out")"
fi

mw_milter_start "$W/a" "$W/a.yaml" "unix:$W/a/milter.sock"
mw_milter_start "$W/b" "$W/b.yaml" "unix:$W/b/milter.sock"

# metric PORT RESULT: mailwarden_dmarc_records_total{result="RESULT"} (0 when absent).
metric() {
	curl -sS --max-time 10 "http://127.0.0.1:$1/metrics" |
		awk -v want="mailwarden_dmarc_records_total{result=\"$2\"}" '$1 == want { v = $2 } END { print v + 0 }'
}
# send NAME COUNT IP OUT: COUNT messages through instance NAME from IP; replies to OUT.
send() {
	"$CLIENT" send --socket "unix:$W/$1/milter.sock" --count "$2" --client-addr "$3" \
		--mail-from sender@example.org --rcpt user@mx.test.example --timeout-ms 10000 >"$4" 2>&1
}
# verdicts FILE: what the milter answered, without the message numbers, once per distinct
# line (every message here is alike: the same From, envelope and DNS).
verdicts() { sed -n 's/^msg [0-9]* //p' "$1" | sort -u; }
# replies FILE: how many messages got an answer.
replies() { grep -c '^msg [0-9]* reply ' "$1" || true; }

# --- 2: two instances, 100 messages, 2 source IPs --------------------------------------------
pids=()
for inst in a b; do
	for ip in 192.0.2.10 192.0.2.20; do
		send "$inst" 25 "$ip" "$W/send-$inst-$ip.out" &
		pids+=($!)
	done
done
send_rc=0
for p in "${pids[@]}"; do
	wait "$p" || send_rc=1
done
if [[ $send_rc -eq 0 ]]; then
	mw_pass "2 100 messages through the two instances"
else
	mw_fail "2 100 messages through the two instances" "$(tail -n 3 "$W"/send-*.out)"
fi
read -r rows sum < <(store_counts)
if [[ $rows -eq 2 && $sum -eq 100 ]] && grep -qx '192.0.2.10 50' "$W/byip" && grep -qx '192.0.2.20 50' "$W/byip"; then
	mw_pass "2 the store: 2 rows summing to 100 ($(tr '\n' ' ' <"$W/byip"))"
else
	mw_fail "2 the store: 2 rows summing to 100" "rows=$rows sum=$sum: $(tr '\n' ' ' <"$W/byip")"
fi
stored_a=$(metric "$metrics_a" stored) stored_b=$(metric "$metrics_b" stored)
if [[ $stored_a -eq 50 && $stored_b -eq 50 ]]; then
	mw_pass "2 each instance counted 50 stored records"
else
	mw_fail "2 each instance counted 50 stored records" "a=$stored_a b=$stored_b"
fi
cat "$W"/send-a-*.out | verdicts /dev/stdin >"$W/verdicts-up"
if [[ $(grep -c 'dmarc=pass' "$W/verdicts-up") -eq 1 && $(grep -c '^reply ' "$W/verdicts-up") -eq 1 ]]; then
	mw_pass "2 every message: one verdict, DMARC pass ($(grep '^reply ' "$W/verdicts-up"))"
else
	mw_fail "2 every message: one verdict, DMARC pass" "$(head -n 8 "$W/verdicts-up")"
fi

# --- 3: Redis stopped mid-run ----------------------------------------------------------------------
spooled0=$(metric "$metrics_a" spooled)
redis_stop
t0=$(mw_now_ms)
send_rc=0
send a 10 192.0.2.10 "$W/down-1.out" || send_rc=1
send a 10 192.0.2.20 "$W/down-2.out" || send_rc=1
took=$(($(mw_now_ms) - t0))
cat "$W/down-1.out" "$W/down-2.out" >"$W/down.out"
if [[ $send_rc -eq 0 && $(replies "$W/down.out") -eq 20 ]] &&
	diff -u "$W/verdicts-up" <(verdicts "$W/down.out") >"$W/verdicts.diff"; then
	mw_pass "3 Redis down: the same verdicts for 20 messages ($(grep -m1 'Verdict' "$W/verdicts-up"))"
else
	mw_fail "3 Redis down: the same verdicts" "rc=$send_rc replies=$(replies "$W/down.out") $(head -n 8 "$W/verdicts.diff")"
fi
# 20 messages; a store that blocked would cost each a timeout: generous bound.
if ((took < 15000)); then
	mw_pass "3 Redis down: 20 messages in ${took} ms"
else
	mw_fail "3 Redis down: 20 messages within 15 s" "took ${took} ms"
fi
spooled1=$(metric "$metrics_a" spooled)
if ((spooled1 - spooled0 == 20)); then
	mw_pass "3 Redis down: records_total{spooled} rose by 20"
else
	mw_fail "3 Redis down: records_total{spooled} rose by 20" "from $spooled0 to $spooled1"
fi

# --- 4: Redis back: the spool flushes ----------------------------------------------------------
redis_start || mw_fail "redis-server restarted" "$(tail -5 "$RDIR/redis.log")"
read -r rows sum < <(store_counts)
if [[ $sum -eq 100 ]]; then
	mw_pass "4 Redis restarted with the 100 saved counts"
else
	mw_fail "4 Redis restarted with the 100 saved counts" "sum=$sum"
fi
# The store tries Redis again after its backoff (1 s), the recorder after its own; each
# message that reaches the store writes spooled records too. One message every 0.5 s,
# at most 20, until the store counts everything sent.
sent=120 flushed=0
for i in $(seq 20); do
	sleep 0.5
	send a 1 192.0.2.10 "$W/up-$i.out" || true
	sent=$((sent + 1))
	read -r rows sum < <(store_counts)
	if [[ $sum -eq $sent ]]; then
		flushed=1
		break
	fi
done
if [[ $flushed -eq 1 && $rows -eq 2 ]]; then
	mw_pass "4 the spool flushed: the store counts all $sent messages in 2 rows ($(tr '\n' ' ' <"$W/byip"))"
else
	mw_fail "4 the spool flushed" "sent=$sent stored=$sum rows=$rows"
fi
stored_total=$(($(metric "$metrics_a" stored) + $(metric "$metrics_b" stored)))
if [[ $stored_total -eq $sent ]]; then
	mw_pass "4 records_total{stored} of both instances adds up to $sent"
else
	mw_fail "4 records_total{stored} adds up" "stored=$stored_total sent=$sent"
fi

mw_milter_stop "$W/a"
mw_milter_stop "$W/b"
redis_stop
mw_summary
