#!/usr/bin/env python3
"""bench_summary.py -- medians of the benchmark runs, as Markdown tables (stdlib only).

  bench_summary.py OUT_DIR

Reads OUT_DIR/raw/*.json: milter_load results (label "mode=direct dns=... socket=...
workload=... c=... k=... rules=... milter=... run=N"; rules= is mailwarden's rule set,
the reference runs beside it carry the same value) and run-postfix-bench.sh results
("mode=postfix ..."). Groups runs that differ only in run=N, takes the median of each
number over the runs, and prints one table per mode. For direct runs it adds
mailwarden's msg/s as a percentage of the reference milter's in the same group (the
issue-7 target is >= 75 % at c=10 on the 4 KB rsa2048 message, with p99 < 20 ms); for
Postfix runs, end-to-end msg/s against the Postfix-with-reference-milter row (target
>= 95 %). A group where any run had errors, lost messages or hit its time limit is
flagged "NOT OK" with the count of such runs.
"""
import glob
import json
import os
import statistics
import sys


def label_fields(label):
    out = {}
    for part in label.split():
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v
    return out


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=1):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def load(out_dir):
    runs = []
    for path in sorted(glob.glob(os.path.join(out_dir, "raw", "*.json"))):
        if path.endswith(".scan.json"):
            continue  # scan_table
        with open(path, encoding="utf-8") as f:
            r = json.load(f)
        r["_f"] = label_fields(r.get("label", ""))
        runs.append(r)
    return runs


def group(runs, keys):
    groups = {}
    for r in runs:
        key = tuple(r["_f"].get(k, "") for k in keys)
        groups.setdefault(key, []).append(r)
    return groups


def direct_table(runs, mode):
    keys = ["dns", "socket", "workload", "c", "k", "rules", "milter"]
    groups = group([r for r in runs if r["_f"].get("mode") == mode], keys)
    if not groups:
        return []
    rows = []
    ref_rate = {}
    summary = {}
    for key, rs in groups.items():
        f = dict(zip(keys, key))
        m = [r.get("milter", {}) for r in rs]
        s = {
            "runs": len(rs),
            "bad": sum(1 for r in rs if not r.get("ok")),
            "msg_s": med([r["msg_per_s"] for r in rs]),
            "p50": med([r["latency_ms"]["p50"] for r in rs]),
            "p90": med([r["latency_ms"]["p90"] for r in rs]),
            "p99": med([r["latency_ms"]["p99"] for r in rs]),
            "max": med([r["latency_ms"]["max"] for r in rs]),
            "eob99": med([r["eob_to_reply_ms"]["p99"] for r in rs]),
            "cpu": med([x.get("cpu_ms_per_msg") for x in m]),
            "rss": med([x.get("rss_kib_max") for x in m]),
            "hwm": med([x.get("hwm_kib_end") for x in m]),
            "replies": rs[0].get("replies", {}),
            "mods": rs[0].get("modifications", {}),
        }
        summary[key] = s
        if f["milter"] == "ref":
            ref_rate[key[:-1]] = s["msg_s"]
    head = ("| dns | socket | workload | c | k | rules | milter | runs | msg/s (median) | % of ref | "
            "latency p50 / p90 / p99 / max ms | eob→reply p99 ms | milter CPU ms/msg | "
            "peak RSS KiB (VmRSS max) | VmHWM KiB | replies, modifications (run 1) |")
    rows.append(head)
    rows.append("|" + "---|" * 16)
    order = sorted(summary, key=lambda k: (k[0], k[1], k[2], k[3], k[4], k[5], k[6] != "ref"))
    for key in order:
        s = summary[key]
        f = dict(zip(keys, key))
        pct = None
        if f["milter"] != "ref" and ref_rate.get(key[:-1]):
            pct = 100.0 * s["msg_s"] / ref_rate[key[:-1]]
        counts = ", ".join(f"{k} {v}" for k, v in {**s["replies"], **s["mods"]}.items())
        flag = f" NOT OK ({s['bad']} of {s['runs']})" if s["bad"] else ""
        rows.append(
            f"| {f['dns']} | {f['socket']} | {f['workload']} | {f['c']} | {f['k']} | {f['rules']} | "
            f"{f['milter']}{flag} | {s['runs']} | {fmt(s['msg_s'])} | "
            f"{fmt(pct, 0) + ' %' if pct is not None else '–'} | "
            f"{fmt(s['p50'], 2)} / {fmt(s['p90'], 2)} / {fmt(s['p99'], 2)} / {fmt(s['max'], 2)} | "
            f"{fmt(s['eob99'], 2)} | {fmt(s['cpu'], 3)} | {fmt(s['rss'])} | {fmt(s['hwm'])} | "
            f"{counts} |")
    return rows


def scan_table(out_dir, runs):
    """bench/scan_bench results (OUT/raw/LABEL.scan.json, Google Benchmark JSON): the
    checks alone per message, beside the CPU per message of mailwarden and of the
    reference under load (unix socket, same dns/workload/rules, medians)."""
    rows = []
    for path in sorted(glob.glob(os.path.join(out_dir, "raw", "*.scan.json"))):
        label = os.path.basename(path)[: -len(".scan.json")].replace("_", " ")
        f = label_fields(label)
        try:
            with open(path, encoding="utf-8") as fh:
                bench = json.load(fh)["benchmarks"][0]
        except (OSError, ValueError, KeyError, IndexError):
            continue
        scan_ms = bench["cpu_time"] / 1000.0 if bench.get("time_unit") == "us" else None

        def cpu(milter):
            return med([r.get("milter", {}).get("cpu_ms_per_msg") for r in runs
                        if r["_f"].get("mode") == "direct" and r["_f"].get("socket") == "unix"
                        and all(r["_f"].get(k) == f.get(k) for k in ("dns", "workload", "rules"))
                        and r["_f"].get("milter") == milter])
        mw, ref = cpu("mailwarden"), cpu("ref")
        extra = mw - ref if mw is not None and ref is not None else None
        rows.append(f"| {f.get('dns')} | {f.get('workload')} | {f.get('rules')} | {fmt(scan_ms, 3)} | "
                    f"{fmt(mw, 3)} | {fmt(ref, 3)} | {fmt(extra, 3)} |")
    if not rows:
        return []
    return ["| dns | workload | rules | checks alone (scan_bench) CPU ms/msg | mailwarden CPU ms/msg "
            "under load | reference CPU ms/msg | mailwarden − reference |",
            "|" + "---|" * 7] + rows


def postfix_table(runs):
    keys = ["workload", "c", "milter"]
    groups = group([r for r in runs if r["_f"].get("mode") == "postfix"], keys)
    if not groups:
        return []
    summary = {}
    for key, rs in groups.items():
        summary[key] = {
            "runs": len(rs),
            "bad": sum(1 for r in rs if not r.get("ok")),
            "msg_s": med([r["msg_per_s"] for r in rs]),
            "sent": med([r["sent"] for r in rs]),
            "sink": med([r["at_sink"] for r in rs]),
            # smtp-source stops at the first non-2xx reply, so what it did not get
            # accepted counts as lost too: attempted, not "sent", is the reference.
            "lost": sum(r["attempted"] - r["at_sink"] for r in rs),
            "cpu": med([r.get("milter_cpu_ms_per_msg") for r in rs]),
            "rss": med([r.get("milter_hwm_kib") for r in rs]),
        }
    rows = ["| workload | c | milter | runs | end-to-end msg/s (median) | % of Postfix+ref | "
            "% of Postfix alone | sent / at sink (median) | lost (all runs) | "
            "milter CPU ms/msg | milter VmHWM KiB |",
            "|" + "---|" * 11]
    for key in sorted(summary, key=lambda k: (k[0], k[1], {"none": 0, "ref": 1}.get(k[2], 2))):
        s = summary[key]
        ref = summary.get((key[0], key[1], "ref"), {}).get("msg_s")
        none = summary.get((key[0], key[1], "none"), {}).get("msg_s")
        pct_ref = f"{100.0 * s['msg_s'] / ref:.0f} %" if ref and key[2] != "ref" else "–"
        pct_none = f"{100.0 * s['msg_s'] / none:.0f} %" if none and key[2] != "none" else "–"
        flag = f" NOT OK ({s['bad']} of {s['runs']})" if s["bad"] else ""
        rows.append(
            f"| {key[0]} | {key[1]} | {key[2]}{flag} | {s['runs']} | {fmt(s['msg_s'])} | "
            f"{pct_ref} | {pct_none} | {fmt(s['sent'])} / {fmt(s['sink'])} | {s['lost']} | "
            f"{fmt(s['cpu'], 3)} | {fmt(s['rss'])} |")
    return rows


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = sys.argv[1]
    runs = load(out_dir)
    if not runs:
        print(f"no results in {out_dir}/raw", file=sys.stderr)
        return 1
    machine = os.path.join(out_dir, "machine.txt")
    if os.path.exists(machine):
        print("```")
        print(open(machine, encoding="utf-8").read().rstrip())
        print("```\n")
    for title, rows in (("Direct: milter_load -> milter", direct_table(runs, "direct")),
                        ("Memory: 50 connections, one message each", direct_table(runs, "memory")),
                        ("The checks alone: the Scan pipeline in process, no milter", scan_table(out_dir, runs)),
                        ("Through Postfix: smtp-source -> Postfix -> smtp-sink", postfix_table(runs))):
        if rows:
            print(f"### {title}\n")
            print("\n".join(rows))
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
