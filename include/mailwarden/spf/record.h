// spf/record.h — the strict RFC 7208 record parser (section 12 ABNF) and its syntax tree.
//
// Every SPF record mailwarden evaluates goes through parseRecord() first; a record it
// rejects is permerror (RFC 7208 §4.6). The parser checks what RFC 7208 makes a syntax
// error, everywhere in the record, before any term is evaluated (§4.6: "any syntax
// errors anywhere in the record MUST be detected"):
//   * only printable US-ASCII after "v=spf1", terms separated by SP only (§4.6.1, §3.1);
//   * mechanism and modifier syntax (§5, §6), names case-insensitive;
//   * CIDR lengths: ip4 0..32, ip6 0..128, no leading zeros (§5.6, §12);
//   * ip4-network as four decimal octets without leading zeros, ip6-network per RFC 4291;
//   * domain-spec = macro-string domain-end: a toplabel that is not all-numeric, does not
//     start or end with "-", or a final macro-expand (§7.1, §12);
//   * macro syntax: "%{" letter *DIGIT ["r"] *delimiter "}", "%%", "%_", "%-"; letters
//     s l o d i p h v (c r t only in explanation text, §7.1), DIGIT non-zero (§7.3);
//   * "redirect" and "exp" at most once each (§6); unknown-modifier names
//     ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) with a valid macro-string (§6, §12).
// Record size is bounded (kMaxRecordBytes) and so is the number of terms.
//
// Pure functions on values; thread-safe; never throw except std::bad_alloc.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace mw::spf {

// Bounds on untrusted input. A record longer than this is permerror: RFC 7208 §3.4
// asks publishers to stay within one 512-octet DNS reply; 4096 leaves ample room for
// TCP answers while bounding parse and expansion work.
inline constexpr std::size_t kMaxRecordBytes = 4096;
inline constexpr std::size_t kMaxTerms = 512;
// The DIGIT transformer is capped here (a domain has at most 127 labels, §7.3).
inline constexpr unsigned kMaxMacroDigits = 128;

// One piece of a macro-string (RFC 7208 §7.1). The escapes "%%", "%_", "%-" are stored
// as the literal text they stand for ("%", " ", "%20").
struct MacroItem {
  enum class Kind { Literal, Macro };
  Kind kind = Kind::Literal;
  std::string literal;     // Kind::Literal
  char letter = 0;         // Kind::Macro: lower-case macro letter
  bool url_escape = false; // upper-case letter: URL-escape the value (§7.3)
  unsigned digits = 0;     // 0 = all parts; else rightmost N parts (capped at kMaxMacroDigits)
  bool reverse = false;    // "r" transformer
  std::string delimiters;  // empty = "."
};

struct MacroString {
  std::vector<MacroItem> items;
  std::string text;  // as written in the record (for messages)
  bool hasMacros() const noexcept;
};

enum class Qualifier { Pass, Fail, SoftFail, Neutral };  // "+" "-" "~" "?" (§4.6.2)
enum class MechanismKind { All, Include, A, Mx, Ptr, Ip4, Ip6, Exists };

std::string_view toString(MechanismKind k) noexcept;

struct Mechanism {
  Qualifier qualifier = Qualifier::Pass;
  MechanismKind kind = MechanismKind::All;
  std::optional<MacroString> domain;  // include, exists (always); a, mx, ptr (optional)
  unsigned cidr4 = 32;                 // a, mx, ip4
  unsigned cidr6 = 128;                // a, mx, ip6
  std::array<std::uint8_t, 16> network{};  // ip4: first 4 octets; ip6: all 16
  std::string text;                    // the term as written

  // True for the terms RFC 7208 §4.6.4 counts against the limit of 10 DNS lookups.
  bool queriesDns() const noexcept;
};

struct UnknownModifier {
  std::string name;  // lower-case
  MacroString value;
};

struct Record {
  std::vector<Mechanism> mechanisms;    // in record order
  std::optional<MacroString> redirect;  // redirect= (§6.1)
  std::optional<MacroString> exp;       // exp= (§6.2)
  std::vector<UnknownModifier> unknown; // ignored during evaluation (§6)
  bool hasAll() const noexcept;         // an "all" anywhere: redirect is ignored (§6.1)
};

struct SyntaxError {
  std::string reason;     // "invalid ip4 CIDR length", ...
  std::string term;       // the offending term (may be empty), printable-escaped
  std::size_t offset = 0; // byte offset of the term in the record
  std::string describe() const;  // "reason in 'term'" for A-R comments and logs
};

template <typename T>
using Parsed = tl::expected<T, SyntaxError>;

// True when `txt` is an SPF version 1 record: "v=spf1" (case-insensitive) followed by a
// space or the end of the record (RFC 7208 §4.5).
bool isSpfRecord(std::string_view txt) noexcept;

// Parses a whole record, "v=spf1" included.
[[nodiscard]] Parsed<Record> parseRecord(std::string_view txt);

// Parses a domain-spec (macro-string domain-end), as after "include:" (§7.1, §12).
// Macro letters c, r, t are rejected (they belong to explanation text only).
[[nodiscard]] Parsed<MacroString> parseDomainSpec(std::string_view text);

// Parses explain-string = *( macro-string / SP ): the TXT record an exp= points at
// (RFC 7208 §6.2). Macro letters c, r, t are allowed here.
[[nodiscard]] Parsed<MacroString> parseExplainString(std::string_view text);

}  // namespace mw::spf
