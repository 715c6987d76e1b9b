// tests/tools/arc_verify — validates the ARC chain of one message with mailwarden's
// arc::verifyMessage (RFC 8617 §5.2), keys from zone files only (dns::ZoneResolver, no
// network), for tests/integration/arc_chain_test.sh and the integration tests that
// compare our verdict with dkimpy's.
//
//   arc_verify --zone FILE [--zone FILE]... [--time UNIX_TIME] < message.eml
//
// Prints one line:
//   cv=pass|fail|none instances=N oldest_pass=K|- sealers=D1,D2,...|- [reason=...]
// (reason only when not pass). --time fixes the clock used for t= (default: now).
// Exit 0 whatever cv is; 1 on a usage, file or zone error (message on stderr).
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "mailwarden/arc/arc.h"
#include "mailwarden/base/clock.h"
#include "mailwarden/dns/zone.h"

namespace {

int usage() {
  std::fprintf(stderr, "usage: arc_verify --zone FILE [--zone FILE]... [--time T] < message.eml\n");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> zones;
  std::int64_t now = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      return usage();
    }
    const char* v = argv[++i];
    if (a == "--zone") {
      zones.emplace_back(v);
    } else if (a == "--time") {
      char* end = nullptr;
      const long long t = std::strtoll(v, &end, 10);
      if (end == v || *end != '\0' || t <= 0) {
        return usage();
      }
      now = t;
    } else {
      return usage();
    }
  }
  if (zones.empty()) {
    return usage();
  }
  mw::dns::ZoneResolver resolver;
  for (const std::string& z : zones) {
    if (auto r = resolver.loadFile(z); !r) {
      std::fprintf(stderr, "arc_verify: %s\n", r.error().describe().c_str());
      return 1;
    }
  }
  const std::string raw((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  if (std::cin.bad()) {
    std::fprintf(stderr, "arc_verify: cannot read the message from stdin\n");
    return 1;
  }
  const mw::SystemClock system_clock;
  const mw::FixedClock fixed_clock(now);
  const mw::Clock& clock = now > 0 ? static_cast<const mw::Clock&>(fixed_clock) : system_clock;
  const mw::arc::Validation v = mw::arc::verifyMessage(raw, resolver, clock);

  std::string sealers;
  for (const std::string& s : v.sealers) {
    sealers += (sealers.empty() ? "" : ",") + s;
  }
  std::string line = "cv=" + std::string(mw::arc::toString(v.cv)) +
                     " instances=" + std::to_string(v.instances) + " oldest_pass=" +
                     (v.oldest_pass ? std::to_string(*v.oldest_pass) : std::string("-")) +
                     " sealers=" + (sealers.empty() ? std::string("-") : sealers);
  if (!v.reason.empty()) {
    line += " reason=" + v.reason;
  }
  std::printf("%s\n", line.c_str());
  return 0;
}
