// tests/unit/report/record_test.cpp — tuple keys and periods.
#include "mailwarden/report/record.h"

#include <gtest/gtest.h>

#include "samples.h"

namespace mw::report {
namespace {

using testing::samples;

TEST(TupleKey, RoundTripsEverySampleRecord) {
  for (const testing::Sample& s : samples()) {
    if (s.name == "hostile") {
      continue;  // not UTF-8: replaced in the key, checked below
    }
    for (const Row& row : s.rows) {
      Record r = row.record;
      const Result<Record> back = recordFromKey(tupleKey(r));
      ASSERT_TRUE(back.has_value()) << s.name << ": " << back.error().message;
      EXPECT_EQ(*back, r) << s.name;
    }
  }
}

TEST(TupleKey, IgnoresTimeAndSeesEveryOtherField) {
  Record a = samples()[0].rows[0].record;
  Record b = a;
  b.time = std::chrono::sys_seconds(std::chrono::seconds(1767225600 + 3600));
  EXPECT_EQ(tupleKey(a), tupleKey(b));
  const auto differs = [&](auto change) {
    Record c = a;
    change(c);
    return tupleKey(c) != tupleKey(a);
  };
  EXPECT_TRUE(differs([](Record& r) { r.source_ip = "192.0.2.11"; }));
  EXPECT_TRUE(differs([](Record& r) { r.header_from = "sub.example.com"; }));
  EXPECT_TRUE(differs([](Record& r) { r.policy.sp = Policy::None; }));
  EXPECT_TRUE(differs([](Record& r) { r.policy.testing = true; }));
  EXPECT_TRUE(differs([](Record& r) { r.disposition = Disposition::Reject; }));
  EXPECT_TRUE(differs([](Record& r) { r.spf_aligned = Aligned::Fail; }));
  EXPECT_TRUE(differs([](Record& r) { r.overrides.push_back({OverrideType::Other, ""}); }));
  EXPECT_TRUE(differs([](Record& r) { r.dkim[0].selector = "s2027"; }));
  EXPECT_TRUE(differs([](Record& r) { r.spf->scope = SpfScope::Helo; }));
  EXPECT_TRUE(differs([](Record& r) { r.spf.reset(); }));
  EXPECT_TRUE(differs([](Record& r) { r.envelope_to = "example.org"; }));
}

TEST(TupleKey, HostileBytesGiveAValidKey) {
  Record r = samples()[0].rows[0].record;
  r.header_from = testing::kHostile;
  const Result<Record> back = recordFromKey(tupleKey(r));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_NE(back->header_from.find("<evil a=\"1\" b='2'>"), std::string::npos);
  EXPECT_NE(back->header_from.find("\xEF\xBF\xBD"), std::string::npos);  // bad UTF-8 replaced
}

TEST(TupleKey, RejectsWhatItDidNotWrite) {
  EXPECT_FALSE(recordFromKey("").has_value());
  EXPECT_FALSE(recordFromKey("[1]").has_value());
  EXPECT_FALSE(recordFromKey("{\"v\":2}").has_value());
  std::string key = tupleKey(samples()[0].rows[0].record);
  const std::size_t at = key.find("\"reject\"");
  ASSERT_NE(at, std::string::npos);
  key.replace(at, 8, "\"bounce\"");
  const Result<Record> bad = recordFromKey(key);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Errc::Invalid);
}

TEST(Period, IsTheUtcDay) {
  using std::chrono::seconds;
  using std::chrono::sys_seconds;
  const Period p = Period::of(sys_seconds(seconds(1767225600 + 86399)));  // 2026-01-01 23:59:59
  EXPECT_EQ(p.begin(), 1767225600);
  EXPECT_EQ(p.end(), 1767225600 + 86399);
  EXPECT_EQ(Period::of(sys_seconds(seconds(1767225600 + 86400))).day, p.day + 1);
  EXPECT_EQ(Period::of(sys_seconds(seconds(-1))).day, -1);
}

}  // namespace
}  // namespace mw::report
