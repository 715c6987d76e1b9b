// dns/unbound.h — the production Resolver: libunbound as a stub resolver that asks only
// the configured forwarders (or the nameservers of /etc/resolv.conf), with libunbound's
// cache shared by every thread and, optionally, DNSSEC validation.
//
// Inputs: query names come from mail (untrusted): a name that is not a DNS name is
// BadName without a query; other octets are escaped before libunbound sees them.
// Answers come from the network (untrusted): rdata that does not parse is Malformed.
//
// Thread-safety: query() and start() may be called from any number of threads at once,
// and a Lookup waited for from any thread. One ub_ctx serves them all; its lookups run
// in libunbound's own background thread (ub_ctx_async(ctx, 1)), and one dispatcher
// thread of ours reads the results (ub_process) and wakes the waiting caller. ub_resolve_async and ub_cancel lock the
// ctx themselves. Both threads run with every signal blocked, whatever the creating
// thread's mask (milter/ sigwait()s for SIGHUP/SIGTERM in one thread of its own).
// Create the resolver after any fork() (its threads do not survive one).
//
// Time: libunbound's blocking ub_resolve has no timeout, so start() submits
// asynchronously (ub_resolve_async) and a lookup waits at most
// UnboundOptions::timeout_ms per attempt, at most 1 + retries attempts, never past the
// Budget's deadline; a lookup still unanswered is cancelled (ub_cancel) and reported TempFail("timeout"). libunbound retransmits on its
// own within an attempt; a later attempt re-asks (and joins the lookup still running
// inside libunbound, if any), so the retries mostly decide how long a caller waits.
//
// DNSSEC: a bogus answer (RFC 4033 §5: validation failed) is TempFail, as a validating
// recursive server would answer SERVFAIL (RFC 4035 §5.5): the data must not be used,
// and the failure may be an attack or an expired signature that is fixed later, so
// SPF/DKIM/DMARC give temperror rather than a verdict. Answer::secure reports validated
// data.
//
// The resolver never reads /etc/hosts and never recurses from the root: every query
// goes to a forwarder, except names of special-use zones (see forward_special_zones),
// which libunbound answers NXDOMAIN itself as RFC 6761/6303 recommend. Destroying it
// cancels nothing a caller still waits for: each Lookup keeps the libunbound context
// (and the dispatcher thread) alive until it is gone.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mailwarden/base/result.h"
#include "mailwarden/dns/resolver.h"

namespace mw::dns {

struct UnboundOptions {
  // "addr" or "addr@port", IPv4 or IPv6 (libunbound's syntax). Empty: the nameserver
  // lines of resolv_conf (none there: 127.0.0.1, as resolv.conf(5) says).
  std::vector<std::string> forwarders;
  std::string resolv_conf = "/etc/resolv.conf";
  int timeout_ms = 3000;  // one attempt; at least 1
  int retries = 1;        // further attempts after a timeout; at least 0
  // UDP queries libunbound keeps outstanding at once (its "outgoing-range": one socket
  // each). libunbound's own default, 16, is made for a library in a small program:
  // lookups beyond it wait for a free socket, so 40 lookups in flight behind a 200 ms
  // forwarder took 3 x 200 ms (async_test.cpp). At least 1.
  int max_udp_in_flight = 256;
  bool dnssec = false;
  // With dnssec: the trust anchor file. A file libunbound keeps up to date itself
  // (RFC 5011, unbound-anchor's /var/lib/unbound/root.key; must be writable) when
  // trust_anchor_rfc5011, else a static file of DS/DNSKEY records
  // (/usr/share/dns/root.key).
  std::string trust_anchor;
  bool trust_anchor_rfc5011 = false;
  // Special-use names libunbound answers itself by default, without asking anyone
  // (RFC 6761 §6: test., invalid., localhost.; RFC 6303 and RFC 1918 reverse zones such
  // as 10.in-addr.arpa.): the zones listed here go to the forwarders instead, the
  // opt-in RFC 6761 §6.2 asks for ("local-zone: NAME transparent"). For a site whose own
  // DNS serves such names, and for the loopback tests (test.).
  std::vector<std::string> forward_special_zones;
};

class UnboundResolver final : public Resolver {
 public:
  // Errors: a forwarder that is not an address, an unreadable resolv.conf or trust
  // anchor, dnssec without a trust anchor, a library that cannot start (Errc::Invalid /
  // Errc::Internal). Never throws except std::bad_alloc.
  [[nodiscard]] static Result<ResolverSharedPtr> create(const UnboundOptions& options);

  ~UnboundResolver() override;
  UnboundResolver(const UnboundResolver&) = delete;
  UnboundResolver& operator=(const UnboundResolver&) = delete;

  // start()->wait(): one code path for both.
  Answer query(std::string_view name, Type type, const Budget& budget) override;

  // Submits attempt 1 to libunbound and returns at once: the lookup runs while the
  // caller does other work, and any number of lookups are in flight together. A bad
  // name (BadName) or a Budget already spent (TempFail "DNS budget exhausted") comes
  // back answered, without a query. Lookup::wait() sees the attempts through with the
  // timing above: attempt k ends at start + k x timeout_ms, never after the Budget's
  // deadline as it was at start(); a retry is submitted by wait() when an attempt ran
  // out (so a lookup nobody waits for is asked once), and an attempt whose time passed
  // before wait() was called is skipped, not sent. A Lookup may outlive the resolver,
  // and may be dropped without wait(): the attempt in flight is then cancelled
  // (ub_cancel) and nothing leaks. An answer, NXDOMAIN or NODATA is kept for the TTL
  // libunbound reported (never with TTL 0, never a failure): the same
  // question within it comes back answered from start(), on the caller's thread, without
  // libunbound's thread hand-offs (unbound.cpp AnswerCache says why). Thread-safe. Never
  // throws except std::bad_alloc.
  LookupPtr start(std::string_view name, Type type, const Budget& budget) override;

 private:
  struct Impl;
  explicit UnboundResolver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mw::dns
