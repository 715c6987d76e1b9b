// tests/unit/report/report_job_test.cpp — RFC 9990 "Verifying External Destinations"
// over a ZoneResolver, and the report job end to end: a real SqliteStore in a temporary
// folder, a ZoneResolver, DirectorySender (--out) and SendmailSender over /bin/false
// (a real program that fails: the failed-send path).
#include "mailwarden/report/report_job.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <sstream>

#include "mailwarden/dns/zone.h"

namespace mw::report {
namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;

const Period kDay{20513};                       // 2026-03-01
constexpr std::int64_t kNow = 1772409600 + 3600;  // 2026-03-02 01:00 UTC

constexpr std::string_view kZone = R"($TTL 300
_dmarc.example.com. TXT "v=DMARC1; p=reject; rua=mailto:agg@example.com,mailto:dmarc@red.example.net"
red.example.net. A 192.0.2.9
example.com._report._dmarc.red.example.net. TXT "v=DMARC1"
_dmarc.override.example. TXT "v=DMARC1; p=none"
override.example._report._dmarc.red.example.net. TXT "v=DMARC1; rua=mailto:other@red.example.net!1m"
elsewhere.example._report._dmarc.red.example.net. TXT "v=DMARC1; rua=mailto:x@evil.example"
notdmarc.example._report._dmarc.red.example.net. TXT "v=spf1 -all"
;@servfail flaky.example._report._dmarc.red.example.net. TXT
_dmarc.norua.example. TXT "v=DMARC1; p=none"
_dmarc.https.example. TXT "v=DMARC1; p=none; rua=https://r.example/x"
_dmarc.many.example. TXT "v=DMARC1; p=none; rua=mailto:a@many.example,mailto:b@many.example,mailto:c@many.example"
_dmarc.skip.example. TXT "v=DMARC1; p=none; rua=mailto:agg@skip.example"
;@servfail _dmarc.temp.example. TXT
)";

std::shared_ptr<dns::ZoneResolver> zone() {
  auto z = std::make_shared<dns::ZoneResolver>();
  const Result<void> r = z->loadText(kZone, "test.zone");
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().describe());
  return z;
}

Destination verify(dns::Resolver& resolver, const std::string& domain, const std::string& uri) {
  const dns::Budget budget(std::chrono::seconds(5));
  dmarc::Discovery discovery(resolver, budget);
  const std::optional<MailtoUri> u = parseMailto(uri);
  EXPECT_TRUE(u.has_value()) << uri;
  return verifyDestination(discovery, resolver, budget, domain, u.value_or(MailtoUri{}));
}

TEST(VerifyDestination, ExternalDestinationRules) {
  const auto z = zone();
  struct Case {
    const char* name;
    const char* domain;
    const char* uri;
    DestinationStatus want;
    const char* address;
  };
  const Case cases[] = {
      {"same organizational domain", "example.com", "mailto:agg@reports.example.com",
       DestinationStatus::Authorized, "agg@reports.example.com"},
      {"external, authorized", "example.com", "mailto:dmarc@red.example.net",
       DestinationStatus::Authorized, "dmarc@red.example.net"},
      {"external, no record", "norua.example", "mailto:dmarc@red.example.net",
       DestinationStatus::Unauthorized, ""},
      {"external, not v=DMARC1", "notdmarc.example", "mailto:dmarc@red.example.net",
       DestinationStatus::Unauthorized, ""},
      {"override on the same host", "override.example", "mailto:dmarc@red.example.net",
       DestinationStatus::Authorized, "other@red.example.net"},
      {"override to another host refused", "elsewhere.example", "mailto:dmarc@red.example.net",
       DestinationStatus::Unauthorized, ""},
      {"temporary DNS failure", "flaky.example", "mailto:dmarc@red.example.net",
       DestinationStatus::TempError, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Destination d = verify(*z, c.domain, c.uri);
    EXPECT_EQ(d.status, c.want) << d.why;
    if (c.want == DestinationStatus::Authorized) {
      EXPECT_EQ(d.uri.address, c.address);
    } else {
      EXPECT_FALSE(d.why.empty());
    }
  }
  // The override carries its own size limit.
  EXPECT_EQ(verify(*z, "override.example", "mailto:dmarc@red.example.net").uri.max_bytes,
            1u << 20);
}

TEST(ExcludedDomain, AsTheRecordingMatches) {
  const std::vector<std::string> list = {"exact.example", ".tree.example"};
  EXPECT_TRUE(excludedDomain(list, "exact.example"));
  EXPECT_FALSE(excludedDomain(list, "sub.exact.example"));
  EXPECT_TRUE(excludedDomain(list, "tree.example"));
  EXPECT_TRUE(excludedDomain(list, "a.b.tree.example"));
  EXPECT_FALSE(excludedDomain(list, "nottree.example"));
}

Record record(const std::string& domain, const std::string& ip) {
  Record r;
  r.header_from = domain;
  r.source_ip = ip;
  r.policy.domain = domain;
  r.disposition = Disposition::None;
  r.spf = SpfAuth{domain, SpfScope::MailFrom, SpfResult::Fail};
  r.time = sys_seconds(seconds(kDay.begin() + 600));
  return r;
}

class ReportJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mw-job.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    out_ = dir_ / "out";
    std::filesystem::create_directory(out_);
    Result<std::unique_ptr<SqliteStore>> s = SqliteStore::open((dir_ / "dmarc.sqlite").string());
    ASSERT_TRUE(s.has_value()) << s.error().describe();
    store_ = std::move(*s);
    for (const char* d : {"example.com", "norua.example", "https.example", "many.example",
                          "skip.example", "temp.example", "override.example"}) {
      for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(store_->record(record(d, "192.0.2." + std::to_string(i % 2 + 1))));
      }
    }
    options_.meta.org_name = "Test Receiver";
    options_.meta.email = "dmarc@mx.test.example";
    options_.meta.generator = "mailwarden test";
    options_.exclude_domains = {"skip.example"};
    options_.now = kNow;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  JobSummary run(Sender* sender) {
    std::ostringstream out;
    std::ostringstream err;
    const JobSummary s = runReportJob(*store_, *zone_, sender, options_, out, err);
    log_ = out.str() + err.str();
    return s;
  }

  std::filesystem::path dir_;
  std::filesystem::path out_;
  std::unique_ptr<SqliteStore> store_;
  std::shared_ptr<dns::ZoneResolver> zone_ = zone();
  JobOptions options_;
  std::string log_;
};

TEST_F(ReportJobTest, SendsOncePerDomainAndPeriod) {
  DirectorySender sender(out_.string());
  const JobSummary s = run(&sender);
  SCOPED_TRACE(log_);
  EXPECT_FALSE(s.store_error);
  // example.com: two destinations (own + authorized external); many.example: 2 of 3.
  EXPECT_EQ(s.reports, 2u);
  EXPECT_EQ(s.mails, 4u);
  EXPECT_EQ(s.excluded, 1u);
  EXPECT_EQ(s.no_rua, 2u);           // norua.example, override.example: records without rua
  EXPECT_EQ(s.non_mailto, 1u);       // https.example
  EXPECT_EQ(s.no_destination, 1u);   // https.example: nothing left
  EXPECT_EQ(s.over_uri_limit, 1u);   // many.example's third
  EXPECT_EQ(s.deferred, 1u);         // temp.example: SERVFAIL on _dmarc
  EXPECT_EQ(s.failures, 0u);
  EXPECT_TRUE(s.leftForLater());
  const std::string base = "mx.test.example!example.com!1772323200!1772409599.xml.gz";
  EXPECT_TRUE(std::filesystem::exists(out_ / base));
  EXPECT_TRUE(std::filesystem::exists(out_ / (base + ".eml")));
  EXPECT_TRUE(std::filesystem::exists(out_ / (base + ".d2.eml")));

  // Second run: everything sent is taken; temp.example was released and is tried again.
  const JobSummary again = run(&sender);
  EXPECT_EQ(again.reports, 0u);
  EXPECT_EQ(again.taken, 5u);  // example.com, norua, https, many, override
  EXPECT_EQ(again.deferred, 1u);
}

TEST_F(ReportJobTest, AFailedSendIsReleasedAndSentByTheNextRun) {
  options_.exclude_domains = {"skip.example", "norua.example",  // all but many.example "https.example",
                              "temp.example", "override.example", "example.com"};
  SendmailSender failing("/bin/false");
  const JobSummary s = run(&failing);
  SCOPED_TRACE(log_);
  EXPECT_EQ(s.failures, 1u);
  EXPECT_EQ(s.reports, 0u);
  EXPECT_TRUE(s.leftForLater());
  SendmailSender missing((dir_ / "no-such-sendmail").string());
  EXPECT_EQ(run(&missing).failures, 1u);
  DirectorySender sender(out_.string());
  const JobSummary later = run(&sender);
  EXPECT_EQ(later.reports, 1u);
  EXPECT_EQ(later.mails, 2u);
  EXPECT_FALSE(later.leftForLater());
  EXPECT_TRUE(std::filesystem::exists(out_ / "mx.test.example!many.example!1772323200!1772409599.xml.gz"));
}

TEST_F(ReportJobTest, DryRunChangesNothing) {
  options_.dry_run = true;
  const JobSummary s = run(nullptr);
  EXPECT_EQ(s.reports, 0u);
  EXPECT_EQ(s.taken, 0u);
  EXPECT_NE(log_.find("would send example.com 2026-03-01 to mailto:agg@example.com"),
            std::string::npos)
      << log_;
  EXPECT_TRUE(std::filesystem::is_empty(out_));
  options_.dry_run = false;
  DirectorySender sender(out_.string());
  EXPECT_EQ(run(&sender).reports, 2u);  // nothing was claimed by the dry run
}

TEST_F(ReportJobTest, OnlyCompleteDaysAndPurge) {
  // A record of today is not reported; the purge keeps keep_days days.
  ASSERT_TRUE(store_->record([] {
    Record r = record("example.com", "192.0.2.7");
    r.time = sys_seconds(seconds(kNow));
    return r;
  }()));
  options_.keep_days = 0;  // purge everything before today
  DirectorySender sender(out_.string());
  const JobSummary s = run(&sender);
  EXPECT_EQ(s.reports, 2u);
  EXPECT_EQ(s.purged, 14);  // the 7 domains' 2 rows each of kDay
  const Result<std::vector<Period>> left = store_->periods();
  ASSERT_TRUE(left.has_value());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->front().day, kDay.day + 1);
}

}  // namespace
}  // namespace mw::report
