// spf/macro.h (private) — client addresses and RFC 7208 §7 macro expansion.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "mailwarden/spf/record.h"

namespace mw::spf::detail {

// The maximum length of a domain name in text form without the trailing dot
// (RFC 7208 §7.3, RFC 1035 §2.3.4) and of an expanded explanation.
inline constexpr std::size_t kMaxDomainBytes = 253;
inline constexpr std::size_t kMaxExplanationBytes = 1024;

struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // IPv4: the first 4 octets

  // Parses IPv4 or IPv6 text; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes
  // IPv4 (RFC 7208 §5: "MUST still be considered an IPv4 address").
  static std::optional<IpAddress> parse(std::string_view text);
  // True when the first `bits` bits equal those of `network` (same family).
  bool inNetwork(const std::array<std::uint8_t, 16>& network, unsigned bits) const noexcept;
  std::string text() const;         // the c macro: dotted quad, or RFC 5952 form
  std::string dotted() const;       // the i macro: dotted quad, or 32 dotted nibbles
  std::string reverseName() const;  // d.c.b.a.in-addr.arpa / nibbles.ip6.arpa
};

// What the macro letters expand to (RFC 7208 §7.3). `validated_name` computes p on
// demand (it needs DNS lookups) and returns "unknown" when there is none.
struct MacroContext {
  std::string_view sender;         // s
  std::string_view local_part;     // l
  std::string_view sender_domain;  // o
  std::string_view domain;         // d
  const IpAddress* ip = nullptr;   // i, c, v
  std::string_view helo;           // h
  std::string_view receiving_host; // r
  std::int64_t now = 0;            // t
  std::function<std::string()> validated_name;  // p
};

// Expands a domain-spec for a DNS query: the left side is truncated label by label to
// 253 octets (§7.3) and one trailing dot removed. Empty when nothing fits.
std::string expandDomain(const MacroString& spec, const MacroContext& ctx);

// Expands explanation text (§6.2), at most kMaxExplanationBytes octets.
std::string expandExplanation(const MacroString& text, const MacroContext& ctx);

// True for a name the check may query: 1..253 octets without the trailing dot, labels
// of 1..63 octets, no control characters (RFC 7208 §4.3, RFC 1035 §2.3.4).
bool isQueryable(std::string_view name) noexcept;

// isQueryable() plus "a multi-label domain name", no space and no address literal: what
// check_host() accepts as <domain> before it returns none (§4.3).
bool isCheckableDomain(std::string_view name) noexcept;

}  // namespace mw::spf::detail
