// reputation/iprev.cpp — RFC 8601 §3 iprev over dns::Resolver::start(). The contract is
// in include/mailwarden/reputation/iprev.h.
#include "mailwarden/reputation/iprev.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "mailwarden/base/ascii.h"
#include "mailwarden/base/result.h"
#include "mailwarden/reputation/lists.h"

namespace mw::reputation {
namespace {

// A PTR target we look up forward: a host name (LDH labels, '_' tolerated as for other
// names we meet in DNS) that can be asked. Anything else is skipped (RFC 8601 §3 has no
// use for it; it cannot confirm the client).
bool isHostName(std::string_view name) {
  if (!dns::isQueryableName(name) || name == ".") {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return ascii::isAlpha(c) || ascii::isDigit(c) || c == '-' || c == '_' || c == '.';
  });
}

}  // namespace

std::string_view toString(IprevResult r) noexcept {
  switch (r) {
    case IprevResult::Pass: return "pass";
    case IprevResult::Fail: return "fail";
    case IprevResult::TempError: return "temperror";
    case IprevResult::PermError: return "permerror";
  }
  MW_UNREACHABLE("reputation::IprevResult out of range");
}

std::string reverseName(std::string_view ip) {
  const std::optional<std::string> canonical = canonicalAddress(ip);
  const std::optional<std::string> reversed = reversedAddress(ip);
  if (!canonical || !reversed) {
    return "";
  }
  const bool v6 = canonical->find(':') != std::string::npos;
  return *reversed + (v6 ? ".ip6.arpa" : ".in-addr.arpa");
}

Iprev Iprev::start(dns::Resolver& resolver, const dns::Budget& budget, std::string_view ip) {
  Iprev out(resolver, budget);
  const std::optional<std::string> canonical = canonicalAddress(ip);
  if (!canonical) {
    out.ptr_problem_ = "the client address is not an IP address";
    return out;
  }
  out.ip_ = *canonical;
  out.v6_ = canonical->find(':') != std::string::npos;
  out.bytes_.assign(out.v6_ ? 16 : 4, 0);
  if (::inet_pton(out.v6_ ? AF_INET6 : AF_INET, out.ip_.c_str(), out.bytes_.data()) != 1) {
    out.ptr_problem_ = "the client address is not an IP address";  // not reached: canonical
    return out;
  }
  out.ptr_ = resolver.start(reverseName(out.ip_), dns::Type::PTR, budget);
  return out;
}

void Iprev::startForward() {
  forward_started_ = true;
  const dns::Answer& a = ptr_->wait();
  switch (dns::classify(a)) {
    case dns::Outcome::Temporary:
      ptr_result_ = IprevResult::TempError;
      // No parentheses: the text becomes an Authentication-Results comment.
      ptr_problem_ = "PTR lookup failed: " + (a.why.empty() ? std::string(dns::toString(a.status))
                                                             : a.why);
      return;
    case dns::Outcome::Absent:
    case dns::Outcome::BadName:
      ptr_result_ = IprevResult::PermError;
      ptr_problem_ = "no PTR record: " + std::string(dns::toString(a.status));
      return;
    case dns::Outcome::Found: break;
  }
  if (a.ptr.empty()) {
    ptr_result_ = IprevResult::PermError;
    ptr_problem_ = "no PTR record: empty answer";
    return;
  }
  const dns::Type type = v6_ ? dns::Type::AAAA : dns::Type::A;
  for (const std::string& name : a.ptr) {
    if (names_.size() >= kMaxIprevNames) {
      break;
    }
    if (!isHostName(name) || std::find(names_.begin(), names_.end(), name) != names_.end()) {
      continue;
    }
    names_.push_back(name);
    forward_.push_back(resolver_->start(name, type, budget_));
  }
  if (names_.empty()) {
    ptr_result_ = IprevResult::Fail;
    ptr_problem_ = "no PTR target is a valid host name";
  }
}

void Iprev::advance() {
  if (!forward_started_ && ptr_ && ptr_->ready()) {
    startForward();
  }
}

IprevOutcome Iprev::collect() {
  IprevOutcome out;
  out.ip = ip_;
  if (ptr_ && !forward_started_) {
    startForward();
  }
  if (!ptr_problem_.empty()) {
    out.result = ptr_result_;
    out.why = ptr_problem_;
    return out;
  }
  bool temporary = false;
  for (std::size_t i = 0; i < forward_.size(); ++i) {
    const dns::Answer& a = forward_[i]->wait();
    const dns::Outcome o = dns::classify(a);
    if (o == dns::Outcome::Temporary) {
      temporary = true;
      continue;
    }
    if (o != dns::Outcome::Found) {
      continue;
    }
    bool match = false;
    if (v6_) {
      match = std::any_of(a.aaaa.begin(), a.aaaa.end(), [&](const auto& r) {
        return std::memcmp(r.data(), bytes_.data(), 16) == 0;
      });
    } else {
      match = std::any_of(a.a.begin(), a.a.end(), [&](const auto& r) {
        return std::memcmp(r.data(), bytes_.data(), 4) == 0;
      });
    }
    if (match) {
      out.result = IprevResult::Pass;
      out.name = names_[i];
      return out;
    }
  }
  // RFC 8601 §3: no match; temperror when a forward lookup that might have matched
  // could not be made, fail otherwise.
  out.result = temporary ? IprevResult::TempError : IprevResult::Fail;
  out.why = temporary ? "a forward lookup failed and none matched"
                      : "no forward lookup of the PTR names gives " + ip_;
  return out;
}

}  // namespace mw::reputation
