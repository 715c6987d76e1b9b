// Our own users through Scan (issue 19, point 3): a trusted network or an authenticated
// client skips the checks that judge strangers (no DNS asked for them: a counting
// resolver over a zone proves it), or, in `score` mode, runs them without enforcing;
// the Authentication-Results say what was not checked and why.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "mailwarden/config/config.h"
#include "mailwarden/dns/zone.h"
#include "mailwarden/scan/scan.h"

namespace mw::scan {
namespace {

using verdict::BypassCheck;

// Counts the names asked; SPF asks from worker threads, hence the lock.
class CountingResolver final : public dns::Resolver {
 public:
  explicit CountingResolver(std::shared_ptr<dns::Resolver> inner) : inner_(std::move(inner)) {}
  dns::Answer query(std::string_view name, dns::Type type, const dns::Budget& budget) override {
    {
      std::lock_guard<std::mutex> lock(m_);
      asked_.emplace_back(name);
    }
    return inner_->query(name, type, budget);
  }
  std::vector<std::string> asked() const {
    std::lock_guard<std::mutex> lock(m_);
    return asked_;
  }
  bool askedAbout(std::string_view part) const {
    const std::vector<std::string> all = asked();
    return std::any_of(all.begin(), all.end(),
                       [&](const std::string& n) { return n.find(part) != std::string::npos; });
  }

 private:
  std::shared_ptr<dns::Resolver> inner_;
  mutable std::mutex m_;
  std::vector<std::string> asked_;
};

std::shared_ptr<CountingResolver> resolver() {
  auto z = std::make_shared<dns::ZoneResolver>();
  const Result<void> loaded = z->loadText(
      "$TTL 300\n"
      "$ORIGIN test.\n"
      // own.test publishes p=reject and allows only its office network: a roaming user
      // at 203.0.113.5 fails SPF and, without DKIM, DMARC.
      "own A 198.51.100.1\n"
      "own TXT \"v=spf1 ip4:198.51.100.0/24 -all\"\n"
      "_dmarc.own TXT \"v=DMARC1; p=reject\"\n"
      // the roaming address is on a block list whose listing rejects
      "5.113.0.203.bl A 127.0.0.2\n"
      "10.2.0.192.bl A 127.0.0.2\n",
      "bypass.zone");
  EXPECT_TRUE(loaded) << loaded.error().describe();
  return std::make_shared<CountingResolver>(z);
}

const std::string kBase = R"(
authserv_id: mx.test.example
log:
  target: stderr
  level: warn
rules:
  directories: []
dmarc:
  mode: enforce
)";

const std::string kLists = R"(
reputation:
  lists:
    - zone: bl.test
      lookup: [client_ip]
      answers:
        - codes: ["127.0.0.2"]
          symbol: RBL_TEST
          score: 0.5
          action: reject
)";

SnapshotConstSharedPtr snapshot(const std::string& bypass,
                                const std::shared_ptr<CountingResolver>& dns,
                                const std::string& reputation = kLists) {
  config::LoadResult loaded = config::loadString(kBase + reputation + bypass, "test.yaml");
  EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].describe());
  Result<SnapshotConstSharedPtr> s =
      Snapshot::build(std::move(loaded.config), std::make_shared<FixedClock>(1700000000), dns);
  EXPECT_TRUE(s) << s.error().describe();
  return *s;
}

struct Sent {
  std::string ip = "203.0.113.5";
  std::string auth_user;
};

verdict::Verdict send(const SnapshotConstSharedPtr& snap, const Sent& m,
                      verdict::Findings* findings = nullptr) {
  Scan s(snap);
  s.connect(m.ip, "unknown");
  s.helo("laptop.hotel.example");
  s.authenticated(m.auth_user);
  s.mailFrom("<alice@own.test>");
  s.rcpt("<bob@example.org>");
  s.header("From", " Alice <alice@own.test>");
  s.header("Subject", " hi");
  s.endOfHeaders();
  s.body("hello\r\n");
  verdict::Verdict v = s.finish();
  if (findings != nullptr) {
    *findings = s.findings();
  }
  return v;
}

std::string authResults(const verdict::Verdict& v) {
  for (const verdict::HeaderEdit& e : v.edits) {
    if (e.name == "Authentication-Results") {
      return e.value;
    }
  }
  return "(none)";
}

bool hasMethod(const verdict::Findings& f, verdict::Method m) {
  return std::any_of(f.auth.begin(), f.auth.end(),
                     [&](const verdict::AuthResult& a) { return a.method == m; });
}

// The baseline every bypass is measured against: a stranger from the same address is
// asked about everywhere and refused.
TEST(Bypass, StrangerIsJudged) {
  auto dns = resolver();
  verdict::Findings f;
  const verdict::Verdict v = send(snapshot("", dns), Sent{}, &f);
  EXPECT_EQ(v.action, verdict::Action::Reject);
  EXPECT_FALSE(v.bypass);
  EXPECT_FALSE(hasMethod(f, verdict::Method::Auth));
  EXPECT_TRUE(dns->askedAbout("own.test"));         // SPF
  EXPECT_TRUE(dns->askedAbout("_dmarc.own.test"));  // DMARC
  EXPECT_TRUE(dns->askedAbout("in-addr.arpa"));     // iprev
  EXPECT_TRUE(dns->askedAbout("bl.test"));          // the list
}

TEST(Bypass, AuthenticatedSkipAsksNothingForTheSkippedChecks) {
  auto dns = resolver();
  verdict::Findings f;
  const verdict::Verdict v = send(snapshot("", dns), Sent{"203.0.113.5", "alice"}, &f);
  EXPECT_EQ(v.action, verdict::Action::Accept);
  EXPECT_FALSE(v.reply);
  // No DKIM signature, no ARC set: nothing at all is asked.
  EXPECT_EQ(dns->asked(), std::vector<std::string>{});
  ASSERT_TRUE(v.bypass);
  EXPECT_EQ(v.bypass->reason, verdict::Bypass::Reason::Authenticated);
  EXPECT_EQ(v.bypass->mode, verdict::Bypass::Mode::Skip);
  const std::vector<BypassCheck> all = {BypassCheck::Spf, BypassCheck::Iprev, BypassCheck::Lists,
                                        BypassCheck::Dmarc};
  EXPECT_EQ(v.bypass->checks, all);
  EXPECT_TRUE(v.bypass->network.empty());
  EXPECT_EQ(authResults(v),
            "mx.test.example (not checked: spf, iprev, lists, dmarc; authenticated client);\r\n"
            "\tauth=pass smtp.auth=alice;\r\n\tdkim=none;\r\n\tarc=none");
  EXPECT_TRUE(v.contributions.empty());
  EXPECT_TRUE(std::none_of(f.symbols.begin(), f.symbols.end(),
                           [](const std::string& s) { return s.starts_with("SPF_"); }));
}

TEST(Bypass, AuthenticatedScoreRunsEverythingAndEnforcesNothing) {
  auto dns = resolver();
  verdict::Findings f;
  const verdict::Verdict v =
      send(snapshot("bypass:\n  authenticated: score\n", dns), Sent{"203.0.113.5", "alice"}, &f);
  EXPECT_TRUE(dns->askedAbout("_dmarc.own.test"));
  EXPECT_TRUE(dns->askedAbout("bl.test"));
  ASSERT_TRUE(v.bypass);
  EXPECT_EQ(v.bypass->mode, verdict::Bypass::Mode::Score);
  // Scored (SPF_FAIL 5 + DMARC_REJECT 3 + IPREV_PERMERROR 1 + RBL_TEST 0.5 = 9.5: tag)
  // but neither DMARC's reject nor the list's action applies.
  EXPECT_EQ(v.action, verdict::Action::Tag);
  const std::string ar = authResults(v);
  EXPECT_TRUE(ar.starts_with(
      "mx.test.example (not enforced: spf, iprev, lists, dmarc; authenticated client);\r\n"
      "\tauth=pass smtp.auth=alice;\r\n\tspf=fail"))
      << ar;
  EXPECT_NE(ar.find("dmarc=fail (p=reject sp=reject dis=reject; not enforced: authenticated "
                    "client) header.from=own.test"),
            std::string::npos)
      << ar;
  EXPECT_TRUE(std::any_of(v.contributions.begin(), v.contributions.end(),
                          [](const verdict::Contribution& c) { return c.rule_id == "RBL_TEST"; }));
}

TEST(Bypass, AuthenticatedCheckIsNoBypass) {
  auto dns = resolver();
  verdict::Findings f;
  const verdict::Verdict v =
      send(snapshot("bypass:\n  authenticated: check\n", dns), Sent{"203.0.113.5", "alice"}, &f);
  EXPECT_EQ(v.action, verdict::Action::Reject);
  EXPECT_FALSE(v.bypass);
  EXPECT_FALSE(hasMethod(f, verdict::Method::Auth));
  EXPECT_TRUE(dns->askedAbout("_dmarc.own.test"));
}

TEST(Bypass, TrustedNetworkSkipsWithoutAuthentication) {
  auto dns = resolver();
  const std::string cfg = "bypass:\n  trusted_networks: [\"2001:db8::/32\", 192.0.2.0/24]\n";
  const verdict::Verdict v = send(snapshot(cfg, dns), Sent{"192.0.2.10", ""});
  EXPECT_EQ(v.action, verdict::Action::Accept);
  EXPECT_EQ(dns->asked(), std::vector<std::string>{});
  ASSERT_TRUE(v.bypass);
  EXPECT_EQ(v.bypass->reason, verdict::Bypass::Reason::TrustedNetwork);
  EXPECT_EQ(v.bypass->network, "192.0.2.0/24");  // for the log; never in a header
  EXPECT_EQ(authResults(v),
            "mx.test.example (not checked: spf, iprev, lists, dmarc; trusted network);\r\n"
            "\tdkim=none;\r\n\tarc=none");
  // Even with authenticated: check, a trusted network is trusted.
  auto dns6 = resolver();
  const verdict::Verdict v6 = send(snapshot(cfg + "  authenticated: check\n", dns6),
                                   Sent{"2001:db8:5::1", "alice"});
  ASSERT_TRUE(v6.bypass);
  EXPECT_EQ(v6.bypass->network, "2001:db8::/32");
  EXPECT_EQ(dns6->asked(), std::vector<std::string>{});
  // Outside the networks: judged.
  auto other = resolver();
  EXPECT_EQ(send(snapshot(cfg, other), Sent{"192.0.3.10", ""}).action, verdict::Action::Reject);
  EXPECT_TRUE(other->askedAbout("_dmarc.own.test"));
}

TEST(Bypass, SkipOnlyWhatIsListed) {
  auto dns = resolver();
  verdict::Findings f;
  const verdict::Verdict v =
      send(snapshot("bypass:\n  skip: [dmarc]\n", dns), Sent{"203.0.113.5", "alice"}, &f);
  EXPECT_FALSE(dns->askedAbout("_dmarc"));
  EXPECT_TRUE(dns->askedAbout("own.test"));  // SPF ran
  EXPECT_TRUE(dns->askedAbout("bl.test"));   // the list ran, and its action applies
  EXPECT_EQ(v.action, verdict::Action::Reject);
  EXPECT_EQ(v.reply->text, "Listed at bl.test");
  EXPECT_TRUE(hasMethod(f, verdict::Method::Spf));
  EXPECT_FALSE(hasMethod(f, verdict::Method::Dmarc));
  EXPECT_EQ(v.bypass->checks, std::vector<BypassCheck>{BypassCheck::Dmarc});
}

TEST(Bypass, ChecksNotConfiguredAreNotClaimed) {
  auto dns = resolver();
  // No lists, no iprev: the A-R names only what would have run.
  const verdict::Verdict v = send(
      snapshot("", dns, "reputation: {lists: [], iprev: {enabled: false}}\n"),
      Sent{"203.0.113.5", "alice"});
  ASSERT_TRUE(v.bypass);
  EXPECT_EQ(v.bypass->checks, (std::vector<BypassCheck>{BypassCheck::Spf, BypassCheck::Dmarc}));
  EXPECT_TRUE(authResults(v).starts_with(
      "mx.test.example (not checked: spf, dmarc; authenticated client);"));
  // Nothing left to skip: the marker and auth=pass remain, no comment claims a skip.
  auto dns2 = resolver();
  const verdict::Verdict w = send(snapshot("bypass:\n  skip: []\n", dns2),
                                  Sent{"203.0.113.5", "alice"});
  ASSERT_TRUE(w.bypass);
  EXPECT_TRUE(w.bypass->checks.empty());
  EXPECT_EQ(w.action, verdict::Action::Reject);  // everything ran and was enforced
}

TEST(Bypass, HostileLoginNameIsBoundedAndPrintable) {
  auto dns = resolver();
  const std::string nasty = std::string("al\r\nice\0x", 10) + std::string(1000, 'z');
  verdict::Findings f;
  Scan s(snapshot("", dns));
  s.connect("203.0.113.5", "unknown");
  s.authenticated(nasty);
  s.mailFrom("<alice@own.test>");
  s.header("From", " alice@own.test");
  const verdict::Verdict v = s.finish();
  const std::string& user = s.envelope().authenticated_user;
  EXPECT_EQ(user.size(), message::kMaxAuthUser);
  EXPECT_TRUE(user.starts_with("al??ice?x"));
  ASSERT_TRUE(v.bypass);
  const std::string ar = authResults(v);
  // Only the folding CRLFs; the name is quoted (RFC 2045 tspecials).
  std::string unfolded = ar;
  for (std::size_t i; (i = unfolded.find("\r\n\t")) != std::string::npos;) {
    unfolded.erase(i, 3);
  }
  EXPECT_EQ(unfolded.find_first_of(std::string("\r\n\0", 3)), std::string::npos) << ar;
  EXPECT_NE(ar.find("smtp.auth=\"al??ice?x"), std::string::npos) << ar;
}

TEST(Bypass, ConnectLookupsSkippedForATrustedNetwork) {
  auto dns = resolver();
  const SnapshotConstSharedPtr snap =
      snapshot("bypass:\n  trusted_networks: [192.0.2.0/24]\n", dns);
  EXPECT_EQ(startClientLookups(snap, "192.0.2.10"), nullptr);
  EXPECT_EQ(dns->asked(), std::vector<std::string>{});
  EXPECT_NE(startClientLookups(snap, "203.0.113.5"), nullptr);
  EXPECT_TRUE(dns->askedAbout("in-addr.arpa"));
  EXPECT_TRUE(dns->askedAbout("bl.test"));
}

}  // namespace
}  // namespace mw::scan
