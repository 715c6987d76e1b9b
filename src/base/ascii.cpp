#include "mailwarden/base/ascii.h"

namespace mw::ascii {

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (toLower(a[i]) != toLower(b[i])) {
      return false;
    }
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = toLower(c);
  }
  return out;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && isWsp(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && isWsp(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

std::string escapeUnprintable(std::string_view s, std::size_t max) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const bool cut = s.size() > max;
  if (cut) {
    s = s.substr(0, max);
  }
  std::string out;
  out.reserve(s.size() + (cut ? 3 : 0));
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7F || c == '%') {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0x0F];
    } else {
      out += c;
    }
  }
  if (cut) {
    out += "...";
  }
  return out;
}

}  // namespace mw::ascii
