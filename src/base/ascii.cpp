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

}  // namespace mw::ascii
