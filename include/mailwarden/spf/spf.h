// spf/spf.h — Sender Policy Framework checks (RFC 7208) for the MAIL FROM and HELO
// identities.
//
// A Checker evaluates check_host() (RFC 7208 §4) over a dns::Resolver. Every record is
// parsed by our strict parser (spf/record.h) first; DNS-querying terms (10) and void
// lookups (2) are counted per check across include: and redirect= (§4.6.4); MX and PTR
// names are limited to 10 (§4.6.4); IPv4-mapped IPv6 clients are checked as IPv4 (§5);
// explanations (exp=) are fetched and macro-expanded here (§6.2). How the work is split
// between our code and libspf2 is written down in doc/CONFORMANCE.md.
//
// Bad DNS data is never an error: it yields PermError / TempError with `problem` saying
// why. Every loop is bounded (Options, spf/record.h limits, 253-octet names); the
// whole check is bounded in time by the dns::Budget the caller passes.
//
// Thread-safety: a Checker is thread-compatible (one per check or per message; it keeps
// no state between checks). The Resolver it uses must outlive it and be thread-safe
// (dns/resolver.h). Never throws except std::bad_alloc.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "mailwarden/base/clock.h"
#include "mailwarden/dns/resolver.h"

namespace mw::spf {

// RFC 7208 §2.6.
enum class Result { None, Neutral, Pass, Fail, SoftFail, TempError, PermError };

// RFC 8601 §2.7.2 tokens: "none", "neutral", "pass", "fail", "softfail", "temperror",
// "permerror".
std::string_view toString(Result r) noexcept;

struct Options {
  unsigned max_dns_terms = 10;      // include a mx ptr exists redirect (§4.6.4)
  unsigned max_void_lookups = 2;    // NXDOMAIN / no-answer lookups (§4.6.4)
  unsigned max_mx_ptr_names = 10;   // MX: more is permerror; PTR: the rest is ignored
  std::string receiving_host = "unknown";  // the r macro (§7.3)
  // Used when a fail has no usable exp= (§6.2). An explain-string: macros are
  // expanded; text that does not parse as one is used as is.
  std::string default_explanation;
  // The t macro; SystemClock when null.
  ClockConstSharedPtr clock;
};

struct CheckResult {
  Result result = Result::None;
  std::string domain;       // the <domain> checked (the identity's domain)
  std::string explanation;  // set for Fail only (§6.2): exp= text or the default
  std::string problem;      // why permerror / temperror (or none), for A-R comments and logs
};

class Checker {
 public:
  Checker(dns::Resolver& resolver, Options options);
  ~Checker();
  Checker(const Checker&) = delete;
  Checker& operator=(const Checker&) = delete;

  // check_host(<ip>, <domain>, <sender>) of RFC 7208 §4. `client_ip` is an IPv4 or IPv6
  // address in text form (an IPv4-mapped IPv6 address is checked as IPv4); one that
  // does not parse gives PermError. `sender` is the MAIL FROM address (without angle
  // brackets) or "postmaster@<helo>"; `helo` feeds the h macro.
  CheckResult checkHost(std::string_view client_ip, std::string_view domain,
                        std::string_view sender, std::string_view helo,
                        const dns::Budget& budget);

  // The MAIL FROM identity (§2.4): the domain of `mail_from`; for the null sender
  // (empty `mail_from`) the HELO identity is checked as postmaster@<helo> (§2.4, §4.3).
  CheckResult checkMailFrom(std::string_view client_ip, std::string_view helo,
                            std::string_view mail_from, const dns::Budget& budget);

  // The HELO identity (§2.3): <domain> = the HELO name, <sender> = postmaster@<helo>.
  // A HELO that is not a multi-label domain name (an address literal, say) gives None.
  CheckResult checkHelo(std::string_view client_ip, std::string_view helo,
                        const dns::Budget& budget);

 private:
  dns::Resolver& resolver_;
  Options options_;
};

}  // namespace mw::spf
