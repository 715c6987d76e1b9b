// Fuzz target of dns/'s wire parsing: what libunbound hands back (a ub_result: rcode,
// DNSSEC flags, each record's rdata and length) into an Answer (rdata.cpp), and DNS
// names from the wire and back to presentation form (names.cpp).
//
// Input: byte 0 picks the query type (A, AAAA, TXT, MX, PTR); byte 1 the rcode (low 3
// bits, 6 and 7 meaning 9 and 255), bogus (0x08), havedata (0x10), secure (0x20) and a
// missing len array (0x40); then records, each a 2-byte big-endian length (cut to
// what is left) and its octets. Each rdata gets its own allocation of exactly its
// length, so ASan sees any read past it.
//
// Properties: no crash, leak or UB. fromUnbound: bogus is TempFail; NXDOMAIN is
// NxDomain; Ok has one parsed record per rdata, in the vector of the queried type only;
// anything else carries no records. nameFromWire on each rdata: within bounds, at most
// 255 octets, lower-case, stable under normalizeName; presentationName of it is
// printable, absolute, and libldns reads it back to the same wire octets (when no label
// contains '.', which this one-string form cannot express, names.h).
//
// Input is capped at 64 KiB (a DNS message is at most 65535 octets).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dns/names.h"
#include "dns/rdata.h"

// Last: libldns's headers define false/true as macros, which breaks <optional>'s <=>.
#include <ldns/ldns.h>
#include <unbound.h>

namespace {

using namespace mw::dns;

void checkName(const std::uint8_t* wire, std::size_t size) {
  std::size_t used = 0;
  const std::optional<std::string> name = detail::nameFromWire(wire, size, &used);
  if (!name) return;
  if (used == 0 || used > size || used > 255 || name->size() + 1 > used + 1) std::abort();
  bool dotted_label = false;
  for (std::size_t pos = 0; wire[pos] != 0; pos += 1 + wire[pos]) {
    for (std::size_t i = 1; i <= wire[pos]; ++i) dotted_label |= wire[pos + i] == '.';
  }
  for (char c : *name) {
    if (c >= 'A' && c <= 'Z') std::abort();
  }
  if (!name->ends_with('.') && detail::normalizeName(*name) != *name) std::abort();
  const std::string shown = detail::presentationName(*name);
  if (shown.empty() || shown.back() != '.') std::abort();
  for (char c : shown) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) std::abort();
  }
  if (dotted_label) return;
  // libldns parses the presentation form back: the same octets as the wire (lower-case).
  ldns_rdf* rdf = nullptr;
  if (ldns_str2rdf_dname(&rdf, shown.c_str()) != LDNS_STATUS_OK || rdf == nullptr) std::abort();
  const std::uint8_t* back = ldns_rdf_data(rdf);
  const std::size_t back_size = ldns_rdf_size(rdf);
  bool same = back_size == used;
  for (std::size_t i = 0; same && i < used; ++i) {
    const auto lower = [](std::uint8_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; };
    same = lower(back[i]) == lower(wire[i]);
  }
  ldns_rdf_deep_free(rdf);
  if (!same) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2 || size > 64 * 1024) return 0;
  static constexpr Type kTypes[] = {Type::A, Type::AAAA, Type::TXT, Type::MX, Type::PTR};
  const Type type = kTypes[data[0] % 5];
  static constexpr int kRcodes[] = {0, 1, 2, 3, 4, 5, 9, 255};
  const int rcode = kRcodes[data[1] & 7];
  const bool bogus = (data[1] & 0x08) != 0;
  const bool havedata = (data[1] & 0x10) != 0;
  const bool secure = (data[1] & 0x20) != 0;
  const bool no_len = (data[1] & 0x40) != 0;

  std::vector<std::unique_ptr<std::uint8_t[]>> rdata;
  std::vector<int> lens;
  for (std::size_t pos = 2; pos < size && rdata.size() < 64;) {
    std::size_t len = data[pos] << 8;
    len |= pos + 1 < size ? data[pos + 1] : 0;
    pos += 2;
    len = std::min(len, pos < size ? size - pos : 0);
    auto copy = std::make_unique<std::uint8_t[]>(len);  // exactly len octets
    std::copy_n(data + pos, len, copy.get());
    checkName(copy.get(), len);
    rdata.push_back(std::move(copy));
    lens.push_back(static_cast<int>(len));
    pos += len;
  }
  std::vector<char*> ptrs;
  for (auto& r : rdata) ptrs.push_back(reinterpret_cast<char*>(r.get()));
  ptrs.push_back(nullptr);
  lens.push_back(0);

  ub_result r{};
  r.qname = const_cast<char*>("fuzz.example.");
  r.qtype = detail::rrType(type);
  r.qclass = detail::kClassIn;
  r.data = ptrs.data();
  r.len = no_len ? nullptr : lens.data();
  r.rcode = rcode;
  r.havedata = havedata ? 1 : 0;
  r.nxdomain = rcode == 3 ? 1 : 0;
  r.secure = secure ? 1 : 0;
  r.bogus = bogus ? 1 : 0;
  r.why_bogus = bogus ? const_cast<char*>("fuzz") : nullptr;
  const Answer a = detail::fromUnbound(type, r);

  const std::size_t records = a.a.size() + a.aaaa.size() + a.txt.size() + a.mx.size() + a.ptr.size();
  if (bogus && a.status != Status::TempFail) std::abort();
  if (!bogus && rcode == 3 && a.status != Status::NxDomain) std::abort();
  if (a.status != Status::Ok && records != 0) std::abort();
  if (a.status == Status::Ok) {
    const std::size_t want = rdata.size();
    const std::size_t got = type == Type::A ? a.a.size() : type == Type::AAAA ? a.aaaa.size()
                          : type == Type::TXT ? a.txt.size() : type == Type::MX ? a.mx.size() : a.ptr.size();
    if (want == 0 || got != want || records != want || !havedata || rcode != 0 || no_len) std::abort();
  }
  return 0;
}
