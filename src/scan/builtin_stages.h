// scan/builtin_stages.h — the stages every message goes through regardless of which
// checks are configured. Private to scan/.
//   MimeStage     — runs the streaming MIME parser over the body so structural defects
//                   (and, later, decoded content for the rules) are known; memory is
//                   bounded by message::Limits.
//   SpfStage      — spf_stage.cpp.
//   DkimStage     — dkim_stage.cpp.
//   HeaderGuard   — finds received Authentication-Results fields that claim our
//                   authserv-id (RFC 8601 §5: they must be removed, or a sender could
//                   forge our results) and received X-Mailwarden-* / X-Spam-* fields.
#pragma once

#include <memory>

#include "mailwarden/dns/resolver.h"
#include "mailwarden/message/limits.h"
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

}  // namespace mw::scan
