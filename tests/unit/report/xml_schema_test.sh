#!/bin/sh
# tests/unit/report/xml_schema_test.sh -- `make check`: every sample aggregate report
# (samples.cpp: pass, fail under each policy, overrides, several DKIM signatures, IPv6,
# hostile strings) validates against the RFC 9990 schema with xmllint, and a report with
# a required element removed does not (the check is live). Skips (77) only when xmllint
# is missing (apt-get install libxml2-utils). Runs from the build directory;
# MW_CONFORMANCE_DIR (the conformance folder) and MW_RENDER_REPORTS override.
set -u
here=$(cd "$(dirname "$0")" && pwd)
conf=${MW_CONFORMANCE_DIR:-$here/../../../../shared/conformance}
xsd=$conf/dmarc-reporting/dmarc-xml-0.2.xsd
render=${MW_RENDER_REPORTS:-./tests/unit/report/render_reports}
if ! command -v xmllint >/dev/null 2>&1; then
	echo "SKIP: xmllint not found (apt-get install libxml2-utils)"
	exit 77
fi
if [ ! -r "$xsd" ]; then
	echo "FAIL: RFC 9990 schema not found at $xsd (set MW_CONFORMANCE_DIR)" >&2
	exit 1
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/mw-reports.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
n=$("$render" "$dir") || { echo "FAIL: render_reports failed" >&2; exit 1; }
failed=0
count=0
for f in "$dir"/*.xml; do
	count=$((count + 1))
	if ! xmllint --noout --schema "$xsd" "$f" 2>"$dir/err"; then
		echo "FAIL: $(basename "$f") does not validate:" >&2
		cat "$dir/err" >&2
		failed=$((failed + 1))
	fi
done
if [ "$count" -ne "$n" ] || [ "$count" -lt 5 ]; then
	echo "FAIL: $count report files, render_reports said $n" >&2
	exit 1
fi
# The negative control: without <count> the schema must refuse the report.
grep -v '<count>' "$dir/pass.xml" >"$dir/broken.xml.txt"
if xmllint --noout --schema "$xsd" "$dir/broken.xml.txt" 2>/dev/null; then
	echo "FAIL: a report without <count> validated: the schema check is not live" >&2
	exit 1
fi
if [ "$failed" -ne 0 ]; then
	echo "FAIL: $failed of $count reports invalid" >&2
	exit 1
fi
echo "PASS: $count reports valid against $(basename "$xsd")"
