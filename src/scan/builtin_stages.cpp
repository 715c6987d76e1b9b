#include "builtin_stages.h"

#include <string>
#include <utility>
#include <vector>

#include "mailwarden/base/ascii.h"
#include "mailwarden/message/mime.h"
#include "mailwarden/obs/counters.h"

namespace mw::scan {
namespace {

class HeaderGuard final : public Stage {
 public:
  explicit HeaderGuard(const verdict::Policy& policy)
      : authserv_id_(policy.authserv_id), spam_headers_(policy.headers.spam_headers) {}

  std::string_view name() const noexcept override { return "header-guard"; }

  Flow header(const message::HeaderField& field, int occurrence,
              verdict::Findings& findings) override {
    const std::string key = ascii::lower(field.name);
    if (key == "authentication-results") {
      // RFC 8601 §5: ours if its authserv-id is ours; a field that does not parse is
      // ours too when its first word is our id (a lenient consumer reads it so).
      if (verdict::claimsAuthservId(message::unfold(field.value), authserv_id_)) {
        findings.forged_authres.push_back(occurrence);
        obs::counters().forged_authres.add();
      }
      return Flow::Continue;
    }
    if (key.starts_with("x-mailwarden-") ||
        (spam_headers_ && (key == "x-spam-flag" || key == "x-spam-status"))) {
      findings.impostors.push_back(verdict::HeaderRef{field.name, occurrence});
    }
    return Flow::Continue;
  }
  void endOfMessage(verdict::Findings&) override {}

 private:
  std::string authserv_id_;
  bool spam_headers_;
};

}  // namespace

void MimeStage::subscribeText(message::TextListener& listener, bool text, bool urls) {
  const bool was_wanted = text_.wanted();
  text_.subscribe(listener, text, urls);
  if (!was_wanted && text_.wanted()) fanout_.add(text_);
}

Flow MimeStage::header(const message::HeaderField& field, int, verdict::Findings&) {
  parser_.header(field);
  return Flow::Continue;
}

Flow MimeStage::endOfHeaders(const message::Envelope&, verdict::Findings&) {
  parser_.endOfHeaders();
  return Flow::Continue;
}

Flow MimeStage::body(std::string_view chunk, verdict::Findings&) {
  parser_.body(chunk);
  return Flow::Continue;
}

void MimeStage::endOfMessage(verdict::Findings& findings) {
  parser_.finish();
  findings.defects.merge(parser_.defects());
}

StagePtr makeHeaderGuard(const verdict::Policy& policy) {
  return std::make_unique<HeaderGuard>(policy);
}

void publish(verdict::Findings& findings, std::vector<std::string> names) {
  for (std::string& n : names) {
    findings.symbols.push_back(std::move(n));
  }
}

TaskPool& checkWorkers() {
  // 64 threads: a check waits for DNS, not for a core; beyond 64 checks at once the
  // queue waits, bounded by each message's budget. Never destroyed before exit.
  static TaskPool pool(64);
  return pool;
}

void onTemperror(verdict::Findings& findings, const config::OnTemperror& setting,
                 const char* rule_id, std::string reason) {
  if (setting.tempfail) {
    if (!findings.failure) {
      findings.failure = std::move(reason);
    }
    return;
  }
  if (setting.score != 0.0) {
    findings.contributions.push_back({rule_id, setting.score});
  }
}

}  // namespace mw::scan
