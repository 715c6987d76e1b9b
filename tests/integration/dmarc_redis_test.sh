#!/usr/bin/env bash
# dmarc_redis_test.sh -- DMARC aggregate reports from two MX hosts into one Redis (issue 20):
# two `mailwarden run` processes (each its own milter socket, the same configuration
# otherwise, dmarc.reports.store a redis-server of this test's own on a loopback TCP
# port, as MX hosts reach a shared Redis),
# driven by tests/tools/milter_client the way Postfix drives them. DNS is a zone file
# (offline): example.org publishes SPF for 192.0.2.0/24 and DMARC p=none with a rua, so
# every message passes DMARC and is recorded.
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
#   4  Redis restarted on the same port: the recorders' writers flush their spools by
#      themselves (no further message); the store then counts all 120 messages.
#   5  `mailwarden dmarc-report --out` from host a: one report for example.org covering
#      both hosts — 2 records, counts 60 + 60 — valid against the RFC 9990 schema; the
#      same command from host b then sends nothing (the period is claimed and sent).
#   6  5 messages through a, then a stopped at once (SIGTERM): the records its writer
#      had not written yet are written at stop (the store counts 125), nothing lost.
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
for tool in redis-server redis-cli curl xmllint; do
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
RPORT=""
mw_free_port RPORT
redis_start() {
	redis-server --port "$RPORT" --bind 127.0.0.1 --save "3600 1" \
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
rcli() { redis-cli -h 127.0.0.1 -p "$RPORT" "$@" 2>/dev/null; }

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
_dmarc TXT "v=DMARC1; p=none; rua=mailto:dmarc-rua@example.org"
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
    store: "redis://127.0.0.1:$RPORT/0"
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
if [[ $rc -ne 0 ]] && grep -q -F "$W/a.yaml:9: dmarc.reports: redis store redis://127.0.0.1:$RPORT/0: cannot connect" "$W/configtest-down.out"; then
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
# The recorders' writers batch what arrives within 100 ms (Recorder linger): wait for
# them, bounded (10 s).
_store_has() { read -r rows sum < <(store_counts); [[ $sum -ge $1 ]]; }
_stored_metrics() { (($(metric "$metrics_a" stored) + $(metric "$metrics_b" stored) >= $1)); }
mw_wait_until 10 _store_has 100 || true
mw_wait_until 10 _stored_metrics 100 || true
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
_spooled_by() { (($(metric "$metrics_a" spooled) - spooled0 >= $1)); }
mw_wait_until 10 _spooled_by 20 || true # the writer meets the stopped Redis after its linger
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
# The store tries Redis again after its backoff (1 s), each recorder's writer after its
# own, by itself: no message is sent. Bounded: 40 x 0.25 s.
sent=120 flushed=0
for i in $(seq 40); do
	sleep 0.25
	read -r rows sum < <(store_counts)
	if [[ $sum -eq $sent ]]; then
		flushed=1
		break
	fi
done
if [[ $flushed -eq 1 && $rows -eq 2 ]]; then
	mw_pass "4 the spools flushed by themselves: the store counts all $sent messages in 2 rows ($(tr '\n' ' ' <"$W/byip"))"
else
	mw_fail "4 the spool flushed" "sent=$sent stored=$sum rows=$rows"
fi
stored_total=$(($(metric "$metrics_a" stored) + $(metric "$metrics_b" stored)))
if [[ $stored_total -eq $sent ]]; then
	mw_pass "4 records_total{stored} of both instances adds up to $sent"
else
	mw_fail "4 records_total{stored} adds up" "stored=$stored_total sent=$sent"
fi

# --- 5: one report for both hosts ------------------------------------------------------------
today=$(( $(date -u +%s) / 86400 ))
now=$(( (today + 1) * 86400 + 1800 ))
mkdir -p "$W/out-a" "$W/out-b"
rc=0
"$bin" dmarc-report -c "$W/a.yaml" --out "$W/out-a" --now "$now" >"$W/report-a.out" 2>&1 || rc=$?
reports=("$W"/out-a/*'!example.org!'*.xml.gz)
XSD=${MW_CONFORMANCE_DIR:-$MW_REPO_DIR/../shared/conformance}/dmarc-reporting/dmarc-xml-0.2.xsd
if [[ $rc -eq 0 && ${#reports[@]} -eq 1 && -f ${reports[0]} ]] && gzip -dc "${reports[0]}" >"$W/report.xml"; then
	counts=$(xmllint --xpath "//*[local-name()='record']//*[local-name()='count']/text()" "$W/report.xml" 2>/dev/null | tr '\n' ' ' || true)
	valid=$(xmllint --noout --schema "$XSD" "$W/report.xml" 2>&1 || true)
	if [[ $counts == "60 60 " && $valid == *validates* ]]; then
		mw_pass "5 one report for example.org from both hosts: 2 records, counts $counts; $valid"
	else
		mw_fail "5 one report, 2 records of 60" "counts '$counts'; $valid"
	fi
else
	mw_fail "5 dmarc-report from host a writes one report for example.org" "exit $rc, ${#reports[@]} file(s): $(tr '\n' '|' <"$W/report-a.out" | cut -c 1-300)"
fi
rc=0
"$bin" dmarc-report -c "$W/b.yaml" --out "$W/out-b" --now "$now" >"$W/report-b.out" 2>&1 || rc=$?
if [[ $rc -eq 0 && -z $(ls -A "$W/out-b") ]] && grep -q 'sent 0 report' "$W/report-b.out"; then
	mw_pass "5 host b's run sends nothing: $(tail -n 1 "$W/report-b.out" | cut -c 1-80)"
else
	mw_fail "5 host b's run sends nothing" "exit $rc, $(ls "$W/out-b" | wc -l) file(s): $(tail -n 1 "$W/report-b.out")"
fi

# --- 6: a stop writes what the recorder still holds ---------------------------------------------
send a 5 192.0.2.10 "$W/last.out" || true
mw_milter_stop "$W/a" # at once: the writer lingers up to 100 ms before a batch
read -r rows sum < <(store_counts)
if [[ $(replies "$W/last.out") -eq 5 && $sum -eq 125 ]]; then
	mw_pass "6 5 messages then SIGTERM: the store counts all 125 ($(grep -o 'DMARC report record(s) written at stop' "$W/a/milter.log" | head -1 || true))"
else
	mw_fail "6 nothing lost at stop" "replies $(replies "$W/last.out"), store $sum (want 125)"
fi
mw_milter_stop "$W/b"
redis_stop
mw_summary
