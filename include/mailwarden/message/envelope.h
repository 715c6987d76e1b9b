// message/envelope.h — the SMTP envelope of one message, as the MTA reported it.
// All fields are untrusted text from the client (HELO, MAIL FROM) or the MTA (client
// name, queue id). Plain value.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mw::message {

struct Envelope {
  std::string client_ip;    // "192.0.2.1", "2001:db8::1"; empty when unknown (local submission)
  std::string client_name;  // reverse name as the MTA verified it, or "unknown"
  std::string helo;
  std::string mail_from;    // without angle brackets; empty for the null sender <>
  std::vector<std::string> rcpts;  // without angle brackets
  std::string queue_id;     // the MTA's queue id once known ("NOQUEUE" before)
  // The SMTP AUTH login (RFC 4954) the MTA reported in {auth_authen} at MAIL FROM; empty
  // when the client did not authenticate. Set through sanitizeAuthUser(): at most
  // kMaxAuthUser bytes, no control characters. Still the client's text: whoever prints
  // it escapes it (8-bit bytes, '%'); A-R quotes it, the log line escapes it.
  std::string authenticated_user = {};
};

inline constexpr std::size_t kMaxAuthUser = 256;

// The login name as kept in Envelope::authenticated_user: surrounding space trimmed,
// every control character (C0, DEL) replaced by '?', cut to kMaxAuthUser bytes. Never
// throws except std::bad_alloc.
std::string sanitizeAuthUser(std::string_view user);

// Strips one pair of surrounding angle brackets and whitespace: "<a@b>" -> "a@b".
std::string stripAngleBrackets(std::string_view addr);

}  // namespace mw::message
