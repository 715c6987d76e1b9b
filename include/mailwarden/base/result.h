// base/result.h — errors for what an operator or the environment must fix.
//
// Malformed *mail* is never an Error: it becomes a result (a MIME defect flag, an SPF
// permerror). Error is for a bad configuration file, a library that cannot start, a
// resolver that is down. Functions that can fail return Result<T> and are
// [[nodiscard]]; exceptions exist only at the edges (milter callbacks, main()).
// Thread-safety: plain values. Never throws except std::bad_alloc.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace mw {

// Where an operator-supplied item came from. line is 1-based; 0 when unknown.
struct SourceLoc {
  std::string file;
  int line = 0;
};

enum class Errc {
  Invalid,   // operator input is wrong: fix the file
  TempFail,  // environment: try again later
  Limit,     // a configured bound was reached
  Internal,  // our bug, or a library failure we cannot explain
};

struct Error {
  Errc code = Errc::Internal;
  std::string message;
  std::optional<SourceLoc> where = std::nullopt;

  static Error at(SourceLoc loc, Errc code, std::string message);
  // "file:line: message" (Postfix dict_cidr shape), or just the message without a location.
  std::string describe() const;
};

template <typename T>
using Result = tl::expected<T, Error>;

// Shorthand for the error side: `return fail(Errc::Invalid, "...")`.
inline tl::unexpected<Error> fail(Errc code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}
inline tl::unexpected<Error> fail(Error e) { return tl::unexpected<Error>(std::move(e)); }

[[noreturn]] void unreachable(const char* why, const char* file, int line) noexcept;

}  // namespace mw

// For the end of a function whose switch covers a whole enum (no default: -Wswitch).
#define MW_UNREACHABLE(why) ::mw::unreachable((why), __FILE__, __LINE__)
