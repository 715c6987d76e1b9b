// scan/reputation_stage.cpp through Scan: iprev and DNS lists as the pipeline reports
// them (Authentication-Results, symbols, scores, actions, Findings::lists, the confirmed
// client name), DNS answered from a zone.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>

#include "mailwarden/config/config.h"
#include "mailwarden/dns/zone.h"
#include "mailwarden/scan/scan.h"

namespace mw::scan {
namespace {

std::shared_ptr<dns::ZoneResolver> zone() {
  auto z = std::make_shared<dns::ZoneResolver>();
  const Result<void> loaded = z->loadText(
      "$TTL 300\n"
      // iprev: 192.0.2.1 confirmed, 192.0.2.2 names a host that does not point back,
      // 192.0.2.3 has no PTR, 192.0.2.4's PTR lookup times out
      "$ORIGIN 2.0.192.in-addr.arpa.\n"
      "1 PTR mail.good.test.\n"
      "2 PTR mail.liar.test.\n"
      ";@timeout 4\n"
      "$ORIGIN test.\n"
      "mail.good A 192.0.2.1\n"
      "mail.liar A 198.51.100.9\n"
      // bl.test: 192.0.2.1 listed (SBL-like), 192.0.2.2 answers the "refused" code,
      // 192.0.2.3 an address outside the configured codes
      "1.2.0.192.bl A 127.0.0.2\n"
      "2.2.0.192.bl A 127.255.255.254\n"
      "3.2.0.192.bl A 127.0.0.99\n"
      // dbl.test: a domain list
      "spammer.example.dbl A 127.0.1.2\n"
      "link.example.dbl A 127.0.1.2\n"
      // wl.test: an allowlist
      "1.2.0.192.wl A 127.0.10.3\n",
      "reputation.zone");
  EXPECT_TRUE(loaded) << loaded.error().describe();
  return z;
}

// What every configuration of these tests starts with.
const std::string kBase = R"(
authserv_id: mx.test.example
log:
  target: stderr
  level: warn
rules:
  directories: []
)";

const std::string kLists = kBase + R"(
reputation:
  lists:
    - zone: bl.test
      lookup: [client_ip]
      answers:
        - codes: ["127.0.0.2"]
          symbol: RBL_TEST_SBL
          score: 6.0
    - zone: dbl.test
      lookup: [mail_from, from, url]
      answers:
        - codes: ["127.0.1.2"]
          symbol: DBL_TEST_SPAM
          score: 7.0
          action: reject
          reply: "Sender domain listed at dbl.test"
    - zone: wl.test
      lookup: [client_ip]
      answers:
        - codes: ["127.0.10.[0..3]"]
          symbol: DNSWL_TEST
          score: -2.5
)";

SnapshotConstSharedPtr snapshot(const std::string& yaml, std::string_view extra = "",
                                dns::ResolverSharedPtr resolver = nullptr) {
  config::LoadResult loaded = config::loadString(yaml + std::string(extra), "test.yaml");
  EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].describe());
  Result<SnapshotConstSharedPtr> s =
      Snapshot::build(std::move(loaded.config), std::make_shared<FixedClock>(1700000000),
                      resolver ? resolver : zone());
  EXPECT_TRUE(s) << s.error().describe();
  return *s;
}

struct Sent {
  std::string ip = "192.0.2.1";
  std::string mail_from = "<a@sender.example>";
  std::string from = " a@sender.example";
  std::string body = "hello\r\n";
};

verdict::Verdict send(const SnapshotConstSharedPtr& snap, const Sent& m,
                      verdict::Findings* findings = nullptr,
                      std::shared_ptr<const ClientLookups> client = nullptr) {
  Scan s(snap, std::move(client));
  s.connect(m.ip, "unknown");
  s.helo("client.example");
  s.mailFrom(m.mail_from);
  s.rcpt("<b@example.org>");
  s.header("From", m.from);
  s.header("Subject", " hi");
  s.header("Content-Type", " text/plain");
  s.endOfHeaders();
  s.body(m.body);
  verdict::Verdict v = s.finish();
  if (findings != nullptr) {
    *findings = s.findings();
  }
  return v;
}

std::string authResults(const verdict::Verdict& v) {
  for (const verdict::HeaderEdit& e : v.edits) {
    if (e.kind == verdict::HeaderEdit::Kind::Prepend && e.name == "Authentication-Results") {
      return e.value;
    }
  }
  return "";
}

bool hasRule(const verdict::Verdict& v, std::string_view id, double score) {
  return std::any_of(v.contributions.begin(), v.contributions.end(), [&](const auto& c) {
    return c.rule_id == id && c.score == score;
  });
}

bool hasSymbol(const verdict::Findings& f, std::string_view s) {
  return std::find(f.symbols.begin(), f.symbols.end(), s) != f.symbols.end();
}

const std::string kIprevOnly = kBase + R"(
spf:
  enabled: false
dmarc:
  enabled: false
)";

TEST(ReputationStage, IprevPassNamesTheConfirmedHost) {
  verdict::Findings f;
  const verdict::Verdict v = send(snapshot(kIprevOnly), Sent{}, &f);
  EXPECT_NE(authResults(v).find("iprev=pass smtp.remote-ip=192.0.2.1 policy.iprev=mail.good.test"),
            std::string::npos)
      << authResults(v);
  EXPECT_TRUE(hasSymbol(f, "IPREV_PASS"));
  EXPECT_EQ(f.confirmed_client_name, "mail.good.test");
  EXPECT_EQ(v.score, 0.0);
}

TEST(ReputationStage, IprevFailPermerrorTemperror) {
  verdict::Findings f;
  Sent m;
  m.ip = "192.0.2.2";
  verdict::Verdict v = send(snapshot(kIprevOnly), m, &f);
  EXPECT_NE(authResults(v).find("iprev=fail"), std::string::npos) << authResults(v);
  EXPECT_TRUE(hasSymbol(f, "IPREV_FAIL"));
  EXPECT_TRUE(hasRule(v, "IPREV_FAIL", 1.0));
  EXPECT_EQ(f.confirmed_client_name, "");

  m.ip = "192.0.2.3";
  v = send(snapshot(kIprevOnly), m, &f);
  EXPECT_NE(authResults(v).find("iprev=permerror (no PTR record: nxdomain) smtp.remote-ip=192.0.2.3"),
            std::string::npos)
      << authResults(v);
  EXPECT_TRUE(hasRule(v, "IPREV_PERMERROR", 1.0));

  // A temporary DNS failure never defers mail by default (reputation.iprev.temperror: 0)
  m.ip = "192.0.2.4";
  v = send(snapshot(kIprevOnly), m, &f);
  EXPECT_NE(authResults(v).find("iprev=temperror"), std::string::npos) << authResults(v);
  EXPECT_TRUE(hasSymbol(f, "IPREV_TEMPERROR"));
  EXPECT_EQ(v.action, verdict::Action::Accept);
  EXPECT_FALSE(v.failed);
  // ... unless the postmaster asks for it
  v = send(snapshot(kIprevOnly, "reputation:\n  iprev:\n    temperror: tempfail\n"), m, &f);
  EXPECT_EQ(v.action, verdict::Action::TempFail);
}

TEST(ReputationStage, IprevOffWritesNothing) {
  const verdict::Verdict v =
      send(snapshot(kIprevOnly, "reputation:\n  iprev:\n    enabled: false\n"), Sent{});
  EXPECT_EQ(authResults(v).find("iprev"), std::string::npos) << authResults(v);
}

TEST(ReputationStage, ListedClientAllowlistAndRecord) {
  verdict::Findings f;
  const verdict::Verdict v = send(snapshot(kLists), Sent{}, &f);
  EXPECT_TRUE(hasSymbol(f, "RBL_TEST_SBL"));
  EXPECT_TRUE(hasSymbol(f, "DNSWL_TEST"));
  EXPECT_TRUE(hasRule(v, "RBL_TEST_SBL", 6.0));
  EXPECT_TRUE(hasRule(v, "DNSWL_TEST", -2.5));
  ASSERT_EQ(v.lists.size(), 2u);
  EXPECT_EQ(v.lists[0].zone, "bl.test");
  EXPECT_EQ(v.lists[0].query, "1.2.0.192.bl.test");
  EXPECT_EQ(v.lists[0].lookup, "192.0.2.1");
  EXPECT_EQ(v.lists[0].result, reputation::ListResult::Listed);
  EXPECT_EQ(v.lists[0].codes, std::vector<std::string>{"127.0.0.2"});
}

// RFC 5782 answers that are not listings: Spamhaus' "query refused" code and a code the
// zone's configuration does not know are errors, never hits.
TEST(ReputationStage, ErrorAnswersAreNeverListings) {
  for (const char* ip : {"192.0.2.2", "192.0.2.3"}) {
    verdict::Findings f;
    Sent m;
    m.ip = ip;
    const verdict::Verdict v = send(snapshot(kLists), m, &f);
    EXPECT_FALSE(hasSymbol(f, "RBL_TEST_SBL")) << ip;
    EXPECT_FALSE(std::any_of(v.contributions.begin(), v.contributions.end(),
                             [](const auto& c) { return c.rule_id == "RBL_TEST_SBL"; }))
        << ip;
    ASSERT_EQ(v.lists.size(), 1u) << ip;
    EXPECT_EQ(v.lists[0].result, reputation::ListResult::Blocked) << ip;
  }
}

TEST(ReputationStage, DomainListActionRejectsWithItsReply) {
  Sent m;
  m.ip = "198.51.100.1";  // no PTR, not on the IP lists
  m.mail_from = "<x@spammer.example>";
  const verdict::Verdict v = send(snapshot(kLists), m);
  EXPECT_EQ(v.action, verdict::Action::Reject);
  ASSERT_TRUE(v.reply);
  EXPECT_EQ(v.reply->code, 550);
  EXPECT_EQ(v.reply->text, "Sender domain listed at dbl.test");
}

TEST(ReputationStage, UrlHostsOfTheBodyAreLookedUp) {
  verdict::Findings f;
  Sent m;
  m.ip = "198.51.100.1";
  m.body = "see https://www.link.example/x and http://LINK.example./y\r\n";
  const verdict::Verdict v = send(snapshot(kLists, ""), m, &f);
  // www.link.example is not listed; link.example. normalises to link.example, which is
  ASSERT_EQ(v.lists.size(), 1u);
  EXPECT_EQ(v.lists[0].query, "link.example.dbl.test");
  EXPECT_EQ(v.lists[0].key, reputation::Key::Url);
  EXPECT_TRUE(hasSymbol(f, "DBL_TEST_SPAM"));
}

// Counts what is asked of the zone, by name.
struct Counting final : dns::Resolver {
  std::shared_ptr<dns::ZoneResolver> zone_ = zone();
  std::map<std::string, int> asked;
  std::mutex m;
  dns::Answer query(std::string_view name, dns::Type type, const dns::Budget& b) override {
    {
      const std::lock_guard<std::mutex> lock(m);
      ++asked[std::string(name)];
    }
    return zone_->query(name, type, b);
  }
};

// The milter starts a connection's client lookups at connect; its messages join them
// instead of asking again.
TEST(ReputationStage, MessagesJoinTheLookupsStartedAtConnect) {
  auto counting = std::make_shared<Counting>();
  const SnapshotConstSharedPtr snap = snapshot(kLists, "", counting);
  const auto client = startClientLookups(snap, "192.0.2.1");
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(counting->asked["1.2.0.192.in-addr.arpa"], 1);
  EXPECT_EQ(counting->asked["1.2.0.192.bl.test"], 1);
  EXPECT_EQ(counting->asked["1.2.0.192.wl.test"], 1);
  for (int i = 0; i < 2; ++i) {
    verdict::Findings f;
    send(snap, Sent{}, &f, client);
    EXPECT_TRUE(hasSymbol(f, "IPREV_PASS"));
    EXPECT_TRUE(hasSymbol(f, "RBL_TEST_SBL"));
  }
  EXPECT_EQ(counting->asked["1.2.0.192.in-addr.arpa"], 1);
  EXPECT_EQ(counting->asked["1.2.0.192.bl.test"], 1);
  EXPECT_EQ(counting->asked["1.2.0.192.wl.test"], 1);
  // Lookups of another snapshot (a reload in between) are not joined.
  const SnapshotConstSharedPtr reloaded = snapshot(kLists, "", counting);
  send(reloaded, Sent{}, nullptr, client);
  EXPECT_EQ(counting->asked["1.2.0.192.bl.test"], 2);
  // Nothing to start without iprev and lists, or without a valid address.
  EXPECT_EQ(startClientLookups(snapshot(kIprevOnly, "reputation:\n  iprev:\n    enabled: false\n"),
                               "192.0.2.1"),
            nullptr);
  EXPECT_EQ(startClientLookups(snap, "unknown"), nullptr);
}

// Composites may name list and iprev symbols (scan::knownSymbols).
TEST(ReputationStage, CompositesSeeListAndIprevSymbols) {
  const std::string dir = ::testing::TempDir() + "reputation_rules";
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir + "/r.yaml");
    f << "rules:\n"
         "  - id: LISTED_AND_CONFIRMED\n"
         "    description: listed and confirmed\n"
         "    expression: 'RBL_TEST_SBL and IPREV_PASS'\n"
         "    score: 1.5\n";
  }
  std::string yaml = kLists;
  yaml.replace(yaml.find("  directories: []"), 17, "  directories: [\"" + dir + "\"]");
  const verdict::Verdict v = send(snapshot(yaml), Sent{});
  EXPECT_TRUE(hasRule(v, "LISTED_AND_CONFIRMED", 1.5));
}

}  // namespace
}  // namespace mw::scan
