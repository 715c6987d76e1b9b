// dns/resolver.h — the one DNS interface SPF, DKIM and DMARC share.
//
// Each answer has a Status (what happened, for logs and tests) and one meaning for the
// checks, classify(): Found, Absent, Temporary, or BadName (no query was made). SPF,
// DKIM and DMARC all read that meaning and nothing else, so one DNS outcome is not
// temperror in one check and "no record" in another (issue 16; the table is in
// doc/ARCHITECTURE.md, "DNS"). Each check maps Temporary onto its RFC's temperror.
//
// Input (names) comes from untrusted mail and DNS; a name that is not a valid DNS name
// yields Status::BadName, never a query. Implementations are thread-safe: libmilter
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
  TempFail,   // timeout, SERVFAIL, DNSSEC bogus, a CNAME loop, budget exhausted
  Refused,    // an error RCODE other than NXDOMAIN/SERVFAIL: REFUSED, NOTIMP, FORMERR, ...
  Malformed,  // a reply that does not parse, or a record that does not (a bad TXT, ...)
  BadName,    // the query name is not a DNS name (isQueryableName): nothing was asked
};

// What an answer means to SPF, DKIM and DMARC: the one mapping they all use.
enum class Outcome {
  Found,      // Ok
  Absent,     // NxDomain, NoData: the name or its records do not exist (RFC 2308)
  Temporary,  // TempFail, Refused, Malformed: the lookup failed; the check's temperror
              // (RFC 7208 §4.4: "some other error (RCODE other than 0 or 3)"; RFC 6376
              // §6.1.2: only a missing key record is permanent; RFC 9989)
  BadName,    // BadName: not a DNS failure. The check decides what an invalid name is
              // for it (SPF §4.3 none, a mechanism's target no match; DKIM a permerror
              // of that signature; DMARC no record at that name)
};

Outcome classify(Status s) noexcept;

std::string_view toString(Type t) noexcept;
std::string_view toString(Status s) noexcept;
std::string_view toString(Outcome o) noexcept;

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

inline Outcome classify(const Answer& a) noexcept { return classify(a.status); }

// The time all lookups of one message may take together (config dns.budget_ms). Shared
// by the lookups of one message; a lookup that would start after the deadline returns
// TempFail ("DNS budget exhausted") without a query.
class Budget {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Budget(std::chrono::milliseconds total) : deadline_(Clock::now() + total) {}
  static Budget unlimited() { return Budget(std::chrono::hours(24)); }
  // A budget that ends at `deadline`: e.g. the earlier of a message's and a caller's.
  static Budget until(Clock::time_point deadline) noexcept { return Budget(deadline); }
  Clock::time_point deadline() const noexcept { return deadline_; }
  bool exhausted() const noexcept { return Clock::now() >= deadline_; }
  std::chrono::milliseconds remaining() const noexcept;

 private:
  explicit Budget(Clock::time_point deadline) noexcept : deadline_(deadline) {}
  Clock::time_point deadline_;
};

// A lookup that has been started (Resolver::start) and answers later. Shared by whoever
// started it and whoever waits for it; wait() and ready() may be called from any thread,
// any number of times, and always give the same Answer once there is one.
class Lookup {
 public:
  virtual ~Lookup();
  // Blocks until the answer is in, never past the deadline of the Budget given to
  // start() (then: TempFail "timeout"). The reference lives as long as the Lookup.
  virtual const Answer& wait() = 0;
  // True once wait() would not block.
  virtual bool ready() const noexcept = 0;
};

using LookupPtr = std::shared_ptr<Lookup>;

// A lookup that is answered already (a resolver that answers at once, a cache hit).
LookupPtr answeredLookup(Answer answer);

class Resolver {
 public:
  virtual ~Resolver();
  // `name` is absolute (a trailing dot is allowed and ignored), case-insensitive.
  // Blocks until answered, at most until the budget's deadline.
  virtual Answer query(std::string_view name, Type type, const Budget& budget) = 0;
  // Starts the same lookup and returns at once; the answer is collected with
  // Lookup::wait(). This is how every lookup of a message is in flight at the same time
  // (DESIGN.md "Concurrency"). The default runs query() now and returns it answered:
  // right for a resolver that never waits (ZoneResolver). Never throws except bad_alloc.
  virtual LookupPtr start(std::string_view name, Type type, const Budget& budget);
};

using ResolverSharedPtr = std::shared_ptr<Resolver>;

// True when `name` can be sent as a query: labels of 1..63 octets, at most 253 octets
// in all (RFC 1035 §2.3.4), no empty label except a single trailing dot.
bool isQueryableName(std::string_view name) noexcept;

}  // namespace mw::dns
