# shellcheck shell=bash
# tests/integration/lib.sh -- harness for the integration tests: a private Postfix
# instance on loopback, a capture server standing in for the next hop, swaks as the
# sending client and (once it exists) mailwarden as Postfix's milter.
#
# Source it from a `set -euo pipefail` script:
#
#     . "$(dirname "$0")/lib.sh"
#     mw_install_trap                      # stops everything on exit, by PID
#     mw_workdir W                         # private 0755 directory, removed on success
#     mw_sink_start "$W/sink" 0            # capture server; sets MW_SINK_PORT
#     mw_free_port smtp
#     mw_pf_start "$W/pf" "$smtp" "$MW_SINK_PORT"          # [MILTER_SOCKET] [name=value...]
#     mw_swaks "$smtp" --to rcpt@dest.test.example --data msg.eml
#     mw_wait_for_messages "$W/sink" 1 30
#
# Everything binds 127.0.0.1 only. Every process this library starts is recorded as
# "PID STARTTIME" (STARTTIME = field 22 of /proc/PID/stat), and is signalled only if
# that PID still has that start time, so a recycled PID is never hit. Nothing is ever
# killed by name. The system Postfix (/etc/postfix, /var/spool/postfix, port 25) is
# never touched: every Postfix command here runs with `-c DIR/etc`.
#
# Must run as root (Postfix's master must start as root; see mw_pf_start).
#
# Environment knobs:
#   MW_TMPDIR      parent of mw_workdir directories (default /tmp)
#   MW_KEEP=1      keep the work directory even when the test passed
#   MW_BIN         mailwarden binary (default: <repo>/mailwarden)
#   MW_TIMEOUT     default bound for start-up waits, seconds (default 20)
#   MW_MILTER_TIMEOUT  bound for mailwarden to start listening (default 60)
#   MW_SWAKS_TIMEOUT   swaks --timeout per SMTP step (default 120)

MW_INTEG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MW_REPO_DIR=$(cd "$MW_INTEG_DIR/../.." && pwd)
MW_TIMEOUT=${MW_TIMEOUT:-20}
# The interpreter itself, not a wrapper such as a pyenv shim (faster, and the PID we
# record is the server's own).
MW_PYTHON=${MW_PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}

# What this shell started, in start order: "KIND|PATH" where KIND is pf (PATH = the
# instance DIR) or proc (PATH = a pid file holding "PID STARTTIME").
_MW_STARTED=()
_MW_WORKDIRS=()
_MW_PORTS_GIVEN=" "
MW_PASSED=0
MW_FAILED=0

# ---------------------------------------------------------------------------------
# Logging, results, small helpers

mw_log() { printf '%s [mw] %s\n' "$(date +%T)" "$*" >&2; }

mw_now_ms() { date +%s%3N; }

# mw_pass NAME / mw_fail NAME [WHY]: count a check; mw_summary prints the totals.
mw_pass() {
	MW_PASSED=$((MW_PASSED + 1))
	printf 'PASS %s\n' "$1"
}
mw_fail() {
	MW_FAILED=$((MW_FAILED + 1))
	printf 'FAIL %s%s\n' "$1" "${2:+: $2}"
}
# mw_summary: prints "N passed, N failed"; returns 1 if anything failed or nothing ran.
mw_summary() {
	printf '%d passed, %d failed\n' "$MW_PASSED" "$MW_FAILED"
	[[ $MW_FAILED -eq 0 && $MW_PASSED -gt 0 ]]
}

# mw_require_root: the private Postfix master must be started by root.
mw_require_root() {
	if [[ $(id -u) -ne 0 ]]; then
		mw_log "must run as root (Postfix's master starts as root, then drops to mail_owner)"
		return 1
	fi
}

# _mw_pid_starttime PID: prints the process start time (clock ticks since boot) or
# nothing if PID is gone or a zombie. The comm field may contain spaces and ")", so
# parse after the last ")".
_mw_pid_starttime() {
	local stat rest
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	rest=${stat##*) }
	# rest: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	#       utime stime cutime cstime priority nice threads itrealvalue starttime ...
	local -a f
	read -r -a f <<<"$rest"
	[[ ${f[0]} == Z ]] && return 0
	printf '%s\n' "${f[19]}"
}

# mw_pid_alive PID: true if PID exists and is not a zombie. (`kill -0` succeeds on a
# zombie: a stopped Postfix master is reparented to PID 1 and lingers as one until
# PID 1 reaps it.)
mw_pid_alive() { [[ -n $(_mw_pid_starttime "$1") ]]; }

# _mw_pid_same PID STARTTIME: true if PID is alive and is still the process recorded.
_mw_pid_same() {
	[[ -n $1 && -n $2 && $(_mw_pid_starttime "$1") == "$2" ]]
}

# _mw_record_pid PIDFILE PID: writes "PID STARTTIME" atomically.
_mw_record_pid() {
	local start
	start=$(_mw_pid_starttime "$2")
	[[ -n $start ]] || return 1
	printf '%s %s\n' "$2" "$start" >"$1.tmp"
	mv -f "$1.tmp" "$1"
}

# _mw_stop_pidfile PIDFILE [GRACE_SECONDS]: SIGTERM the recorded process, SIGKILL it
# after GRACE seconds (default 10), reap it if it is our child. Quiet if already gone.
_mw_stop_pidfile() {
	local pidfile=$1 grace=${2:-10} pid start deadline
	[[ -f $pidfile ]] || return 0
	read -r pid start <"$pidfile" || return 0
	if _mw_pid_same "$pid" "$start"; then
		kill -TERM "$pid" 2>/dev/null || true
		deadline=$((SECONDS + grace))
		while _mw_pid_same "$pid" "$start" && ((SECONDS < deadline)); do
			sleep 0.1
		done
		if _mw_pid_same "$pid" "$start"; then
			mw_log "pid $pid ignored SIGTERM for ${grace}s; SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null || true # reap if it is our child; no-op otherwise
	rm -f "$pidfile"
}

# mw_wait_until TIMEOUT_SECONDS COMMAND...: polls COMMAND every 0.1 s; returns 1 on
# timeout.
mw_wait_until() {
	local timeout=$1
	shift
	local deadline=$(($(mw_now_ms) + timeout * 1000))
	until "$@"; do
		if (($(mw_now_ms) >= deadline)); then
			return 1
		fi
		sleep 0.1
	done
}

# mw_port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
# (bash's /dev/tcp; on loopback a closed port is refused at once.)
mw_port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# mw_unix_socket_open PATH: true if something accepts connections on the unix socket.
mw_unix_socket_open() {
	[[ -S $1 ]] || return 1
	"$MW_PYTHON" - "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(1)
try:
    s.connect(sys.argv[1])
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF
}

# mw_free_port [VAR]: a TCP port that was free on 127.0.0.1 a moment ago (the kernel
# picks it: bind to port 0). With VAR, assigns it to VAR in this shell and never hands
# out the same port twice; without, prints it (from $(...) the no-repeat memory is
# lost with the subshell, so prefer the VAR form when taking several ports).
mw_free_port() {
	local port i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		port=$("$MW_PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()')
		if [[ $_MW_PORTS_GIVEN != *" $port "* ]]; then
			_MW_PORTS_GIVEN+="$port "
			if [[ $# -gt 0 ]]; then
				printf -v "$1" '%s' "$port"
			else
				printf '%s\n' "$port"
			fi
			return 0
		fi
	done
	mw_log "mw_free_port: no new port after $i tries"
	return 1
}

# mw_workdir [VAR]: creates a fresh work directory (mode 0755: Postfix daemons that
# have dropped to mail_owner, and a milter socket path, must be reachable) and assigns
# it to VAR (default MW_WORK). Removed by mw_cleanup when the script exits 0, unless
# MW_KEEP=1. Not for $(...): the directory must be remembered by this shell.
mw_workdir() {
	local d
	d=$(mktemp -d "${MW_TMPDIR:-/tmp}/mw-integ.XXXXXX")
	chmod 0755 "$d"
	_MW_WORKDIRS+=("$d")
	printf -v "${1:-MW_WORK}" '%s' "$d"
}

# _mw_check_path PATH: Postfix parameter values are split on whitespace and commas,
# and "$" expands; refuse paths that would not survive main.cf.
_mw_check_path() {
	if [[ $1 != /* || $1 =~ [[:space:],\$\"\'] ]]; then
		mw_log "unusable path for a Postfix instance: '$1' (must be absolute, no spaces, commas, \$ or quotes)"
		return 1
	fi
}

# ---------------------------------------------------------------------------------
# Cleanup

# mw_cleanup: stops everything this shell started (newest first) by recorded PID, then
# removes work directories if the exit status is 0 and MW_KEEP is unset. Meant for
# `trap mw_cleanup EXIT` (see mw_install_trap); keeps the exit status.
mw_cleanup() {
	local rc=$? i kind path errexit=""
	[[ $- == *e* ]] && errexit=1
	set +e
	for ((i = ${#_MW_STARTED[@]} - 1; i >= 0; i--)); do
		kind=${_MW_STARTED[i]%%|*}
		path=${_MW_STARTED[i]#*|}
		case $kind in
		pf) mw_pf_stop "$path" ;;
		proc) _mw_stop_pidfile "$path" ;;
		esac
	done
	_MW_STARTED=()
	for path in "${_MW_WORKDIRS[@]}"; do
		if [[ $rc -eq 0 && -z ${MW_KEEP:-} ]]; then
			rm -rf -- "$path"
		else
			mw_log "kept work directory $path"
		fi
	done
	_MW_WORKDIRS=()
	[[ -n $errexit ]] && set -e
	return "$rc"
}

# mw_install_trap: run mw_cleanup on exit, and turn INT/TERM/HUP into an exit so the
# EXIT trap runs then too.
mw_install_trap() {
	trap mw_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

_mw_register() { _MW_STARTED+=("$1|$2"); }

_mw_unregister() {
	local -a keep=()
	local e
	for e in "${_MW_STARTED[@]}"; do
		[[ $e == "$1|$2" ]] || keep+=("$e")
	done
	_MW_STARTED=("${keep[@]}")
}

# ---------------------------------------------------------------------------------
# Capture server (next hop for the private Postfix)

# mw_sink_start DIR [PORT]: starts mw_capture.py on 127.0.0.1:PORT (0 or omitted: the
# kernel picks one), storing each message as DIR/NNNNNN.eml (+ .env with the
# envelope). Sets MW_SINK_DIR, MW_SINK_PORT, MW_SINK_PID. See mw_capture.py for why
# not smtp-sink.
mw_sink_start() {
	local dir=$1 port=${2:-0} pid
	mkdir -p "$dir"
	rm -f "$dir/port" "$dir/sink.pid"
	"$MW_PYTHON" "$MW_INTEG_DIR/mw_capture.py" "$dir" "$port" </dev/null >>"$dir/sink.out" 2>&1 &
	pid=$!
	_mw_record_pid "$dir/sink.pid" "$pid" || {
		mw_log "capture server exited at once:"
		cat "$dir/sink.out" >&2
		return 1
	}
	_mw_register proc "$dir/sink.pid"
	if ! mw_wait_until "$MW_TIMEOUT" test -s "$dir/port"; then
		mw_log "capture server did not report its port within ${MW_TIMEOUT}s:"
		cat "$dir/sink.out" >&2
		return 1
	fi
	MW_SINK_DIR=$dir
	MW_SINK_PORT=$(<"$dir/port")
	# shellcheck disable=SC2034 # for the calling test
	MW_SINK_PID=$pid
	mw_log "capture server pid $pid on 127.0.0.1:$MW_SINK_PORT -> $dir"
}

# mw_sink_stop [DIR]: stops the capture server of DIR (default: the last started).
mw_sink_stop() {
	local dir=${1:-${MW_SINK_DIR:-}}
	[[ -n $dir ]] || return 0
	_mw_stop_pidfile "$dir/sink.pid"
	_mw_unregister proc "$dir/sink.pid"
}

# mw_sink_mode DIR accept|tempfail|reject: how the sink answers the end of DATA from
# now on (tempfail makes Postfix defer and retry).
mw_sink_mode() {
	printf '%s\n' "$2" >"$1/mode.tmp"
	mv -f "$1/mode.tmp" "$1/mode"
}

# mw_count_messages DIR: number of complete messages captured in DIR.
mw_count_messages() {
	local f n=0
	for f in "$1"/*.eml; do
		[[ -e $f ]] && n=$((n + 1))
	done
	printf '%s\n' "$n"
}

_mw_have_messages() { (($(mw_count_messages "$1") >= $2)); }

# mw_wait_for_messages DIR N TIMEOUT: waits until at least N messages were captured in
# DIR; returns 1 (and says how many there are) after TIMEOUT seconds.
mw_wait_for_messages() {
	local dir=$1 n=$2 timeout=$3
	if mw_wait_until "$timeout" _mw_have_messages "$dir" "$n"; then
		return 0
	fi
	mw_log "timed out after ${timeout}s: $(mw_count_messages "$dir") of $n messages in $dir"
	return 1
}

# mw_find_captured DIR FIXED_STRING: prints the one captured message containing the
# string (e.g. a Message-ID); returns 1 if none or several do.
mw_find_captured() {
	local -a hits=()
	local f
	for f in "$1"/*.eml; do
		[[ -e $f ]] || continue
		if grep -q -F -e "$2" -- "$f"; then
			hits+=("$f")
		fi
	done
	if [[ ${#hits[@]} -ne 1 ]]; then
		mw_log "mw_find_captured: ${#hits[@]} messages in $1 contain '$2'"
		return 1
	fi
	printf '%s\n' "${hits[0]}"
}

# ---------------------------------------------------------------------------------
# Private Postfix instance

# _mw_pf_milter_spec SOCKET: Postfix's spelling of a milter socket. libmilter (and
# mailwarden's config) say inet:PORT@HOST; Postfix says inet:HOST:PORT.
_mw_pf_milter_spec() {
	case $1 in
	inet:*@*)
		local rest=${1#inet:}
		printf 'inet:%s:%s\n' "${rest#*@}" "${rest%%@*}"
		;;
	local:*) printf 'unix:%s\n' "${1#local:}" ;;
	*) printf '%s\n' "$1" ;;
	esac
}

# _mw_pf_main_cf DIR SMTP_PORT SINK_PORT MILTER: prints main.cf. Written from scratch,
# nothing inherited from /etc/postfix/main.cf (which postfix -c never reads anyway,
# except multi_instance_directories, see the notes in README).
_mw_pf_main_cf() {
	local dir=$1 smtp_port=$2 sink_port=$3 milter=$4
	cat <<EOF
# Generated by tests/integration/lib.sh for a private test instance. Do not edit.
compatibility_level = 3.6
config_directory = $dir/etc
queue_directory = $dir/queue
data_directory = $dir/data
# Shared, read-only parts of the installed Postfix (compile-time defaults, spelled out).
meta_directory = /etc/postfix
daemon_directory = /usr/lib/postfix/sbin
command_directory = /usr/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-mwtest
maillog_file = $dir/maillog
maillog_file_prefixes = $dir

myhostname = mx.test.example
mydomain = test.example
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8

# Nothing is delivered here: every message goes to the capture server.
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
local_transport = error:local delivery disabled
relay_domains =
relayhost = [127.0.0.1]:$sink_port
default_transport = smtp
relay_transport = smtp
smtp_bind_address = 127.0.0.1
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions =

# No DNS anywhere: IP-literal next hop, /etc/hosts for names, no client name lookup.
smtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
smtpd_peername_lookup = no

# Inbound mail from the Internet is not rewritten (no header address rewriting, no
# added Date/Message-ID), so what the milter sees is what the sender sent.
local_header_rewrite_clients =
remote_header_rewrite_domain =

message_size_limit = 67108864
in_flow_delay = 0
smtpd_error_sleep_time = 0
smtpd_client_port_logging = yes
biff = no

# Short retry cycle for tests that make the next hop or the milter fail.
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s

milter_protocol = 6
milter_default_action = tempfail
milter_connect_timeout = 10s
milter_command_timeout = 30s
milter_content_timeout = 60s
EOF
	if [[ -n $milter ]]; then
		cat <<EOF
smtpd_milters = $milter
non_smtpd_milters = $milter
EOF
	fi
}

# _mw_pf_master_cf SMTP_PORT: prints master.cf. chroot is "n" everywhere: a chrooted
# smtpd would resolve a unix milter socket path inside the queue directory.
_mw_pf_master_cf() {
	cat <<EOF
# Generated by tests/integration/lib.sh. service type private unpriv chroot wakeup maxproc command
127.0.0.1:$1 inet  n       -       n       -       -       smtpd
pickup     unix  n       -       n       60      1       pickup
cleanup    unix  n       -       n       -       0       cleanup
qmgr       unix  n       -       n       300     1       qmgr
rewrite    unix  -       -       n       -       -       trivial-rewrite
bounce     unix  -       -       n       -       0       bounce
defer      unix  -       -       n       -       0       bounce
trace      unix  -       -       n       -       0       bounce
verify     unix  -       -       n       -       1       verify
flush      unix  n       -       n       1000?   0       flush
proxymap   unix  -       -       n       -       -       proxymap
smtp       unix  -       -       n       -       -       smtp
relay      unix  -       -       n       -       -       smtp
showq      unix  n       -       n       -       -       showq
error      unix  -       -       n       -       -       error
retry      unix  -       -       n       -       -       error
discard    unix  -       -       n       -       -       discard
anvil      unix  -       -       n       -       1       anvil
scache     unix  -       -       n       -       1       scache
postlog    unix-dgram n  -       n       -       1       postlogd
EOF
}

# _mw_pf_backdate ETC: Postfix re-reads main.cf every 300 ms for as long as its mtime
# is within the last ~2 seconds (dict_load_file: do not parse a file that is being
# edited), which made every start of a fresh instance take 2.5 s. The files are
# complete when this runs, so date them 10 seconds back.
_mw_pf_backdate() {
	touch -d "@$(($(date +%s) - 10))" "$1/main.cf" "$1/master.cf"
}

# mw_pf_sasl DIR USER PASSWORD: SMTP AUTH for a private Postfix with Cyrus SASL
#   (sasl2-bin, libsasl2-modules): a sasldb2 under DIR/etc/sasl holding USER's password
#   (saslpasswd2 -f), DIR/etc/sasl/smtpd.conf (auxprop/sasldb, PLAIN and LOGIN), readable
#   by smtpd only. Prints the main.cf settings, one NAME=VALUE a line, to hand to
#   mw_pf_start (readarray -t S < <(mw_pf_sasl ...); mw_pf_start ... "" "${S[@]}").
#   Why DIR/etc/sasl: Debian's Postfix ignores cyrus_sasl_config_path. Its patched
#   xsasl callback hands libsasl2 "$config_directory/sasl:/usr/lib/sasl" as the config
#   path (README.Debian: "SASL configuration goes in /etc/postfix/sasl"; the string is
#   in /usr/lib/postfix/sbin/smtpd), so a smtpd.conf anywhere else is never read and
#   libsasl2 falls back to /etc/sasldb2 and every mechanism. config_directory of the
#   private instance is DIR/etc, so DIR/etc/sasl is read by Debian's smtpd and, through
#   cyrus_sasl_config_path, by an upstream build too. smtpd reads smtpd.conf as root
#   (before dropping privileges) and opens sasldb2 as mail_owner at AUTH time.
#   The instance's smtpd is not chrooted (_mw_pf_master_cf), so the paths are real.
mw_pf_sasl() {
	local dir=$1 user=$2 password=$3 sasl=$1/etc/sasl
	_mw_check_path "$dir" || return 1
	command -v saslpasswd2 >/dev/null || {
		mw_log "mw_pf_sasl: saslpasswd2 not installed (sasl2-bin)"
		return 1
	}
	mkdir -p "$sasl"
	rm -f "$sasl/sasldb2"
	printf '%s' "$password" | saslpasswd2 -p -c -f "$sasl/sasldb2" -u mx.test.example "$user" || return 1
	printf '%s\n' "pwcheck_method: auxprop" "auxprop_plugin: sasldb" "sasldb_path: $sasl/sasldb2" \
		"mech_list: PLAIN LOGIN" >"$sasl/smtpd.conf"
	chown -R postfix:postfix "$sasl"
	chmod 0700 "$sasl"
	chmod 0600 "$sasl/sasldb2" "$sasl/smtpd.conf"
	printf '%s\n' smtpd_sasl_auth_enable=yes smtpd_sasl_type=cyrus smtpd_sasl_path=smtpd \
		"cyrus_sasl_config_path=$sasl" smtpd_sasl_local_domain=mx.test.example \
		smtpd_sasl_security_options=noanonymous
}

# mw_pf_start DIR SMTP_PORT SINK_PORT [MILTER_SOCKET] [NAME=VALUE...]
#   Creates and starts a private Postfix under DIR:
#     DIR/etc/{main.cf,master.cf}  generated (never copied from /etc/postfix)
#     DIR/queue                    queue_directory (root-owned; subdirectories by
#                                  post-install as `postfix start` runs it)
#     DIR/data                     data_directory (mail_owner)
#     DIR/maillog                  Postfix's log (postlogd), instead of syslog
#   smtpd listens on 127.0.0.1:SMTP_PORT only; every message is relayed to
#   [127.0.0.1]:SINK_PORT. MILTER_SOCKET ("" for none) may be in libmilter form
#   (unix:/path, inet:PORT@127.0.0.1) or Postfix form (inet:127.0.0.1:PORT). Extra
#   NAME=VALUE pairs are applied with postconf -e last. Sets MW_PF_DIR, MW_PF_PORT,
#   MW_PF_MASTER_PID.
mw_pf_start() {
	local dir=$1 smtp_port=$2 sink_port=$3 milter=${4:-}
	shift 3
	[[ $# -gt 0 ]] && shift
	mw_require_root || return 1
	_mw_check_path "$dir" || return 1
	if [[ ! $smtp_port =~ ^[0-9]+$ || ! $sink_port =~ ^[0-9]+$ || $smtp_port == 25 ]]; then
		mw_log "mw_pf_start: bad ports smtp=$smtp_port sink=$sink_port"
		return 1
	fi
	local etc=$dir/etc
	local pid start
	if [[ -f $dir/master.started ]] && read -r pid start <"$dir/master.started" &&
		_mw_pid_same "$pid" "$start"; then
		mw_log "mw_pf_start: an instance started by this harness is still running in $dir"
		return 1
	fi
	mkdir -p "$etc" "$dir/queue"
	chown root:root "$dir" "$etc" "$dir/queue"
	chmod 0755 "$dir" "$etc" "$dir/queue"
	[[ -n $milter ]] && milter=$(_mw_pf_milter_spec "$milter")
	_mw_pf_main_cf "$dir" "$smtp_port" "$sink_port" "$milter" >"$etc/main.cf"
	_mw_pf_master_cf "$smtp_port" >"$etc/master.cf"
	chmod 0644 "$etc/main.cf" "$etc/master.cf"
	if [[ $# -gt 0 ]]; then
		postconf -c "$etc" -e "$@"
	fi
	_mw_pf_backdate "$etc"
	: >"$dir/maillog"
	local t0
	t0=$(mw_now_ms)
	# `postfix start` runs post-install create-missing (queue subdirectories, owners,
	# modes), the integrity checks, then `master -w`, which returns once the master is
	# initialized. Bounded in case something hangs.
	if ! timeout 60 postfix -c "$etc" start >"$dir/postfix-start.log" 2>&1; then
		mw_log "postfix -c $etc start failed:"
		cat "$dir/postfix-start.log" >&2
		tail -n 20 "$dir/maillog" >&2 2>/dev/null
		return 1
	fi
	_mw_register pf "$dir"
	if ! mw_wait_until "$MW_TIMEOUT" test -s "$dir/queue/pid/master.pid"; then
		mw_log "no $dir/queue/pid/master.pid after ${MW_TIMEOUT}s"
		return 1
	fi
	pid=$(tr -d ' \n' <"$dir/queue/pid/master.pid")
	_mw_record_pid "$dir/master.started" "$pid" || {
		mw_log "master pid $pid from master.pid is not running"
		return 1
	}
	if ! mw_wait_until "$MW_TIMEOUT" mw_port_open "$smtp_port"; then
		mw_log "smtpd not accepting on 127.0.0.1:$smtp_port after ${MW_TIMEOUT}s"
		tail -n 20 "$dir/maillog" >&2
		return 1
	fi
	MW_PF_DIR=$dir
	# shellcheck disable=SC2034 # for the calling test
	MW_PF_PORT=$smtp_port
	# shellcheck disable=SC2034 # for the calling test
	MW_PF_MASTER_PID=$pid
	mw_log "postfix master pid $pid, smtpd 127.0.0.1:$smtp_port -> [127.0.0.1]:$sink_port${milter:+, milter $milter} ($(($(mw_now_ms) - t0)) ms)"
	if grep -q . "$dir/postfix-start.log"; then
		sed 's/^/  postfix start: /' "$dir/postfix-start.log" >&2
	fi
}

# mw_pf_stop [DIR]: `postfix -c DIR/etc stop` (bounded), then SIGKILL the recorded
# master PID if it is still that process. The master takes its children (smtpd,
# qmgr, ...) with it: they are in its process group and watch its status pipe.
mw_pf_stop() {
	local dir=${1:-${MW_PF_DIR:-}} pid start
	[[ -n $dir && -d $dir/etc ]] || return 0
	if [[ -f $dir/master.started ]]; then
		read -r pid start <"$dir/master.started"
		if _mw_pid_same "$pid" "$start"; then
			timeout 30 postfix -c "$dir/etc" stop >>"$dir/postfix-stop.log" 2>&1 || true
			mw_wait_until 10 _mw_pf_gone "$pid" "$start" || true
			if _mw_pid_same "$pid" "$start"; then
				mw_log "postfix master $pid survived 'postfix stop'; SIGKILL"
				kill -KILL "$pid" 2>/dev/null || true
			fi
		fi
		rm -f "$dir/master.started"
	fi
	_mw_unregister pf "$dir"
	local left
	left=$(mw_pf_leftovers "$dir")
	if [[ -n $left ]]; then
		mw_log "processes still running in $dir/queue after stop: $left"
	fi
}

_mw_pf_gone() { ! _mw_pid_same "$1" "$2"; }

# mw_pf_leftovers DIR: prints PIDs of processes whose working directory is the
# instance's queue directory (every Postfix daemon chdirs there). For diagnostics.
mw_pf_leftovers() {
	local q p out=""
	q=$(readlink -f "$1/queue")
	for p in /proc/[0-9]*; do
		if [[ $(readlink "$p/cwd" 2>/dev/null) == "$q" ]]; then
			out+="${p#/proc/} "
		fi
	done
	printf '%s' "${out% }"
}

# mw_pf_flush [DIR]: ask the instance to retry all deferred mail now.
mw_pf_flush() {
	local dir=${1:-$MW_PF_DIR}
	timeout 30 postqueue -c "$dir/etc" -f
}

# mw_pf_queue_count [DIR]: number of messages in the instance's queue.
mw_pf_queue_count() {
	local dir=${1:-$MW_PF_DIR}
	timeout 30 postqueue -c "$dir/etc" -j | grep -c . || true
}

# mw_pf_postconf DIR NAME=VALUE...: change main.cf and reload the instance.
mw_pf_postconf() {
	local dir=$1
	shift
	postconf -c "$dir/etc" -e "$@"
	_mw_pf_backdate "$dir/etc"
	timeout 30 postfix -c "$dir/etc" reload >>"$dir/postfix-reload.log" 2>&1
}

# mw_pf_wait_log DIR EXTENDED_REGEX TIMEOUT: waits until DIR/maillog has a matching line.
mw_pf_wait_log() {
	if mw_wait_until "$3" grep -q -E -e "$2" "$1/maillog"; then
		return 0
	fi
	mw_log "no line matching /$2/ in $1/maillog after ${3}s"
	return 1
}

# ---------------------------------------------------------------------------------
# Sending: swaks, loopback only

# mw_swaks SMTP_PORT [--data FILE] [swaks options...]
#   Runs swaks against 127.0.0.1:SMTP_PORT. Defaults: --helo client.test.example,
#   --from sender@origin.test.example, --to rcpt@dest.test.example (each overridable).
#   --data FILE sends FILE byte for byte: FILE must be in wire form (CRLF line ends,
#   see mw_msgtool.py crlf); it is dot-stuffed into FILE.wire and sent with
#   --no-data-fixup, because swaks otherwise rewrites DATA (replaces %DATE%-style
#   tokens and literal "\n", drops a leading "From " line, rebuilds the header).
#   Options that could send elsewhere (--server, --socket, --pipe, --local-interface,
#   --port, proxies) are refused, ~/.swaksrc and SWAKS_OPT_* are ignored, and
#   --server 127.0.0.1:PORT comes last so it wins anyway.
mw_swaks() {
	local port=$1
	shift
	if [[ ! $port =~ ^[0-9]+$ ]]; then
		mw_log "mw_swaks: first argument must be the SMTP port, got '$port'"
		return 2
	fi
	local -a args=(--config --helo client.test.example --from sender@origin.test.example)
	local have_to="" arg
	while [[ $# -gt 0 ]]; do
		arg=$1
		case $arg in
		--data | -d)
			[[ $# -ge 2 ]] || {
				mw_log "mw_swaks: --data needs a file"
				return 2
			}
			"$MW_PYTHON" "$MW_INTEG_DIR/mw_msgtool.py" wire "$2" "$2.wire" || return 2
			args+=(--no-data-fixup --data "@$2.wire")
			shift 2
			continue
			;;
		--data=*)
			set -- --data "${arg#--data=}" "${@:2}"
			continue
			;;
		--to | -t | --to=*) have_to=1 ;;
		-s | --server* | --socket* | --pipe* | -p | --port* | -li | --local-interface* | --proxy* | --config* | -[46])
			mw_log "mw_swaks: $arg is not allowed (loopback only, no config files)"
			return 2
			;;
		esac
		args+=("$arg")
		shift
	done
	[[ -n $have_to ]] || args+=(--to rcpt@dest.test.example)
	args+=(--suppress-data --timeout "${MW_SWAKS_TIMEOUT:-120}" --server "127.0.0.1:$port")
	(
		while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^SWAKS_OPT_' || true)
		timeout "$((${MW_SWAKS_TIMEOUT:-120} + 30))" swaks "${args[@]}"
	)
}

# ---------------------------------------------------------------------------------
# mailwarden as the milter (needs the binary; MW_BIN)

mw_bin() { printf '%s\n' "${MW_BIN:-$MW_REPO_DIR/mailwarden}"; }

# mw_milter_config FILE SOCKET [AUTHSERV_ID [RULES_DIR]]: writes a minimal mailwarden
# config that listens on SOCKET (libmilter form: unix:/path or inet:PORT@127.0.0.1) and
# logs to stderr. It loads no rules unless RULES_DIR is given (then only that folder).
# Tests append their own sections (not rules:, which is already here: a repeated key is
# a configuration error).
mw_milter_config() {
	local file=$1 socket=$2 authserv=${3:-mx.test.example} rules_dir=${4:-}
	local rules="[]"
	[[ -z $rules_dir ]] || rules="[\"$rules_dir\"]"
	cat >"$file" <<EOF
milter:
  socket: "$socket"
  user: $MW_MILTER_USER
authserv_id: $authserv
log:
  target: stderr
  level: info
# These tests are about the milter pipeline and ask no DNS; SPF, DKIM, DMARC, iprev and the
# rules have their own tests (the rules: a machine with /etc/mailwarden/rules installed
# must not change these tests' exact header blocks).
spf:
  enabled: false
dkim:
  enabled: false
dmarc:
  enabled: false
# ARC has its own tests (arc_test.sh, arc_seal_test.sh): on, it writes arc=none.
arc:
  enabled: false
reputation:
  iprev:
    enabled: false
# No rules either (the default is /etc/mailwarden/rules): whatever a machine has
# installed there would change these tests' exact header expectations; rules_test.sh
# passes the folder it tests.
rules:
  directories: $rules
EOF
}

# _mw_config_socket CONFIG: the milter.socket value of a config written as above.
_mw_config_socket() {
	sed -n -E 's/^[[:space:]]+socket:[[:space:]]*"?([^"]*)"?[[:space:]]*$/\1/p' "$1" | head -n 1
}

_mw_milter_ready() {
	local pidfile=$1 socket=$2 pid start
	read -r pid start <"$pidfile"
	if ! _mw_pid_same "$pid" "$start"; then
		return 2
	fi
	case $socket in
	unix:* | local:*) mw_unix_socket_open "${socket#*:}" ;;
	inet:*@*)
		local rest=${socket#inet:}
		mw_port_open "${rest%%@*}"
		;;
	*) return 1 ;;
	esac
}

# The user mailwarden drops to when a test starts it as root, as production does
# (milter.user): the Debian package's system user. Its group owns the socket (mode 0660)
# and the MTA's user is a member, as the package's postinst arranges.
MW_MILTER_USER=${MW_MILTER_USER:-mailwarden}

# mw_milter_account: the system user and group MW_MILTER_USER exist and `postfix` is in
# that group (what the package's postinst does; idempotent). A test that puts a socket in
# a folder gives the folder to this user (mw_milter_socket_dir).
mw_milter_account() {
	if ! getent passwd "$MW_MILTER_USER" >/dev/null; then
		adduser --system --group --home /nonexistent --no-create-home --quiet "$MW_MILTER_USER" ||
			useradd --system --user-group --home-dir /nonexistent --shell /usr/sbin/nologin "$MW_MILTER_USER" ||
			return 1
	fi
	if getent passwd postfix >/dev/null && ! id -nG postfix | tr ' ' '\n' | grep -qx "$MW_MILTER_USER"; then
		usermod -a -G "$MW_MILTER_USER" postfix || return 1
	fi
}

# mw_milter_socket_dir DIR: DIR exists, belongs to MW_MILTER_USER (mode 0750, so only
# its group — the MTA — reaches the socket), as /var/spool/postfix/mailwarden does.
mw_milter_socket_dir() {
	mw_milter_account || return 1
	install -d -o "$MW_MILTER_USER" -g "$MW_MILTER_USER" -m 0750 "$1"
}

# mw_milter_start DIR CONFIG [SOCKET]: starts `mailwarden run -c CONFIG` in the
# background (stderr and stdout to DIR/milter.log) and waits until SOCKET accepts
# connections (default: milter.socket from CONFIG). As root it drops to milter.user
# (MW_MILTER_USER in configs written by mw_milter_config): DIR is given to that user
# (mw_milter_socket_dir) and the socket keeps the mode mailwarden gives it (0660,
# group MW_MILTER_USER, of which postfix is a member). Sets MW_MILTER_PID.
mw_milter_start() {
	local dir=$1 config=$2 socket=${3:-} bin pid rc
	bin=$(mw_bin)
	if [[ ! -x $bin ]]; then
		mw_log "mailwarden binary not found: $bin (set MW_BIN)"
		return 1
	fi
	[[ -n $socket ]] || socket=$(_mw_config_socket "$config")
	case $socket in
	unix:/* | local:/* | inet:*@127.0.0.1) ;;
	*)
		mw_log "mw_milter_start: socket '$socket' is not unix:/abs/path or inet:PORT@127.0.0.1"
		return 1
		;;
	esac
	mw_milter_socket_dir "$dir" || {
		mw_log "mw_milter_start: cannot prepare $dir for user $MW_MILTER_USER"
		return 1
	}
	"$bin" run -c "$config" </dev/null >>"$dir/milter.log" 2>&1 &
	pid=$!
	_mw_record_pid "$dir/milter.pid" "$pid" || {
		mw_log "mailwarden exited at once:"
		cat "$dir/milter.log" >&2
		return 1
	}
	_mw_register proc "$dir/milter.pid"
	local timeout=${MW_MILTER_TIMEOUT:-60} # rule databases may compile at start-up
	local deadline=$((SECONDS + timeout))
	while :; do
		rc=0
		_mw_milter_ready "$dir/milter.pid" "$socket" || rc=$?
		[[ $rc -eq 0 ]] && break
		if [[ $rc -eq 2 ]]; then
			wait "$pid" && rc=0 || rc=$?
			mw_log "mailwarden exited with status $rc before listening; its log:"
			tail -n 40 "$dir/milter.log" >&2
			rm -f "$dir/milter.pid"
			_mw_unregister proc "$dir/milter.pid"
			return 1
		fi
		if ((SECONDS >= deadline)); then
			mw_log "mailwarden not listening on $socket after ${timeout}s; its log:"
			tail -n 40 "$dir/milter.log" >&2
			return 1
		fi
		sleep 0.1
	done
	MW_MILTER_DIR=$dir
	# shellcheck disable=SC2034 # for the calling test
	MW_MILTER_PID=$pid
	mw_log "mailwarden pid $pid on $socket"
}

# mw_milter_stop [DIR] [GRACE]: SIGTERM (mailwarden finishes open messages and exits),
# SIGKILL after GRACE seconds (default 15).
mw_milter_stop() {
	local dir=${1:-${MW_MILTER_DIR:-}}
	[[ -n $dir ]] || return 0
	_mw_stop_pidfile "$dir/milter.pid" "${2:-15}"
	_mw_unregister proc "$dir/milter.pid"
}
