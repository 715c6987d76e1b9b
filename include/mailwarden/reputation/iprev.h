// reputation/iprev.h — iprev (RFC 8601 §3, "forward-confirmed reverse DNS"): does the
// client's reverse name resolve back to the client?
//
// start() at connect sends the PTR lookup of the client address (in-addr.arpa, or
// ip6.arpa nibbles; an IPv4-mapped IPv6 address as IPv4) and returns at once; advance()
// (optional, never blocks) starts the forward lookups as soon as the PTR answer is in, so
// they overlap the message's transfer; collect() at end of message waits for what is
// still out and gives the result:
//   pass       a forward lookup (A for an IPv4 client, AAAA for IPv6) of one of the PTR
//              names gives back the client address; `name` is that confirmed name (the
//              first such name in PTR answer order)
//   fail       the forward lookups give no match, or no data (NXDOMAIN/NODATA), and none
//              failed temporarily; also when every PTR target is an invalid name
//   permerror  no PTR is published (NXDOMAIN, or an answer without PTR records), or the
//              client address is not an IP address
//   temperror  the PTR lookup failed temporarily (dns::classify: timeout, SERVFAIL,
//              REFUSED, a broken answer, the budget spent), or no forward lookup matched
//              and one of them failed temporarily
// At most kMaxIprevNames PTR names are looked up forward (all at once); a PTR target that
// is not a valid host name is skipped and does not count.
//
// Input (the client address, PTR targets) is untrusted. One Iprev per message, one thread
// at a time; the Resolver must outlive it. Never throws except std::bad_alloc.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/dns/resolver.h"

namespace mw::reputation {

inline constexpr std::size_t kMaxIprevNames = 10;

enum class IprevResult { Pass, Fail, TempError, PermError };

std::string_view toString(IprevResult r) noexcept;  // RFC 8601 tokens: "pass", "fail", ...

struct IprevOutcome {
  IprevResult result = IprevResult::PermError;
  std::string ip;    // the client address in canonical form (smtp.remote-ip); "" if invalid
  std::string name;  // pass: the confirmed name (policy.iprev); otherwise ""
  std::string why;   // for logs and A-R comments: "no PTR record (nxdomain)", ...
};

// The reverse-lookup name of `ip`: "4.3.2.1.in-addr.arpa" or the 32 nibbles of an IPv6
// address + ".ip6.arpa"; "" when `ip` is not an address.
std::string reverseName(std::string_view ip);

class Iprev {
 public:
  // Starts the PTR lookup of `ip`. A `ip` that is not an address starts nothing (the
  // result is permerror).
  static Iprev start(dns::Resolver& resolver, const dns::Budget& budget, std::string_view ip);

  // Starts the forward lookups when the PTR answer is in (dns::Lookup::ready()); does
  // nothing otherwise or when they are started already. Never blocks.
  void advance();
  // Waits for the outstanding lookups and gives the result. May be called again (the
  // same result).
  IprevOutcome collect();

 private:
  Iprev(dns::Resolver& resolver, dns::Budget budget) : resolver_(&resolver), budget_(budget) {}
  void startForward();

  dns::Resolver* resolver_;
  dns::Budget budget_;
  bool v6_ = false;
  std::string ip_;                         // canonical text
  std::vector<unsigned char> bytes_;       // 4 or 16 octets
  dns::LookupPtr ptr_;
  bool forward_started_ = false;
  std::vector<std::string> names_;         // the PTR names looked up forward
  std::vector<dns::LookupPtr> forward_;    // parallel to names_
  std::string ptr_problem_;                // set when the PTR answer decides alone
  IprevResult ptr_result_ = IprevResult::PermError;
};

}  // namespace mw::reputation
