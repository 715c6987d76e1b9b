// Unit tests of the Prometheus text exposition (obs/exposition.h) and the registry's
// histograms and families (obs/counters.h).
#include "mailwarden/obs/exposition.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "mailwarden/obs/counters.h"

namespace mw::obs {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Exposition, EscapesLabelValues) {
  struct Case {
    const char* name;
    std::string in;
    std::string want;
  };
  const Case cases[] = {
      {"plain", "dnsbl.example", "dnsbl.example"},
      {"backslash", "a\\b", "a\\\\b"},
      {"quote", "say \"hi\"", "say \\\"hi\\\""},
      {"line feed", "one\ntwo", "one\\ntwo"},
      {"all three", "\\\"\n", "\\\\\\\"\\n"},
      {"utf-8 passes", "r\xC3\xA8gle", "r\xC3\xA8gle"},
      {"empty", "", ""},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(escapeLabelValue(c.in), c.want) << c.name;
  }
}

TEST(Exposition, EscapesHelpButNotQuotes) {
  EXPECT_EQ(escapeHelp("a \"b\" \\ c\nd"), "a \"b\" \\\\ c\\nd");
}

TEST(Exposition, FormatsValues) {
  EXPECT_EQ(formatValue(0), "0");
  EXPECT_EQ(formatValue(42), "42");
  EXPECT_EQ(formatValue(0.005), "0.005");
  EXPECT_EQ(formatValue(2.5), "2.5");
  EXPECT_EQ(formatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(formatValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(formatValue(0.0 / 0.0), "NaN");
}

TEST(Exposition, FamilyAndSamples) {
  Exposition e;
  e.family("mw_test_total", "counter", "Things\ncounted.");
  e.sample("mw_test_total", {}, 3);
  e.sample("mw_test_total", {{"zone", "a\"b"}, {"kind", "x"}}, 1);
  EXPECT_EQ(e.text(),
            "# HELP mw_test_total Things\\ncounted.\n"
            "# TYPE mw_test_total counter\n"
            "mw_test_total 3\n"
            "mw_test_total{zone=\"a\\\"b\",kind=\"x\"} 1\n");
}

TEST(Histogram, BucketsAreCumulativeAndInfEqualsCount) {
  Histogram h;
  h.observe(microseconds(50));    // <= 0.0001
  h.observe(microseconds(100));   // == 0.0001: le is inclusive
  h.observe(milliseconds(3));     // <= 0.005
  h.observe(seconds(60));         // only +Inf
  h.observe(std::chrono::nanoseconds(-5));  // a clock step counts as 0
  const HistogramValues v = h.read();
  ASSERT_EQ(v.bounds.size(), kLatencyBounds.size());
  ASSERT_EQ(v.cumulative.size(), kLatencyBounds.size() + 1);
  EXPECT_EQ(v.cumulative[0], 3u);  // 0, 50 µs, 100 µs
  EXPECT_EQ(v.cumulative[4], 3u);  // le=0.0025
  EXPECT_EQ(v.cumulative[5], 4u);  // le=0.005
  EXPECT_EQ(v.cumulative[kLatencyBounds.size() - 1], 4u);  // le=30
  EXPECT_EQ(v.cumulative.back(), 5u);
  EXPECT_EQ(v.count(), 5u);
  EXPECT_NEAR(v.sum, 60.00315, 1e-9);
  for (std::size_t i = 1; i < v.cumulative.size(); ++i) {
    EXPECT_LE(v.cumulative[i - 1], v.cumulative[i]) << i;
  }
}

TEST(Exposition, HistogramLines) {
  Histogram h;
  h.observe(milliseconds(2));
  Exposition e;
  e.histogram("mw_lat_seconds", {{"stage", "spf"}}, h.read());
  const std::string& t = e.text();
  EXPECT_NE(t.find("mw_lat_seconds_bucket{stage=\"spf\",le=\"0.001\"} 0\n"), std::string::npos) << t;
  EXPECT_NE(t.find("mw_lat_seconds_bucket{stage=\"spf\",le=\"0.0025\"} 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("mw_lat_seconds_bucket{stage=\"spf\",le=\"+Inf\"} 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("mw_lat_seconds_sum{stage=\"spf\"} 0.002\n"), std::string::npos) << t;
  EXPECT_NE(t.find("mw_lat_seconds_count{stage=\"spf\"} 1\n"), std::string::npos) << t;
  // +Inf comes last among the buckets, then _sum, then _count.
  EXPECT_LT(t.find("le=\"30\""), t.find("le=\"+Inf\""));
  EXPECT_LT(t.find("le=\"+Inf\""), t.find("_sum"));
  EXPECT_LT(t.find("_sum"), t.find("_count"));
}

TEST(Exposition, HistogramWithoutLabels) {
  Histogram h;
  Exposition e;
  e.histogram("mw_empty_seconds", {}, h.read());
  EXPECT_NE(e.text().find("mw_empty_seconds_bucket{le=\"+Inf\"} 0\n"), std::string::npos);
  EXPECT_NE(e.text().find("mw_empty_seconds_sum 0\n"), std::string::npos);
  EXPECT_NE(e.text().find("mw_empty_seconds_count 0\n"), std::string::npos);
}

TEST(Family, SameLabelSameMetricAndOverflowIsBounded) {
  Family<Counter> f(2);
  f.at("b").add();
  f.at("a").add(2);
  f.at("b").add();
  EXPECT_EQ(&f.at("a"), &f.at("a"));
  f.at("c").add();  // past the bound: shares the overflow metric
  f.at("d").add(4);
  std::string seen;
  f.forEach([&](std::string_view label, const Counter& c) {
    seen += std::string(label) + "=" + std::to_string(c.get()) + " ";
  });
  EXPECT_EQ(seen, "a=2 b=2 __overflow__=5 ");
}

TEST(Exposition, RegistryRendersEveryFamilyAndCounts) {
  Counters& c = counters();
  const std::uint64_t before = c.rejected.get();
  c.rejected.add();
  c.rule_hits.at("GTUBE").add();
  c.list_hits.at("zen.example").add();
  c.countDns(DnsOutcome::Timeout, seconds(5));
  setBuildInfo({{"version", "1.2.3"}, {"openssl", "3.0.x \"test\""}});
  const std::string t = renderPrometheus();
  EXPECT_NE(t.find("mailwarden_messages_total{action=\"reject\"} " + std::to_string(before + 1) +
                   "\n"),
            std::string::npos);
  EXPECT_NE(t.find("mailwarden_rule_hits_total{rule=\"GTUBE\"} "), std::string::npos);
  EXPECT_NE(t.find("mailwarden_list_hits_total{zone=\"zen.example\"} "), std::string::npos);
  EXPECT_NE(t.find("mailwarden_dns_queries_total{outcome=\"timeout\"} "), std::string::npos);
  EXPECT_NE(t.find("mailwarden_bypassed_total{reason=\"authenticated\"} "), std::string::npos);
  EXPECT_NE(t.find("mailwarden_dmarc_records_total{result=\"spooled\"} "), std::string::npos);
  EXPECT_NE(t.find("mailwarden_check_results_total{check=\"dkim\",result=\"permerror\"} 0\n"),
            std::string::npos);
  EXPECT_NE(t.find("mailwarden_build_info{version=\"1.2.3\",openssl=\"3.0.x \\\"test\\\"\"} 1\n"),
            std::string::npos);
  // Each family once: one TYPE line per name.
  std::size_t types = 0;
  for (std::size_t p = t.find("# TYPE "); p != std::string::npos; p = t.find("# TYPE ", p + 1)) {
    ++types;
  }
  std::size_t helps = 0;
  for (std::size_t p = t.find("# HELP "); p != std::string::npos; p = t.find("# HELP ", p + 1)) {
    ++helps;
  }
  EXPECT_EQ(types, helps);
  EXPECT_EQ(types, 21u);  // every family of counters.h (dmarc_records_total included), and build info
  EXPECT_EQ(t.back(), '\n');
}

}  // namespace
}  // namespace mw::obs
