// tests/conformance/suite_support.h — what every conformance driver does the same way:
// read a file whole, find its suite under ../shared/conformance (or MW_CONFORMANCE_DIR),
// read its floor file, and (the ARC drivers) run the ValiMail file and Mail::DKIM's copy
// and hold each to its floor.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <string_view>

namespace mw::conformance {

inline std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// MW_CONFORMANCE_DIR (either the suite's own folder, recognised by `marker` in it, or the
// folder above it, then `sub`), else the build's default (MW_CONFORMANCE_DEFAULT_DIR).
inline std::filesystem::path suiteDir(std::string_view marker, std::string_view sub,
                                      const char* default_dir) {
  if (const char* env = std::getenv("MW_CONFORMANCE_DIR"); env != nullptr && *env != '\0') {
    const std::filesystem::path p(env);
    return std::filesystem::exists(p / marker) ? p : p / sub;
  }
  return std::filesystem::path(default_dir);
}

// A floor file: lines "NAME N" (the least that must pass); '#' starts a comment.
inline std::map<std::string, int> readFloor(const std::filesystem::path& file) {
  std::map<std::string, int> floor;
  std::istringstream in(readFile(file));
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string name;
    int n = 0;
    if (words >> name >> n) {
      floor[name] = n;
    }
  }
  return floor;
}

// A YAML block has LF line ends; messages go to the readers with CRLF.
inline std::string toCrlf(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 16);
  for (const char c : s) {
    if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  return out;
}

struct Counts {
  int passed = 0;
  int failed = 0;
  int skipped = 0;
};

// The ARC suites: `file` (e.g. "arc-draft-validation-tests.yml") of the ValiMail suite
// and, when present, of Mail::DKIM's copy, each through `run` (false: the file could not
// be read: exit 1), printed as "CORPUS: N passed, N failed, N skipped (WHY_SKIPPED)" and
// held to its floor in `floor_file`. Returns the exit status (77 without the suite).
inline int runArcCorpora(const char* default_dir, std::string_view file,
                         const std::filesystem::path& floor_file, std::string_view why_skipped,
                         const std::function<bool(const std::filesystem::path&, Counts&)>& run) {
  const std::filesystem::path dir = suiteDir("valimail", "arc", default_dir);
  const std::filesystem::path valimail = dir / "valimail" / file;
  const std::filesystem::path variant = dir / "mail-dkim-variant" / file;
  if (!std::filesystem::exists(valimail)) {
    std::printf("SKIP: no ARC suite in %s (set MW_CONFORMANCE_DIR)\n", dir.c_str());
    return 77;
  }
  const std::map<std::string, int> floor = readFloor(floor_file);
  std::map<std::string, Counts> results;
  std::printf("valimail:\n");
  if (!run(valimail, results["valimail"])) {
    return 1;
  }
  if (std::filesystem::exists(variant)) {
    std::printf("mail-dkim-variant:\n");
    if (!run(variant, results["mail-dkim-variant"])) {
      return 1;
    }
  }
  bool ok = true;
  for (const auto& [corpus, c] : results) {
    std::printf("%s: %d passed, %d failed, %d skipped (%.*s)\n", corpus.c_str(), c.passed,
                c.failed, c.skipped, static_cast<int>(why_skipped.size()), why_skipped.data());
    const auto it = floor.find(corpus);
    const int want = it == floor.end() ? 0 : it->second;
    if (c.passed < want) {
      std::printf("%s: %d passed is below the floor of %d\n", corpus.c_str(), c.passed, want);
      ok = false;
    }
  }
  return ok ? 0 : 1;
}

}  // namespace mw::conformance
