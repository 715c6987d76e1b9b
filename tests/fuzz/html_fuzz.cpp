// Fuzz target of message/text.h's HtmlText (issue 16 point 4): any bytes as a text/html
// part. Properties: no crash, leak or UB; the text and URLs do not depend on how the
// part is chunked (whole, byte by byte, and pieces of a size taken from the input give
// the same result: a character reference, tag or comment split anywhere decodes as it
// does whole); every URL is at most kMaxUrlBytes; the text grows at most 1.2 times
// (the largest expansions: "&nGt;" is 6 bytes of UTF-8 for 5, "&#0" 3 for 3), checked
// as at most twice the input.
//
// Input is capped at 64 KiB.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/message/text.h"

namespace {

struct Out {
  std::string text;
  std::vector<std::string> urls;
};

Out run(std::string_view in, std::size_t step) {
  mw::message::HtmlText h;
  Out o;
  for (std::size_t i = 0; i < in.size(); i += step) h.feed(in.substr(i, step), o.text, o.urls);
  h.finish(o.text, o.urls);
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const Out whole = run(in, in.size() + 1);
  for (const std::string& u : whole.urls) {
    if (u.size() > mw::message::kMaxUrlBytes) std::abort();
  }
  if (whole.text.size() > 2 * in.size()) std::abort();
  const Out bytes = run(in, 1);
  const Out pieces = run(in, 1 + (size > 0 ? data[0] % 37 : 0));
  if (bytes.text != whole.text || bytes.urls != whole.urls || pieces.text != whole.text ||
      pieces.urls != whole.urls) {
    std::abort();
  }
  return 0;
}
