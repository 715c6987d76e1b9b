// base/ascii.h — locale-independent ASCII helpers. Mail syntax is ASCII case-insensitive
// (RFC 5322 field names, RFC 5321 domains); the C locale functions are not safe here
// because they depend on the process locale and on the sign of char.
// Pure functions; never throw except std::bad_alloc.
#pragma once

#include <string>
#include <string_view>

namespace mw::ascii {

constexpr char toLower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
constexpr bool isSpace(char c) noexcept { return c == ' ' || c == '\t'; }
constexpr bool isWsp(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
constexpr bool isDigit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool isAlpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool iequals(std::string_view a, std::string_view b) noexcept;
std::string lower(std::string_view s);
// Strips space, tab, CR and LF from both ends.
std::string_view trim(std::string_view s) noexcept;

// Text made of printable ASCII only, for header fields we write and log lines: every
// control character (CR, LF, TAB, NUL, DEL, ...), every byte >= 0x80 (raw 8-bit or
// UTF-8) and '%' itself become "%XX" (upper-case hex, RFC 3986 style), so nothing is
// lost and nothing can break a line. At most `max` bytes of `s` are read; a longer
// input ends in "..." (a log line stays bounded).
std::string escapeUnprintable(std::string_view s, std::size_t max = std::string_view::npos);

}  // namespace mw::ascii
