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

}  // namespace mw::message
