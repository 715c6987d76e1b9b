// Tests of dmarc/dmarc.h over a ZoneResolver: the DNS Tree Walk (names, the 8-query
// bound, the long-name reduction), policy discovery, organizational domains with psd=,
// np/sp/t selection, alignment, evaluation, author domains.
#include "mailwarden/dmarc/dmarc.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mailwarden/dmarc/network.h"
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
  Evaluation e = eval("mail.example.com", {"fail", "mail.example.com"});
  EXPECT_EQ(e.result, Result::Fail);
  EXPECT_EQ(e.record_domain, "example.com");
  EXPECT_EQ(e.applied, Policy::Quarantine);
  EXPECT_EQ(summary(e), "p=reject sp=quarantine dis=quarantine");
  e = eval("example.com", {"fail", "example.com"});
  EXPECT_EQ(e.applied, Policy::Reject);
}

TEST_F(Dmarc, NpForNonExistentSubdomain) {
  zone_.addTxt("_dmarc.example.com", "v=DMARC1; p=none; sp=quarantine; np=reject");
  ASSERT_TRUE(zone_.addA("www.example.com", "192.0.2.1"));
  zone_.addEmpty("empty.example.com");
  EXPECT_EQ(eval("nosuch.example.com", {}).applied, Policy::Reject);
  EXPECT_EQ(eval("empty.example.com", {}).applied, Policy::Reject);  // NODATA for A/AAAA/MX
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
  Evaluation e = eval("other.gov.example", {"pass", "elsewhere.example"});
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

TEST_F(Dmarc, Alignment) {
  zone_.addTxt("_dmarc.example.com", "v=DMARC1; p=reject");
  zone_.addTxt("_dmarc.strict.example", "v=DMARC1; p=reject; adkim=s; aspf=s");
  EXPECT_EQ(eval("example.com", {"pass", "bounce.example.com"}).result, Result::Pass);
  EXPECT_EQ(eval("example.com", {"pass", "bounce.example.com"}).aligned_by, "spf");
  EXPECT_EQ(eval("example.com", {"fail", "example.com"}, {{"pass", "mail.example.com"}}).aligned_by,
            "dkim");
  EXPECT_EQ(eval("example.com", {"pass", "example.net"}).result, Result::Fail);
  EXPECT_EQ(eval("strict.example", {"pass", "sub.strict.example"}).result, Result::Fail);
  EXPECT_EQ(eval("strict.example", {"none", ""}, {{"pass", "sub.strict.example"}}).result,
            Result::Fail);
  EXPECT_EQ(eval("strict.example", {"pass", "STRICT.example"}).result, Result::Pass);
  // A temperror on an identifier that would align: not final.
  EXPECT_EQ(eval("example.com", {"fail", "x.example"}, {{"temperror", "example.com"}}).result,
            Result::TempError);
  EXPECT_EQ(eval("example.com", {"fail", "x.example"}, {{"temperror", "other.example"}}).result,
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
  EXPECT_EQ(authorDomains({"a@b\xc3\xbc.example"}).kind, Authors::Kind::BadDomain);
}

TEST(Network, Cidr) {
  auto n = parseNetwork("192.0.2.0/24");
  ASSERT_TRUE(n);
  EXPECT_TRUE(contains(*n, "192.0.2.77"));
  EXPECT_TRUE(contains(*n, "::ffff:192.0.2.1"));
  EXPECT_FALSE(contains(*n, "192.0.3.1"));
  EXPECT_FALSE(contains(*n, "2001:db8::1"));
  auto m = parseNetwork("2001:db8::/33");
  ASSERT_TRUE(m);
  EXPECT_TRUE(contains(*m, "2001:db8:7fff::1"));
  EXPECT_FALSE(contains(*m, "2001:db8:8000::1"));
  EXPECT_FALSE(parseNetwork("192.0.2.0/33"));
  EXPECT_FALSE(parseNetwork("example.com"));
  EXPECT_TRUE(contains(*parseNetwork("0.0.0.0/0"), "203.0.113.5"));
}

}  // namespace
}  // namespace mw::dmarc
