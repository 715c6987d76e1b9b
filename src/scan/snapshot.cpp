#include "mailwarden/scan/snapshot.h"

#include <atomic>

#include "builtin_stages.h"
#include "mailwarden/scan/symbols.h"
#include "mailwarden/dns/unbound.h"
#include "mailwarden/dns/zone.h"
#include "mailwarden/obs/counters.h"
#include "mailwarden/obs/log.h"
#include "mailwarden/report/open_store.h"

namespace mw::scan {
namespace {

std::atomic<std::uint64_t> g_next_generation{1};  // generations start at 1; 0 = none

}  // namespace

Stage::~Stage() = default;

Snapshot::Snapshot(config::Config config, ClockConstSharedPtr clock,
                   dns::ResolverSharedPtr resolver, rules::RuleSetConstSharedPtr rules,
                   std::uint64_t generation)
    : config_(std::move(config)),
      clock_(std::move(clock)),
      resolver_(std::move(resolver)),
      rules_(std::move(rules)),
      generation_(generation) {}

// dns.zone_files: answered offline, nothing else asked (tests, `check --dns-zone`).
// Otherwise libunbound, one shared cache for every message of this snapshot.
Result<dns::ResolverSharedPtr> makeResolver(const config::DnsOptions& o) {
  if (!o.zone_files.empty()) {
    auto zones = std::make_shared<dns::ZoneResolver>();
    for (const std::string& file : o.zone_files) {
      if (Result<void> r = zones->loadFile(file); !r) {
        return fail(r.error());
      }
    }
    return dns::ResolverSharedPtr(std::move(zones));
  }
  dns::UnboundOptions u;
  u.forwarders = o.resolvers;
  u.timeout_ms = o.timeout_ms;
  u.retries = o.retries;
  u.forward_special_zones = o.forward_special_zones;
  u.dnssec = o.dnssec;
  u.trust_anchor = o.trust_anchor;
  return dns::UnboundResolver::create(u);
}

Result<SealKeyChoice> sealKeyFor(const config::Config& config, const Snapshot* running) {
  SealKeyChoice out;
  if (!config.arc.seal) {
    return out;
  }
  const config::ArcSealOptions& seal = *config.arc.seal;
  Result<arc::SealKey> key = arc::loadSealKey(seal.key_file);
  if (key) {
    out.key = std::make_shared<const arc::SealKey>(std::move(*key));
    return out;
  }
  const config::Config* was = running != nullptr ? &running->config() : nullptr;
  if (was != nullptr && running->sealKey() && was->arc.seal &&
      was->arc.seal->key_file == seal.key_file) {
    out.key = running->sealKey();
    out.warning = "arc.seal: " + key.error().message +
                  "; keeping the key read at start (a new key needs a restart)";
    return out;
  }
  return fail(Error::at(seal.where, Errc::Invalid, "arc.seal: " + key.error().message));
}

namespace {
constexpr std::string_view kSqlitePrefix = "sqlite:";

// The Recorder's counts, from its writer thread (or the message thread, for a record
// dropped from a full spool): mailwarden_dmarc_records_total{result}.
void countDmarcRecords(const report::Recorder::Tally& t) {
  obs::Counters& c = obs::counters();
  c.dmarc_records[static_cast<std::size_t>(obs::DmarcRecord::Stored)].add(t.stored);
  c.dmarc_records[static_cast<std::size_t>(obs::DmarcRecord::Spooled)].add(t.spooled);
  c.dmarc_records[static_cast<std::size_t>(obs::DmarcRecord::Dropped)].add(t.dropped);
  if (t.dropped != 0) {
    obs::log(obs::Level::Warn, "NOQUEUE", "report",
             "DMARC report spool full: {} oldest record(s) dropped", t.dropped);
  }
}
}  // namespace

Result<std::shared_ptr<report::Recorder>> reportsFor(const config::Config& config,
                                                     const Snapshot* running) {
  const config::DmarcReportOptions& o = config.dmarc.reports;
  if (!o.enabled) {
    return std::shared_ptr<report::Recorder>();
  }
  if (running != nullptr && running->reportsPtr() &&
      running->config().dmarc.reports.store == o.store) {
    return running->reportsPtr();
  }
  // Connected now: a store that cannot be opened at start (or by configtest) is an error
  // — a SQLite file, or a Redis that does not answer. Later outages only spool (Recorder).
  Result<std::unique_ptr<report::Store>> store = report::openStore(o.store);
  if (!store) {
    return fail(Error::at(o.where, Errc::Invalid, "dmarc.reports: " + store.error().message));
  }
  report::Recorder::Options options;
  options.on_tally = countDmarcRecords;
  return std::make_shared<report::Recorder>(std::shared_ptr<report::Store>(std::move(*store)),
                                            std::move(options));
}

std::vector<std::string> reportStoreFiles(const config::Config& config) {
  const config::DmarcReportOptions& o = config.dmarc.reports;
  if (!o.enabled || !o.store.starts_with(kSqlitePrefix)) {
    return {};
  }
  const std::string path = o.store.substr(kSqlitePrefix.size());
  return {path, path + "-wal", path + "-shm"};
}

Result<std::shared_ptr<const Snapshot>> Snapshot::build(config::Config config,
                                                       ClockConstSharedPtr clock,
                                                       dns::ResolverSharedPtr resolver,
                                                       std::shared_ptr<const arc::SealKey> seal_key,
                                                       std::shared_ptr<report::Recorder> reports) {
  if (config.policy.authserv_id.empty()) {
    return fail(Errc::Invalid, "authserv_id is empty");
  }
  if (config.arc.seal) {
    // Before the rules and the resolver: a key problem is the first thing to fix, and
    // the milter reads it here as root (milter.cpp builds the first snapshot before the
    // privilege drop).
    const config::ArcSealOptions& seal = *config.arc.seal;
    if (!config.arc.enabled) {
      return fail(Error::at(seal.where, Errc::Invalid,
                            "arc.seal needs arc.enabled: the seal records the chain's validation "
                            "(cv=), which only the ARC stage computes"));
    }
    if (!seal_key) {
      Result<SealKeyChoice> chosen = sealKeyFor(config, nullptr);
      if (!chosen) {
        return fail(chosen.error());
      }
      seal_key = std::move(chosen->key);
    }
    arc::SealOptions check;
    check.domain = seal.domain;
    check.selector = seal.selector;
    check.key = seal_key;
    if (Result<void> ok = arc::checkSealOptions(check); !ok) {
      return fail(Error::at(seal.where, Errc::Invalid, "arc.seal: " + ok.error().message));
    }
  } else {
    seal_key = nullptr;
  }
  if (!config.dmarc.reports.enabled) {
    reports = nullptr;
  } else if (!reports) {
    // Opened here, so as root before the privilege drop when the milter starts, and by
    // configtest: a store that cannot be opened is an error, not a silent drop.
    Result<std::shared_ptr<report::Recorder>> made = reportsFor(config, nullptr);
    if (!made) {
      return fail(made.error());
    }
    reports = std::move(*made);
  }
  if (!clock) {
    clock = std::make_shared<SystemClock>();
  }
  rules::RuleSetConstSharedPtr rules;
  if (!config.rule_dirs.empty()) {
    // The names composites may use are the ones this snapshot's stages publish.
    rules::LoadReport loaded = rules::load(
        rules::LoadOptions{config.rule_dirs, config.rules_cache_dir, knownSymbols(config)});
    if (!loaded.ok()) {
      // One Error carrying every rule error, one line each (configtest prints it whole).
      std::string all;
      for (const Error& e : loaded.errors) {
        all += (all.empty() ? "" : "\n") + e.describe();
      }
      return fail(Errc::Invalid, std::move(all));
    }
    if (!loaded.rules->rules().empty()) {
      rules = std::move(loaded.rules);
    }
  }
  if (!resolver) {
    Result<dns::ResolverSharedPtr> made = makeResolver(config.dns);
    if (!made) {
      return fail(made.error());
    }
    resolver = std::move(*made);
  }
  dkim::LibraryConstSharedPtr dkim_library;
  if (config.dkim.enabled) {
    Result<dkim::LibraryConstSharedPtr> lib = dkim::Library::create();
    if (!lib) {
      return fail(lib.error());
    }
    dkim_library = std::move(*lib);
  }
  reputation::ListsConstSharedPtr lists;
  if (!config.reputation.lists.empty()) {
    Result<reputation::ListsConstSharedPtr> made = reputation::Lists::create(config.reputation, clock);
    if (!made) {
      return fail(made.error());
    }
    lists = std::move(*made);
  }
  const std::uint64_t generation = g_next_generation.fetch_add(1);
  auto* snapshot = new Snapshot(std::move(config), std::move(clock), std::move(resolver),
                               std::move(rules), generation);
  snapshot->dkim_ = std::move(dkim_library);
  snapshot->lists_ = std::move(lists);
  snapshot->seal_key_ = std::move(seal_key);
  snapshot->reports_ = std::move(reports);
  return std::shared_ptr<const Snapshot>(snapshot);
}

std::vector<StagePtr> Snapshot::makeStages(dns::Session& dns,
                                           const std::optional<verdict::Bypass>& bypass) const {
  auto skips = [&](verdict::BypassCheck c) { return bypass && bypass->skips(c); };
  // The order is a fact of the protocols, not a plugin graph: the guard and MIME stages
  // first; SPF and DKIM; reputation after DKIM (a d= list counts verified signatures
  // only) and before the rules (composites read its symbols, envelope:client_name its
  // confirmed name); ARC after them (its symbols for the rules, its result for DMARC's
  // trusted-forwarder override); DMARC, which needs the SPF, DKIM and ARC results,
  // always last (its A-R entry still comes before arc's: decide()). Every
  // stage starts its lookups as soon as its input is known and waits at end of message.
  std::vector<StagePtr> stages;
  stages.push_back(makeHeaderGuard(config_.policy));
  auto mime = std::make_unique<MimeStage>(config_.limits);
  MimeStage& parser = *mime;  // owned by `stages` from here, as its subscribers will be
  stages.push_back(std::move(mime));
  if (config_.spf.enabled && !skips(verdict::BypassCheck::Spf)) {
    stages.push_back(makeSpfStage(*this, dns));
  }
  if (dkim_) {
    stages.push_back(makeDkimStage(*this, dns));
  }
  const bool iprev = config_.iprev.enabled && !skips(verdict::BypassCheck::Iprev);
  const bool lists = lists_ && !skips(verdict::BypassCheck::Lists);
  if (iprev || lists) {
    stages.push_back(makeReputationStage(*this, dns, parser, iprev, lists));
  }
  if (config_.arc.enabled) {
    stages.push_back(makeArcStage(*this, dns));
  }
  if (rules_) {
    auto rules = std::make_unique<RulesStage>(rules_, config_.limits);
    // The body is parsed once: the rules' MIME scopes read the MIME stage's events, and
    // its text/URL scopes the MIME stage's one text extraction.
    rules::Matcher& matcher = rules->matcher();
    parser.subscribe(matcher.mimeSink());
    parser.subscribeText(matcher.textListener(), matcher.wantsText(), matcher.wantsUrls());
    stages.push_back(std::move(rules));
  }
  if (config_.dmarc.enabled && !skips(verdict::BypassCheck::Dmarc)) {
    stages.push_back(makeDmarcStage(*this, dns));  // last: reads the SPF/DKIM results
  }
  return stages;
}

}  // namespace mw::scan
