// scan/rules_stage.cpp — content rules (rules::Matcher) as a pipeline stage.
//
// The MIME stage parses the body once and hands its part events to us too, and the
// text and URLs of its one TextExtractor (Snapshot::makeStages subscribes the Matcher's
// mimeSink() and textListener()), so the message is not parsed, nor its HTML decoded,
// twice. Pattern rules match while the message streams through; composites are
// evaluated in conclude(), after every stage's endOfMessage, so they see the final SPF,
// DKIM and DMARC symbols whatever the stage order (DMARC runs after us). What a hit
// means for the message (a score, a forced action and its reply) is decided here:
// rules/ knows nothing of verdict/.
#include "builtin_stages.h"

namespace mw::scan {
namespace {

verdict::Action toAction(rules::RuleAction a) noexcept {
  switch (a) {
    case rules::RuleAction::Accept: return verdict::Action::Accept;
    case rules::RuleAction::Tag: return verdict::Action::Tag;
    case rules::RuleAction::Quarantine: return verdict::Action::Quarantine;
    case rules::RuleAction::TempFail: return verdict::Action::TempFail;
    case rules::RuleAction::Reject: return verdict::Action::Reject;
  }
  MW_UNREACHABLE("rules::RuleAction out of range");
}

}  // namespace

// An exception (bad_alloc) leaves the hook: Scan turns it into the failure policy.
Flow RulesStage::header(const message::HeaderField& field, int, verdict::Findings&) {
  matcher_.header(field);
  return Flow::Continue;
}

Flow RulesStage::endOfHeaders(const message::Envelope& env, verdict::Findings&) {
  env_ = &env;  // Scan's; complete here (recipients come after MAIL FROM)
  return Flow::Continue;
}

Flow RulesStage::body(std::string_view chunk, verdict::Findings&) {
  matcher_.body(chunk);
  return Flow::Continue;
}

void RulesStage::endOfMessage(verdict::Findings& findings) {
  // The envelope scopes are matched last: envelope:client_name is the name iprev
  // confirmed (RFC 8601 §3; the reputation stage ran before us) rather than the MTA's
  // {client_name}, which is whatever the PTR said, confirmed or not.
  if (env_ != nullptr) {
    if (findings.confirmed_client_name.empty()) {
      matcher_.envelope(*env_);
    } else {
      message::Envelope env = *env_;
      env.client_name = findings.confirmed_client_name;
      matcher_.envelope(env);
    }
  }
  matcher_.finish();
}

void RulesStage::conclude(verdict::Findings& findings) {
  // Every stage's endOfMessage has run: the symbols are complete (DMARC's included).
  for (const rules::Hit& hit : matcher_.conclude(findings.symbols)) {
    findings.contributions.push_back(verdict::Contribution{hit.id, hit.score});
    if (!hit.action) {
      continue;
    }
    // A rule takes over only when strictly more severe than what is forced so far (by
    // SPF, DMARC or an earlier rule); then its reply goes with it, or, without one, the
    // policy's reply.
    const verdict::Action action = toAction(*hit.action);
    if (action > findings.forced) {
      findings.forced = action;
      findings.forced_reply.reset();
      if (hit.reply) {
        const bool reject = action == verdict::Action::Reject;
        findings.forced_reply =
            verdict::SmtpReply{reject ? 550 : 451, reject ? "5.7.1" : "4.7.1", *hit.reply};
      }
    }
  }
  if (matcher_.failure() && !findings.failure) {
    findings.failure = *matcher_.failure();
  }
}

}  // namespace mw::scan
