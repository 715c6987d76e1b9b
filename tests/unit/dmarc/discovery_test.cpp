// Tests of dmarc/dmarc.h over a ZoneResolver: the DNS Tree Walk (names, the 8-query
// bound, the long-name reduction), policy discovery, organizational domains with psd=,
// np/sp/t selection, alignment, evaluation, author domains.
#include "mailwarden/dmarc/dmarc.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "mailwarden/dns/zone.h"

namespace mw::dmarc {
namespace {

// Records every name asked, then asks the zone.
class Recording final : public dns::Resolver {
 public:
  explicit Recording(dns::Resolver& inner) : inner_(inner) {}
  dns::Answer query(std::string_view name, dns::Type type, const dns::Budget& b) override {
    asked.emplace_back(name);
    return inner_.query(name, type, b);
  }
  std::vector<std::string> asked;

 private:
  dns::Resolver& inner_;
};

using V = std::vector<std::string>;
// The identifier results of evaluate(), short enough for a table row.
constexpr IdentifierResult kNone = IdentifierResult::None;
constexpr IdentifierResult kPass = IdentifierResult::Pass;
constexpr IdentifierResult kFail = IdentifierResult::Fail;
constexpr IdentifierResult kTempError = IdentifierResult::TempError;

TEST(TreeWalk, Names) {
  EXPECT_EQ(treeWalkNames("example.com"), (V{"example.com", "com"}));
  EXPECT_EQ(treeWalkNames("com"), V{"com"});
  EXPECT_EQ(treeWalkNames("a.b.c.d.e.f.g.h"),
            (V{"a.b.c.d.e.f.g.h", "b.c.d.e.f.g.h", "c.d.e.f.g.h", "d.e.f.g.h", "e.f.g.h",
               "f.g.h", "g.h", "h"}));
  // 12 labels: the first query, then shortened to the last 7 labels.
  EXPECT_EQ(treeWalkNames("1.2.3.4.5.a.b.c.d.e.f.g"),
            (V{"1.2.3.4.5.a.b.c.d.e.f.g", "a.b.c.d.e.f.g", "b.c.d.e.f.g", "c.d.e.f.g",
               "d.e.f.g", "e.f.g", "f.g", "g"}));
  std::string longest = "x";
  for (int i = 0; i < 100; ++i) {
    longest += ".x";
  }
  EXPECT_EQ(treeWalkNames(longest).size(), static_cast<std::size_t>(kMaxWalkQueries));
}

TEST(TreeWalk, AtMostEightQueriesAndNoRecord) {
  dns::ZoneResolver zone;
  Recording rec(zone);
  const dns::Budget budget = dns::Budget::unlimited();
  Discovery d(rec, budget);
  const std::string deep = "a.b.c.d.e.f.g.h.i.j.example.com";
  const RecordLookup r = d.policyRecord(deep);
  EXPECT_EQ(r.status, LookupStatus::None);
  EXPECT_EQ(rec.asked.size(), 8u);
  EXPECT_EQ(rec.asked[0], "_dmarc.a.b.c.d.e.f.g.h.i.j.example.com");
  EXPECT_EQ(rec.asked[1], "_dmarc.f.g.h.i.j.example.com");
  EXPECT_EQ(rec.asked[7], "_dmarc.com");
  // Cached: the organizational domain walk asks nothing new.
  EXPECT_EQ(d.organizationalDomain(deep).domain, deep);
  EXPECT_EQ(rec.asked.size(), 8u);
}

class Dmarc : public ::testing::Test {
 protected:
  Evaluation eval(const std::string& from, AuthIdentifier spf,
                  std::vector<AuthIdentifier> dkim = {}) {
    Discovery d(zone_, budget_);
    return evaluate(d, from, spf, dkim);
  }
  dns::ZoneResolver zone_;
  dns::Budget budget_ = dns::Budget::unlimited();
};

TEST_F(Dmarc, PolicyFromTheWalkAndSp) {
  zone_.addTxt("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine");
  ASSERT_TRUE(zone_.addA("mail.example.com", "192.0.2.1"));
  Evaluation e = eval("mail.example.com", {kFail, "mail.example.com"});
  EXPECT_EQ(e.result, Result::Fail);
  EXPECT_EQ(e.record_domain, "example.com");
  EXPECT_EQ(e.applied, Policy::Quarantine);
  EXPECT_EQ(summary(e), "p=reject sp=quarantine dis=quarantine");
  e = eval("example.com", {kFail, "example.com"});
  EXPECT_EQ(e.applied, Policy::Reject);
}

TEST_F(Dmarc, NpForNonExistentSubdomain) {
  zone_.addTxt("_dmarc.example.com", "v=DMARC1; p=none; sp=quarantine; np=reject");
  ASSERT_TRUE(zone_.addA("www.example.com", "192.0.2.1"));
  zone_.addEmpty("empty.example.com");
  EXPECT_EQ(eval("nosuch.example.com", {}).applied, Policy::Reject);
  // §3.2.13, Appendix A.4: only NXDOMAIN is non-existent; NODATA means the name exists.
  EXPECT_EQ(eval("empty.example.com", {}).applied, Policy::Quarantine);
  zone_.addTxt("txtonly.example.com", "not an address");
  EXPECT_EQ(eval("txtonly.example.com", {}).applied, Policy::Quarantine);
  ASSERT_TRUE(zone_.addA("leaf.ent.example.com", "192.0.2.2"));
  EXPECT_EQ(eval("ent.example.com", {}).applied, Policy::Quarantine);  // empty non-terminal
  EXPECT_EQ(eval("x.nosuch.example.com", {}).applied, Policy::Reject);
  EXPECT_EQ(eval("www.example.com", {}).applied, Policy::Quarantine);
  zone_.setServfail("slow.example.com");
  EXPECT_EQ(eval("slow.example.com", {}).result, Result::TempError);
}

TEST_F(Dmarc, TestingModeOneLevelLower) {
  zone_.addTxt("_dmarc.r.example", "v=DMARC1; p=reject; t=y");
  zone_.addTxt("_dmarc.q.example", "v=DMARC1; p=quarantine; t=y");
  EXPECT_EQ(eval("r.example", {}).disposition, Policy::Quarantine);
  EXPECT_EQ(eval("q.example", {}).disposition, Policy::None);
}

TEST_F(Dmarc, PsdAndOrganizationalDomain) {
  zone_.addTxt("_dmarc.gov.example", "v=DMARC1; p=reject; psd=y");
  zone_.addTxt("_dmarc.agency.gov.example", "v=DMARC1; p=none");
  const dns::Budget b = dns::Budget::unlimited();
  Discovery d(zone_, b);
  EXPECT_EQ(d.organizationalDomain("mail.agency.gov.example").domain, "agency.gov.example");
  EXPECT_EQ(d.organizationalDomain("x.y.other.gov.example").domain, "other.gov.example");
  EXPECT_EQ(d.organizationalDomain("gov.example").domain, "gov.example");
  // Without records the domain is its own organizational domain.
  EXPECT_EQ(d.organizationalDomain("a.b.unlisted.example").domain, "a.b.unlisted.example");
  // Relaxed alignment across the PSD boundary fails; within one organization it holds.
  EXPECT_EQ(aligned(d, "mail.agency.gov.example", "agency.gov.example", Alignment::Relaxed),
            Aligned::Yes);
  EXPECT_EQ(aligned(d, "agency.gov.example", "other.gov.example", Alignment::Relaxed),
            Aligned::No);
  EXPECT_EQ(aligned(d, "mail.agency.gov.example", "agency.gov.example", Alignment::Strict),
            Aligned::No);
  // A PSD policy applies to an organization without its own record (sp/np of the PSD).
  ASSERT_TRUE(zone_.addA("other.gov.example", "192.0.2.1"));
  Evaluation e = eval("other.gov.example", {kPass, "elsewhere.example"});
  EXPECT_EQ(e.result, Result::Fail);
  EXPECT_EQ(e.record_domain, "gov.example");
  EXPECT_EQ(e.disposition, Policy::Reject);
}

TEST_F(Dmarc, PsdNStopsTheWalk) {
  zone_.addTxt("_dmarc.example.com", "v=DMARC1; p=reject");
  zone_.addTxt("_dmarc.dept.example.com", "v=DMARC1; p=none; psd=n");
  const dns::Budget b = dns::Budget::unlimited();
  Discovery d(zone_, b);
  EXPECT_EQ(d.organizationalDomain("a.dept.example.com").domain, "dept.example.com");
  EXPECT_EQ(d.organizationalDomain("a.example.com").domain, "example.com");
}

// RFC 9989 §4.10.1: the record applied is the Author Domain's, else its Organizational
// Domain's (§4.10.2), else its PSD's; never simply the first one the walk meets (issue 16).
TEST_F(Dmarc, DepartmentRecordDoesNotShieldTheNamesBelowIt) {
  zone_.addTxt("_dmarc.news.example.org", "v=DMARC1; p=none");
  zone_.addTxt("_dmarc.example.org", "v=DMARC1; p=reject");
  ASSERT_TRUE(zone_.addA("a.news.example.org", "192.0.2.1"));
  Recording rec(zone_);
  Discovery d(rec, budget_);
  Evaluation e = evaluate(d, "a.news.example.org", {}, {});
  EXPECT_EQ(e.result, Result::Fail);
  EXPECT_EQ(e.record_domain, "example.org");
  EXPECT_EQ(e.applied, Policy::Reject);
  EXPECT_EQ(e.disposition, Policy::Reject);
  EXPECT_EQ(summary(e), "p=reject sp=reject dis=reject");
  // The whole walk is needed to know the organizational domain (§4.10.2 step 3).
  EXPECT_EQ(rec.asked, (V{"_dmarc.a.news.example.org", "_dmarc.news.example.org",
                          "_dmarc.example.org", "_dmarc.org"}));
  EXPECT_EQ(d.organizationalDomain("a.news.example.org").domain, "example.org");
  // The department itself has its own record: its p.
  e = eval("news.example.org", {});
  EXPECT_EQ(e.record_domain, "news.example.org");
  EXPECT_EQ(e.applied, Policy::None);
}

// Every placement of records on one walk: at the author (own.*), an intermediate name
// (none, a record, a record with psd=n), the organizational domain, a PSD with psd=y; for
// an author with its own record, an existing one (sp) and a non-existent one (np).
TEST_F(Dmarc, PolicyRecordForEveryPlacement) {
  struct Want {
    const char* domain;  // the DMARC Policy Domain, "" for none
    Policy policy;
  };
  struct Layout {
    const char* intermediate;  // "", "record", "psd=n"
    bool org;
    bool psd;
    Want exists;     // a.news.example.org
    Want nxdomain;   // b.news.example.org
  };
  const char* kI = "v=DMARC1; p=none; sp=quarantine; np=reject";
  const char* kO = "v=DMARC1; p=reject; sp=none; np=quarantine";
  const char* kP = "v=DMARC1; p=quarantine; sp=reject; np=none; psd=y";
  const Policy N = Policy::None, Q = Policy::Quarantine, R = Policy::Reject;
  const Layout layouts[] = {
      {"", false, false, {"", N}, {"", N}},
      {"", false, true, {"org", R}, {"org", N}},  // the org domain has no record: the PSD's
      {"", true, false, {"example.org", N}, {"example.org", Q}},
      {"", true, true, {"example.org", N}, {"example.org", Q}},  // not the PSD's (§4.10.1 note)
      {"record", false, false, {"news.example.org", Q}, {"news.example.org", R}},  // fewest labels
      {"record", false, true, {"org", R}, {"org", N}},  // example.org is the org domain, no record
      {"record", true, false, {"example.org", N}, {"example.org", Q}},  // issue 16
      {"record", true, true, {"example.org", N}, {"example.org", Q}},
      {"psd=n", false, false, {"news.example.org", Q}, {"news.example.org", R}},
      {"psd=n", false, true, {"news.example.org", Q}, {"news.example.org", R}},
      {"psd=n", true, false, {"news.example.org", Q}, {"news.example.org", R}},  // stops there
      {"psd=n", true, true, {"news.example.org", Q}, {"news.example.org", R}},
  };
  for (const Layout& l : layouts) {
    dns::ZoneResolver zone;
    zone.addTxt("_dmarc.own.news.example.org", "v=DMARC1; p=quarantine; sp=none; np=reject");
    ASSERT_TRUE(zone.addA("own.news.example.org", "192.0.2.1"));
    ASSERT_TRUE(zone.addA("a.news.example.org", "192.0.2.2"));
    if (std::string(l.intermediate) == "record") {
      zone.addTxt("_dmarc.news.example.org", kI);
    } else if (std::string(l.intermediate) == "psd=n") {
      zone.addTxt("_dmarc.news.example.org", std::string(kI) + "; psd=n");
    }
    if (l.org) {
      zone.addTxt("_dmarc.example.org", kO);
    }
    if (l.psd) {
      zone.addTxt("_dmarc.org", kP);
    }
    const std::string what = std::string("I=") + l.intermediate + " O=" + (l.org ? "y" : "n") +
                             " P=" + (l.psd ? "y" : "n");
    auto check = [&](const std::string& from, const Want& w) {
      Discovery d(zone, budget_);
      const Evaluation e = evaluate(d, from, {}, {});
      if (*w.domain == '\0') {
        EXPECT_EQ(e.result, Result::None) << what << " " << from;
        EXPECT_FALSE(e.record) << what << " " << from;
        return;
      }
      EXPECT_EQ(e.result, Result::Fail) << what << " " << from;
      EXPECT_EQ(e.record_domain, w.domain) << what << " " << from;
      EXPECT_EQ(e.applied, w.policy) << what << " " << from;
    };
    check("own.news.example.org", {"own.news.example.org", Q});  // always its own p
    check("a.news.example.org", l.exists);
    check("b.news.example.org", l.nxdomain);
  }
}

// p/sp/np present or absent, on an organizational domain's record and on a PSD's.
TEST_F(Dmarc, TagFallbacks) {
  const Policy N = Policy::None, Q = Policy::Quarantine, R = Policy::Reject;
  struct Case {
    const char* tags;
    Policy self, sub, gone;
  };
  const Case cases[] = {
      {"p=reject", R, R, R},
      {"p=reject; sp=quarantine", R, Q, Q},
      {"p=reject; np=none", R, R, N},
      {"p=reject; sp=quarantine; np=none", R, Q, N},
  };
  for (const Case& c : cases) {
    dns::ZoneResolver org;
    org.addTxt("_dmarc.example.com", std::string("v=DMARC1; ") + c.tags);
    ASSERT_TRUE(org.addA("www.example.com", "192.0.2.1"));
    dns::ZoneResolver psd;
    psd.addTxt("_dmarc.example", std::string("v=DMARC1; ") + c.tags + "; psd=y");
    ASSERT_TRUE(psd.addA("bank.example", "192.0.2.1"));
    ASSERT_TRUE(psd.addA("www.bank.example", "192.0.2.1"));
    auto applied = [&](dns::Resolver& z, const std::string& from) {
      Discovery d(z, budget_);
      return evaluate(d, from, {}, {}).applied;
    };
    EXPECT_EQ(applied(org, "example.com"), c.self) << c.tags;
    EXPECT_EQ(applied(org, "www.example.com"), c.sub) << c.tags;
    EXPECT_EQ(applied(org, "gone.example.com"), c.gone) << c.tags;
    // A PSD's record applies below it as sp/np, also to the organization's own name.
    EXPECT_EQ(applied(psd, "bank.example"), c.sub) << c.tags;
    EXPECT_EQ(applied(psd, "www.bank.example"), c.sub) << c.tags;
    EXPECT_EQ(applied(psd, "gone.bank.example"), c.gone) << c.tags;
    EXPECT_EQ(applied(psd, "nowhere.example"), c.gone) << c.tags;
  }
}

TEST_F(Dmarc, PsdYAtAnIntermediateName) {
  zone_.addTxt("_dmarc.news.example.org", "v=DMARC1; p=none; sp=quarantine; psd=y");
  zone_.addTxt("_dmarc.example.org", "v=DMARC1; p=reject");
  ASSERT_TRUE(zone_.addA("a.news.example.org", "192.0.2.1"));
  const dns::Budget b = dns::Budget::unlimited();
  Discovery d(zone_, b);
  const OrgDomain o = d.organizationalDomain("a.news.example.org");
  EXPECT_EQ(o.domain, "a.news.example.org");
  EXPECT_EQ(o.psd_domain, "news.example.org");
  const Evaluation e = eval("a.news.example.org", {});
  EXPECT_EQ(e.record_domain, "news.example.org");  // the PSD's record, its sp
  EXPECT_EQ(e.applied, Policy::Quarantine);
}

TEST_F(Dmarc, TestingModeOnTheOrganizationalRecord) {
  zone_.addTxt("_dmarc.news.example.org", "v=DMARC1; p=none");
  zone_.addTxt("_dmarc.example.org", "v=DMARC1; p=none; sp=reject; t=y");
  ASSERT_TRUE(zone_.addA("a.news.example.org", "192.0.2.1"));
  EXPECT_EQ(eval("a.news.example.org", {}).applied, Policy::Quarantine);
}

TEST_F(Dmarc, UnusableRecordsOnTheWalk) {
  // A broken department record is not applied below it; the organization's is.
  zone_.addTxt("_dmarc.news.example.com", "v=DMARC1; p=bogus");
  zone_.addTxt("_dmarc.example.com", "v=DMARC1; p=reject");
  Evaluation e = eval("a.news.example.com", {});
  EXPECT_EQ(e.result, Result::Fail);
  EXPECT_EQ(e.record_domain, "example.com");
  EXPECT_EQ(eval("news.example.com", {}).result, Result::PermError);
  // A broken organizational record is the one applied: no DMARC processing.
  zone_.addTxt("_dmarc.news.example.net", "v=DMARC1; p=none");
  zone_.addTxt("_dmarc.example.net", "v=DMARC1; p=bogus; psd=n");
  e = eval("a.news.example.net", {});
  EXPECT_EQ(e.result, Result::PermError);
  EXPECT_EQ(e.record_domain, "example.net");
  // Two records at the organizational domain: discarded, the department's has the
  // fewest labels left.
  zone_.addTxt("_dmarc.news.example.edu", "v=DMARC1; p=quarantine");
  zone_.addTxt("_dmarc.example.edu", "v=DMARC1; p=reject");
  zone_.addTxt("_dmarc.example.edu", "v=DMARC1; p=none");
  e = eval("a.news.example.edu", {});
  EXPECT_EQ(e.record_domain, "news.example.edu");
  EXPECT_EQ(e.applied, Policy::Quarantine);
  // A DNS failure above the department: the organizational domain is not known.
  zone_.addTxt("_dmarc.news.example.info", "v=DMARC1; p=none");
  zone_.setServfail("_dmarc.example.info");
  EXPECT_EQ(eval("a.news.example.info", {}).result, Result::TempError);
  EXPECT_EQ(eval("news.example.info", {}).result, Result::Fail);  // its own record
}

TEST_F(Dmarc, AppendixB4DeepTreeWalk) {
  // RFC 9989 Appendix B.4.2: eight queries, example.com is the policy domain.
  zone_.addTxt("_dmarc.example.com", "v=DMARC1; p=reject");
  zone_.addTxt("_dmarc.signing.example.com", "v=DMARC1; p=none");
  const std::string deep = "a.b.c.d.e.f.g.h.i.j.k.example.com";
  ASSERT_TRUE(zone_.addA(deep, "192.0.2.1"));
  Recording rec(zone_);
  Discovery d(rec, budget_);
  Evaluation e = evaluate(d, deep, {kFail, "example.com"}, {{kFail, "signing.example.com"}});
  EXPECT_EQ(e.result, Result::Fail);
  EXPECT_EQ(e.record_domain, "example.com");
  EXPECT_EQ(e.applied, Policy::Reject);
  EXPECT_EQ(rec.asked.size(), 8u);
  EXPECT_EQ(rec.asked[1], "_dmarc.g.h.i.j.k.example.com");
  EXPECT_EQ(rec.asked[7], "_dmarc.com");
  e = eval(deep, {kFail, "example.com"}, {{kPass, "signing.example.com"}});
  EXPECT_EQ(e.result, Result::Pass);
  EXPECT_EQ(e.aligned_by, "dkim");
}

TEST_F(Dmarc, Alignment) {
  zone_.addTxt("_dmarc.example.com", "v=DMARC1; p=reject");
  zone_.addTxt("_dmarc.strict.example", "v=DMARC1; p=reject; adkim=s; aspf=s");
  EXPECT_EQ(eval("example.com", {kPass, "bounce.example.com"}).result, Result::Pass);
  EXPECT_EQ(eval("example.com", {kPass, "bounce.example.com"}).aligned_by, "spf");
  EXPECT_EQ(eval("example.com", {kFail, "example.com"}, {{kPass, "mail.example.com"}}).aligned_by,
            "dkim");
  EXPECT_EQ(eval("example.com", {kPass, "example.net"}).result, Result::Fail);
  EXPECT_EQ(eval("strict.example", {kPass, "sub.strict.example"}).result, Result::Fail);
  EXPECT_EQ(eval("strict.example", {kNone, ""}, {{kPass, "sub.strict.example"}}).result,
            Result::Fail);
  EXPECT_EQ(eval("strict.example", {kPass, "STRICT.example"}).result, Result::Pass);
  // A temperror on an identifier that would align: not final.
  EXPECT_EQ(eval("example.com", {kFail, "x.example"}, {{kTempError, "example.com"}}).result,
            Result::TempError);
  EXPECT_EQ(eval("example.com", {kFail, "x.example"}, {{kTempError, "other.example"}}).result,
            Result::Fail);
}

TEST_F(Dmarc, RecordProblems) {
  zone_.addTxt("_dmarc.two.example", "v=DMARC1; p=reject");
  zone_.addTxt("_dmarc.two.example", "v=DMARC1; p=none");
  zone_.addTxt("_dmarc.bad.example", "v=DMARC1; p=bogus");
  zone_.addTxt("_dmarc.other.example", "some other text");
  zone_.setTimeout("_dmarc.slow.example");
  Evaluation e = eval("two.example", {});
  EXPECT_EQ(e.result, Result::None);
  EXPECT_NE(e.problem.find("2 DMARC records"), std::string::npos);
  EXPECT_EQ(eval("bad.example", {}).result, Result::PermError);
  EXPECT_EQ(eval("other.example", {}).result, Result::None);
  EXPECT_EQ(eval("slow.example", {}).result, Result::TempError);
  // A DNS failure higher up the walk is a temperror too, never "no record".
  zone_.setServfail("_dmarc.walk.example");
  EXPECT_EQ(eval("a.walk.example", {}).result, Result::TempError);
}

// Issue 16: every DNS failure is temperror, wherever the walk or the existence check
// meets it: the author's _dmarc name, a name higher up the walk (before this, REFUSED,
// NOTIMP, FORMERR and broken answers were "no record" there and the walk went on: a
// refusing resolver turned DMARC off), the organizational domain of an identifier that
// would align, and the np existence check (before: "exists").
TEST_F(Dmarc, EveryDnsFailureIsTempError) {
  using dns::Injected;
  const std::vector<std::pair<Injected, const char*>> kinds = {
      {Injected::Timeout, "timeout"}, {Injected::Servfail, "SERVFAIL"},
      {Injected::Refused, "REFUSED"}, {Injected::NotImp, "NOTIMP"},
      {Injected::FormErr, "FORMERR"}, {Injected::Malformed, "malformed"},
  };
  for (const auto& [kind, why] : kinds) {
    SCOPED_TRACE(why);
    dns::ZoneResolver zone;
    zone.addTxt("_dmarc.example.com", "v=DMARC1; p=reject; np=quarantine");
    zone.addTxt("_dmarc.example.net", "v=DMARC1; p=reject; np=quarantine");
    zone.addTxt("_dmarc.example.org", "v=DMARC1; p=reject");
    zone.inject(kind, "_dmarc.own.example.com", {dns::Type::TXT});      // the author's name
    zone.inject(kind, "_dmarc.example.org", {dns::Type::TXT});          // up the walk
    zone.inject(kind, "_dmarc.sub.example.net", {dns::Type::TXT});      // an identifier's walk
    zone.inject(kind, "gone.example.net", {dns::Type::A});              // np existence
    ASSERT_TRUE(zone.addA("mail.example.net", "192.0.2.1"));
    const dns::Budget budget = dns::Budget::unlimited();
    const auto run = [&](const std::string& from, AuthIdentifier spf,
                         std::vector<AuthIdentifier> dkim = {}) {
      Discovery d(zone, budget);
      return evaluate(d, from, spf, dkim);
    };
    Evaluation e = run("own.example.com", {kFail, "own.example.com"});
    EXPECT_EQ(e.result, Result::TempError) << e.problem;
    EXPECT_NE(e.problem.find(why), std::string::npos) << e.problem;
    e = run("a.b.example.org", {kFail, "a.b.example.org"});
    EXPECT_EQ(e.result, Result::TempError) << e.problem;
    e = run("mail.example.net", {kPass, "a.sub.example.net"});
    EXPECT_EQ(e.result, Result::TempError) << e.problem;
    e = run("gone.example.net", {kFail, "gone.example.net"});
    EXPECT_EQ(e.result, Result::TempError) << e.problem;
    EXPECT_FALSE(e.policy_decided);  // sp or np: open until the name's existence is known
    // The same names with no failure injected decide (the controls).
    e = run("mail.example.net", {kPass, "mail.example.net"});
    EXPECT_EQ(e.result, Result::Pass);
    e = run("nowhere.example.net", {kFail, "nowhere.example.net"});
    EXPECT_EQ(e.result, Result::Fail);
    EXPECT_EQ(e.applied, Policy::Quarantine);  // np: NXDOMAIN is non-existent
    EXPECT_TRUE(e.policy_decided);
  }
  // A CNAME loop at a _dmarc name: Temporary from either resolver, so temperror.
  dns::ZoneResolver looped;
  looped.addCname("_dmarc.loop.example", "_dmarc.loop2.example");
  looped.addCname("_dmarc.loop2.example", "_dmarc.loop.example");
  const dns::Budget budget = dns::Budget::unlimited();
  Discovery d(looped, budget);
  EXPECT_EQ(evaluate(d, "loop.example", {kFail, "loop.example"}, {}).result, Result::TempError);
}

TEST(Authors, FromFields) {
  EXPECT_EQ(authorDomains({}).kind, Authors::Kind::NoFrom);
  Authors a = authorDomains({"Someone <x@Example.COM>"});
  ASSERT_TRUE(a.single());
  EXPECT_EQ(a.domains, V{"example.com"});
  EXPECT_EQ(authorDomains({"a@x.example", "b@x.example"}).kind, Authors::Kind::Several);
  a = authorDomains({"a@x.example, b@y.example"});
  EXPECT_EQ(a.kind, Authors::Kind::Several);
  EXPECT_EQ(a.domains, (V{"x.example", "y.example"}));
  EXPECT_EQ(authorDomains({"undisclosed:;"}).kind, Authors::Kind::NoAddress);
  EXPECT_EQ(authorDomains({"broken <a@b"}).kind, Authors::Kind::Unparsable);
  EXPECT_EQ(authorDomains({"a@ex!ample.com"}).kind, Authors::Kind::BadDomain);
  // RFC 8616: a U-label author domain is used in A-labels (dns::toALabels).
  a = authorDomains({"J\xc3\xb6rg <j@B\xc3\xbc" "cher.Example>"});
  ASSERT_TRUE(a.single()) << a.problem;
  EXPECT_EQ(a.domains, V{"xn--bcher-kva.example"});
  // U-label and A-label spellings are one domain.
  a = authorDomains({"a@b\xc3\xbc" "cher.example, b@XN--BCHER-KVA.example"});
  EXPECT_EQ(a.kind, Authors::Kind::Several);
  EXPECT_EQ(a.domains, V{"xn--bcher-kva.example"});
  // An invalid IDN keeps today's meaning: no usable domain (dmarc=permerror).
  a = authorDomains({"a@b\xe2\x98\x83.example"});  // U+2603, DISALLOWED in IDNA2008
  EXPECT_EQ(a.kind, Authors::Kind::BadDomain);
  EXPECT_NE(a.problem.find("not a valid IDN"), std::string::npos) << a.problem;
  EXPECT_EQ(authorDomains({"a@xn--zz.example"}).kind, Authors::Kind::BadDomain);
}

TEST(NormalizeDomain, Idn) {
  EXPECT_EQ(normalizeDomain("B\xc3\xbc" "cher.example."), "xn--bcher-kva.example");
  EXPECT_EQ(normalizeDomain("xn--BCHER-kva.example"), "xn--bcher-kva.example");
  EXPECT_EQ(normalizeDomain("fa\xc3\x9f.de"), "xn--fa-hia.de");  // non-transitional
  EXPECT_EQ(normalizeDomain("Example.COM."), "example.com");
  EXPECT_EQ(normalizeDomain("a\xe2\x98\x83.example"), std::nullopt);
  EXPECT_EQ(normalizeDomain("xn--zz.example"), std::nullopt);
}

TEST_F(Dmarc, IdnAlignment) {
  zone_.addTxt("_dmarc.xn--bcher-kva.example", "v=DMARC1; p=reject; adkim=s; aspf=s");
  // DKIM d= in A-labels aligns with the U-label author domain, strictly.
  Evaluation e = eval("xn--bcher-kva.example", {kFail, "other.example"},
                      {{kPass, "XN--BCHER-KVA.example"}});
  EXPECT_EQ(e.result, Result::Pass) << e.problem;
  // d= in U-labels (RFC 8616 allows them in internationalized headers) aligns too.
  e = eval("xn--bcher-kva.example", {kFail, "other.example"}, {{kPass, "b\xc3\xbc" "cher.example"}});
  EXPECT_EQ(e.result, Result::Pass) << e.problem;
  // An SPF domain given in U-labels.
  e = eval("xn--bcher-kva.example", {kPass, "B\xc3\xbc" "cher.example"});
  EXPECT_EQ(e.result, Result::Pass) << e.problem;
  // ß and ss are two domains (non-transitional): no alignment.
  zone_.addTxt("_dmarc.xn--fa-hia.de", "v=DMARC1; p=reject");
  e = eval("xn--fa-hia.de", {kPass, "fass.de"});
  EXPECT_EQ(e.result, Result::Fail);
}

}  // namespace
}  // namespace mw::dmarc
