#include "mailwarden/message/envelope.h"

#include "mailwarden/base/ascii.h"

namespace mw::message {

std::string stripAngleBrackets(std::string_view addr) {
  std::string_view s = ascii::trim(addr);
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') {
    s = s.substr(1, s.size() - 2);
  }
  return std::string(ascii::trim(s));
}

std::string sanitizeAuthUser(std::string_view user) {
  std::string_view s = ascii::trim(user);
  if (s.size() > kMaxAuthUser) {
    s = s.substr(0, kMaxAuthUser);
  }
  std::string out(s);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      c = '?';  // a NUL, CR or LF must never reach a header or a log line
    }
  }
  return out;
}

}  // namespace mw::message
