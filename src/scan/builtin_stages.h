// scan/builtin_stages.h — the stages every message goes through regardless of which
// checks are configured. Private to scan/.
//   MimeStage     — runs the streaming MIME parser over the body so structural defects
//                   are known, and fans its part events out to attached sinks (the
//                   rules stage); memory is bounded by message::Limits.
//   SpfStage      — spf_stage.cpp.
//   DkimStage     — dkim_stage.cpp.
//   HeaderGuard   — finds received Authentication-Results fields that claim our
//                   authserv-id (RFC 8601 §5: they must be removed, or a sender could
//                   forge our results) and received X-Mailwarden-* / X-Spam-* fields.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mailwarden/config/config.h"
#include "mailwarden/dns/resolver.h"
#include "mailwarden/message/limits.h"
#include "mailwarden/message/mime.h"
#include "mailwarden/scan/stage.h"
#include "mailwarden/verdict/verdict.h"

namespace mw::scan {

StagePtr makeMimeStage(const message::Limits& limits);
StagePtr makeHeaderGuard(const verdict::Policy& policy);

class Snapshot;
// SPF (RFC 7208) for the MAIL FROM identity (the HELO identity for the null sender) and,
// if configured, the HELO identity; runs at MAIL FROM, when its input is known.
StagePtr makeSpfStage(const Snapshot& snapshot, std::shared_ptr<const dns::Budget> budget);
// DKIM (RFC 6376) for every signature of the message, fed as it streams in
// (dkim_stage.cpp); needs snapshot.dkimLibrary().
StagePtr makeDkimStage(const Snapshot& snapshot, std::shared_ptr<const dns::Budget> budget);

// DMARC (RFC 9989) over the SPF and DKIM results; always the last stage.
StagePtr makeDmarcStage(const Snapshot& snapshot, std::shared_ptr<const dns::Budget> budget);

// Content rules (rules_stage.cpp): matches as the message streams, concludes composites
// after every stage's endOfMessage. Registers itself with the MIME stage among
// `earlier` so the body is parsed once. Call only when snapshot.rules() is set.
StagePtr makeRulesStage(const Snapshot& snapshot, std::vector<StagePtr>& earlier);

// Appends `names` to findings.symbols (scan/symbols.h: who publishes what).
void publish(verdict::Findings& findings, std::vector<std::string> names);

// A check's temperror (config spf/dkim/dmarc.temperror): the failure policy (the first
// failure's reason is kept), or `rule_id` with the configured score (none when 0).
void onTemperror(verdict::Findings& findings, const config::OnTemperror& setting,
                 const char* rule_id, std::string reason);

// Adds `sink` to the MIME stage among `stages` (no-op without one): the MIME stage fans
// its parser's events out to every attached sink, which must outlive the stage's
// parser (both live in the same stage list; MimeParser calls sinks only from
// header/body/finish, never from its destructor).
void attachMimeSink(std::vector<StagePtr>& stages, message::MimeSink& sink);

}  // namespace mw::scan
