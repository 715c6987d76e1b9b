# netns_dns.sh -- sourced by the integration tests that need a real DNS server: a network
# namespace of the test's own with nsd on 127.0.0.1:53 inside it, so no query can leave
# the machine (spf_test.sh, dmarc_test.sh). Source lib.sh first; needs $NSD (nsd binary)
# and, for nsd_config and later, the work directory $W.

# netns_require_bin: the tests of this file run as root (mw_require_root) and need the
# mailwarden binary (MW_BIN, else the build tree's): sets REAL_BIN to its resolved path,
# or exits 77 (SKIP).
netns_require_bin() {
	mw_require_root
	REAL_BIN=$(mw_bin)
	if [[ ! -x $REAL_BIN ]]; then
		echo "SKIP: no mailwarden binary at $REAL_BIN (set MW_BIN)"
		exit 77
	fi
	REAL_BIN=$(readlink -f "$REAL_BIN")
}

# netns_require: exits 77 (SKIP) without nsd ($MW_NSD, default /usr/sbin/nsd; sets NSD),
# swaks, postfix, or a working `ip netns`.
netns_require() {
	NSD=${MW_NSD:-/usr/sbin/nsd}
	if [[ ! -x $NSD ]]; then
		echo "SKIP: nsd not installed ($NSD; apt-get install nsd)"
		exit 77
	fi
	for tool in swaks postfix ip; do
		if ! command -v "$tool" >/dev/null; then
			echo "SKIP: $tool not installed"
			exit 77
		fi
	done
	if ! ip netns list >/dev/null 2>&1; then
		echo "SKIP: ip netns unavailable"
		exit 77
	fi
}

# netns_setup PREFIX: creates namespace PREFIX-PID (NS), brings its lo up, and installs
# the EXIT trap: lib.sh's cleanup (every recorded PID, newest first; work dir), then the
# namespace. Exits 77 (SKIP) when namespaces cannot be made here.
netns_setup() {
	NS=$1-$$
	NS_MADE=""
	trap _netns_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	if ! ip netns add "$NS" 2>/dev/null; then
		echo "SKIP: cannot create a network namespace (ip netns add $NS)"
		exit 77
	fi
	NS_MADE=1
	ip netns exec "$NS" ip link set lo up
}
_netns_cleanup() {
	local rc=$?
	set +e
	(exit "$rc")
	mw_cleanup
	if [[ -n $NS_MADE ]]; then
		ip netns del "$NS" 2>/dev/null || mw_log "could not delete namespace $NS"
		NS_MADE=""
	fi
	exit "$rc"
}

# nsd_config ZONE_NAME ZONE_FILE [ZONE_NAME ZONE_FILE]...: nsd's configuration in W/nsd,
# serving these zones on 127.0.0.1:NSD_PORT (53 unless NSD_PORT is set) inside the
# namespace.
nsd_config() {
	mkdir -p "$W/nsd"
	NSD_PORT=${NSD_PORT:-53}
	cat >"$W/nsd/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.1@$NSD_PORT
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "$W/nsd"
  pidfile: "$W/nsd/nsd-own.pid"
  database: ""
  xfrdfile: "$W/nsd/xfrd.state"
  zonelistfile: "$W/nsd/zone.list"
  xfrdir: "$W/nsd"
  logfile: "$W/nsd/nsd.log"
  server-count: 1
  verbosity: 1
remote-control:
  control-enable: no
EOF
	while [[ $# -ge 2 ]]; do
		printf 'zone:\n  name: %s\n  zonefile: "%s"\n' "$1" "$2" >>"$W/nsd/nsd.conf"
		shift 2
	done
}

# dns_probe NAME: one UDP TXT query to 127.0.0.1:NSD_PORT inside the namespace; true if
# the answer has RCODE NOERROR and at least one answer record.
dns_probe() {
	ip netns exec "$NS" "$MW_PYTHON" - "$1" "$NSD_PORT" <<'EOF'
import socket, struct, sys
name, port = sys.argv[1], int(sys.argv[2])
q = struct.pack(">HHHHHH", 0x4d57, 0x0100, 1, 0, 0, 0)
for label in name.rstrip(".").split("."):
    q += bytes([len(label)]) + label.encode()
q += b"\0" + struct.pack(">HH", 16, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
try:
    s.sendto(q, ("127.0.0.1", port))
    r = s.recv(4096)
except OSError:
    sys.exit(1)
_, flags, _, an, _, _ = struct.unpack(">HHHHHH", r[:12])
sys.exit(0 if (flags & 0xF) == 0 and an > 0 else 1)
EOF
}

# nsd_start PROBE_NAME: nsd -d in the namespace, ready once PROBE_NAME (a TXT name of
# the zone) is answered; records "PID STARTTIME" in W/nsd/nsd.pid.
nsd_start() {
	local pid probe=$1
	ip netns exec "$NS" "$NSD" -d -c "$W/nsd/nsd.conf" </dev/null >>"$W/nsd/nsd.out" 2>&1 &
	pid=$!
	_mw_record_pid "$W/nsd/nsd.pid" "$pid" || {
		mw_log "nsd exited at once: $(tail -n 5 "$W/nsd/nsd.out" "$W/nsd/nsd.log" 2>/dev/null)"
		return 1
	}
	_mw_register proc "$W/nsd/nsd.pid"
	NSD_PID=$pid
	if ! mw_wait_until 10 dns_probe "$probe"; then
		mw_log "nsd not answering after 10 s: $(tail -n 5 "$W/nsd/nsd.log" 2>/dev/null)"
		return 1
	fi
}
nsd_stop() {
	_mw_stop_pidfile "$W/nsd/nsd.pid" 5
	_mw_unregister proc "$W/nsd/nsd.pid"
}

# block FILE: the fields above the first Received: of a captured message, unfolded, one
# per line (LF).
block() {
	"$MW_PYTHON" - "$1" <<'EOF'
import re, sys
data = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
head = data.split(b"\n\n", 1)[0]
out = []
for f in re.split(rb"\n(?![ \t])", head):
    if f.split(b":", 1)[0].strip().lower() == b"received":
        break
    out.append(re.sub(rb"\n[ \t]+", b" ", f))
sys.stdout.buffer.write(b"\n".join(out) + b"\n")
EOF
}
# same_block CHECK_OUT FILE: check's output up to its first empty line equals the fields
# above FILE's first Received: (CRLF -> LF, folding kept).
same_block() {
	"$MW_PYTHON" - "$1" "$2" <<'EOF'
import re, sys
out = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
cut = out.find(b"\n\n")
if cut < 0:
    print("check output has no empty line: %r" % out[:300]); sys.exit(1)
printed = out[:cut + 1]
data = open(sys.argv[2], "rb").read().replace(b"\r\n", b"\n")
head = data.split(b"\n\n", 1)[0] + b"\n"
fields = re.findall(rb"[^\n]*\n(?:[ \t][^\n]*\n)*", head)
blk = b""
for f in fields:
    if f.split(b":", 1)[0].strip().lower() == b"received":
        break
    blk += f
if printed != blk:
    print("check printed %r, the milter added %r" % (printed, blk)); sys.exit(1)
print("%d bytes, %d lines" % (len(printed), printed.count(b"\n")))
EOF
}

# --- the mail side: mailwarden inside the namespace, Postfix and a capture outside ----

# netns_milter_head: the start of mailwarden's configuration in the namespace tests:
# MILTER_SOCKET, the drop to MW_MILTER_USER, AUTHSERV as authserv-id, the failure policy
# tempfail, info logs on stderr. Each test appends its checks and its dns: section.
netns_milter_head() {
	cat <<EOF
milter:
  socket: "$MILTER_SOCKET"
  user: $MW_MILTER_USER
  drain_timeout: 2
authserv_id: $AUTHSERV
failure_policy: tempfail
log:
  target: stderr
  level: info
EOF
}

# netns_mw_wrapper: W/mw-in-ns, a stand-in for MW_BIN that execs `ip netns exec NS
# REAL_BIN`, which execs mailwarden, so mw_milter_start's recorded PID is mailwarden's.
netns_mw_wrapper() {
	printf '#!/bin/sh\nexec ip netns exec "%s" "%s" "$@"\n' "$NS" "$REAL_BIN" >"$W/mw-in-ns"
	chmod 0755 "$W/mw-in-ns"
}

# netns_mkmsg NAME FROM LABEL: W/msgs/NAME.eml (CRLF), a small message From FROM whose
# Subject and Message-ID carry LABEL and NAME.
netns_mkmsg() {
	local label_uc
	label_uc=$(printf '%s' "$3" | tr '[:lower:]' '[:upper:]')
	printf 'From: %s\nTo: rcpt@dest.test.example\nSubject: %s %s\nDate: Mon, 01 Jan 2024 00:00:00 +0000\nMessage-ID: <%s-%s@test.example>\n\n%s test message %s.\n' \
		"$2" "$3" "$1" "$3" "$1" "$label_uc" "$1" >"$W/msgs/$1.lf"
	"$MW_PYTHON" "$MW_INTEG_DIR/mw_msgtool.py" crlf "$W/msgs/$1.lf" "$W/msgs/$1.eml"
}

# netns_stack_start PROBE_NAME: nsd (ready when PROBE_NAME answers), the capture sink,
# mailwarden in the namespace with CONF on MILTER_SOCKET (check "1": the recorded PID is
# mailwarden itself, in NS), and a private Postfix on smtp_port with it as its milter.
# Sets NSD_PID, MLOG and smtp_port.
netns_stack_start() {
	local t0 mw_netns mw_exe
	t0=$(mw_now_ms)
	NSD_PID=""
	if nsd_start "$1"; then
		mw_pass "1 nsd (pid $NSD_PID) answers on 127.0.0.1:$NSD_PORT inside $NS"
	else
		mw_fail "1 nsd starts inside $NS"
		mw_summary || exit 1
	fi
	mw_sink_start "$W/sink" 0
	MW_BIN=$W/mw-in-ns mw_milter_start "$W/milter" "$CONF"
	MLOG=$W/milter/milter.log
	mw_netns=$(ip netns identify "$MW_MILTER_PID" 2>/dev/null || true)
	mw_exe=$(readlink -f "/proc/$MW_MILTER_PID/exe" 2>/dev/null || true)
	if [[ $mw_exe == "$REAL_BIN" && $mw_netns == "$NS" ]]; then
		mw_pass "1 recorded pid $MW_MILTER_PID is mailwarden itself ($mw_exe), in namespace $mw_netns"
	else
		mw_fail "1 recorded pid is mailwarden in $NS" "exe '$mw_exe', netns '$mw_netns'"
	fi
	smtp_port=""
	mw_free_port smtp_port
	mw_pf_start "$W/pf" "$smtp_port" "$MW_SINK_PORT" "$MILTER_SOCKET"
	echo "started nsd, sink, mailwarden and postfix in $(($(mw_now_ms) - t0)) ms"
}

# send NAME: sends W/msgs/NAME.eml with MAIL FROM FROM[NAME] and HELO HELO; 0 if accepted.
send() {
	mw_swaks "$smtp_port" --helo "$HELO" --from "${FROM[$1]}" --to "rcpt-$1@dest.test.example" \
		--data "$W/msgs/$1.eml" >"$W/swaks-$1.log" 2>&1
}

# netns_stack_stop: stops what netns_stack_start started (mailwarden, Postfix, nsd, the
# sink, each by its recorded PID) and checks that no process is left in NS (nsd's main
# process exits before its server child is gone, so the namespace gets a moment).
netns_stack_stop() {
	mw_milter_stop "$W/milter" 10
	mw_pf_stop "$W/pf"
	nsd_stop
	mw_sink_stop "$W/sink"
	_ns_empty() { [[ -z $(ip netns pids "$NS" 2>/dev/null) ]]; }
	if mw_wait_until 5 _ns_empty; then
		mw_pass "stop: no process left in $NS"
	else
		mw_fail "stop: no process left in $NS" "pids: $(ip netns pids "$NS" | tr '\n' ' ')"
	fi
}
