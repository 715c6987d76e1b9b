#!/usr/bin/python3
"""mw_arcchain.py -- ARC chains built with dkimpy, for the ARC tests and the ARC bench
(issue 18). Run it with /usr/bin/python3 (Debian's, with python3-dkim, python3-authres
and python3-nacl), not a pyenv python3.

  mw_arcchain.py --keys tests/keys --out DIR [--timestamp T]
      writes the mailing-list round trip of issue 18 into DIR:
        original.eml       From author@author.example, DKIM-signed d=author.example
                           (rsa-sha256, relaxed/relaxed), a text body of about 4 KB
        list.eml           what lists.example.org forwards: its Authentication-Results
                           (spf, dkim, dmarc pass for author.example), Subject
                           "[list] ...", a footer appended to the body, then its ARC set
                           i=1 (cv=none). author.example's DKIM signature no longer
                           verifies (Subject and body changed). To be sent with MAIL
                           FROM list-bounces@lists.example.org.
        list-tampered.eml  list.eml with a body line altered after the seal
        two-hop.eml        list.eml with relay.example's Authentication-Results
                           (arc=pass) and its ARC set i=2 (cv=pass)
        arc.example.zone, arc.example.org.zone
                           the key, SPF and DMARC records (the same text as
                           `mw_arcchain.py zone`)
      Every signature carries t=T (default 1767225600, 2026-01-01T00:00:00Z) and RSA
      PKCS#1 v1.5 signatures are deterministic, so the same keys give the same bytes.

  mw_arcchain.py zone --keys tests/keys --origin example.|example.org.
      prints the zone of that origin (tests/integration/arc.example.zone and
      arc.example.org.zone are this output, committed)

  mw_arcchain.py verify FILE --zone ZONEFILE [--zone ZONEFILE]...
      prints dkimpy's arc_verify result and its verdict on the first DKIM-Signature,
      "cv=pass|fail|none instances=N dkim=pass|fail|none reason=...", with TXT records
      from the zone files only (no network). Exit 0 whatever the cv;
      2 on a usage or file error.

Files are written with CRLF line ends (what dkimpy's ARC signer produces in any case).
"""

import argparse
import os
import re
import subprocess
import sys

try:
    import dkim
except ImportError:  # the caller (arc_chain_test.sh) skips on this exit code
    print("mw_arcchain.py: no dkim module in " + sys.executable + " (apt-get install python3-dkim)",
          file=sys.stderr)
    sys.exit(77)

SELECTOR = b"sel"
AUTHOR = b"author.example"
LIST = b"lists.example.org"
RELAY = b"relay.example"
DEFAULT_TIMESTAMP = 1767225600
KEY_FILES = {AUTHOR: "arc-author.example.pem", LIST: "arc-lists.example.org.pem",
             RELAY: "arc-relay.example.pem"}

# The fields the author's DKIM signature and the ARC-Message-Signatures cover. Fixed
# here (not dkimpy's default list) so the signatures do not depend on its version.
DKIM_HEADERS = [b"from", b"to", b"subject", b"date", b"message-id", b"mime-version",
                b"content-type"]
AMS_HEADERS = DKIM_HEADERS + [b"list-id"]  # dkimpy refuses DKIM-Signature in h=

PARAGRAPHS = [
    "Thanks to everyone who came to Thursday's meeting. Here is a summary of what we "
    "agreed, so that those who could not attend can comment before the plan is final.",
    "First, the migration of the mail relays. The two old relays will stay in service "
    "until the end of the month; the new pair takes the traffic of the secondary MX "
    "from Monday, and the primary a week later if the queue graphs look normal. Each "
    "step can be undone by changing the MX preference back, which takes effect within "
    "the TTL of one hour.",
    "Second, filtering. Authentication results stay in monitor mode during the "
    "migration. We will compare the verdicts of the old and new relays for a week and "
    "only then switch DMARC to enforcement. Mailing lists and forwarders are the known "
    "risk: their messages fail alignment, so we will rely on ARC seals from the "
    "forwarders we trust and review the list of trusted sealers every quarter.",
    "Third, monitoring. The dashboards get three new panels: messages per verdict, the "
    "end-of-message latency at the 50th and 99th percentiles, and DNS lookups that "
    "timed out. An alert fires when the 99th percentile stays above two seconds for ten "
    "minutes, or when more than one percent of lookups time out.",
    "Fourth, documentation. The runbook gains a section on rolling back a configuration "
    "change, with the exact commands, and the on-call rota is updated for the two "
    "weeks of the migration. Please check that your phone number is current.",
    "Open questions: whether the new relays should keep the old ones' TLS certificates "
    "until the switch (simpler for pinning partners) or start with their own (cleaner), "
    "and who owns the weekly report once the migration is over. Replies to the list, "
    "please, by Wednesday.",
    "Regards,\nAlice",
]


def crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def body_text():
    """About 4 KB of plain text: the paragraphs, wrapped at 72 columns, then a quoted
    copy of the first ones until the size is reached (as replies often carry)."""
    def wrap(p):
        out, line = [], ""
        for word in p.split(" "):
            if "\n" in word:
                head, tail = word.split("\n", 1)
                out.append((line + " " + head).strip())
                line = tail
                continue
            if len(line) + 1 + len(word) > 72:
                out.append(line)
                line = word
            else:
                line = (line + " " + word).strip()
        out.append(line)
        return "\n".join(out)
    text = "\n\n".join(wrap(p) for p in PARAGRAPHS) + "\n"
    quoted = ["", "On Monday, Bob wrote:"]
    i = 0
    while len(text) + sum(len(q) + 1 for q in quoted) < 3900:
        quoted += ["> " + l for l in wrap(PARAGRAPHS[1 + i % 5]).split("\n")] + [">"]
        i += 1
    return text + "\n".join(quoted) + "\n"


def read_key(keys, domain):
    with open(os.path.join(keys, KEY_FILES[domain]), "rb") as f:
        return f.read()


def split_message(msg):
    """(header block including its final CRLF, body) of a CRLF message."""
    eoh = msg.index(b"\r\n\r\n")
    return msg[:eoh + 2], msg[eoh + 4:]


def original(keys):
    head = (
        "From: Alice Author <author@author.example>\n"
        "To: Team List <team@lists.example.org>\n"
        "Subject: Plan for the relay migration\n"
        "Date: Thu, 01 Jan 2026 09:00:00 +0000\n"
        "Message-ID: <20260101090000.4711@author.example>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 7bit\n"
        "\n")
    msg = crlf(head + body_text())
    sig = dkim.sign(msg, SELECTOR, AUTHOR, read_key(keys, AUTHOR),
                    canonicalize=(b"relaxed", b"relaxed"), include_headers=DKIM_HEADERS)
    return sig + msg


def list_forward(keys, orig, timestamp):
    """What the list does (issue 18): records what it verified, rewrites the Subject,
    adds its headers and a footer, then seals as instance 1."""
    head, body = split_message(orig)
    head = head.replace(b"Subject: Plan for", b"Subject: [list] Plan for")
    head = (crlf(
        "Authentication-Results: lists.example.org; spf=pass smtp.mailfrom=author.example;\n"
        " dkim=pass header.d=author.example; dmarc=pass header.from=author.example\n"
        "Received: from mail.author.example (mail.author.example [192.0.2.10])\n"
        "\tby lists.example.org with ESMTPS; Thu, 01 Jan 2026 09:00:02 +0000\n")
        + head + crlf(
        "List-Id: Team List <team.lists.example.org>\n"
        "List-Post: <mailto:team@lists.example.org>\n"
        "List-Unsubscribe: <mailto:team-leave@lists.example.org>\n"))
    body += crlf("\n--\nteam mailing list -- team@lists.example.org\n"
                 "To unsubscribe send an email to team-leave@lists.example.org\n")
    msg = head + b"\r\n" + body
    return seal(msg, keys, LIST, timestamp)


def seal(msg, keys, domain, timestamp):
    arc_set = dkim.arc_sign(msg, SELECTOR, domain, read_key(keys, domain), domain,
                            include_headers=AMS_HEADERS, timestamp=timestamp)
    if not arc_set:
        raise SystemExit("mw_arcchain.py: dkimpy made no ARC set for " + domain.decode())
    return b"".join(arc_set) + msg


def relay_forward(keys, listed, timestamp):
    ar = crlf("Authentication-Results: relay.example; arc=pass (i=1)\n"
              " smtp.remote-ip=127.0.0.1 header.oldest-pass=1;\n"
              " spf=pass smtp.mailfrom=lists.example.org; dkim=fail header.d=author.example\n")
    return seal(ar + listed, keys, RELAY, timestamp)


def tamper(listed):
    head, body = split_message(listed)
    altered = body.replace(b"takes effect within", b"takes effect after", 1)
    if altered == body:
        raise SystemExit("mw_arcchain.py: the tampering found nothing to change")
    return head + b"\r\n" + altered


def public_key_b64(keys, domain):
    """p= of the key record: the base64 DER SubjectPublicKeyInfo (RFC 6376 §3.6.1),
    as tests/keys/README makes it."""
    der = subprocess.run(["openssl", "pkey", "-in", os.path.join(keys, KEY_FILES[domain]),
                          "-pubout", "-outform", "DER"], check=True, capture_output=True).stdout
    import base64
    return base64.b64encode(der).decode("ascii")


def txt_strings(value, width=200):
    return " ".join('"%s"' % value[i:i + width] for i in range(0, len(value), width))


def zone_text(keys, origin):
    def key(domain, rel):
        return "%s IN TXT ( %s )\n" % (
            rel, txt_strings("v=DKIM1; k=rsa; p=" + public_key_b64(keys, domain)))
    out = [
        "; The records of the ARC mailing-list chains (tests/integration/mw_arcchain.py zone\n",
        "; --keys tests/keys --origin %s; regenerate rather than edit). One zone per file,\n" % origin,
        "; SOA first, absolute $ORIGIN: nsd serves it, ZoneResolver reads it. The private\n",
        "; Postfix of the integration tests sends from 127.0.0.1; 192.0.2.10 is the author's\n",
        "; own outbound server, which the test never is.\n",
        "$ORIGIN %s\n$TTL 300\n" % origin,
        "@ IN SOA ns1 hostmaster ( 2026010101 3600 900 604800 300 )\n",
        "  IN NS ns1\nns1 IN A 127.0.0.1\n",
    ]
    if origin == "example.":
        out += [
            "; the author: DKIM key (tests/keys/arc-author.example.pem), SPF, p=reject\n",
            'author IN TXT "v=spf1 ip4:192.0.2.10 -all"\n',
            '_dmarc.author IN TXT "v=DMARC1; p=reject"\n',
            key(AUTHOR, "sel._domainkey.author"),
            "; the second sealer (tests/keys/arc-relay.example.pem)\n",
            'relay IN TXT "v=spf1 ip4:127.0.0.1 -all"\n',
            key(RELAY, "sel._domainkey.relay"),
        ]
    elif origin == "example.org.":
        out += [
            "; the list: its sealing key (tests/keys/arc-lists.example.org.pem) and SPF for\n",
            "; MAIL FROM list-bounces@lists.example.org from the private Postfix\n",
            'lists IN TXT "v=spf1 ip4:127.0.0.1 -all"\n',
            key(LIST, "sel._domainkey.lists"),
        ]
    else:
        raise SystemExit("mw_arcchain.py: --origin is example. or example.org.")
    return "".join(out)


# --- verify: TXT records from zone files -------------------------------------------

def zone_tokens(text):
    """Tokens of an RFC 1035 master file, one list per logical record (parentheses
    joined, comments dropped); quoted strings keep their quotes."""
    records, cur, depth = [], [], 0
    for line in text.splitlines():
        starts_blank = line[:1] in (" ", "\t")
        toks = re.findall(r'"(?:[^"\\]|\\.)*"|[()]|;.*|[^\s()";]+', line)
        toks = [t for t in toks if not t.startswith(";")]
        if depth == 0 and cur:
            records.append(cur)
            cur = []
        if depth == 0 and toks and starts_blank:
            cur.append("")  # owner omitted: the previous one
        for t in toks:
            if t == "(":
                depth += 1
            elif t == ")":
                depth -= 1
            else:
                cur.append(t)
    if cur:
        records.append(cur)
    return records


def load_txt(paths):
    txt = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        origin, owner = ".", None
        for rec in zone_tokens(text):
            if rec[0] == "$ORIGIN":
                origin = rec[1] if rec[1].endswith(".") else rec[1] + "."
                continue
            if rec[0].startswith("$"):
                continue
            name = rec[0]
            if name == "":
                name = owner
            elif name == "@":
                name = origin
            elif not name.endswith("."):
                name = name + "." + origin
            owner = name
            rest = [t for t in rec[1:] if t.upper() != "IN" and not t.isdigit()]
            if rest and rest[0].upper() == "TXT":
                value = "".join(s[1:-1].replace('\\"', '"') for s in rest[1:])
                txt.setdefault(name.lower().rstrip("."), []).append(value.encode("utf-8"))
    return txt


def verify(path, zones):
    txt = load_txt(zones)

    def dnsfunc(name, timeout=5):
        key = name.decode("ascii").lower().rstrip(".") if isinstance(name, bytes) else name
        found = txt.get(key.lower().rstrip("."))
        return found[0] if found else None

    with open(path, "rb") as f:
        msg = f.read()
    cv, results, reason = dkim.arc_verify(msg, dnsfunc=dnsfunc)
    # arc_verify returns None (not CV_None) for a chain an earlier sealer declared
    # failed (a cv=fail seal): that chain's status is fail (RFC 8617 §5.2 step 2).
    cv = cv.decode("ascii") if isinstance(cv, bytes) else ("fail" if results else "none")
    # The first DKIM-Signature, as dkimpy verifies it: shows that the list broke the
    # author's signature (Subject and body changed) while the chain still passes.
    has_dkim = re.search(rb"(?im)^dkim-signature:", msg) is not None
    sig = ("pass" if dkim.verify(msg, dnsfunc=dnsfunc) else "fail") if has_dkim else "none"
    print("cv=%s instances=%d dkim=%s reason=%s" % (cv, len(results), sig, reason))


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("verify", "zone"):
        cmd = sys.argv[1]
        ap = argparse.ArgumentParser(prog="mw_arcchain.py " + cmd)
        if cmd == "verify":
            ap.add_argument("file")
            ap.add_argument("--zone", action="append", required=True)
            a = ap.parse_args(sys.argv[2:])
            try:
                verify(a.file, a.zone)
            except OSError as e:
                print("mw_arcchain.py: %s" % e, file=sys.stderr)
                return 2
            return 0
        ap.add_argument("--keys", required=True)
        ap.add_argument("--origin", required=True)
        a = ap.parse_args(sys.argv[2:])
        sys.stdout.write(zone_text(a.keys, a.origin))
        return 0

    ap = argparse.ArgumentParser(prog="mw_arcchain.py")
    ap.add_argument("--keys", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--timestamp", type=int, default=DEFAULT_TIMESTAMP)
    a = ap.parse_args()
    # dkim.sign() has no timestamp parameter (arc_sign has one) and stamps t= from
    # time.time() of its own module: give that module a clock of our own so the
    # original's signature is as reproducible as the seals.
    dkim.time = type("FixedTime", (), {"time": staticmethod(lambda: a.timestamp)})
    os.makedirs(a.out, exist_ok=True)
    orig = original(a.keys)
    listed = list_forward(a.keys, orig, a.timestamp)
    files = {
        "original.eml": orig,
        "list.eml": listed,
        "list-tampered.eml": tamper(listed),
        "two-hop.eml": relay_forward(a.keys, listed, a.timestamp),
        "arc.example.zone": zone_text(a.keys, "example.").encode("utf-8"),
        "arc.example.org.zone": zone_text(a.keys, "example.org.").encode("utf-8"),
    }
    for name, data in files.items():
        with open(os.path.join(a.out, name), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
