#include "dns/names.h"

#include "mailwarden/base/ascii.h"

namespace mw::dns::detail {

std::string normalizeName(std::string_view name) {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  return ascii::lower(name);
}

std::optional<std::string> nameFromWire(const std::uint8_t* wire, std::size_t size,
                                        std::size_t* used) {
  constexpr std::size_t kMaxWireName = 255;  // RFC 1035 §2.3.4
  std::string out;
  std::size_t pos = 0;
  while (true) {
    if (pos >= size || pos >= kMaxWireName) {
      return std::nullopt;
    }
    const std::uint8_t len = wire[pos];
    if (len == 0) {
      ++pos;
      break;
    }
    if (len > 63) {  // 0xC0: a compression pointer; 0x40/0x80: reserved label types
      return std::nullopt;
    }
    if (pos + 1 + len > size) {
      return std::nullopt;
    }
    if (!out.empty()) {
      out += '.';
    }
    for (std::size_t i = 0; i < len; ++i) {
      out += ascii::toLower(static_cast<char>(wire[pos + 1 + i]));
    }
    pos += 1 + static_cast<std::size_t>(len);
  }
  if (pos > kMaxWireName) {
    return std::nullopt;
  }
  if (used != nullptr) {
    *used = pos;
  }
  return out;
}

std::string presentationName(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 1);
  for (char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    const bool special = c == '\\' || c == '"' || c == ';' || c == '(' || c == ')' ||
                         c == '@' || c == '$';
    if (c == '.' || (c > 0x20 && c < 0x7f && !special)) {
      out += ch;
      continue;
    }
    out += '\\';
    out += static_cast<char>('0' + c / 100);
    out += static_cast<char>('0' + c / 10 % 10);
    out += static_cast<char>('0' + c % 10);
  }
  out += '.';
  return out;
}

}  // namespace mw::dns::detail
