// scan/ — the pipeline end to end without an MTA: events in, Verdict out.
#include "mailwarden/scan/scan.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "mailwarden/config/config.h"
#include "mailwarden/dns/zone.h"
#include "mailwarden/message/reader.h"

namespace mw::scan {
namespace {

// Every test answers DNS from this zone: no test ever asks the network.
std::shared_ptr<dns::ZoneResolver> testZone() {
  auto z = std::make_shared<dns::ZoneResolver>();
  const Result<void> loaded = z->loadText(
      "$ORIGIN test.example.\n"
      "$TTL 300\n"
      "origin  TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n"
      "soft    TXT \"v=spf1 ~all\"\n"
      "broken  TXT \"v=spf1 ip4:300.1.1.1 -all\"\n"
      "relay   TXT \"v=spf1 a -all\"\n"
      "relay   A   192.0.2.1\n"
      ";@timeout slow\n"
      ";@refused refused\n"
      "_dmarc.refused TXT \"v=DMARC1; p=reject\"\n"
      ";@notimp _dmarc.dmarcfail TXT\n",
      "scan_test.zone");
  EXPECT_TRUE(loaded) << loaded.error().describe();
  return z;
}

SnapshotConstSharedPtr snapshot(config::Config cfg = config::defaults()) {
  cfg.policy.authserv_id = "mx.test.example";
  // These tests are about SPF, DKIM, DMARC and the pipeline: iprev (on by default) has
  // its own tests (reputation_stage_test.cpp) and would add a line to every header.
  cfg.iprev.enabled = false;
  Result<SnapshotConstSharedPtr> s =
      Snapshot::build(std::move(cfg), std::make_shared<FixedClock>(1700000000), testZone());
  EXPECT_TRUE(s) << s.error().describe();
  return *s;
}

const verdict::HeaderEdit* prepended(const verdict::Verdict& v, std::string_view name) {
  for (const verdict::HeaderEdit& e : v.edits) {
    if (e.kind == verdict::HeaderEdit::Kind::Prepend && e.name == name) {
      return &e;
    }
  }
  return nullptr;
}

std::vector<std::pair<std::string, int>> removals(const verdict::Verdict& v) {
  std::vector<std::pair<std::string, int>> out;
  for (const verdict::HeaderEdit& e : v.edits) {
    if (e.kind == verdict::HeaderEdit::Kind::Remove) {
      out.emplace_back(e.name, e.index);
    }
  }
  return out;
}

TEST(Scan, CleanMessageIsAcceptedWithHeaders) {
  Scan s(snapshot());
  s.connect("192.0.2.1", "client.example");
  s.helo("client.example");
  s.mailFrom("<alice@example.com>");
  s.rcpt("<bob@example.org>");
  s.header("From", " alice@example.com");
  s.header("Subject", " hello");
  s.endOfHeaders();
  s.body("hi\r\n");
  const verdict::Verdict v = s.finish();
  EXPECT_EQ(v.action, verdict::Action::Accept);
  ASSERT_NE(prepended(v, "Authentication-Results"), nullptr);
  // example.com is not in the test zone: SPF none for MAIL FROM; the HELO name
  // client.example has no record either, so only the MAIL FROM result is written.
  // The message is not DKIM-signed: dkim=none.
  EXPECT_EQ(prepended(v, "Authentication-Results")->value,
            "mx.test.example;\r\n\tspf=none (no SPF record at example.com) "
            "smtp.mailfrom=alice@example.com;\r\n\tdkim=none;\r\n"
            "\tdmarc=none (no DMARC record) header.from=example.com;\r\n\tarc=none");
  EXPECT_EQ(s.envelope().mail_from, "alice@example.com");
  EXPECT_EQ(s.envelope().rcpts.size(), 1u);
}

TEST(Scan, ForgedAuthResRemovedForeignKept) {
  Scan s(snapshot());
  s.mailFrom("<a@example.com>");
  s.header("Authentication-Results", " other.example; spf=pass");         // A-R #1: foreign
  s.header("Authentication-Results", " mx.test.example; spf=pass");       // #2: forged
  s.header("Received", " from x");
  s.header("authentication-results", " (c) MX.TEST.EXAMPLE 1; dkim=pass");  // #3: forged
  s.header("Authentication-Results", " mx.test.example.evil; none");      // #4: foreign
  s.header("X-Mailwarden-Verdict", " accept");                            // impostor
  s.endOfHeaders();
  const verdict::Verdict v = s.finish();
  const std::vector<std::pair<std::string, int>> want = {
      {"Authentication-Results", 3}, {"Authentication-Results", 2}, {"X-Mailwarden-Verdict", 1}};
  EXPECT_EQ(removals(v), want);
}

// Issue 16: a field that claims our id but does not parse is removed too.
TEST(Scan, UnparsableAuthResClaimingOurIdRemoved) {
  Scan s(snapshot());
  s.mailFrom("<a@example.com>");
  s.header("Authentication-Results", " mx.test.example (unterminated; spf=pass");  // #1
  s.header("Authentication-Results", " other.example spf=pass");                   // #2 foreign
  s.header("Authentication-Results", " \"mx.test.example; dkim=pass");           // #3
  s.header("Authentication-Results", "\r\n\tmx.test.example\r\n\tspf=pass");      // #4
  s.endOfHeaders();
  const verdict::Verdict v = s.finish();
  const std::vector<std::pair<std::string, int>> want = {
      {"Authentication-Results", 4}, {"Authentication-Results", 3}, {"Authentication-Results", 1}};
  EXPECT_EQ(removals(v), want);
}

// Issue 16: the per-message log line carries no control character or raw 8-bit byte
// from the envelope, and each untrusted field is bounded.
TEST(Scan, LogLineIsPrintableAndBounded) {
  Scan s(snapshot());
  s.connect("192.0.2.1", "client.example");
  s.helo("evil\rhelo\x1b[2J" + std::string(5000, 'h'));
  s.mailFrom("<j\xC3\xB6rg\nforged: line@example.com>");
  s.header("Subject", " x");
  s.endOfHeaders();
  ::testing::internal::CaptureStderr();
  static_cast<void>(s.finish());
  const std::string err = ::testing::internal::GetCapturedStderr();
  const std::size_t at = err.find("scan: action=");
  ASSERT_NE(at, std::string::npos) << err;
  const std::string line = err.substr(at, err.find('\n', at) - at);
  for (const char c : line) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u >= 0x20 && u < 0x7F) << "byte " << int(u);
  }
  EXPECT_NE(line.find("helo=evil%0Dhelo%1B[2Jhhh"), std::string::npos) << line;
  EXPECT_NE(line.find("from=<j%C3%B6rg%0Aforged:%20line@example.com>"), std::string::npos) << line;
  EXPECT_LT(line.size(), 1000u);
  EXPECT_EQ(err.find('\n', at), err.size() - 1) << "one line";
}

TEST(Scan, GuardSeesFieldsBeyondTheHeaderLimit) {
  config::Config cfg = config::defaults();
  cfg.limits.max_headers = 5;
  Scan s(snapshot(cfg));
  s.mailFrom("<a@example.com>");
  for (int i = 0; i < 10; ++i) {
    s.header("X-Junk", " junk");
  }
  s.header("Authentication-Results", " mx.test.example; dkim=pass");
  s.endOfHeaders();
  const verdict::Verdict v = s.finish();
  const std::vector<std::pair<std::string, int>> want = {{"Authentication-Results", 1}};
  EXPECT_EQ(removals(v), want);
  EXPECT_TRUE(s.findings().defects.has(message::Defect::HeaderCountLimit));
  EXPECT_EQ(s.headers().fields().size(), 5u);
}

TEST(Scan, MimeDefectsReachFindings) {
  Scan s(snapshot());
  s.mailFrom("<a@example.com>");
  s.header("MIME-Version", " 1.0");
  s.header("Content-Type", " multipart/mixed; boundary=\"b1\"");
  s.endOfHeaders();
  s.body("--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n");  // no closing --b1--
  const verdict::Verdict v = s.finish();
  EXPECT_TRUE(s.findings().defects.has(message::Defect::MissingFinalBoundary));
  EXPECT_EQ(v.action, verdict::Action::Accept);
}

TEST(Scan, EventsOutOfOrderDoNotCrash) {
  Scan s(snapshot());
  s.body("body before headers\r\n");
  s.header("Late", " header");
  s.rcpt("x@y");
  const verdict::Verdict v = s.finish();
  EXPECT_EQ(v.action, verdict::Action::Accept);
  const verdict::Verdict again = s.finish();
  EXPECT_EQ(again.action, verdict::Action::TempFail);
}

// Feeding an .eml through MessageReader (scan::ReaderFeed, as `mailwarden check` does)
// gives the same verdict as feeding the events.
TEST(Scan, ReaderAndEventsAgree) {
  const std::string eml =
      "Authentication-Results: mx.test.example; spf=pass\n"
      "From: a@example.com\n"
      "Subject: folded\n"
      " subject\n"
      "\n"
      "body\n";
  Scan a(snapshot());
  a.mailFrom("a@example.com");
  ReaderFeed feeder(a);
  message::MessageReader reader(a.snapshot().limits(), feeder);
  reader.feed(eml);
  reader.finish();
  const verdict::Verdict va = a.finish();

  Scan b(snapshot());
  b.mailFrom("a@example.com");
  b.header("Authentication-Results", " mx.test.example; spf=pass");
  b.header("From", " a@example.com");
  b.header("Subject", " folded\r\n subject");
  b.endOfHeaders();
  b.body("body\r\n");
  const verdict::Verdict vb = b.finish();
  ASSERT_EQ(va.edits.size(), vb.edits.size());
  for (std::size_t i = 0; i < va.edits.size(); ++i) {
    EXPECT_EQ(va.edits[i].name, vb.edits[i].name);
    EXPECT_EQ(va.edits[i].value, vb.edits[i].value);
    EXPECT_EQ(va.edits[i].index, vb.edits[i].index);
  }
  EXPECT_EQ(a.headers().fields().at(2).value, " folded\r\n subject");
}

TEST(SnapshotHolder, SwapKeepsOldForPinnedMessages) {
  SnapshotHolder holder(snapshot());
  SnapshotConstSharedPtr pinned = holder.get();
  config::Config next = config::defaults();
  next.policy.authserv_id = "new.example";
  holder.set(*Snapshot::build(next, nullptr, testZone()));
  EXPECT_EQ(pinned->policy().authserv_id, "mx.test.example");
  EXPECT_EQ(holder.get()->policy().authserv_id, "new.example");
  EXPECT_GT(holder.get()->generation(), pinned->generation());
}

struct SpfCase {
  const char* name;
  const char* client_ip;
  const char* mail_from;
  const char* want_ar;        // the Authentication-Results value
  verdict::Action want_action;
  double want_score;
};

TEST(Scan, SpfResultsIntoHeadersScoresAndPolicy) {
  const SpfCase cases[] = {
      {"pass", "192.0.2.1", "a@origin.test.example",
       "mx.test.example;\r\n\tspf=pass smtp.mailfrom=a@origin.test.example;\r\n"
       "\tspf=pass smtp.helo=relay.test.example;\r\n\tdkim=none;\r\n\tdmarc=none (no From field);\r\n\tarc=none",
       verdict::Action::Accept, 0},
      {"fail scores", "198.51.100.7", "a@origin.test.example",
       "mx.test.example;\r\n\tspf=fail smtp.mailfrom=a@origin.test.example;\r\n"
       "\tspf=fail smtp.helo=relay.test.example;\r\n\tdkim=none;\r\n\tdmarc=none (no From field);\r\n\tarc=none",
       verdict::Action::Tag, 5},
      {"softfail", "192.0.2.1", "a@soft.test.example",
       "mx.test.example;\r\n\tspf=softfail smtp.mailfrom=a@soft.test.example;\r\n"
       "\tspf=pass smtp.helo=relay.test.example;\r\n\tdkim=none;\r\n\tdmarc=none (no From field);\r\n\tarc=none",
       verdict::Action::Accept, 2},
      {"null sender checks HELO", "192.0.2.1", "",
       "mx.test.example;\r\n\tspf=pass smtp.helo=relay.test.example;\r\n"
       "\tdkim=none;\r\n\tdmarc=none (no From field);\r\n\tarc=none",
       verdict::Action::Accept, 0},
      {"temperror follows the failure policy", "192.0.2.1", "a@slow.test.example", nullptr,
       verdict::Action::TempFail, 0},
      {"no client address, no SPF", "", "a@origin.test.example", "mx.test.example;\r\n\tdkim=none;\r\n\tarc=none",
       verdict::Action::Accept, 0},
  };
  for (const SpfCase& c : cases) {
    SCOPED_TRACE(c.name);
    Scan s(snapshot());
    s.connect(c.client_ip, "relay.test.example");
    s.helo("relay.test.example");
    s.mailFrom(c.mail_from);
    s.endOfHeaders();
    const verdict::Verdict v = s.finish();
    EXPECT_EQ(v.action, c.want_action) << "got " << verdict::toString(v.action) << " want "
                                       << verdict::toString(c.want_action);
    EXPECT_DOUBLE_EQ(v.score, c.want_score);
    if (c.want_ar != nullptr) {
      ASSERT_NE(prepended(v, "Authentication-Results"), nullptr);
      EXPECT_EQ(prepended(v, "Authentication-Results")->value, c.want_ar);
    }
  }
}

TEST(Scan, SpfPermerrorCarriesItsReason) {
  Scan s(snapshot());
  s.connect("192.0.2.1", "relay.test.example");
  s.mailFrom("a@broken.test.example");
  const verdict::Verdict v = s.finish();
  const std::string& ar = prepended(v, "Authentication-Results")->value;
  EXPECT_NE(ar.find("spf=permerror ("), std::string::npos) << ar;
  EXPECT_DOUBLE_EQ(v.score, 1.0);
}

TEST(Scan, SpfRejectOnFailWhenConfigured) {
  config::Config cfg = config::defaults();
  cfg.spf.reject_on_fail = true;
  Scan s(snapshot(cfg));
  s.connect("198.51.100.7", "x");
  s.mailFrom("a@origin.test.example");
  const verdict::Verdict v = s.finish();
  EXPECT_EQ(v.action, verdict::Action::Reject);
  ASSERT_TRUE(v.reply);
  EXPECT_EQ(v.reply->code, 550);
  EXPECT_EQ(v.reply->enhanced, "5.7.23");
  EXPECT_NE(v.reply->text.find("origin.test.example"), std::string::npos) << v.reply->text;
}

TEST(Scan, SpfDisabled) {
  config::Config cfg = config::defaults();
  cfg.spf.enabled = false;
  cfg.dmarc.enabled = false;
  cfg.dkim.enabled = false;
  cfg.arc.enabled = false;
  Scan s(snapshot(cfg));
  s.connect("198.51.100.7", "x");
  s.mailFrom("a@origin.test.example");
  const verdict::Verdict v = s.finish();
  EXPECT_EQ(prepended(v, "Authentication-Results")->value, "mx.test.example; none");
}

// Issue 16: what a temperror does is per check (spf.temperror, dmarc.temperror;
// dkim.temperror in dkim_stage_test.cpp): tempfail (the default, the failure policy) or a
// score instead. The Authentication-Results say temperror either way.
TEST(Scan, TemperrorFollowsEachChecksSetting) {
  struct Case {
    const char* name;
    const char* mail_from;
    const char* from;  // the From field, or nullptr for none
    config::OnTemperror spf;
    config::OnTemperror dmarc;
    verdict::Action want_action;
    double want_score;
    const char* want_rules;  // X-Mailwarden-Rules, when delivered
    const char* want_in_ar;
  };
  const config::OnTemperror tempfail{true, 0};
  const Case cases[] = {
      {"SPF REFUSED, default: the failure policy", "a@refused.test.example", nullptr, tempfail,
       tempfail, verdict::Action::TempFail, 0, nullptr, nullptr},
      {"SPF REFUSED, scored", "a@refused.test.example", nullptr, {false, 4}, tempfail,
       verdict::Action::Accept, 4, "SPF_TEMPERROR=4.00", "spf=temperror"},
      {"SPF REFUSED, scored past the tag threshold", "a@refused.test.example", nullptr,
       {false, 6}, tempfail, verdict::Action::Tag, 6, "SPF_TEMPERROR=6.00", "spf=temperror"},
      {"SPF REFUSED, 0: recorded only", "a@refused.test.example", nullptr, {false, 0}, tempfail,
       verdict::Action::Accept, 0, "none", "spf=temperror"},
      {"DMARC NOTIMP, default: the failure policy", "a@origin.test.example",
       " x@dmarcfail.test.example", tempfail, tempfail, verdict::Action::TempFail, 0, nullptr,
       nullptr},
      {"DMARC NOTIMP, scored", "a@origin.test.example", " x@dmarcfail.test.example", tempfail,
       {false, 2.5}, verdict::Action::Accept, 2.5, "DMARC_TEMPERROR=2.50", "dmarc=temperror"},
      // An aligned SPF temperror could have been a pass: dmarc=temperror, its own setting.
      {"SPF scored, DMARC stays the failure policy's", "a@refused.test.example",
       " x@refused.test.example", {false, 1}, tempfail, verdict::Action::TempFail, 1, nullptr,
       nullptr},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    config::Config cfg = config::defaults();
    cfg.spf.temperror = c.spf;
    cfg.dmarc.temperror = c.dmarc;
    Scan s(snapshot(cfg));
    s.connect("192.0.2.1", "relay.test.example");
    s.helo("relay.test.example");
    s.mailFrom(c.mail_from);
    if (c.from != nullptr) {
      s.header("From", c.from);
    }
    s.endOfHeaders();
    const verdict::Verdict v = s.finish();
    EXPECT_EQ(v.action, c.want_action) << "got " << verdict::toString(v.action) << " want "
                                       << verdict::toString(c.want_action);
    EXPECT_DOUBLE_EQ(v.score, c.want_score);
    EXPECT_EQ(v.failed, c.want_action == verdict::Action::TempFail);
    if (c.want_rules != nullptr) {
      ASSERT_NE(prepended(v, "X-Mailwarden-Rules"), nullptr);
      EXPECT_EQ(prepended(v, "X-Mailwarden-Rules")->value, c.want_rules);
      const std::string& ar = prepended(v, "Authentication-Results")->value;
      EXPECT_NE(ar.find(c.want_in_ar), std::string::npos) << ar;
    } else {
      ASSERT_TRUE(v.reply);
      EXPECT_EQ(v.reply->code, 451);
    }
  }
}

// Snapshot::makeStages subscribes the rules stage to the MIME stage: scopes that only
// MIME parsing can feed (decoded text parts, attachment names) match through Scan.
TEST(Scan, RulesReadTheMimeStagesParts) {
  namespace fs = std::filesystem;
  std::string dir_template = (fs::temp_directory_path() / "mw-scan-mime-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir_template.data()), nullptr);
  const fs::path dir = dir_template;
  std::ofstream(dir / "10.yaml") << "rules:\n"
                                    "  - id: TEXT\n"
                                    "    description: decoded base64 text\n"
                                    "    scope: body:text\n"
                                    "    pattern: 'secret phrase'\n"
                                    "    score: 2\n"
                                    "  - id: EXE\n"
                                    "    description: attachment name\n"
                                    "    scope: attachment:name\n"
                                    "    pattern: '\\.exe$'\n"
                                    "    score: 3\n";
  config::Config cfg = config::defaults();
  cfg.rule_dirs = {dir.string()};
  cfg.rules_cache_dir.clear();
  Scan s(snapshot(cfg));
  s.connect("192.0.2.1", "client.example");
  s.helo("client.example");
  s.mailFrom("<alice@example.com>");
  s.rcpt("<bob@example.org>");
  s.header("From", " alice@example.com");
  s.header("MIME-Version", " 1.0");
  s.header("Content-Type", " multipart/mixed; boundary=\"b\"");
  s.endOfHeaders();
  // The phrase exists only base64-encoded in the raw body.
  s.body("--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
         "c2VjcmV0IHBocmFzZSBpbnNpZGU=\r\n"
         "--b\r\nContent-Type: application/octet-stream\r\n"
         "Content-Disposition: attachment; filename=\"setup.exe\"\r\n\r\nTVqQ\r\n--b--\r\n");
  const verdict::Verdict v = s.finish();
  std::vector<std::string> ids;
  for (const verdict::Contribution& c : v.contributions) {
    ids.push_back(c.rule_id);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"EXE", "TEXT"}));
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace mw::scan
