// Fuzz target of rule matching: any bytes as a message (header, MIME body, HTML, URLs)
// against a fixed rule set that has a rule in every scope, UTF-8 rules included (their
// input must be made valid UTF-8 first). Must never crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mailwarden/rules/rules.h"
#include "mailwarden/rules/testcases.h"

namespace {

const char* const kRules = R"(rules:
  - {id: S, description: d, scope: subject, pattern: 'caf\x{e9}', flags: [utf8, caseless], score: 1}
  - {id: F, description: d, scope: from, pattern: '@evil\.example>?$', score: 1}
  - {id: H, description: d, scope: 'header:X-Mailer', pattern: '^Bulk', score: 1}
  - {id: HS, description: d, scope: headers, pattern: '^Received:.*unknown', flags: [multiline], score: 1}
  - {id: R, description: d, scope: body:raw, pattern: 'AAAA.{0,10}BBBB', flags: [dotall], score: 1}
  - {id: T, description: d, scope: body:text, pattern: 'viagra', flags: [caseless, utf8], score: 1}
  - {id: U, description: d, scope: url, pattern: '^https?://[^/]*\.example/', flags: [caseless], score: 1}
  - {id: AN, description: d, scope: attachment:name, pattern: '\.(exe|scr)$', flags: [caseless], score: 1}
  - {id: AT, description: d, scope: attachment:type, pattern: '^application/', score: 1}
  - {id: EM, description: d, scope: envelope:mail_from, pattern: '^bad@', score: 1}
  - {id: ER, description: d, scope: envelope:rcpt, pattern: '^abuse@', score: 1}
  - {id: EH, description: d, scope: envelope:helo, pattern: 'localhost', score: 1}
  - {id: EC, description: d, scope: envelope:client_name, pattern: 'unknown', score: 1}
  - {id: C, description: d, expression: '(T or U) and not DKIM_PASS or SPF_FAIL and AN', score: 1}
)";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const mw::rules::RuleSetConstSharedPtr rules = [] {
    mw::rules::LoadReport r =
        mw::rules::loadText(kRules, "fuzz-rules.yaml", {"DKIM_PASS", "SPF_FAIL"});
    if (!r.ok()) std::abort();
    return r.rules;
  }();
  constexpr std::size_t kMaxInput = 256 * 1024;
  if (size > kMaxInput) {
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  mw::message::Limits limits;
  limits.max_decoded_bytes = 1024 * 1024;
  mw::message::Envelope env;
  env.rcpts = {"abuse@x.example"};
  static_cast<void>(mw::rules::matchMessage(rules, limits, text, env, {"SPF_FAIL"}));
  return 0;
}
