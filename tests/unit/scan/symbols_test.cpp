// scan/symbols.h: the symbols the SPF, DKIM and DMARC stages publish into
// Findings::symbols (the pure functions, then each stage through Scan), that every one
// is among knownSymbols(), and that rule composites read them.
#include "mailwarden/scan/symbols.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "mailwarden/config/config.h"
#include "mailwarden/dns/zone.h"
#include "mailwarden/scan/scan.h"

namespace mw::scan {
namespace {

using verdict::Code;
using V = std::vector<std::string>;

constexpr Code kAllCodes[] = {Code::None,    Code::Pass,   Code::Fail,      Code::SoftFail,
                              Code::Neutral, Code::Policy, Code::TempError, Code::PermError};

bool known(const std::string& name) {
  static const V names = knownSymbols(config::defaults());
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(Symbols, Spf) {
  EXPECT_EQ(spfSymbols(Code::Pass), V{"SPF_PASS"});
  EXPECT_EQ(spfSymbols(Code::Fail), V{"SPF_FAIL"});
  EXPECT_EQ(spfSymbols(Code::SoftFail), V{"SPF_SOFTFAIL"});
  EXPECT_EQ(spfSymbols(Code::Neutral), V{"SPF_NEUTRAL"});
  EXPECT_EQ(spfSymbols(Code::None), V{"SPF_NONE"});
  EXPECT_EQ(spfSymbols(Code::TempError), V{"SPF_TEMPERROR"});
  EXPECT_EQ(spfSymbols(Code::PermError), V{"SPF_PERMERROR"});
  EXPECT_EQ(spfSymbols(Code::Policy), V{});  // not an RFC 7208 result
}

TEST(Symbols, DkimAggregatesEverySignature) {
  struct Case {
    const char* name;
    std::vector<Code> results;
    V want;
  };
  const Case cases[] = {
      {"no result at all", {}, {"DKIM_NONE"}},
      {"not signed", {Code::None}, {"DKIM_NONE"}},
      {"pass", {Code::Pass}, {"DKIM_PASS"}},
      {"fail", {Code::Fail}, {"DKIM_FAIL"}},
      {"a pass hides a fail", {Code::Fail, Code::Pass}, {"DKIM_PASS"}},
      {"temperror", {Code::TempError}, {"DKIM_TEMPERROR"}},
      {"permerror", {Code::PermError}, {"DKIM_PERMERROR"}},
      {"pass with both errors", {Code::PermError, Code::Pass, Code::TempError},
       {"DKIM_PASS", "DKIM_TEMPERROR", "DKIM_PERMERROR"}},
      {"fail and permerror", {Code::Fail, Code::PermError}, {"DKIM_FAIL", "DKIM_PERMERROR"}},
      {"policy: signed, nothing to say", {Code::Policy}, {}},
      {"neutral: signed, nothing to say", {Code::Neutral}, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(dkimSymbols(c.results), c.want);
  }
}

TEST(Symbols, DmarcWithPolicy) {
  using verdict::DmarcPolicy;
  EXPECT_EQ(dmarcSymbols(Code::Pass, DmarcPolicy::Reject), V{"DMARC_PASS"});
  EXPECT_EQ(dmarcSymbols(Code::Fail, DmarcPolicy::Reject), (V{"DMARC_FAIL", "DMARC_REJECT"}));
  EXPECT_EQ(dmarcSymbols(Code::Fail, DmarcPolicy::Quarantine),
            (V{"DMARC_FAIL", "DMARC_QUARANTINE"}));
  EXPECT_EQ(dmarcSymbols(Code::Fail, DmarcPolicy::None), V{"DMARC_FAIL"});
  EXPECT_EQ(dmarcSymbols(Code::Fail, std::nullopt), V{"DMARC_FAIL"});
  EXPECT_EQ(dmarcSymbols(Code::None, std::nullopt), V{"DMARC_NONE"});
  EXPECT_EQ(dmarcSymbols(Code::TempError, DmarcPolicy::Reject), V{"DMARC_TEMPERROR"});
  EXPECT_EQ(dmarcSymbols(Code::PermError, std::nullopt), V{"DMARC_PERMERROR"});
  EXPECT_EQ(dmarcSymbols(Code::SoftFail, DmarcPolicy::Reject), V{});
}

TEST(Symbols, ArcIsTheChainResultAndTrustOnlyWithAPass) {
  EXPECT_EQ(arcSymbols(Code::Pass, false), V{"ARC_PASS"});
  EXPECT_EQ(arcSymbols(Code::Pass, true), (V{"ARC_PASS", "ARC_TRUSTED"}));
  EXPECT_EQ(arcSymbols(Code::Fail, true), V{"ARC_FAIL"});
  EXPECT_EQ(arcSymbols(Code::None, false), V{"ARC_NONE"});
  EXPECT_EQ(arcSymbols(Code::TempError, false), V{});  // not a cv value
}

// Whatever a stage can publish is a name the rule loader accepts, and every listed name
// can be published: the list and the stages cannot drift apart.
TEST(Symbols, KnownSymbolsAreExactlyWhatStagesPublish) {
  V published;
  for (const Code c : kAllCodes) {
    for (const std::string& s : spfSymbols(c)) published.push_back(s);
    for (const std::string& s : dkimSymbols({c})) published.push_back(s);
    for (const std::string& s : iprevSymbols(c)) published.push_back(s);
    for (const bool trusted : {false, true}) {
      for (const std::string& s : arcSymbols(c, trusted)) published.push_back(s);
    }
    for (const auto p : {std::optional<verdict::DmarcPolicy>{}, {verdict::DmarcPolicy::None},
                         {verdict::DmarcPolicy::Quarantine}, {verdict::DmarcPolicy::Reject}}) {
      for (const std::string& s : dmarcSymbols(c, p)) published.push_back(s);
    }
  }
  for (const std::string& s : published) {
    EXPECT_TRUE(known(s)) << s << " is published but not in knownSymbols";
  }
  for (const std::string& k : knownSymbols(config::defaults())) {
    EXPECT_NE(std::find(published.begin(), published.end(), k), published.end())
        << k << " is listed but never published";
  }
}

// The stages through Scan: SPF, DKIM (unsigned here) and DMARC each publish theirs.
std::shared_ptr<dns::ZoneResolver> zone() {
  auto z = std::make_shared<dns::ZoneResolver>();
  const Result<void> loaded = z->loadText(
      "$ORIGIN test.example.\n"
      "$TTL 300\n"
      "origin         TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n"
      "_dmarc.origin  TXT \"v=DMARC1; p=reject\"\n"
      "soft           TXT \"v=spf1 ~all\"\n"
      "_dmarc.soft    TXT \"v=DMARC1; p=quarantine\"\n"
      "testing        TXT \"v=spf1 -all\"\n"
      "_dmarc.testing TXT \"v=DMARC1; p=reject; t=y\"\n"
      "broken         TXT \"v=spf1 ip4:300.1.1.1 -all\"\n"
      "helo           TXT \"v=spf1 -all\"\n"
      ";@timeout slow\n",
      "symbols_test.zone");
  EXPECT_TRUE(loaded) << loaded.error().describe();
  return z;
}

SnapshotConstSharedPtr snapshot(config::Config cfg = config::defaults()) {
  cfg.policy.authserv_id = "mx.test.example";
  cfg.iprev.enabled = false;  // iprev has its own tests (reputation_stage_test.cpp)
  cfg.spf.temperror = {false, 0};  // the message is still evaluated: its symbols are the point
  Result<SnapshotConstSharedPtr> s =
      Snapshot::build(std::move(cfg), std::make_shared<FixedClock>(1700000000), zone());
  EXPECT_TRUE(s) << s.error().describe();
  return *s;
}

struct Message {
  std::string client_ip;
  std::string helo;
  std::string mail_from;
  std::vector<std::string> from;  // From field values
};

V publish(const SnapshotConstSharedPtr& snap, const Message& m, verdict::Verdict* out = nullptr) {
  Scan s(snap);
  s.connect(m.client_ip, "client.example");
  s.helo(m.helo);
  s.mailFrom("<" + m.mail_from + ">");
  s.rcpt("<bob@example.org>");
  for (const std::string& f : m.from) {
    s.header("From", " " + f);
  }
  s.header("Subject", " hello");
  s.endOfHeaders();
  s.body("hi\r\n");
  const verdict::Verdict v = s.finish();
  if (out != nullptr) {
    *out = v;
  }
  return s.findings().symbols;
}

TEST(Symbols, EachStagePublishesItsOwn) {
  struct Case {
    const char* name;
    Message message;
    V want;
  };
  const std::string origin = "a@origin.test.example";
  const Case cases[] = {
      {"aligned SPF pass",
       {"192.0.2.1", "client.example", origin, {origin}},
       {"SPF_PASS", "DKIM_NONE", "ARC_NONE", "DMARC_PASS"}},
      {"fail under p=reject",
       {"198.51.100.7", "client.example", origin, {origin}},
       {"SPF_FAIL", "DKIM_NONE", "ARC_NONE", "DMARC_FAIL", "DMARC_REJECT"}},
      {"softfail under p=quarantine",
       {"198.51.100.7", "client.example", "a@soft.test.example", {"a@soft.test.example"}},
       {"SPF_SOFTFAIL", "DKIM_NONE", "ARC_NONE", "DMARC_FAIL", "DMARC_QUARANTINE"}},
      {"t=y: reject applied as quarantine",
       {"198.51.100.7", "client.example", "a@testing.test.example", {"a@testing.test.example"}},
       {"SPF_FAIL", "DKIM_NONE", "ARC_NONE", "DMARC_FAIL", "DMARC_QUARANTINE"}},
      {"permerror, no DMARC record",
       {"198.51.100.7", "client.example", "a@broken.test.example", {"a@broken.test.example"}},
       {"SPF_PERMERROR", "DKIM_NONE", "ARC_NONE", "DMARC_NONE"}},
      {"temperror",
       {"198.51.100.7", "client.example", "a@slow.test.example", {origin}},
       {"SPF_TEMPERROR", "DKIM_NONE", "ARC_NONE", "DMARC_FAIL", "DMARC_REJECT"}},
      // check_helo: the HELO identity fails too, but only the first result has symbols.
      {"the HELO result is not the first",
       {"198.51.100.7", "helo.test.example", "a@example.com", {"a@example.com"}},
       {"SPF_NONE", "DKIM_NONE", "ARC_NONE", "DMARC_NONE"}},
      {"null sender: the HELO identity is the first",
       {"192.0.2.1", "origin.test.example", "", {origin}},
       {"SPF_PASS", "DKIM_NONE", "ARC_NONE", "DMARC_PASS"}},
      {"no From", {"192.0.2.1", "client.example", origin, {}},
       {"SPF_PASS", "DKIM_NONE", "ARC_NONE", "DMARC_NONE"}},
      {"two author domains",
       {"192.0.2.1", "client.example", origin, {origin, "b@example.com"}},
       {"SPF_PASS", "DKIM_NONE", "ARC_NONE", "DMARC_PERMERROR"}},
      // RFC 7208 §2.1: no client address, nothing for SPF and DMARC to evaluate.
      {"no client address", {"", "client.example", origin, {origin}}, {"DKIM_NONE", "ARC_NONE"}},
  };
  const SnapshotConstSharedPtr snap = snapshot();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const V got = publish(snap, c.message);
    EXPECT_EQ(got, c.want);
    for (const std::string& s : got) {
      EXPECT_TRUE(known(s)) << s;
    }
  }
}

TEST(Symbols, DisabledStagesPublishNothing) {
  config::Config cfg = config::defaults();
  cfg.spf.enabled = false;
  cfg.dkim.enabled = false;
  cfg.dmarc.enabled = false;
  cfg.arc.enabled = false;
  EXPECT_EQ(publish(snapshot(cfg), {"198.51.100.7", "client.example", "a@origin.test.example",
                                    {"a@origin.test.example"}}),
            V{});
}

// Composites read Findings::symbols: DMARC's included, although the DMARC stage runs after
// the rules stage (composites are concluded after every stage's endOfMessage).
TEST(Symbols, CompositesReadWhatTheStagesPublished) {
  namespace fs = std::filesystem;
  std::string dir_template = (fs::temp_directory_path() / "mw-symbols-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir_template.data()), nullptr);
  const fs::path dir = dir_template;
  std::ofstream(dir / "90.yaml") << "rules:\n"
                                    "  - id: FORGED\n"
                                    "    description: SPF fails under a reject policy\n"
                                    "    expression: 'SPF_FAIL and DMARC_REJECT and DKIM_NONE'\n"
                                    "    score: 3\n"
                                    "  - id: GOOD\n"
                                    "    description: aligned pass\n"
                                    "    expression: 'SPF_PASS and DMARC_PASS'\n"
                                    "    score: -1\n";
  config::Config cfg = config::defaults();
  cfg.rule_dirs = {dir.string()};
  cfg.rules_cache_dir.clear();
  const SnapshotConstSharedPtr snap = snapshot(cfg);
  const std::string origin = "a@origin.test.example";
  verdict::Verdict v;
  publish(snap, {"198.51.100.7", "client.example", origin, {origin}}, &v);
  bool forged = false, good = false;
  for (const verdict::Contribution& c : v.contributions) {
    forged |= c.rule_id == "FORGED";
    good |= c.rule_id == "GOOD";
  }
  EXPECT_TRUE(forged);
  EXPECT_FALSE(good);
  publish(snap, {"192.0.2.1", "client.example", origin, {origin}}, &v);
  ASSERT_EQ(v.contributions.size(), 1u);
  EXPECT_EQ(v.contributions[0].rule_id, "GOOD");
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace mw::scan
