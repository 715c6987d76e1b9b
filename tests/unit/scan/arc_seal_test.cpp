// ARC sealing through Scan (arc.seal; scan/arc_stage.cpp Stage::delivered): the header
// edits of a delivered message, applied to the message as an MTA applies them (removals,
// then the prepended block on top), must verify with arc::verifyMessage — first hop
// (i=1, cv=none) and over the dkimpy mailing-list chain of tests/golden/arc_fixtures.py
// (i=2, cv=pass). A rejected message is not sealed; the AMS never signs a field decide()
// removes. And the key rules of Snapshot::build / scan::sealKeyFor (start, reload).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "mailwarden/arc/arc.h"
#include "mailwarden/base/ascii.h"
#include "mailwarden/config/config.h"
#include "mailwarden/dns/zone.h"
#include "mailwarden/message/reader.h"
#include "mailwarden/scan/scan.h"

namespace mw::scan {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kNow = 1700000000;

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

std::string keyFile(const char* name) { return std::string(MW_TEST_KEYS_DIR) + "/" + name; }

// The mailing-list fixture's zone and tests/keys/keys.zone (our sealing keys, dkim.test).
std::shared_ptr<dns::ZoneResolver> zones() {
  auto zone = std::make_shared<dns::ZoneResolver>();
  Result<void> r = zone->loadText(caseFile("arc-list-trusted", "zone"), "arc-list.zone");
  EXPECT_TRUE(r) << r.error().describe();
  r = zone->loadFile(keyFile("keys.zone"));
  EXPECT_TRUE(r) << r.error().describe();
  return zone;
}

config::Config sealing(const char* selector = "rsa2048") {
  config::Config cfg = config::defaults();
  cfg.policy.authserv_id = "mx.test.example";
  cfg.iprev.enabled = false;
  cfg.rule_dirs.clear();
  cfg.dmarc.mode = config::DmarcMode::Enforce;
  cfg.arc.seal = config::ArcSealOptions{"dkim.test", selector,
                                        keyFile((std::string(selector) + ".pem").c_str()),
                                        SourceLoc{"mw.yaml", 7}};
  return cfg;
}

SnapshotConstSharedPtr snapshot(config::Config cfg) {
  Result<SnapshotConstSharedPtr> s =
      Snapshot::build(std::move(cfg), std::make_shared<FixedClock>(kNow), zones());
  EXPECT_TRUE(s) << s.error().describe();
  return s ? *s : nullptr;
}

std::string crlf(const std::string& lf) {
  std::string out;
  for (const char c : lf) {
    if (c == '\n') {
      out += '\r';
    }
    out += c;
  }
  return out;
}

verdict::Verdict run(const SnapshotConstSharedPtr& snap, const std::string& raw) {
  Scan scan(snap);
  scan.connect("192.0.2.50", "mail.lists.example.org");
  scan.helo("mail.lists.example.org");
  scan.mailFrom("<list-bounces@lists.example.org>");
  scan.rcpt("<rcpt@dest.example>");
  ReaderFeed feed(scan);
  message::MessageReader reader(snap->limits(), feed);
  reader.feed(raw);
  reader.finish();
  return scan.finish();
}

// What the MTA delivers: `raw` (CRLF) with the Remove edits applied, then the Prepend
// block on top in edit-list order.
std::string deliver(const std::string& raw, const verdict::Verdict& v) {
  const std::size_t end = raw.find("\r\n\r\n");
  EXPECT_NE(end, std::string::npos);
  std::vector<std::string> fields;  // each with its folded lines and final CRLF
  for (std::size_t at = 0; at < end + 2;) {
    std::size_t next = raw.find("\r\n", at) + 2;
    while (next < end + 2 && (raw[next] == ' ' || raw[next] == '\t')) {
      next = raw.find("\r\n", next) + 2;
    }
    fields.push_back(raw.substr(at, next - at));
    at = next;
  }
  std::map<std::string, int> seen;
  std::vector<std::string> kept;
  for (const std::string& f : fields) {
    const std::string name = ascii::lower(f.substr(0, f.find(':')));
    const int occurrence = ++seen[name];
    const bool removed = std::any_of(v.edits.begin(), v.edits.end(), [&](const auto& e) {
      return e.kind == verdict::HeaderEdit::Kind::Remove && ascii::lower(e.name) == name &&
             e.index == occurrence;
    });
    if (!removed) {
      kept.push_back(f);
    }
  }
  std::string out;
  for (const verdict::HeaderEdit& e : v.edits) {
    if (e.kind == verdict::HeaderEdit::Kind::Prepend) {
      out += e.name + ": " + e.value + "\r\n";
    }
  }
  for (const std::string& f : kept) {
    out += f;
  }
  return out + raw.substr(end + 2);
}

std::vector<std::string> prependedNames(const verdict::Verdict& v) {
  std::vector<std::string> names;
  for (const verdict::HeaderEdit& e : v.edits) {
    if (e.kind == verdict::HeaderEdit::Kind::Prepend) {
      names.push_back(e.name);
    }
  }
  return names;
}

const verdict::HeaderEdit* prepended(const verdict::Verdict& v, const std::string& name) {
  for (const verdict::HeaderEdit& e : v.edits) {
    if (e.kind == verdict::HeaderEdit::Kind::Prepend && e.name == name) {
      return &e;
    }
  }
  return nullptr;
}

arc::Validation verify(const std::string& delivered) {
  const auto zone = zones();
  const FixedClock clock(kNow);
  return arc::verifyMessage(delivered, *zone, clock);
}

const std::string kListed = crlf(caseFile("arc-list-trusted", "message.eml"));
const std::string kFirstHop = crlf(
    "From: Alice <alice@dkim.test>\n"
    "To: bob@dest.example\n"
    "Subject: first hop\n"
    "Date: Tue, 14 Nov 2023 22:13:20 +0000\n"
    "Message-ID: <first-hop@dkim.test>\n"
    "\n"
    "Hello.\n");

TEST(ArcSeal, FirstHopSealedAboveOurAuthenticationResultsAndVerifies) {
  const verdict::Verdict v = run(snapshot(sealing()), kFirstHop);
  ASSERT_EQ(v.action, verdict::Action::Accept);
  const std::vector<std::string> names = prependedNames(v);
  ASSERT_GE(names.size(), 4U);
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + 4),
            (std::vector<std::string>{"ARC-Seal", "ARC-Message-Signature",
                                      "ARC-Authentication-Results", "Authentication-Results"}));
  // The AAR records exactly our A-R value.
  const verdict::HeaderEdit* aar = prepended(v, "ARC-Authentication-Results");
  const verdict::HeaderEdit* ar = prepended(v, "Authentication-Results");
  ASSERT_NE(aar, nullptr);
  ASSERT_NE(ar, nullptr);
  EXPECT_EQ(aar->value, "i=1; " + ar->value);
  ASSERT_TRUE(v.arc && v.arc->sealed);
  EXPECT_EQ(v.arc->sealed->instance, 1);
  EXPECT_EQ(v.arc->sealed->cv, verdict::Code::None);

  const arc::Validation got = verify(deliver(kFirstHop, v));
  EXPECT_EQ(got.cv, arc::ChainResult::Pass) << got.reason;
  EXPECT_EQ(got.instances, 1);
  EXPECT_EQ(got.sealers, std::vector<std::string>{"dkim.test"});
}

TEST(ArcSeal, Ed25519Key) {
  const verdict::Verdict v = run(snapshot(sealing("ed25519")), kFirstHop);
  const verdict::HeaderEdit* as = prepended(v, "ARC-Seal");
  ASSERT_NE(as, nullptr);
  EXPECT_NE(as->value.find("a=ed25519-sha256"), std::string::npos) << as->value;
  const arc::Validation got = verify(deliver(kFirstHop, v));
  EXPECT_EQ(got.cv, arc::ChainResult::Pass) << got.reason;
}

TEST(ArcSeal, SecondInstanceOverTheListsChain) {
  config::Config cfg = sealing();
  cfg.arc.trusted_sealers = {"lists.example.org"};
  const verdict::Verdict v = run(snapshot(cfg), kListed);
  ASSERT_EQ(v.action, verdict::Action::Accept);  // the trusted-forwarder override
  ASSERT_TRUE(v.arc && v.arc->sealed);
  EXPECT_EQ(v.arc->sealed->instance, 2);
  EXPECT_EQ(v.arc->sealed->cv, verdict::Code::Pass);
  const verdict::HeaderEdit* as = prepended(v, "ARC-Seal");
  ASSERT_NE(as, nullptr);
  EXPECT_NE(as->value.find("cv=pass"), std::string::npos) << as->value;
  EXPECT_NE(as->value.find("i=2"), std::string::npos) << as->value;
  // This AMS's h= is long enough to fold before i=: it must stay " i=2;" (dkimpy finds an
  // instance's AMS by that text; seal.cpp fold()).
  const verdict::HeaderEdit* ams = prepended(v, "ARC-Message-Signature");
  ASSERT_NE(ams, nullptr);
  EXPECT_NE(ams->value.find(" i=2;"), std::string::npos) << ams->value;

  const arc::Validation got = verify(deliver(kListed, v));
  EXPECT_EQ(got.cv, arc::ChainResult::Pass) << got.reason;
  EXPECT_EQ(got.instances, 2);
  EXPECT_EQ(got.sealers, (std::vector<std::string>{"lists.example.org", "dkim.test"}));
}

TEST(ArcSeal, BrokenChainSealedWithCvFailInMonitorMode) {
  config::Config cfg = sealing();
  cfg.dmarc.mode = config::DmarcMode::Monitor;
  std::string altered = kListed;
  altered.replace(altered.find("team mailing list"), 4, "TEAM");
  const verdict::Verdict v = run(snapshot(cfg), altered);
  ASSERT_EQ(v.action, verdict::Action::Accept);
  ASSERT_TRUE(v.arc && v.arc->sealed);
  EXPECT_EQ(v.arc->sealed->instance, 2);
  EXPECT_EQ(v.arc->sealed->cv, verdict::Code::Fail);
  // Anyone after us sees the chain as failed: our cv=fail ends it (RFC 8617 §5.2 step 2).
  EXPECT_EQ(verify(deliver(altered, v)).cv, arc::ChainResult::Fail);
}

TEST(ArcSeal, RejectedMessageIsNotSealed) {
  config::Config cfg = sealing();
  cfg.arc.trusted_sealers = {"other.example"};  // the list is not trusted: p=reject applies
  const verdict::Verdict v = run(snapshot(cfg), kListed);
  EXPECT_EQ(v.action, verdict::Action::Reject);
  EXPECT_TRUE(v.edits.empty());
  ASSERT_TRUE(v.arc);
  EXPECT_FALSE(v.arc->sealed);
}

TEST(ArcSeal, RemovedFieldsAreNeverSigned) {
  // A forged A-R claiming our authserv-id and an impostor verdict header: decide()
  // removes both, so the AMS must not sign them or the seal would break on delivery.
  const std::string raw =
      crlf("Authentication-Results: mx.test.example; dmarc=pass header.from=dkim.test\n"
           "X-Mailwarden-Verdict: accept\n") +
      kFirstHop;
  const verdict::Verdict v = run(snapshot(sealing()), raw);
  ASSERT_EQ(v.action, verdict::Action::Accept);
  std::vector<std::string> removed;
  for (const verdict::HeaderEdit& e : v.edits) {
    if (e.kind == verdict::HeaderEdit::Kind::Remove) {
      removed.push_back(ascii::lower(e.name));
    }
  }
  EXPECT_EQ(removed, (std::vector<std::string>{"authentication-results", "x-mailwarden-verdict"}));
  const verdict::HeaderEdit* ams = prepended(v, "ARC-Message-Signature");
  ASSERT_NE(ams, nullptr);
  const std::string h = ascii::lower(ams->value.substr(ams->value.find("h=")));
  EXPECT_EQ(h.find("authentication-results"), std::string::npos) << ams->value;
  EXPECT_EQ(h.find("x-mailwarden"), std::string::npos) << ams->value;
  EXPECT_NE(h.find("from"), std::string::npos) << ams->value;
  const arc::Validation got = verify(deliver(raw, v));
  EXPECT_EQ(got.cv, arc::ChainResult::Pass) << got.reason;
}

TEST(ArcSeal, NoSealWithoutArcSealOrWithoutEnabledArc) {
  config::Config plain = sealing();
  plain.arc.seal.reset();
  const verdict::Verdict v = run(snapshot(plain), kFirstHop);
  EXPECT_EQ(prepended(v, "ARC-Seal"), nullptr);
  ASSERT_TRUE(v.arc);
  EXPECT_FALSE(v.arc->sealed);

  config::Config off = sealing();
  off.arc.enabled = false;
  const Result<SnapshotConstSharedPtr> s =
      Snapshot::build(off, std::make_shared<FixedClock>(kNow), zones());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().describe().rfind("mw.yaml:7: arc.seal needs arc.enabled", 0), 0U)
      << s.error().describe();
}

// A temporary folder with a copy of a test key, removed at the end.
struct KeyCopy {
  KeyCopy() {
    char tmpl[] = "/tmp/mw-arcseal-XXXXXX";
    dir = ::mkdtemp(tmpl);
    path = dir + "/arc.pem";
    fs::copy_file(keyFile("rsa2048.pem"), path);
  }
  ~KeyCopy() { fs::remove_all(dir); }
  std::string dir;
  std::string path;
};

TEST(ArcSealKey, MissingKeyAtStartIsAnErrorAtTheSealLine) {
  config::Config cfg = sealing();
  cfg.arc.seal->key_file = "/nonexistent/mailwarden/arc.pem";
  const Result<SnapshotConstSharedPtr> s =
      Snapshot::build(cfg, std::make_shared<FixedClock>(kNow), zones());
  ASSERT_FALSE(s);
  const std::string e = s.error().describe();
  EXPECT_EQ(e.rfind("mw.yaml:7: arc.seal: ", 0), 0U) << e;
  EXPECT_NE(e.find("/nonexistent/mailwarden/arc.pem"), std::string::npos) << e;

  cfg.arc.seal->key_file = keyFile("rsa512.pem");  // RFC 8301: too small to sign with
  const Result<SnapshotConstSharedPtr> weak =
      Snapshot::build(cfg, std::make_shared<FixedClock>(kNow), zones());
  ASSERT_FALSE(weak);
  EXPECT_EQ(weak.error().describe().rfind("mw.yaml:7: arc.seal: ", 0), 0U)
      << weak.error().describe();
}

TEST(ArcSealKey, ReloadKeepsTheRunningKeyOnlyForTheSameFile) {
  KeyCopy copy;
  config::Config cfg = sealing();
  cfg.arc.seal->key_file = copy.path;
  const SnapshotConstSharedPtr running = snapshot(cfg);
  ASSERT_TRUE(running && running->sealKey());

  // Readable: read again (a new key in the same file is taken).
  Result<SealKeyChoice> again = sealKeyFor(cfg, running.get());
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_TRUE(again->key);
  EXPECT_NE(again->key, running->sealKey());
  EXPECT_TRUE(again->warning.empty());

  // Unreadable (as for the unprivileged milter, or removed): the running key, a warning.
  fs::remove(copy.path);
  Result<SealKeyChoice> kept = sealKeyFor(cfg, running.get());
  ASSERT_TRUE(kept) << kept.error().describe();
  EXPECT_EQ(kept->key, running->sealKey());
  EXPECT_NE(kept->warning.find("a new key needs a restart"), std::string::npos) << kept->warning;
  const Result<SnapshotConstSharedPtr> next =
      Snapshot::build(cfg, std::make_shared<FixedClock>(kNow), zones(), kept->key);
  ASSERT_TRUE(next) << next.error().describe();
  EXPECT_EQ((*next)->sealKey(), running->sealKey());
  // ... and it still seals.
  const verdict::Verdict v = run(*next, kFirstHop);
  EXPECT_EQ(verify(deliver(kFirstHop, v)).cv, arc::ChainResult::Pass);

  // Another path that cannot be read: the reload is rejected with the error.
  config::Config moved = cfg;
  moved.arc.seal->key_file = copy.dir + "/other.pem";
  const Result<SealKeyChoice> rejected = sealKeyFor(moved, running.get());
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().describe().rfind("mw.yaml:7: arc.seal: ", 0), 0U)
      << rejected.error().describe();

  // No running snapshot (start): an error too.
  EXPECT_FALSE(sealKeyFor(cfg, nullptr));
  // No arc.seal: no key, no error.
  config::Config none = cfg;
  none.arc.seal.reset();
  const Result<SealKeyChoice> no = sealKeyFor(none, running.get());
  ASSERT_TRUE(no);
  EXPECT_FALSE(no->key);
}

}  // namespace
}  // namespace mw::scan
