// Fuzz target: an incoming Authentication-Results value (untrusted: any sender can write
// one) through authservIdOf(), and the same bytes as result text through the renderer.
// Invariants: an id that is found is non-empty and occurs in the input (unquoted or
// unescaped); the rendered header never contains a bare CR or LF outside "\r\n\t"
// folding, so a hostile reason cannot inject a header line. parseAuthenticationResults()
// (read from a trusted ARC sealer's ARC-Authentication-Results) stays within its bounds,
// agrees with authservIdOf(), and reads our own rendering of the input back.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mailwarden/verdict/verdict.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (const std::optional<std::string> id = mw::verdict::authservIdOf(input)) {
    if (id->empty() || id->size() > input.size()) {
      std::abort();
    }
  }
  if (const auto parsed = mw::verdict::parseAuthenticationResults(input)) {
    if (parsed->results.size() > mw::verdict::kMaxParsedResults ||
        mw::verdict::authservIdOf(input) != parsed->authserv_id) {
      std::abort();
    }
    for (const mw::verdict::ParsedResult& r : parsed->results) {
      if (r.method.empty() || r.result.empty() ||
          r.properties.size() > mw::verdict::kMaxParsedProperties) {
        std::abort();
      }
    }
  }
  const std::vector<mw::verdict::AuthResult> results = {
      {mw::verdict::Method::Spf, mw::verdict::Code::Pass, std::string(input),
       {{"smtp.mailfrom", std::string(input)}}},
  };
  const std::string rendered = mw::verdict::renderAuthenticationResults("mx.example", results);
  const auto back = mw::verdict::parseAuthenticationResults(rendered);
  if (!back || back->results.size() != 1 || back->results[0].method != "spf" ||
      back->results[0].properties.size() != 1) {
    std::abort();
  }
  for (std::size_t i = 0; i < rendered.size(); ++i) {
    if (rendered[i] == '\r' && rendered.compare(i, 3, "\r\n\t") != 0) {
      std::abort();
    }
    if (rendered[i] == '\n' && (i == 0 || rendered[i - 1] != '\r')) {
      std::abort();
    }
  }
  return 0;
}
