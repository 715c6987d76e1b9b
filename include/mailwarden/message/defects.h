// message/defects.h — what was wrong with a message, as flags (Postfix mime_state's
// MIME_ERR_*). A defect is a result, never an exception: the message still gets a
// verdict. Each flag is reported once however often it occurs.
// Plain value; thread-compatible.
#pragma once

#include <cstdint>
#include <string>

namespace mw::message {

enum class Defect : std::uint32_t {
  HeaderBytesLimit = 1u << 0,     // Limits::max_header_bytes crossed; later fields not kept
  HeaderCountLimit = 1u << 1,     // Limits::max_headers crossed
  LineTooLong = 1u << 2,          // a line over Limits::max_line_length
  NestingTooDeep = 1u << 3,       // Limits::max_mime_depth crossed; deeper parts are opaque
  TooManyParts = 1u << 4,         // Limits::max_mime_parts crossed
  MissingFinalBoundary = 1u << 5, // a multipart ended without its closing "--boundary--"
  MissingBoundaryParam = 1u << 6, // multipart/* without a boundary parameter
  InvalidBase64 = 1u << 7,        // characters outside the alphabet, bad padding
  InvalidQuotedPrintable = 1u << 8,
  EightBitInHeader = 1u << 9,     // raw 8-bit bytes in a header value (not RFC 6532 UTF-8)
  BadEncodedWord = 1u << 10,      // an RFC 2047 word that does not decode
  UnknownCharset = 1u << 11,      // iconv does not know the charset; bytes passed as-is
  DecodedBytesLimit = 1u << 12,   // Limits::max_decoded_bytes crossed in a part
  MalformedHeader = 1u << 13,     // a header line without a colon, or an empty name
  InvalidCharset = 1u << 14,      // bytes that are not valid in the declared charset
  NulByte = 1u << 15,             // a NUL in header or body
};

class Defects {
 public:
  void set(Defect d) noexcept { bits_ |= static_cast<std::uint32_t>(d); }
  void merge(const Defects& other) noexcept { bits_ |= other.bits_; }
  bool has(Defect d) const noexcept { return (bits_ & static_cast<std::uint32_t>(d)) != 0; }
  bool any() const noexcept { return bits_ != 0; }
  std::uint32_t bits() const noexcept { return bits_; }
  // Space-separated flag names in bit order, e.g. "missing_final_boundary invalid_base64".
  std::string describe() const;

 private:
  std::uint32_t bits_ = 0;
};

}  // namespace mw::message
