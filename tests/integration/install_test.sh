#!/usr/bin/env bash
# tests/integration/install_test.sh — the install as a postmaster does it, end to end:
#   1  the .deb (build/deb/mailwarden_*.deb, made by `make deb` unless deb_package_test.sh
#      left one) installed with `apt-get install ./mailwarden_*.deb`: system user and
#      group, postfix in that group, the socket folder inside Postfix's chroot, the
#      configuration root:mailwarden 0640;
#   2  mailwarden started the way the unit's ExecStart= and User= say (no systemd here:
#      the same command line as the same user, as root never);
#   3  Debian's *system* Postfix (/etc/postfix, its stock master.cf: smtpd chrooted)
#      with the shipped snippet appended, started by its init script; through port 25
#      with swaks: a clean message is delivered to a local mailbox with the verdict
#      headers; SpamAssassin's sample-spam.txt (GTUBE) is refused with 550;
#   4  a configuration edit + SIGHUP takes effect (the log names the new generation and
#      the next message carries the new authserv-id);
#   5  mailwarden killed -> Postfix answers 4xx (swaks keeps the message); restarted ->
#      the same message is accepted and delivered;
#   6  purge: nothing of mailwarden left running or on disk; Postfix's configuration is
#      restored as it was and everything the test started is stopped by PID.
# Postmaster edits made here (what "a real install" may have): authserv_id, log target
# stderr (no syslog daemon on the test machine; under systemd stderr is the journal) and
# dns.zone_files (no network in tests: the sender's SPF and DMARC records come from a
# zone file). Loopback only. Needs root, Debian 12, postfix, swaks, spamassassin and
# the package build tools (contrib/install-deps.sh). Exit 77 (skipped) when it would
# have to touch something it did not set up: a running system Postfix, port 25 in use,
# mailwarden already installed.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
MW_INTEG_DIR=$top/tests/integration
# shellcheck source=lib.sh
. "$MW_INTEG_DIR/lib.sh"

if [[ $(id -u) -ne 0 ]]; then
	echo "skipped: needs root (installs a package, starts the system Postfix)"
	exit 77
fi
for tool in postfix swaks dpkg-buildpackage apt-get; do
	command -v "$tool" >/dev/null || { echo "install_test: $tool missing (contrib/install-deps.sh)"; exit 1; }
done
if dpkg-query -W -f='${Status}' mailwarden 2>/dev/null | grep -q "install ok installed"; then
	echo "skipped: mailwarden is installed on this machine already; this test installs and purges it"
	exit 77
fi
if postfix status >/dev/null 2>&1; then
	echo "skipped: the system Postfix is running; this test starts and stops it itself"
	exit 77
fi
if ss -Hltn 'sport = :25' | grep -q .; then
	echo "skipped: something listens on port 25 already"
	exit 77
fi

BUILD=${MW_BUILD_DIR:-$top/build}
SAMPLE_SPAM=${MW_SAMPLE_SPAM:-/usr/share/doc/spamassassin/examples/sample-spam.txt}
HOST=mx.install.test
HOST2=mx2.install.test
MBOX_USER=mwinstall
SENDER_DOMAIN=sender.install.test

mw_workdir W
chmod 0755 "$W"
MW_LOG=$W/mailwarden.log
mw_pid=""
pf_backup=$W/postfix-etc
had_main_cf=0
touched_postfix=0
installed=0
made_user=0

# --- cleanup: whatever happened, leave the machine as it was -------------------------
cleanup() {
	local rc=$?
	set +e
	cp /var/log/postfix-install-test.log "$W/maillog" 2>/dev/null
	stop_mailwarden KILL
	if [[ $touched_postfix == 1 ]]; then
		postfix stop >/dev/null 2>&1
		for _ in $(seq 1 50); do postfix status >/dev/null 2>&1 || break; sleep 0.1; done
		if [[ $had_main_cf == 1 ]]; then
			cp -p "$pf_backup/main.cf" /etc/postfix/main.cf
		else
			rm -f /etc/postfix/main.cf
		fi
		cp -p "$pf_backup/master.cf" /etc/postfix/master.cf
		rm -f /var/log/postfix-install-test.log
	fi
	if [[ $installed == 1 ]]; then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -q mailwarden >/dev/null 2>&1
	fi
	if [[ $made_user == 1 ]]; then
		userdel -r "$MBOX_USER" >/dev/null 2>&1
		rm -f "/var/mail/$MBOX_USER"
	fi
	if [[ $rc -eq 0 && -z ${MW_KEEP:-} ]]; then
		rm -rf "$W"
	else
		echo "work directory kept: $W" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stop_mailwarden() {
	local sig=${1:-TERM}
	[[ -n $mw_pid ]] || return 0
	kill -"$sig" "$mw_pid" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$mw_pid" 2>/dev/null || break; sleep 0.05; done
	wait "$mw_pid" 2>/dev/null
	mw_pid=""
}

# --- 1. the package -------------------------------------------------------------------
deb=$(ls -t "$BUILD"/deb/mailwarden_*.deb 2>/dev/null | head -n 1)
if [[ -z $deb ]]; then
	mw_log "building the package (make deb)"
	if ! make -C "$BUILD" deb >"$W/make-deb.log" 2>&1; then
		tail -n 30 "$W/make-deb.log"
		mw_fail "1 make deb" "see $W/make-deb.log"
		mw_summary
		exit 1
	fi
	deb=$(ls -t "$BUILD"/deb/mailwarden_*.deb 2>/dev/null | head -n 1)
fi
mw_log "installing $deb"
installed=1
if DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb" >"$W/apt.log" 2>&1; then
	mw_pass "1 apt-get install $(basename "$deb")"
else
	tail -n 20 "$W/apt.log"
	mw_fail "1 apt-get install $(basename "$deb")"
	mw_summary
	exit 1
fi
unit=/lib/systemd/system/mailwarden.service
[[ -f $unit ]] || unit=/usr/lib/systemd/system/mailwarden.service
checks=()
getent passwd mailwarden >/dev/null || checks+=("no user mailwarden")
id -nG postfix | tr ' ' '\n' | grep -qx mailwarden || checks+=("postfix is not in group mailwarden")
[[ $(stat -c '%U:%G %a' /var/spool/postfix/mailwarden 2>&1) == "mailwarden:mailwarden 750" ]] ||
	checks+=("/var/spool/postfix/mailwarden: $(stat -c '%U:%G %a' /var/spool/postfix/mailwarden 2>&1)")
[[ $(stat -c '%U:%G %a' /etc/mailwarden/mailwarden.yaml 2>&1) == "root:mailwarden 640" ]] ||
	checks+=("/etc/mailwarden/mailwarden.yaml: $(stat -c '%U:%G %a' /etc/mailwarden/mailwarden.yaml 2>&1)")
ls /etc/mailwarden/rules/*.yaml >/dev/null 2>&1 || checks+=("no rules in /etc/mailwarden/rules")
[[ -x /usr/sbin/mailwarden ]] || checks+=("no /usr/sbin/mailwarden")
[[ -f $unit ]] || checks+=("no systemd unit")
if [[ ${#checks[@]} -eq 0 ]]; then
	mw_pass "1 installed: user and group mailwarden (postfix a member), /var/spool/postfix/mailwarden mailwarden:mailwarden 0750, config root:mailwarden 0640, rules, unit"
else
	mw_fail "1 the installed layout" "$(IFS=';'; echo "${checks[*]}")"
fi
if runuser -u mailwarden -- /usr/sbin/mailwarden configtest -c /etc/mailwarden/mailwarden.yaml >"$W/configtest.out" 2>&1; then
	mw_pass "1 configtest as mailwarden on the shipped configuration: $(tail -n 1 "$W/configtest.out")"
else
	mw_fail "1 configtest as mailwarden on the shipped configuration" "$(head -n 3 "$W/configtest.out")"
fi
# The daily DMARC report job: the timer enabled by the postinst (deb-systemd-helper makes
# the timers.target.wants link even where systemd is not running), and the job, run as
# the timer runs it, has nothing to do with reporting off (the shipped default): exit 0.
timer_link=/etc/systemd/system/timers.target.wants/mailwarden-dmarc-report.timer
if [[ -L $timer_link && -f /lib/systemd/system/mailwarden-dmarc-report.service ]] &&
	runuser -u mailwarden -- /usr/sbin/mailwarden dmarc-report -c /etc/mailwarden/mailwarden.yaml >"$W/dmarc-report.out" 2>&1 &&
	grep -q 'not enabled: nothing to report' "$W/dmarc-report.out"; then
	mw_pass "1 mailwarden-dmarc-report.timer enabled; the job as mailwarden: $(tail -n 1 "$W/dmarc-report.out")"
else
	mw_fail "1 the DMARC report timer and job" "link: $(ls -l "$timer_link" 2>&1); $(head -n 3 "$W/dmarc-report.out" 2>&1)"
fi

# --- the postmaster's edits -----------------------------------------------------------
# A zone file for the sender's domain, readable by mailwarden, in place of the Internet.
cat >/etc/mailwarden/install-test.zone <<EOF
\$ORIGIN $SENDER_DOMAIN.
\$TTL 300
@ IN SOA ns.$SENDER_DOMAIN. hostmaster.$SENDER_DOMAIN. 1 3600 600 86400 300
@ IN NS ns.$SENDER_DOMAIN.
@ IN TXT "v=spf1 ip4:127.0.0.1 -all"
_dmarc IN TXT "v=DMARC1; p=reject"
EOF
chmod 0644 /etc/mailwarden/install-test.zone
# edit_config AUTHSERV: the shipped file with three settings changed in place.
edit_config() {
	sed -i -E \
		-e "s|^#?authserv_id:.*|authserv_id: $1|" \
		-e '/^log:/,/^[^ #]/ s|^(  target:).*|\1 stderr|' \
		-e '/^dns:/,/^[^ #]/ s|^(  zone_files:).*|\1 [/etc/mailwarden/install-test.zone]|' \
		/etc/mailwarden/mailwarden.yaml
}
edit_config "$HOST"
if grep -q "^authserv_id: $HOST" /etc/mailwarden/mailwarden.yaml && grep -q '^  target: stderr' /etc/mailwarden/mailwarden.yaml &&
	grep -q 'zone_files: \[/etc/mailwarden/install-test.zone\]' /etc/mailwarden/mailwarden.yaml; then
	mw_pass "edits: authserv_id, log.target stderr, dns.zone_files"
else
	mw_fail "edits to /etc/mailwarden/mailwarden.yaml" "$(grep -nE 'authserv_id|target:|zone_files' /etc/mailwarden/mailwarden.yaml)"
fi

# --- 2. mailwarden as the unit says -----------------------------------------------------
exec_start=$(sed -n 's/^ExecStart=//p' "$unit" | head -n 1)
unit_user=$(sed -n 's/^User=//p' "$unit" | head -n 1)
unit_group=$(sed -n 's/^Group=//p' "$unit" | head -n 1)
start_mailwarden() {
	# What systemd would prepare: RuntimeDirectory=, CacheDirectory= (the package's
	# postinst makes the cache folder too).
	install -d -o "$unit_user" -g "$unit_group" -m 0750 /run/mailwarden
	touch "$MW_LOG"
	# shellcheck disable=SC2086 # ExecStart is a command line
	setpriv --reuid="$unit_user" --regid="$unit_group" --init-groups --inh-caps=-all \
		$exec_start </dev/null >>"$MW_LOG" 2>&1 &
	mw_pid=$!
	local from=$(($(wc -l <"$MW_LOG") + 1))
	for _ in $(seq 1 300); do
		if ! kill -0 "$mw_pid" 2>/dev/null; then
			wait "$mw_pid"
			mw_log "mailwarden exited with status $?: $(tail -n 5 "$MW_LOG")"
			mw_pid=""
			return 1
		fi
		# This start's own line (a restart finds the first one in the log too).
		tail -n +"$from" "$MW_LOG" | grep -q "listening on" && return 0
		sleep 0.1
	done
	return 1
}
if [[ -n $exec_start && -n $unit_user ]] && start_mailwarden; then
	mw_pass "2 started as the unit says (User=$unit_user: $exec_start): $(grep 'listening on' "$MW_LOG" | tail -n 1 | cut -c 1-150)"
else
	mw_fail "2 mailwarden starts as the unit says" "User=$unit_user ExecStart=$exec_start"
	mw_summary
	exit 1
fi
sock_perm=$(stat -c '%U:%G %a' /var/spool/postfix/mailwarden/milter.sock)
if [[ $sock_perm == "mailwarden:mailwarden 660" && $(ps -o user= -p "$mw_pid") == mailwarden ]]; then
	mw_pass "2 runs as mailwarden; socket mailwarden:mailwarden 0660"
else
	mw_fail "2 the process user and the socket" "socket $sock_perm, process $(ps -o user= -p "$mw_pid")"
fi

# --- 3. the system Postfix ------------------------------------------------------------
mkdir -p "$pf_backup"
[[ -f /etc/postfix/main.cf ]] && had_main_cf=1 && cp -p /etc/postfix/main.cf "$pf_backup/main.cf"
cp -p /etc/postfix/master.cf "$pf_backup/master.cf"
touched_postfix=1
if ! grep -qE '^smtp +inet +n +- +y ' /etc/postfix/master.cf; then
	mw_fail "3 Debian's stock master.cf runs smtpd chrooted" "$(grep -E '^smtp ' /etc/postfix/master.cf)"
fi
snippet=/usr/share/doc/mailwarden/examples/main.cf.snippet
[[ -f $snippet ]] || snippet=$top/contrib/postfix/main.cf.snippet
if [[ $had_main_cf == 0 ]]; then
	# What "Local only" in Debian's debconf dialogue gives, on loopback.
	{
		cat /usr/share/postfix/main.cf.debian
		cat <<EOF
myhostname = $HOST
mydestination = \$myhostname, localhost
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
alias_maps =
alias_database =
maillog_file = /var/log/postfix-install-test.log
EOF
	} >/etc/postfix/main.cf
fi
cat "$snippet" >>/etc/postfix/main.cf
if postfix check >"$W/postfix-check.out" 2>&1 && /etc/init.d/postfix start >"$W/postfix-start.out" 2>&1; then
	for _ in $(seq 1 100); do ss -Hltn 'sport = :25' | grep -q . && break; sleep 0.1; done
	mw_pass "3 system Postfix started (/etc/init.d/postfix, stock master.cf, snippet appended: $(grep -c . "$snippet") lines)"
else
	mw_fail "3 the system Postfix starts" "$(cat "$W/postfix-check.out" "$W/postfix-start.out" | tail -n 5)"
	mw_summary
	exit 1
fi
if id "$MBOX_USER" >/dev/null 2>&1; then
	: >"/var/mail/$MBOX_USER" 2>/dev/null
else
	useradd --create-home --shell /usr/sbin/nologin "$MBOX_USER" && made_user=1
fi

# send NAME [swaks args...]: swaks to 127.0.0.1:25, transcript in W/NAME.swaks.
send() {
	local name=$1
	shift
	timeout 120 swaks --server 127.0.0.1 --port 25 --helo client.install.test \
		--from "alice@$SENDER_DOMAIN" --to "$MBOX_USER@$HOST" "$@" >"$W/$name.swaks" 2>&1
}
# delivered MSGID: the mailbox holds a message with that Message-ID (waits 30 s).
delivered() {
	for _ in $(seq 1 300); do
		grep -qF "Message-Id: <$1>" "/var/mail/$MBOX_USER" 2>/dev/null && return 0
		grep -qiF "Message-ID: <$1>" "/var/mail/$MBOX_USER" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# header_block MSGID: the header of that message in the mailbox.
header_block() {
	awk -v id="$1" '/^From / { n++; hdr = 1; buf = "" } hdr && /^$/ { hdr = 0; if (index(buf, id)) print buf }
		hdr { buf = buf $0 "\n" }' "/var/mail/$MBOX_USER"
}

if send clean --header "Message-Id: <clean-1@$SENDER_DOMAIN>" --header "Subject: install test" \
	--body "An ordinary message." && delivered "clean-1@$SENDER_DOMAIN"; then
	block=$(header_block "clean-1@$SENDER_DOMAIN")
	printf '%s\n' "$block" | grep -E '^(Authentication-Results|X-Mailwarden|[[:space:]])' | sed 's/^/    /'
	if grep -q "^Authentication-Results: $HOST;" <<<"$block" && grep -q 'spf=pass' <<<"$block" &&
		grep -q 'dmarc=pass' <<<"$block" && grep -q '^X-Mailwarden-Verdict: accept' <<<"$block"; then
		mw_pass "3 a clean message is delivered to /var/mail/$MBOX_USER with spf=pass, dmarc=pass and X-Mailwarden-Verdict"
	else
		mw_fail "3 the verdict headers of the delivered message" "$(head -n 12 <<<"$block")"
	fi
else
	mw_fail "3 a clean message through port 25 is delivered" "$(tail -n 5 "$W/clean.swaks")"
fi

if [[ -f $SAMPLE_SPAM ]]; then
	sed 's/$/\r/' "$SAMPLE_SPAM" >"$W/sample-spam.eml"
	send gtube --data "$W/sample-spam.eml"
	reply=$(grep -E '^<\*\* +5[0-9][0-9]' "$W/gtube.swaks" | tail -n 1)
	if grep -q '550 5.7.1' <<<"$reply"; then
		mw_pass "3 SpamAssassin's sample-spam.txt (GTUBE) refused: $reply"
	else
		mw_fail "3 GTUBE is refused with 550" "$(tail -n 4 "$W/gtube.swaks")"
	fi
else
	mw_fail "3 GTUBE" "$SAMPLE_SPAM missing (apt-get install spamassassin)"
fi

# --- 4. SIGHUP after an edit ----------------------------------------------------------
gen_before=$(grep -o 'generation [0-9]*' "$MW_LOG" | tail -n 1)
edit_config "$HOST2"
kill -HUP "$mw_pid"
reloaded=0
for _ in $(seq 1 100); do
	grep -q "configuration reloaded" "$MW_LOG" && reloaded=1 && break
	sleep 0.1
done
gen_after=$(grep 'configuration reloaded' "$MW_LOG" | tail -n 1 | grep -o 'generation [0-9]*')
if [[ $reloaded == 1 && $gen_after != "$gen_before" ]]; then
	mw_pass "4 SIGHUP: $(grep 'configuration reloaded' "$MW_LOG" | tail -n 1 | cut -c 1-150)"
else
	mw_fail "4 SIGHUP reloads the edited file" "$(tail -n 3 "$MW_LOG")"
fi
if send after-hup --header "Message-Id: <clean-2@$SENDER_DOMAIN>" --body "After the reload." &&
	delivered "clean-2@$SENDER_DOMAIN" && header_block "clean-2@$SENDER_DOMAIN" | grep -q "^Authentication-Results: $HOST2;"; then
	mw_pass "4 the next message carries the new authserv-id $HOST2"
else
	mw_fail "4 the edit takes effect" "$(header_block "clean-2@$SENDER_DOMAIN" | grep -i authentication-results)"
fi

# --- 5. mailwarden gone: 4xx, nothing lost --------------------------------------------
stop_mailwarden KILL
rc=0
send down --header "Message-Id: <retry-1@$SENDER_DOMAIN>" --body "Sent while the filter is down." || rc=$?
reply=$(grep -E '^<\*\* +4[0-9][0-9]' "$W/down.swaks" | head -n 1)
if [[ $rc != 0 && -n $reply ]]; then
	mw_pass "5 mailwarden killed: Postfix answers $reply"
else
	mw_fail "5 with mailwarden killed, Postfix answers 4xx" "swaks exit $rc: $(tail -n 4 "$W/down.swaks")"
fi
if start_mailwarden && send retry --header "Message-Id: <retry-1@$SENDER_DOMAIN>" --body "Sent while the filter is down." &&
	delivered "retry-1@$SENDER_DOMAIN"; then
	mw_pass "5 restarted (the stale socket replaced): the same message is accepted and delivered"
else
	mw_fail "5 after a restart the message is accepted" "$(tail -n 4 "$W/retry.swaks")"
fi

# --- 6. purge ---------------------------------------------------------------------------
stop_mailwarden TERM
postfix stop >/dev/null 2>&1
for _ in $(seq 1 50); do postfix status >/dev/null 2>&1 || break; sleep 0.1; done
if DEBIAN_FRONTEND=noninteractive apt-get purge -y -q mailwarden >"$W/purge.log" 2>&1; then
	installed=0
	left=()
	for p in /etc/mailwarden /var/spool/postfix/mailwarden /var/cache/mailwarden /var/lib/mailwarden /usr/sbin/mailwarden \
		/etc/systemd/system/timers.target.wants/mailwarden-dmarc-report.timer; do
		[[ -e $p || -L $p ]] && left+=("$p")
	done
	pgrep -u mailwarden >/dev/null 2>&1 && left+=("processes of user mailwarden: $(pgrep -u mailwarden | tr '\n' ' ')")
	if [[ ${#left[@]} -eq 0 ]]; then
		mw_pass "6 purged: no file of mailwarden's left, nothing running"
	else
		mw_fail "6 purge leaves" "${left[*]}"
	fi
else
	mw_fail "6 apt-get purge mailwarden" "$(tail -n 5 "$W/purge.log")"
fi

mw_summary
