// message/envelope.h — the SMTP envelope of one message, as the MTA reported it.
// All fields are untrusted text from the client (HELO, MAIL FROM) or the MTA (client
// name, queue id). Plain value.
#pragma once

#include <string>
#include <vector>

namespace mw::message {

struct Envelope {
  std::string client_ip;    // "192.0.2.1", "2001:db8::1"; empty when unknown (local submission)
  std::string client_name;  // reverse name as the MTA verified it, or "unknown"
  std::string helo;
  std::string mail_from;    // without angle brackets; empty for the null sender <>
  std::vector<std::string> rcpts;  // without angle brackets
  std::string queue_id;     // the MTA's queue id once known ("NOQUEUE" before)
};

// Strips one pair of surrounding angle brackets and whitespace: "<a@b>" -> "a@b".
std::string stripAngleBrackets(std::string_view addr);

}  // namespace mw::message
