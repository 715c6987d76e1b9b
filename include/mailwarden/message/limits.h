// message/limits.h — every bound on untrusted message input, in one place (Postfix
// mail_params.h: name, default, value). Crossing a bound never fails the message: the
// parser records a Defect, counts it, and stops keeping what is over the bound.
// Plain data; the defaults are the values a postmaster gets with no configuration.
#pragma once

#include <cstddef>

namespace mw::message {

struct Limits {
  // All header fields of the top-level message together (name + value bytes).
  std::size_t max_header_bytes = 256 * 1024;
  // Header fields of the top-level message.
  std::size_t max_headers = 1000;
  // One line of a MIME part's header or body as the parser keeps it; longer lines are
  // processed in pieces and flagged (RFC 5322 §2.1.1 allows 998).
  std::size_t max_line_length = 64 * 1024;
  // Nested multiparts (rspamd uses 64; 32 is far above real mail).
  std::size_t max_mime_depth = 32;
  // MIME parts of one message, leaves and containers.
  std::size_t max_mime_parts = 1000;
  // Decoded bytes handed on per part (base64 / quoted-printable output).
  std::size_t max_decoded_bytes = 16 * 1024 * 1024;
};

}  // namespace mw::message
