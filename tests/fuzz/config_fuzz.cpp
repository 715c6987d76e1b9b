// Fuzz target of config/: any bytes as the text of a configuration file. loadString must
// return (errors or a config), never crash, hang, leak or throw; every error it returns
// must carry the file name and a line inside the input.
//
// Input is capped at 64 KiB here (loadString itself refuses more than kMaxFileBytes):
// longer inputs find nothing new and slow the fuzzer down. Deep nesting is bounded inside
// yaml-cpp 0.7 (DepthGuard, 2000 levels -> a ParserException, reported as a syntax error).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mailwarden/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kMaxInput = 64 * 1024;
  if (size > kMaxInput) {
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const mw::config::LoadResult r = mw::config::loadString(text, "fuzz.yaml");
  std::size_t lines = 1;
  for (char c : text) {
    lines += (c == '\n' || c == '\r') ? 1 : 0;
  }
  for (const mw::Error& e : r.errors) {
    // Every error names the file, and a line no further than the end of the input.
    if (!e.where || e.where->file != "fuzz.yaml" || e.where->line < 0 ||
        static_cast<std::size_t>(e.where->line) > lines + 1 || e.message.empty()) {
      std::abort();
    }
  }
  return 0;
}
