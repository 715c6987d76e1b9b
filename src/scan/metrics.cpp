#include "mailwarden/scan/metrics.h"

#include <algorithm>

namespace mw::scan {
namespace {

using message::Defect;

// The defect that records each crossing of a message::Limits bound, in obs::LimitKind order.
constexpr Defect kLimitDefects[] = {Defect::HeaderBytesLimit, Defect::HeaderCountLimit,
                                    Defect::LineTooLong,      Defect::NestingTooDeep,
                                    Defect::TooManyParts,     Defect::DecodedBytesLimit};
static_assert(std::size(kLimitDefects) == obs::kLimitNames.size());

void countAction(verdict::Action a) noexcept {
  obs::Counters& c = obs::counters();
  c.messages.add();
  switch (a) {
    case verdict::Action::Accept: c.accepted.add(); break;
    case verdict::Action::Tag: c.tagged.add(); break;
    case verdict::Action::Quarantine: c.quarantined.add(); break;
    case verdict::Action::TempFail: c.tempfailed.add(); break;
    case verdict::Action::Reject: c.rejected.add(); break;
  }
}

}  // namespace

obs::TempfailReason tempfailReason(const verdict::Verdict& v, bool stage_failed) noexcept {
  if (!v.failed) {
    return obs::TempfailReason::Policy;
  }
  if (stage_failed) {
    return obs::TempfailReason::Internal;
  }
  const bool temperror = std::any_of(v.auth.begin(), v.auth.end(), [](const verdict::AuthResult& r) {
    return r.result == verdict::Code::TempError;
  });
  return temperror ? obs::TempfailReason::Dns : obs::TempfailReason::Internal;
}

void recordMessage(const verdict::Verdict& v, const verdict::Findings& findings,
                   const MessageTimings& timings, bool stage_failed) noexcept {
  obs::Counters& c = obs::counters();
  countAction(v.action);
  if (v.action == verdict::Action::TempFail) {
    c.countTempfail(tempfailReason(v, stage_failed));
  }
  for (const verdict::AuthResult& r : v.auth) {
    const auto m = static_cast<std::size_t>(r.method);
    const auto code = static_cast<std::size_t>(r.result);
    if (m < c.check_results.size() && code < c.check_results[m].size()) {
      c.check_results[m][code].add();
    }
  }
  if (findings.defects.any()) {
    c.mime_defects.add();
  }
  if (v.bypass) {
    const auto r = static_cast<std::size_t>(v.bypass->reason);
    if (r < c.bypassed.size()) {
      c.bypassed[r].add();
    }
  }
  bool limited = false;
  for (std::size_t i = 0; i < std::size(kLimitDefects); ++i) {
    if (findings.defects.has(kLimitDefects[i])) {
      c.limit_hits[i].add();
      limited = true;
    }
  }
  if (limited) {
    c.limits_hit.add();
  }
  c.message_duration.observe(timings.total);
  // The labelled families may allocate the first time they see a label.
  try {
    for (const reputation::ListHit& hit : v.lists) {
      if (hit.result == reputation::ListResult::Listed) {
        c.list_hits.at(hit.zone).add();
      }
    }
    for (const verdict::Contribution& k : v.contributions) {
      c.rule_hits.at(k.rule_id).add();
    }
    for (const MessageTimings::Stage& s : timings.stages) {
      c.stage_duration.at(s.name).observe(s.took);
    }
  } catch (...) {
    // No memory for a new label: that sample is lost, the message is not.
  }
}

void recordUnscanned(const verdict::Verdict& v, obs::TempfailReason reason) noexcept {
  countAction(v.action);
  if (v.action == verdict::Action::TempFail) {
    obs::counters().countTempfail(reason);
  }
}

}  // namespace mw::scan
