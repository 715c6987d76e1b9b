// Tests of spf/spf.h: check_host() over a ZoneResolver — results, limits across include:
// and redirect=, void lookups, explanations, both identities.
#include "mailwarden/spf/spf.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "mailwarden/dns/zone.h"

namespace mw::spf {
namespace {

class SpfCheck : public ::testing::Test {
 protected:
  SpfCheck() {
    options_.default_explanation = "DEFAULT %{d}";
    options_.clock = std::make_shared<FixedClock>(1700000000);
  }

  CheckResult mailFrom(std::string_view ip, std::string_view from,
                       std::string_view helo = "mail.example.org") {
    Checker checker(zone_, options_);
    return checker.checkMailFrom(ip, helo, from, dns::Budget::unlimited());
  }

  dns::ZoneResolver zone_;
  Options options_;
};

TEST_F(SpfCheck, ResultsAndQualifiers) {
  zone_.addTxt("pass.example.com", "v=spf1 ip4:192.0.2.0/24 -all");
  zone_.addTxt("soft.example.com", "v=spf1 ~all");
  zone_.addTxt("neutral.example.com", "v=spf1 ip4:198.51.100.1");
  zone_.addTxt("bad.example.com", "v=spf1 ip4:192.0.2.0/33");
  zone_.addTxt("two.example.com", "v=spf1 -all");
  zone_.addTxt("two.example.com", "v=spf1 +all");
  zone_.addTxt("other.example.com", "not spf");
  zone_.setTimeout("slow.example.com");
  EXPECT_EQ(mailFrom("192.0.2.9", "a@pass.example.com").result, Result::Pass);
  EXPECT_EQ(mailFrom("198.51.100.1", "a@pass.example.com").result, Result::Fail);
  EXPECT_EQ(mailFrom("198.51.100.1", "a@soft.example.com").result, Result::SoftFail);
  EXPECT_EQ(mailFrom("192.0.2.1", "a@neutral.example.com").result, Result::Neutral);
  const CheckResult bad = mailFrom("192.0.2.1", "a@bad.example.com");
  EXPECT_EQ(bad.result, Result::PermError);
  EXPECT_EQ(bad.problem, "bad.example.com: invalid ip4 CIDR length in 'ip4:192.0.2.0/33'");
  EXPECT_EQ(mailFrom("192.0.2.1", "a@two.example.com").result, Result::PermError);
  EXPECT_EQ(mailFrom("192.0.2.1", "a@other.example.com").result, Result::None);
  EXPECT_EQ(mailFrom("192.0.2.1", "a@nowhere.example.com").result, Result::None);
  EXPECT_EQ(mailFrom("192.0.2.1", "a@slow.example.com").result, Result::TempError);
  EXPECT_EQ(mailFrom("not-an-ip", "a@pass.example.com").result, Result::PermError);
  EXPECT_EQ(toString(Result::SoftFail), "softfail");
  EXPECT_EQ(toString(Result::TempError), "temperror");
}

// Issue 16 / RFC 7208 §4.4, §5: a DNS failure anywhere a term needs an answer (the
// <domain>'s TXT, an include's TXT, a, mx and the mx hosts' addresses, exists) is
// temperror, whatever the failure: timeout, SERVFAIL, REFUSED, NOTIMP, FORMERR, an answer
// that does not parse, a CNAME loop. Only ptr is no match on a DNS error (§5.5).
TEST_F(SpfCheck, EveryDnsFailureIsTempError) {
  using dns::Injected;
  struct Where {
    const char* name;     // what fails
    dns::Type type;
    const char* record;   // the SPF record of e.example.com
  };
  const std::vector<Where> places = {
      {"e.example.com", dns::Type::TXT, "v=spf1 -all"},
      {"inc.example.com", dns::Type::TXT, "v=spf1 include:inc.example.com -all"},
      {"host.example.com", dns::Type::A, "v=spf1 a:host.example.com -all"},
      {"e.example.com", dns::Type::MX, "v=spf1 mx -all"},
      {"mx1.example.com", dns::Type::A, "v=spf1 mx -all"},
      {"x.example.com", dns::Type::A, "v=spf1 exists:x.example.com -all"},
  };
  const std::vector<std::pair<Injected, const char*>> kinds = {
      {Injected::Timeout, "tempfail (timeout)"}, {Injected::Servfail, "tempfail (SERVFAIL)"},
      {Injected::Refused, "refused (REFUSED)"},  {Injected::NotImp, "refused (NOTIMP)"},
      {Injected::FormErr, "refused (FORMERR)"},  {Injected::Malformed, "malformed"},
  };
  for (const Where& w : places) {
    for (const auto& [kind, text] : kinds) {
      SCOPED_TRACE(std::string(w.name) + " " + std::string(dns::toString(w.type)) + ": " + text);
      dns::ZoneResolver zone;
      zone.addTxt("e.example.com", w.record);
      zone.addMx("e.example.com", 10, "mx1.example.com");
      zone.inject(kind, w.name, {w.type});
      Checker checker(zone, options_);
      const CheckResult r = checker.checkMailFrom("192.0.2.1", "h.example.org", "a@e.example.com",
                                                  dns::Budget::unlimited());
      EXPECT_EQ(r.result, Result::TempError) << r.problem;
      EXPECT_NE(r.problem.find(std::string(text).substr(0, std::string(text).find(' '))),
                std::string::npos)
          << r.problem;
    }
  }
  // A CNAME loop at the <domain>: the same class as from libunbound (SERVFAIL).
  dns::ZoneResolver looped;
  looped.addCname("e.example.com", "f.example.com");
  looped.addCname("f.example.com", "e.example.com");
  Checker checker(looped, options_);
  EXPECT_EQ(checker.checkMailFrom("192.0.2.1", "h", "a@e.example.com", dns::Budget::unlimited())
                .result,
            Result::TempError);
  // §5.5: a DNS error on the PTR lookup is no match, not temperror.
  dns::ZoneResolver ptr;
  ptr.addTxt("e.example.com", "v=spf1 ptr -all");
  ptr.inject(Injected::Refused, "1.2.0.192.in-addr.arpa");
  Checker ptr_checker(ptr, options_);
  EXPECT_EQ(ptr_checker.checkMailFrom("192.0.2.1", "h", "a@e.example.com", dns::Budget::unlimited())
                .result,
            Result::Fail);
}

TEST_F(SpfCheck, Ipv4MappedClientIsIpv4) {
  zone_.addTxt("e.example.com", "v=spf1 -ip4:1.2.3.4 ip6:::FFFF:1.2.3.4");
  EXPECT_EQ(mailFrom("::ffff:1.2.3.4", "a@e.example.com").result, Result::Fail);
}

TEST_F(SpfCheck, CidrZeroMatchesAnyAddressOfTheFamily) {
  zone_.addTxt("e.example.com", "v=spf1 a/0 -all");
  ASSERT_TRUE(zone_.addA("e.example.com", "1.1.1.1"));
  EXPECT_EQ(mailFrom("192.0.2.1", "a@e.example.com").result, Result::Pass);
  EXPECT_EQ(mailFrom("2001:db8::1", "a@e.example.com").result, Result::Fail);
}

TEST_F(SpfCheck, TermLimitCountsAcrossIncludeAndRedirect) {
  zone_.addTxt("top.example.com", "v=spf1 a include:inc.example.com a ip4:192.0.2.1 -all");
  zone_.addTxt("inc.example.com", "v=spf1 a a a a a a a a");
  zone_.addTxt("at.example.com", "v=spf1 a include:inc.example.com ip4:192.0.2.1 -all");
  zone_.addTxt("loop.example.com", "v=spf1 redirect=loop.example.com");
  for (const char* n : {"top.example.com", "inc.example.com", "at.example.com"}) {
    ASSERT_TRUE(zone_.addA(n, "198.51.100.1"));
  }
  const CheckResult over = mailFrom("192.0.2.1", "a@top.example.com");
  EXPECT_EQ(over.result, Result::PermError);
  EXPECT_EQ(over.problem, "more than 10 DNS-querying terms (at 'a')");
  EXPECT_EQ(mailFrom("192.0.2.1", "a@at.example.com").result, Result::Pass);
  EXPECT_EQ(mailFrom("192.0.2.1", "a@loop.example.com").result, Result::PermError);
  options_.max_dns_terms = 20;
  EXPECT_EQ(mailFrom("192.0.2.1", "a@top.example.com").result, Result::Pass);
}

TEST_F(SpfCheck, VoidLookups) {
  zone_.addTxt("two.example.com", "v=spf1 a:nx1.example.com a:nx2.example.com ?all");
  zone_.addTxt("three.example.com",
               "v=spf1 a:nx1.example.com mx:nx2.example.com exists:nx3.example.com ?all");
  EXPECT_EQ(mailFrom("192.0.2.1", "a@two.example.com").result, Result::Neutral);
  const CheckResult r = mailFrom("192.0.2.1", "a@three.example.com");
  EXPECT_EQ(r.result, Result::PermError);
  EXPECT_EQ(r.problem, "more than 2 void lookups (at nx3.example.com)");
}

TEST_F(SpfCheck, MxNamesAreLimited) {
  zone_.addTxt("mx.example.com", "v=spf1 mx -all");
  for (int i = 0; i < 11; ++i) {
    zone_.addMx("mx.example.com", static_cast<std::uint16_t>(i), "h" + std::to_string(i) + ".example.com");
  }
  EXPECT_EQ(mailFrom("192.0.2.1", "a@mx.example.com").result, Result::PermError);
}

TEST_F(SpfCheck, ExplanationFromTheDecidingRecord) {
  zone_.addTxt("e.example.com", "v=spf1 include:inc.example.com -all exp=why.example.com");
  zone_.addTxt("inc.example.com", "v=spf1 -all exp=no.example.com");
  zone_.addTxt("why.example.com", "%{i} is not one of %{d}'s hosts (%{c} at %{t})");
  zone_.addTxt("no.example.com", "wrong");
  zone_.addTxt("r.example.com", "v=spf1 exp=no.example.com redirect=e.example.com");
  zone_.addTxt("bad-exp.example.com", "v=spf1 -all exp=bad.example.com");
  zone_.addTxt("bad.example.com", "The %{x}-files.");
  EXPECT_EQ(mailFrom("192.0.2.1", "a@e.example.com").explanation,
            "192.0.2.1 is not one of e.example.com's hosts (192.0.2.1 at 1700000000)");
  EXPECT_EQ(mailFrom("192.0.2.1", "a@r.example.com").explanation,
            "192.0.2.1 is not one of e.example.com's hosts (192.0.2.1 at 1700000000)");
  EXPECT_EQ(mailFrom("192.0.2.1", "a@bad-exp.example.com").explanation, "DEFAULT bad-exp.example.com");
}

TEST_F(SpfCheck, HeloAndNullSender) {
  zone_.addTxt("mail.example.org", "v=spf1 ip4:192.0.2.1 -all exp=x.example.org");
  zone_.addTxt("x.example.org", "%{s} %{l} %{o} %{h}");
  Checker checker(zone_, options_);
  const CheckResult helo = checker.checkHelo("192.0.2.1", "mail.example.org", dns::Budget::unlimited());
  EXPECT_EQ(helo.result, Result::Pass);
  EXPECT_EQ(helo.domain, "mail.example.org");
  const CheckResult null = mailFrom("192.0.2.2", "", "mail.example.org");
  EXPECT_EQ(null.result, Result::Fail);
  EXPECT_EQ(null.explanation,
            "postmaster@mail.example.org postmaster mail.example.org mail.example.org");
  EXPECT_EQ(checker.checkHelo("192.0.2.1", "[192.0.2.1]", dns::Budget::unlimited()).result,
            Result::None);
  EXPECT_EQ(checker.checkHelo("192.0.2.1", "localhost", dns::Budget::unlimited()).result,
            Result::None);
  // No local-part: "postmaster" (RFC 7208 §4.3).
  zone_.addTxt("nolocal.example.org", "v=spf1 -all exp=x.example.org");
  EXPECT_EQ(mailFrom("192.0.2.2", "@nolocal.example.org").explanation,
            "postmaster@nolocal.example.org postmaster nolocal.example.org mail.example.org");
}

// RFC 8616 §4: MAIL FROM and HELO domains in U-labels are evaluated in A-labels.
TEST_F(SpfCheck, InternationalizedDomains) {
  zone_.addTxt("xn--bcher-kva.example", "v=spf1 ip4:192.0.2.0/24 exists:%{o}.%{d}.%{h}.x.example -all");
  ASSERT_TRUE(zone_.addA("xn--bcher-kva.example.xn--bcher-kva.example.mail.xn--bcher-kva.example.x.example",
                         "127.0.0.2"));
  // ip4 matches: the record was found at the A-label name.
  CheckResult r = mailFrom("192.0.2.7", "user@B\xc3\xbc" "cher.example", "mail.b\xc3\xbc" "cher.example");
  EXPECT_EQ(r.result, Result::Pass) << r.problem;
  EXPECT_EQ(r.domain, "xn--bcher-kva.example");
  // exists: the o, d and h macros expanded to A-labels.
  r = mailFrom("198.51.100.1", "user@b\xc3\xbc" "cher.example", "mail.b\xc3\xbc" "cher.example");
  EXPECT_EQ(r.result, Result::Pass) << r.problem;
  // The A-label spelling is the same domain.
  r = mailFrom("192.0.2.7", "user@XN--BCHER-KVA.example");
  EXPECT_EQ(r.result, Result::Pass) << r.problem;
  // HELO identity and the null sender.
  zone_.addTxt("mail.xn--bcher-kva.example", "v=spf1 ip4:192.0.2.0/24 -all");
  Checker checker(zone_, options_);
  r = checker.checkHelo("192.0.2.7", "mail.b\xc3\xbc" "cher.example", dns::Budget::unlimited());
  EXPECT_EQ(r.result, Result::Pass) << r.problem;
  EXPECT_EQ(r.domain, "mail.xn--bcher-kva.example");
  r = mailFrom("192.0.2.7", "", "mail.b\xc3\xbc" "cher.example");
  EXPECT_EQ(r.result, Result::Pass) << r.problem;
  // ß is not ss (non-transitional): fass.de's record does not apply to faß.de.
  zone_.addTxt("fass.de", "v=spf1 +all");
  r = mailFrom("192.0.2.7", "a@fa\xc3\x9f.de");
  EXPECT_EQ(r.domain, "xn--fa-hia.de");
  EXPECT_EQ(r.result, Result::None);
  // An invalid IDN is a malformed <domain>: none (RFC 7208 §4.3), no query.
  for (const char* bad : {"a@b\xe2\x98\x83.example", "a@xn--zz.example", "a@b\xc3.example"}) {
    r = mailFrom("192.0.2.7", bad);
    EXPECT_EQ(r.result, Result::None) << bad;
    EXPECT_NE(r.problem.find("not a valid internationalized domain name"), std::string::npos)
        << r.problem;
  }
  r = checker.checkHelo("192.0.2.7", "b\xe2\x98\x83.example", dns::Budget::unlimited());
  EXPECT_EQ(r.result, Result::None);
}

}  // namespace
}  // namespace mw::spf
