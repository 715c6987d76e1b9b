// Tests of the private dns/rdata.h: libunbound results (from the network, so untrusted)
// into Answers, without a server: each RCODE, bogus, NODATA, and rdata that does not parse.
#include "dns/rdata.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "testing.h"

namespace mw::dns {
namespace {

using testing::render;

// A ub_result built by hand; the vectors own what its pointers point to.
struct FakeResult {
  std::vector<std::string> records;
  std::vector<char*> data;
  std::vector<int> len;
  ub_result r{};

  FakeResult(int rcode, std::vector<std::string> rdata) : records(std::move(rdata)) {
    for (std::string& s : records) {
      data.push_back(s.data());
      len.push_back(static_cast<int>(s.size()));
    }
    data.push_back(nullptr);
    len.push_back(0);
    r.rcode = rcode;
    r.nxdomain = rcode == 3;
    r.havedata = records.empty() ? 0 : 1;
    r.data = data.data();
    r.len = len.data();
  }
};

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) {
    s += static_cast<char>(c);
  }
  return s;
}

TEST(Rdata, ParsesOrRejects) {
  struct Case {
    const char* name;
    Type type;
    std::vector<std::string> rdata;
    std::string want;
  };
  const std::string mx_ok = bytes({0, 10, 4, 'M', 'a', 'i', 'l', 2, 'e', 'x', 0});
  const std::vector<Case> cases = {
      {"A", Type::A, {bytes({192, 0, 2, 1}), bytes({192, 0, 2, 2})}, "ok A 192.0.2.1 A 192.0.2.2"},
      {"A of 5 octets", Type::A, {bytes({192, 0, 2, 1, 0})}, "malformed (bad A record)"},
      {"AAAA", Type::AAAA, {std::string(15, '\0') + "\x01"}, "ok AAAA ::1"},
      {"AAAA of 4 octets", Type::AAAA, {bytes({192, 0, 2, 1})}, "malformed (bad AAAA record)"},
      {"TXT strings joined", Type::TXT, {bytes({2, 'a', 'b', 0, 1, 'c'})}, "ok TXT \"abc\""},
      {"TXT with NUL", Type::TXT, {bytes({3, 'a', 0, 'b'})}, "ok TXT \"a\\000b\""},
      {"TXT string overruns", Type::TXT, {bytes({5, 'a', 'b'})}, "malformed (bad TXT record)"},
      {"TXT empty rdata", Type::TXT, {std::string()}, "malformed (bad TXT record)"},
      {"MX, exchange lower-cased", Type::MX, {mx_ok}, "ok MX 10 mail.ex"},
      {"MX root exchange (null MX, RFC 7505)", Type::MX, {bytes({0, 0, 0})}, "ok MX 0 "},
      {"MX with trailing octets", Type::MX, {mx_ok + "x"}, "malformed (bad MX record)"},
      {"MX with a compression pointer", Type::MX, {bytes({0, 10, 0xc0, 12})},
       "malformed (bad MX record)"},
      {"MX too short", Type::MX, {bytes({0, 10})}, "malformed (bad MX record)"},
      {"PTR", Type::PTR, {bytes({1, 'a', 3, 'C', 'o', 'M', 0})}, "ok PTR a.com"},
      {"PTR name runs past the end", Type::PTR, {bytes({5, 'a', 0})}, "malformed (bad PTR record)"},
      {"PTR without the root label", Type::PTR, {bytes({1, 'a'})}, "malformed (bad PTR record)"},
      {"one bad record spoils the answer", Type::A, {bytes({192, 0, 2, 1}), bytes({1})},
       "malformed (bad A record)"},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    FakeResult f(0, tc.rdata);
    const std::string got = render(detail::fromUnbound(tc.type, f.r));
    EXPECT_EQ(got, tc.want) << "got " << got << " want " << tc.want;
  }
}

TEST(Rdata, RcodesAndFlags) {
  struct Case {
    const char* name;
    int rcode;
    bool data;
    int bogus;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"NOERROR with data", 0, true, 0, "ok A 192.0.2.1"},
      {"NOERROR without data: NODATA", 0, false, 0, "nodata"},
      {"NXDOMAIN", 3, false, 0, "nxdomain"},
      {"SERVFAIL", 2, false, 0, "tempfail (SERVFAIL)"},
      {"FORMERR", 1, false, 0, "refused (FORMERR)"},
      {"NOTIMP", 4, false, 0, "refused (NOTIMP)"},
      {"REFUSED", 5, false, 0, "refused (REFUSED)"},
      {"YXDOMAIN", 6, false, 0, "refused (RCODE 6)"},
      {"bogus wins over data", 0, true, 1, "tempfail (DNSSEC bogus: signature expired)"},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    FakeResult f(tc.rcode, tc.data ? std::vector<std::string>{bytes({192, 0, 2, 1})}
                                   : std::vector<std::string>{});
    char why[] = "signature expired";
    f.r.bogus = tc.bogus;
    f.r.why_bogus = tc.bogus != 0 ? why : nullptr;
    const std::string got = render(detail::fromUnbound(Type::A, f.r));
    EXPECT_EQ(got, tc.want) << "got " << got << " want " << tc.want;
  }
  FakeResult secure(0, {bytes({192, 0, 2, 1})});
  secure.r.secure = 1;
  EXPECT_TRUE(detail::fromUnbound(Type::A, secure.r).secure);
}

TEST(Rdata, TypeNumbers) {
  EXPECT_EQ(detail::rrType(Type::A), 1);
  EXPECT_EQ(detail::rrType(Type::AAAA), 28);
  EXPECT_EQ(detail::rrType(Type::TXT), 16);
  EXPECT_EQ(detail::rrType(Type::MX), 15);
  EXPECT_EQ(detail::rrType(Type::PTR), 12);
}

// The libunbound side of issue 16: every RCODE, bogus data and rdata that does not parse
// fall in the class the ZoneResolver's injected failures fall in (zone_test.cpp,
// ZoneResolverInjected), so the fake used by every check's tests cannot hide a
// difference.
TEST(Rdata, EveryDnsOutcomeHasOneClass) {
  struct Case {
    const char* name;
    int rcode;
    std::vector<std::string> rdata;
    int bogus;
    Outcome want;
  };
  const std::vector<Case> cases = {
      {"NOERROR with data", 0, {bytes({1, 'x'})}, 0, Outcome::Found},
      {"NODATA", 0, {}, 0, Outcome::Absent},
      {"NXDOMAIN", 3, {}, 0, Outcome::Absent},
      {"SERVFAIL (also a CNAME loop)", 2, {}, 0, Outcome::Temporary},
      {"REFUSED", 5, {}, 0, Outcome::Temporary},
      {"NOTIMP", 4, {}, 0, Outcome::Temporary},
      {"FORMERR", 1, {}, 0, Outcome::Temporary},
      {"YXDOMAIN (any other RCODE)", 6, {}, 0, Outcome::Temporary},
      {"a TXT that does not parse", 0, {bytes({9, 'x'})}, 0, Outcome::Temporary},
      {"DNSSEC bogus", 0, {bytes({1, 'x'})}, 1, Outcome::Temporary},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    FakeResult f(tc.rcode, tc.rdata);
    f.r.bogus = tc.bogus;
    const Answer a = detail::fromUnbound(Type::TXT, f.r);
    EXPECT_EQ(classify(a), tc.want) << render(a) << ": got " << toString(classify(a))
                                    << " want " << toString(tc.want);
  }
}

}  // namespace
}  // namespace mw::dns
