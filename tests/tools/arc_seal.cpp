// tests/tools/arc_seal — adds an ARC set (RFC 8617 §5.1) to one message through
// mailwarden's arc::Sealer, after validating the chain it already carries with
// arc::Verifier, for tests (tests/unit/arc/seal_dkimpy_test.sh) and demos.
//
//   arc_seal --key FILE --domain D --selector S --aar PAYLOAD [--dns-zone ZONE]
//            [--time UNIX_TIME] < in.eml > out.eml
//   arc_seal --key FILE --record          (prints the key record to publish)
//
// FILE: a PEM private key (RSA >= 1024 bits or Ed25519). PAYLOAD: the
// Authentication-Results payload for the AAR ("authserv-id; spf=pass ..."). ZONE: an
// RFC 1035 master file with the key records of the chain already on the message (none:
// every key lookup fails, so an existing chain validates as fail). --time fixes t= and the
// clock used to validate. Output: the message with CRLF line ends and the new set on
// top. Exit 0 sealed, 2 not sealed (the message unchanged on stdout, why on stderr), 1
// bad input.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "mailwarden/arc/seal.h"
#include "mailwarden/base/clock.h"
#include "mailwarden/dns/zone.h"

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: arc_seal --key FILE --domain D --selector S --aar PAYLOAD "
               "[--dns-zone ZONE] [--time T] < in.eml > out.eml\n"
               "       arc_seal --key FILE --record\n");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string key_file, zone_file, aar;
  bool record = false;
  mw::arc::SealOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--record") {
      record = true;
      continue;
    }
    if (i + 1 >= argc) {
      return usage();
    }
    const std::string v = argv[++i];
    if (a == "--key") {
      key_file = v;
    } else if (a == "--domain") {
      o.domain = v;
    } else if (a == "--selector") {
      o.selector = v;
    } else if (a == "--aar") {
      aar = v;
    } else if (a == "--dns-zone") {
      zone_file = v;
    } else if (a == "--time") {
      char* end = nullptr;
      const long long t = std::strtoll(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || t <= 0) {
        std::fprintf(stderr, "arc_seal: --time %s: not a Unix time\n", v.c_str());
        return 1;
      }
      o.timestamp = t;
    } else {
      return usage();
    }
  }
  if (key_file.empty()) {
    return usage();
  }
  mw::Result<mw::arc::SealKey> key = mw::arc::loadSealKey(key_file);
  if (!key) {
    std::fprintf(stderr, "arc_seal: %s\n", key.error().describe().c_str());
    return 1;
  }
  if (record) {
    std::printf("%s\n", mw::arc::publicKeyRecord(*key).c_str());
    return 0;
  }
  if (o.domain.empty() || o.selector.empty() || aar.empty()) {
    return usage();
  }
  o.key = std::make_shared<const mw::arc::SealKey>(*key);
  mw::dns::ZoneResolver zone;
  if (!zone_file.empty()) {
    if (const mw::Result<void> r = zone.loadFile(zone_file); !r) {
      std::fprintf(stderr, "arc_seal: %s\n", r.error().describe().c_str());
      return 1;
    }
  }
  std::unique_ptr<mw::Clock> clock;
  if (o.timestamp) {
    clock = std::make_unique<mw::FixedClock>(*o.timestamp);
  } else {
    clock = std::make_unique<mw::SystemClock>();
  }
  std::ostringstream in;
  in << std::cin.rdbuf();
  mw::arc::Sealed detail;
  const mw::Result<std::string> out = mw::arc::sealMessage(in.str(), o, aar, zone, *clock, &detail);
  if (!out) {
    std::fprintf(stderr, "arc_seal: %s\n", out.error().describe().c_str());
    return 1;
  }
  std::fwrite(out->data(), 1, out->size(), stdout);
  if (std::fflush(stdout) != 0) {
    return 1;
  }
  if (detail.fields.empty()) {
    std::fprintf(stderr, "arc_seal: not sealed: %s\n", detail.skipped.c_str());
    return 2;
  }
  return 0;
}
