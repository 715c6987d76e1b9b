// dns/names.h — private to dns/: the one spelling of a name inside the module.
//
// A name is kept as its labels' raw octets joined by '.', ASCII lower-cased, without the
// trailing dot ("mail.example.com"; the root is ""). Query names arrive that way from
// SPF/DKIM/DMARC; names from master files and from the wire are turned into it here, so a
// ZoneResolver lookup and an UnboundResolver answer compare equal. A label that itself
// contains '.' (possible on the wire, RFC 2181 §11) cannot be told apart in this form;
// no mail protocol needs one. Pure functions; never throw except std::bad_alloc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mw::dns::detail {

// "Mail.Example.COM." -> "mail.example.com" (one trailing dot dropped, ASCII lower-case).
std::string normalizeName(std::string_view name);

// Decodes an uncompressed wire-format name (RFC 1035 §3.1) at the start of `wire`.
// Returns the normalized name and sets *used to the octets it took; nullopt when the
// labels run past the end, a compression pointer appears (rdata handed out by ldns and
// libunbound is uncompressed, RFC 3597 §4), or the name exceeds 255 octets.
std::optional<std::string> nameFromWire(const std::uint8_t* wire, std::size_t size,
                                        std::size_t* used);

// The presentation form (RFC 1035 §5.1) of a normalized name, absolute (trailing dot),
// with '\\', '"', ';', '(', ')', '@', '$', space and every octet outside 0x21..0x7e
// escaped as \DDD, so a hostile name reaches a text-taking API as exactly its octets.
std::string presentationName(std::string_view name);

}  // namespace mw::dns::detail
