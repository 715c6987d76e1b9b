// message/decode.h — content decoders: base64 (RFC 2045 §6.8), quoted-printable
// (RFC 2045 §6.7), RFC 2047 encoded words, and charset -> UTF-8 with iconv.
//
// The stream decoders are push-style: feed() any chunk size (including 0 and 1 byte),
// output is appended to `out`, state is bounded (a few bytes), so memory does not grow
// with input. Bad input is decoded as far as it goes and flagged, never an exception.
// Thread-compatible: one decoder per stream.
#pragma once

#include "mailwarden/base/result.h"
#include "mailwarden/message/defects.h"

#include <iconv.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mw::message {

// RFC 2045 §6.8. Whitespace and line breaks are ignored. Characters outside the
// alphabet are ignored and flag InvalidBase64 (§6.8: "ignored", but a conforming
// encoder never writes them). Data after a padded quantum (concatenated encodings)
// is decoded as a new quantum and flagged. Unpadded or short final quanta are flagged.
class Base64Decoder {
 public:
  void feed(std::string_view in, std::string& out);
  // Flushes a final partial quantum; flags InvalidBase64 if bits were left over.
  // The decoder is then ready for a new stream (defects are kept).
  void finish(std::string& out);
  const Defects& defects() const noexcept { return defects_; }

 private:
  std::uint32_t acc_ = 0;
  int bits_ = 0;
  int pad_ = 0;      // '=' seen in the current quantum
  int quantum_ = 0;  // data characters in the current quantum (0..3)
  Defects defects_;
};

// RFC 2045 §6.7. Hard line breaks (CRLF or bare LF) are output as CRLF, the canonical
// form of text (§6.7 rule 4). Soft line breaks ("=" CRLF, "=" LF, also with whitespace
// between "=" and the break) are removed (rule 5). Whitespace at the end of an encoded
// line is deleted (rule 3), so it is held until the next byte shows whether the line
// ends. A malformed escape ("=G1", "=" then a lone byte) is kept literally and flags
// InvalidQuotedPrintable (rule 1 suggests exactly this for robustness). Hex digits in
// lower case are accepted without a flag (§6.7 allows it for robust decoders).
class QuotedPrintableDecoder {
 public:
  void feed(std::string_view in, std::string& out);
  // Flushes held bytes (trailing whitespace at the end of data is dropped, a dangling
  // "=" is a soft break). The decoder is then ready for a new stream.
  void finish(std::string& out);
  const Defects& defects() const noexcept { return defects_; }

 private:
  enum class State : std::uint8_t { Text, Cr, Eq, EqHex, EqSpace, EqCr };
  State state_ = State::Text;
  char hex_ = 0;            // the first hex digit after '=' (State::EqHex)
  std::string pending_;     // held whitespace: candidate trailing whitespace, bounded
  Defects defects_;
};

// Converts one charset to UTF-8. Invalid sequences become U+FFFD and set InvalidCharset.
// A charset iconv does not know yields an error from open(); callers then pass bytes
// through and flag UnknownCharset.
//
// Names are matched case-insensitively after aliasing what mailers actually write
// (utf8, latin1, cp1252, gb2312 -> GB18030 (its superset, as MUAs do), ks_c_5601-1987 ->
// CP949, shift_jis -> CP932, ...); anything else goes to iconv_open() as given, after a
// check that it is a plain charset name (so "x//TRANSLIT" cannot pick iconv options).
// UTF-8 and US-ASCII (also the empty name, RFC 2045 §5.2's default) are not converted
// but validated: ill-formed bytes become U+FFFD. Stateful charsets (ISO-2022-JP) keep
// their shift state across feed() calls. Never throws except bad_alloc.
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
// kept as written and flag BadEncodedWord in `defects` (a word in a charset iconv does
// not know also flags UnknownCharset). Raw 8-bit text outside words is kept as it
// is if valid UTF-8 (RFC 6532), else replaced with U+FFFD and flags EightBitInHeader.
// Adjacent words in the same charset are joined before conversion, so a multibyte
// character split across two words (common with B words) decodes. RFC 2231 §5 language
// suffixes (=?utf-8*en?Q?...?=) are accepted. Words not separated from text by
// whitespace are decoded too: MUAs do, and a filter must see what the reader sees.
std::string decodeHeaderValue(std::string_view unfolded, Defects& defects);

// Returns the parameter `name` (case-insensitive) of a structured field value such as
// Content-Type ("text/plain; charset=\"utf-8\""), unquoted; RFC 2231 continuations and
// charset'lang' prefixes are decoded. Empty when absent.
// An RFC 2231 form (name*, name*0, name*0*) wins over a plain name= of the same
// parameter. Comments (RFC 5322 §3.2.2) between tokens are skipped; an unquoted value
// runs to the next ';' (lenient: real mail has unquoted file names with spaces). The
// result is UTF-8 for RFC 2231 values; a plain value is returned as written (RFC 2047
// words in it are not decoded here: a boundary must stay byte-exact).
std::string headerParameter(std::string_view value, std::string_view name);

}  // namespace mw::message
