// fuzz target of arc/: ARC chain validation of a fuzzed message against fixed keys: the
// ValiMail suite's RSA 1024 key (dummy._domainkey.example.org, what the seeds are sealed
// with) and a "timeout" selector whose lookup fails.
//
// Input: a raw message (header, empty line, body). Seeds: tests/fuzz/corpus/arc/ (suite
// messages: chains of 1..5 instances, a broken structure, a bad key name).
//
// Properties: no crash, no leak; instances within RFC 8617's 50; oldest-pass only with
// cv=pass and within 1..N; the result does not depend on how the body is chunked.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mailwarden/arc/arc.h"
#include "mailwarden/dns/zone.h"

namespace {

struct Fixture {
  mw::dns::ZoneResolver zone;
  mw::FixedClock clock{1'496'275'200};
  Fixture() {
    zone.addTxt("dummy._domainkey.example.org",
                "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/"
                "J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+"
                "2kryOTIKT+l/K4w3QIDAQAB");
    zone.setTimeout("timeout._domainkey.example.org");
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
  const mw::arc::Validation whole = mw::arc::verifyMessage(raw, f.zone, f.clock);
  if (whole.instances < 0 || whole.instances > mw::arc::kMaxInstances) {
    std::abort();
  }
  if (whole.oldest_pass &&
      (whole.cv != mw::arc::ChainResult::Pass || *whole.oldest_pass < 1 ||
       *whole.oldest_pass > whole.instances)) {
    std::abort();
  }
  const mw::arc::Validation chunked = mw::arc::verifyMessage(raw, f.zone, f.clock, {}, 7);
  if (chunked.cv != whole.cv || chunked.reason != whole.reason ||
      chunked.oldest_pass != whole.oldest_pass) {
    std::abort();
  }
  return 0;
}
