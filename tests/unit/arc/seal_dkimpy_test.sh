#!/usr/bin/env bash
# seal_dkimpy_test.sh -- what we seal, dkimpy (python3-dkim, another implementation)
# validates (ed25519-sha256 through dkimpy's DKIM Ed25519 code: its ARC table lacks it): tests/tools/arc_seal seals with the keys of tests/keys (RSA 2048 and
# Ed25519, first hop: cv=none), and seals a second hop over a chain dkimpy made with
# dkim.arc_sign (cv=pass); dkim.arc_verify must answer pass for each, and fail once the
# body is changed after our seal. dkimpy's DNS is a dict of the test key records (no
# network). Run by `make check` from the build directory; prints "N passed, N failed".
# Skipped (77) when /usr/bin/python3 cannot import dkim (not the pyenv python3 on PATH).
set -uo pipefail
top=${MW_TOP_SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
seal=./tests/tools/arc_seal
py=/usr/bin/python3
if [[ ! -x $seal ]]; then
	echo "SKIP: run from the build directory after make"
	exit 77
fi
if ! "$py" -c 'import dkim, nacl' 2>/dev/null; then
	echo "SKIP: $py cannot import dkim and nacl (python3-dkim, python3-nacl)"
	exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
keys=$top/tests/keys
zone=$keys/keys.zone
now=1700000000
passed=0 failed=0

# The key records dkimpy is given, made by our publicKeyRecord().
for k in rsa2048 rsa1024 ed25519; do
	"$seal" --key "$keys/$k.pem" --record >"$work/$k.txt" || exit 1
done

# dkimpy verifies FILE with the records above; prints its cv (pass/fail/none).
verify() {
	"$py" - "$work" "$1" <<'PY'
import hashlib, sys, dkim, dkim.crypto
work, path = sys.argv[1], sys.argv[2]
# dkimpy 1.1.4 (Debian 12) lists only rsa-sha256 for ARC although its signature code,
# shared with DKIM, verifies ed25519-sha256 (RFC 8463): allow it, so dkimpy's own
# Ed25519 path checks our Ed25519 seals.
dkim.crypto.ARC_HASH_ALGORITHMS.setdefault(b"ed25519-sha256", hashlib.sha256)
records = {}
for k in ("rsa2048", "rsa1024", "ed25519"):
    with open(f"{work}/{k}.txt", "rb") as f:
        records[f"{k}._domainkey.dkim.test.".encode()] = f.read().strip()
def dnsfunc(name, timeout=5):
    if not name.endswith(b"."):
        name += b"."
    return records.get(name)
with open(path, "rb") as f:
    msg = f.read()
cv, results, reason = dkim.arc_verify(msg, dnsfunc=dnsfunc)
print(cv.decode(), reason)
PY
}

check() { # NAME WANT(pass|fail) FILE
	local got
	got=$(verify "$3" 2>&1)
	if [[ $got == "$2 "* || $got == "$2" ]]; then
		passed=$((passed + 1)); echo "PASS $1 ($got)"
	else
		failed=$((failed + 1)); echo "FAIL $1: dkimpy says '$got', wanted $2"
	fi
}

printf 'Authentication-Results: mx.dkim.test; spf=pass smtp.mailfrom=alice@example.com\r\nFrom: Alice <alice@example.com>\r\nTo: list@lists.example.org\r\nSubject: [list] hello  there\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <1@example.com>\r\n\r\nHi all,\r\n  how are you?\r\n\r\n' >"$work/in.eml"
aar='mx.dkim.test; spf=pass smtp.mailfrom=alice@example.com; dmarc=fail header.from=example.com'

"$seal" --key "$keys/rsa2048.pem" --domain dkim.test --selector rsa2048 --aar "$aar" \
	--time $now <"$work/in.eml" >"$work/rsa.eml" || { echo "FAIL arc_seal rsa"; exit 1; }
check "first hop, rsa-sha256" pass "$work/rsa.eml"
"$seal" --key "$keys/ed25519.pem" --domain dkim.test --selector ed25519 --aar "$aar" \
	--time $now <"$work/in.eml" >"$work/ed.eml" || { echo "FAIL arc_seal ed25519"; exit 1; }
check "first hop, ed25519-sha256" pass "$work/ed.eml"
sed 's/how are you/who are you/' "$work/ed.eml" >"$work/ed-changed.eml"
check "body changed after our seal" fail "$work/ed-changed.eml"

# A chain dkimpy starts (RSA 1024, its own layout), then our second hop over it.
openssl pkey -in "$keys/rsa1024.pem" -traditional -out "$work/rsa1024-pkcs1.pem" 2>/dev/null ||
	openssl rsa -in "$keys/rsa1024.pem" -traditional -out "$work/rsa1024-pkcs1.pem" 2>/dev/null
"$py" - "$work" <<'PY' || { echo "FAIL dkim.arc_sign"; exit 1; }
import sys, dkim
work = sys.argv[1]
with open(f"{work}/in.eml", "rb") as f:
    msg = f.read()
with open(f"{work}/rsa1024-pkcs1.pem", "rb") as f:
    key = f.read()
fields = dkim.arc_sign(msg, b"rsa1024", b"dkim.test", key, b"mx.dkim.test",
                       timestamp=1699999000)
with open(f"{work}/dkimpy.eml", "wb") as f:
    f.write(b"".join(fields) + msg)
PY
check "dkimpy's own first hop" pass "$work/dkimpy.eml"
"$seal" --key "$keys/ed25519.pem" --domain dkim.test --selector ed25519 --aar "$aar" \
	--dns-zone "$zone" --time $now <"$work/dkimpy.eml" >"$work/hop2.eml" ||
	{ echo "FAIL arc_seal over dkimpy's chain"; exit 1; }
if grep -q '^ARC-Seal: .*i=2' <(tr -d '\r' <"$work/hop2.eml" | sed -e ':a' -e 'N;$!ba' -e 's/\n[ \t]/ /g') &&
	grep -q 'cv=pass' "$work/hop2.eml"; then
	passed=$((passed + 1)); echo "PASS second hop is i=2 cv=pass"
else
	failed=$((failed + 1)); echo "FAIL second hop: no i=2 cv=pass seal"; head -5 "$work/hop2.eml"
fi
check "second hop over dkimpy's chain, ed25519" pass "$work/hop2.eml"
"$seal" --key "$keys/rsa2048.pem" --domain dkim.test --selector rsa2048 --aar "$aar" \
	--dns-zone "$zone" --time $now <"$work/hop2.eml" >"$work/hop3.eml" ||
	{ echo "FAIL arc_seal third hop"; exit 1; }
check "third hop, rsa-sha256" pass "$work/hop3.eml"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
