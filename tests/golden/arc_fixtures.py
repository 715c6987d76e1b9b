#!/usr/bin/python3
"""Builds the ARC golden cases (tests/golden/dmarc/arc-*/) with dkimpy (python3-dkim):
a mailing-list round trip (issue 18).

  1. alice@example.com (p=reject) sends a message DKIM-signed by example.com;
  2. the list lists.example.org rewrites the Subject, adds a footer (which breaks
     example.com's signature), records what it saw in Authentication-Results, seals
     (dkim.arc_sign: ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results i=1)
     and sends from its own bounce address: SPF passes for lists.example.org, which does
     not align with example.com;
  3. mailwarden (enforce mode) receives it from the list's address.

Run with /usr/bin/python3 (the Debian python that has python3-dkim), from anywhere:
    /usr/bin/python3 tests/golden/arc_fixtures.py
then `MW_GOLDEN_UPDATE=1 make check TESTS=tests/golden/dmarc_golden.py` and review. Keys
are made afresh each run (openssl), so every run changes the messages and zones; the
`want` files (hand-written intent) do not change. Signature times are fixed just before
the goldens' --now (1700000000).
"""
import os
import subprocess
import tempfile
import time

import dkim

NOW = 1700000000
SIGNED_AT = NOW - 600
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dmarc")
ARGS = ("--client-ip 192.0.2.50\n--helo mail.lists.example.org\n"
        "--mail-from list-bounces@lists.example.org\n--rcpt rcpt@dest.example\n")


def keypair(bits=2048):
    with tempfile.TemporaryDirectory() as d:
        key = os.path.join(d, "k.pem")
        subprocess.run(["openssl", "genrsa", "-out", key, str(bits)], check=True,
                       capture_output=True)
        pub = subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        with open(key, "rb") as f:
            priv = f.read()
    import base64
    return priv, base64.b64encode(pub).decode()


def txt(name, value):
    # One TXT record split into 200-octet character-strings (RFC 1035 §3.3.14).
    parts = [value[i:i + 200] for i in range(0, len(value), 200)]
    return "%s IN TXT ( %s )\n" % (name, " ".join('"%s"' % p for p in parts))


def original(author_key):
    msg = (b"From: Alice <alice@example.com>\r\n"
           b"To: list@lists.example.org\r\n"
           b"Subject: meeting notes\r\n"
           b"Date: Tue, 14 Nov 2023 22:00:00 +0000\r\n"
           b"Message-ID: <arc-golden-1@example.com>\r\n"
           b"\r\n"
           b"The notes are attached in spirit.\r\n")
    real_time = time.time
    time.time = lambda: SIGNED_AT - 60  # dkim.sign has no timestamp argument
    try:
        sig = dkim.sign(msg, b"sel", b"example.com", author_key,
                        include_headers=[b"From", b"To", b"Subject", b"Date", b"Message-ID"])
    finally:
        time.time = real_time
    return sig + msg


def through_list(msg, list_key, saw):
    head, body = msg.split(b"\r\n\r\n", 1)
    head = head.replace(b"Subject: meeting notes", b"Subject: [team] meeting notes")
    body += b"-- \r\nteam mailing list: https://lists.example.org/team\r\n"
    ar = b"Authentication-Results: lists.example.org; " + saw + b"\r\n"
    msg = ar + head + b"\r\n\r\n" + body
    seal = dkim.arc_sign(msg, b"arc", b"lists.example.org", list_key, b"lists.example.org",
                         timestamp=SIGNED_AT)
    # The list keeps its own Authentication-Results out of what it sends (the AAR
    # carries them); the seal covers the fields below it, not that one.
    return b"".join(seal) + msg[len(ar):]


def write_case(name, comment, message, zone, config, want):
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "message.eml"), "wb") as f:
        f.write(message.replace(b"\r\n", b"\n"))
    with open(os.path.join(d, "zone"), "w") as f:
        f.write("; " + comment + " (tests/golden/arc_fixtures.py)\n$TTL 300\n" + zone)
    with open(os.path.join(d, "args"), "w") as f:
        f.write(ARGS)
    with open(os.path.join(d, "config.yaml"), "w") as f:
        f.write(config)
    with open(os.path.join(d, "want"), "w") as f:
        f.write(want + "\n")


def main():
    author_priv, author_pub = keypair()
    list_priv, list_pub = keypair()
    zone = ("example.com. IN TXT \"v=spf1 ip4:198.51.100.1 -all\"\n"
            "_dmarc.example.com. IN TXT \"v=DMARC1; p=reject\"\n"
            + txt("sel._domainkey.example.com.", "v=DKIM1; k=rsa; p=" + author_pub)
            + "lists.example.org. IN TXT \"v=spf1 ip4:192.0.2.50 -all\"\n"
            + txt("arc._domainkey.lists.example.org.", "v=DKIM1; k=rsa; p=" + list_pub)
            + "lists.example.org.arc-trust.example. IN A 127.0.0.2\n")
    msg = original(author_priv)
    saw_pass = (b"dkim=pass header.d=example.com header.s=sel;\r\n\tspf=pass "
                b"smtp.mailfrom=alice@example.com;\r\n\tdmarc=pass header.from=example.com")
    listed = through_list(msg, list_priv, saw_pass)
    enforce = "dmarc:\n  mode: enforce\n"
    trusted = enforce + "arc:\n  trusted_sealers: [lists.example.org]\n"

    write_case("arc-list-trusted", "the list is trusted: p=reject not applied",
               listed, zone, trusted, "result=fail policy=reject action=accept")
    write_case("arc-list-untrusted", "the same message, nobody trusted: rejected",
               listed, zone, enforce, "result=fail policy=reject action=reject")
    write_case("arc-list-trusted-zone", "trusted through arc.trusted_zone",
               listed, zone, enforce + "arc:\n  trusted_zone: arc-trust.example\n",
               "result=fail policy=reject action=accept")
    write_case("arc-list-trusted-monitor", "monitor mode: local_policy, not the ARC override",
               listed, zone, "arc:\n  trusted_sealers: [lists.example.org]\n",
               "result=fail policy=reject action=accept")
    altered = listed.replace(b"team mailing list", b"TEAM mailing list")
    write_case("arc-list-altered-after-seal", "body changed after the seal: arc=fail, rejected",
               altered, zone, trusted, "result=fail policy=reject action=reject")
    saw_fail = (b"dkim=fail header.d=example.com header.s=sel;\r\n\tspf=fail "
                b"smtp.mailfrom=alice@example.com;\r\n\tdmarc=fail header.from=example.com")
    write_case("arc-list-saw-fail", "the trusted list saw a failure too: rejected",
               through_list(msg, list_priv, saw_fail), zone, trusted,
               "result=fail policy=reject action=reject")
    saw_dkim = b"dkim=pass header.d=mail.example.com header.s=sel"
    write_case("arc-list-saw-aligned-dkim", "the list saw only a DKIM pass of a subdomain "
               "(relaxed alignment)", through_list(msg, list_priv, saw_dkim), zone, trusted,
               "result=fail policy=reject action=accept")
    write_case("arc-list-key-timeout", "the sealer's key times out: DMARC temperror policy",
               listed, zone + ";@timeout arc._domainkey.lists.example.org.\n", trusted,
               "result=fail policy=reject action=tempfail")
    write_case("arc-list-key-timeout-untrusted", "the same timeout, nobody trusted: the "
               "policy applies", listed, zone + ";@timeout arc._domainkey.lists.example.org.\n",
               enforce, "result=fail policy=reject action=reject")


if __name__ == "__main__":
    main()
