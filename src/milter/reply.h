// milter/reply.h — SMTP reply texts as libmilter's smfi_setreply accepts them.
//
// smfi_setreply (libmilter/smfi.c) refuses — MI_FAILURE, and the MTA then answers with its
// own default text — a code that is not 4xx/5xx, an enhanced code not of the form
// [245].D{1,3}.D{1,3}, a text holding CR or LF, and a text longer than MAXREPLYLEN (980)
// bytes. The MTA treats '%' in it as a format character (Sendmail), and a NUL would cut
// it short. fitReplyText makes any text acceptable; the codes are checked beforehand.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mw::milter {

inline constexpr std::size_t kMaxReplyText = 980;  // libmilter smfi.c MAXREPLYLEN

// Control characters (CR, LF, TAB, NUL, DEL, ...) become spaces, '%' is dropped, and the
// result is cut to at most kMaxReplyText bytes, never inside a UTF-8 sequence.
std::string fitReplyText(std::string_view text);

// What smfi_setreply accepts: a 4xx or 5xx code; an RFC 3463 code of that class.
bool acceptableReplyCode(int code) noexcept;
bool acceptableEnhancedCode(std::string_view enhanced, int code) noexcept;

}  // namespace mw::milter
