// dns/rdata.h — private to dns/: libunbound's answer (ub_result) into an Answer.
// ub_result comes from the network: every length is checked; what does not parse is
// Malformed. Pure functions; never throw except std::bad_alloc.
#pragma once

#include <unbound.h>

#include <cstddef>
#include <cstdint>

#include "mailwarden/dns/resolver.h"

namespace mw::dns::detail {

// The RR type numbers (RFC 1035 §3.2.2, RFC 3596 §2.1) and class IN.
int rrType(Type t) noexcept;
inline constexpr int kClassIn = 1;

// Appends the record whose rdata is `data` (uncompressed, as libunbound hands it out) to
// the matching vector of `out`; false when it does not parse: an A that is not 4
// octets, TXT character-strings that overrun or do not fill the rdata (RFC 1035 §3.3.14),
// an MX or PTR whose name does not end exactly at the end of the rdata.
bool appendRdata(Type type, const std::uint8_t* data, std::size_t size, Answer* out);

// Classifies one result (RFC 1035 §4.1.1 RCODEs, RFC 2308 NODATA, DNSSEC bogus) and
// parses its records.
Answer fromUnbound(Type type, const ub_result& r);

}  // namespace mw::dns::detail
