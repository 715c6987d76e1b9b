// dns/resolver.h — the one DNS interface SPF, DKIM and DMARC share.
//
// Answers are classified the way the RFCs need them (Postfix dns.h: DNS_OK, DNS_NOTFOUND,
// DNS_RETRY, DNS_FAIL, DNS_INVAL): found, no such name, no data of that type, temporary
// failure, permanent failure, malformed. SPF maps them onto none / temperror /
// permerror (RFC 7208 §4.4, §5), DMARC onto its tree walk (RFC 9989 §4.10).
//
// Input (names) comes from untrusted mail and DNS; a name that is not a valid DNS name
// yields Status::PermFail, never a query. Implementations are thread-safe: libmilter
// runs one thread per connection and one message may run lookups concurrently.
// query() blocks at most until the Budget's deadline; never throws except bad_alloc.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mw::dns {

enum class Type { A, AAAA, TXT, MX, PTR };

enum class Status {
  Ok,         // one or more records of the type
  NxDomain,   // RCODE 3: the name does not exist
  NoData,     // the name exists, no record of this type (RFC 2308 NODATA)
  TempFail,   // timeout, SERVFAIL, budget exhausted: may succeed later
  PermFail,   // REFUSED/NOTIMP, or a query name that is not a DNS name
  Malformed,  // a reply that does not parse, or a record that does not (a bad TXT, ...)
};

std::string_view toString(Type t) noexcept;
std::string_view toString(Status s) noexcept;

struct Mx {
  std::uint16_t preference = 0;
  std::string exchange;  // absolute, without the trailing dot, lower-case
};

struct Answer {
  Status status = Status::NoData;
  // TXT: one entry per record, its character-strings concatenated without separator
  // (RFC 7208 §3.3); bytes as published (may contain NUL or 8-bit).
  std::vector<std::string> txt;
  std::vector<std::array<std::uint8_t, 4>> a;
  std::vector<std::array<std::uint8_t, 16>> aaaa;
  std::vector<Mx> mx;             // in the order received (callers sort if they need to)
  std::vector<std::string> ptr;   // target names, without the trailing dot, lower-case
  std::string why;                // for logs: "timeout", "SERVFAIL from 127.0.0.1", ...
  bool secure = false;            // DNSSEC-validated (libunbound with a trust anchor)
};

// The time all lookups of one message may take together (config dns.budget_ms). Shared
// by the lookups of one message; a lookup that would start after the deadline returns
// TempFail ("DNS budget exhausted") without a query.
class Budget {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Budget(std::chrono::milliseconds total) : deadline_(Clock::now() + total) {}
  static Budget unlimited() { return Budget(std::chrono::hours(24)); }
  Clock::time_point deadline() const noexcept { return deadline_; }
  bool exhausted() const noexcept { return Clock::now() >= deadline_; }
  std::chrono::milliseconds remaining() const noexcept;

 private:
  Clock::time_point deadline_;
};

class Resolver {
 public:
  virtual ~Resolver();
  // `name` is absolute (a trailing dot is allowed and ignored), case-insensitive.
  virtual Answer query(std::string_view name, Type type, const Budget& budget) = 0;
};

using ResolverSharedPtr = std::shared_ptr<Resolver>;

// True when `name` can be sent as a query: labels of 1..63 octets, at most 253 octets
// in all (RFC 1035 §2.3.4), no empty label except a single trailing dot.
bool isQueryableName(std::string_view name) noexcept;

}  // namespace mw::dns
