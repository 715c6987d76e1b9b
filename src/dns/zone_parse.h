// dns/zone_parse.h — private to dns/: RFC 1035 master-file text into plain records, with
// libldns doing the RFC 1035 §5.1 syntax ($ORIGIN, $TTL, parentheses, quoted strings,
// \DDD escapes) and this file doing the rest: the failure pragmas (zone.h), the
// absolute-name check, file:line errors. The input is operator data (dns.zone_files,
// --dns-zone) or fuzz input: anything is handled, nothing is trusted. Never throws
// except std::bad_alloc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/base/result.h"
#include "mailwarden/dns/resolver.h"
#include "mailwarden/dns/zone.h"

namespace mw::dns::detail {

struct ParsedRecord {
  enum class Kind { Txt, A, Aaaa, Mx, Ptr, Cname, Other };
  Kind kind = Kind::Other;
  std::string name;   // owner, normalized (names.h)
  std::string text;   // TXT: strings concatenated; A/AAAA: the 4/16 address octets;
                      // MX/PTR/CNAME: the target, normalized
  std::uint16_t preference = 0;  // MX
  int line = 0;       // where the entry starts (1-based)
};

struct ParsedPragma {
  Injected kind = Injected::Timeout;
  std::string name;         // absolute, normalized
  std::vector<Type> types;  // empty: every type
  int line = 0;
};

struct ParsedZone {
  std::vector<ParsedRecord> records;
  std::vector<ParsedPragma> pragmas;
};

// `origin` applies to relative names until a $ORIGIN line; empty = none, and then a
// relative name is an error. Errors: "label:line: what: file not loaded".
[[nodiscard]] Result<ParsedZone> parseMasterText(std::string_view text, const std::string& label,
                                                 std::string_view origin);

// The whole file, at most kMaxZoneFileBytes; errors name the path.
inline constexpr std::size_t kMaxZoneFileBytes = 64u << 20;
[[nodiscard]] Result<std::string> readZoneFile(const std::string& path);

}  // namespace mw::dns::detail
