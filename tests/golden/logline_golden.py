#!/usr/bin/env python3
"""Log line golden tests (issue 19 point 2): each tests/golden/logline/<case>/ folder is
one message through the real `mailwarden check --log` binary, offline, once with
`log.format: text` and once with `log.format: json`; the line it writes to stderr is
compared with the case's goldens.

Shared by every case (tests/golden/logline/):
  base.yaml     the configuration (the runner appends the log: section under test)
  zone          the DNS zone (--dns-zone)
  rules/        the content rules (rules.directories)
A case holds:
  message.eml   the message
  args          envelope options for `mailwarden check`, one per line (shell quoting);
                "\\r", "\\n" and "\\xHH" in them are turned into those bytes first, so
                hostile envelope values (CR, LF, 8-bit) reach the binary as they are
  config.yaml   optional: appended to base.yaml
  want          hand-written intent, fields the text line must contain ("action=tag")
  expected.txt  the text line after "CHECK: scan: ", ms=... replaced by ms=MS
  expected.json the JSON object, "ms" replaced by null

Checked beyond the goldens: exactly one line per format, the text line printable ASCII
without TAB, every field key=value; the JSON line printable ASCII, parsed back by
python3's json, an object, at most 4096 bytes. MW_GOLDEN_UPDATE=1 rewrites
expected.txt/expected.json (review the diff: `want` is never rewritten). MW_BIN names
the binary (default ./mailwarden). Prints "N passed, N failed"; exit 1 on any failure.
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

from golden_support import case_root, run_all

NOW = "1700000000"
MAX_LINE = 4096


def unescape(arg):
    """"\\r", "\\n", "\\t" and "\\xHH" in an args file become those bytes."""
    out = bytearray()
    b = arg.encode()
    i = 0
    while i < len(b):
        if b[i:i + 2] == b"\\r":
            out += b"\r"; i += 2
        elif b[i:i + 2] == b"\\n":
            out += b"\n"; i += 2
        elif b[i:i + 2] == b"\\t":
            out += b"\t"; i += 2
        elif b[i:i + 2] == b"\\x" and re.fullmatch(rb"[0-9A-Fa-f]{2}", b[i + 2:i + 4]):
            out.append(int(b[i + 2:i + 4], 16)); i += 4
        else:
            out.append(b[i]); i += 1
    return bytes(out)


def run(binary, root, d, fmt):
    with open(os.path.join(root, "base.yaml"), "rb") as f:
        config = f.read()
    config += b"\nrules:\n  directories: [\"%s\"]\n" % os.path.join(
        os.path.abspath(root), "rules").encode()
    config += b"log:\n  target: stderr\n  level: warn\n  format: %s\n" % fmt.encode()
    extra = os.path.join(d, "config.yaml")
    if os.path.exists(extra):
        with open(extra, "rb") as f:
            config += b"\n" + f.read()
    with tempfile.NamedTemporaryFile(suffix=".yaml", delete=False) as tmp:
        tmp.write(config)
        cfg = tmp.name
    try:
        with open(os.path.join(d, "args")) as f:
            args = [unescape(a) for line in f if line.strip() and not line.startswith("#")
                    for a in shlex.split(line)]
        cmd = [binary.encode(), b"check", b"-c", cfg.encode(), b"--dns-zone",
               os.path.join(root, "zone").encode(), b"--now", NOW.encode(), b"--log"] + args + [
                   os.path.join(d, "message.eml").encode()]
        p = subprocess.run(cmd, capture_output=True, timeout=30)
    finally:
        os.unlink(cfg)
    if p.returncode != 0:
        return None, "exit %d: %s" % (p.returncode, p.stderr.decode(errors="replace").strip())
    return p.stderr, None


def printable_ascii(line):
    return all(0x20 <= c < 0x7F for c in line)


def check_text(stderr, problems):
    lines = [l for l in stderr.split(b"\n") if b": scan: " in l]
    if len(lines) != 1:
        problems.append("text: %d scan lines in %r" % (len(lines), stderr))
        return None
    line = lines[0]
    if not printable_ascii(line):
        problems.append("text: not printable ASCII: %r" % line)
    if len(line) > MAX_LINE + 100:
        problems.append("text: %d bytes" % len(line))
    rest = line.split(b"CHECK: scan: ", 1)[1].decode("ascii", errors="replace")
    for field in rest.split(" "):
        if not re.fullmatch(r"[a-z_]+=\S*", field):
            problems.append("text: not key=value: %r" % field)
    return re.sub(r" ms=[0-9]+\.[0-9] ", " ms=MS ", rest)


def check_json(stderr, problems):
    lines = [l for l in stderr.split(b"\n") if l.startswith(b"{")]
    others = [l for l in stderr.split(b"\n") if l and not l.startswith(b"{")]
    if len(lines) != 1:
        problems.append("json: %d JSON lines in %r" % (len(lines), stderr))
        return None
    # Other lines (warnings) keep the text form; none may be the message's line.
    bad = [l for l in others if not l.startswith(b"mailwarden: ") or b": scan: action=" in l]
    if bad:
        problems.append("json: other stderr lines: %r" % bad)
    line = lines[0]
    if not printable_ascii(line):
        problems.append("json: not printable ASCII: %r" % line)
    if len(line) > MAX_LINE:
        problems.append("json: %d bytes" % len(line))
    try:
        obj = json.loads(line)
    except ValueError as e:
        problems.append("json: does not parse: %s: %r" % (e, line))
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("ms"), (int, float)):
        problems.append("json: not an object with a number ms: %r" % line)
        return None
    obj["ms"] = None
    return obj


def compare(path, got, update, problems, what, load, dump):
    if update:
        with open(path, "w") as f:
            dump(got, f)
    try:
        with open(path) as f:
            golden = load(f)
    except OSError:
        problems.append("no %s (MW_GOLDEN_UPDATE=1 writes it)" % os.path.basename(path))
        return
    if got != golden:
        problems.append("%s:\n  got    %s\n  golden %s" % (what, got, golden))


def run_case(binary, root, name, update):
    d = os.path.join(root, name)
    problems = []
    err, fail = run(binary, root, d, "text")
    if fail:
        return fail
    text = check_text(err, problems)
    err, fail = run(binary, root, d, "json")
    if fail:
        return fail
    obj = check_json(err, problems)
    if text is None or obj is None:
        return "; ".join(problems)
    with open(os.path.join(d, "want")) as f:
        for want in (w for line in f if not line.startswith("#") for w in line.split()):
            if (" " + want + " ") not in (" " + text + " ") and not re.search(
                    r"(^| )" + re.escape(want), text):
                problems.append("text line lacks %s" % want)
    compare(os.path.join(d, "expected.txt"), text, update, problems, "text",
            lambda f: f.read().rstrip("\n"), lambda v, f: f.write(v + "\n"))
    compare(os.path.join(d, "expected.json"), obj, update, problems, "json", json.load,
            lambda v, f: (json.dump(v, f, indent=2, ensure_ascii=True), f.write("\n")))
    return "; ".join(problems)


def main():
    return run_all("logline", case_root("logline"), run_case, skip=("rules",))


if __name__ == "__main__":
    sys.exit(main())
