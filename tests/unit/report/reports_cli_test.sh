#!/usr/bin/env bash
# reports_cli_test.sh -- dmarc.reports and the command line (issue 20): `mailwarden check`
# is a dry tool and never opens or writes the report store, even with dmarc.reports
# enabled; `configtest` opens it (creating the file) and reports a store that cannot be
# opened, and a redis:// store, with FILE:LINE. Run by `make check` from the build
# directory; prints "N passed, N failed".
set -uo pipefail
bin=./mailwarden
if [[ ! -x $bin ]]; then
	echo "SKIP: run from the build directory after make"
	exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
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
config "redis://127.0.0.1:6379/0" >"$work/redis.yaml"
check "redis is refused at the store line" "$work/redis.yaml:7: dmarc.reports.store: redis stores are not supported yet" \
	"$bin" configtest -c "$work/redis.yaml"
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
