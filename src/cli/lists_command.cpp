// cli/lists_command.cpp — `mailwarden lists test [-c FILE] [--dns-zone FILE]...`: the
// RFC 5782 §5 test points of every configured DNS list, asked live (or of the given zone
// files), one line per list. Exit 0 when every list passes, 1 when one does not (or the
// command line is wrong), 2 when the configuration does not load.
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "mailwarden/config/config.h"
#include "mailwarden/reputation/lists.h"
#include "mailwarden/scan/snapshot.h"

namespace mw::cli {

int runLists(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "test") {
    std::fprintf(stderr, "mailwarden lists: expected 'test'\n");
    printUsage(true);
    return 1;
  }
  std::string path = config::kDefaultPath;
  std::vector<std::string> zones;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "-c" || a == "--config" || a == "--dns-zone") && i + 1 < args.size()) {
      const std::string& v = args[++i];
      if (a == "--dns-zone") {
        struct stat st {};
        if (::stat(v.c_str(), &st) != 0) {
          std::fprintf(stderr, "mailwarden lists test: --dns-zone %s: no such file\n", v.c_str());
          return 1;
        }
        zones.push_back(v);
      } else {
        path = v;
      }
    } else {
      std::fprintf(stderr, "mailwarden lists test: unexpected argument %s\n", a.c_str());
      return 1;
    }
  }
  config::LoadResult loaded = config::loadFile(path);
  if (!loaded.ok()) {
    for (const Error& e : loaded.errors) {
      std::fprintf(stderr, "%s\n", e.describe().c_str());
    }
    return 2;
  }
  config::Config& cfg = loaded.config;
  obs::configure(obs::Sink::Stderr, obs::Level::Warn);
  if (cfg.reputation.lists.empty()) {
    std::printf("%s: no DNS lists configured (reputation.lists)\n", path.c_str());
    return 0;
  }
  for (const std::string& z : zones) {
    cfg.dns.zone_files.push_back(z);
  }
  // The resolver the milter would use (scan::makeResolver).
  Result<dns::ResolverSharedPtr> resolver = scan::makeResolver(cfg.dns);
  if (!resolver) {
    std::fprintf(stderr, "mailwarden lists test: %s\n", resolver.error().describe().c_str());
    return 2;
  }
  bool all_ok = true;
  for (const reputation::ListOptions& list : cfg.reputation.lists) {
    // Each list gets the whole per-message budget: a slow list does not starve the next.
    const dns::Budget budget{std::chrono::milliseconds(cfg.dns.budget_ms)};
    const reputation::ListTest t = reputation::testList(list, **resolver, budget);
    all_ok = all_ok && t.ok;
    std::printf("%s\n", t.line.c_str());
  }
  return all_ok ? 0 : 1;
}

}  // namespace mw::cli
