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
#include <optional>
#include <vector>

#include "mailwarden/arc/seal.h"
#include "mailwarden/base/clock.h"
#include "mailwarden/base/result.h"
#include "mailwarden/config/config.h"
#include "mailwarden/dkim/dkim.h"
#include "mailwarden/dns/resolver.h"
#include "mailwarden/dns/session.h"
#include "mailwarden/report/recorder.h"
#include "mailwarden/reputation/lists.h"
#include "mailwarden/rules/rules.h"
#include "mailwarden/scan/stage.h"

namespace mw::scan {

class Snapshot {
 public:
  // Validates what the configuration refers to, loads and compiles the rule files
  // (every rule error in one Error, one "FILE:LINE: rule ID: ..." line each) and builds the resolver: the zone files
  // of dns.zone_files when there are any (offline), else libunbound with dns.resolvers
  // (or /etc/resolv.conf). `resolver` replaces that choice (tests). With arc.seal, the
  // sealing key: `seal_key` when given (a reload that keeps the running key, see
  // sealKeyFor), else read from arc.seal.key_file here — so as root, before the
  // privilege drop, when the milter starts. A key that cannot be read or used, or
  // arc.seal without arc.enabled, is an Errc::Invalid at the `seal:` line. Never throws
  // except bad_alloc. With dmarc.reports enabled, the report store: `reports` when given
  // (a reload that keeps the running one, see reportsFor), else opened here (created when
  // missing: as root at start, see milter's chown); one that cannot be opened is an
  // Errc::Invalid at the `reports:` line, never a silent drop.
  [[nodiscard]] static Result<std::shared_ptr<const Snapshot>> build(
      config::Config config, ClockConstSharedPtr clock, dns::ResolverSharedPtr resolver = nullptr,
      std::shared_ptr<const arc::SealKey> seal_key = nullptr,
      std::shared_ptr<report::Recorder> reports = nullptr);

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
  // The arc.seal key, shared with the snapshots a reload builds; nullptr without arc.seal.
  const std::shared_ptr<const arc::SealKey>& sealKey() const noexcept { return seal_key_; }
  // dmarc.reports: where Scan records DMARC-evaluated messages (thread-safe), shared with
  // the snapshots a reload builds while dmarc.reports.store is unchanged; nullptr when
  // reports are off.
  report::Recorder* reports() const noexcept { return reports_.get(); }
  const std::shared_ptr<report::Recorder>& reportsPtr() const noexcept { return reports_; }

  // The stages of one message, in pipeline order; every lookup they make goes through
  // `dns` (the message's dns::Session, which must outlive them). With a Skip `bypass`
  // (verdict::Bypass), the checks it covers are left out: no SPF or DMARC stage, no
  // iprev or list lookups in the reputation stage. Never throws except bad_alloc.
  std::vector<StagePtr> makeStages(dns::Session& dns,
                                   const std::optional<verdict::Bypass>& bypass = std::nullopt) const;

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
  std::shared_ptr<const arc::SealKey> seal_key_ = nullptr;
  std::shared_ptr<report::Recorder> reports_ = nullptr;
};

using SnapshotConstSharedPtr = std::shared_ptr<const Snapshot>;

// The arc.seal key for a new snapshot of `config` (pass `key` to Snapshot::build).
// `running`: the snapshot a reload replaces (nullptr at start). A reload runs without
// root, so a key file readable only by root (as it should be) cannot be read again:
// when the file cannot be read and arc.seal.key_file is the running snapshot's, the
// running key is kept and `warning` says that a new key needs a restart. A changed path
// that cannot be read is an error (the reload is rejected), at the `seal:` line.
// `key` is nullptr without arc.seal. Never throws except bad_alloc.
struct SealKeyChoice {
  std::shared_ptr<const arc::SealKey> key;
  std::string warning;  // "" unless the running key was kept
};
[[nodiscard]] Result<SealKeyChoice> sealKeyFor(const config::Config& config,
                                               const Snapshot* running);

// The report recorder for a new snapshot of `config` (pass it to Snapshot::build):
// nullptr when dmarc.reports is off; the running snapshot's when dmarc.reports.store is
// the same (one connection, one spool across reloads, like the resolver); else the store
// opened now (SqliteStore: "sqlite:PATH"; RedisStore: "redis://..." or "redis+unix://...",
// connected now). A store that cannot be opened (a Redis that does not answer included):
// Errc::Invalid at the `reports:` line, naming the path or URL (never a password) and why.
// Never throws except bad_alloc.
[[nodiscard]] Result<std::shared_ptr<report::Recorder>> reportsFor(const config::Config& config,
                                                                   const Snapshot* running);

// The files of the dmarc.reports SQLite store (the database, its -wal and -shm), for the
// milter's chown to milter.user at start; empty when reports are off or the store is Redis.
std::vector<std::string> reportStoreFiles(const config::Config& config);

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
