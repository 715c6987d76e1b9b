// dmarc.reports through Scan (issue 20, point 1): what a DMARC-evaluated message leaves in
// the report store, read back with Store::rows() from a temporary SQLite file; what is
// not recorded (our own users, tempfailed mail, `check`); a locked database never changes
// a verdict, the records wait in the spool and reach the store once it is free.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "mailwarden/config/config.h"
#include "mailwarden/dns/zone.h"
#include "mailwarden/obs/counters.h"
#include "mailwarden/report/store.h"
#include "mailwarden/scan/scan.h"

namespace mw::scan {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kNow = 1700000000;  // 2023-11-14 22:13:20 UTC

std::shared_ptr<dns::ZoneResolver> zone() {
  auto z = std::make_shared<dns::ZoneResolver>();
  const Result<void> loaded = z->loadText(
      "$TTL 300\n"
      "$ORIGIN test.\n"
      "good A 192.0.2.1\n"
      "good TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n"
      "_dmarc.good TXT \"v=DMARC1; p=quarantine; sp=none; adkim=s\"\n"
      "bad A 198.51.100.1\n"
      "bad TXT \"v=spf1 ip4:198.51.100.0/24 -all\"\n"
      "_dmarc.bad TXT \"v=DMARC1; p=reject; np=quarantine; aspf=s\"\n"
      // 192.0.2.99 is listed with a tempfail action: DMARC passes, the message is deferred
      "99.2.0.192.bl A 127.0.0.2\n",
      "report.zone");
  EXPECT_TRUE(loaded) << loaded.error().describe();
  return z;
}

class DmarcReport : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mw-dmarc-report-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    db_ = dir_ + "/dmarc.sqlite";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string yaml(const std::string& extra = "") const {
    return "authserv_id: mx.test.example\n"
           "log:\n  target: stderr\n  level: error\n"
           "rules:\n  directories: []\n"
           "dmarc:\n"
           "  mode: enforce\n"
           "  reports:\n"
           "    enabled: true\n"
           "    store: sqlite:" + db_ + "\n"
           "    org_name: Test Receiver\n"
           "    email: dmarc@mx.test.example\n"
           "reputation:\n"
           "  iprev:\n    enabled: false\n"
           "  lists:\n"
           "    - zone: bl.test\n"
           "      lookup: [client_ip]\n"
           "      answers:\n"
           "        - codes: [\"127.0.0.2\"]\n"
           "          symbol: RBL_TEST\n"
           "          score: 0\n"
           "          action: tempfail\n" +
           extra;
  }

  SnapshotConstSharedPtr snapshot(const std::string& extra = "") {
    config::LoadResult loaded = config::loadString(yaml(extra), "test.yaml");
    EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].describe());
    Result<SnapshotConstSharedPtr> s =
        Snapshot::build(std::move(loaded.config), std::make_shared<FixedClock>(kNow), zone());
    EXPECT_TRUE(s) << s.error().describe();
    return s ? *s : nullptr;
  }

  // What the store holds once the recorder's writer has caught up (records are queued by
  // the message, written by the writer thread).
  std::vector<report::Row> rows(const Snapshot& snap, const std::string& domain) {
    EXPECT_NE(snap.reports(), nullptr);
    EXPECT_TRUE(snap.reports()->settle(std::chrono::seconds(10)));
    Result<std::vector<report::Row>> r =
        snap.reports()->store().rows(report::Period::of(std::chrono::sys_seconds(std::chrono::seconds(kNow))), domain);
    EXPECT_TRUE(r) << r.error().describe();
    return r ? *r : std::vector<report::Row>{};
  }

  std::string dir_;
  std::string db_;
};

struct Message {
  std::string ip = "192.0.2.1";
  std::string mail_from = "<alice@good.test>";
  std::string from = " Alice <alice@good.test>";
  std::string auth_user;
};

verdict::Verdict send(const SnapshotConstSharedPtr& snap, const Message& m) {
  Scan s(snap);
  s.connect(m.ip, "unknown");
  s.helo("mta.good.test");
  s.authenticated(m.auth_user);
  s.mailFrom(m.mail_from);
  s.rcpt("<Bob@Example.ORG>");
  s.rcpt("<carol@example.net>");
  s.header("From", m.from);
  s.header("Subject", " hi");
  s.endOfHeaders();
  s.body("hello\r\n");
  return s.finish();
}

std::uint64_t recorded(obs::DmarcRecord r) {
  return obs::counters().dmarc_records[static_cast<std::size_t>(r)].get();
}

TEST_F(DmarcReport, PassIsRecordedWithEveryField) {
  const SnapshotConstSharedPtr snap = snapshot();
  const std::uint64_t stored = recorded(obs::DmarcRecord::Stored);
  EXPECT_EQ(send(snap, Message{}).action, verdict::Action::Accept);
  const std::vector<report::Row> got = rows(*snap, "good.test");
  EXPECT_EQ(recorded(obs::DmarcRecord::Stored), stored + 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].count, 1);
  const report::Record& r = got[0].record;
  EXPECT_EQ(r.header_from, "good.test");
  EXPECT_EQ(r.source_ip, "192.0.2.1");
  EXPECT_EQ(r.policy.domain, "good.test");
  EXPECT_EQ(r.policy.p, report::Policy::Quarantine);
  EXPECT_EQ(r.policy.sp, report::Policy::None);
  EXPECT_FALSE(r.policy.np);
  EXPECT_EQ(r.policy.adkim, report::Alignment::Strict);
  EXPECT_EQ(r.policy.aspf, report::Alignment::Relaxed);
  EXPECT_FALSE(r.policy.testing);
  EXPECT_EQ(r.policy.discovery, report::Discovery::TreeWalk);
  EXPECT_EQ(r.disposition, report::Disposition::Pass);
  EXPECT_EQ(r.spf_aligned, report::Aligned::Pass);
  EXPECT_EQ(r.dkim_aligned, report::Aligned::Fail);
  EXPECT_TRUE(r.overrides.empty());
  EXPECT_TRUE(r.dkim.empty());  // unsigned: dkim=none names no signature
  ASSERT_TRUE(r.spf);
  EXPECT_EQ(r.spf->domain, "good.test");
  EXPECT_EQ(r.spf->scope, report::SpfScope::MailFrom);
  EXPECT_EQ(r.spf->result, report::SpfResult::Pass);
  EXPECT_EQ(r.envelope_from, "good.test");
  EXPECT_EQ(r.envelope_to, "example.org");  // the first recipient, lower-cased
  EXPECT_EQ(r.time.time_since_epoch().count(), report::Period::of(r.time).begin());
}

TEST_F(DmarcReport, RejectIsRecordedAsReject) {
  const SnapshotConstSharedPtr snap = snapshot();
  Message m;
  m.ip = "203.0.113.5";
  m.mail_from = "<mallory@bad.test>";
  m.from = " <ceo@bad.test>";
  EXPECT_EQ(send(snap, m).action, verdict::Action::Reject);
  const std::vector<report::Row> got = rows(*snap, "bad.test");
  ASSERT_EQ(got.size(), 1u);
  const report::Record& r = got[0].record;
  EXPECT_EQ(r.source_ip, "203.0.113.5");
  EXPECT_EQ(r.policy.p, report::Policy::Reject);
  EXPECT_FALSE(r.policy.sp);
  EXPECT_EQ(r.policy.np, report::Policy::Quarantine);
  EXPECT_EQ(r.policy.aspf, report::Alignment::Strict);
  EXPECT_EQ(r.disposition, report::Disposition::Reject);
  EXPECT_EQ(r.spf_aligned, report::Aligned::Fail);
  EXPECT_EQ(r.dkim_aligned, report::Aligned::Fail);
  ASSERT_TRUE(r.spf);
  EXPECT_EQ(r.spf->result, report::SpfResult::Fail);
  EXPECT_EQ(r.spf->domain, "bad.test");
}

TEST_F(DmarcReport, MonitorModeIsALocalPolicyOverride) {
  const SnapshotConstSharedPtr snap = snapshot();
  config::LoadResult loaded = config::loadString(yaml(), "test.yaml");
  ASSERT_TRUE(loaded.ok());
  loaded.config.dmarc.mode = config::DmarcMode::Monitor;
  // The same store string: the running recorder is kept, as a reload keeps it.
  Result<std::shared_ptr<report::Recorder>> kept = reportsFor(loaded.config, snap.get());
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->get(), snap->reports());
  Result<SnapshotConstSharedPtr> monitor = Snapshot::build(
      std::move(loaded.config), std::make_shared<FixedClock>(kNow), zone(), nullptr, *kept);
  ASSERT_TRUE(monitor) << monitor.error().describe();
  Message m;
  m.ip = "203.0.113.5";
  m.from = " <ceo@bad.test>";
  m.mail_from = "<x@bad.test>";
  EXPECT_EQ(send(*monitor, m).action, verdict::Action::Tag);  // scored (3), not refused
  const std::vector<report::Row> got = rows(**monitor, "bad.test");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].record.disposition, report::Disposition::None);
  ASSERT_EQ(got[0].record.overrides.size(), 1u);
  EXPECT_EQ(got[0].record.overrides[0].type, report::OverrideType::LocalPolicy);
  EXPECT_EQ(got[0].record.overrides[0].comment, "monitor mode");
}

TEST_F(DmarcReport, BypassedAndTempfailedAreNotRecorded) {
  const SnapshotConstSharedPtr snap =
      snapshot("bypass:\n  authenticated: score\n");
  Message own;
  own.auth_user = "alice";
  own.ip = "203.0.113.5";
  own.from = " <ceo@bad.test>";
  own.mail_from = "<ceo@bad.test>";
  const verdict::Verdict v = send(snap, own);
  EXPECT_EQ(v.action, verdict::Action::Tag);  // score mode: evaluated and scored, not refused
  EXPECT_TRUE(v.bypass);
  Message deferred;
  deferred.ip = "192.0.2.99";  // SPF and DMARC pass; the list's tempfail defers it
  EXPECT_EQ(send(snap, deferred).action, verdict::Action::TempFail);
  EXPECT_TRUE(snap->reports()->settle(std::chrono::seconds(10)));
  Result<std::vector<std::string>> domains =
      snap->reports()->store().domains(report::Period::of(std::chrono::sys_seconds(std::chrono::seconds(kNow))));
  ASSERT_TRUE(domains);
  EXPECT_TRUE(domains->empty());
  // The control: the same pass from another address is recorded.
  EXPECT_EQ(send(snap, Message{}).action, verdict::Action::Accept);
  EXPECT_EQ(rows(*snap, "good.test").size(), 1u);
}

TEST_F(DmarcReport, ExcludedDomainsAreNotRecorded) {
  const SnapshotConstSharedPtr snap = snapshot();
  config::LoadResult loaded = config::loadString(
      yaml() + "", "test.yaml");
  ASSERT_TRUE(loaded.ok());
  loaded.config.dmarc.reports.exclude_domains = {".test"};
  Result<SnapshotConstSharedPtr> excl = Snapshot::build(
      std::move(loaded.config), std::make_shared<FixedClock>(kNow), zone(), nullptr, snap->reportsPtr());
  ASSERT_TRUE(excl);
  EXPECT_EQ(send(*excl, Message{}).action, verdict::Action::Accept);
  EXPECT_TRUE(rows(**excl, "good.test").empty());
}

TEST_F(DmarcReport, HundredMessagesFromTwoAddressesAreTwoRows) {
  const SnapshotConstSharedPtr snap = snapshot();
  for (int i = 0; i < 100; ++i) {
    Message m;
    m.ip = i % 3 == 0 ? "192.0.2.1" : "192.0.2.2";
    EXPECT_EQ(send(snap, m).action, verdict::Action::Accept);
  }
  const std::vector<report::Row> got = rows(*snap, "good.test");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].count + got[1].count, 100);
  EXPECT_NE(got[0].record.source_ip, got[1].record.source_ip);
  for (const report::Row& r : got) {
    EXPECT_EQ(r.count, r.record.source_ip == "192.0.2.1" ? 34 : 66);
  }
}

// Another connection holds the write lock: verdicts are the same and no message waits
// for the store (the writer thread does), the records wait in the spool (counted), and
// reach the store once it is free, with no further message needed.
TEST_F(DmarcReport, LockedDatabaseSpoolsThenFlushes) {
  const SnapshotConstSharedPtr snap = snapshot();
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  const std::uint64_t spooled = recorded(obs::DmarcRecord::Spooled);
  const std::uint64_t stored = recorded(obs::DmarcRecord::Stored);
  Message bad;
  bad.ip = "203.0.113.5";
  bad.mail_from = "<x@bad.test>";
  bad.from = " <ceo@bad.test>";
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(send(snap, Message{}).action, verdict::Action::Accept);
    EXPECT_EQ(send(snap, bad).action, verdict::Action::Reject);
  }
  // The writer met the lock (the store's bounded wait) and holds all ten back.
  ASSERT_TRUE(snap->reports()->settle(std::chrono::seconds(10)));
  EXPECT_EQ(recorded(obs::DmarcRecord::Spooled), spooled + 10);
  EXPECT_EQ(recorded(obs::DmarcRecord::Stored), stored);
  EXPECT_EQ(snap->reports()->spooled(), 10u);
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  // No message is sent: the writer retries after its backoff on its own (bounded wait).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (snap->reports()->spooled() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(snap->reports()->spooled(), 0u);
  const std::vector<report::Row> good = rows(*snap, "good.test");
  const std::vector<report::Row> bads = rows(*snap, "bad.test");
  ASSERT_EQ(good.size(), 1u);
  ASSERT_EQ(bads.size(), 1u);
  EXPECT_EQ(good[0].count, 5);
  EXPECT_EQ(bads[0].count, 5);
  EXPECT_EQ(bads[0].record.disposition, report::Disposition::Reject);
  EXPECT_EQ(recorded(obs::DmarcRecord::Stored), stored + 10);
  EXPECT_EQ(recorded(obs::DmarcRecord::Spooled), spooled + 10);  // counted once each
}

TEST_F(DmarcReport, StoreThatCannotBeOpenedFailsTheBuild) {
  db_ = dir_ + "/missing/dmarc.sqlite";
  config::LoadResult loaded = config::loadString(yaml(), "/etc/mw.yaml");
  ASSERT_TRUE(loaded.ok());
  Result<SnapshotConstSharedPtr> s =
      Snapshot::build(std::move(loaded.config), std::make_shared<FixedClock>(kNow), zone());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::Invalid);
  const std::string d = s.error().describe();
  EXPECT_NE(d.find("/etc/mw.yaml:"), std::string::npos) << d;
  EXPECT_NE(d.find(db_), std::string::npos) << d;
}

TEST_F(DmarcReport, OffMeansNoStore) {
  config::LoadResult loaded = config::loadString(yaml(), "test.yaml");
  ASSERT_TRUE(loaded.ok());
  loaded.config.dmarc.reports.enabled = false;
  Result<SnapshotConstSharedPtr> s =
      Snapshot::build(std::move(loaded.config), std::make_shared<FixedClock>(kNow), zone());
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)->reports(), nullptr);
  EXPECT_EQ(send(*s, Message{}).action, verdict::Action::Accept);
  EXPECT_FALSE(fs::exists(db_));
}

}  // namespace
}  // namespace mw::scan
