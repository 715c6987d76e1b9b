// scan/snapshot.h — everything read-only that a message needs: the configuration, and
// (as later modules arrive) compiled rules, library handles, the resolver.
//
// A Snapshot is immutable once built and shared between libmilter's threads through
// SnapshotConstSharedPtr. A reload builds a new one off to the side and swaps it into
// the SnapshotHolder; a message keeps the snapshot it started with (OpenDKIM's
// conf_refcnt, done by shared_ptr).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "mailwarden/base/clock.h"
#include "mailwarden/base/result.h"
#include "mailwarden/config/config.h"
#include "mailwarden/dkim/dkim.h"
#include "mailwarden/dns/resolver.h"
#include "mailwarden/dns/session.h"
#include "mailwarden/reputation/lists.h"
#include "mailwarden/rules/rules.h"
#include "mailwarden/scan/stage.h"

namespace mw::scan {

class Snapshot {
 public:
  // Validates what the configuration refers to, loads and compiles the rule files
  // (every rule error in one Error, one "FILE:LINE: rule ID: ..." line each) and builds the resolver: the zone files
  // of dns.zone_files when there are any (offline), else libunbound with dns.resolvers
  // (or /etc/resolv.conf). `resolver` replaces that choice (tests). Never throws except
  // bad_alloc.
  [[nodiscard]] static Result<std::shared_ptr<const Snapshot>> build(
      config::Config config, ClockConstSharedPtr clock, dns::ResolverSharedPtr resolver = nullptr);

  const config::Config& config() const noexcept { return config_; }
  const verdict::Policy& policy() const noexcept { return config_.policy; }
  const message::Limits& limits() const noexcept { return config_.limits; }
  const Clock& clock() const noexcept { return *clock_; }
  const ClockConstSharedPtr& clockPtr() const noexcept { return clock_; }
  dns::Resolver& resolver() const noexcept { return *resolver_; }
  const dns::ResolverSharedPtr& resolverPtr() const noexcept { return resolver_; }
  std::uint64_t generation() const noexcept { return generation_; }
  // The compiled content rules of config().rule_dirs; nullptr when there are none.
  const rules::RuleSetConstSharedPtr& rules() const noexcept { return rules_; }
  // The libopendkim handle of this snapshot; nullptr when dkim.enabled is false.
  const dkim::Library* dkimLibrary() const noexcept { return dkim_.get(); }
  // The DNS lists of reputation.lists (with their pause state); nullptr when none.
  const reputation::ListsConstSharedPtr& lists() const noexcept { return lists_; }

  // The stages of one message, in pipeline order; every lookup they make goes through
  // `dns` (the message's dns::Session, which must outlive them). Never throws except
  // bad_alloc.
  std::vector<StagePtr> makeStages(dns::Session& dns) const;

 private:
  Snapshot(config::Config config, ClockConstSharedPtr clock, dns::ResolverSharedPtr resolver,
           rules::RuleSetConstSharedPtr rules, std::uint64_t generation);

  config::Config config_;
  ClockConstSharedPtr clock_;
  dns::ResolverSharedPtr resolver_;
  rules::RuleSetConstSharedPtr rules_;
  std::uint64_t generation_;
  dkim::LibraryConstSharedPtr dkim_ = nullptr;
  reputation::ListsConstSharedPtr lists_ = nullptr;
};

using SnapshotConstSharedPtr = std::shared_ptr<const Snapshot>;

// The resolver the dns settings describe: the zone files of dns.zone_files when there
// are any (offline), else libunbound with dns.resolvers (or /etc/resolv.conf), its
// timeouts and dns.forward_special_zones. Snapshot::build and `mailwarden lists test`
// use it, so both ask DNS the same way. Never throws except bad_alloc.
[[nodiscard]] Result<dns::ResolverSharedPtr> makeResolver(const config::DnsOptions& options);

// The current snapshot, swapped atomically on reload. Thread-safe.
class SnapshotHolder {
 public:
  explicit SnapshotHolder(SnapshotConstSharedPtr initial) : current_(std::move(initial)) {}
  SnapshotConstSharedPtr get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return current_;
  }
  void set(SnapshotConstSharedPtr next) {
    std::lock_guard<std::mutex> lock(mutex_);
    current_ = std::move(next);
  }

 private:
  mutable std::mutex mutex_;
  SnapshotConstSharedPtr current_;
};

}  // namespace mw::scan
