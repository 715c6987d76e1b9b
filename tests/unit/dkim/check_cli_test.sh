#!/usr/bin/env bash
# check_cli_test.sh -- the DKIM side of the `mailwarden check` contract (DESIGN.md):
# a message signed by tests/tools/dkim_sign with a key of tests/keys, checked against
# tests/keys/keys.zone: `--json` lists {result, domain, selector, algorithm} per
# signature, the Authentication-Results field carries header.d/s/a/b, and `--now`
# drives x= (expired -> policy) and t= (future -> policy). Run by `make check` from the
# build directory; prints "N passed, N failed".
set -uo pipefail
top=${MW_TOP_SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
bin=./mailwarden
sign=./tests/tools/dkim_sign
if [[ ! -x $bin || ! -x $sign ]]; then
	echo "SKIP: run from the build directory after make"
	exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
check() { # NAME EXPECTED-SUBSTRING COMMAND...
	local name=$1 want=$2 out
	shift 2
	out=$("$@" 2>&1)
	if [[ $out == *"$want"* ]]; then
		passed=$((passed + 1)); echo "PASS $name"
	else
		failed=$((failed + 1)); echo "FAIL $name: wanted '$want' in:"; echo "$out" | head -20
	fi
}
printf 'From: alice@dkim.test\r\nTo: bob@example.org\r\nSubject: hi\r\n\r\nhello\r\n' >"$work/in.eml"
"$sign" --key "$top/tests/keys/ed25519.pem" --algorithm ed25519 --domain dkim.test \
	--selector ed25519 --time 1700000000 --expire 1700003600 <"$work/in.eml" >"$work/ed.eml"
"$sign" --key "$top/tests/keys/rsa2048.pem" --domain dkim.test --selector rsa2048 \
	--time 1700000000 <"$work/in.eml" >"$work/rsa.eml"
zone=(--dns-zone "$top/tests/keys/keys.zone")
check "ed25519 pass, JSON fields" '"result": "pass",
      "domain": "dkim.test",
      "selector": "ed25519",
      "algorithm": "ed25519-sha256"' "$bin" check "${zone[@]}" --now 1700000100 --json "$work/ed.eml"
check "rsa-sha256 pass in A-R" 'dkim=pass header.d=dkim.test header.s=rsa2048 header.a=rsa-sha256 header.b=' \
	"$bin" check "${zone[@]}" --now 1700000100 "$work/rsa.eml"
check "--now after x= is policy" 'dkim=policy (signature expired at x=1700003600' \
	"$bin" check "${zone[@]}" --now 1700010000 "$work/ed.eml"
check "--now before t= is policy" 'dkim=policy (signature timestamp t=1700000000 is in the future' \
	"$bin" check "${zone[@]}" --now 1600000000 "$work/rsa.eml"
check "unsigned is none" '"dkim": [
    {
      "result": "none"' "$bin" check "${zone[@]}" --json "$work/in.eml"
check "dkim_sign refuses a bad key" 'dkim_sign:' "$sign" --key "$work/in.eml" --domain d --selector s
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
