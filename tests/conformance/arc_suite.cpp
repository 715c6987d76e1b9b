// arc_suite — the ValiMail ARC validation suite (../shared/conformance/arc/valimail/
// arc-draft-validation-tests.yml) and Mail::DKIM's copy of it (mail-dkim-variant/, three
// expectations changed, one test removed) through arc::verifyMessage, the code path the
// Verifier takes. Each scenario's txt-records are served by a dns::ZoneResolver; the
// clock is fixed at 2017-06-01 (the suite's signatures carry t=12345 and no x=, so any
// later time gives the same answers; a fixed one keeps runs reproducible).
//
// A test whose `cv` is empty has no expectation: skipped and counted apart. Expected
// "None"/"Pass"/"Fail" compare with toString(cv). Prints "N passed, N failed" per
// corpus and fails when a corpus passes fewer than its floor in
// tests/conformance/arc-floor.txt. Without the suite: skipped (exit 77).
// MW_ARC_VERBOSE=1 prints every test.
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "suite_support.h"
#include "mailwarden/arc/arc.h"
#include "mailwarden/base/ascii.h"
#include "mailwarden/base/clock.h"
#include "mailwarden/dns/zone.h"

namespace fs = std::filesystem;

namespace {

using mw::conformance::Counts;
using mw::conformance::toCrlf;

constexpr std::int64_t kSuiteTime = 1496275200;  // 2017-06-01T00:00:00Z

bool runFile(const fs::path& file, Counts& counts) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAllFromFile(file.string());
  } catch (const YAML::Exception& e) {
    std::printf("%s: %s\n", file.c_str(), e.what());
    return false;
  }
  const bool verbose = std::getenv("MW_ARC_VERBOSE") != nullptr;
  const mw::FixedClock clock(kSuiteTime);
  for (const YAML::Node& doc : docs) {
    if (!doc.IsMap() || !doc["tests"]) {
      continue;
    }
    mw::dns::ZoneResolver zone;
    if (const YAML::Node txt = doc["txt-records"]; txt && txt.IsMap()) {
      for (const auto& kv : txt) {
        zone.addTxt(kv.first.as<std::string>(), kv.second.as<std::string>());
      }
    }
    for (const auto& kv : doc["tests"]) {
      const std::string name = kv.first.as<std::string>();
      const YAML::Node t = kv.second;
      const std::string want =
          t["cv"] && t["cv"].IsScalar() ? std::string(mw::ascii::trim(t["cv"].as<std::string>()))
                                        : std::string();
      if (want.empty()) {
        ++counts.skipped;
        std::printf("  skip %s (no expectation)\n", name.c_str());
        continue;
      }
      const std::string message = t["message"] ? toCrlf(t["message"].as<std::string>()) : "";
      const mw::arc::Validation v = mw::arc::verifyMessage(message, zone, clock);
      const std::string got(mw::arc::toString(v.cv));
      if (mw::ascii::iequals(got, want)) {
        ++counts.passed;
        if (verbose) {
          std::printf("  ok %s: %s %s\n", name.c_str(), got.c_str(), v.reason.c_str());
        }
      } else {
        ++counts.failed;
        std::printf("  FAIL %s: want %s, got %s (%s)\n", name.c_str(), want.c_str(), got.c_str(),
                    v.reason.c_str());
      }
    }
  }
  return true;
}

}  // namespace

int main() {
  return mw::conformance::runArcCorpora(MW_CONFORMANCE_DEFAULT_DIR, "arc-draft-validation-tests.yml", MW_ARC_FLOOR_FILE, "no expectation", runFile);
}
