// scan/metrics.h — what one message adds to the metrics registry (obs/counters.h,
// issue 19), from the values scan/ already has: the Verdict, the Findings and the time
// each stage took. The same MessageTimings are meant for the per-message log line.
//
// Label values are bounded: checks and results are verdict::Method/Code enumerators;
// zones come from the configuration's lists, rule ids from the loaded rules and the
// built-in symbols, stages from the snapshot's stage list.
// Thread-safe (the registry is). Never throws: a metric that cannot be recorded (no
// memory for a new label) is skipped; the verdict never depends on it.
#pragma once

#include <chrono>
#include <string_view>
#include <vector>

#include "mailwarden/obs/counters.h"
#include "mailwarden/verdict/verdict.h"

namespace mw::scan {

// Wall time of one message, from its Scan's construction (MAIL FROM) to finish(), and
// of each stage over all of its hooks.
struct MessageTimings {
  struct Stage {
    std::string_view name;  // Stage::name(); valid while its Scan lives
    std::chrono::nanoseconds took{0};
  };
  std::chrono::nanoseconds total{0};
  std::vector<Stage> stages;  // in pipeline order
};

// Why a 4xx (Action::TempFail) verdict was given; meaningless for other actions.
// `stage_failed`: a stage threw (Scan knows). A failure-policy verdict whose findings
// hold a temperror result is Dns (a check sent its temperror to the failure policy);
// any other failure-policy verdict is Internal; a TempFail that the policy did not
// decide is Policy (a rule's action).
obs::TempfailReason tempfailReason(const verdict::Verdict& v, bool stage_failed) noexcept;

// Counts one finished message: messages by action, check results (each DKIM signature
// once), list hits by zone, rule hits, limits crossed, defects, tempfail reason, stage and
// message durations.
void recordMessage(const verdict::Verdict& v, const verdict::Findings& findings,
                   const MessageTimings& timings, bool stage_failed) noexcept;

// Counts a message answered without a Scan (milter/: refused during a drain, or failed
// before its scan could finish): messages by action and the tempfail reason.
void recordUnscanned(const verdict::Verdict& v, obs::TempfailReason reason) noexcept;

}  // namespace mw::scan
