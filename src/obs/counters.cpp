#include "mailwarden/obs/counters.h"

namespace mw::obs {
namespace {

struct BuildInfo {
  std::mutex m;
  std::vector<std::pair<std::string, std::string>> labels;
};

BuildInfo& buildInfoSlot() noexcept {
  static BuildInfo b;
  return b;
}

// kLatencyBounds in nanoseconds, so observe() compares integers.
constexpr std::array<std::int64_t, kLatencyBounds.size()> boundsNs() {
  std::array<std::int64_t, kLatencyBounds.size()> out{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::int64_t>(kLatencyBounds[i] * 1e9 + 0.5);
  }
  return out;
}
constexpr std::array<std::int64_t, kLatencyBounds.size()> kBoundsNs = boundsNs();

}  // namespace

void Histogram::observe(std::chrono::nanoseconds d) noexcept {
  const std::int64_t ns = d.count() < 0 ? 0 : d.count();  // a clock step: count it as 0
  std::size_t i = 0;
  while (i < kBoundsNs.size() && ns > kBoundsNs[i]) {
    ++i;
  }
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
}

HistogramValues Histogram::read() const {
  HistogramValues h;
  h.bounds.assign(kLatencyBounds.begin(), kLatencyBounds.end());
  h.cumulative.reserve(buckets_.size());
  std::uint64_t running = 0;
  for (const auto& b : buckets_) {
    running += b.load(std::memory_order_relaxed);
    h.cumulative.push_back(running);
  }
  h.sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return h;
}

Counters& counters() noexcept {
  static Counters c;  // atomics only; safe to share between libmilter's threads
  return c;
}

void setBuildInfo(std::vector<std::pair<std::string, std::string>> labels) {
  BuildInfo& b = buildInfoSlot();
  const std::lock_guard<std::mutex> lock(b.m);
  b.labels = std::move(labels);
}

std::vector<std::pair<std::string, std::string>> buildInfo() {
  BuildInfo& b = buildInfoSlot();
  const std::lock_guard<std::mutex> lock(b.m);
  return b.labels;
}

std::string renderCounters() {
  const Counters& c = counters();
  struct Row {
    const char* name;
    const Counter& counter;
  };
  const Row rows[] = {
      {"connections", c.connections},   {"messages", c.messages},
      {"accepted", c.accepted},         {"tagged", c.tagged},
      {"quarantined", c.quarantined},   {"tempfailed", c.tempfailed},
      {"rejected", c.rejected},         {"internal_errors", c.internal_errors},
      {"limits_hit", c.limits_hit},     {"mime_defects", c.mime_defects},
      {"forged_authres", c.forged_authres}, {"list_errors", c.list_errors},
      {"reloads", c.reloads},
      {"reloads_rejected", c.reloads_rejected},
  };
  std::string out;
  for (const Row& r : rows) {
    out += r.name;
    out += ' ';
    out += std::to_string(r.counter.get());
    out += '\n';
  }
  return out;
}

}  // namespace mw::obs
