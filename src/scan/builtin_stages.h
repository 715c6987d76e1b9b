// scan/builtin_stages.h — the stages of the pipeline. Private to scan/.
//   MimeStage     — runs the streaming MIME parser over the body so structural defects
//                   are known, and hands its part events to the sinks subscribed to it,
//                   and the text and URLs of its text/* parts (one TextExtractor) to the
//                   text listeners subscribed (the rules stage's, wired by
//                   Snapshot::makeStages); memory is bounded by message::Limits.
//   RulesStage    — rules_stage.cpp.
//   SpfStage      — spf_stage.cpp.
//   DkimStage     — dkim_stage.cpp.
//   ArcStage      — arc_stage.cpp.
//   HeaderGuard   — finds received Authentication-Results fields that claim our
//                   authserv-id (RFC 8601 §5: they must be removed, or a sender could
//                   forge our results) and received X-Mailwarden-* / X-Spam-* fields.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mailwarden/config/config.h"
#include "mailwarden/base/task_pool.h"
#include "mailwarden/dns/resolver.h"
#include "mailwarden/dns/session.h"
#include "mailwarden/message/limits.h"
#include "mailwarden/message/mime.h"
#include "mailwarden/message/text.h"
#include "mailwarden/rules/rules.h"
#include "mailwarden/scan/stage.h"
#include "mailwarden/verdict/verdict.h"

namespace mw::scan {

// The message's one MIME parser, and its one text extraction. Subscribers get the
// parser's part events (the extractor's text/URLs) in subscription order; each must
// outlive the stage's parser (both live in the same stage list; MimeParser calls sinks
// only from header/body/finish, never from its destructor).
class MimeStage final : public Stage {
 public:
  explicit MimeStage(const message::Limits& limits) : parser_(limits, &fanout_) {}
  // Before the first event. Never throws except bad_alloc.
  void subscribe(message::MimeSink& sink) { fanout_.add(sink); }
  // Before the first event: `listener` gets the text (`text`) and URLs (`urls`) of the
  // message's text/* parts (message::TextListener). The extractor joins the parser's
  // fan-out with the first subscription that wants something, so HTML is not decoded
  // when nobody wants text or URLs. Never throws except bad_alloc.
  void subscribeText(message::TextListener& listener, bool text, bool urls);

  std::string_view name() const noexcept override { return "mime"; }
  Flow header(const message::HeaderField& field, int, verdict::Findings&) override;
  Flow endOfHeaders(const message::Envelope&, verdict::Findings&) override;
  Flow body(std::string_view chunk, verdict::Findings&) override;
  void endOfMessage(verdict::Findings& findings) override;

 private:
  message::TextExtractor text_;  // in fanout_ once some listener wants something
  message::MimeFanout fanout_;   // declared before the parser, which points at it
  message::MimeParser parser_;
};

// Content rules (rules::Matcher) as a stage: matches as the message streams, concludes
// composites after every stage's endOfMessage (rules_stage.cpp).
class RulesStage final : public Stage {
 public:
  RulesStage(rules::RuleSetConstSharedPtr rules, const message::Limits& limits)
      : matcher_(std::move(rules), limits) {}
  // The rules' attachment scopes read MIME part events (matcher().mimeSink()), body:text
  // and url the extracted text (matcher().textListener()): subscribe them to the
  // message's MimeStage, so the body is parsed once.
  rules::Matcher& matcher() noexcept { return matcher_; }

  std::string_view name() const noexcept override { return "rules"; }
  Flow header(const message::HeaderField& field, int, verdict::Findings&) override;
  Flow endOfHeaders(const message::Envelope& env, verdict::Findings&) override;
  Flow body(std::string_view chunk, verdict::Findings&) override;
  void endOfMessage(verdict::Findings&) override;
  void conclude(verdict::Findings& findings) override;

 private:
  rules::Matcher matcher_;
  const message::Envelope* env_ = nullptr;  // Scan's, from end of headers
};

StagePtr makeHeaderGuard(const verdict::Policy& policy);

class Snapshot;
// SPF (RFC 7208) for the MAIL FROM identity (the HELO identity for the null sender) and,
// if configured, the HELO identity; runs at MAIL FROM, when its input is known.
StagePtr makeSpfStage(const Snapshot& snapshot, dns::Session& dns);
// DKIM (RFC 6376) for every signature of the message, fed as it streams in
// (dkim_stage.cpp); needs snapshot.dkimLibrary().
StagePtr makeDkimStage(const Snapshot& snapshot, dns::Session& dns);

// iprev (RFC 8601 §3) and the DNS lists of reputation.lists (RFC 5782): lookups started
// as their keys are known, collected at end of message (reputation_stage.cpp); after
// the DKIM stage (a d= list counts only verified signatures), before the rules (they
// read its symbols and the confirmed client name).
// Subscribes itself to `mime`'s text extraction when a list asks for URL hosts.
// `iprev` / `lists`: which of the two run (a bypass may skip either; Snapshot::makeStages
// passes the configured ones minus those).
StagePtr makeReputationStage(const Snapshot& snapshot, dns::Session& dns, MimeStage& mime,
                             bool iprev, bool lists);

// ARC (RFC 8617) chain validation, fed as the message streams in (arc_stage.cpp): its
// keys are started at end of headers; Findings::arc and an arc AuthResult at end of
// message. Before DMARC, which reads Findings::arc for the trusted-forwarder override.
StagePtr makeArcStage(const Snapshot& snapshot, dns::Session& dns);

// DMARC (RFC 9989) over the SPF and DKIM results (and ARC's, for the trusted-forwarder
// override); always the last stage.
StagePtr makeDmarcStage(const Snapshot& snapshot, dns::Session& dns);

// The threads that run a check while the message streams on (SPF at MAIL FROM, one task
// per identity): one pool for the process, created at first use. Its tasks only wait
// for DNS, bounded by the message's budget, never for each other (TaskPool's rule).
TaskPool& checkWorkers();

// From fields a stage keeps (Scan hands every received field over): more are counted,
// not kept; the DMARC answer for such a message is "several authors" anyway.
inline constexpr std::size_t kMaxFromFields = 8;

// Appends `names` to findings.symbols (scan/symbols.h: who publishes what).
void publish(verdict::Findings& findings, std::vector<std::string> names);

// A check's temperror (config spf/dkim/dmarc.temperror): the failure policy (the first
// failure's reason is kept), or `rule_id` with the configured score (none when 0).
void onTemperror(verdict::Findings& findings, const config::OnTemperror& setting,
                 const char* rule_id, std::string reason);

}  // namespace mw::scan
