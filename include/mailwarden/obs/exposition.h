// obs/exposition.h — the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): what GET /metrics
// returns (metrics/server.h).
//
// Exposition writes one metric family after another: a `# HELP` and `# TYPE` line, then
// its samples. Label values are escaped as the format requires (backslash, double quote
// and line feed as \\, \" and \n); any other byte goes through as it is (the format is
// UTF-8 and label values here come from the configuration and the code, never from
// mail). Names are the caller's: they must match [a-zA-Z_:][a-zA-Z0-9_:]*.
// Thread-compatible; renderPrometheus() reads the registry and may run in any thread.
// Never throws except std::bad_alloc.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mailwarden/obs/counters.h"

namespace mw::obs {

using Label = std::pair<std::string_view, std::string_view>;

// `\` -> `\\`, `"` -> `\"`, LF -> `\n` (label values).
std::string escapeLabelValue(std::string_view value);
// `\` -> `\\`, LF -> `\n` (HELP text).
std::string escapeHelp(std::string_view text);
// A sample value: integers as integers, others with enough digits to read back the same
// double; +Inf, -Inf and NaN spelled as the format spells them.
std::string formatValue(double v);

class Exposition {
 public:
  // type: "counter", "gauge" or "histogram".
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, std::initializer_list<Label> labels, double value);
  void sample(std::string_view name, const std::vector<Label>& labels, double value);
  // name_bucket{...,le="..."} for each bound and +Inf, then name_sum and name_count.
  void histogram(std::string_view name, const std::vector<Label>& labels,
                 const HistogramValues& h);
  const std::string& text() const noexcept { return out_; }

 private:
  void labelsOut(const std::vector<Label>& labels, std::string_view le);
  std::string out_;
};

// Every metric of counters() (and build info), as served at /metrics.
std::string renderPrometheus();

}  // namespace mw::obs
