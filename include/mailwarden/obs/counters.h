// obs/counters.h — process-wide counters for degraded paths and volume (Envoy: every
// degraded path has a warn log and a stat). Relaxed atomics: they are statistics, not
// synchronisation. Thread-safe; never throws.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace mw::obs {

struct Counter {
  std::atomic<std::uint64_t> value{0};
  void add(std::uint64_t n = 1) noexcept { value.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return value.load(std::memory_order_relaxed); }
};

struct Counters {
  Counter connections;
  Counter messages;
  Counter accepted;
  Counter tagged;
  Counter quarantined;
  Counter tempfailed;
  Counter rejected;
  Counter internal_errors;   // exception or library failure turned into the failure policy
  Counter limits_hit;        // a message::Limits bound was crossed
  Counter mime_defects;      // messages with at least one MIME defect
  Counter forged_authres;    // Authentication-Results claiming our authserv-id, removed
  Counter list_errors;       // DNS list answers that are errors, not listings (reputation/)
  Counter reloads;
  Counter reloads_rejected;
};

Counters& counters() noexcept;

// "name value" lines, one per counter, for logs and a metrics endpoint.
std::string renderCounters();

}  // namespace mw::obs
