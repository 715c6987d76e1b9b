// tests/unit/config/testing.h — helpers shared by the configuration tests.
#pragma once

#include <string>
#include <vector>

#include "mailwarden/config/config.h"

namespace mw::config::testing {

// The text with an explicit empty rule set appended (the default rule folder would be
// checked on this host otherwise), so line numbers stay those of the text.
inline LoadResult loadNoRules(const std::string& yaml, const std::string& file) {
  return loadString(yaml + "\nrules: {directories: []}\n", file);
}

// Each error as configtest prints it ("FILE:LINE: what").
inline std::vector<std::string> errors(const LoadResult& r) {
  std::vector<std::string> out;
  for (const Error& e : r.errors) {
    out.push_back(e.describe());
  }
  return out;
}

}  // namespace mw::config::testing
