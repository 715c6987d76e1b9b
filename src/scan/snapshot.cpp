#include "mailwarden/scan/snapshot.h"

#include <atomic>

#include "builtin_stages.h"

namespace mw::scan {
namespace {

std::atomic<std::uint64_t> g_next_generation{1};  // generations start at 1; 0 = none

}  // namespace

Stage::~Stage() = default;

Snapshot::Snapshot(config::Config config, ClockConstSharedPtr clock, std::uint64_t generation)
    : config_(std::move(config)), clock_(std::move(clock)), generation_(generation) {}

Result<std::shared_ptr<const Snapshot>> Snapshot::build(config::Config config,
                                                       ClockConstSharedPtr clock) {
  if (config.policy.authserv_id.empty()) {
    return fail(Errc::Invalid, "authserv_id is empty");
  }
  if (!clock) {
    clock = std::make_shared<SystemClock>();
  }
  const std::uint64_t generation = g_next_generation.fetch_add(1);
  return std::shared_ptr<const Snapshot>(
      new Snapshot(std::move(config), std::move(clock), generation));
}

std::vector<StagePtr> Snapshot::makeStages() const {
  // The order is a fact of the protocols, not a plugin graph: the guard and MIME stages
  // first; SPF, DKIM and the rules plug in after them; DMARC, which needs the SPF and
  // DKIM results, will always be last.
  std::vector<StagePtr> stages;
  stages.push_back(makeHeaderGuard(config_.policy));
  stages.push_back(makeMimeStage(config_.limits));
  return stages;
}

}  // namespace mw::scan
