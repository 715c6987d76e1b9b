// rules/testcases.cpp — see rules/testcases.h.
#include "mailwarden/rules/testcases.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "mailwarden/base/ascii.h"
#include "mailwarden/message/mime.h"
#include "mailwarden/message/reader.h"
#include "mailwarden/message/text.h"

namespace mw::rules {
namespace {

constexpr std::size_t kMaxEml = 64 * 1024 * 1024;

// The reader's events to the Matcher and to one MIME parser that feeds the Matcher's
// MIME sink and, through one TextExtractor, its text listener, as scan/'s MIME and
// rules stages do (Snapshot::makeStages).
class Feeder final : public message::ReaderSink {
 public:
  Feeder(Matcher& m, const message::Limits& limits, const message::Envelope& env)
      : m_(m), parser_(limits, &fanout_), env_(env) {
    fanout_.add(m.mimeSink());
    text_.subscribe(m.textListener(), m.wantsText(), m.wantsUrls());
    if (text_.wanted()) fanout_.add(text_);
  }
  void header(std::string_view name, std::string_view value) override {
    const message::HeaderField f{std::string(name), std::string(value)};
    m_.header(f);
    parser_.header(f);
  }
  void endOfHeaders() override {
    m_.envelope(env_);
    parser_.endOfHeaders();
  }
  void body(std::string_view chunk) override {
    m_.body(chunk);
    parser_.body(chunk);
  }
  void finish() {
    parser_.finish();
    m_.finish();
  }

 private:
  Matcher& m_;
  message::TextExtractor text_;
  message::MimeFanout fanout_;  // before the parser, which points at it
  message::MimeParser parser_;
  const message::Envelope& env_;
};

std::string crlf(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += "\r\n";
    else out.push_back(text[i]);
  }
  return out;
}

}  // namespace

Result<std::string> caseMessage(const TestCase& tc) {
  if (!tc.eml.empty()) {
    std::ifstream in(tc.eml, std::ios::binary);
    if (!in) return fail(Errc::Invalid, "cannot read " + tc.eml + ": " + std::strerror(errno));
    std::ostringstream buf;
    buf << in.rdbuf();
    std::string text = buf.str();
    if (text.size() > kMaxEml) return fail(Errc::Invalid, tc.eml + ": larger than 64 MiB");
    return text;
  }
  std::string head = crlf(tc.header);
  if (!head.empty() && !head.ends_with("\r\n")) head += "\r\n";
  std::string msg;
  if (!tc.raw) {
    auto has = [&](std::string_view name) {
      std::istringstream lines(head);
      std::string line;
      while (std::getline(lines, line)) {
        const auto colon = line.find(':');
        if (colon != std::string::npos && ascii::iequals(ascii::trim(line.substr(0, colon)), name)) return true;
      }
      return false;
    };
    if (!has("From")) msg += "From: Sender <sender@example.org>\r\n";
    if (!has("To")) msg += "To: <rcpt@example.net>\r\n";
    if (!has("Date")) msg += "Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n";
    if (!has("Message-ID")) msg += "Message-ID: <rules-test@example.org>\r\n";
    if (!has("Subject")) msg += "Subject: rule test\r\n";
  }
  msg += head;
  msg += "\r\n";
  msg += crlf(tc.body);
  return msg;
}

std::vector<std::string> matchMessage(const RuleSetConstSharedPtr& rules, const message::Limits& limits,
                                      std::string_view text, const message::Envelope& envelope,
                                      const std::vector<std::string>& symbols) {
  message::Envelope env = envelope;
  if (env.mail_from.empty()) env.mail_from = "sender@example.org";
  if (env.rcpts.empty()) env.rcpts.push_back("rcpt@example.net");
  if (env.helo.empty()) env.helo = "mx.example.org";
  if (env.client_name.empty()) env.client_name = "mx.example.org";
  if (env.client_ip.empty()) env.client_ip = "192.0.2.1";
  Matcher m(rules, limits);
  {
    Feeder feeder(m, limits, env);
    message::MessageReader reader(limits, feeder);
    reader.feed(text);
    reader.finish();
    feeder.finish();
  }
  static_cast<void>(m.conclude(symbols));  // the answer is hit() of every rule, below
  std::vector<std::string> hits;
  for (const Rule& r : rules->rules()) {
    if (m.hit(r.id)) hits.push_back(r.id);
  }
  return hits;
}

TestSummary runTests(const RuleSetConstSharedPtr& rules, const message::Limits& limits) {
  TestSummary sum;
  for (const Rule& r : rules->rules()) {
    for (const TestCase& tc : r.tests) {
      Result<std::string> msg = caseMessage(tc);
      if (!msg) {
        ++sum.failed;
        sum.failures.push_back(CaseFailure{tc.where, r.id, msg.error().message});
        continue;
      }
      const std::vector<std::string> hits = matchMessage(rules, limits, *msg, tc.envelope, tc.auth);
      const bool hit = std::find(hits.begin(), hits.end(), r.id) != hits.end();
      if (hit == tc.expect_hit) {
        ++sum.passed;
      } else {
        ++sum.failed;
        sum.failures.push_back(CaseFailure{tc.where, r.id,
                                           tc.expect_hit ? "expected hit, got miss" : "expected miss, got hit"});
      }
    }
  }
  return sum;
}

}  // namespace mw::rules
