#include "reply.h"

namespace mw::milter {
namespace {

bool isContinuation(unsigned char c) noexcept { return (c & 0xC0) == 0x80; }

// 1 to 3 digits, then `end` (or the end of the text when end is '\0').
std::size_t digits(std::string_view s, std::size_t i, char end) noexcept {
  std::size_t n = 0;
  while (i + n < s.size() && n < 3 && s[i + n] >= '0' && s[i + n] <= '9') {
    ++n;
  }
  if (n == 0) return 0;
  if (end == '\0') return i + n == s.size() ? n : 0;
  return i + n < s.size() && s[i + n] == end ? n : 0;
}

}  // namespace

std::string fitReplyText(std::string_view text) {
  std::string out;
  out.reserve(text.size() < kMaxReplyText ? text.size() : kMaxReplyText);
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '%') continue;
    out += (u < 0x20 || u == 0x7F) ? ' ' : c;
  }
  if (out.size() > kMaxReplyText) {
    std::size_t cut = kMaxReplyText;
    // Back to the first byte of the sequence that would be split (at most 3 steps in
    // valid UTF-8; invalid input stops after 3 all the same).
    for (int back = 0; back < 3 && cut > 0 && isContinuation(static_cast<unsigned char>(out[cut]));
         ++back) {
      --cut;
    }
    if (isContinuation(static_cast<unsigned char>(out[cut]))) {
      cut = kMaxReplyText;  // not UTF-8 at all: a byte cut is as good as any
    }
    out.resize(cut);
  }
  return out;
}

bool acceptableReplyCode(int code) noexcept { return code >= 400 && code <= 599; }

bool acceptableEnhancedCode(std::string_view e, int code) noexcept {
  if (e.size() < 5 || e[1] != '.' || e[0] != static_cast<char>('0' + code / 100)) {
    return false;
  }
  const std::size_t a = digits(e, 2, '.');
  if (a == 0) return false;
  return digits(e, 2 + a + 1, '\0') != 0;
}

}  // namespace mw::milter
