#!/bin/sh
# seal_cli_test.sh -- arc.seal as an operator meets it: `configtest` loads the key and
# compares it with the record published at SELECTOR._domainkey.DOMAIN (here through
# --dns-zone tests/keys/keys.zone); `check` shows the ARC set it would add, and
# `check --json` its instance and cv. Errors carry the file:line of `seal:`; a DNS
# failure is a warning. Run by `make check` from the build folder (srcdir exported).
set -u
bin=./mailwarden
keys=$(cd "${srcdir:-.}/tests/keys" && pwd) || exit 1
zone="$keys/keys.zone"
failed=0
check() {  # check NAME EXPECTED-RC EXPECTED-TEXT ACTUAL-RC ACTUAL-OUTPUT
  if [ "$4" != "$2" ]; then echo "FAIL $1: exit $4, expected $2: $5"; failed=1; return; fi
  case "$5" in *"$3"*) echo "ok $1" ;; *) echo "FAIL $1: output lacks '$3':"; echo "$5"; failed=1 ;; esac
}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
conf() {  # conf SELECTOR KEYFILE: seal: is on line 5
  printf 'authserv_id: mx.example.org\nrules:\n  directories: []\narc:\n  seal:\n    domain: dkim.test\n    selector: %s\n    key_file: %s\n' \
    "$1" "$2" > "$tmp/mw.yaml"
}

conf rsa2048 "$tmp/missing.pem"
out=$("$bin" configtest -c "$tmp/mw.yaml" --dns-zone "$zone" 2>&1); rc=$?
check "missing key file" 1 "$tmp/mw.yaml:5: arc.seal: " "$rc" "$out"
check "missing key file names it" 1 "$tmp/missing.pem" "$rc" "$out"

conf rsa2048 "$keys/rsa512.pem"
out=$("$bin" configtest -c "$tmp/mw.yaml" --dns-zone "$zone" 2>&1); rc=$?
check "RSA 512 refused" 1 "$tmp/mw.yaml:5: arc.seal: $keys/rsa512.pem" "$rc" "$out"

conf rsa2048 "$keys/rsa2048.pem"
out=$("$bin" configtest -c "$tmp/mw.yaml" --dns-zone "$zone" 2>&1); rc=$?
check "published key matches" 0 "configuration OK" "$rc" "$out"

conf rsa1024 "$keys/rsa2048.pem"
out=$("$bin" configtest -c "$tmp/mw.yaml" --dns-zone "$zone" 2>&1); rc=$?
check "published key differs" 1 "$tmp/mw.yaml:5: arc.seal: rsa1024._domainkey.dkim.test: the published key is not" "$rc" "$out"

conf absent "$keys/rsa2048.pem"
out=$("$bin" configtest -c "$tmp/mw.yaml" --dns-zone "$zone" 2>&1); rc=$?
check "no record" 1 "$tmp/mw.yaml:5: arc.seal: absent._domainkey.dkim.test: no key record" "$rc" "$out"

conf timeout "$keys/ed25519.pem"  # keys.zone: ;@timeout on this selector
out=$("$bin" configtest -c "$tmp/mw.yaml" --dns-zone "$zone" 2>&1); rc=$?
check "DNS timeout is a warning" 0 "warning: $tmp/mw.yaml:5: arc.seal: " "$rc" "$out"
check "DNS timeout still OK" 0 "configuration OK" "$rc" "$out"

out=$("$bin" configtest -c "$tmp/mw.yaml" --dns-zone "$tmp/nothing.zone" 2>&1); rc=$?
check "configtest --dns-zone missing file" 1 "nothing.zone" "$rc" "$out"

conf ed25519 "$keys/ed25519.pem"
printf 'From: a@dkim.test\nTo: b@example.org\nSubject: hi\nDate: Tue, 14 Nov 2023 22:13:20 +0000\nMessage-ID: <x@dkim.test>\n\nHello.\n' > "$tmp/m.eml"
out=$("$bin" check -c "$tmp/mw.yaml" --dns-zone "$zone" --now 1700000000 "$tmp/m.eml" 2>&1); rc=$?
check "check shows the ARC-Seal" 0 "ARC-Seal: a=ed25519-sha256;" "$rc" "$out"
check "check shows the seal's tags" 0 "cv=none; d=dkim.test; i=1; s=ed25519; t=1700000000" "$rc" "$out"
check "check shows the AMS" 0 "ARC-Message-Signature: a=ed25519-sha256;" "$rc" "$out"
check "check shows the AAR" 0 "ARC-Authentication-Results: i=1; mx.example.org;" "$rc" "$out"
out=$("$bin" check -c "$tmp/mw.yaml" --dns-zone "$zone" --now 1700000000 --json "$tmp/m.eml" 2>&1); rc=$?
sealed=$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["arc"]["sealed"], sort_keys=True))' 2>&1)
check "check --json arc.sealed" 0 '{"cv": "none", "instance": 1}' "$rc" "$sealed"

conf ed25519 "$tmp/missing.pem"
out=$("$bin" check -c "$tmp/mw.yaml" --dns-zone "$zone" "$tmp/m.eml" 2>&1); rc=$?
check "check needs the key too" 2 "$tmp/mw.yaml:5: arc.seal: " "$rc" "$out"
exit $failed
