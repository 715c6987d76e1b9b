// scan/message_log — the per-message log line (issue 19 point 2), text and JSON, from
// hand-built verdicts; and through a Scan (the Message-ID, log.format). The golden
// tests (tests/golden/logline_golden.py) run the same line through `mailwarden check`.
#include "mailwarden/scan/message_log.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "mailwarden/base/clock.h"
#include "mailwarden/config/config.h"
#include "mailwarden/dns/zone.h"
#include "mailwarden/scan/scan.h"

namespace mw::scan {
namespace {

using nlohmann::json;

verdict::AuthResult auth(verdict::Method m, verdict::Code c,
                         std::vector<std::pair<std::string, std::string>> props = {}) {
  verdict::AuthResult a;
  a.method = m;
  a.result = c;
  a.properties = std::move(props);
  return a;
}

struct Fixture {
  message::Envelope env;
  verdict::Findings findings;
  verdict::Verdict verdict;
  std::string message_id = "<id-1@example.org>";

  Fixture() {
    env.client_ip = "192.0.2.25";
    env.client_name = "client.example.net";
    env.helo = "client.example.net";
    env.mail_from = "a@example.org";
    env.rcpts = {"x@dest.example", "y@dest.example"};
    env.queue_id = "4ABC";
  }
  MessageLogEntry entry(std::string_view bypass = {}) const {
    return {.envelope = env, .findings = findings, .verdict = verdict, .message_id = message_id,
            .headers = 7, .body_bytes = 1234, .took = std::chrono::microseconds(12'449),
            .bypass = bypass};
  }
};

// The brief's example, field for field: a tagged message with every check.
Fixture tagged() {
  Fixture f;
  f.findings.confirmed_client_name = "client.example.net";
  verdict::Verdict& v = f.verdict;
  v.action = verdict::Action::Tag;
  v.score = 8.0;
  v.auth.push_back(auth(verdict::Method::Spf, verdict::Code::Fail, {{"smtp.mailfrom", "a@example.org"}}));
  v.auth.push_back(auth(verdict::Method::Spf, verdict::Code::None, {{"smtp.helo", "client.example.net"}}));
  v.auth.push_back(auth(verdict::Method::Dkim, verdict::Code::Pass, {{"header.d", "example.org"}}));
  v.auth.push_back(auth(verdict::Method::Dkim, verdict::Code::Fail, {{"header.d", "other.example"}}));
  v.auth.push_back(auth(verdict::Method::Iprev, verdict::Code::Pass));
  v.auth.push_back(auth(verdict::Method::Dmarc, verdict::Code::Fail));
  v.auth.back().policy = verdict::DmarcPolicy::Reject;
  v.auth.back().policy_override =
      verdict::PolicyOverride{verdict::PolicyOverride::Type::TrustedForwarder, "sealer"};
  v.auth.push_back(auth(verdict::Method::Arc, verdict::Code::Pass));
  reputation::ListHit hit;
  hit.zone = "zen.example";
  hit.result = reputation::ListResult::Listed;
  v.lists.push_back(hit);
  v.contributions = {{"RULE_A", 5.0}, {"RULE_B", 3.0}};
  return f;
}

TEST(MessageLog, TextHasEveryFieldInOrder) {
  const Fixture f = tagged();
  EXPECT_EQ(formatText(f.entry()),
            "action=tag code=250 score=8.00 ms=12.4 client=192.0.2.25 name=client.example.net "
            "helo=client.example.net from=<a@example.org> rcpts=2 msgid=<id-1@example.org> "
            "headers=7 body=1234 spf=fail(mailfrom) spf=none(helo) dkim=pass(d=example.org) "
            "dkim=fail(d=other.example) dmarc=fail(p=reject,override=trusted_forwarder) "
            "arc=pass iprev=pass lists=zen.example:listed rules=RULE_A:5.00,RULE_B:3.00");
}

TEST(MessageLog, TextOptionalFields) {
  Fixture f;
  f.env.client_ip.clear();
  f.env.client_name = "unknown";
  f.env.mail_from.clear();
  f.message_id.clear();
  f.verdict.action = verdict::Action::TempFail;
  f.verdict.reply = verdict::SmtpReply{451, "4.7.1", "later"};
  f.verdict.failed = true;
  f.findings.failure = "spf temperror: timeout";
  f.findings.defects.set(message::Defect::MissingFinalBoundary);
  f.findings.defects.set(message::Defect::InvalidBase64);
  const std::string line = formatText(f.entry("authenticated"));
  EXPECT_EQ(line,
            "action=tempfail code=451 score=0.00 ms=12.4 client=unknown name=unknown "
            "helo=client.example.net from=<> rcpts=2 msgid= headers=7 body=1234 "
            "bypass=authenticated defects=" +
                [&] {
                  std::string d = f.findings.defects.describe();
                  std::replace(d.begin(), d.end(), ' ', ',');
                  return d;
                }() +
                " failure=spf%20temperror:%20timeout");
}

TEST(MessageLog, ReplyCode) {
  verdict::Verdict v;
  EXPECT_EQ(replyCode(v), 250);
  v.action = verdict::Action::Quarantine;
  EXPECT_EQ(replyCode(v), 250);
  v.action = verdict::Action::Reject;
  v.reply = verdict::SmtpReply{554, "5.7.1", "no"};
  EXPECT_EQ(replyCode(v), 554);
}

// CR, LF, NUL, TAB, ESC, 8-bit bytes, '%' and spaces never reach the line raw; each
// value is bounded; the line splits on spaces into key=value fields.
TEST(MessageLog, TextHostileValuesAreEscapedAndBounded) {
  Fixture f;
  f.env.helo = std::string("evil\r\nhelo\0x\t\x1b[2J", 17) + std::string(5000, 'h');
  f.env.mail_from = "j\xC3\xB6rg forged: %41@example.org";
  f.env.client_name = "a(b),c:d";
  f.message_id = "<\x80\xFF@x>";
  f.verdict.contributions = {{"R(1),x:y", 1.0}};
  const std::string line = formatText(f.entry());
  for (const char c : line) {
    const auto u = static_cast<unsigned char>(c);
    ASSERT_TRUE((u > 0x20 && u < 0x7F) || c == ' ') << "byte " << int(u) << " in " << line;
  }
  EXPECT_NE(line.find(" helo=evil%0D%0Ahelo%00x%09%1B[2Jhhh"), std::string::npos) << line;
  EXPECT_NE(line.find(" from=<j%C3%B6rg%20forged:%20%2541@example.org> "), std::string::npos)
      << line;
  EXPECT_NE(line.find(" name=a(b),c:d "), std::string::npos) << line;  // top level: as is
  EXPECT_NE(line.find(" msgid=<%80%FF@x> "), std::string::npos) << line;
  EXPECT_NE(line.find(" rules=R%281%29%2Cx%3Ay:1.00"), std::string::npos) << line;
  // The HELO value: kMaxValue bytes as written, then the marker.
  const std::size_t at = line.find(" helo=") + 6;
  const std::string helo = line.substr(at, line.find(' ', at) - at);
  EXPECT_EQ(helo.size(), kMaxValue + 3) << helo;
  EXPECT_EQ(helo.substr(helo.size() - 3), "...");
  for (std::size_t start = 0; start < line.size();) {
    const std::size_t sp = std::min(line.find(' ', start), line.size());
    const std::string field = line.substr(start, sp - start);
    EXPECT_NE(field.find('='), std::string::npos) << field;
    EXPECT_GT(field.find('='), 0u) << field;
    start = sp + 1;
  }
}

// The whole line stays within kMaxLine: the rules are cut first, with a count.
TEST(MessageLog, TextLineBoundCutsRulesFirst) {
  Fixture f = tagged();
  for (int i = 0; i < 500; ++i) {
    f.verdict.contributions.push_back({"SOME_LONG_RULE_NAME_" + std::to_string(i), 0.01});
  }
  const std::string line = formatText(f.entry());
  EXPECT_LE(line.size(), kMaxLine);
  EXPECT_NE(line.find(" lists=zen.example:listed "), std::string::npos);  // lists kept
  const std::size_t more = line.find("_more");
  ASSERT_NE(more, std::string::npos) << line;
  const std::size_t plus = line.rfind(",+", more);
  ASSERT_NE(plus, std::string::npos);
  const int omitted = std::stoi(line.substr(plus + 2, more - plus - 2));
  const std::size_t shown = static_cast<std::size_t>(
      std::count(line.begin() + static_cast<std::ptrdiff_t>(line.find(" rules=")),
                 line.begin() + static_cast<std::ptrdiff_t>(plus), ',') + 1);
  EXPECT_EQ(shown + static_cast<std::size_t>(omitted), f.verdict.contributions.size());
  EXPECT_GT(line.size(), kMaxLine - 64) << "cut no more than needed";
}

TEST(MessageLog, JsonHasTheSameData) {
  const Fixture f = tagged();
  const std::string line = formatJson(f.entry("trusted_network"));
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const json j = json::parse(line);
  EXPECT_EQ(j["queue_id"], "4ABC");
  EXPECT_EQ(j["action"], "tag");
  EXPECT_EQ(j["code"], 250);
  EXPECT_DOUBLE_EQ(j["score"].get<double>(), 8.0);
  EXPECT_DOUBLE_EQ(j["ms"].get<double>(), 12.4);
  EXPECT_EQ(j["client"], (json{{"ip", "192.0.2.25"}, {"name", "client.example.net"}}));
  EXPECT_EQ(j["helo"], "client.example.net");
  EXPECT_EQ(j["mail_from"], "a@example.org");
  EXPECT_EQ(j["rcpts"], 2);
  EXPECT_EQ(j["message_id"], "<id-1@example.org>");
  EXPECT_EQ(j["headers"], 7);
  EXPECT_EQ(j["body"], 1234);
  const json& r = j["results"];
  EXPECT_EQ(r["spf"], json::parse(R"([{"result":"fail","identity":"mailfrom"},
                                      {"result":"none","identity":"helo"}])"));
  EXPECT_EQ(r["dkim"], json::parse(R"([{"result":"pass","d":"example.org"},
                                       {"result":"fail","d":"other.example"}])"));
  EXPECT_EQ(r["dmarc"],
            json::parse(R"({"result":"fail","p":"reject","override":"trusted_forwarder"})"));
  EXPECT_EQ(r["arc"], "pass");
  EXPECT_EQ(r["iprev"], "pass");
  EXPECT_EQ(j["lists"], json::parse(R"([{"zone":"zen.example","result":"listed"}])"));
  EXPECT_EQ(j["rules"],
            json::parse(R"([{"id":"RULE_A","score":5.0},{"id":"RULE_B","score":3.0}])"));
  EXPECT_EQ(j["bypass"], "trusted_network");
  EXPECT_EQ(j["defects"], json::array());
  EXPECT_TRUE(j["failure"].is_null());
}

TEST(MessageLog, JsonHostileValuesStayOneAsciiLine) {
  Fixture f;
  f.env.helo = std::string("a\r\nb\0c\x7F\xC2\x85\xE2\x80\xA8", 12) + std::string(5000, 'h');
  f.env.mail_from = "j\xC3\xB6rg\xFF@example.org";  // UTF-8, then a byte that is not
  f.message_id = "<\"quoted\"\\@x>";
  const std::string line = formatJson(f.entry());
  for (const char c : line) {
    const auto u = static_cast<unsigned char>(c);
    ASSERT_TRUE(u >= 0x20 && u < 0x7F) << "byte " << int(u) << " in " << line;
  }
  EXPECT_LE(line.size(), kMaxLine);
  const json j = json::parse(line);
  const std::string helo = j["helo"];
  EXPECT_EQ(helo.substr(0, 12), std::string("a\r\nb\0c\x7F\xC2\x85\xE2\x80\xA8", 12));
  EXPECT_EQ(helo.size(), kMaxValue + 3);
  EXPECT_EQ(j["mail_from"], "j\xC3\xB6rg\xEF\xBF\xBD@example.org");  // U+FFFD
  EXPECT_EQ(j["message_id"], "<\"quoted\"\\@x>");
}

TEST(MessageLog, JsonValueCutOnUtf8Boundary) {
  Fixture f;
  f.env.helo = std::string(kMaxValue - 1, 'a') + "\xC3\xB6" + "tail";
  const json j = json::parse(formatJson(f.entry()));
  EXPECT_EQ(j["helo"], std::string(kMaxValue - 1, 'a') + "...");
}

TEST(MessageLog, JsonLineBoundDropsRulesFirst) {
  Fixture f = tagged();
  for (int i = 0; i < 500; ++i) {
    f.verdict.contributions.push_back({"SOME_LONG_RULE_NAME_" + std::to_string(i), 0.01});
  }
  const std::string line = formatJson(f.entry());
  EXPECT_LE(line.size(), kMaxLine);
  const json j = json::parse(line);
  EXPECT_EQ(j["lists"].size(), 1u);
  EXPECT_EQ(j["rules"].size() + j["rules_omitted"].get<std::size_t>(),
            f.verdict.contributions.size());
  EXPECT_EQ(j["rules"][0]["id"], "RULE_A");
  EXPECT_GT(line.size(), kMaxLine - 128) << "dropped no more than needed";
}

// Through a Scan: the first Message-ID field, trimmed; log.format selects the form.
std::shared_ptr<const Snapshot> snapshotWith(obs::Format format) {
  config::Config cfg = config::defaults();
  cfg.policy.authserv_id = "mx.test.example";
  cfg.iprev.enabled = false;
  cfg.rule_dirs.clear();
  cfg.log.format = format;
  Result<SnapshotConstSharedPtr> s = Snapshot::build(
      std::move(cfg), std::make_shared<FixedClock>(1700000000), std::make_shared<dns::ZoneResolver>());
  EXPECT_TRUE(s) << s.error().describe();
  return *s;
}

std::string scanLine(obs::Format format) {
  Scan s(snapshotWith(format));
  s.connect("192.0.2.1", "client.example");
  s.helo("client.example");
  s.queueId("Q1");
  s.mailFrom("<a@example.com>");
  s.rcpt("<b@example.com>");
  s.header("Message-ID", " \r\n\t<first@example.com> \r\n");
  s.header("Message-ID", " <second@example.com>");
  s.endOfHeaders();
  s.body("hello\r\n");
  obs::configure(obs::Sink::Stderr, obs::Level::Info);
  ::testing::internal::CaptureStderr();
  static_cast<void>(s.finish());
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(s.messageId(), "<first@example.com>");
  return err;
}

TEST(MessageLog, ScanWritesTheTextLine) {
  const std::string err = scanLine(obs::Format::Text);
  const std::size_t at = err.find("mailwarden: info: Q1: scan: action=accept code=250 ");
  ASSERT_NE(at, std::string::npos) << err;
  const std::string line = err.substr(at, err.find('\n', at) - at);
  EXPECT_NE(line.find(" client=192.0.2.1 name=client.example helo=client.example "
                      "from=<a@example.com> rcpts=1 msgid=<first@example.com> headers=2 body=7"),
            std::string::npos)
      << line;
}

TEST(MessageLog, ScanWritesPureJsonLines) {
  const std::string err = scanLine(obs::Format::Json);
  std::size_t lines = 0;
  for (std::size_t start = 0; start < err.size();) {
    const std::size_t nl = err.find('\n', start);
    ASSERT_NE(nl, std::string::npos) << "unterminated line: " << err;
    const std::string line = err.substr(start, nl - start);
    if (line.rfind("{", 0) == 0) {
      ++lines;
      const json j = json::parse(line);  // no prefix: the whole line is the object
      EXPECT_EQ(j["queue_id"], "Q1");
      EXPECT_EQ(j["message_id"], "<first@example.com>");
      EXPECT_EQ(j["body"], 7);
    }
    start = nl + 1;
  }
  EXPECT_EQ(lines, 1u) << err;
}

}  // namespace
}  // namespace mw::scan
