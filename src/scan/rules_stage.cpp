// scan/rules_stage.cpp — content rules (rules::Matcher) as a pipeline stage.
//
// The MIME stage parses the body once and hands its part events to us too
// (attachMimeSink), so the message is not parsed twice. Pattern rules match while the
// message streams through; composites are evaluated in conclude(), after every stage's
// endOfMessage, so they see the final SPF, DKIM and DMARC results whatever the stage
// order (DMARC runs after us).
#include "builtin_stages.h"
#include "mailwarden/rules/rules.h"
#include "mailwarden/scan/snapshot.h"

namespace mw::scan {
namespace {

class RulesStage final : public Stage {
 public:
  RulesStage(rules::RuleSetConstSharedPtr rules, const message::Limits& limits)
      : matcher_(std::move(rules), limits) {}

  rules::Matcher& matcher() noexcept { return matcher_; }

  std::string_view name() const noexcept override { return "rules"; }

  Flow header(const message::HeaderField& field, int, verdict::Findings&) noexcept override {
    return guarded([&] { matcher_.header(field); });
  }
  Flow endOfHeaders(const message::Envelope& env, verdict::Findings&) noexcept override {
    // The envelope is complete here (recipients come after MAIL FROM).
    return guarded([&] { matcher_.envelope(env); });
  }
  Flow body(std::string_view chunk, verdict::Findings&) noexcept override {
    return guarded([&] { matcher_.body(chunk); });
  }
  void endOfMessage(verdict::Findings&) noexcept override {
    guarded([&] { matcher_.finish(); });
  }
  void conclude(verdict::Findings& findings) noexcept override {
    guarded([&] { matcher_.conclude(rules::authSymbols(findings.auth), findings); });
    if (failed_ && !findings.failure) findings.failure = "rules: out of memory";
  }

 private:
  // Hooks never throw (stage.h); bad_alloc is the only exception our code raises.
  template <typename F>
  Flow guarded(F&& f) noexcept {
    try {
      f();
    } catch (...) {
      failed_ = true;
    }
    return Flow::Continue;
  }

  rules::Matcher matcher_;
  bool failed_ = false;
};

}  // namespace

StagePtr makeRulesStage(const Snapshot& snapshot, std::vector<StagePtr>& earlier) {
  auto stage = std::make_unique<RulesStage>(snapshot.rules(), snapshot.limits());
  attachMimeSink(earlier, stage->matcher().mimeSink());
  return stage;
}

}  // namespace mw::scan
