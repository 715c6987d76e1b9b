#!/usr/bin/env python3
"""DMARC golden tests: each tests/golden/dmarc/<case>/ folder is one message through the
real `mailwarden check` binary, offline.

A case holds:
  message.eml   the message
  zone          an RFC 1035 master file (with the failure pragmas of dns/zone.h:
                ;@timeout ;@servfail ;@refused ;@notimp ;@formerr ;@malformed)
  args          envelope options for `mailwarden check`, one per line (shell quoting)
  config.yaml   optional: appended to base.yaml (a dmarc: section)
  want          hand-written intent: "result=R policy=P action=A" (policy "-" = none;
                result "-" = DMARC did not run, "dmarc": null: a bypass skipped it)
  expected.json the golden output: the Authentication-Results value byte for byte, the
                JSON dkim list (DMARC's DKIM input, recorded also when a reject or
                tempfail leaves no Authentication-Results), dmarc object (with its
                override), arc object, action, reply and rules
  The arc-* cases (a mailing-list round trip) are made by arc_fixtures.py.

Both `want` and expected.json must match. MW_GOLDEN_UPDATE=1 rewrites expected.json
(review the diff: `want` is never rewritten). MW_BIN names the binary (default
./mailwarden, the build tree). Prints "N passed, N failed"; exit 1 on any failure.
"""
import json
import os
import shlex
import subprocess
import sys
import tempfile

from golden_support import case_root, run_all

NOW = "1700000000"


def run_case(binary, root, name, update):
    d = os.path.join(root, name)
    with open(os.path.join(root, "base.yaml"), "rb") as f:
        config = f.read()
    extra = os.path.join(d, "config.yaml")
    if os.path.exists(extra):
        with open(extra, "rb") as f:
            config += b"\n" + f.read()
    with tempfile.NamedTemporaryFile(suffix=".yaml", delete=False) as tmp:
        tmp.write(config)
        cfg = tmp.name
    try:
        with open(os.path.join(d, "args")) as f:
            args = [a for line in f if line.strip() for a in shlex.split(line)]
        cmd = [binary, "check", "-c", cfg, "--dns-zone", os.path.join(d, "zone"), "--now", NOW,
               "--json"] + args + [os.path.join(d, "message.eml")]
        p = subprocess.run(cmd, capture_output=True, timeout=30)
    finally:
        os.unlink(cfg)
    if p.returncode != 0:
        return "exit %d: %s" % (p.returncode, p.stderr.decode(errors="replace").strip())
    out = json.loads(p.stdout)
    ar = [h["value"] for h in out["headers"]
          if h.get("op") == "prepend" and h.get("name") == "Authentication-Results"]
    got = {
        "authentication_results": ar[0] if ar else None,
        "dkim": out["dkim"],
        "dmarc": out["dmarc"],
        "arc": out["arc"],
        "action": out["action"],
        "reply": out["reply"],
        "rules": out["rules"],
    }
    problems = []
    with open(os.path.join(d, "want")) as f:
        want = dict(kv.split("=", 1) for line in f if not line.startswith("#") for kv in line.split())
    dm = out["dmarc"] or {}
    if (dm.get("result") or "-") != want["result"]:
        problems.append("result %s, want %s" % (dm.get("result"), want["result"]))
    if (dm.get("policy") or "-") != want["policy"]:
        problems.append("policy %s, want %s" % (dm.get("policy"), want["policy"]))
    if out["action"] != want["action"]:
        problems.append("action %s, want %s" % (out["action"], want["action"]))
    exp_path = os.path.join(d, "expected.json")
    if update:
        with open(exp_path, "w") as f:
            json.dump(got, f, indent=2, ensure_ascii=False)
            f.write("\n")
    try:
        with open(exp_path) as f:
            expected = json.load(f)
    except OSError:
        problems.append("no expected.json (MW_GOLDEN_UPDATE=1 writes it)")
        return "; ".join(problems)
    for key in got:
        if got[key] != expected.get(key):
            problems.append("%s: got %s, golden %s" % (key, json.dumps(got[key]),
                                                       json.dumps(expected.get(key))))
    return "; ".join(problems)


def main():
    return run_all("dmarc", case_root("dmarc"), run_case, skip=())


if __name__ == "__main__":
    sys.exit(main())
