// tests/unit/report/samples.cpp — see samples.h.
#include "samples.h"

namespace mw::report::testing {

const std::string kHostile =
    std::string("<evil a=\"1\" b='2'>&amp;]]></feedback>\x01\x1b\x7f") + '\0' +
    "\xff\xc3(\xed\xa0\x80 tail\r\n";

namespace {

ReportMeta meta(std::string id, PolicyPublished policy) {
  ReportMeta m;
  m.org_name = "mx.example.net";
  m.email = "dmarc-reports@example.net";
  m.report_id = std::move(id);
  m.begin = 1767225600;  // 2026-01-01T00:00:00Z
  m.end = 1767225600 + 86399;
  m.generator = "mailwarden test";
  m.policy = std::move(policy);
  return m;
}

Record base(const PolicyPublished& policy) {
  Record r;
  r.header_from = policy.domain;
  r.source_ip = "192.0.2.10";
  r.policy = policy;
  r.disposition = Disposition::Pass;
  r.dkim_aligned = Aligned::Pass;
  r.spf_aligned = Aligned::Pass;
  r.dkim = {{policy.domain, "s2026", DkimResult::Pass}};
  r.spf = SpfAuth{policy.domain, SpfScope::MailFrom, SpfResult::Pass};
  r.envelope_from = policy.domain;
  r.envelope_to = "example.net";
  return r;
}

}  // namespace

std::vector<Sample> samples() {
  std::vector<Sample> out;

  PolicyPublished pass_policy;
  pass_policy.domain = "example.com";
  pass_policy.p = Policy::Reject;
  out.push_back({"pass", meta("pass-1", pass_policy), {{base(pass_policy), 123}}});

  // Failing under each published policy, every alignment mode and the optional tags.
  for (const Policy p : {Policy::None, Policy::Quarantine, Policy::Reject}) {
    PolicyPublished pol;
    pol.domain = "fail.example.org";
    pol.p = p;
    pol.sp = Policy::Quarantine;
    pol.np = Policy::Reject;
    pol.adkim = Alignment::Strict;
    pol.aspf = Alignment::Strict;
    pol.testing = p == Policy::Quarantine;
    Record r = base(pol);
    r.disposition = p == Policy::None ? Disposition::None
                    : p == Policy::Quarantine ? Disposition::Quarantine
                                              : Disposition::Reject;
    r.dkim_aligned = Aligned::Fail;
    r.spf_aligned = Aligned::Fail;
    r.dkim = {{"other.example", "sel", DkimResult::Fail}};
    r.spf = SpfAuth{"bounce.other.example", SpfScope::MailFrom, SpfResult::SoftFail};
    Record v6 = r;
    v6.source_ip = "2001:db8::25";
    Record v6b = r;
    v6b.source_ip = "2001:db8:85a3::8a2e:370:7334";
    v6b.spf = SpfAuth{"bounce.other.example", SpfScope::MailFrom, SpfResult::TempError};
    out.push_back({"fail-" + std::string(toString(p)), meta("fail-" + std::string(toString(p)), pol),
                   {{r, 5}, {v6, 1}, {v6b, 7}}});
  }

  // Overrides of each type; several DKIM signatures with every result; no SPF; HELO scope.
  PolicyPublished list_policy;
  list_policy.domain = "lists.example.com";
  list_policy.p = Policy::Reject;
  list_policy.discovery = Discovery::Psl;
  Record forwarded = base(list_policy);
  forwarded.source_ip = "198.51.100.7";
  forwarded.disposition = Disposition::None;
  forwarded.dkim_aligned = Aligned::Fail;
  forwarded.spf_aligned = Aligned::Fail;
  forwarded.overrides = {{OverrideType::MailingList, "arc=pass as.list.example i=1"},
                         {OverrideType::TrustedForwarder, ""},
                         {OverrideType::LocalPolicy, "dmarc.exceptions"},
                         {OverrideType::PolicyTestMode, "t=y"},
                         {OverrideType::Other, "reason"}};
  forwarded.dkim = {{"lists.example.com", "a", DkimResult::Pass},
                    {"list.example", "b", DkimResult::Fail},
                    {"third.example", "c", DkimResult::Neutral},
                    {"fourth.example", "d", DkimResult::Policy},
                    {"fifth.example", "e", DkimResult::TempError},
                    {"sixth.example", "f", DkimResult::PermError},
                    {"seventh.example", "g", DkimResult::None}};
  Record nospf = forwarded;
  nospf.spf.reset();
  nospf.envelope_from.clear();
  nospf.envelope_to.clear();
  Record helo = forwarded;
  helo.spf = SpfAuth{"mx.list.example", SpfScope::Helo, SpfResult::Neutral};
  out.push_back({"overrides", meta("overrides", list_policy), {{forwarded, 2}, {nospf, 3}, {helo, 4}}});

  // Hostile strings everywhere the schema has free text.
  PolicyPublished hostile_policy;
  hostile_policy.domain = kHostile;
  Record hostile = base(hostile_policy);
  hostile.header_from = kHostile;
  hostile.source_ip = kHostile;
  hostile.overrides = {{OverrideType::Other, kHostile}};
  hostile.dkim = {{kHostile, kHostile, DkimResult::Fail}};
  hostile.spf = SpfAuth{kHostile, SpfScope::MailFrom, SpfResult::PermError};
  hostile.envelope_from = kHostile;
  hostile.envelope_to = kHostile;
  ReportMeta hm = meta(kHostile, hostile_policy);
  hm.org_name = kHostile;
  hm.email = kHostile;
  hm.extra_contact_info = kHostile;
  hm.generator = kHostile;
  out.push_back({"hostile", hm, {{hostile, 1}}});

  // Every SPF result, one row each.
  PolicyPublished spf_policy = pass_policy;
  std::vector<Row> spf_rows;
  for (const SpfResult s : {SpfResult::None, SpfResult::Pass, SpfResult::Fail, SpfResult::SoftFail,
                            SpfResult::Policy, SpfResult::Neutral, SpfResult::TempError,
                            SpfResult::PermError}) {
    Record r = base(spf_policy);
    r.spf->result = s;
    spf_rows.push_back({r, 1});
  }
  out.push_back({"spf-results", meta("spf-results", spf_policy), spf_rows});
  return out;
}

}  // namespace mw::report::testing
