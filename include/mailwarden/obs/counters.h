// obs/counters.h — the process-wide metrics registry: counters for degraded paths and
// volume (Envoy: every degraded path has a warn log and a stat), fixed-bucket latency
// histograms, and a few gauges. One registry for the exit log line (renderCounters) and
// the Prometheus endpoint (obs/exposition.h, metrics/server.h).
//
// Values live for the whole process: nothing here is reset by a SIGHUP (a counter that
// went backwards would read as a restart to Prometheus' rate()).
// Thread-safety: everything may be used from any thread. The hot path (Counter::add,
// Histogram::observe) is relaxed atomics only: they are statistics, not
// synchronisation. Labelled families (Family::at) take a shared lock to find the label,
// an exclusive one only the first time a label is seen. Never throws, except
// Family::at and the setters of text, which may throw std::bad_alloc.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mw::obs {

struct Counter {
  std::atomic<std::uint64_t> value{0};
  void add(std::uint64_t n = 1) noexcept { value.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return value.load(std::memory_order_relaxed); }
};

struct Gauge {
  std::atomic<std::int64_t> value{0};
  void add(std::int64_t n = 1) noexcept { value.fetch_add(n, std::memory_order_relaxed); }
  void set(std::int64_t v) noexcept { value.store(v, std::memory_order_relaxed); }
  std::int64_t get() const noexcept { return value.load(std::memory_order_relaxed); }
};

// Upper bounds (seconds, inclusive, Prometheus' `le`) of every latency histogram: 100 µs
// (a cached DNS answer, a rule scan of a small message) to 30 s (dns.budget_ms's order).
// One fixed set, so dashboards can aggregate and compare stages and DNS.
inline constexpr std::array<double, 16> kLatencyBounds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,   30.0};

// What a Histogram holds at one moment, cumulative as the exposition format wants it.
struct HistogramValues {
  std::vector<double> bounds;           // upper bounds, ascending, without +Inf
  std::vector<std::uint64_t> cumulative;  // bounds.size() + 1 entries; the last is +Inf
  double sum = 0.0;                     // seconds
  std::uint64_t count() const noexcept { return cumulative.empty() ? 0 : cumulative.back(); }
};

// A latency histogram over kLatencyBounds. observe() is two relaxed atomic adds.
class Histogram {
 public:
  void observe(std::chrono::nanoseconds d) noexcept;
  // The count is the sum of the buckets read, so +Inf always equals _count (a scrape
  // during an observe may miss that one observation in _sum or the buckets, never
  // report an inconsistent histogram).
  HistogramValues read() const;

 private:
  std::array<std::atomic<std::uint64_t>, kLatencyBounds.size() + 1> buckets_{};  // last: +Inf
  std::atomic<std::uint64_t> sum_ns_{0};
};

// Metrics keyed by one label value (a DNS list zone, a rule id, a stage name). The
// values are bounded by what the configuration or the code names; `max_labels` is a
// guard against a bug making them unbounded: past it, every new value shares the one
// metric labelled kOverflowLabel. Metric objects never move or go away, so a reference
// from at() stays valid for the process lifetime.
inline constexpr std::string_view kOverflowLabel = "__overflow__";

template <typename Metric>
class Family {
 public:
  explicit Family(std::size_t max_labels) : max_labels_(max_labels) {}

  Metric& at(std::string_view label) {
    {
      const std::shared_lock<std::shared_mutex> read(m_);
      if (auto it = items_.find(label); it != items_.end()) {
        return *it->second;
      }
    }
    const std::unique_lock<std::shared_mutex> write(m_);
    if (auto it = items_.find(label); it != items_.end()) {
      return *it->second;
    }
    if (items_.size() >= max_labels_) {
      return overflow_;
    }
    return *items_.emplace(std::string(label), std::make_unique<Metric>()).first->second;
  }

  // Calls f(label, metric) for each label in label order, then for kOverflowLabel if it
  // was used.
  void forEach(const std::function<void(std::string_view, const Metric&)>& f) const {
    const std::shared_lock<std::shared_mutex> read(m_);
    for (const auto& [label, metric] : items_) {
      f(label, *metric);
    }
    if (items_.size() >= max_labels_) {
      f(kOverflowLabel, overflow_);
    }
  }

 private:
  const std::size_t max_labels_;
  mutable std::shared_mutex m_;
  std::map<std::string, std::unique_ptr<Metric>, std::less<>> items_;
  Metric overflow_;
};

// Label values of the fixed-index metrics below. The check and result names are
// verdict::Method's and verdict::Code's tokens, in enumerator order (obs/ sits below
// verdict/ and cannot call its toString; scan's unit tests check the two stay equal).
inline constexpr std::array<std::string_view, 6> kCheckNames = {"spf",   "dkim", "dmarc",
                                                                "iprev", "arc",  "auth"};
inline constexpr std::array<std::string_view, 8> kResultNames = {
    "none", "pass", "fail", "softfail", "neutral", "policy", "temperror", "permerror"};

// DNS lookups by how they ended (dns/unbound.cpp, UnboundLookup's completion).
enum class DnsOutcome { Answer, NxDomain, NoData, Temporary, Timeout };
inline constexpr std::array<std::string_view, 5> kDnsOutcomeNames = {
    "answer", "nxdomain", "nodata", "temporary", "timeout"};

// Why a message was answered 4xx. Dns: a check's temperror went to the failure policy;
// Internal: an exception or library failure (failure policy); Policy: a rule's or the
// configuration's action; Shutdown: started while draining for SIGTERM.
enum class TempfailReason { Dns, Internal, Policy, Shutdown };
inline constexpr std::array<std::string_view, 4> kTempfailReasonNames = {"dns", "internal",
                                                                         "policy", "shutdown"};

// Why a message was not judged like a stranger's: verdict::Bypass::Reason's tokens, in
// enumerator order (scan's unit tests check they stay equal).
inline constexpr std::array<std::string_view, 2> kBypassReasonNames = {"trusted_network",
                                                                       "authenticated"};

// DMARC aggregate report records (report::Recorder::Tally): written to the store,
// spooled in memory because the store was busy or down, dropped from a full spool.
enum class DmarcRecord { Stored, Spooled, Dropped };
inline constexpr std::array<std::string_view, 3> kDmarcRecordNames = {"stored", "spooled",
                                                                      "dropped"};

// message::Limits bounds, by the defect that records each crossing.
enum class LimitKind { HeaderBytes, HeaderCount, LineLength, MimeDepth, MimeParts, DecodedBytes };
inline constexpr std::array<std::string_view, 6> kLimitNames = {
    "header_bytes", "header_count", "line_length", "mime_depth", "mime_parts", "decoded_bytes"};

struct Counters {
  Counter connections;
  Counter messages;
  Counter accepted;
  Counter tagged;
  Counter quarantined;
  Counter tempfailed;
  Counter rejected;
  Counter internal_errors;   // exception or library failure turned into the failure policy
  Counter limits_hit;        // messages that crossed at least one message::Limits bound
  Counter mime_defects;      // messages with at least one MIME defect
  Counter forged_authres;    // Authentication-Results claiming our authserv-id, removed
  Counter list_errors;       // DNS list answers that are errors, not listings (reputation/)
  Counter reloads;
  Counter reloads_rejected;

  // --- The Prometheus endpoint's (doc/OPERATIONS.md describes each) ---
  std::array<std::array<Counter, kResultNames.size()>, kCheckNames.size()> check_results;
  std::array<Counter, kDnsOutcomeNames.size()> dns_queries;
  Histogram dns_duration;
  std::array<Counter, kTempfailReasonNames.size()> tempfails;
  std::array<Counter, kLimitNames.size()> limit_hits;  // messages, by bound crossed
  std::array<Counter, kBypassReasonNames.size()> bypassed;  // messages, by bypass reason
  std::array<Counter, kDmarcRecordNames.size()> dmarc_records;  // by DmarcRecord
  Histogram message_duration;                          // MAIL FROM to verdict
  Family<Histogram> stage_duration{64};                // by Stage::name()
  Family<Counter> list_hits{1024};                     // listed answers, by zone
  Family<Counter> rule_hits{8192};                     // contributions, by rule id
  Gauge in_flight;          // messages between MAIL FROM and their end (milter/)
  Gauge config_generation;  // the running snapshot's generation (milter/)

  void countDns(DnsOutcome o, std::chrono::nanoseconds took) noexcept {
    dns_queries[static_cast<std::size_t>(o)].add();
    dns_duration.observe(took);
  }
  void countTempfail(TempfailReason r) noexcept { tempfails[static_cast<std::size_t>(r)].add(); }
};

Counters& counters() noexcept;

// Labels of mailwarden_build_info (version and library versions), set once at start-up
// by whoever links those libraries (metrics/). Empty until then.
void setBuildInfo(std::vector<std::pair<std::string, std::string>> labels);
std::vector<std::pair<std::string, std::string>> buildInfo();

// "name value" lines, one per unlabelled counter, for the log line at exit.
std::string renderCounters();

}  // namespace mw::obs
