#!/usr/bin/env bash
# deb_package_test.sh -- the Debian package built from this tree (debian/, `make deb`).
#
#   tests/integration/deb_package_test.sh        # as run by tests/run-all.sh
#
# Builds build/deb/mailwarden_*.deb with `make deb` in the build tree (MW_BUILD_DIR,
# default <repo>/build, configured by run-all.sh) unless a .deb newer than every source
# file is already there (MW_DEB_REBUILD=1 forces a build), and leaves it there for
# install_test.sh. Building is the cost (a full compile, DEB_BUILD_OPTIONS "nocheck
# parallel=2"); the checks take seconds. Installs nothing, starts nothing.
#
# Exits 77 (SKIP) when the build tree is not configured or a tool is missing
# (contrib/install-deps.sh installs them all). Prints PASS / FAIL lines and
# "N passed, N failed" last; exits non-zero on any failure.
#
# Checks:
#   build       `make deb` succeeds and leaves exactly one mailwarden_*.deb
#   lintian     `lintian --pedantic` reports no error (summary by severity printed;
#               warnings are overridden in debian/mailwarden.lintian-overrides or
#               justified in debian/README.source)
#   security    `systemd-analyze security --offline=true` of the packaged unit: overall
#               exposure <= 2.0
#   verify      `systemd-analyze verify` of the packaged unit prints nothing (its
#               ExecStart= pointed at the packaged binary)
#   unit        the packaged unit is contrib/systemd/mailwarden.service, byte for byte
#   report-units  mailwarden-dmarc-report.{service,timer} are in the package as in
#               contrib/systemd/, `systemd-analyze verify` prints nothing for them, and the
#               postinst enables the timer (not the oneshot service)
#   binary      usr/sbin/mailwarden, executable, and it answers `--help`
#   conffiles   /etc/mailwarden/mailwarden.yaml and every rules/*.yaml and
#               rules/cases/*.eml of the tree are conffiles
#   man         mailwarden(8) and mailwarden.yaml(5) are in the package, and
#               `groff -man -ww` and `man -l` render them without a warning
#   scripts     the maintainer scripts parse (sh -n)
set -euo pipefail

. "$(dirname "$0")/lib.sh"

top=$MW_REPO_DIR
build=${MW_BUILD_DIR:-$top/build}
max_exposure=2.0

if [[ ! -f $build/Makefile ]]; then
	echo "SKIP: $build is not a configured build tree (run tests/run-all.sh, or configure there)"
	exit 77
fi
for tool in git dpkg-buildpackage dpkg-deb lintian systemd-analyze groff man fakeroot dh; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool not installed (bash contrib/install-deps.sh)"
		exit 77
	fi
done
mw_install_trap
mw_workdir W

# --- build ------------------------------------------------------------------------
find_deb() {
	local -a debs=("$build"/deb/mailwarden_*.deb)
	[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] && printf '%s\n' "${debs[0]}"
}
deb=$(find_deb || true)
stale=""
if [[ -n $deb && -z ${MW_DEB_REBUILD:-} ]]; then
	# Any source file changed since the .deb was built?
	while IFS= read -r -d '' f; do
		if [[ $top/$f -nt $deb ]]; then
			stale=$f
			break
		fi
	done < <(cd "$top" && git ls-files -z --cached --others --exclude-standard)
fi
if [[ -z $deb || -n $stale || -n ${MW_DEB_REBUILD:-} ]]; then
	mw_log "building the package (make deb in $build${stale:+; changed since the last one: $stale})"
	t0=$(mw_now_ms)
	if (cd "$build" && DEB_BUILD_OPTIONS="nocheck parallel=2" nice make deb) >"$W/make-deb.log" 2>&1; then
		deb=$(find_deb || true)
	else
		deb=""
	fi
	t1=$(mw_now_ms)
	echo "make deb: $(((t1 - t0) / 1000)) s"
	if [[ -z $deb ]]; then
		tail -40 "$W/make-deb.log"
		mw_fail build "make deb failed (log above)"
		mw_summary
		exit 1
	fi
	mw_pass build
else
	echo "reusing $deb (newer than every source file; MW_DEB_REBUILD=1 rebuilds)"
	mw_pass build
fi
echo "package: $deb"

X=$W/root
mkdir -p "$X"
dpkg-deb -x "$deb" "$X"
dpkg-deb --ctrl-tarfile "$deb" | tar -xf - -C "$W" ./conffiles ./postinst ./prerm ./postrm 2>/dev/null || true
echo "files:"
dpkg-deb -c "$deb" | awk '{ print "  " $1 " " $NF }'

# --- lintian --------------------------------------------------------------------------
# Exit status: 0 no error, 1 lintian itself failed, 2 an error tag (--fail-on error).
lrc=0
lintian --pedantic --display-info --show-overrides --fail-on error "$deb" >"$W/lintian.txt" 2>&1 || lrc=$?
count() { grep -c "^$1: " "$W/lintian.txt" || true; }
errors=$(count E) warnings=$(count W) infos=$(count I) pedantic=$(count P) overridden=$(count O)
echo "lintian: $errors error(s), $warnings warning(s), $infos info, $pedantic pedantic, $overridden overridden"
grep -E '^[EWIPO]: ' "$W/lintian.txt" | sed 's/^/  /' || true
if [[ $lrc -eq 0 && $errors -eq 0 ]]; then
	mw_pass lintian
else
	[[ $lrc -eq 1 ]] && tail -5 "$W/lintian.txt"
	mw_fail lintian "exit $lrc, $errors error(s)"
fi

# --- the systemd unit -----------------------------------------------------------------
unit=$X/lib/systemd/system/mailwarden.service
if [[ ! -f $unit ]]; then
	mw_fail security "no lib/systemd/system/mailwarden.service in the package"
else
	systemd-analyze security --offline=true --no-pager "$unit" >"$W/security.txt" 2>&1 || true
	line=$(grep -a 'Overall exposure level' "$W/security.txt" | tail -1 || true)
	echo "systemd-analyze: ${line:-no score line}"
	score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$line")
	if [[ -n $score ]] && awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }'; then
		mw_pass "security (exposure $score <= $max_exposure)"
	else
		grep -a '✗' "$W/security.txt" || true
		mw_fail security "exposure '${score:-?}', want <= $max_exposure"
	fi

	# verify checks that ExecStart= is executable: point it at the packaged binary.
	mkdir -p "$W/unit"
	sed "s|/usr/sbin/mailwarden|$X/usr/sbin/mailwarden|g" "$unit" >"$W/unit/mailwarden.service"
	if out=$(systemd-analyze verify --man=no "$W/unit/mailwarden.service" 2>&1) && [[ -z $out ]]; then
		mw_pass verify
	else
		mw_fail verify "$out"
	fi

	if cmp -s "$unit" "$top/contrib/systemd/mailwarden.service"; then
		mw_pass unit
	else
		mw_fail unit "the packaged unit differs from contrib/systemd/mailwarden.service"
	fi
fi

# --- the daily DMARC report job ------------------------------------------------------------
report_ok=1
for f in mailwarden-dmarc-report.service mailwarden-dmarc-report.timer; do
	if ! cmp -s "$X/lib/systemd/system/$f" "$top/contrib/systemd/$f"; then
		mw_fail report-units "lib/systemd/system/$f missing or not contrib/systemd/$f"
		report_ok=0
	fi
done
if ((report_ok)); then
	mkdir -p "$W/unit"
	sed "s|/usr/sbin/mailwarden|$X/usr/sbin/mailwarden|g" \
		"$X/lib/systemd/system/mailwarden-dmarc-report.service" >"$W/unit/mailwarden-dmarc-report.service"
	cp "$X/lib/systemd/system/mailwarden-dmarc-report.timer" "$W/unit/"
	postinst=$W/postinst
	if ! out=$(systemd-analyze verify --man=no "$W/unit/mailwarden-dmarc-report.service" \
		"$W/unit/mailwarden-dmarc-report.timer" 2>&1) || [[ -n $out ]]; then
		mw_fail report-units "systemd-analyze verify: $out"
	elif ! grep -q "deb-systemd-helper enable 'mailwarden-dmarc-report.timer'" "$postinst" ||
		grep -q "deb-systemd-helper enable 'mailwarden-dmarc-report.service'" "$postinst"; then
		mw_fail report-units "the postinst does not enable the timer alone"
	else
		mw_pass report-units
	fi
fi

# --- contents ---------------------------------------------------------------------------
if [[ -x $X/usr/sbin/mailwarden ]] && "$X/usr/sbin/mailwarden" --help >/dev/null 2>&1; then
	mw_pass binary
else
	mw_fail binary "usr/sbin/mailwarden missing, not executable or not answering --help"
fi

missing=()
want=(/etc/mailwarden/mailwarden.yaml)
for f in "$top"/rules/*.yaml "$top"/rules/cases/*.eml; do
	want+=("/etc/mailwarden/rules/${f#"$top"/rules/}")
done
for f in "${want[@]}"; do
	grep -qxF "$f" "$W/conffiles" 2>/dev/null || missing+=("$f")
done
if [[ ${#missing[@]} -eq 0 ]]; then
	mw_pass "conffiles (${#want[@]})"
else
	mw_fail conffiles "not conffiles: ${missing[*]}"
fi

man_ok=1
for page in usr/share/man/man8/mailwarden.8.gz usr/share/man/man5/mailwarden.yaml.5.gz; do
	if [[ ! -f $X/$page ]]; then
		mw_fail man "no $page"
		man_ok=0
		continue
	fi
	warn=$(zcat "$X/$page" | groff -man -Tutf8 -ww -z 2>&1 || echo "groff failed")
	warn+=$(MANWIDTH=80 man --warnings -l "$X/$page" 2>&1 >/dev/null || echo "man failed")
	if [[ -n $warn ]]; then
		mw_fail man "$page: $warn"
		man_ok=0
	fi
done
[[ $man_ok -eq 1 ]] && mw_pass man

bad=()
for s in postinst prerm postrm; do
	[[ -f $W/$s ]] && ! sh -n "$W/$s" && bad+=("$s")
done
if [[ ${#bad[@]} -eq 0 && -f $W/postinst ]]; then
	mw_pass scripts
else
	mw_fail scripts "${bad[*]:-no postinst}"
fi

mw_summary
