// dmarc/record.h — the DMARC policy record (RFC 9989 §4.7 tags, §4.8 formal definition).
//
// parseRecord() reads one TXT record as published. Outcomes, as RFC 9989 says:
//   * NotDmarc: the record does not start with "v=DMARC1" (the version value is
//     case-sensitive, %s"DMARC1"): it is discarded, as if absent (§4.10 step 2);
//   * Ok: a usable policy record. Unknown tags are ignored (§4.7) — this includes the
//     tags RFC 9989 removed (pct, rf, ri), whatever their value. A known tag with a value
//     outside its grammar (adkim=x, t=maybe, a repeated tag, ...) is dropped in favour of
//     its default and noted in `ignored` (§4.7: syntax errors in the remainder of the
//     record are discarded). A missing p= is p=none (§4.7).
//   * Invalid: p= present with a bad value, or an sp=/np= with a bad value, and no
//     syntactically valid rua= URI (§4.7, p tag). With such a URI the record is instead
//     Ok and reads as p=none (sp, np none too): `downgraded` is set.
// Tag names and keyword values are case-insensitive (ABNF quoted strings). Pure
// functions; thread-safe; never throw except std::bad_alloc.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mw::dmarc {

enum class Policy { None, Quarantine, Reject };
enum class Alignment { Relaxed, Strict };
enum class Psd { Unset, Yes, No, Unknown };  // Unset: no psd= tag; Unknown: psd=u

std::string_view toString(Policy p) noexcept;

// TXT records longer than this are not parsed: NotDmarc ("record longer than ...").
inline constexpr std::size_t kMaxRecordBytes = 4096;

struct Record {
  Policy p = Policy::None;
  bool p_present = false;
  std::optional<Policy> sp = std::nullopt;  // absent: p applies to subdomains
  std::optional<Policy> np = std::nullopt;  // absent: sp (or p) applies
  Alignment adkim = Alignment::Relaxed;
  Alignment aspf = Alignment::Relaxed;
  Psd psd = Psd::Unset;
  bool testing = false;                   // t=y
  std::vector<std::string> rua;           // the syntactically valid report URIs
  std::vector<std::string> ruf;
  std::string fo = "0";
  bool downgraded = false;                // an invalid p/sp/np read as p=none (rua present)
  std::vector<std::string> ignored;       // "adkim=x: not r or s", for logs and tests

  // The policy for a subdomain of the record's domain (sp, else p) and for a
  // non-existent subdomain (np, else sp, else p) — RFC 9989 §4.7 (sp, np).
  Policy subdomainPolicy() const noexcept { return sp.value_or(p); }
  Policy nonExistentPolicy() const noexcept { return np.value_or(subdomainPolicy()); }
};

enum class ParseStatus { Ok, NotDmarc, Invalid };

struct ParseResult {
  ParseStatus status = ParseStatus::NotDmarc;
  Record record;          // meaningful when Ok
  std::string problem;    // why Invalid / NotDmarc
};

// True when `txt` begins with the DMARC version tag (what the tree walk keeps).
bool isDmarcRecord(std::string_view txt) noexcept;

ParseResult parseRecord(std::string_view txt);

// A report URI as RFC 9989 uses it: "mailto:" and an addr-spec-like "x@y", optional
// obsolete "!size" suffix ignored. Only mailto is defined for reports (RFC 9990).
bool isValidReportUri(std::string_view uri) noexcept;

}  // namespace mw::dmarc
