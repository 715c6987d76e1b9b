#!/usr/bin/env bash
# tests/tools/arc_chain_test.sh -- `make check` (no root, no Postfix): the ARC
# chains of a mailing-list round trip built by dkimpy (tests/integration/mw_arcchain.py,
# issue 18), validated by our arc::verifyMessage (tests/tools/arc_verify) and by dkimpy's
# arc_verify, which must agree:
#   original.eml       cv=none, the author's DKIM signature verifies
#   list.eml           cv=pass, 1 instance, oldest-pass 1, sealer lists.example.org; the
#                      author's DKIM signature no longer verifies (Subject, footer)
#   two-hop.eml        cv=pass, 2 instances, sealers lists.example.org,relay.example
#   list-tampered.eml  cv=fail (body altered after the seal)
# plus: the committed zones (arc.example.zone, arc.example.org.zone) are what the keys
# give, and two generations give the same bytes (the bench and the tests rely on it).
# Runs from the build directory; MW_ARC_VERIFY overrides tests/tools/arc_verify.
# Exits 77 (SKIP) only when /usr/bin/python3 cannot import dkim (python3-dkim) or
# authres (python3-authres, which dkim.arc_sign needs).
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
# The chain builder and the zones live with the integration tests that send them.
here=$src/tests/integration
py=/usr/bin/python3
tool=$here/mw_arcchain.py
verify=${MW_ARC_VERIFY:-./tests/tools/arc_verify}
# After the seals' t= (2026-01-01), so the result does not depend on the machine's clock.
now=1767229200

if ! "$py" -c 'import dkim, authres' 2>/dev/null; then
	echo "SKIP: $py lacks dkim or authres (apt-get install python3-dkim python3-authres)"
	exit 77
fi
if [[ ! -x $verify ]]; then
	echo "FAIL: no arc_verify at $verify (make tests/tools/arc_verify)" >&2
	exit 1
fi

work=$(mktemp -d /tmp/mw-arcchain.XXXXXX) || exit 1
trap 'rm -rf -- "$work"' EXIT
passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

if ! timeout 60 "$py" "$tool" --keys "$src/tests/keys" --out "$work/a" ||
	! timeout 60 "$py" "$tool" --keys "$src/tests/keys" --out "$work/b"; then
	echo "FAIL: mw_arcchain.py could not build the chains" >&2
	exit 1
fi
if diff -r "$work/a" "$work/b" >/dev/null; then
	pass "two generations are byte-identical"
else
	fail "two generations differ"
fi
for z in arc.example.zone arc.example.org.zone; do
	if cmp -s "$work/a/$z" "$here/$z"; then
		pass "committed $z is what the keys give"
	else
		fail "tests/integration/$z differs from mw_arcchain.py's (regenerate it: mw_arcchain.py zone)"
	fi
done
zones=(--zone "$here/arc.example.zone" --zone "$here/arc.example.org.zone")

# check FILE OURS_PATTERN DKIMPY_PATTERN: our line and dkimpy's must match (bash regex).
check() {
	local f=$1 ours theirs
	ours=$(timeout 30 "$verify" "${zones[@]}" --time "$now" <"$work/a/$f" 2>&1)
	theirs=$(timeout 30 "$py" "$tool" verify "$work/a/$f" "${zones[@]}" 2>&1)
	if [[ $ours =~ $2 ]]; then
		pass "$f: ours: $ours"
	else
		fail "$f: ours: '$ours', want /$2/"
	fi
	if [[ $theirs =~ $3 ]]; then
		pass "$f: dkimpy agrees: $theirs"
	else
		fail "$f: dkimpy: '$theirs', want /$3/"
	fi
}
check original.eml '^cv=none instances=0 oldest_pass=- sealers=-$' \
	'^cv=none instances=0 dkim=pass '
check list.eml '^cv=pass instances=1 oldest_pass=1 sealers=lists\.example\.org$' \
	'^cv=pass instances=1 dkim=fail reason=success$'
check two-hop.eml '^cv=pass instances=2 oldest_pass=1 sealers=lists\.example\.org,relay\.example$' \
	'^cv=pass instances=2 dkim=fail reason=success$'
check list-tampered.eml '^cv=fail instances=1 oldest_pass=- .*reason=.+' \
	'^cv=fail instances=1 dkim=fail '

# The bench message is "about 4 KB" of body (issue 18's bench row).
size=$("$py" -c 'import sys; m=open(sys.argv[1],"rb").read(); print(len(m.split(b"\r\n\r\n",1)[1]))' \
	"$work/a/two-hop.eml")
if ((size >= 3800 && size <= 5000)); then
	pass "two-hop.eml body is $size bytes"
else
	fail "two-hop.eml body is $size bytes, want about 4 KB"
fi

echo "$passed passed, $failed failed"
((failed == 0))
