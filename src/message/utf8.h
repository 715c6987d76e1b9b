// message/utf8.h — private to message/: UTF-8 validation (RFC 3629 §4) shared by the
// charset converter, the header decoders and HeaderList. Pure functions; never throw
// except bad_alloc.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mw::message::utf8 {

// The replacement character U+FFFD, encoded.
inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the well-formed UTF-8 sequence that starts at s[i] (1..4); 0 when the bytes
// there are ill-formed; -1 when they are a valid prefix cut short by the end of s.
int sequenceLength(std::string_view s, std::size_t i) noexcept;

// True when s is well-formed UTF-8 (US-ASCII included).
bool isValid(std::string_view s) noexcept;

// Appends s to out with every ill-formed byte replaced by U+FFFD. Returns the number of
// trailing bytes of s that form an incomplete sequence and were NOT appended when
// keep_incomplete is set (the caller carries them); otherwise they are replaced too.
// *had_invalid is set when a replacement was made.
std::size_t appendSanitized(std::string_view s, std::string& out, bool keep_incomplete,
                            bool* had_invalid);

}  // namespace mw::message::utf8
