// dns/idna.h — the one conversion of a mail domain name to the form the DNS holds.
//
// Internationalized mail (SMTPUTF8, RFC 6531/6532) carries domains as U-labels: raw
// UTF-8 in MAIL FROM, HELO, From and (RFC 8616) DKIM-Signature d=/i=. The DNS, SPF,
// DKIM key and DMARC records, and every comparison SPF, DKIM and DMARC make, use the
// A-label ("xn--") form (RFC 5890, RFC 8616). Every place where an author domain, a
// MAIL FROM / HELO domain or a DKIM d=/i= domain enters a check calls toALabels()
// first (doc/ARCHITECTURE.md, "Domain names"); nothing else in the tree talks IDNA.
//
// Contract of toALabels(domain):
//   * input: a domain as written in mail, ASCII or UTF-8, at most kMaxIdnInput octets;
//     one trailing dot is dropped.
//   * output: the name lower-cased, labels joined by '.', no trailing dot:
//       - an ASCII label that does not start with "xn--" is only lower-cased (whatever
//         its characters: "_dmarc", "ab--cd"; the caller's own name rules judge it, as
//         they did before IDNA existed here);
//       - a label with non-ASCII octets is converted with libidn2 (IDNA2008, UTS #46
//         non-transitional mapping, NFC; idna.cpp says why) to its A-label, which must
//         be LDH (so '_' or '/' beside a U-label is an error);
//       - an "xn--" label (any case) is checked the same way (it must decode to a valid
//         U-label that encodes back to the same A-label) and lower-cased.
//     A pure-ASCII input without "xn--" labels comes back lower-cased and otherwise
//     byte for byte: IDNA changes nothing for names that were valid before.
//   * error (a short English reason, for A-R comments and logs): ill-formed UTF-8, a
//     code point IDNA2008 disallows (U+2603, U+FFFD, a ZWJ outside its context, non-LDH
//     ASCII in a U-label, ...),
//     bad punycode in an "xn--" label, a label over 63 octets once converted, an empty
//     label, more than 253 octets in all, an empty name.
//   What an error means is each check's rule for a malformed name: SPF none (RFC 7208
//   §4.3), a DKIM permerror for that signature, DMARC permerror for an author domain.
//
// Pure; thread-safe (libidn2 keeps no state); never throws except std::bad_alloc.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace mw::dns {

inline constexpr std::size_t kMaxIdnInput = 1024;  // a domain is at most 253 octets in A-labels

tl::expected<std::string, std::string> toALabels(std::string_view domain);

// A domain as DNS is asked and domains are compared (RFC 8616 §5: d= and the like may be
// U-labels in internationalized mail): an ASCII name lower-cased, anything else converted
// to A-labels; nullopt for an invalid IDN. Never throws except std::bad_alloc.
std::optional<std::string> lookupDomain(std::string_view domain);

// True when `s` has an octet outside ASCII (a U-label domain, or a local-part under RFC 6532).
bool hasNonAscii(std::string_view s) noexcept;

}  // namespace mw::dns
