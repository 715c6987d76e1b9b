// Fuzz target of the rule loader: any bytes as a rule file. rules::loadText must return
// rules or errors, never crash, hang or leak; every error names the file and a line
// inside the input (compile errors point at the rule's line).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/rules/rules.h"

namespace {

// The names scan::knownSymbols gives the loader today (this target links rules/ alone),
// so corpus files that name SPF_PASS and friends reach composite resolution.
const std::vector<std::string> kSymbols = {
    "SPF_PASS",       "SPF_FAIL",        "SPF_SOFTFAIL",   "SPF_NEUTRAL",     "SPF_NONE",
    "SPF_TEMPERROR",  "SPF_PERMERROR",   "DKIM_PASS",      "DKIM_FAIL",       "DKIM_NONE",
    "DKIM_TEMPERROR", "DKIM_PERMERROR",  "DMARC_PASS",     "DMARC_FAIL",      "DMARC_NONE",
    "DMARC_TEMPERROR", "DMARC_PERMERROR", "DMARC_REJECT",  "DMARC_QUARANTINE",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kMaxInput = 64 * 1024;
  if (size > kMaxInput) {
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const mw::rules::LoadReport r = mw::rules::loadText(text, "fuzz.yaml", kSymbols);
  std::size_t lines = 1;
  for (char c : text) {
    lines += (c == '\n' || c == '\r') ? 1 : 0;
  }
  for (const mw::Error& e : r.errors) {
    if (!e.where || e.where->file != "fuzz.yaml" || e.where->line < 0 ||
        static_cast<std::size_t>(e.where->line) > lines + 1 || e.message.empty()) {
      std::abort();
    }
  }
  if (r.ok() != static_cast<bool>(r.rules)) {
    std::abort();
  }
  return 0;
}
