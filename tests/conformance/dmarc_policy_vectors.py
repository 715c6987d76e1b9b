#!/usr/bin/env python3
"""Writes tests/conformance/dmarc-policy-vectors.yaml (ours): DMARC policy discovery
vectors for RFC 9989, read by tests/conformance/dmarc_suite.

    python3 tests/conformance/dmarc_policy_vectors.py > tests/conformance/dmarc-policy-vectors.yaml

Sections:
  rfc9989_appendix_b4  the three examples of RFC 9989 Appendix B.4 (the RFC names the
                       records but not their tags; the tags here are ours)
  policy_discovery     every placement of records on one tree walk - at the author
                       domain, an intermediate domain (with and without psd=n), the
                       organizational domain, a PSD with psd=y - for an author domain
                       with its own record, one that exists and one that does not
                       (NXDOMAIN); the p/sp/np fallbacks at an organizational domain and
                       at a PSD; psd=y/psd=n in unusual places; t=y; broken, duplicate
                       and unreachable records on the walk.

The layout matrix and the fallbacks are computed here by `expect()`, written from the
RFC text and independent of the C++ code: RFC 9989 §4.10.1 (policy: the Author Domain's
record, else its Organizational Domain's, else its PSD's; p for the Author Domain's own
record, else sp for an existing author domain, np for a non-existent one, falling back to
sp, then p), §4.10.2 (organizational domain: the walk stops at psd=n or psd=y; psd=n: that
domain; psd=y, not at the start: one label below; else the record with the fewest labels;
no record: the domain itself), §3.2.13 and Appendix A.4 (non-existent = NXDOMAIN; a
NODATA answer means the name exists), §4.7 t=y (one level lower). The other scenarios
carry hand-written expectations.

Each scenario: `section`, `id`, `description`, `spec`, `zone` (an RFC 1035 master file
with absolute names; the driver adds `$TTL 300`; ZoneResolver pragmas ;@timeout and
;@servfail), optional `orgs` (domain -> expected organizational domain), and `tests`:
`from`, optional `spf` / `dkim` (`result domain`), and the expectations `result`
(none, pass, fail, temperror, permerror), `policy_domain` (where the applied record is,
"-" for none), `org_domain` (of `from`, "temperror" when the walk failed), `policy` (the
policy applied after p/sp/np and t=, "-" without a usable record; the value of
`check --json` `dmarc.policy`), optional `aligned_by` and `txt_queries` (the _dmarc
names asked, in order).
"""
import sys

POLICY = ("none", "quarantine", "reject")


def tags(txt):
    out = {}
    for part in txt.split(";")[1:]:
        part = part.strip()
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def walk_names(domain):
    labels = domain.split(".")
    names = [domain]
    n = len(labels)
    if n > 8:
        n = 8
    while n > 1 and len(names) < 8:
        n -= 1
        names.append(".".join(labels[-n:]))
    return names


def org_domain(domain, recs):
    """(organizational domain, PSD name or None) per RFC 9989 §4.10, §4.10.2."""
    found = []
    for n in walk_names(domain):
        if n in recs:
            found.append(n)
            if tags(recs[n]).get("psd") in ("y", "n"):
                break
    if not found:
        return domain, None
    last = found[-1]
    psd = tags(recs[last]).get("psd")
    if psd == "n":
        return last, None
    if psd == "y" and last != domain:
        below = domain.split(".")[-(len(last.split(".")) + 1):]
        return ".".join(below), last
    return last, None


def lower(p):
    return {"reject": "quarantine", "quarantine": "none", "none": "none"}[p]


def expect(author, recs, exists):
    """(policy_domain, policy, org_domain) per RFC 9989 §4.10.1, §4.7."""
    org, psd = org_domain(author, recs)
    if author in recs:
        dom = author
    elif org != author and org in recs:
        dom = org
    else:
        dom = psd
    if dom is None:
        return "-", "-", org
    t = tags(recs[dom])
    if dom == author:
        pol = t.get("p", "none")
    else:
        pol = t.get("sp", t.get("p", "none"))
        if not exists:
            pol = t.get("np", pol)
    if t.get("t") == "y":
        pol = lower(pol)
    return dom, pol, org


def zone_text(recs, extra=()):
    lines = ['_dmarc.%s. IN TXT "%s"' % (n, v) for n, v in recs.items()]
    return "\n".join(lines + list(extra)) + "\n"


def generated_test(author, recs, exists, note):
    dom, pol, org = expect(author, recs, exists)
    return {
        "from": author,
        "note": note,
        "result": "fail" if dom != "-" else "none",
        "policy_domain": dom,
        "org_domain": org,
        "policy": pol,
    }


def layout_matrix():
    """Records at the author (own.*), an intermediate domain, the organizational domain and
    a PSD, in every combination; three authors per zone."""
    own = "v=DMARC1; p=quarantine; sp=none; np=reject"
    inter = "v=DMARC1; p=none; sp=quarantine; np=reject"
    org = "v=DMARC1; p=reject; sp=none; np=quarantine"
    psd = "v=DMARC1; p=quarantine; sp=reject; np=none; psd=y"
    out = []
    for i_kind in ("none", "record", "psd=n"):
        for o in (False, True):
            for p in (False, True):
                recs = {"own.news.example.org": own}
                if i_kind == "record":
                    recs["news.example.org"] = inter
                elif i_kind == "psd=n":
                    recs["news.example.org"] = inter + "; psd=n"
                if o:
                    recs["example.org"] = org
                if p:
                    recs["org"] = psd
                ident = "I-%s.O-%s.P-%s" % (i_kind.replace("=", ""), "yes" if o else "no",
                                              "yes" if p else "no")
                where = ["intermediate news.example.org: %s" % i_kind,
                         "organizational example.org: %s" % ("record" if o else "none"),
                         "PSD org: %s" % ("psd=y" if p else "none")]
                out.append({
                    "section": "policy_discovery",
                    "id": "layout." + ident,
                    "description": "; ".join(where),
                    "spec": "RFC 9989 §4.10.1, §4.10.2, §4.7 (p, sp, np)",
                    "zone": zone_text(recs, ["own.news.example.org. IN A 192.0.2.1",
                                             "a.news.example.org. IN A 192.0.2.2"]),
                    "tests": [
                        generated_test("own.news.example.org", recs, True,
                                       "the author's own record: p"),
                        generated_test("a.news.example.org", recs, True,
                                       "an existing author domain without a record: sp"),
                        generated_test("b.news.example.org", recs, False,
                                       "a non-existent author domain (NXDOMAIN): np"),
                    ],
                })
    return out


def fallback_matrix():
    """p/sp/np present or absent, at an organizational domain and at a PSD."""
    out = []
    for tagset in (("p",), ("p", "sp"), ("p", "np"), ("p", "sp", "np")):
        value = {"p": "reject", "sp": "quarantine", "np": "none"}
        body = "; ".join("%s=%s" % (t, value[t]) for t in tagset)
        name = "-".join(tagset)
        recs = {"example.com": "v=DMARC1; " + body}
        out.append({
            "section": "policy_discovery",
            "id": "fallback.org." + name,
            "description": "organizational domain record with %s" % body,
            "spec": "RFC 9989 §4.7 (p, sp, np), §4.10.1",
            "zone": zone_text(recs, ["example.com. IN A 192.0.2.1",
                                     "www.example.com. IN A 192.0.2.2"]),
            "tests": [
                generated_test("example.com", recs, True, "the record's own domain: p"),
                generated_test("www.example.com", recs, True, "existing subdomain"),
                generated_test("gone.example.com", recs, False, "non-existent subdomain"),
            ],
        })
        recs = {"example": "v=DMARC1; " + body + "; psd=y"}
        out.append({
            "section": "policy_discovery",
            "id": "fallback.psd." + name,
            "description": "PSD record (psd=y) with %s, no record below it" % body,
            "spec": "RFC 9989 §4.7 (p, sp, np, psd), §4.10.1",
            "zone": zone_text(recs, ["bank.example. IN A 192.0.2.1",
                                     "www.bank.example. IN A 192.0.2.2"]),
            "tests": [
                generated_test("bank.example", recs, True,
                               "an organization without a record: the PSD's"),
                generated_test("www.bank.example", recs, True, "existing, deeper"),
                generated_test("gone.bank.example", recs, False, "non-existent"),
                generated_test("nowhere.example", recs, False, "non-existent organization"),
            ],
        })
    return out


def hand_written():
    return [
        {
            "section": "policy_discovery",
            "id": "issue16.department-p-none",
            "description": "a department's p=none does not shield the names below it from "
                           "its organization's p=reject",
            "spec": "RFC 9989 §4.10.1, §4.10.2 (fewest labels), §4.7 (sp absent: p)",
            "zone": '_dmarc.news.example.org. IN TXT "v=DMARC1; p=none"\n'
                    '_dmarc.example.org. IN TXT "v=DMARC1; p=reject"\n'
                    'a.news.example.org. IN A 192.0.2.1\n',
            "tests": [
                {"from": "a.news.example.org", "result": "fail",
                 "policy_domain": "example.org", "org_domain": "example.org",
                 "policy": "reject",
                 "txt_queries": ["a.news.example.org", "news.example.org", "example.org", "org"]},
                {"from": "news.example.org", "result": "fail", "policy_domain": "news.example.org",
                 "org_domain": "example.org", "policy": "none",
                 "note": "its own record: p=none"},
                {"from": "example.org", "result": "fail", "policy_domain": "example.org",
                 "org_domain": "example.org", "policy": "reject"},
                {"from": "a.news.example.org", "spf": "pass news.example.org", "result": "pass",
                 "policy_domain": "example.org", "org_domain": "example.org",
                 "policy": "reject", "aligned_by": "spf",
                 "note": "relaxed: same organizational domain"},
            ],
        },
        {
            "section": "policy_discovery",
            "id": "psd-y.intermediate",
            "description": "psd=y at an intermediate name: the name below it is the "
                           "organizational domain; without a record of its own the PSD's "
                           "record applies",
            "spec": "RFC 9989 §4.10 step 6, §4.10.2 step 2, §4.10.1",
            "zone": '_dmarc.news.example.org. IN TXT "v=DMARC1; p=none; sp=quarantine; psd=y"\n'
                    '_dmarc.example.org. IN TXT "v=DMARC1; p=reject"\n'
                    'a.news.example.org. IN A 192.0.2.1\n',
            "tests": [
                {"from": "a.news.example.org", "result": "fail",
                 "policy_domain": "news.example.org", "org_domain": "a.news.example.org",
                 "policy": "quarantine",
                 "txt_queries": ["a.news.example.org", "news.example.org"]},
                {"from": "news.example.org", "result": "fail", "policy_domain": "news.example.org",
                 "org_domain": "news.example.org", "policy": "none",
                 "note": "psd=y at the start: its own organizational domain, its own p"},
            ],
        },
        {
            "section": "policy_discovery",
            "id": "psd-n.author",
            "description": "psd=n at the author domain and below it",
            "spec": "RFC 9989 §4.7 (psd=n), §4.10.2 step 1",
            "zone": '_dmarc.dept.example.com. IN TXT "v=DMARC1; p=none; psd=n"\n'
                    '_dmarc.example.com. IN TXT "v=DMARC1; p=reject"\n',
            "tests": [
                {"from": "dept.example.com", "result": "fail", "policy_domain": "dept.example.com",
                 "org_domain": "dept.example.com", "policy": "none",
                 "txt_queries": ["dept.example.com"]},
                {"from": "x.dept.example.com", "result": "fail",
                 "policy_domain": "dept.example.com", "org_domain": "dept.example.com",
                 "policy": "none"},
                {"from": "other.example.com", "result": "fail", "policy_domain": "example.com",
                 "org_domain": "example.com", "policy": "reject"},
            ],
        },
        {
            "section": "policy_discovery",
            "id": "t-y.organizational",
            "description": "t=y on the organizational domain's record lowers the sp it supplies",
            "spec": "RFC 9989 §4.7 (t), §4.10.1",
            "zone": '_dmarc.news.example.org. IN TXT "v=DMARC1; p=none"\n'
                    '_dmarc.example.org. IN TXT "v=DMARC1; p=none; sp=reject; t=y"\n'
                    'a.news.example.org. IN A 192.0.2.1\n',
            "tests": [
                {"from": "a.news.example.org", "result": "fail", "policy_domain": "example.org",
                 "org_domain": "example.org", "policy": "quarantine"},
                {"from": "news.example.org", "result": "fail", "policy_domain": "news.example.org",
                 "org_domain": "example.org", "policy": "none"},
            ],
        },
        {
            "section": "policy_discovery",
            "id": "nodata-exists",
            "description": "an author domain that answers NODATA exists: sp, not np",
            "spec": "RFC 9989 §3.2.13, Appendix A.4",
            "zone": '_dmarc.example.com. IN TXT "v=DMARC1; p=none; sp=quarantine; np=reject"\n'
                    'txtonly.example.com. IN TXT "hello"\n'
                    'leaf.parent.example.com. IN A 192.0.2.1\n',
            "tests": [
                {"from": "txtonly.example.com", "result": "fail", "policy_domain": "example.com",
                 "org_domain": "example.com", "policy": "quarantine",
                 "note": "records, but no A, AAAA or MX"},
                {"from": "parent.example.com", "result": "fail", "policy_domain": "example.com",
                 "org_domain": "example.com", "policy": "quarantine",
                 "note": "an empty non-terminal"},
                {"from": "gone.example.com", "result": "fail", "policy_domain": "example.com",
                 "org_domain": "example.com", "policy": "reject"},
            ],
        },
        {
            "section": "policy_discovery",
            "id": "invalid.intermediate",
            "description": "a broken record (bad p, no rua) at an intermediate name does not "
                           "hide the organizational domain's record",
            "spec": "RFC 9989 §4.10.1, §4.10.2",
            "zone": '_dmarc.news.example.com. IN TXT "v=DMARC1; p=bogus"\n'
                    '_dmarc.example.com. IN TXT "v=DMARC1; p=reject"\n'
                    'a.news.example.com. IN A 192.0.2.1\n',
            "tests": [
                {"from": "a.news.example.com", "result": "fail", "policy_domain": "example.com",
                 "org_domain": "example.com", "policy": "reject"},
                {"from": "news.example.com", "result": "permerror",
                 "policy_domain": "news.example.com", "org_domain": "example.com",
                 "policy": "-", "note": "its own record is unusable: no DMARC processing"},
            ],
        },
        {
            "section": "policy_discovery",
            "id": "invalid.organizational",
            "description": "the organizational domain's record is broken (bad p, no rua): no "
                           "DMARC processing, even below a department with a usable record",
            "spec": "RFC 9989 §4.10.1 (invalid p), §4.10.2",
            "zone": '_dmarc.news.example.net. IN TXT "v=DMARC1; p=none"\n'
                    '_dmarc.example.net. IN TXT "v=DMARC1; p=bogus"\n'
                    '_dmarc.rua.example. IN TXT "v=DMARC1; p=bogus; rua=mailto:d@rua.example"\n'
                    'a.news.example.net. IN A 192.0.2.1\n'
                    'a.rua.example. IN A 192.0.2.1\n',
            "tests": [
                {"from": "a.news.example.net", "result": "permerror",
                 "policy_domain": "example.net", "org_domain": "example.net", "policy": "-"},
                {"from": "a.rua.example", "result": "fail", "policy_domain": "rua.example",
                 "org_domain": "rua.example", "policy": "none",
                 "note": "with a valid rua the record reads as p=none"},
            ],
        },
        {
            "section": "policy_discovery",
            "id": "duplicate.organizational",
            "description": "two records at the organizational domain are discarded; the "
                           "intermediate record is then the one with the fewest labels",
            "spec": "RFC 9989 §4.10 step 6, §4.10.2 step 3",
            "zone": '_dmarc.news.example.edu. IN TXT "v=DMARC1; p=quarantine"\n'
                    '_dmarc.example.edu. IN TXT "v=DMARC1; p=reject"\n'
                    '_dmarc.example.edu. IN TXT "v=DMARC1; p=none"\n'
                    'a.news.example.edu. IN A 192.0.2.1\n',
            "tests": [
                {"from": "a.news.example.edu", "result": "fail",
                 "policy_domain": "news.example.edu", "org_domain": "news.example.edu",
                 "policy": "quarantine"},
            ],
        },
        {
            "section": "policy_discovery",
            "id": "temperror.walk",
            "description": "a DNS failure on the walk above a found record: the "
                           "organizational domain, and so the policy, is not known",
            "spec": "RFC 9989 §4.10.1 (DNS errors: the receiver's choice; ours: temperror)",
            "zone": '_dmarc.news.example.org. IN TXT "v=DMARC1; p=none"\n'
                    ';@servfail _dmarc.example.org. TXT\n'
                    'a.news.example.org. IN A 192.0.2.1\n',
            "tests": [
                {"from": "a.news.example.org", "result": "temperror", "policy_domain": "-",
                 "org_domain": "temperror", "policy": "-"},
                {"from": "news.example.org", "result": "fail", "policy_domain": "news.example.org",
                 "org_domain": "temperror", "policy": "none",
                 "note": "its own record: p, no walk needed"},
            ],
        },
    ]


def appendix_b4():
    b41 = ('_dmarc.example.com. IN TXT "v=DMARC1; p=reject"\n'
           '_dmarc.signing.example.com. IN TXT "v=DMARC1; p=none"\n')
    deep = "a.b.c.d.e.f.g.h.i.j.k.example.com"
    return [
        {
            "section": "rfc9989_appendix_b4",
            "id": "B.4.1",
            "description": "Simple Organizational and Policy Example",
            "spec": "RFC 9989 Appendix B.4.1",
            "zone": b41,
            "orgs": {"example.com": "example.com", "signing.example.com": "example.com"},
            "tests": [
                {"from": "example.com", "spf": "pass example.com",
                 "dkim": ["pass signing.example.com"], "result": "pass",
                 "policy_domain": "example.com", "org_domain": "example.com",
                 "policy": "reject"},
                {"from": "example.com", "spf": "fail example.com",
                 "dkim": ["pass signing.example.com"], "result": "pass",
                 "policy_domain": "example.com", "org_domain": "example.com",
                 "policy": "reject", "aligned_by": "dkim"},
                {"from": "example.com", "spf": "fail example.com",
                 "dkim": ["fail signing.example.com"], "result": "fail",
                 "policy_domain": "example.com", "org_domain": "example.com",
                 "policy": "reject"},
            ],
        },
        {
            "section": "rfc9989_appendix_b4",
            "id": "B.4.2",
            "description": "Deep Tree Walk Example",
            "spec": "RFC 9989 Appendix B.4.2, §4.10 steps 3-4",
            "zone": b41 + "%s. IN A 192.0.2.1\n" % deep,
            "orgs": {deep: "example.com", "example.com": "example.com",
                     "signing.example.com": "example.com"},
            "tests": [
                {"from": deep, "spf": "pass example.com", "result": "pass",
                 "policy_domain": "example.com", "org_domain": "example.com",
                 "policy": "reject", "aligned_by": "spf"},
                {"from": deep, "spf": "fail example.com", "dkim": ["pass signing.example.com"],
                 "result": "pass", "policy_domain": "example.com", "org_domain": "example.com",
                 "policy": "reject", "aligned_by": "dkim"},
                {"from": deep, "spf": "fail example.com", "dkim": ["fail signing.example.com"],
                 "result": "fail", "policy_domain": "example.com", "org_domain": "example.com",
                 "policy": "reject",
                 "txt_queries": [deep, "g.h.i.j.k.example.com", "h.i.j.k.example.com",
                                 "i.j.k.example.com", "j.k.example.com", "k.example.com",
                                 "example.com", "com"]},
            ],
        },
        {
            "section": "rfc9989_appendix_b4",
            "id": "B.4.3",
            "description": "Example with a PSD DMARC Policy Record",
            "spec": "RFC 9989 Appendix B.4.3",
            "zone": '_dmarc.bank.example. IN TXT "v=DMARC1; p=reject; psd=y"\n'
                    '_dmarc.giant.bank.example. IN TXT "v=DMARC1; p=quarantine"\n'
                    'mail.giant.bank.example. IN A 192.0.2.1\n'
                    'mail.mega.bank.example. IN A 192.0.2.2\n',
            "orgs": {"giant.bank.example": "giant.bank.example",
                     "mail.giant.bank.example": "giant.bank.example",
                     "mail.mega.bank.example": "mega.bank.example"},
            "tests": [
                {"from": "giant.bank.example", "spf": "pass mail.giant.bank.example",
                 "dkim": ["pass mail.mega.bank.example"], "result": "pass",
                 "policy_domain": "giant.bank.example", "org_domain": "giant.bank.example",
                 "policy": "quarantine", "aligned_by": "spf"},
                {"from": "giant.bank.example", "spf": "fail mail.giant.bank.example",
                 "dkim": ["pass mail.mega.bank.example"], "result": "fail",
                 "policy_domain": "giant.bank.example", "org_domain": "giant.bank.example",
                 "policy": "quarantine", "note": "DKIM is not aligned across the PSD"},
                {"from": "mega.bank.example", "result": "fail", "policy_domain": "bank.example",
                 "org_domain": "mega.bank.example", "policy": "reject",
                 "note": "not in B.4.3: an organization without a record gets the PSD's"},
            ],
        },
    ]


def q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def emit(scenarios, out):
    out.write("# DMARC policy discovery vectors (RFC 9989) - ours, generated by\n"
              "# tests/conformance/dmarc_policy_vectors.py (its docstring says how to read\n"
              "# them); edit that script, not this file. Read by tests/conformance/dmarc_suite.\n"
              "scenarios:\n")
    for s in scenarios:
        out.write("  - section: %s\n    id: %s\n    description: %s\n    spec: %s\n"
                  % (s["section"], q(s["id"]), q(s["description"]), q(s["spec"])))
        out.write("    zone: |\n")
        for line in s["zone"].splitlines():
            out.write("      %s\n" % line)
        if "orgs" in s:
            out.write("    orgs:\n")
            for k, v in s["orgs"].items():
                out.write("      %s: %s\n" % (q(k), q(v)))
        out.write("    tests:\n")
        for t in s["tests"]:
            first = True
            for key in ("from", "spf", "dkim", "result", "policy_domain", "org_domain",
                        "policy", "aligned_by", "txt_queries", "note"):
                if key not in t:
                    continue
                v = t[key]
                val = "[" + ", ".join(q(x) for x in v) + "]" if isinstance(v, list) else q(v)
                out.write("      %s %s: %s\n" % ("-" if first else " ", key, val))
                first = False


def main():
    scenarios = appendix_b4() + hand_written() + layout_matrix() + fallback_matrix()
    emit(scenarios, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
