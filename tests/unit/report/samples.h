// tests/unit/report/samples.h — aggregate reports covering what RFC 9990's schema must
// accept from us: pass, fail under each policy, overrides, several DKIM signatures, IPv6
// sources, no SPF, HELO scope, hostile strings (markup, quotes, control bytes, bad UTF-8).
#pragma once

#include <string>
#include <vector>

#include "mailwarden/report/xml.h"

namespace mw::report::testing {

struct Sample {
  std::string name;  // file name stem
  ReportMeta meta;
  std::vector<Row> rows;
};

// The hostile text the samples carry in every free-text field.
extern const std::string kHostile;

std::vector<Sample> samples();

}  // namespace mw::report::testing
