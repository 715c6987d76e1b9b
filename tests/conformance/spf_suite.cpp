// Conformance driver: runs the OpenSPF test suites (rfc7208-tests.yml, rfc4408-tests.yml)
// through mailwarden's spf/ module and compares with the suite's expectations.
//
// The suites live in ../shared/conformance/spf/ beside the checkout (README.md there says
// how to read them). MW_CONFORMANCE_DIR overrides the place: either that spf/ folder or
// the conformance folder above it. Without the suites the test is skipped (exit 77).
//
// Each scenario's zonedata is loaded into a dns::ZoneResolver: TXT/A/AAAA/MX/PTR/CNAME
// records as given; "TXT: NONE" / "SPF: NONE" make the name exist without records;
// SPF-type records are copied to TXT where the name lists no TXT ("auto-magic
// duplication"; RFC 7208 checkers query only TXT); a bare TIMEOUT makes queries for the
// name time out for every type without a record of its own listed (as pyspf's driver).
// Each test checks the MAIL FROM identity (the null sender: postmaster@HELO) with the
// default explanation "DEFAULT".
//
// Prints per suite "N passed, N failed" with and without the explanation text scored,
// lists every failure (every test with MW_SPF_VERBOSE=1), and fails when a count is below the floor recorded in
// tests/conformance/spf-floor.txt. Tests whose RFC 4408 expectation RFC 7208 changed are
// listed in doc/CONFORMANCE.md and in kRfc7208Changed below; they are reported, not
// scored.
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "mailwarden/dns/zone.h"
#include "mailwarden/spf/spf.h"
#include "spf/libspf2_engine.h"

namespace {

namespace fs = std::filesystem;
using mw::dns::Type;

// rfc4408-tests.yml tests whose expected result RFC 7208 changed (doc/CONFORMANCE.md
// gives the section for each).
const std::set<std::string> kRfc7208Changed = {
};

struct Counts {
  int passed = 0;
  int failed = 0;
};

struct SuiteReport {
  Counts with_exp;
  Counts result_only;
  Counts libspf2;  // MW_SPF_COMPARE_LIBSPF2=1: libspf2 behind our parser and layer
  std::vector<std::string> failures;
  std::vector<std::string> changed;  // excepted: RFC 7208 changed the expectation
};

bool compareLibspf2() {
  const char* env = std::getenv("MW_SPF_COMPARE_LIBSPF2");
  return env != nullptr && std::string(env) == "1";
}

std::string scalar(const YAML::Node& n) { return n && n.IsScalar() ? n.Scalar() : std::string(); }

// txtValue - a TXT/SPF value: one string, or a list of character-strings joined as is.
std::string txtValue(const YAML::Node& v) {
  if (v.IsSequence()) {
    std::string out;
    for (const YAML::Node& part : v) {
      out += scalar(part);
    }
    return out;
  }
  return scalar(v);
}

bool loadZone(const YAML::Node& zonedata, mw::dns::ZoneResolver& zone, std::string& err) {
  if (!zonedata || !zonedata.IsMap()) {
    return true;
  }
  for (const auto& entry : zonedata) {
    const std::string name = entry.first.Scalar();
    bool listed_txt = false;  // a TXT entry, even NONE, stops the SPF->TXT copy
    std::vector<std::string> spf;
    std::set<Type> with_records;
    bool timeout = false;
    zone.addEmpty(name);
    for (const YAML::Node& item : entry.second) {
      if (item.IsScalar() && item.Scalar() == "TIMEOUT") {
        timeout = true;
        continue;
      }
      if (!item.IsMap()) {
        err = "bad zonedata item at " + name;
        return false;
      }
      for (const auto& kv : item) {
        const std::string type = kv.first.Scalar();
        const YAML::Node& v = kv.second;
        const bool none = v.IsScalar() && v.Scalar() == "NONE";
        if (type == "TXT") {
          listed_txt = true;
          if (!none) {
            zone.addTxt(name, txtValue(v));
            with_records.insert(Type::TXT);
          }
        } else if (type == "SPF") {
          if (!none) {
            spf.push_back(txtValue(v));
          }
        } else if (type == "A" || type == "AAAA") {
          const auto ok = type == "A" ? zone.addA(name, scalar(v)) : zone.addAaaa(name, scalar(v));
          if (!ok) {
            err = name + " " + type + ": " + ok.error().describe();
            return false;
          }
          with_records.insert(type == "A" ? Type::A : Type::AAAA);
        } else if (type == "MX") {
          zone.addMx(name, static_cast<std::uint16_t>(std::stoi(scalar(v[0]))), scalar(v[1]));
          with_records.insert(Type::MX);
        } else if (type == "PTR") {
          zone.addPtr(name, scalar(v));
          with_records.insert(Type::PTR);
        } else if (type == "CNAME") {
          zone.addCname(name, scalar(v));
        } else {
          err = "unknown record type " + type + " at " + name;
          return false;
        }
      }
    }
    if (!listed_txt) {
      for (const std::string& s : spf) {
        zone.addTxt(name, s);
      }
    }
    if (timeout) {
      std::vector<Type> types;
      for (const Type t : {Type::A, Type::AAAA, Type::TXT, Type::MX, Type::PTR}) {
        if (with_records.count(t) == 0) {
          types.push_back(t);
        }
      }
      if (!types.empty()) {
        zone.setTimeout(name, types);
      }
    }
  }
  return true;
}

bool runSuite(const fs::path& file, bool apply_changed, SuiteReport& report) {
  std::vector<YAML::Node> scenarios;
  try {
    scenarios = YAML::LoadAllFromFile(file.string());
  } catch (const YAML::Exception& e) {
    std::fprintf(stderr, "%s:%d: %s\n", file.c_str(), e.mark.line + 1, e.what());
    return false;
  }
  for (const YAML::Node& scenario : scenarios) {
    mw::dns::ZoneResolver zone;
    std::string err;
    if (!loadZone(scenario["zonedata"], zone, err)) {
      std::fprintf(stderr, "%s: scenario '%s': %s\n", file.c_str(),
                   scalar(scenario["description"]).c_str(), err.c_str());
      return false;
    }
    mw::spf::Options options;
    options.default_explanation = "DEFAULT";
    options.clock = std::make_shared<mw::FixedClock>(1400000000);
    for (const auto& t : scenario["tests"]) {
      const std::string name = t.first.Scalar();
      const YAML::Node& test = t.second;
      std::vector<std::string> want;
      if (test["result"].IsSequence()) {
        for (const YAML::Node& r : test["result"]) {
          want.push_back(r.Scalar());
        }
      } else {
        want.push_back(scalar(test["result"]));
      }
      mw::spf::Checker checker(zone, options);
      const mw::spf::CheckResult got =
          checker.checkMailFrom(scalar(test["host"]), scalar(test["helo"]),
                                scalar(test["mailfrom"]), mw::dns::Budget::unlimited());
      const std::string got_result(mw::spf::toString(got.result));
      bool result_ok = false;
      for (const std::string& w : want) {
        result_ok = result_ok || w == got_result;
      }
      if (compareLibspf2()) {
        const mw::spf::CheckResult lib = mw::spf::detail::checkWithLibspf2(
            zone, options, scalar(test["host"]), scalar(test["helo"]), scalar(test["mailfrom"]),
            mw::dns::Budget::unlimited());
        const std::string lib_result(mw::spf::toString(lib.result));
        bool lib_ok = false;
        for (const std::string& w : want) {
          lib_ok = lib_ok || w == lib_result;
        }
        ++(lib_ok ? report.libspf2.passed : report.libspf2.failed);
        if (!lib_ok && std::getenv("MW_SPF_VERBOSE") != nullptr) {
          std::printf("  libspf2 FAIL %s: got %s (%s)\n", name.c_str(), lib_result.c_str(),
                      lib.problem.c_str());
        }
      }
      const bool has_exp = test["explanation"].IsDefined();
      const bool exp_ok = !has_exp || got.explanation == scalar(test["explanation"]);
      std::string line = name + ": got " + got_result;
      if (has_exp) {
        line += " \"" + got.explanation + "\"";
      }
      line += ", want ";
      for (std::size_t i = 0; i < want.size(); ++i) {
        line += (i ? "|" : "") + want[i];
      }
      if (has_exp) {
        line += " \"" + scalar(test["explanation"]) + "\"";
      }
      if (!got.problem.empty()) {
        line += " (" + got.problem + ")";
      }
      if (apply_changed && kRfc7208Changed.count(name) != 0) {
        report.changed.push_back(line);
        continue;
      }
      ++(result_ok ? report.result_only.passed : report.result_only.failed);
      ++(result_ok && exp_ok ? report.with_exp.passed : report.with_exp.failed);
      if (!(result_ok && exp_ok)) {
        report.failures.push_back(line);
      } else if (std::getenv("MW_SPF_VERBOSE") != nullptr) {
        std::printf("  ok %s\n", line.c_str());
      }
    }
  }
  return true;
}

fs::path suiteDir() {
  if (const char* env = std::getenv("MW_CONFORMANCE_DIR"); env != nullptr && *env != '\0') {
    const fs::path p(env);
    return fs::exists(p / "rfc7208-tests.yml") ? p : p / "spf";
  }
  return fs::path(MW_CONFORMANCE_DEFAULT_DIR);
}

// The floor file: lines "SUITE result|explanation N"; '#' starts a comment.
std::map<std::string, int> readFloor(const fs::path& file) {
  std::map<std::string, int> floor;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::istringstream fields(line);
    std::string suite;
    std::string kind;
    int n = 0;
    if (fields >> suite >> kind >> n) {
      floor[suite + " " + kind] = n;
    }
  }
  return floor;
}

}  // namespace

int main() {
  const fs::path dir = suiteDir();
  if (!fs::exists(dir / "rfc7208-tests.yml")) {
    std::printf("SKIP: no SPF suite in %s (set MW_CONFORMANCE_DIR)\n", dir.c_str());
    return 77;
  }
  const std::map<std::string, int> floor = readFloor(MW_SPF_FLOOR_FILE);
  bool ok = true;
  for (const char* suite : {"rfc7208-tests.yml", "rfc4408-tests.yml"}) {
    SuiteReport report;
    const bool rfc4408 = std::string(suite) == "rfc4408-tests.yml";
    if (!runSuite(dir / suite, rfc4408, report)) {
      return 1;
    }
    std::printf("%s: %d passed, %d failed (result and explanation scored)\n", suite,
                report.with_exp.passed, report.with_exp.failed);
    std::printf("%s: %d passed, %d failed (result only)\n", suite, report.result_only.passed,
                report.result_only.failed);
    if (compareLibspf2()) {
      std::printf("%s: libspf2 behind our parser and DNS layer (not scored): %d passed, "
                  "%d failed (result only)\n",
                  suite, report.libspf2.passed, report.libspf2.failed);
    }
    for (const std::string& f : report.failures) {
      std::printf("  FAIL %s\n", f.c_str());
    }
    for (const std::string& c : report.changed) {
      std::printf("  not scored (RFC 7208 changed the RFC 4408 expectation) %s\n", c.c_str());
    }
    for (const auto& [kind, counts] :
         {std::pair<const char*, Counts>{"explanation", report.with_exp},
          std::pair<const char*, Counts>{"result", report.result_only}}) {
      const auto it = floor.find(std::string(suite) + " " + kind);
      const int want = it == floor.end() ? 0 : it->second;
      if (counts.passed < want) {
        std::printf("%s: %s: %d passed is below the floor of %d\n", suite, kind, counts.passed, want);
        ok = false;
      }
    }
  }
  return ok ? 0 : 1;
}
