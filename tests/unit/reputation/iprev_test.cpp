// Tests of reputation/iprev.h (RFC 8601 §3) over a ZoneResolver: every outcome, the cap
// of 10 names, IPv6, and lookups that are not waited for before collect().
#include "mailwarden/reputation/iprev.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mailwarden/dns/zone.h"

namespace mw::reputation {
namespace {

// Counts the names asked, by type (to prove the cap and the PTR-first order).
class CountingResolver final : public dns::Resolver {
 public:
  explicit CountingResolver(dns::Resolver& inner) : inner_(inner) {}
  dns::Answer query(std::string_view name, dns::Type type, const dns::Budget& budget) override {
    asked.push_back(std::string(dns::toString(type)) + " " + std::string(name));
    return inner_.query(name, type, budget);
  }
  std::vector<std::string> asked;

 private:
  dns::Resolver& inner_;
};

class IprevTest : public ::testing::Test {
 protected:
  void load(const std::string& text) {
    const Result<void> r = zone_.loadText(text, "iprev.zone");
    ASSERT_TRUE(r) << r.error().describe();
  }
  IprevOutcome run(std::string_view ip) {
    Iprev i = Iprev::start(zone_, dns::Budget::unlimited(), ip);
    return i.collect();
  }
  dns::ZoneResolver zone_;
};

TEST(IprevNames, ReverseNames) {
  EXPECT_EQ(reverseName("192.0.2.1"), "1.2.0.192.in-addr.arpa");
  EXPECT_EQ(reverseName("::ffff:192.0.2.1"), "1.2.0.192.in-addr.arpa");
  EXPECT_EQ(reverseName("2001:db8::1"),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  EXPECT_EQ(reverseName("unknown"), "");
  EXPECT_EQ(toString(IprevResult::PermError), "permerror");
}

TEST_F(IprevTest, Outcomes) {
  load(// pass: the second PTR name resolves back
       "1.2.0.192.in-addr.arpa. PTR other.example.\n"
       "1.2.0.192.in-addr.arpa. PTR mail.example.\n"
       "other.example. A 198.51.100.1\n"
       "mail.example. A 198.51.100.2\n"
       "mail.example. A 192.0.2.1\n"
       // fail: resolves elsewhere
       "2.2.0.192.in-addr.arpa. PTR elsewhere.example.\n"
       "elsewhere.example. A 198.51.100.9\n"
       // fail: the name has no A (NODATA) / does not exist
       "3.2.0.192.in-addr.arpa. PTR noaddr.example.\n"
       "noaddr.example. TXT \"no address\"\n"
       "4.2.0.192.in-addr.arpa. PTR gone.example.\n"
       // permerror: no PTR (NXDOMAIN for 5; NODATA for 6)
       "6.2.0.192.in-addr.arpa. TXT \"no ptr\"\n"
       // temperror: PTR times out
       ";@timeout 7.2.0.192.in-addr.arpa.\n"
       // temperror: no match, and one forward lookup failed
       "8.2.0.192.in-addr.arpa. PTR nomatch.example.\n"
       "8.2.0.192.in-addr.arpa. PTR slow.example.\n"
       "nomatch.example. A 198.51.100.8\n"
       ";@servfail slow.example.\n"
       // pass despite a failing sibling
       "9.2.0.192.in-addr.arpa. PTR slow.example.\n"
       "9.2.0.192.in-addr.arpa. PTR ok9.example.\n"
       "ok9.example. A 192.0.2.9\n"
       // a PTR target that is not a host name is skipped
       "10.2.0.192.in-addr.arpa. PTR bad\\032name.example.\n"
       "bad\\032name.example. A 192.0.2.10\n");
  struct Case {
    const char* ip;
    IprevResult want;
    const char* name;
  };
  const std::vector<Case> cases = {
      {"192.0.2.1", IprevResult::Pass, "mail.example"},
      {"::ffff:192.0.2.1", IprevResult::Pass, "mail.example"},
      {"192.0.2.2", IprevResult::Fail, ""},
      {"192.0.2.3", IprevResult::Fail, ""},
      {"192.0.2.4", IprevResult::Fail, ""},
      {"192.0.2.5", IprevResult::PermError, ""},
      {"192.0.2.6", IprevResult::PermError, ""},
      {"192.0.2.7", IprevResult::TempError, ""},
      {"192.0.2.8", IprevResult::TempError, ""},
      {"192.0.2.9", IprevResult::Pass, "ok9.example"},
      {"192.0.2.10", IprevResult::Fail, ""},
      {"not-an-ip", IprevResult::PermError, ""},
  };
  for (const Case& tc : cases) {
    const IprevOutcome got = run(tc.ip);
    EXPECT_EQ(got.result, tc.want) << tc.ip << ": got " << toString(got.result) << " ("
                                   << got.why << ") want " << toString(tc.want);
    EXPECT_EQ(got.name, tc.name) << tc.ip;
  }
  EXPECT_EQ(run("192.0.2.5").why, "no PTR record: nxdomain");
  EXPECT_EQ(run("192.0.2.6").why, "no PTR record: nodata");
  EXPECT_EQ(run("::ffff:192.0.2.1").ip, "192.0.2.1");
}

TEST_F(IprevTest, EmptyPtrAnswerIsPermerror) {
  zone_.addEmpty("11.2.0.192.in-addr.arpa");
  EXPECT_EQ(run("192.0.2.11").result, IprevResult::PermError);
}

TEST_F(IprevTest, Ipv6UsesAaaa) {
  load("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. PTR "
       "v6.example.\n"
       "v6.example. A 192.0.2.1\n"
       "v6.example. AAAA 2001:db8::1\n"
       "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. PTR "
       "v4only.example.\n"
       "v4only.example. A 192.0.2.1\n");
  const IprevOutcome pass = run("2001:DB8::1");
  EXPECT_EQ(pass.result, IprevResult::Pass);
  EXPECT_EQ(pass.name, "v6.example");
  EXPECT_EQ(pass.ip, "2001:db8::1");
  EXPECT_EQ(run("2001:db8::2").result, IprevResult::Fail);
}

TEST_F(IprevTest, AtMostTenNamesLookedUpForward) {
  std::string text;
  for (int i = 0; i < 12; ++i) {
    text += "1.2.0.192.in-addr.arpa. PTR n" + std::to_string(i) + ".example.\n";
  }
  text += "n11.example. A 192.0.2.1\n";  // only the 12th would confirm
  load(text);
  CountingResolver counting(zone_);
  Iprev i = Iprev::start(counting, dns::Budget::unlimited(), "192.0.2.1");
  const IprevOutcome got = i.collect();
  EXPECT_EQ(got.result, IprevResult::Fail);
  ASSERT_EQ(counting.asked.size(), 11u);  // the PTR and 10 forward lookups
  EXPECT_EQ(counting.asked[0], "PTR 1.2.0.192.in-addr.arpa");
  for (std::size_t k = 1; k < counting.asked.size(); ++k) {
    EXPECT_EQ(counting.asked[k].substr(0, 2), "A ");
  }
}

TEST_F(IprevTest, AdvanceStartsTheForwardLookupsEarly) {
  load("1.2.0.192.in-addr.arpa. PTR mail.example.\n"
       "mail.example. A 192.0.2.1\n");
  CountingResolver counting(zone_);
  Iprev i = Iprev::start(counting, dns::Budget::unlimited(), "192.0.2.1");
  EXPECT_EQ(counting.asked.size(), 1u);
  i.advance();  // the zone resolver has answered: the forward lookup starts now
  EXPECT_EQ(counting.asked.size(), 2u);
  i.advance();  // once only
  EXPECT_EQ(counting.asked.size(), 2u);
  EXPECT_EQ(i.collect().result, IprevResult::Pass);
  EXPECT_EQ(i.collect().name, "mail.example");  // again: the same result, no new lookup
  EXPECT_EQ(counting.asked.size(), 2u);
}

}  // namespace
}  // namespace mw::reputation
