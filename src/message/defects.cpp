#include "mailwarden/message/defects.h"

namespace mw::message {

std::string Defects::describe() const {
  static constexpr const char* kNames[] = {
      "header_bytes_limit",     "header_count_limit",  "line_too_long",
      "nesting_too_deep",       "too_many_parts",      "missing_final_boundary",
      "missing_boundary_param", "invalid_base64",      "invalid_quoted_printable",
      "eight_bit_in_header",    "bad_encoded_word",    "unknown_charset",
      "decoded_bytes_limit",    "malformed_header",    "invalid_charset",
      "nul_byte",
  };
  std::string out;
  for (std::size_t bit = 0; bit < sizeof(kNames) / sizeof(kNames[0]); ++bit) {
    if ((bits_ & (1u << bit)) != 0) {
      if (!out.empty()) {
        out += ' ';
      }
      out += kNames[bit];
    }
  }
  return out;
}

}  // namespace mw::message
