// scan/dkim_stage.cpp through Scan: what DKIM puts into the Verdict's auth results and
// score (the fields the DMARC stage reads), with keys from tests/keys/keys.zone.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <stdexcept>

#include "mailwarden/config/config.h"
#include "mailwarden/dkim/dkim.h"
#include "mailwarden/dns/zone.h"
#include "mailwarden/message/reader.h"
#include "mailwarden/obs/counters.h"
#include "mailwarden/scan/scan.h"

namespace mw::scan {
namespace {

constexpr std::int64_t kT = 1'700'000'000;

const std::string kMessage =
    "From: alice@dkim.test\r\n"
    "To: bob@example.org\r\n"
    "Subject: hello\r\n"
    "\r\n"
    "hi there\r\n";

std::string readKey(const std::string& name) {
  std::ifstream in(std::string(MW_TEST_KEYS_DIR) + "/" + name + ".pem", std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Signed with the ed25519 test key; selector "timeout" names a key whose lookup times
// out (keys.zone).
std::string signEd25519(const std::string& raw, std::int64_t expire = 0,
                        const std::string& selector = "ed25519") {
  dkim::SignOptions o;
  o.domain = "dkim.test";
  o.selector = selector;
  o.algorithm = dkim::Algorithm::Ed25519Sha256;
  o.private_key = readKey("ed25519");
  o.timestamp = kT;
  o.expiration = expire;
  auto out = dkim::signMessage(raw, o);
  EXPECT_TRUE(out) << out.error().describe();
  return out ? *out : std::string();
}

SnapshotConstSharedPtr snapshot(std::int64_t now, config::Config cfg = config::defaults()) {
  cfg.policy.authserv_id = "mx.test.example";
  auto zone = std::make_shared<dns::ZoneResolver>();
  EXPECT_TRUE(zone->loadFile(std::string(MW_TEST_KEYS_DIR) + "/keys.zone"));
  auto s = Snapshot::build(std::move(cfg), std::make_shared<FixedClock>(now), zone);
  EXPECT_TRUE(s) << s.error().describe();
  return *s;
}

// `symbols`, when given, receives Findings::symbols (what the stages published).
verdict::Verdict run(const SnapshotConstSharedPtr& snap, const std::string& raw,
                     std::vector<std::string>* symbols = nullptr) {
  Scan scan(snap);
  scan.mailFrom("<alice@dkim.test>");
  struct Sink final : message::ReaderSink {
    Scan& s;
    explicit Sink(Scan& x) : s(x) {}
    void header(std::string_view n, std::string_view v) override { s.header(n, v); }
    void endOfHeaders() override { s.endOfHeaders(); }
    void body(std::string_view c) override { s.body(c); }
  } sink(scan);
  message::MessageReader reader(snap->limits(), sink);
  reader.feed(raw);
  reader.finish();
  verdict::Verdict v = scan.finish();
  if (symbols != nullptr) {
    *symbols = scan.findings().symbols;
  }
  return v;
}

std::vector<verdict::AuthResult> dkimResults(const verdict::Verdict& v) {
  std::vector<verdict::AuthResult> out;
  for (const auto& a : v.auth) {
    if (a.method == verdict::Method::Dkim) {
      out.push_back(a);
    }
  }
  return out;
}

TEST(DkimStage, PassWithPropertiesInOrder) {
  const verdict::Verdict v = run(snapshot(kT + 10), signEd25519(kMessage));
  const auto r = dkimResults(v);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].result, verdict::Code::Pass);
  EXPECT_EQ(r[0].domain, "dkim.test");
  EXPECT_TRUE(r[0].reason.empty());
  ASSERT_EQ(r[0].properties.size(), 4u);
  EXPECT_EQ(r[0].properties[0].first, "header.d");
  EXPECT_EQ(r[0].properties[0].second, "dkim.test");
  EXPECT_EQ(r[0].properties[1].first, "header.s");
  EXPECT_EQ(r[0].properties[1].second, "ed25519");
  EXPECT_EQ(r[0].properties[2].first, "header.a");
  EXPECT_EQ(r[0].properties[2].second, "ed25519-sha256");
  EXPECT_EQ(r[0].properties[3].first, "header.b");
  EXPECT_EQ(r[0].properties[3].second.size(), 8u);
  EXPECT_DOUBLE_EQ(v.score, 0.0);
}

TEST(DkimStage, FailHasReasonAndScoreOnce) {
  std::string m = signEd25519(signEd25519(kMessage));
  m.replace(m.find("hi there"), 8, "hi THERE");
  const verdict::Verdict v = run(snapshot(kT + 10), m);
  const auto r = dkimResults(v);
  ASSERT_EQ(r.size(), 2u);
  for (const auto& a : r) {
    EXPECT_EQ(a.result, verdict::Code::Fail);
    EXPECT_FALSE(a.reason.empty());
  }
  EXPECT_DOUBLE_EQ(v.score, 1.0);  // dkim.fail_score, once per message
}

// The snapshot's clock (check --now) decides x=.
TEST(DkimStage, ExpiryFollowsTheSnapshotClock) {
  const std::string m = signEd25519(kMessage, kT + 3600);
  EXPECT_EQ(dkimResults(run(snapshot(kT + 10), m))[0].result, verdict::Code::Pass);
  const auto late = dkimResults(run(snapshot(kT + 86400), m));
  EXPECT_EQ(late[0].result, verdict::Code::Policy);
  EXPECT_NE(late[0].reason.find("expired"), std::string::npos);
}

TEST(DkimStage, UnsignedIsNoneAndTempErrorIsTheFailurePolicyByDefault) {
  const verdict::Verdict none = run(snapshot(kT), kMessage);
  ASSERT_EQ(dkimResults(none).size(), 1u);
  EXPECT_EQ(dkimResults(none)[0].result, verdict::Code::None);

  const verdict::Verdict v = run(snapshot(kT + 10), signEd25519(kMessage, 0, "timeout"));
  ASSERT_EQ(dkimResults(v).size(), 1u);
  EXPECT_EQ(dkimResults(v)[0].result, verdict::Code::TempError);
  EXPECT_TRUE(v.failed);  // dkim.temperror: tempfail, like SPF's and DMARC's (issue 16)
  EXPECT_EQ(v.action, verdict::Action::TempFail);
}

// dkim.temperror (issue 16): tempfail by default (above); a score is added once when no
// signature passed; tempfail hands the message to the failure policy.
TEST(DkimStage, TempErrorFollowsTheSetting) {
  const std::string m = signEd25519(kMessage, 0, "timeout");
  config::Config cfg = config::defaults();
  cfg.dkim.temperror = {false, 1.5};
  verdict::Verdict v = run(snapshot(kT + 10, cfg), m);
  ASSERT_EQ(dkimResults(v).size(), 1u);
  EXPECT_EQ(dkimResults(v)[0].result, verdict::Code::TempError);
  EXPECT_FALSE(v.failed);
  EXPECT_DOUBLE_EQ(v.score, 1.5);
  ASSERT_EQ(v.contributions.size(), 1u);
  EXPECT_EQ(v.contributions[0].rule_id, "DKIM_TEMPERROR");
  // A passing signature besides: no DKIM score at all.
  v = run(snapshot(kT + 10, cfg), signEd25519(m));
  EXPECT_DOUBLE_EQ(v.score, 0);
  cfg.dkim.temperror = {true, 0};
  v = run(snapshot(kT + 10, cfg), m);
  EXPECT_TRUE(v.failed);
  EXPECT_EQ(v.action, verdict::Action::TempFail);
}

// An exception inside libopendkim's key lookup callback (here: the resolver throws) is an
// internal error of that message: counted, the failure policy, dkim=temperror.
TEST(DkimStage, AnExceptionInACallbackIsCountedAndTheFailurePolicy) {
  // The lookup starts (the stage asks for the key as the DKIM-Signature field arrives)
  // and throws when libopendkim's callback waits for its answer.
  struct ThrowingLookup final : dns::Lookup {
    const dns::Answer& wait() override { throw std::runtime_error("resolver broke"); }
    bool ready() const noexcept override { return true; }
  };
  struct Throwing final : dns::Resolver {
    dns::Answer query(std::string_view, dns::Type, const dns::Budget&) override {
      throw std::runtime_error("resolver broke");
    }
    dns::LookupPtr start(std::string_view, dns::Type, const dns::Budget&) override {
      return std::make_shared<ThrowingLookup>();
    }
  };
  config::Config cfg = config::defaults();
  cfg.policy.authserv_id = "mx.test.example";
  cfg.spf.enabled = false;
  cfg.dmarc.enabled = false;
  cfg.dkim.temperror = {false, 0};  // a DNS temperror alone would not fail the message
  cfg.rule_dirs.clear();
  auto snap = Snapshot::build(std::move(cfg), std::make_shared<FixedClock>(kT + 10),
                              std::make_shared<Throwing>());
  ASSERT_TRUE(snap) << snap.error().describe();
  const std::uint64_t before = obs::counters().internal_errors.get();
  const verdict::Verdict v = run(*snap, signEd25519(kMessage));
  ASSERT_EQ(dkimResults(v).size(), 1u);
  EXPECT_EQ(dkimResults(v)[0].result, verdict::Code::TempError);
  EXPECT_TRUE(v.failed);
  EXPECT_EQ(v.action, verdict::Action::TempFail);
  EXPECT_EQ(obs::counters().internal_errors.get(), before + 1);
}

// The DKIM stage publishes its own symbols (scan/symbols.h), over every signature. No
// client address here: SPF and DMARC do not run, so these are DKIM's alone.
TEST(DkimStage, PublishesItsSymbols) {
  std::string failed = signEd25519(signEd25519(kMessage));
  failed.replace(failed.find("hi there"), 8, "hi THERE");
  config::Config tolerant = config::defaults();
  tolerant.dkim.temperror = {false, 0};
  tolerant.arc.enabled = false;  // ARC_NONE is the ARC stage's (arc_stage_test.cpp)
  struct Case {
    const char* name;
    std::string message;
    std::vector<std::string> want;
    std::int64_t now = kT + 10;
  };
  const Case cases[] = {
      {"pass", signEd25519(kMessage), {"DKIM_PASS"}},
      {"two fail", failed, {"DKIM_FAIL"}},
      {"unsigned", kMessage, {"DKIM_NONE"}},
      {"temperror", signEd25519(kMessage, 0, "timeout"), {"DKIM_TEMPERROR"}},
      {"pass and temperror", signEd25519(signEd25519(kMessage, 0, "timeout")),
       {"DKIM_PASS", "DKIM_TEMPERROR"}},
      {"expired: policy, signed, no symbol", signEd25519(kMessage, kT + 3600), {}, kT + 86400},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<std::string> got;
    run(snapshot(c.now, tolerant), c.message, &got);
    EXPECT_EQ(got, c.want);
  }
  config::Config off = config::defaults();
  off.dkim.enabled = false;
  off.arc.enabled = false;
  std::vector<std::string> got;
  run(snapshot(kT + 10, off), signEd25519(kMessage), &got);
  EXPECT_TRUE(got.empty()) << "DKIM off publishes nothing, got " << got.size();
}

TEST(DkimStage, DisabledMeansNoDkimResult) {
  config::Config cfg = config::defaults();
  cfg.dkim.enabled = false;
  EXPECT_TRUE(dkimResults(run(snapshot(kT, cfg), signEd25519(kMessage))).empty());
}

}  // namespace
}  // namespace mw::scan
