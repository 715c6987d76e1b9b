# shellcheck shell=bash
# bench/lib-bench.sh -- shared by bench/run-milter-bench.sh and bench/run-postfix-bench.sh:
# the workload messages, the DNS zone they need, mailwarden's bench configuration, the
# DNS namespace with nsd, and the reference milter. Source after
# tests/integration/lib.sh (it provides PID tracking, cleanup, work dirs and the
# private Postfix); everything started here is recorded there and stopped by PID.

MW_BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The envelope every workload uses. The SMTP client is 192.0.2.10 for milter_load (its
# default, tests/tools/milter_protocol.h SmtpClient) and 127.0.0.1 through Postfix; the
# zone authorises both (bench_zone).
BENCH_DOMAIN=bench.test.example
BENCH_FROM=sender@$BENCH_DOMAIN
BENCH_RCPT=user@mx.test.example
BENCH_HELO=mail.$BENCH_DOMAIN

# bench_zone FILE: the zone for BENCH_DOMAIN, an RFC 1035 master file that both
# dns.zone_files and nsd load. SPF takes the realistic path: an include, then mx, then
# a, and the clients match inside the include: MAIL FROM costs 2 lookups (TXT, TXT), the
# HELO identity mail.BENCH_DOMAIN 2 more (TXT, A for its "a"). The DMARC record is
# p=reject with relaxed alignment (the signed workloads pass it); the DKIM key records
# are appended by bench_sign_messages.
bench_zone() {
	cat >"$1" <<EOF
\$ORIGIN $BENCH_DOMAIN.
\$TTL 3600
@       IN SOA ns.$BENCH_DOMAIN. hostmaster.$BENCH_DOMAIN. 1 3600 600 86400 3600
@       IN NS  ns.$BENCH_DOMAIN.
ns      IN A   127.0.0.1
@       IN MX  10 mx1.$BENCH_DOMAIN.
mx1     IN A   198.51.100.25
@       IN A   198.51.100.80
@       IN TXT "v=spf1 include:_spf.$BENCH_DOMAIN mx a -all"
_spf    IN TXT "v=spf1 ip4:198.51.100.0/24 ip4:192.0.2.0/24 ip4:127.0.0.0/8 -all"
mail    IN A   192.0.2.10
mail    IN TXT "v=spf1 a ip4:127.0.0.0/8 -all"
_dmarc  IN TXT "v=DMARC1; p=reject; adkim=r; aspf=r"
EOF
}

# bench_make_messages DIR: writes the workloads, in wire form (CRLF), and prints their
# names. Deterministic (fixed seeds): the same bytes on every run.
#   4k.eml    ~4 KB multipart/alternative (text + HTML), the issue's "4 KB multipart"
#   100k.eml  ~100 KB: a short text part and a base64 attachment
#   10m.eml   ~10 MB: the same shape, a 7.6 MB attachment
bench_make_messages() {
	local dir=$1 i
	mkdir -p "$dir"
	{
		printf 'Return-Path: <%s>\n' "$BENCH_FROM"
		printf 'Received: from %s (%s [192.0.2.10])\n\tby mx.test.example (Postfix) with ESMTPS id 4ABCDE00001\n\tfor <%s>; Mon, 01 Jan 2024 00:00:00 +0000 (UTC)\n' "$BENCH_HELO" "$BENCH_HELO" "$BENCH_RCPT"
		printf 'From: Bench Sender <%s>\n' "$BENCH_FROM"
		printf 'To: Bench User <%s>\n' "$BENCH_RCPT"
		printf 'Subject: Quarterly report: figures for review\n'
		printf 'Date: Mon, 01 Jan 2024 00:00:00 +0000\n'
		printf 'Message-ID: <bench-4k@%s>\n' "$BENCH_DOMAIN"
		printf 'MIME-Version: 1.0\n'
		printf 'Content-Type: multipart/alternative; boundary="bench-alt-1"\n'
		printf '\n'
		printf 'This is a multi-part message in MIME format.\n'
		printf -- '--bench-alt-1\n'
		printf 'Content-Type: text/plain; charset=utf-8\n'
		printf 'Content-Transfer-Encoding: quoted-printable\n\n'
		for i in $(seq 1 14); do
			printf 'Line %02d of the plain text part: revenue, costs and the outlook for =\nthe next quarter, see https://www.%s/report/%d for details.\n' "$i" "$BENCH_DOMAIN" "$i"
		done
		printf -- '--bench-alt-1\n'
		printf 'Content-Type: text/html; charset=utf-8\n'
		printf 'Content-Transfer-Encoding: quoted-printable\n\n'
		printf '<html><body>\n'
		for i in $(seq 1 11); do
			printf '<p style=3D"margin:0">Line %02d: revenue, costs and the <a href=3D"https://w=\nww.%s/report/%d">outlook</a>.</p>\n' "$i" "$BENCH_DOMAIN" "$i"
		done
		printf '</body></html>\n'
		printf -- '--bench-alt-1--\n'
	} >"$dir/4k.lf"
	"$MW_PYTHON" "$MW_INTEG_DIR/mw_msgtool.py" crlf "$dir/4k.lf" "$dir/4k.eml"
	rm -f "$dir/4k.lf"
	"$MW_PYTHON" "$MW_INTEG_DIR/mw_msgtool.py" attachment "$dir/100k.eml" --seed 100 \
		--bytes 73000 --from "Bench Sender <$BENCH_FROM>" --to "$BENCH_RCPT" \
		--subject "100 KB with an attachment"
	"$MW_PYTHON" "$MW_INTEG_DIR/mw_msgtool.py" attachment "$dir/10m.eml" --seed 10 \
		--bytes 7600000 --from "Bench Sender <$BENCH_FROM>" --to "$BENCH_RCPT" \
		--subject "10 MB with an attachment"
}

# bench_sign_messages DIR ZONE: writes DIR/4k-rsa2048.eml and DIR/4k-ed25519.eml, 4k.eml
# signed (relaxed/relaxed, d=BENCH_DOMAIN) by tests/tools/dkim_sign with the committed
# test keys tests/keys/{rsa2048,ed25519}.pem, and appends their key records (copied from
# tests/keys/keys.zone under the selectors bench-rsa2048 and bench-ed25519) to ZONE. The
# signer is MW_DKIM_SIGN or tests/tools/dkim_sign in the build dir (`make check` builds
# it); without it the run stops: the issue's 4 KB workloads are the signed ones.
bench_sign_messages() {
	local dir=$1 zone=$2 signer=${MW_DKIM_SIGN:-${MW_BUILD_DIR:-.}/tests/tools/dkim_sign}
	local keys=$MW_REPO_DIR/tests/keys alg sel
	if [[ ! -x $signer ]]; then
		mw_log "no DKIM signer at $signer: run 'make tests/tools/dkim_sign' in the build dir"
		return 1
	fi
	for alg in rsa2048 ed25519; do
		sel=bench-$alg
		"$signer" --key "$keys/$alg.pem" --domain "$BENCH_DOMAIN" --selector "$sel" \
			--algorithm "$([[ $alg == ed25519 ]] && echo ed25519 || echo rsa-sha256)" \
			<"$dir/4k.eml" >"$dir/4k-$alg.eml" || return 1
		# The record spans lines inside ( ); rename its owner, keep the rest.
		sed -n "/^$alg\._domainkey/,/)/p" "$keys/keys.zone" |
			sed "1s/^$alg\._domainkey/$sel._domainkey/" >>"$zone"
		grep -q "^$sel._domainkey" "$zone" || {
			mw_log "no $alg key record in $keys/keys.zone"
			return 1
		}
		BENCH_SIGNED+=("4k-$alg")
	done
}
BENCH_SIGNED=()

# bench_rules_dirs SPEC DIR: the rules directories for SPEC, as the inside of a YAML
# list, into BENCH_RULES_DIRS. SPEC: none | shipped (the repo's rules/) | shipped+N (those
# and N rules generated by bench/rules_bench, MW_RULES_BENCH_WRITE=N: the shapes of the
# rules kernel benchmark, 0.1 each, most never hit) | N (only the generated ones). DIR
# holds the generated file (DIR/gen-N/generated.yaml, written once per N).
bench_rules_dirs() {
	local spec=$1 dir=$2 n="" list=""
	case $spec in
	none) ;;
	shipped) list="\"$MW_REPO_DIR/rules\"" ;;
	shipped+[0-9]*) list="\"$MW_REPO_DIR/rules\"" n=${spec#shipped+} ;;
	[0-9]*) n=$spec ;;
	*)
		mw_log "rules spec $spec: none, shipped, shipped+N or N"
		return 1
		;;
	esac
	if [[ -n $n ]]; then
		if [[ ! -s $dir/gen-$n/generated.yaml ]]; then
			mkdir -p "$dir/gen-$n"
			MW_RULES_BENCH_WRITE=$n "${MW_BUILD_DIR:-.}/bench/rules_bench" >"$dir/gen-$n/generated.yaml" || {
				mw_log "bench/rules_bench could not write $n rules (run 'make bench')"
				return 1
			}
		fi
		list="${list:+$list, }\"$dir/gen-$n\""
	fi
	BENCH_RULES_DIRS=$list
}
BENCH_RULES_DIRS=""

# bench_mw_config FILE SOCKET DNS_MODE ZONE [NSD_PORT]: mailwarden's bench config. Every
# check is on (BENCH_SPF, BENCH_DKIM, BENCH_DMARC=false turn one off, for
# run-checks-ladder.sh): SPF for MAIL FROM and HELO, DKIM, DMARC (monitor, the shipped default),
# MIME parsing, header guard, the rules in BENCH_RULES_DIRS (bench_rules_dirs) with their
# compiled databases cached in BENCH_RULES_CACHE, verdict headers; log level info to a
# file as production logs one line per message. DNS_MODE zone: dns.zone_files (no
# resolver at all); nsd: libunbound asking nsd at 127.0.0.1@NSD_PORT (inside the
# namespace the caller made).
bench_mw_config() {
	local file=$1 socket=$2 mode=$3 zone=$4 port=${5:-53}
	{
		cat <<EOF
milter:
  socket: "$socket"
  user: ""
  socket_mode: "0666"
  drain_timeout: 5
authserv_id: mx.test.example
failure_policy: tempfail
log:
  target: stderr
  level: ${MW_BENCH_LOG_LEVEL:-info}
spf:
  enabled: ${BENCH_SPF:-true}
  check_helo: true
  reject_on_fail: false
dkim:
  enabled: ${BENCH_DKIM:-true}
dmarc:
  enabled: ${BENCH_DMARC:-true}
  mode: monitor
rules:
  directories: [$BENCH_RULES_DIRS]
  cache_dir: "${BENCH_RULES_CACHE:-}"
EOF
		case $mode in
		zone)
			cat <<EOF
dns:
  zone_files: ["$zone"]
EOF
			;;
		nsd)
			cat <<EOF
dns:
  resolvers: ["127.0.0.1@$port"]
  timeout_ms: 2000
  retries: 1
  budget_ms: 5000
EOF
			;;
		*)
			mw_log "bench_mw_config: unknown DNS mode $mode"
			return 1
			;;
		esac
	} >"$file"
}

# ---------------------------------------------------------------------------------
# A network namespace with nsd (DNS mode "nsd"), as tests/integration/spf_test.sh
# does: its only interface is its own lo, so no query can leave it.

BENCH_NS=""
BENCH_NSD_PORT=53

# bench_ns_cleanup: deletes the namespace (after lib.sh stopped what ran in it).
bench_ns_cleanup() {
	if [[ -n $BENCH_NS ]]; then
		ip netns del "$BENCH_NS" 2>/dev/null || mw_log "could not delete namespace $BENCH_NS"
		BENCH_NS=""
		BENCH_NS_EXEC=()
	fi
}

# BENCH_NS_EXEC: the command prefix that runs a program inside the namespace (empty
# without one). A prefix, not a shell function, so that `"${BENCH_NS_EXEC[@]}" prog &`
# leaves the program's own PID in $! (`ip netns exec` execs, it does not fork).
BENCH_NS_EXEC=()

# bench_in_ns CMD...: CMD inside the namespace if there is one, else as is (foreground).
bench_in_ns() {
	"${BENCH_NS_EXEC[@]}" "$@"
}

# bench_nsd_start DIR ZONE: namespace mw-bench-PID, lo up, nsd -d on 127.0.0.1:53
# serving ZONE, recorded for lib.sh's cleanup; waits until mailwarden (BENCH_MW) gets
# its SPF answers from it. BENCH_NSD_SERVER_EXTRA (default empty): further lines for
# nsd.conf's server: section, each "  key: value\n" (run-peers-bench.sh turns off
# response rate limiting: resolvers without a cache ask hundreds of times a second).
bench_nsd_start() {
	local dir=$1 zone=$2 pid
	local nsd=${MW_NSD:-/usr/sbin/nsd}
	[[ -x $nsd ]] || {
		mw_log "nsd not installed ($nsd)"
		return 1
	}
	BENCH_NS=mw-bench-$$
	ip netns add "$BENCH_NS" || {
		BENCH_NS=""
		return 1
	}
	ip netns exec "$BENCH_NS" ip link set lo up
	BENCH_NS_EXEC=(ip netns exec "$BENCH_NS")
	mkdir -p "$dir"
	cat >"$dir/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.1@$BENCH_NSD_PORT
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "$dir"
  pidfile: "$dir/nsd-own.pid"
  database: ""
  xfrdfile: "$dir/xfrd.state"
  zonelistfile: "$dir/zone.list"
  xfrdir: "$dir"
  logfile: "$dir/nsd.log"
  server-count: 1
  verbosity: 1
${BENCH_NSD_SERVER_EXTRA:-}remote-control:
  control-enable: no
zone:
  name: $BENCH_DOMAIN
  zonefile: "$zone"
EOF
	ip netns exec "$BENCH_NS" "$nsd" -d -c "$dir/nsd.conf" </dev/null >>"$dir/nsd.out" 2>&1 &
	pid=$!
	_mw_record_pid "$dir/nsd.pid" "$pid" || {
		mw_log "nsd exited at once: $(tail -n 5 "$dir/nsd.out" "$dir/nsd.log" 2>/dev/null)"
		return 1
	}
	_mw_register proc "$dir/nsd.pid"
	bench_mw_config "$dir/probe.yaml" "unix:$dir/unused.sock" nsd "$zone" "$BENCH_NSD_PORT"
	printf 'From: <%s>\r\nTo: <%s>\r\nSubject: probe\r\n\r\nprobe\r\n' "$BENCH_FROM" "$BENCH_RCPT" \
		>"$dir/probe.eml"
	if ! mw_wait_until 20 _bench_dns_probe "$dir"; then
		mw_log "nsd not answering after 10 s: $(tail -n 5 "$dir/nsd.log" 2>/dev/null)"
		return 1
	fi
	mw_log "nsd pid $pid in namespace $BENCH_NS on 127.0.0.1:$BENCH_NSD_PORT"
}

# _bench_dns_probe DIR: true once mailwarden itself, inside the namespace and asking
# nsd through libunbound (the path the nsd mode measures), gets spf=pass for the bench
# sender: `mailwarden check` with the nsd-mode bench config on DIR/4k-probe.eml.
_bench_dns_probe() {
	local dir=$1
	"${BENCH_NS_EXEC[@]}" "$BENCH_MW" check -c "$dir/probe.yaml" --client-ip 192.0.2.10 \
		--helo "$BENCH_HELO" --mail-from "$BENCH_FROM" --rcpt "$BENCH_RCPT" --json \
		"$dir/probe.eml" 2>/dev/null | tr -d ' \n' | grep -q '"spf":{"result":"pass"'
}

# ---------------------------------------------------------------------------------
# The reference milter

# bench_ref_start DIR SOCKET [ARGS...]: bench/ref_milter on SOCKET (in the namespace if
# any) with extra ARGS (-N: stock Nagle), recorded for cleanup; waits until it accepts.
# Sets BENCH_REF_PID.
bench_ref_start() {
	local dir=$1 socket=$2 pid
	shift 2
	mkdir -p "$dir"
	case $socket in unix:*) rm -f "${socket#unix:}" ;; esac
	"${BENCH_NS_EXEC[@]}" "$BENCH_REF" -p "$socket" "$@" </dev/null >>"$dir/ref.log" 2>&1 &
	pid=$!
	_mw_record_pid "$dir/ref.pid" "$pid" || {
		mw_log "ref_milter exited at once: $(cat "$dir/ref.log")"
		return 1
	}
	_mw_register proc "$dir/ref.pid"
	if ! mw_wait_until 20 _bench_listening "$socket"; then
		mw_log "ref_milter not listening on $socket: $(tail -n 5 "$dir/ref.log")"
		return 1
	fi
	case $socket in unix:*) chmod 0666 "${socket#unix:}" ;; esac
	BENCH_REF_PID=$pid
}

bench_ref_stop() {
	_mw_stop_pidfile "$1/ref.pid" 10
	_mw_unregister proc "$1/ref.pid"
}

# _bench_listening SOCKET: something accepts on SOCKET (unix:/path or inet:PORT@127.0.0.1),
# looked at from inside the namespace if there is one.
_bench_listening() {
	case $1 in
	unix:*) mw_unix_socket_open "${1#unix:}" ;;
	inet:*@*)
		local rest=${1#inet:}
		bench_in_ns bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "${rest%%@*}" 2>/dev/null
		;;
	*) return 1 ;;
	esac
}

# bench_mw_start DIR CONFIG SOCKET: mailwarden run -c CONFIG (in the namespace if any),
# recorded for cleanup; waits until it accepts. Sets BENCH_MW_PID.
bench_mw_start() {
	local dir=$1 config=$2 socket=$3 pid
	mkdir -p "$dir"
	case $socket in unix:*) rm -f "${socket#unix:}" ;; esac
	"${BENCH_NS_EXEC[@]}" "$BENCH_MW" run -c "$config" </dev/null >>"$dir/milter.log" 2>&1 &
	pid=$!
	_mw_record_pid "$dir/milter.pid" "$pid" || {
		mw_log "mailwarden exited at once: $(tail -n 20 "$dir/milter.log")"
		return 1
	}
	_mw_register proc "$dir/milter.pid"
	if ! mw_wait_until "${MW_MILTER_TIMEOUT:-60}" _bench_listening "$socket"; then
		mw_log "mailwarden not listening on $socket: $(tail -n 20 "$dir/milter.log")"
		return 1
	fi
	case $socket in unix:*) chmod 0666 "${socket#unix:}" ;; esac
	BENCH_MW_PID=$pid
}

bench_mw_stop() {
	_mw_stop_pidfile "$1/milter.pid" 15
	_mw_unregister proc "$1/milter.pid"
}

# ---------------------------------------------------------------------------------
# The next hop: smtp-sink, counting

# bench_sink_start DIR: smtp-sink on a free loopback port with running counters (-c) in
# DIR/counters, recorded for cleanup. Sets BENCH_SINK_PORT. smtp-sink stands in for
# lib.sh's capture server here: it stores nothing, so it is never the bottleneck.
bench_sink_start() {
	local dir=$1 pid
	mkdir -p "$dir"
	mw_free_port BENCH_SINK_PORT
	smtp-sink -u postfix -c -m 512 "127.0.0.1:$BENCH_SINK_PORT" 512 </dev/null \
		>"$dir/counters" 2>"$dir/err" &
	pid=$!
	_mw_record_pid "$dir/sink.pid" "$pid" || {
		mw_log "smtp-sink exited: $(cat "$dir/err")"
		return 1
	}
	_mw_register proc "$dir/sink.pid"
	BENCH_SINK_DIR=$dir
	mw_wait_until 10 mw_port_open "$BENCH_SINK_PORT" || {
		mw_log "smtp-sink not listening"
		return 1
	}
}

# bench_sink_count: messages the sink has received (its last "mesg=N" counter; it
# prints counters only on events, so an empty file is 0).
bench_sink_count() {
	local last
	last=$(tail -c 200 "$BENCH_SINK_DIR/counters" | tr '\r' '\n' | grep -o 'mesg=[0-9]*' | tail -n 1)
	last=${last#mesg=}
	printf '%s\n' "${last:-0}"
}
bench_sink_at_least() { (($(bench_sink_count) >= $1)); }

# bench_cpu_ticks PID / bench_hwm_kib PID / bench_rss_kib PID: /proc readings of a whole
# process (0 without a PID). CPU = utime + stime in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the last ")" because comm may contain anything).
bench_cpu_ticks() {
	[[ -n $1 ]] || { echo 0; return; }
	local rest
	rest=$(cat "/proc/$1/stat")
	rest=${rest##*) }
	local -a f
	read -r -a f <<<"$rest"
	echo $((f[11] + f[12]))
}
bench_hwm_kib() {
	[[ -n $1 ]] || { echo 0; return; }
	sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status"
}
bench_rss_kib() {
	[[ -n $1 ]] || { echo 0; return; }
	sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status"
}

# bench_machine FILE: the machine and versions, for doc/PERFORMANCE.md.
bench_machine() {
	{
		printf 'date: %s\n' "$(date -u +%FT%TZ)"
		printf 'cpu: %s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
		printf 'nproc: %s\n' "$(nproc)"
		printf 'loadavg: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
		printf 'kernel: %s\n' "$(uname -r)"
		printf 'compiler: %s\n' "$(g++ --version | head -n 1)"
		printf 'libmilter: %s\n' "$(dpkg-query -W -f '${Version}' libmilter1.0.1 2>/dev/null || echo '?')"
		printf 'postfix: %s\n' "$(postconf -d -h mail_version 2>/dev/null || echo '?')"
		printf 'nsd: %s\n' "$(dpkg-query -W -f '${Version}' nsd 2>/dev/null || echo '?')"
		printf 'mailwarden: %s\n' "$(git -C "$MW_REPO_DIR" describe --always --dirty 2>/dev/null || echo '?')"
	} >"$1"
}

# ---------------------------------------------------------------------------------
# The peers (bench/run-peers-bench.sh): install, configure, measure process trees

# bench_peers_install PACKAGE...: apt-get installs the packages not yet installed, with
# service starts denied as Debian's tooling does (a policy-rc.d that exits 101, put in
# place only if there is none, removed afterwards); any process of the packages' daemons
# (opendkim, opendmarc, rspamd) that appeared during the install anyway is stopped by PID.
bench_peers_install() {
	local missing=() p before pid made_policy="" log
	for p in "$@"; do
		dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	before=$(pgrep -x 'opendkim|opendmarc|rspamd' || true)
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\n# mailwarden bench: no service starts during this install\nexit 101\n' \
			>/usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	log=$(mktemp /tmp/mw-peers-apt.XXXXXX)
	mw_log "installing ${missing[*]} (apt-get)"
	if ! DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y --no-install-recommends \
		"${missing[@]}" >"$log" 2>&1; then
		mw_log "apt-get install failed: $(tail -n 5 "$log")"
		[[ -n $made_policy ]] && rm -f /usr/sbin/policy-rc.d
		rm -f "$log"
		return 1
	fi
	[[ -n $made_policy ]] && rm -f /usr/sbin/policy-rc.d
	rm -f "$log"
	for pid in $(pgrep -x 'opendkim|opendmarc|rspamd' || true); do
		grep -qx "$pid" <<<"$before" && continue
		mw_log "stopping pid $pid started by a package's postinst"
		kill -TERM "$pid" 2>/dev/null || true
	done
}

# bench_ns_resolv_conf: /etc/netns/BENCH_NS/resolv.conf naming the namespace's nsd, so
# that programs using the stub resolver (opendmarc: libresolv and libspf2) ask it; `ip
# netns exec` bind-mounts it over /etc/resolv.conf. Removed by bench_ns_resolv_cleanup.
BENCH_NS_RESOLV_DIR=""
BENCH_NS_RESOLV_PARENT=""
bench_ns_resolv_conf() {
	[[ -n $BENCH_NS ]] || { mw_log "bench_ns_resolv_conf: no namespace"; return 1; }
	[[ -d /etc/netns ]] || BENCH_NS_RESOLV_PARENT=1
	BENCH_NS_RESOLV_DIR=/etc/netns/$BENCH_NS
	mkdir -p "$BENCH_NS_RESOLV_DIR"
	printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:2\n' >"$BENCH_NS_RESOLV_DIR/resolv.conf"
}
bench_ns_resolv_cleanup() {
	[[ -n $BENCH_NS_RESOLV_DIR ]] && rm -rf -- "$BENCH_NS_RESOLV_DIR"
	# /etc/netns itself only if we made it and nobody else put anything there
	[[ -n $BENCH_NS_RESOLV_PARENT ]] && rmdir /etc/netns 2>/dev/null
	BENCH_NS_RESOLV_DIR=""
	return 0
}

# bench_opendkim_config FILE SOCKET_PATH: opendkim verifying only, keys through its
# libunbound forwarding to 127.0.0.1 (the namespace's nsd), an A-R field on every message.
bench_opendkim_config() {
	cat >"$1" <<EOF
Mode v
Socket local:$2
UMask 000
AuthservID mx.test.example
Nameservers 127.0.0.1
Syslog no
AlwaysAddARHeader yes
SoftwareHeader no
EOF
}

# bench_opendmarc_config FILE SOCKET_PATH: opendmarc checking SPF itself (libspf2) and
# DMARC, no history file, no rejection; DNS through the namespace's resolv.conf.
bench_opendmarc_config() {
	cat >"$1" <<EOF
Socket local:$2
UMask 000
AuthservID mx.test.example
TrustedAuthservIDs mx.test.example
SPFSelfValidate true
SPFIgnoreResults true
RejectFailures false
Syslog false
EOF
}

# bench_tree_pids PID: PID and all its descendants (rspamd: the main process and its
# workers), one per line.
bench_tree_pids() {
	local pid=$1 child
	[[ -d /proc/$pid ]] || return 0
	echo "$pid"
	for child in $(pgrep -P "$pid" || true); do
		bench_tree_pids "$child"
	done
}

# bench_tree_cpu_ticks PID: utime + stime of PID and its descendants, in clock ticks.
bench_tree_cpu_ticks() {
	local sum=0 p t
	for p in $(bench_tree_pids "$1"); do
		t=$(bench_cpu_ticks "$p" 2>/dev/null) || continue
		sum=$((sum + t))
	done
	echo "$sum"
}

# bench_peer_start NAME DIR SOCKET_PATH WAIT_S CMD...: CMD in the namespace (if any),
# output to DIR/NAME.log, recorded for cleanup (DIR/NAME.pid); waits up to WAIT_S for
# the unix socket. Sets BENCH_PEER_PID.
bench_peer_start() {
	local name=$1 dir=$2 sock=$3 wait=$4
	shift 4
	mkdir -p "$dir"
	rm -f "$sock"
	"${BENCH_NS_EXEC[@]}" "$@" </dev/null >>"$dir/$name.log" 2>&1 &
	_mw_record_pid "$dir/$name.pid" "$!" || { mw_log "$name exited: $(tail -n 5 "$dir/$name.log")"; return 1; }
	_mw_register proc "$dir/$name.pid"
	mw_wait_until "$wait" mw_unix_socket_open "$sock" || {
		mw_log "$name not listening on $sock: $(tail -n 5 "$dir/$name.log")"
		return 1
	}
	read -r BENCH_PEER_PID _ <"$dir/$name.pid"
}

# bench_rspamd_start DIR: rspamd with bench/peers/rspamd (copied to DIR/local, plus one
# proxy worker per core), its databases, pid file and log in DIR, milter socket
# DIR/rspamd.sock; in the namespace if any. rspamd compiles its regexps into Hyperscan
# databases (main process and hs_helper) after it starts and scans with PCRE until they
# are loaded, so this waits (at most 600 s) until its processes are idle, two seconds
# without a tick of CPU, for runs that measure the steady state. Sets BENCH_PEER_PID.
bench_rspamd_start() {
	local dir=$1 vars
	mkdir -p "$dir"
	rm -rf "$dir/local"
	cp -r "$MW_BENCH_DIR/peers/rspamd" "$dir/local"
	printf 'count = %s;\n' "$(nproc)" >>"$dir/local/local.d/worker-proxy.inc"
	vars=(--var="LOCAL_CONFDIR=$dir/local" --var="DBDIR=$dir" --var="RUNDIR=$dir" --var="LOGDIR=$dir")
	rspamadm "${vars[@]}" configtest -c "$dir/local/rspamd.conf" >"$dir/configtest.txt" 2>&1 || {
		mw_log "rspamd configtest: $(tail -n 5 "$dir/configtest.txt")"
		return 1
	}
	# -i: run as root (it refuses otherwise); the bench has no user of its own to drop to.
	bench_peer_start rspamd "$dir" "$dir/rspamd.sock" 120 /usr/bin/rspamd -f -i "${vars[@]}" \
		-c "$dir/local/rspamd.conf" || return 1
	local pid=$BENCH_PEER_PID
	_bench_tree_idle() {
		local a b
		a=$(bench_tree_cpu_ticks "$1")
		sleep 2
		b=$(bench_tree_cpu_ticks "$1")
		((b - a <= 1))
	}
	if mw_wait_until 600 _bench_tree_idle "$pid"; then
		mw_log "rspamd: idle after start ($(compgen -G "$dir/*.hs" | wc -l) Hyperscan databases)"
	else
		mw_log "rspamd: still busy 600 s after start (measured as it is; see $dir/rspamd.log)"
	fi
	BENCH_PEER_PID=$pid
}
