#!/bin/sh
# tests/rules/sample_spam_test.sh -- `make check`: SpamAssassin's own GTUBE message, the
# sample-spam.txt that Debian's spamassassin package ships, is refused by the shipped
# rules: `mailwarden check --json` says action reject, reply 550 5.7.1 with the GTUBE
# rule's text, and GTUBE among the rules. This is the postmaster's "is the filter on?"
# test, on the file itself rather than on our copy of the string.
#
# The file is not copied into this repository; contrib/install-deps.sh installs the
# package. A missing file is a FAILURE, not a skip: CI installs the dependencies, and a
# skipped test would hide exactly the mistake it exists for. MW_SAMPLE_SPAM names
# another copy (plain or .gz); MW_BIN and MW_RULES_DIR as in shipped_rules_test.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
rules=${MW_RULES_DIR:-$here/../../rules}
bin=${MW_BIN:-./mailwarden}
python=${MW_PYTHON:-python3}
if [ ! -x "$bin" ]; then
	echo "FAIL: no mailwarden binary at $bin" >&2
	exit 1
fi

sample=${MW_SAMPLE_SPAM:-}
if [ -z "$sample" ]; then
	for f in /usr/share/doc/spamassassin/examples/sample-spam.txt \
		/usr/share/doc/spamassassin/examples/sample-spam.txt.gz; do
		if [ -f "$f" ]; then
			sample=$f
			break
		fi
	done
fi
if [ -z "$sample" ] || [ ! -f "$sample" ]; then
	echo "FAIL: SpamAssassin's sample-spam.txt not found (${sample:-/usr/share/doc/spamassassin/examples/sample-spam.txt[.gz]});" \
		"install the spamassassin package (contrib/install-deps.sh) or set MW_SAMPLE_SPAM" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mw-sample-spam.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
case $sample in
*.gz) gzip -dc "$sample" >"$tmp/sample-spam.txt" || exit 1 ;;
*) cp "$sample" "$tmp/sample-spam.txt" || exit 1 ;;
esac

# Only the shipped rules: no DNS, no authentication checks, no rule cache.
cat >"$tmp/mailwarden.yaml" <<EOF
spf:
  enabled: false
dkim:
  enabled: false
dmarc:
  enabled: false
rules:
  directories: ["$rules"]
  cache_dir: ""
EOF

rc=0
"$bin" check -c "$tmp/mailwarden.yaml" --json "$tmp/sample-spam.txt" >"$tmp/check.json" 2>"$tmp/check.err" || rc=$?
if [ "$rc" -ne 0 ]; then
	echo "FAIL: mailwarden check $sample: exit $rc" >&2
	cat "$tmp/check.err" >&2
	exit 1
fi
"$python" - "$tmp/check.json" "$sample" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
ids = [r["id"] for r in j["rules"]]
reply = j["reply"] or {}
problems = []
if "GTUBE" not in ids:
    problems.append("GTUBE did not hit (rules: %s)" % (", ".join(ids) or "none"))
if j["action"] != "reject":
    problems.append("action %s, want reject" % j["action"])
if (reply.get("code"), reply.get("enhanced"), reply.get("text")) != (550, "5.7.1", "GTUBE test message rejected"):
    problems.append("reply %s, want 550 5.7.1 GTUBE test message rejected" % j["reply"])
if problems:
    print("FAIL: %s: %s" % (sys.argv[2], "; ".join(problems)), file=sys.stderr)
    sys.exit(1)
print("PASS: %s: GTUBE hit, %s %d %s %s" % (sys.argv[2], j["action"], reply["code"], reply["enhanced"], reply["text"]))
PYEOF
