// Tests of dns/resolver.h: names, toString, Budget.
#include "mailwarden/dns/resolver.h"

#include <gtest/gtest.h>

#include <string>

namespace mw::dns {
namespace {

TEST(IsQueryableName, Table) {
  const std::string l63(63, 'a');
  const std::string l64(64, 'a');
  // 4 labels of 63 + 3 dots = 255 > 253; 3 labels of 63 + one of 61 = 253.
  const std::string n253 = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');
  const std::string n254 = l63 + "." + l63 + "." + l63 + "." + std::string(62, 'b');
  struct Case {
    const char* name;
    std::string input;
    bool want;
  };
  const Case cases[] = {
      {"simple", "example.com", true},
      {"trailing dot", "example.com.", true},
      {"single label", "localhost", true},
      {"root", ".", true},
      {"empty", "", false},
      {"two trailing dots", "example.com..", false},
      {"leading dot", ".example.com", false},
      {"empty label inside", "a..b", false},
      {"label of 63", l63 + ".com", true},
      {"label of 64", l64 + ".com", false},
      {"253 octets", n253, true},
      {"253 octets and a dot", n253 + ".", true},
      {"254 octets", n254, false},
      {"8-bit and odd octets are labels too (RFC 2181 §11)", std::string("a b\x01\xff.x\\y"), true},
      {"NUL inside a label", std::string("a\0b.com", 7), true},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    const bool got = isQueryableName(tc.input);
    EXPECT_EQ(got, tc.want) << "got " << got << " want " << tc.want;
  }
}

TEST(ToString, EveryEnumerator) {
  EXPECT_EQ(toString(Type::A), "A");
  EXPECT_EQ(toString(Type::AAAA), "AAAA");
  EXPECT_EQ(toString(Type::TXT), "TXT");
  EXPECT_EQ(toString(Type::MX), "MX");
  EXPECT_EQ(toString(Type::PTR), "PTR");
  EXPECT_EQ(toString(Status::Ok), "ok");
  EXPECT_EQ(toString(Status::NxDomain), "nxdomain");
  EXPECT_EQ(toString(Status::NoData), "nodata");
  EXPECT_EQ(toString(Status::TempFail), "tempfail");
  EXPECT_EQ(toString(Status::Refused), "refused");
  EXPECT_EQ(toString(Status::Malformed), "malformed");
  EXPECT_EQ(toString(Status::BadName), "badname");
  EXPECT_EQ(toString(Outcome::Found), "found");
  EXPECT_EQ(toString(Outcome::Absent), "absent");
  EXPECT_EQ(toString(Outcome::Temporary), "temporary");
  EXPECT_EQ(toString(Outcome::BadName), "badname");
}

// Issue 16: one meaning per DNS outcome, the table of doc/ARCHITECTURE.md ("DNS"). SPF,
// DKIM and DMARC read only this; each turns Temporary into its temperror.
TEST(Classify, EveryStatusHasOneMeaning) {
  const std::vector<std::pair<Status, Outcome>> table = {
      {Status::Ok, Outcome::Found},
      {Status::NxDomain, Outcome::Absent},
      {Status::NoData, Outcome::Absent},
      {Status::TempFail, Outcome::Temporary},   // timeout, SERVFAIL, bogus, CNAME loop
      {Status::Refused, Outcome::Temporary},    // REFUSED, NOTIMP, FORMERR, other RCODEs
      {Status::Malformed, Outcome::Temporary},  // an answer that does not parse
      {Status::BadName, Outcome::BadName},      // no query: not a DNS failure
  };
  for (const auto& [status, want] : table) {
    SCOPED_TRACE(std::string(toString(status)));
    EXPECT_EQ(classify(status), want) << "got " << toString(classify(status)) << " want "
                                      << toString(want);
    Answer a;
    a.status = status;
    EXPECT_EQ(classify(a), want);
  }
}

TEST(Budget, RemainingIsZeroExactlyWhenExhausted) {
  const Budget spent(std::chrono::milliseconds(0));
  EXPECT_TRUE(spent.exhausted());
  EXPECT_EQ(spent.remaining().count(), 0);
  const Budget negative(std::chrono::milliseconds(-5));
  EXPECT_EQ(negative.remaining().count(), 0);
  const Budget big(std::chrono::hours(1));
  EXPECT_FALSE(big.exhausted());
  // No wall-clock assert beyond bounds that hold on any machine.
  EXPECT_GT(big.remaining().count(), 0);
  EXPECT_LE(big.remaining().count(), 3600 * 1000);
  EXPECT_FALSE(Budget::unlimited().exhausted());
}

}  // namespace
}  // namespace mw::dns
