#!/usr/bin/env python3
"""bench/latency_bench.py -- the data side of bench/run-latency-bench.sh (issue 17).

  latency_bench.py gen DIR --runs R --messages N --warmup W --signer PATH --key PEM
                       --key-zone ZONEFILE
      The bench zones (DIR/zone/example.zone, DIR/zone/reverse.zone), one DKIM-signed
      message per sender (DIR/msgs/sNNNN.eml) and one milter_load plan per run
      (DIR/plan-RUN.txt: W warmup lines, then N measured ones). Every message of the
      whole bench has a sender domain and a client address of its own, so no milter can
      answer any of its lookups from a cache filled by an earlier message (see the
      header of run-latency-bench.sh).
  latency_bench.py chain DKIM_JSONL PLAN_IN DIR PLAN_OUT
      The plan for opendmarc after opendkim: each measured message with the
      Authentication-Results field opendkim added to it (what Postfix would hand the
      second milter), written to DIR; warmup lines unchanged.
  latency_bench.py summary OUT DELAY_MS
      Checks every message's verdicts in OUT/raw/*.jsonl, computes per run p50/p99 of
      end-of-body -> reply and connect -> reply (opendkim + opendmarc: the per-message
      sums), the medians over runs, and prints the Markdown table (OUT/summary.json too).

Bounded: at most 100,000 senders; every input file is read once.
"""
import argparse
import glob
import json
import os
import re
import statistics
import subprocess
import sys

MAX_SENDERS = 100000
AUTHSERV = "mx.test.example"
RCPT = "user@mx.test.example"


def sender(i):
    """Sender number i -> (domain, client IP, HELO name). 198.18.0.0/15 is the
    benchmarking range (RFC 2544/RFC 6890), not a special-use zone for libunbound."""
    domain = "s%05d.example" % i
    ip = "198.18.%d.%d" % (i // 250, i % 250 + 1)
    return domain, ip, "mail." + domain


def dkim_key_strings(zone_file):
    """The quoted strings of the sel._domainkey record of tests/integration/reputation.zone
    (the public key of tests/keys/rsa2048.pem)."""
    text = open(zone_file).read()
    m = re.search(r"^sel\._domainkey\S*\s+IN\s+TXT\s+\((.*?)\)", text, re.M | re.S)
    if not m:
        sys.exit("no sel._domainkey record in %s" % zone_file)
    return m.group(1).strip()


def message(domain, i):
    """A plain-text message of about 2 KB from sender@DOMAIN, CRLF line ends."""
    lines = [
        "From: Sender %d <sender@%s>" % (i, domain),
        "To: User <%s>" % RCPT,
        "Subject: Latency bench message %d" % i,
        "Date: Mon, 01 Jan 2024 00:00:00 +0000",
        "Message-ID: <lat-%d@%s>" % (i, domain),
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "",
    ]
    for n in range(24):
        lines.append("Line %02d: the quarterly figures, the costs and the outlook, see the "
                     "attached summary." % n)
    return "\r\n".join(lines) + "\r\n"


def gen(a):
    total = a.runs * (a.messages + a.warmup)
    if total > MAX_SENDERS:
        sys.exit("more than %d senders" % MAX_SENDERS)
    zdir, mdir = os.path.join(a.dir, "zone"), os.path.join(a.dir, "msgs")
    os.makedirs(zdir, exist_ok=True)
    os.makedirs(mdir, exist_ok=True)
    key = dkim_key_strings(a.key_zone)
    fwd = [
        "$ORIGIN example.",
        "$TTL 3600",
        "@ IN SOA ns hostmaster 1 3600 600 86400 3600",
        "@ IN NS ns",
        "ns IN A 127.0.0.1",
    ]
    rev = [
        "$ORIGIN 18.198.in-addr.arpa.",
        "$TTL 3600",
        "@ IN SOA ns.example. hostmaster.example. 1 3600 600 86400 3600",
        "@ IN NS ns.example.",
    ]
    for i in range(total):
        domain, ip, helo = sender(i)
        d = domain[: -len(".example")]
        o = ip.split(".")
        # SPF takes a realistic two-step path: the domain's record includes its
        # provider's; the HELO name's record asks its own A record.
        fwd += [
            '%s IN TXT "v=spf1 include:_spf.%s -all"' % (d, domain + "."),
            '_spf.%s IN TXT "v=spf1 ip4:198.18.0.0/15 -all"' % d,
            "mail.%s IN A %s" % (d, ip),
            'mail.%s IN TXT "v=spf1 a -all"' % d,
            "sel._domainkey.%s IN TXT ( %s )" % (d, key),
            '_dmarc.%s IN TXT "v=DMARC1; p=reject"' % d,
            # both lists hit (small scores): the symbols prove the lookups were made
            "%s.%s.%s.%s.bl IN A 127.0.0.3" % (o[3], o[2], o[1], o[0]),
            "%s.dbl IN A 127.0.1.3" % domain,
        ]
        rev.append("%s.%s IN PTR %s." % (o[3], o[2], helo))
        path = os.path.join(mdir, "%s.eml" % d)
        raw = message(domain, i).encode()
        signed = subprocess.run(
            [a.signer, "--key", a.key, "--domain", domain, "--selector", "sel"],
            input=raw, capture_output=True, timeout=30, check=True).stdout
        with open(path, "wb") as f:
            f.write(signed)
    with open(os.path.join(zdir, "example.zone"), "w") as f:
        f.write("\n".join(fwd) + "\n")
    with open(os.path.join(zdir, "reverse.zone"), "w") as f:
        f.write("\n".join(rev) + "\n")
    per_run = a.messages + a.warmup
    for r in range(a.runs):
        with open(os.path.join(a.dir, "plan-%d.txt" % (r + 1)), "w") as f:
            for i in range(r * per_run, (r + 1) * per_run):
                domain, ip, helo = sender(i)
                f.write("%s %s %s sender@%s\n" % (os.path.join(mdir, domain[:-8] + ".eml"),
                                                   ip, helo, domain))


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def added(rec, name):
    """Values of the header fields NAME the milter inserted or added."""
    return [m["value"] for m in rec["modifications"]
            if m["op"] in ("insheader", "addheader") and m["name"].lower() == name.lower()]


def chain(a):
    plan = [l for l in open(a.plan_in).read().splitlines() if l.strip()]
    recs = read_jsonl(a.dkim_jsonl)
    os.makedirs(a.dir, exist_ok=True)
    out = plan[:]
    for rec in recs:
        n = rec["number"]
        if n >= len(plan):
            sys.exit("message number %d outside the plan" % n)
        f, ip, helo, mail_from = plan[n].split()
        ar = added(rec, "Authentication-Results")
        body = open(f, "rb").read()
        head = b"".join(b"Authentication-Results:" + v.replace("\n", "\r\n").encode() + b"\r\n"
                        for v in ar)
        path = os.path.join(a.dir, os.path.basename(f))
        with open(path, "wb") as g:
            g.write(head + body)
        out[n] = " ".join([path, ip, helo, mail_from])
    with open(a.plan_out, "w") as g:
        g.write("\n".join(out) + "\n")


# What each milter must have said about every message (RFC 8601 result tokens in its
# Authentication-Results; mailwarden's list symbols in X-Mailwarden-Rules).
def verdict_problems(milter, rec):
    ar = " ; ".join(added(rec, "Authentication-Results"))
    want = []
    if milter == "mailwarden":
        want = [r"spf=pass[^;]*smtp\.mailfrom=", r"spf=pass[^;]*smtp\.helo=", r"dkim=pass",
                r"dmarc=pass", r"iprev=pass"]
    elif milter == "opendkim":
        want = [r"dkim=pass"]
    elif milter == "opendmarc":
        want = [r"dmarc=pass", r"spf=pass"]
    problems = [w for w in want if not re.search(w, ar)]
    if milter == "mailwarden":
        rules = " ".join(added(rec, "X-Mailwarden-Rules"))
        problems += [s for s in ("RBL_LAT", "DBL_LAT") if s not in rules]
    if rec["reply"] not in ("accept", "continue"):
        problems.append("reply %s" % rec["reply"])
    return problems


def pct(v, p):
    """Nearest-rank percentile, as milter_load computes it."""
    v = sorted(v)
    if not v:
        return float("nan")
    k = max(1, -(-len(v) * p // 100))
    return v[int(min(k, len(v))) - 1]


def summary(a):
    raw = os.path.join(a.out, "raw")
    runs = {}  # milter -> run -> {number: rec}
    for path in sorted(glob.glob(os.path.join(raw, "*.jsonl"))):
        m = re.match(r"(.+)-run(\d+)\.jsonl$", os.path.basename(path))
        if not m:
            continue
        runs.setdefault(m.group(1), {})[int(m.group(2))] = {
            r["number"]: r for r in read_jsonl(path)}
    cpu = {}  # milter -> [cpu ms per message per run]
    for path in glob.glob(os.path.join(raw, "*.json")):
        m = re.match(r"(.+)-run(\d+)\.json$", os.path.basename(path))
        if m:
            j = json.load(open(path))
            cpu.setdefault(m.group(1), []).append(j.get("milter", {}).get("cpu_ms_per_msg"))
    checks = {
        "mailwarden": "SPF (MAIL FROM + HELO), DKIM, DMARC, iprev, 2 DNS lists",
        "opendkim": "DKIM",
        "opendmarc": "SPF (MAIL FROM), DMARC",
        "opendkim + opendmarc": "DKIM, SPF (MAIL FROM), DMARC",
    }
    verdicts = {}
    for milter in ("mailwarden", "opendkim", "opendmarc"):
        bad, total, first = 0, 0, ""
        for recs in runs.get(milter, {}).values():
            for rec in recs.values():
                total += 1
                p = verdict_problems(milter, rec)
                if p:
                    bad += 1
                    first = first or "message %d: %s" % (rec["number"], ", ".join(p))
        verdicts[milter] = (total - bad, total, first)
    # The chain: per message, the sum of both milters' latencies (Postfix calls them in
    # sequence); a message counts only if both measured it.
    chain = {}
    for r, dk in runs.get("opendkim", {}).items():
        dm = runs.get("opendmarc", {}).get(r, {})
        chain[r] = {}
        for n, rec in dk.items():
            if n in dm:
                c = dict(rec)
                for k in ("eob_to_reply_ms", "connect_to_reply_ms"):
                    c[k] = (rec[k] + dm[n][k]) if rec[k] is not None and dm[n][k] is not None else None
                chain[r][n] = c
    runs["opendkim + opendmarc"] = chain
    # The chain passes a message when both milters gave it their expected verdicts.
    ok_chain = sum(1 for r, recs in chain.items() for n in recs
                   if not verdict_problems("opendkim", runs["opendkim"][r][n])
                   and not verdict_problems("opendmarc", runs["opendmarc"][r][n]))
    verdicts["opendkim + opendmarc"] = (ok_chain, sum(len(v) for v in chain.values()), "")
    cpu_chain = [x + y for x, y in zip(cpu.get("opendkim", []), cpu.get("opendmarc", []))
                 if x is not None and y is not None]
    cpu["opendkim + opendmarc"] = cpu_chain
    rows, table = [], {}
    for milter in ("mailwarden", "opendkim + opendmarc", "opendkim", "opendmarc"):
        per_run = []
        for r, recs in sorted(runs.get(milter, {}).items()):
            eob = [x["eob_to_reply_ms"] for x in recs.values() if x["eob_to_reply_ms"] is not None]
            con = [x["connect_to_reply_ms"] for x in recs.values()
                   if x["connect_to_reply_ms"] is not None]
            per_run.append({"run": r, "n": len(recs), "eob_p50": pct(eob, 50),
                            "eob_p99": pct(eob, 99), "con_p50": pct(con, 50),
                            "con_p99": pct(con, 99)})
        if not per_run:
            continue
        med = {k: statistics.median(x[k] for x in per_run)
               for k in ("eob_p50", "eob_p99", "con_p50", "con_p99")}
        cpus = [c for c in cpu.get(milter, []) if c is not None]
        med["cpu"] = statistics.median(cpus) if cpus else float("nan")
        table[milter] = {"median": med, "runs": per_run, "verdicts": verdicts[milter][:2]}
        ok, total, first = verdicts[milter]
        rows.append("| %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f (%.1f) | %.2f | %d/%d |" % (
            milter, checks[milter], med["eob_p50"], med["eob_p99"], med["con_p50"], med["con_p99"],
            med["con_p50"] / a.delay_ms, med["eob_p50"] / a.delay_ms, med["cpu"], ok, total))
        if first:
            rows.append("|  | first wrong verdict: %s |  |  |  |  |  |  |  |" % first.replace("|", "/"))
    json.dump(table, open(os.path.join(a.out, "summary.json"), "w"), indent=1)
    print("Added SMTP latency per message, ms, DNS answers %d ms late (medians over %d runs of "
          "per-run p50/p99)\n" % (a.delay_ms, max((len(v) for v in runs.values()), default=0)))
    print("| milter | checks | p50 EOB→reply | p99 | p50 connect→reply | p99 | DNS round trips = "
          "p50 connect→reply / delay (EOB) | milter CPU ms/msg | verdicts pass |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    bad = [m for m, (ok, total, _) in verdicts.items() if total == 0 or ok != total]
    return 1 if bad else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("dir")
    g.add_argument("--runs", type=int, required=True)
    g.add_argument("--messages", type=int, required=True)
    g.add_argument("--warmup", type=int, required=True)
    g.add_argument("--signer", required=True)
    g.add_argument("--key", required=True)
    g.add_argument("--key-zone", required=True)
    c = sub.add_parser("chain")
    c.add_argument("dkim_jsonl")
    c.add_argument("plan_in")
    c.add_argument("dir")
    c.add_argument("plan_out")
    s = sub.add_parser("summary")
    s.add_argument("out")
    s.add_argument("delay_ms", type=float)
    a = p.parse_args()
    if a.cmd == "gen":
        gen(a)
    elif a.cmd == "chain":
        chain(a)
    else:
        sys.exit(summary(a))


if __name__ == "__main__":
    main()
