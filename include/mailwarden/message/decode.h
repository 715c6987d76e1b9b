// message/decode.h — content decoders: base64 (RFC 2045 §6.8), quoted-printable
// (RFC 2045 §6.7), RFC 2047 encoded words, and charset -> UTF-8 with iconv.
//
// The stream decoders are push-style: feed() any chunk size (including 0 and 1 byte),
// output is appended to `out`, state is bounded (a few bytes), so memory does not grow
// with input. Bad input is decoded as far as it goes and flagged, never an exception.
// Thread-compatible: one decoder per stream.
#pragma once

#include <iconv.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "mailwarden/base/result.h"
#include "mailwarden/message/defects.h"

namespace mw::message {

class Base64Decoder {
 public:
  void feed(std::string_view in, std::string& out);
  // Flushes a final partial quantum; flags InvalidBase64 if bits were left over.
  void finish(std::string& out);
  const Defects& defects() const noexcept { return defects_; }

 private:
  std::uint32_t acc_ = 0;
  int bits_ = 0;
  int pad_ = 0;
  Defects defects_;
};

class QuotedPrintableDecoder {
 public:
  void feed(std::string_view in, std::string& out);
  void finish(std::string& out);
  const Defects& defects() const noexcept { return defects_; }

 private:
  std::string pending_;     // an '=' and up to two bytes, or trailing whitespace
  Defects defects_;
};

// Converts one charset to UTF-8. Invalid sequences become U+FFFD and set InvalidCharset.
// A charset iconv does not know yields an error from open(); callers then pass bytes
// through and flag UnknownCharset.
class CharsetConverter {
 public:
  [[nodiscard]] static Result<CharsetConverter> open(std::string_view charset);
  CharsetConverter(CharsetConverter&& other) noexcept;
  CharsetConverter& operator=(CharsetConverter&& other) noexcept;
  CharsetConverter(const CharsetConverter&) = delete;
  CharsetConverter& operator=(const CharsetConverter&) = delete;
  ~CharsetConverter();

  // Appends UTF-8 to out. An incomplete multibyte sequence at the end of `in` is kept
  // (at most a few bytes) for the next call.
  void feed(std::string_view in, std::string& out);
  void finish(std::string& out);
  const Defects& defects() const noexcept { return defects_; }
  // True when the source is already UTF-8 or US-ASCII (validated, not converted).
  bool identity() const noexcept { return identity_; }

 private:
  CharsetConverter(iconv_t cd, bool identity) noexcept : cd_(cd), identity_(identity) {}
  iconv_t cd_;
  bool identity_;
  std::string carry_;
  Defects defects_;
};

// Decodes the RFC 2047 encoded words of an unfolded header value to UTF-8. Whitespace
// between two adjacent encoded words is dropped (§6.2). Words that do not decode are
// kept as written and flag BadEncodedWord in `defects`. Raw 8-bit text outside words is
// kept as it is if valid UTF-8 (RFC 6532), else replaced with U+FFFD.
std::string decodeHeaderValue(std::string_view unfolded, Defects& defects);

// Returns the parameter `name` (case-insensitive) of a structured field value such as
// Content-Type ("text/plain; charset=\"utf-8\""), unquoted; RFC 2231 continuations and
// charset'lang' prefixes are decoded. Empty when absent.
std::string headerParameter(std::string_view value, std::string_view name);

}  // namespace mw::message
