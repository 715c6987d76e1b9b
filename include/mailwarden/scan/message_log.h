// scan/message_log.h — the one log line per message (issue 19 point 2): after the
// verdict, everything a postmaster needs to answer "why did this message get that
// verdict?" on one line, as key=value text or as one JSON object (log.format).
//
// Text (logged as "QUEUEID: scan: " + the line), fields in this order, the bracketed
// ones only when they apply (doc/OPERATIONS.md, "The log line", explains each):
//
//   action=tag code=250 score=8.00 ms=12.4 client=192.0.2.25 name=mx.example.net
//   helo=mx.example.net from=<a@example.org> rcpts=2 msgid=<id@example.org>
//   headers=12 body=3456 [spf=pass(mailfrom) spf=none(helo)] [dkim=pass(d=example.org)...]
//   [dmarc=fail(p=reject,override=trusted_forwarder)] [arc=pass] [iprev=pass] [auth=pass]
//   [lists=zen.example:listed,...] [rules=RULE_A:5.00,RULE_B:3.00[,+N more]]
//   [bypass=trusted_network|authenticated] [defects=a,b] [failure=...]
//
// Splitting: fields are separated by one space and a value never holds one; the key
// ends at the first '='. Every value is printable ASCII: bytes below 0x21 (space, TAB,
// CR, LF, NUL), 0x7F, 8-bit bytes and '%' are written %XX (so the original bytes can be
// recovered), and inside the parenthesised and comma-separated values of the check,
// list and rule fields also '(', ')', ',' and ':'. A value is at most kMaxValue bytes
// as written and then ends in "..."; the line is at most kMaxLine bytes: the rules list
// is cut first ("+N more"), then the lists, then the line itself ("...").
//
// JSON (log.format: json): one object per line, without the prefix on stderr (a
// shipper reads pure JSON lines) and as the message text in syslog; the same data as
// typed fields (see formatJson below). Strings hold the values as text, and the line is
// printable ASCII: control characters, DEL and every non-ASCII character are \uXXXX
// escapes (so U+2028 or a C1 control cannot break a line either), valid UTF-8
// (SMTPUTF8 addresses) comes back unchanged from any JSON reader, and each byte that
// is not UTF-8 becomes U+FFFD (nlohmann's error_handler replace) — unlike the text form,
// the JSON form does not keep 8-bit garbage byte for byte. Bounded like the text form (strings cut at
// kMaxValue bytes on a UTF-8 boundary with "...", rules then lists dropped from the end
// with "rules_omitted"/"lists_omitted" counts).
//
// Thread-safety: pure functions of their arguments. They never throw except
// std::bad_alloc; logMessage() never throws.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mailwarden/message/envelope.h"
#include "mailwarden/obs/log.h"
#include "mailwarden/verdict/verdict.h"

namespace mw::scan {

inline constexpr std::size_t kMaxValue = 256;   // bytes of one value, as written
inline constexpr std::size_t kMaxLine = 4096;   // bytes of the line (text) or object (JSON)
// Bytes of the Message-ID kept while the header streams by (Scan::header).
inline constexpr std::size_t kMaxMessageId = 998;  // RFC 5322 §2.1.1 line limit

// What the line is made of; every reference must outlive the call.
struct MessageLogEntry {
  const message::Envelope& envelope;      // queue id, client, HELO, MAIL FROM, rcpts
  const verdict::Findings& findings;      // confirmed client name, defects, failure
  const verdict::Verdict& verdict;        // action, reply, score, auth, lists, rules
  std::string_view message_id;            // the first Message-ID field, trimmed; may be ""
  std::size_t headers = 0;                // header fields received
  std::uint64_t body_bytes = 0;           // body bytes received
  std::chrono::nanoseconds took{0};       // MAIL FROM to verdict (MessageTimings::total)
  // Why the checks that judge strangers were skipped or not enforced (Verdict::bypass,
  // bypass:): "trusted_network" or "authenticated"; empty when they were not.
  std::string_view bypass = {};
};

// The SMTP code the MTA answers with: the reply's for tempfail/reject, 250 otherwise.
int replyCode(const verdict::Verdict& v) noexcept;

// The text form, without the "QUEUEID: scan: " prefix that obs::write adds.
std::string formatText(const MessageLogEntry& e);

// The JSON form: {"queue_id","action","code","score","ms","client":{"ip","name"},
// "helo","mail_from","rcpts","message_id","headers","body","results":{"spf":[{"result",
// "identity"}],"dkim":[{"result","d"}],"dmarc":{"result","p","override"}|null,
// "arc":"pass"|null,"iprev":"pass"|null,"auth":"pass"|null},"lists":[{"zone","result"}],"rules":[{"id",
// "score"}],"bypass":str|null,"defects":[..],"failure":str|null}; one line.
std::string formatJson(const MessageLogEntry& e);

// Writes the line at info through obs/ (its sinks): text with the queue id prefix, JSON
// as the bare line. Never throws (a line that cannot be built is replaced by a fixed one).
void logMessage(const MessageLogEntry& e, obs::Format format) noexcept;

}  // namespace mw::scan
