#!/usr/bin/env python3
"""mw_msgtool.py -- message helpers for the integration tests (stdlib only).

  mw_msgtool.py crlf IN OUT
      Copy IN to OUT with every line ending made CRLF (LF or CRLF in IN), and a
      final CRLF added if IN does not end with one. Test messages are written
      in the shell with LF and turned into wire form with this.

  mw_msgtool.py wire IN OUT
      IN is a message in wire form (every line ends in CRLF, no bare CR or LF).
      Write OUT = IN with SMTP transparency applied (a line starting with "."
      gets one more "." in front) followed by a single ".". Sent with
      `swaks --no-data-fixup --data @OUT`, which appends CRLF, the server sees
      exactly IN followed by the end-of-data marker. Exits 1 if IN is not in
      wire form.

  mw_msgtool.py attachment OUT --seed N --bytes N [--from A] [--to A] [--subject S]
      Write a MIME message in wire form with one application/octet-stream part
      carrying N pseudo-random bytes (random.Random(seed), so the same seed
      gives the same message on every run) base64-encoded in 76-column lines.

  mw_msgtool.py compare SENT CAPTURED [--prepended NAME]... [--expect-prepended N]
                        [--added NAME]...
      Check that CAPTURED is SENT with only whole header fields named NAME
      (default: Received) added in front. The leading NAME fields of CAPTURED
      are stripped, but never more than CAPTURED has in excess of SENT's own
      leading NAME fields, and the remainder must equal SENT byte for byte.
      Prints the stripped fields. With --expect-prepended, the number of
      stripped fields must be exactly N. --added NAME also drops fields named
      NAME anywhere in the header unless SENT has the same field verbatim (for
      headers a milter appends). Exit 0 on match, 1 otherwise (with the first
      differing offset and both sides around it).
"""

import argparse
import base64
import random
import re
import sys


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def cmd_crlf(args):
    data = read(args.input).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    write(args.output, data)
    return 0


def wire_problem(data):
    """Returns why DATA is not in wire form (CRLF line ends only), or None."""
    if not data.endswith(b"\r\n"):
        return "does not end with CRLF"
    bare_lf = re.search(rb"(?<!\r)\n", data)
    if bare_lf:
        return f"bare LF at byte {bare_lf.start()}"
    bare_cr = re.search(rb"\r(?!\n)", data)
    if bare_cr:
        return f"bare CR at byte {bare_cr.start()}"
    return None


def cmd_wire(args):
    data = read(args.input)
    problem = wire_problem(data)
    if problem:
        sys.stderr.write(f"mw_msgtool wire: {args.input}: not in wire form: {problem}\n")
        return 1
    lines = data.split(b"\r\n")[:-1]
    out = b"".join((b"." + ln if ln.startswith(b".") else ln) + b"\r\n" for ln in lines)
    write(args.output, out + b".")
    return 0


def cmd_attachment(args):
    rng = random.Random(args.seed)
    payload = rng.randbytes(args.bytes)
    b64 = base64.b64encode(payload)
    body_lines = [b64[i:i + 76] for i in range(0, len(b64), 76)]
    boundary = f"mw-boundary-{args.seed}"
    head = (
        f"From: {args.sender}\r\n"
        f"To: {args.rcpt}\r\n"
        f"Subject: {args.subject}\r\n"
        f"Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
        f"Message-ID: <attachment-{args.seed}-{args.bytes}@test.example>\r\n"
        f"MIME-Version: 1.0\r\n"
        f"Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n"
        f"\r\n"
        f"This is a multi-part message in MIME format.\r\n"
        f"--{boundary}\r\n"
        f"Content-Type: text/plain; charset=us-ascii\r\n"
        f"\r\n"
        f"{args.bytes} pseudo-random bytes, seed {args.seed}.\r\n"
        f"--{boundary}\r\n"
        f"Content-Type: application/octet-stream\r\n"
        f"Content-Transfer-Encoding: base64\r\n"
        f"Content-Disposition: attachment; filename=\"random-{args.seed}.bin\"\r\n"
        f"\r\n"
    ).encode("ascii")
    tail = f"--{boundary}--\r\n".encode("ascii")
    write(args.output, head + b"\r\n".join(body_lines) + b"\r\n" + tail)
    return 0


def leading_fields(data):
    """Splits the header into fields; returns a list of (name, bytes) up to the blank line."""
    fields = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n", pos)
        if end < 0 or end == pos:  # no line end, or the empty line ending the header
            break
        line_end = end + 2
        while data[line_end:line_end + 1] in (b" ", b"\t"):  # folded continuation
            nxt = data.find(b"\r\n", line_end)
            if nxt < 0:
                break
            line_end = nxt + 2
        name = data[pos:end].split(b":", 1)[0].strip().lower()
        fields.append((name, data[pos:line_end]))
        pos = line_end
    return fields


def count_leading(fields, names):
    n = 0
    for name, _ in fields:
        if name not in names:
            break
        n += 1
    return n


def printable(raw):
    return raw.decode("utf-8", "replace").rstrip("\r\n").replace("\r\n", "\n  ")


def drop_added(got, sent, names):
    """Removes header fields named in NAMES that SENT's header does not have verbatim."""
    sent_raw = {raw for _, raw in leading_fields(sent)}
    fields = leading_fields(got)
    header_len = sum(len(raw) for _, raw in fields)
    kept = []
    for name, raw in fields:
        if name in names and raw not in sent_raw:
            sys.stdout.write("  added: " + printable(raw) + "\n")
            continue
        kept.append(raw)
    return b"".join(kept) + got[header_len:]


def show(data, pos):
    lo, hi = max(0, pos - 60), pos + 60
    return repr(data[lo:hi])


def cmd_compare(args):
    sent, got = read(args.sent), read(args.captured)
    names = {n.lower().encode("ascii") for n in (args.prepended or ["Received"])}
    got_fields = leading_fields(got)
    excess = count_leading(got_fields, names) - count_leading(leading_fields(sent), names)
    strip = max(0, excess)
    stripped = got_fields[:strip]
    offset = sum(len(raw) for _, raw in stripped)
    rest = got[offset:]
    for _, raw in stripped:
        sys.stdout.write("  stripped: " + printable(raw) + "\n")
    if args.added:
        rest = drop_added(rest, sent, {n.lower().encode("ascii") for n in args.added})
    ok = True
    if args.expect_prepended is not None and strip != args.expect_prepended:
        sys.stdout.write(f"  FAIL: {strip} prepended field(s), want {args.expect_prepended}\n")
        ok = False
    if rest != sent:
        ok = False
        diff = next((i for i, (a, b) in enumerate(zip(rest, sent)) if a != b),
                    min(len(rest), len(sent)))
        sys.stdout.write(
            f"  FAIL: content differs: captured (after {offset} stripped bytes) has {len(rest)}"
            f" bytes, sent has {len(sent)}; first difference at byte {diff}\n"
            f"    sent:     {show(sent, diff)}\n"
            f"    captured: {show(rest, diff)}\n")
    else:
        sys.stdout.write(f"  identical: {len(sent)} bytes after {offset} stripped bytes\n")
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("crlf")
    c.add_argument("input")
    c.add_argument("output")
    c.set_defaults(fn=cmd_crlf)
    w = sub.add_parser("wire")
    w.add_argument("input")
    w.add_argument("output")
    w.set_defaults(fn=cmd_wire)
    a = sub.add_parser("attachment")
    a.add_argument("output")
    a.add_argument("--seed", type=int, required=True)
    a.add_argument("--bytes", type=int, required=True)
    a.add_argument("--from", dest="sender", default="sender@origin.test.example")
    a.add_argument("--to", dest="rcpt", default="rcpt@dest.test.example")
    a.add_argument("--subject", default="attachment")
    a.set_defaults(fn=cmd_attachment)
    m = sub.add_parser("compare")
    m.add_argument("sent")
    m.add_argument("captured")
    m.add_argument("--prepended", action="append")
    m.add_argument("--expect-prepended", type=int)
    m.add_argument("--added", action="append")
    m.set_defaults(fn=cmd_compare)
    args = p.parse_args()
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
