// Tests of the dmarc: section of config/ — defaults, every key, and file:line errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mailwarden/config/config.h"
#include "testing.h"

namespace mw::config {
namespace {

using testing::errors;
using testing::loadNoRules;

TEST(DmarcConfig, DefaultsAreMonitor) {
  const LoadResult r = loadNoRules("", "d.yaml");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.config.dmarc.enabled);
  EXPECT_EQ(r.config.dmarc.mode, DmarcMode::Monitor);
  EXPECT_EQ(r.config.dmarc.quarantine_action, verdict::Action::Quarantine);
  EXPECT_EQ(r.config.dmarc.reject_reply.code, 550);
  EXPECT_EQ(r.config.dmarc.reject_reply.enhanced, "5.7.1");
}

TEST(DmarcConfig, EveryKey) {
  const LoadResult r = loadNoRules(
      "dmarc:\n"
      "  enabled: true\n"
      "  mode: enforce\n"
      "  quarantine_action: tag\n"
      "  reject_reply: {code: 554, enhanced: \"5.7.1\", text: \"no\"}\n"
      "  exceptions:\n"
      "    domains: [Lists.Example.ORG, .forwarder.example]\n"
      "    networks: [192.0.2.0/24, \"2001:db8::/32\", 198.51.100.7]\n"
      "  reject_score: 4\n"
      "  quarantine_score: 1.5\n"
      "  none_score: 0\n"
      "  bad_from_score: 2\n",
      "d.yaml");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  const DmarcOptions& o = r.config.dmarc;
  EXPECT_EQ(o.mode, DmarcMode::Enforce);
  EXPECT_EQ(o.quarantine_action, verdict::Action::Tag);
  EXPECT_EQ(o.reject_reply.code, 554);
  EXPECT_EQ(o.reject_reply.text, "no");
  EXPECT_EQ(o.exception_domains, (std::vector<std::string>{"lists.example.org", ".forwarder.example"}));
  EXPECT_EQ(o.exception_networks.size(), 3u);
  EXPECT_DOUBLE_EQ(o.reject_score, 4);
  EXPECT_DOUBLE_EQ(o.quarantine_score, 1.5);
  EXPECT_DOUBLE_EQ(o.none_score, 0);
  EXPECT_DOUBLE_EQ(o.bad_from_score, 2);
}

TEST(DmarcConfig, ErrorsWithFileAndLine) {
  const LoadResult r = loadNoRules(
      "dmarc:\n"
      "  mode: enforcing\n"
      "  quarantine_action: accept\n"
      "  exceptions:\n"
      "    domains: [\"bad domain\", ok.example]\n"
      "    networks: [192.0.2.0/33, example.com]\n"
      "  reject_reply: {code: 451}\n"
      "  rejct_score: 1\n",
      "d.yaml");
  const std::vector<std::string> want = {
      "d.yaml:2: dmarc.mode: unknown value 'enforcing' (expected monitor or enforce)",
      "d.yaml:3: dmarc.quarantine_action: unknown value 'accept' (expected tag, quarantine or "
      "reject)",
      "d.yaml:5: dmarc.exceptions.domains[0]: must be a domain name such as example.org "
      "(letters, digits, '-', '_' and '.')",
      "d.yaml:6: dmarc.exceptions.networks[0]: prefix length 33 is larger than 32",
      "d.yaml:6: dmarc.exceptions.networks[1]: 'example.com' is not an IPv4 or IPv6 address",
      "d.yaml:7: dmarc.reject_reply.code: must be between 500 and 599 (got 451)",
      "d.yaml:8: dmarc: unknown key 'rejct_score' (did you mean 'reject_score'?)",
  };
  EXPECT_EQ(errors(r), want);
  EXPECT_EQ(r.config.dmarc.mode, DmarcMode::Monitor);  // invalid settings keep the default
  EXPECT_TRUE(r.config.dmarc.exception_networks.empty());
}

}  // namespace
}  // namespace mw::config

namespace mw::config {
namespace {

using testing::errors;
using testing::loadNoRules;

// dmarc.reports (issue 20).
TEST(DmarcReportsConfig, DefaultsAreOff) {
  const LoadResult r = loadNoRules("", "d.yaml");
  ASSERT_TRUE(r.ok());
  const DmarcReportOptions& o = r.config.dmarc.reports;
  EXPECT_FALSE(o.enabled);
  EXPECT_EQ(o.store, "sqlite:/var/lib/mailwarden/dmarc.sqlite");
  EXPECT_TRUE(o.exclude_domains.empty());
  EXPECT_EQ(o.max_report_bytes, 10u * 1024 * 1024);
}

TEST(DmarcReportsConfig, EveryKey) {
  const LoadResult r = loadNoRules(
      "dmarc:\n"
      "  reports:\n"
      "    enabled: true\n"
      "    store: sqlite:/srv/mw/dmarc.sqlite\n"
      "    org_name: Example Receiver\n"
      "    email: dmarc-reports@example.net\n"
      "    extra_contact_info: https://example.net/dmarc\n"
      "    exclude_domains: [Example.COM, .internal.example]\n"
      "    max_report_bytes: 1000000\n",
      "d.yaml");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  const DmarcReportOptions& o = r.config.dmarc.reports;
  EXPECT_TRUE(o.enabled);
  EXPECT_EQ(o.store, "sqlite:/srv/mw/dmarc.sqlite");
  EXPECT_EQ(o.org_name, "Example Receiver");
  EXPECT_EQ(o.email, "dmarc-reports@example.net");
  EXPECT_EQ(o.extra_contact_info, "https://example.net/dmarc");
  EXPECT_EQ(o.exclude_domains, (std::vector<std::string>{"example.com", ".internal.example"}));
  EXPECT_EQ(o.max_report_bytes, 1000000u);
  EXPECT_EQ(o.where.file, "d.yaml");
  EXPECT_EQ(o.where.line, 2);
}

TEST(DmarcReportsConfig, ErrorsWithFileAndLine) {
  const LoadResult r = loadNoRules(
      "dmarc:\n"
      "  reports:\n"
      "    enabled: true\n"
      "    store: redis://127.0.0.1:99999/0\n"
      "    email: nobody\n"
      "    exclude_domains: [\"bad domain\"]\n"
      "    max_report_bytes: 10\n",
      "d.yaml");
  ASSERT_FALSE(r.ok());
  const std::vector<std::string> e = errors(r);
  auto has = [&](const std::string& want) {
    for (const std::string& x : e) {
      if (x.find(want) != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(has("d.yaml:4: dmarc.reports.store: redis store redis://127.0.0.1:99999/0: the port "
                  "is not a number")) << e.front();
  EXPECT_TRUE(has("d.yaml:5: dmarc.reports.email: expected an email address"));
  EXPECT_TRUE(has("d.yaml:6: dmarc.reports.exclude_domains[0]:"));
  EXPECT_TRUE(has("d.yaml:7: dmarc.reports.max_report_bytes:"));
  EXPECT_TRUE(has("d.yaml:2: dmarc.reports: missing org_name"));
  EXPECT_FALSE(r.config.dmarc.reports.enabled);  // nothing half-applied
}

TEST(DmarcReportsConfig, StoreMustBeAnAbsoluteSqlitePath) {
  for (const char* bad : {"sqlite:relative/dmarc.sqlite", "sqlite:", "sqlite:/var/lib/", "mysql://x",
                          "/var/lib/mailwarden/dmarc.sqlite"}) {
    const LoadResult r = loadNoRules(std::string("dmarc:\n  reports:\n    store: \"") + bad + "\"\n",
                                     "d.yaml");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(errors(r).front().find("d.yaml:3: dmarc.reports.store:"), std::string::npos)
        << errors(r).front();
  }
}

TEST(DmarcReportsConfig, RedisStoresAreCheckedHereAndOpenedLater) {
  // Syntax only: nothing listens at these, and loading does not care (Snapshot::build
  // connects, at start and in configtest).
  for (const char* good : {"redis://127.0.0.1:6379/0", "redis://[::1]/2", "redis://redis.example.net",
                           "redis://:secret@10.0.0.5:6380/1", "redis+unix:///run/redis/redis.sock",
                           "redis+unix:///run/redis/redis.sock?db=4"}) {
    const LoadResult r = loadNoRules(std::string("dmarc:\n  reports:\n    store: \"") + good + "\"\n",
                                     "d.yaml");
    ASSERT_TRUE(r.ok()) << good << ": " << errors(r).front();
    EXPECT_EQ(r.config.dmarc.reports.store, good);
  }
  for (const char* bad : {"redis:/127.0.0.1", "redis://", "redis://[::1", "redis://h/db",
                          "redis+unix://run/redis.sock", "redis+unix:///run/r.sock?database=1",
                          "redis://:hunter2@h:0"}) {
    const LoadResult r = loadNoRules(std::string("dmarc:\n  reports:\n    store: \"") + bad + "\"\n",
                                     "d.yaml");
    ASSERT_FALSE(r.ok()) << bad;
    const std::string e = errors(r).front();
    EXPECT_EQ(e.rfind("d.yaml:3: dmarc.reports.store: redis store ", 0), 0u) << e;
    EXPECT_EQ(e.find("hunter2"), std::string::npos) << e;
  }
}

TEST(DmarcReportsConfig, EnabledNeedsOrgNameAndEmail) {
  const LoadResult r = loadNoRules("dmarc:\n  reports: {enabled: true, org_name: X}\n", "d.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(errors(r).front(),
            "d.yaml:2: dmarc.reports: missing email (reports need org_name and email: RFC 9990 "
            "report_metadata)");
  // Off, nothing is required.
  EXPECT_TRUE(loadNoRules("dmarc:\n  reports: {enabled: false}\n", "d.yaml").ok());
}

}  // namespace
}  // namespace mw::config
