// fuzz target of dkim/: DKIM verification (libopendkim behind our Verifier) of a fuzzed
// message against fixed keys: the test keys of tests/keys (selectors ed25519 and rsa2048
// of dkim.test) and a "timeout" selector whose lookup fails.
//
// Input: a raw message (header, empty line, body). Seeds: tests/fuzz/corpus/dkim_verify/
// (messages signed by tests/tools/dkim_sign with those keys, and damaged variants).
//
// Properties: no crash, no leak; at most max_signatures results; the results do not
// depend on how the body is chunked (whole vs. 7-byte chunks).
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "mailwarden/dkim/dkim.h"
#include "mailwarden/dns/zone.h"

namespace {

struct Fixture {
  mw::dkim::LibraryConstSharedPtr library;
  mw::dns::ZoneResolver zone;
  mw::FixedClock clock{1'700'000'000};
  Fixture() {
    auto lib = mw::dkim::Library::create();
    if (!lib) {
      std::abort();
    }
    library = *lib;
    zone.addTxt("ed25519._domainkey.dkim.test", "v=DKIM1; k=ed25519; p=gzkyTmNplt1Ut1xcbmTKnKx7DJ4REsHnNGPnNp2UP/w=");
    zone.addTxt("rsa2048._domainkey.dkim.test",
                "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA9OtU1UYgGO2hy7QO0sLCHMu6ZaNyy0aVHiHbXg0kLoO8Vyffc3r2h18h0Lm5l53vxU4J28V6tJTXeNV1amdUqoAcPmE1F2PgHnc6KM6eUFqbw4fO4I6MJKeIkAE2bvVUwG6EUgZAsBQJRNYuCwHUogkHobwT0sO8Hog3d2EV/64LmEigTNVIOOAFYokLMTeJxJGye8T9k3ZyFX3t71yMzZ369Qbep5SNZkD8oIjpfYpjcBAFFbi923PGK1XDmC3UELb8mDur1RmNAqDvGx41dTTdkeH7nsdx1eKHaO4uAPlFE8Gd5W2EhiNRxtcEMtwX+9xWTf6c3jhC0y5Ph7HN6wIDAQAB");
    zone.setTimeout("timeout._domainkey.dkim.test");
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 256 * 1024) {
    return 0;
  }
  Fixture& f = fixture();
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  mw::dkim::VerifyOptions o;
  o.max_signatures = 3;
  const mw::dkim::Outcome whole = mw::dkim::verifyMessage(*f.library, raw, f.zone, f.clock, o);
  if (whole.signatures.size() > static_cast<std::size_t>(o.max_signatures)) {
    std::abort();
  }
  const mw::dkim::Outcome chunked =
      mw::dkim::verifyMessage(*f.library, raw, f.zone, f.clock, o, 7);
  if (chunked.signatures.size() != whole.signatures.size()) {
    std::abort();
  }
  for (std::size_t i = 0; i < whole.signatures.size(); ++i) {
    if (chunked.signatures[i].result != whole.signatures[i].result) {
      std::abort();
    }
  }
  return 0;
}
