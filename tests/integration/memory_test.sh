#!/usr/bin/env bash
# Memory per message does not grow with the body (issue: "a 50 MB message passes with
# the process's RSS growing by less than 10 MB"). Two measurements:
#   1. `mailwarden check` on a 50 MB message vs. a 2 KB one: peak RSS (ru_maxrss of the
#      child, from wait4) may differ by less than 10 MB.
#   2. `mailwarden run` behind a private Postfix: VmHWM of the milter process before and
#      after a 50 MB message went through it grows by less than 10 MB, and the message
#      arrives with mailwarden's headers.
# Prints the numbers, then "N passed, N failed".
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mw_require_root
mw_install_trap

bin=$(mw_bin)
if [[ ! -x $bin ]]; then
	echo "SKIP: no mailwarden binary at $bin"
	exit 77
fi
limit_kb=$((10 * 1024))

mw_workdir W
"$MW_PYTHON" "$MW_INTEG_DIR/mw_msgtool.py" attachment "$W/small.eml" --seed 1 --bytes 1024
"$MW_PYTHON" "$MW_INTEG_DIR/mw_msgtool.py" attachment "$W/big.eml" --seed 2 --bytes $((37 * 1024 * 1024))
big_bytes=$(stat -c %s "$W/big.eml")
mw_log "big message: $big_bytes bytes"

# peak_rss_kb FILE: ru_maxrss of `mailwarden check FILE`, in KiB.
peak_rss_kb() {
	"$MW_PYTHON" - "$bin" "$1" <<'PY'
import os, subprocess, sys
p = subprocess.Popen([sys.argv[1], "check", "--mail-from", "a@origin.test.example",
                      "--rcpt", "b@dest.test.example", sys.argv[2]],
                     stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(p.pid, 0)
if os.waitstatus_to_exitcode(status) != 0:
    sys.exit("mailwarden check failed")
print(usage.ru_maxrss)
PY
}

small_kb=$(peak_rss_kb "$W/small.eml")
big_kb=$(peak_rss_kb "$W/big.eml")
growth=$((big_kb - small_kb))
echo "check: peak RSS ${small_kb} KiB for 2 KB, ${big_kb} KiB for $((big_bytes / 1048576)) MB: growth ${growth} KiB"
if ((growth < limit_kb)); then
	mw_pass "check: RSS growth for a 50 MB message under 10 MB (${growth} KiB)"
else
	mw_fail "check: RSS grew ${growth} KiB for a 50 MB message"
fi

# Through the milter.
mw_sink_start "$W/sink" 0
mw_free_port smtp
mw_milter_config "$W/mailwarden.yaml" "unix:$W/milter.sock"
mw_milter_start "$W/mw" "$W/mailwarden.yaml"
mw_pf_start "$W/pf" "$smtp" "$MW_SINK_PORT" "unix:$W/milter.sock"

hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$MW_MILTER_PID/status"; }

mw_swaks "$smtp" --data "$W/small.eml" >"$W/swaks-small.log" 2>&1
mw_wait_for_messages "$W/sink" 1 60
before=$(hwm_kb)
mw_swaks "$smtp" --data "$W/big.eml" >"$W/swaks-big.log" 2>&1
mw_wait_for_messages "$W/sink" 2 180
after=$(hwm_kb)
growth=$((after - before))
echo "milter: VmHWM ${before} KiB after a 2 KB message, ${after} KiB after the 50 MB one: growth ${growth} KiB"
if ((growth < limit_kb)); then
	mw_pass "milter: peak RSS growth for a 50 MB message under 10 MB (${growth} KiB)"
else
	mw_fail "milter: peak RSS grew ${growth} KiB for a 50 MB message"
fi
delivered=$(ls -S "$W/sink"/*.eml | head -n 1)
if head -c 200 "$delivered" | grep -q '^X-Mailwarden-Verdict: accept'; then
	mw_pass "the 50 MB message was delivered with mailwarden's headers"
else
	mw_fail "the 50 MB message lacks X-Mailwarden-Verdict at the top"
fi
mw_summary
