// dns/session.h — the DNS of one message: every lookup of the message goes through one
// Session, so a lookup started early (a prefetch at MAIL FROM or at the From field) is
// joined by the check that needs it later, and no name is asked twice.
//
// A Session is itself a Resolver, so SPF, DKIM and DMARC take it where they take the
// snapshot's resolver, unchanged. It wraps that resolver (shared: the Session keeps it
// alive) and the message's Budget (dns.budget_ms, fixed when the Session is made).
//
// Inputs: names come from mail (untrusted) and are passed on as given; the wrapped
// resolver answers BadName for a name that is not a DNS name. Such names are not
// remembered.
//
// Dedup: start() with the same name (ASCII case folded, one trailing dot ignored) and
// type returns the same LookupPtr while the Session remembers it. A remembered lookup
// that ended in TempFail once its deadline passed is started anew by a caller whose
// own deadline has not (a short caller Budget does not cost later callers their
// answer). At most `max_entries` lookups are remembered; beyond that, lookups are still
// made, just not shared.
//
// Budget: each lookup gets the earlier of the Session's deadline and the caller's. A
// joined lookup keeps the deadline it was started with.
//
// Thread-safety: every member may be called from any number of threads at once (the
// milter thread and a TaskPool worker of the same message do). The wrapped resolver's
// start() is called without the Session's lock held; two threads starting the same
// name at the same moment may make two upstream lookups, but both get the one that was
// remembered first.
//
// Lifetime: lookups returned may outlive the Session. Never throws except
// std::bad_alloc.
#pragma once

#include <atomic>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "mailwarden/dns/resolver.h"

namespace mw::dns {

class Session final : public Resolver {
 public:
  static constexpr std::size_t kDefaultMaxEntries = 512;

  // Precondition: resolver is not null.
  Session(ResolverSharedPtr resolver, Budget budget,
          std::size_t max_entries = kDefaultMaxEntries);

  // The lookup of (name, type), shared with every earlier start() of it; see above.
  LookupPtr start(std::string_view name, Type type, const Budget& budget) override;
  // The same with the Session's Budget alone (a prefetch).
  LookupPtr start(std::string_view name, Type type);
  // start(name, type, budget)->wait().
  Answer query(std::string_view name, Type type, const Budget& budget) override;

  // Remembers every lookup `earlier` remembers (with the deadline it was started with),
  // as if started here; the Session's own entries of the same names stay. For the
  // lookups of an SMTP connection started at connect (scan::startClientLookups) that
  // each message of the connection joins. Locks `earlier`, then this: never adopt in
  // both directions. `earlier` may be in use by other threads.
  void adopt(const Session& earlier);

  const Budget& budget() const noexcept { return budget_; }
  // Lookups handed to the wrapped resolver (what a cache-less message would not save).
  std::size_t started() const noexcept { return started_.load(std::memory_order_relaxed); }
  // start() calls answered with a remembered lookup.
  std::size_t joined() const noexcept { return joined_.load(std::memory_order_relaxed); }
  // Lookups remembered now (at most max_entries).
  std::size_t remembered() const;

 private:
  struct Entry {
    LookupPtr lookup;
    Budget::Clock::time_point deadline;  // the one it was started with
  };
  using Key = std::pair<std::string, Type>;

  // The remembered entry to use for a caller with `deadline`, or nullptr. Under m_.
  LookupPtr usable(const Entry& e, Budget::Clock::time_point deadline) const;

  const ResolverSharedPtr resolver_;
  const Budget budget_;
  const std::size_t max_entries_;
  mutable std::mutex m_;
  std::map<Key, Entry> entries_;  // guarded by m_
  std::atomic<std::size_t> started_{0};
  std::atomic<std::size_t> joined_{0};
};

}  // namespace mw::dns
