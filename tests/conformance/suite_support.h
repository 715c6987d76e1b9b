// tests/conformance/suite_support.h — what every conformance driver does the same way:
// read a file whole, find its suite under ../shared/conformance (or MW_CONFORMANCE_DIR),
// and read its floor file.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
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

}  // namespace mw::conformance
