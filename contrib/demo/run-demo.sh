#!/usr/bin/env bash
# mailwarden demo, on a fresh Debian 12 machine, as root:
#   installs what it needs, builds mailwarden, starts a private Postfix on loopback
#   ports (its own configuration directory and queue; the system Postfix is never
#   touched) with mailwarden as its milter, relays to a capture server, sends the
#   sample messages in contrib/demo/samples/ with swaks, and prints the headers
#   mailwarden put on each delivered copy (SPF, DKIM and DMARC in Authentication-Results,
#   the content rules that hit), with mailwarden's own log line for it. 01 is signed by
#   its domain and passes DMARC; 05 spoofs a p=reject domain and fails it (tagged); 06
#   carries GTUBE and is refused at SMTP time: the demo prints the 550 reply swaks got
#   at the end of DATA and Postfix's milter-reject log line instead of headers.
# Everything it started is stopped by PID when it ends. MW_KEEP=1 keeps the work
# directory (the delivered messages, Postfix's and mailwarden's logs).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

if [[ $(id -u) -ne 0 ]]; then
	echo "run-demo.sh: run as root (it installs packages and starts a private Postfix)" >&2
	exit 1
fi

echo "== installing dependencies"
bash contrib/install-deps.sh >/dev/null

echo "== building mailwarden"
[[ -x configure ]] || autoreconf -fi >/dev/null 2>&1
mkdir -p build
if [[ ! -f build/Makefile ]]; then
	(cd build && ../configure -q)
fi
make -C build -j"$(nproc)" mailwarden >/dev/null
export MW_BIN="$top/build/mailwarden"

# shellcheck source=../../tests/integration/lib.sh
. "$top/tests/integration/lib.sh"
mw_install_trap

mw_workdir W
mw_sink_start "$W/sink" 0
mw_free_port smtp

authserv=mx.demo.example
cat >"$W/mailwarden.yaml" <<YAML
# A minimal configuration: see contrib/mailwarden.yaml for every setting.
milter:
  # Started as root, mailwarden opens the socket and drops to the user 'mailwarden' as a
  # real installation does (the demo creates that system user and puts postfix in its
  # group, as the Debian package does); the socket is mailwarden:mailwarden 0660.
  socket: "unix:$W/mailwarden/milter.sock"
  user: mailwarden
authserv_id: $authserv
log:
  target: stderr
  level: info
dns:
  # Answered from this file, offline; a real installation asks its resolver.
  zone_files: ["$top/contrib/demo/demo.zone"]
# SPF, DKIM and DMARC are on by default (DMARC in monitor mode: recorded, scored, never
# enforced; README.md, "DMARC"). The shipped content rules, as installed to
# /etc/mailwarden/rules by make install; compiled databases cached in the work dir.
rules:
  directories: ["$top/rules"]
  cache_dir: "$W/rules-cache"
YAML
mkdir -p "$W/rules-cache"
"$MW_BIN" configtest -c "$W/mailwarden.yaml"
mw_milter_start "$W/mailwarden" "$W/mailwarden.yaml"
mw_pf_start "$W/pf" "$smtp" "$MW_SINK_PORT" "unix:$W/mailwarden/milter.sock"

echo "== private Postfix on 127.0.0.1:$smtp, mailwarden on unix:$W/mailwarden/milter.sock (as user mailwarden)"
# A sample is accepted (swaks succeeded: 250 to the end of DATA) or refused (a 5xx
# reply to the end of DATA, after the 354); anything else stops the demo.
n=0
accepted=0
refused=0
declare -A outcome scanlog
for sample in contrib/demo/samples/*.eml; do
	n=$((n + 1))
	# The envelope sender is the sample's From address, as for a real sender.
	from=$(grep -i -m1 '^From:' "$sample" | tr -d '\r' | sed 's/.*<\(.*\)>.*/\1/; s/^From: *//I')
	# mailwarden logs its one line per message before it answers Postfix, so the scan
	# line written while this sample was sent is this sample's.
	before=$(wc -l <"$W/mailwarden/milter.log")
	rc=0
	mw_swaks "$smtp" --from "$from" --to bob@dest.test.example \
		--data "$sample" >"$W/swaks-$n.log" 2>&1 || rc=$?
	scanlog[$sample]=$(tail -n +"$((before + 1))" "$W/mailwarden/milter.log" | grep -F ': scan: ' || true)
	if [[ $rc -eq 0 ]]; then
		outcome[$sample]=accepted
		accepted=$((accepted + 1))
	elif grep -q '^<- *354' "$W/swaks-$n.log" &&
		sed -n '/^<- *354/,$p' "$W/swaks-$n.log" | grep -q '^<\*\* *5[0-9][0-9] '; then
		outcome[$sample]=refused
		refused=$((refused + 1))
	else
		echo "swaks failed for $sample (exit $rc):" >&2
		tail -n 5 "$W/swaks-$n.log" >&2
		exit 1
	fi
done
mw_wait_for_messages "$W/sink" "$accepted" 60

echo
i=0
for sample in contrib/demo/samples/*.eml; do
	i=$((i + 1))
	id=$(grep -i -m1 '^Message-ID:' "$sample" | tr -d '\r' | sed 's/^[^:]*: *//')
	if [[ ${outcome[$sample]} == refused ]]; then
		echo "==== $(basename "$sample") (${id}) REFUSED at SMTP time, not delivered:"
		# The client's side: the end of DATA and the server's answer to it.
		sed -n '/^<- *354/,$p' "$W/swaks-$i.log" | grep -E '^( -> [0-9]+ lines sent|<\*\* )' |
			sed 's/^/    swaks: /'
		qid=$(printf '%s\n' "${scanlog[$sample]}" | sed -n 's/^mailwarden: [a-z]*: \([0-9A-F]*\): scan: .*/\1/p' | head -n 1)
		if [[ -n $qid ]] && mw_pf_wait_log "$W/pf" "$qid: milter-reject: END-OF-MESSAGE" 10; then
			grep -F "$qid: milter-reject:" "$W/pf/maillog" | head -n 1 |
				sed 's/^.* \(postfix[^ ]*\[[0-9]*\]: \)/\1/; s/^/    postfix: /'
		fi
		[[ -z ${scanlog[$sample]} ]] || printf '%s\n' "${scanlog[$sample]}" | sed 's/^/    log: /'
		echo
		continue
	fi
	delivered=$(mw_find_captured "$W/sink" "$id")
	echo "==== $(basename "$sample") (${id}) delivered as:"
	# The header fields down to Postfix's Received, then the Authentication-Results
	# that survived further down.
	"$MW_PYTHON" - "$delivered" <<'PY'
import sys
raw = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
head = raw.split("\r\n\r\n", 1)[0]
fields, cur = [], None
for line in head.split("\r\n"):
    if line[:1] in (" ", "\t") and cur is not None:
        cur += "\n" + line
    else:
        if cur is not None:
            fields.append(cur)
        cur = line
if cur is not None:
    fields.append(cur)
top = True
for f in fields:
    name = f.split(":", 1)[0].lower()
    if top and name == "received":
        print("    " + f.split("\n")[0] + " ...")
        top = False
        continue
    if top or name in ("authentication-results", "x-mailwarden-verdict"):
        print("    " + f.replace("\n", "\n    "))
PY
	qid=$(grep -o 'with ESMTP id [A-Z0-9]*' "$delivered" | head -n1 | awk '{print $4}')
	if [[ -n $qid ]]; then
		grep -F "$qid: scan:" "$W/mailwarden/milter.log" | sed 's/^/    log: /' || true
	fi
	echo
done
echo "== $n messages sent: $accepted accepted by Postfix, $refused refused at SMTP time;" \
	"$(mw_count_messages "$W/sink") delivered to the next hop; stopping everything"
