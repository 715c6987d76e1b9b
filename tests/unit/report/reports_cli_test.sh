#!/usr/bin/env bash
# reports_cli_test.sh -- dmarc.reports and the command line (issue 20): `mailwarden check`
# is a dry tool and never opens or writes the report store, even with dmarc.reports
# enabled; `configtest` opens it (creating the file) and reports a store that cannot be
# opened (a Redis that does not answer included) with FILE:LINE, and connects to a
# redis-server of its own on a unix socket. Run by `make check` from the build
# directory; prints "N passed, N failed".
set -uo pipefail
bin=./mailwarden
if [[ ! -x $bin ]]; then
	echo "SKIP: run from the build directory after make"
	exit 77
fi
work=$(mktemp -d)
redis_pid=
trap '[[ -n $redis_pid ]] && kill "$redis_pid" 2>/dev/null; rm -rf "$work"' EXIT
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "PASS $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
check() { # NAME EXPECTED-SUBSTRING COMMAND...
	local name=$1 want=$2 out
	shift 2
	out=$("$@" 2>&1)
	if [[ $out == *"$want"* ]]; then
		pass "$name"
	else
		fail "$name: wanted '$want' in:"; echo "$out" | head -20
	fi
}
cat >"$work/zone" <<'ZONE'
$TTL 300
$ORIGIN test.
good TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.good TXT "v=DMARC1; p=reject"
ZONE
config() { # STORE
	cat <<YAML
authserv_id: mx.test.example
rules:
  directories: []
dmarc:
  reports:
    enabled: true
    store: "$1"
    org_name: Test Receiver
    email: dmarc@mx.test.example
YAML
}
config "sqlite:$work/dmarc.sqlite" >"$work/ok.yaml"
printf 'From: alice@good.test\r\nTo: bob@example.org\r\nSubject: hi\r\n\r\nhello\r\n' >"$work/in.eml"

check "check evaluates DMARC" 'dmarc=pass' "$bin" check -c "$work/ok.yaml" --dns-zone "$work/zone" \
	--client-ip 192.0.2.1 --helo mta.good.test --mail-from alice@good.test --rcpt bob@example.org \
	"$work/in.eml"
if [[ ! -e $work/dmarc.sqlite ]]; then
	pass "check never opens the report store"
else
	fail "check created $work/dmarc.sqlite"
fi

check "configtest opens the store" 'configuration OK' "$bin" configtest -c "$work/ok.yaml" \
	--dns-zone "$work/zone"
if [[ -s $work/dmarc.sqlite ]]; then
	pass "configtest created the store"
else
	fail "configtest did not create $work/dmarc.sqlite"
fi
# check, with the store now present, still leaves it alone (its bytes do not change).
before=$(cksum <"$work/dmarc.sqlite")
"$bin" check -c "$work/ok.yaml" --dns-zone "$work/zone" --client-ip 192.0.2.1 \
	--mail-from alice@good.test "$work/in.eml" >/dev/null 2>&1
if [[ $(cksum <"$work/dmarc.sqlite") == "$before" && ! -e $work/dmarc.sqlite-wal ]]; then
	pass "check leaves an existing store unchanged"
else
	fail "check changed the store"
fi

config "sqlite:$work/missing/dmarc.sqlite" >"$work/missing.yaml"
check "a store that cannot be opened is an error at its line" "$work/missing.yaml:5: dmarc.reports:" \
	"$bin" configtest -c "$work/missing.yaml" --dns-zone "$work/zone"
config "redis://127.0.0.1:0/0" >"$work/redis-bad.yaml"
check "a bad redis URL is an error at the store line" \
	"$work/redis-bad.yaml:7: dmarc.reports.store: redis store redis://127.0.0.1:0/0: the port" \
	"$bin" configtest -c "$work/redis-bad.yaml"
# Redis on a unix socket of our own: nobody listens yet, then a redis-server we start.
config "redis+unix://$work/redis.sock" >"$work/redis.yaml"
check "a redis that does not answer is an error at its line" \
	"$work/redis.yaml:5: dmarc.reports: redis store redis+unix://$work/redis.sock: cannot connect" \
	"$bin" configtest -c "$work/redis.yaml" --dns-zone "$work/zone"
if command -v redis-server >/dev/null; then
	redis-server --port 0 --unixsocket "$work/redis.sock" --unixsocketperm 700 --save '' \
		--appendonly no --daemonize no --dir "$work" --logfile "$work/redis.log" &
	redis_pid=$!
	for _ in $(seq 100); do # at most 100 × 0.05 s
		[[ -S $work/redis.sock ]] && break
		sleep 0.05
	done
	check "configtest connects to redis" 'configuration OK' "$bin" configtest -c "$work/redis.yaml" \
		--dns-zone "$work/zone"
	kill "$redis_pid"
	wait "$redis_pid"
	redis_pid=
else
	echo "SKIP configtest with a running redis: redis-server is not installed"
fi
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
