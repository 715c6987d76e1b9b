#!/usr/bin/env python3
"""peers_summary.py -- the table of bench/run-peers-bench.sh (stdlib only).

  peers_summary.py OUT_DIR                      the Markdown summary; exit 1 if a milter's
                                                verdicts were not pass or a run failed
  peers_summary.py --rate OUT_DIR WL MILTER PCT PCT % of MILTER's median msg/s on WL
                                                (the open-loop rate); exit 1 if none

Reads OUT_DIR/raw/LABEL.json (milter_load, label "mode=peers|rate workload=W c=C
milter=M [pct=P] run=R"), LABEL.cpu ("TICKS_BEFORE TICKS_AFTER CLK_TCK PROCESSES": the
milter's process tree around the measured phase), LABEL.mods.jsonl (the first messages'
modifications), OUT_DIR/openssl-speed.txt and machine.txt. Medians over the runs.

Verdicts (every dumped message of every run): the Authentication-Results fields the
milter added, taken together, must hold each method=pass of its row in EXPECT; the
reference milter must have added its X-Ref-Milter field.
"""
import glob
import json
import os
import re
import statistics
import sys

# milter -> (what it does, methods that must say pass)
EXPECT = {
    "ref": ("nothing (empty libmilter milter)", []),
    "opendkim": ("DKIM", ["dkim"]),
    "opendmarc": ("SPF + DMARC", ["spf", "dmarc"]),
    "rspamd": ("SPF, DKIM, DMARC, its rules (self-scan)", ["spf", "dkim", "dmarc"]),
    "mailwarden": ("SPF ×2, DKIM, DMARC, shipped rules", ["spf", "dkim", "dmarc"]),
}
ORDER = list(EXPECT)
WORKLOADS = ["4k-rsa2048", "4k-ed25519"]


def fields(label):
    return dict(p.split("=", 1) for p in label.split() if "=" in p)


def load_runs(out):
    runs = []
    for path in sorted(glob.glob(os.path.join(out, "raw", "*.json"))):
        with open(path, encoding="utf-8") as f:
            r = json.load(f)
        r["_f"] = fields(r.get("label", ""))
        base = path[: -len(".json")]
        r["_cpu_ms_per_msg"] = None
        try:
            with open(base + ".cpu", encoding="utf-8") as f:
                t0, t1, hz, _procs = (int(x) for x in f.read().split())
            if r.get("completed"):
                r["_cpu_ms_per_msg"] = (t1 - t0) * 1000.0 / hz / r["completed"]
        except (OSError, ValueError):
            pass
        r["_mods"] = []
        try:
            with open(base + ".mods.jsonl", encoding="utf-8") as f:
                r["_mods"] = [json.loads(line) for line in f if line.strip()]
        except (OSError, ValueError):
            pass
        runs.append(r)
    return runs


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def select(runs, mode, wl, milter):
    return [r for r in runs if r["_f"].get("mode") == mode and r["_f"].get("workload") == wl
            and r["_f"].get("milter") == milter]


def verdict_problems(milter, runs):
    """What is wrong with the milter's verdicts over these runs ([] = all pass)."""
    problems = []
    methods = EXPECT[milter][1]
    for r in runs:
        if not r["_mods"]:
            problems.append("no modifications dumped")
            continue
        for msg in r["_mods"]:
            mods = msg.get("modifications", [])
            if milter == "ref":
                if not any(m["name"] == "X-Ref-Milter" for m in mods):
                    problems.append("no X-Ref-Milter")
                continue
            ar = " ; ".join(m["value"] for m in mods
                            if m["name"].lower() == "authentication-results")
            if not ar:
                problems.append("no Authentication-Results")
                continue
            for meth in methods:
                got = re.search(r"\b%s=([a-z]+)" % meth, ar)
                if not got or got.group(1) != "pass":
                    problems.append("%s=%s" % (meth, got.group(1) if got else "absent"))
    return sorted(set(problems))


def fmt(v, digits=0, thousands=True):
    if v is None:
        return "–"
    return f"{v:,.{digits}f}" if thousands else f"{v:.{digits}f}"


def openssl_verify_ms(out):
    """(rsa2048 verify ms, ed25519 verify ms) from openssl speed, or None."""
    try:
        text = open(os.path.join(out, "openssl-speed.txt"), encoding="utf-8").read()
    except OSError:
        return None
    rsa = re.search(r"^rsa\s+2048 bits\s+\S+\s+\S+\s+\S+\s+(\S+)\s*$", text, re.M)
    ed = re.search(r"EdDSA \(Ed25519\)\s+\S+\s+\S+\s+\S+\s+(\S+)\s*$", text, re.M)
    if not rsa or not ed:
        return None
    return 1000.0 / float(rsa.group(1)), 1000.0 / float(ed.group(1))


def summary(out):
    runs = load_runs(out)
    machine = {}
    try:
        for line in open(os.path.join(out, "machine.txt"), encoding="utf-8"):
            k, _, v = line.partition(":")
            machine[k.strip()] = v.strip()
    except OSError:
        pass
    milters = [m for m in ORDER if any(r["_f"].get("milter") == m for r in runs)]
    lines = []
    w = lines.append
    w("## mailwarden and its peers, direct milter load (bench/run-peers-bench.sh)")
    w("")
    w("%s, %s, mailwarden %s; load average %s at the start, %s at the end." % (
        machine.get("date", "?"), machine.get("cpu", "?") + " × " + machine.get("nproc", "?"),
        machine.get("mailwarden", "?"), machine.get("loadavg", "?"),
        machine.get("loadavg_end", "?")))
    some = next((r for r in runs if r["_f"].get("mode") == "peers"), None)
    if some:
        n_runs = max(int(r["_f"].get("run", 1)) for r in runs if r["_f"].get("mode") == "peers")
        w("%s connections, %s messages per run (one per connection), medians of %d "
          "alternating runs; CPU = utime+stime of the milter's processes." % (
              some.get("connections"), some.get("messages"), n_runs))
    w("")
    w("| milter | does | rsa2048 msg/s | ed25519 msg/s | CPU ms/msg rsa2048 / ed25519 "
      "| p50 / p99 ms rsa2048 | p99 at %s %% rsa2048 / ed25519 (p50) | verdicts |" % (
          next((r["_f"].get("pct") for r in runs if r["_f"].get("pct")), "80")))
    w("|---|---|---:|---:|---:|---:|---:|---|")
    bad = False
    table = {}
    for m in milters:
        row = {}
        for wl in WORKLOADS:
            rs = select(runs, "peers", wl, m)
            rate = select(runs, "rate", wl, m)
            row[wl] = {
                "n": len(rs),
                "failed": sum(1 for r in rs + rate if not r.get("ok")),
                "msg_s": med([r["msg_per_s"] for r in rs if r.get("ok")]),
                "cpu": med([r["_cpu_ms_per_msg"] for r in rs if r.get("ok")]),
                "p50": med([r["latency_ms"]["p50"] for r in rs if r.get("ok")]),
                "p99": med([r["latency_ms"]["p99"] for r in rs if r.get("ok")]),
                "r_p50": med([r["sched_to_reply_ms"]["p50"] for r in rate if r.get("ok")]),
                "r_p99": med([r["sched_to_reply_ms"]["p99"] for r in rate if r.get("ok")]),
                "r_offered": med([r.get("rate") for r in rate]),
                "r_msg_s": med([r["msg_per_s"] for r in rate if r.get("ok")]),
            }
        table[m] = row
        problems = verdict_problems(m, [r for r in runs if r["_f"].get("milter") == m])
        failed = sum(row[wl]["failed"] for wl in WORKLOADS)
        if problems:
            verdict = "FAIL: " + ", ".join(problems)
        elif m == "ref":
            verdict = "n/a (its header on every message)"
        else:
            verdict = ", ".join("%s=pass" % x for x in EXPECT[m][1])
        if failed:
            verdict += "; %d run(s) NOT OK (errors or lost messages)" % failed
        bad = bad or bool(problems) or failed > 0
        rsa, ed = row["4k-rsa2048"], row["4k-ed25519"]
        w("| %s | %s | %s | %s | %s / %s | %s / %s | %s / %s (%s / %s) | %s |" % (
            m, EXPECT[m][0], fmt(rsa["msg_s"]), fmt(ed["msg_s"]), fmt(rsa["cpu"], 2),
            fmt(ed["cpu"], 2), fmt(rsa["p50"], 2), fmt(rsa["p99"], 2), fmt(rsa["r_p99"], 2),
            fmt(ed["r_p99"], 2), fmt(rsa["r_p50"], 2), fmt(ed["r_p50"], 2), verdict))
    w("")
    w("Latency under load: open-loop runs (milter_load --rate, medians) at the stated share "
      "of each milter's own median msg/s, due time -> final reply (queueing "
      "and connection set-up included). Offered / achieved msg/s: " + "; ".join(
          "%s %s/%s" % (m, fmt(table[m]["4k-rsa2048"]["r_offered"]),
                        fmt(table[m]["4k-rsa2048"]["r_msg_s"])) for m in milters) + " (rsa2048).")
    w("")
    w("### Ratios (the issue's targets)")
    w("")

    def ratio(a, b, wl):
        x, y = table.get(a, {}).get(wl, {}).get("msg_s"), table.get(b, {}).get(wl, {}).get("msg_s")
        return "%.2f×" % (x / y) if x and y else "–"

    for wl in WORKLOADS:
        w("- %s: mailwarden / opendkim msg/s **%s** (target ≥ 2×), mailwarden / rspamd "
          "**%s** (target ≥ 3×), mailwarden / empty milter %s" % (
              wl, ratio("mailwarden", "opendkim", wl), ratio("mailwarden", "rspamd", wl),
              ratio("mailwarden", "ref", wl)))

    def cpu_ratio(a, b, wl):
        x, y = table.get(a, {}).get(wl, {}).get("cpu"), table.get(b, {}).get(wl, {}).get("cpu")
        return "%.2f×" % (x / y) if x and y else "–"

    # CPU per message is the steadier figure on a shared machine: msg/s moves with the
    # neighbours' load, the CPU a milter spends on one message much less.
    w("- CPU per message (steadier than msg/s on a busy machine), peer / mailwarden: "
      + "; ".join("%s opendkim %s, rspamd %s" % (
          wl, cpu_ratio("opendkim", "mailwarden", wl), cpu_ratio("rspamd", "mailwarden", wl))
          for wl in WORKLOADS))

    def cpu_diff(m):
        a = table.get(m, {}).get("4k-ed25519", {}).get("cpu")
        b = table.get(m, {}).get("4k-rsa2048", {}).get("cpu")
        return "%+.3f ms" % (a - b) if a is not None and b is not None else "–"

    ssl = openssl_verify_ms(out)
    ssl_text = ("%+.3f ms (openssl speed: rsa2048 verify %.4f ms, ed25519 verify %.4f ms)" % (
        ssl[1] - ssl[0], ssl[0], ssl[1]) if ssl else "– (openssl speed output not parsed)")
    w("- CPU per message, ed25519 − rsa2048: mailwarden **%s**, opendkim %s; the two "
      "verifications differ by %s (target: mailwarden's difference no larger)" % (
          cpu_diff("mailwarden"), cpu_diff("opendkim"), ssl_text))
    w("")
    w("Reproduce: `sudo make bench-peers` in the build directory "
      "(MILTER_BENCH_ARGS=\"--scale 0.2\" for a quick look). Raw runs: %s/raw." % out)
    print("\n".join(lines))
    return 1 if bad else 0


def main(argv):
    if len(argv) == 6 and argv[1] == "--rate":
        out, wl, milter, pct = argv[2], argv[3], argv[4], float(argv[5])
        rs = [r for r in select(load_runs(out), "peers", wl, milter) if r.get("ok")]
        m = med([r["msg_per_s"] for r in rs])
        if not m:
            return 1
        print("%.1f" % (m * pct / 100.0))
        return 0
    if len(argv) == 2:
        return summary(argv[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
