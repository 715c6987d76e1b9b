#!/usr/bin/env bash
# bench/run-report-bench.sh -- DMARC report generation (issue 20): a store holding
# MESSAGES recorded messages over DOMAINS policy domains for one UTC day
# (bench/report_fill, written through SqliteStore::recordBatch as the milter's writer
# does), then `mailwarden dmarc-report --out DIR --dns-zone ZONE` for that day: every
# domain claimed, its rows read, its DMARC record looked up (rua), its report rendered,
# gzipped and written as mail + attachment. Measured with GNU time: wall and CPU
# seconds, peak RSS (the whole job, one process); first with --dry-run (the same work
# without writing anything or claiming), then for real.
#
#   bench/run-report-bench.sh [--build DIR] [--messages N] [--domains D] [--out DIR]
#
# Defaults: the current directory as the build tree, 1,000,000 messages, 10,000
# domains, results in /tmp/mw-report-bench-DATE (kept). No root needed; nothing
# listens. Bounded: one fill, one report run (timeout 3600 s each).
set -euo pipefail

BUILD=$PWD
MESSAGES=1000000
DOMAINS=10000
OUT=/tmp/mw-report-bench-$(date +%Y%m%d-%H%M%S)
while [[ $# -gt 0 ]]; do
	case $1 in
	--build) BUILD=$2; shift 2 ;;
	--messages) MESSAGES=$2; shift 2 ;;
	--domains) DOMAINS=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	*) sed -n '2,15p' "$0" >&2; exit 2 ;;
	esac
done
BUILD=$(cd "$BUILD" && pwd)
for f in "$BUILD/mailwarden" "$BUILD/bench/report_fill"; do
	[[ -x $f ]] || { echo "missing $f (make mailwarden bench/report_fill)" >&2; exit 2; }
done
[[ -x /usr/bin/time ]] || { echo "GNU time is needed (apt-get install time)" >&2; exit 2; }
mkdir -p "$OUT/reports"
DAY=20454 # 2026-01-01: a complete day for --now below
NOW=$(( (DAY + 1) * 86400 + 1800 ))

cat >"$OUT/mailwarden.yaml" <<EOF
authserv_id: mx.bench.example
dmarc:
  reports:
    enabled: true
    store: "sqlite:$OUT/dmarc.sqlite"
    org_name: mx.bench.example
    email: dmarc-reports@bench.example
rules:
  directories: []
EOF

echo "== fill: $MESSAGES messages over $DOMAINS domains"
/usr/bin/time -f 'fill: %e s wall, %U s user, %S s sys, peak RSS %M KiB' \
	timeout 3600 "$BUILD/bench/report_fill" --store "sqlite:$OUT/dmarc.sqlite" \
	--messages "$MESSAGES" --domains "$DOMAINS" --day "$DAY" --zone "$OUT/zone" 2>&1 | tee "$OUT/fill.txt"
rows=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from tallies").fetchone()[0])' "$OUT/dmarc.sqlite")
echo "store: $rows aggregation rows, $(du -k "$OUT/dmarc.sqlite" | cut -f1) KiB"

echo "== dmarc-report --dry-run (every report built, gzipped and composed; nothing written)"
/usr/bin/time -f 'dry-run: %e s wall, %U s user, %S s sys, peak RSS %M KiB' \
	timeout 3600 "$BUILD/mailwarden" dmarc-report -c "$OUT/mailwarden.yaml" --dns-zone "$OUT/zone" \
	--dry-run --now "$NOW" >"$OUT/dry-run.out" 2>"$OUT/dry-run.time" || true
cat "$OUT/dry-run.time"

echo "== dmarc-report --out (each report and its mail written and fsync'ed, then marked sent)"
/usr/bin/time -f 'report: %e s wall, %U s user, %S s sys, peak RSS %M KiB' \
	timeout 3600 "$BUILD/mailwarden" dmarc-report -c "$OUT/mailwarden.yaml" --dns-zone "$OUT/zone" \
	--out "$OUT/reports" --now "$NOW" >"$OUT/report.out" 2>"$OUT/report.time" || true
tail -n 1 "$OUT/report.out"
cat "$OUT/report.time"
echo "written: $(find "$OUT/reports" -name '*.xml.gz' | wc -l) reports, $(du -sk "$OUT/reports" | cut -f1) KiB"
{
	echo "messages=$MESSAGES domains=$DOMAINS rows=$rows"
	cat "$OUT/fill.txt" "$OUT/dry-run.time" "$OUT/report.time"
	tail -n 1 "$OUT/report.out"
} >"$OUT/summary.txt"
echo "results in $OUT"
