#include "mailwarden/base/result.h"

#include <cstdio>
#include <cstdlib>

namespace mw {

Error Error::at(SourceLoc loc, Errc code, std::string message) {
  return Error{code, std::move(message), std::move(loc)};
}

std::string Error::describe() const {
  if (!where || where->file.empty()) {
    return message;
  }
  if (where->line <= 0) {
    return where->file + ": " + message;
  }
  return where->file + ":" + std::to_string(where->line) + ": " + message;
}

void unreachable(const char* why, const char* file, int line) noexcept {
  std::fprintf(stderr, "mailwarden: internal error: unreachable: %s (%s:%d)\n", why, file, line);
  std::abort();
}

}  // namespace mw
