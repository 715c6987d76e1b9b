// tests/tools/dkim_sign — signs one message with DKIM (relaxed/relaxed) through
// mailwarden's dkim::Signer, for tests, the DMARC golden cases, the demo and the load
// generator.
//
//   dkim_sign --key FILE --domain D --selector S [--algorithm rsa-sha256|ed25519]
//             [--time UNIX_TIME] [--expire UNIX_TIME] < in.eml > out.eml
//
// FILE: a PEM private key (RSA or Ed25519, as `openssl genpkey` writes them) or, for
// ed25519, the base64 of the 32-byte seed (RFC 8463 A.1). The output has CRLF line ends
// and the DKIM-Signature field on top. Exit 0 on success, 1 on bad input (message on
// stderr).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

#include "mailwarden/dkim/dkim.h"

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: dkim_sign --key FILE --domain D --selector S "
               "[--algorithm rsa-sha256|ed25519] [--time T] [--expire T] < in.eml > out.eml\n");
  return 1;
}

bool parseTime(const char* s, std::int64_t& out) {
  char* end = nullptr;
  const long long v = std::strtoll(s, &end, 10);
  if (end == s || *end != '\0' || v <= 0) {
    return false;
  }
  out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  mw::dkim::SignOptions o;
  std::string key_file;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      return usage();
    }
    const char* v = argv[++i];
    if (a == "--key") {
      key_file = v;
    } else if (a == "--domain") {
      o.domain = v;
    } else if (a == "--selector") {
      o.selector = v;
    } else if (a == "--algorithm") {
      const std::string alg = v;
      if (alg == "rsa-sha256") {
        o.algorithm = mw::dkim::Algorithm::RsaSha256;
      } else if (alg == "ed25519" || alg == "ed25519-sha256") {
        o.algorithm = mw::dkim::Algorithm::Ed25519Sha256;
      } else {
        std::fprintf(stderr, "dkim_sign: unknown algorithm %s\n", v);
        return 1;
      }
    } else if (a == "--time") {
      if (!parseTime(v, o.timestamp)) {
        std::fprintf(stderr, "dkim_sign: --time %s: not a Unix time\n", v);
        return 1;
      }
    } else if (a == "--expire") {
      if (!parseTime(v, o.expiration)) {
        std::fprintf(stderr, "dkim_sign: --expire %s: not a Unix time\n", v);
        return 1;
      }
    } else {
      return usage();
    }
  }
  if (key_file.empty() || o.domain.empty() || o.selector.empty()) {
    return usage();
  }
  std::ifstream kin(key_file, std::ios::binary);
  if (!kin) {
    std::fprintf(stderr, "dkim_sign: %s: cannot read\n", key_file.c_str());
    return 1;
  }
  o.private_key.assign(std::istreambuf_iterator<char>(kin), std::istreambuf_iterator<char>());
  std::ostringstream in;
  in << std::cin.rdbuf();
  const mw::Result<std::string> out = mw::dkim::signMessage(in.str(), o);
  if (!out) {
    std::fprintf(stderr, "dkim_sign: %s\n", out.error().describe().c_str());
    return 1;
  }
  std::fwrite(out->data(), 1, out->size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}
