// The ARC stage (scan/arc_stage.cpp) and the DMARC stage's trusted-forwarder override,
// through Scan over a ZoneResolver, with the mailing-list round trip of
// tests/golden/arc_fixtures.py (a real chain sealed by dkimpy: example.com p=reject, the
// list lists.example.org alters the message and seals, mailwarden receives it from the
// list). The goldens check the rendered text; this checks the typed results, symbols,
// DNS through the Session and the decisions.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mailwarden/config/config.h"
#include "mailwarden/dns/zone.h"
#include "mailwarden/message/reader.h"
#include "mailwarden/scan/scan.h"

namespace mw::scan {
namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  EXPECT_TRUE(in.good() || in.eof()) << path;
  return s.str();
}

std::string caseFile(const char* name, const char* file) {
  return readFile(std::string(MW_GOLDEN_DIR) + "/" + name + "/" + file);
}

// The fixture's zone, plus `extra` master-file text (failure pragmas).
SnapshotConstSharedPtr snapshot(config::Config cfg, const std::string& extra = "") {
  cfg.policy.authserv_id = "mx.test.example";
  cfg.iprev.enabled = false;
  cfg.rule_dirs.clear();
  auto zone = std::make_shared<dns::ZoneResolver>();
  const Result<void> loaded =
      zone->loadText(caseFile("arc-list-trusted", "zone") + extra, "arc-list.zone");
  EXPECT_TRUE(loaded) << loaded.error().describe();
  Result<SnapshotConstSharedPtr> s =
      Snapshot::build(std::move(cfg), std::make_shared<FixedClock>(1700000000), zone);
  EXPECT_TRUE(s) << s.error().describe();
  return *s;
}

config::Config enforce(std::vector<std::string> trusted = {}) {
  config::Config cfg = config::defaults();
  cfg.dmarc.mode = config::DmarcMode::Enforce;
  cfg.arc.trusted_sealers = std::move(trusted);
  return cfg;
}

struct Outcome {
  verdict::Verdict verdict;
  verdict::Findings findings;
};

Outcome run(const SnapshotConstSharedPtr& snap, const std::string& raw) {
  Scan scan(snap);
  scan.connect("192.0.2.50", "mail.lists.example.org");
  scan.helo("mail.lists.example.org");
  scan.mailFrom("<list-bounces@lists.example.org>");
  scan.rcpt("<rcpt@dest.example>");
  ReaderFeed feed(scan);
  message::MessageReader reader(snap->limits(), feed);
  // Small body chunks: the chain must not depend on how the body arrives.
  reader.feed(raw.substr(0, raw.find("\n\n") + 2));
  for (std::size_t i = raw.find("\n\n") + 2; i < raw.size(); i += 7) {
    reader.feed(raw.substr(i, 7));
  }
  reader.finish();
  Outcome r;
  r.verdict = scan.finish();
  r.findings = scan.findings();
  return r;
}

const verdict::AuthResult* result(const Outcome& r, verdict::Method m) {
  for (const verdict::AuthResult& a : r.verdict.auth) {
    if (a.method == m) {
      return &a;
    }
  }
  return nullptr;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

const std::string kListed = caseFile("arc-list-trusted", "message.eml");

TEST(ArcStage, TrustedListKeepsTheMessageAndDmarcStillFails) {
  const Outcome r = run(snapshot(enforce({"lists.example.org"})), kListed);
  ASSERT_TRUE(r.findings.arc);
  const verdict::ArcFindings& arc = *r.findings.arc;
  EXPECT_EQ(arc.result, verdict::Code::Pass);
  EXPECT_EQ(arc.instances, 1);
  EXPECT_EQ(arc.oldest_pass, 1);
  EXPECT_EQ(arc.sealers, std::vector<std::string>{"lists.example.org"});
  EXPECT_TRUE(arc.trusted);
  EXPECT_NE(arc.newest_results.find("dmarc=pass header.from=example.com"), std::string::npos);

  EXPECT_EQ(r.verdict.action, verdict::Action::Accept);
  const verdict::AuthResult* dmarc = result(r, verdict::Method::Dmarc);
  ASSERT_NE(dmarc, nullptr);
  EXPECT_EQ(dmarc->result, verdict::Code::Fail);  // never turned into a pass
  ASSERT_TRUE(dmarc->policy_override);
  EXPECT_EQ(dmarc->policy_override->type, verdict::PolicyOverride::Type::TrustedForwarder);
  EXPECT_NE(dmarc->policy_override->comment.find("as[1].d=lists.example.org"), std::string::npos);
  EXPECT_EQ(dmarc->properties.back(),
            (std::pair<std::string, std::string>{"policy.override", "trusted_forwarder"}));
  // Scored as configured: the DMARC score is still there.
  EXPECT_TRUE(std::any_of(r.verdict.contributions.begin(), r.verdict.contributions.end(),
                          [](const verdict::Contribution& c) { return c.rule_id == "DMARC_REJECT"; }));
  EXPECT_TRUE(has(r.findings.symbols, "ARC_PASS"));
  EXPECT_TRUE(has(r.findings.symbols, "ARC_TRUSTED"));
  EXPECT_TRUE(has(r.findings.symbols, "DMARC_REJECT"));
  // arc is the last result, after dmarc.
  ASSERT_FALSE(r.verdict.auth.empty());
  EXPECT_EQ(r.verdict.auth.back().method, verdict::Method::Arc);
  EXPECT_EQ(r.verdict.auth.back().properties.front(),
            (std::pair<std::string, std::string>{"smtp.remote-ip", "192.0.2.50"}));
}

TEST(ArcStage, UntrustedOrBrokenChainChangesNothing) {
  const Outcome untrusted = run(snapshot(enforce({"other.example"})), kListed);
  EXPECT_EQ(untrusted.verdict.action, verdict::Action::Reject);
  ASSERT_TRUE(untrusted.findings.arc);
  EXPECT_EQ(untrusted.findings.arc->result, verdict::Code::Pass);
  EXPECT_FALSE(untrusted.findings.arc->trusted);
  EXPECT_FALSE(has(untrusted.findings.symbols, "ARC_TRUSTED"));

  std::string altered = kListed;
  altered.replace(altered.find("team mailing list"), 4, "TEAM");
  const Outcome broken = run(snapshot(enforce({"lists.example.org"})), altered);
  EXPECT_EQ(broken.verdict.action, verdict::Action::Reject);
  ASSERT_TRUE(broken.findings.arc);
  EXPECT_EQ(broken.findings.arc->result, verdict::Code::Fail);
  EXPECT_FALSE(broken.findings.arc->temporary);
  EXPECT_TRUE(has(broken.findings.symbols, "ARC_FAIL"));
  EXPECT_TRUE(std::any_of(broken.verdict.contributions.begin(), broken.verdict.contributions.end(),
                          [](const verdict::Contribution& c) { return c.rule_id == "ARC_FAIL"; }));
}

TEST(ArcStage, TrustedZoneNeedsALoopbackAnswer) {
  config::Config cfg = enforce();
  cfg.arc.trusted_zone = "arc-trust.example";
  EXPECT_EQ(run(snapshot(cfg), kListed).verdict.action, verdict::Action::Accept);
  cfg.arc.trusted_zone = "elsewhere.example";  // NXDOMAIN: not trusted
  EXPECT_EQ(run(snapshot(cfg), kListed).verdict.action, verdict::Action::Reject);
  // An answer outside 127.0.0.0/8 is a broken zone, not a listing.
  cfg.arc.trusted_zone = "wild.example";
  EXPECT_EQ(run(snapshot(cfg, "lists.example.org.wild.example. IN A 192.0.2.1\n"), kListed)
                .verdict.action,
            verdict::Action::Reject);
  // A failed trust lookup is no trust, and (the sealer might be trusted) DMARC's
  // temperror setting: the failure policy by default.
  cfg.arc.trusted_zone = "arc-trust.example";
  const Outcome temp = run(snapshot(cfg, ";@servfail lists.example.org.arc-trust.example.\n"), kListed);
  EXPECT_TRUE(temp.findings.arc->trust_temporary);
  EXPECT_FALSE(temp.findings.arc->trusted);
  EXPECT_EQ(temp.verdict.action, verdict::Action::TempFail);
}

TEST(ArcStage, TemperrorDefersOnlyWhenItCouldChangeTheVerdict) {
  const std::string timeout = ";@timeout arc._domainkey.lists.example.org.\n";
  const Outcome trusted = run(snapshot(enforce({"lists.example.org"}), timeout), kListed);
  ASSERT_TRUE(trusted.findings.arc);
  EXPECT_EQ(trusted.findings.arc->result, verdict::Code::Fail);
  EXPECT_TRUE(trusted.findings.arc->temporary);
  EXPECT_EQ(trusted.verdict.action, verdict::Action::TempFail);
  // With dmarc.temperror a score, the published policy applies: never an override.
  config::Config scored = enforce({"lists.example.org"});
  scored.dmarc.temperror = {false, 1.0};
  EXPECT_EQ(run(snapshot(scored, timeout), kListed).verdict.action, verdict::Action::Reject);
  // Nobody trusted: the temperror cannot matter; the policy applies, no ARC_FAIL score.
  const Outcome untrusted = run(snapshot(enforce(), timeout), kListed);
  EXPECT_EQ(untrusted.verdict.action, verdict::Action::Reject);
  EXPECT_FALSE(std::any_of(untrusted.verdict.contributions.begin(),
                           untrusted.verdict.contributions.end(),
                           [](const verdict::Contribution& c) { return c.rule_id == "ARC_FAIL"; }));
  // Monitor mode: nothing to defer; local_policy records why the policy was not applied.
  config::Config monitor = config::defaults();
  monitor.arc.trusted_sealers = {"lists.example.org"};
  const Outcome m = run(snapshot(monitor, timeout), kListed);
  EXPECT_EQ(m.verdict.action, verdict::Action::Accept);
  const verdict::AuthResult* dmarc = result(m, verdict::Method::Dmarc);
  ASSERT_NE(dmarc, nullptr);
  ASSERT_TRUE(dmarc->policy_override);
  EXPECT_EQ(dmarc->policy_override->type, verdict::PolicyOverride::Type::LocalPolicy);
}

TEST(ArcStage, NoChainIsNoneAndOffIsNothing) {
  const std::string plain =
      "From: alice@example.com\nTo: rcpt@dest.example\nSubject: x\n\nbody\n";
  const Outcome none = run(snapshot(enforce({"lists.example.org"})), plain);
  ASSERT_TRUE(none.findings.arc);
  EXPECT_EQ(none.findings.arc->result, verdict::Code::None);
  EXPECT_TRUE(has(none.findings.symbols, "ARC_NONE"));
  ASSERT_NE(result(none, verdict::Method::Arc), nullptr);
  EXPECT_TRUE(result(none, verdict::Method::Arc)->properties.empty());  // bare arc=none

  config::Config off = enforce({"lists.example.org"});
  off.arc.enabled = false;
  const Outcome r = run(snapshot(off), kListed);
  EXPECT_FALSE(r.findings.arc);
  EXPECT_EQ(result(r, verdict::Method::Arc), nullptr);
  EXPECT_EQ(r.verdict.action, verdict::Action::Reject);  // no ARC, no override
}

// Counts what reaches the snapshot's resolver (below the message's Session).
class Counting final : public dns::Resolver {
 public:
  explicit Counting(std::shared_ptr<dns::ZoneResolver> z) : zone_(std::move(z)) {}
  dns::Answer query(std::string_view name, dns::Type type, const dns::Budget& budget) override {
    asked.emplace_back(name);
    return zone_->query(name, type, budget);
  }
  std::vector<std::string> asked;

 private:
  std::shared_ptr<dns::ZoneResolver> zone_;
};

// The sealer's key is asked through the message's Session by end of headers (in flight
// during the body) and joined, not asked again, when the chain is verified.
TEST(ArcStage, KeyLookupIsStartedAtEndOfHeadersThroughTheSession) {
  auto zone = std::make_shared<dns::ZoneResolver>();
  ASSERT_TRUE(zone->loadText(caseFile("arc-list-trusted", "zone"), "z"));
  auto counting = std::make_shared<Counting>(zone);
  config::Config cfg = enforce({"lists.example.org"});
  cfg.policy.authserv_id = "mx.test.example";
  cfg.iprev.enabled = false;
  cfg.rule_dirs.clear();
  cfg.spf.enabled = false;
  cfg.dkim.enabled = false;
  cfg.dmarc.enabled = false;
  Result<SnapshotConstSharedPtr> snap =
      Snapshot::build(cfg, std::make_shared<FixedClock>(1700000000), counting);
  ASSERT_TRUE(snap);
  Scan scan(*snap);
  scan.connect("192.0.2.50", "x");
  scan.mailFrom("<list-bounces@lists.example.org>");
  struct Feed final : message::ReaderSink {
    Scan& s;
    Counting& c;
    std::vector<std::string> at_eoh;
    Feed(Scan& x, Counting& y) : s(x), c(y) {}
    void header(std::string_view n, std::string_view v) override { s.header(n, v); }
    void endOfHeaders() override {
      s.endOfHeaders();
      at_eoh = c.asked;
    }
    void body(std::string_view b) override { s.body(b); }
  } feed(scan, *counting);
  message::MessageReader reader((*snap)->limits(), feed);
  reader.feed(kListed);
  reader.finish();
  scan.finish();
  EXPECT_EQ(feed.at_eoh, std::vector<std::string>{"arc._domainkey.lists.example.org"});
  ASSERT_TRUE(scan.findings().arc);
  EXPECT_EQ(scan.findings().arc->result, verdict::Code::Pass);
  EXPECT_EQ(counting->asked, feed.at_eoh);  // AMS and AS share the key: asked once
}

}  // namespace
}  // namespace mw::scan
