// scan/stage.h — one step of the per-message pipeline (SPF, DKIM, DMARC, rules, and the
// built-in MIME and Authentication-Results stages).
//
// Contract: one instance per message; one thread at a time; events in protocol order
// (envelope, header..., endOfHeaders, body..., endOfMessage). Input is untrusted; a body
// chunk can be any size, including 0. Bad input becomes a result in Findings, an
// environment failure sets Findings::failure. A stage that returned Flow::Done gets no
// further events except endOfMessage.
// Exceptions (std::bad_alloc, or anything a library throws): a hook may let one escape
// and must not swallow one into a result (an allocation failure is not a verdict). Scan
// catches it at the hook, logs it, counts it (obs internal_errors), sets
// Findings::failure (the failure policy: tempfail by default) and gives that stage no
// further events, endOfMessage and conclude included; the other stages go on. Hooks are
// therefore not noexcept: an exception in a noexcept hook would end the whole process.
#pragma once

#include <memory>
#include <string_view>

#include "mailwarden/message/envelope.h"
#include "mailwarden/message/header.h"
#include "mailwarden/verdict/verdict.h"

namespace mw::scan {

enum class Flow {
  Continue,  // keep feeding me
  Done,      // my result is final; skip me until endOfMessage
};

class Stage {
 public:
  virtual ~Stage();
  virtual std::string_view name() const noexcept = 0;
  // MAIL FROM has been seen: client, HELO and sender are known (recipients follow).
  virtual Flow envelope(const message::Envelope&, verdict::Findings&) {
    return Flow::Continue;
  }
  // Every received field, including those message::Limits keeps out of the HeaderList
  // (a forged Authentication-Results must not hide behind 1000 junk fields); stages
  // bound their own work. `occurrence` is 1-based among fields of the same name,
  // counted as the MTA counts them for header edits.
  virtual Flow header(const message::HeaderField&, int /*occurrence*/,
                      verdict::Findings&) {
    return Flow::Continue;
  }
  virtual Flow endOfHeaders(const message::Envelope&, verdict::Findings&) {
    return Flow::Continue;
  }
  virtual Flow body(std::string_view /*chunk*/, verdict::Findings&) {
    return Flow::Continue;
  }
  virtual void endOfMessage(verdict::Findings&) = 0;
  // After every stage's endOfMessage, in stage order: for work that needs the results of
  // stages that run later (the rules' composites read DMARC, the last stage).
  virtual void conclude(verdict::Findings&) {}
  // After decide(), in stage order, only when the verdict delivers the message (accept,
  // tag, quarantine) and the message was fully evaluated (Verdict::failed is false): a
  // stage may add header edits that depend on the decision (the ARC stage's seal records
  // the Authentication-Results decide() wrote). It must not change the action, and must
  // leave `v` unchanged when it throws; Scan then logs and counts the exception and
  // delivers the verdict as decided (never the failure policy: the decision is made).
  virtual void delivered(verdict::Verdict& /*v*/) {}
};

using StagePtr = std::unique_ptr<Stage>;

}  // namespace mw::scan
