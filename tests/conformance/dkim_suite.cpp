// Conformance driver: DKIM verification through mailwarden's dkim/ module over the
// public corpora in ../shared/conformance/dkim/ (README.md there describes them):
//
//   mail-dkim   the 79 Mail::DKIM corpus messages against expected-results.yaml, keys
//               from FAKE_DNS.dat (NXDOMAIN / "~~Query timed out~~" / "~~SERVFAIL~~" /
//               "" become the zone resolver's nothing / timeout / servfail / empty TXT).
//               The message verdict is Mail::DKIM's: pass if a signature passes, else
//               fail if one fails, else invalid (policy, permerror, temperror,
//               neutral); none without DKIM-Signature (DomainKeys-only messages, which a
//               DKIM verifier reports as none). `rfc8301: must-not-pass` entries score
//               when they do NOT pass (Mail::DKIM's expectations predate RFC 8301);
//               where such an entry's verdict differs from Mail::DKIM's fail/invalid,
//               it is listed ("differs, not scored").
//   rfc8463     RFC 8463 A.3: each of its two signatures (ed25519-sha256, rsa-sha256)
//               must pass with the A.2 key records; one changed body byte must fail both.
//   dkimpy      dkimpy's signed messages (rfc6376.signed*.msg, simple/simple): every
//               signature must pass; and round trips: each dkimpy test key signs each
//               dkimpy test message with our Signer, verified against dkimpy's key
//               record (must pass), then with one body byte changed (must fail).
//
// The clock is fixed at 1700000000 (2023-11-14): after every corpus t=, before no x=
// except the expired one of ignore_7.txt. Prints "N passed, N failed" per corpus and
// every failure (every test with MW_DKIM_VERBOSE=1); fails when a count is below
// tests/conformance/dkim-floor.txt. Without the corpora: skipped (exit 77), which
// tests/run-all.sh counts as a failure on CI.
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "suite_support.h"
#include "mailwarden/dkim/dkim.h"
#include "mailwarden/dns/zone.h"

namespace {

namespace fs = std::filesystem;
using mw::dkim::Status;

constexpr std::int64_t kNow = 1'700'000'000;

struct Counts {
  int passed = 0;
  int failed = 0;
  std::vector<std::string> failures;
  std::vector<std::string> notes;  // passed, but worth a look
  void add(bool ok, const std::string& line) {
    ++(ok ? passed : failed);
    if (!ok) {
      failures.push_back(line);
    } else if (std::getenv("MW_DKIM_VERBOSE") != nullptr) {
      std::printf("  ok %s\n", line.c_str());
    }
  }
};

// Key files in the FAKE_DNS.dat layout: "name<whitespace>value", '#' comments.
void loadKeyFile(const fs::path& file, mw::dns::ZoneResolver& zone) {
  std::istringstream in(mw::conformance::readFile(file));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (line.empty() || line[0] == '#') {
      continue;
    }
    const std::size_t sp = line.find_first_of(" \t");
    if (sp == std::string::npos) {
      continue;
    }
    const std::string name = line.substr(0, sp);
    std::string value = line.substr(line.find_first_not_of(" \t", sp));
    if (value == "NXDOMAIN") {
      continue;  // names not added do not exist
    }
    if (value == "~~Query timed out~~") {
      zone.setTimeout(name);
    } else if (value == "~~SERVFAIL~~") {
      zone.setServfail(name);
    } else if (value == "\"\"") {
      zone.addTxt(name, "");
    } else {
      zone.addTxt(name, value);
    }
  }
}

// Mail::DKIM's message verdict from our per-signature results.
std::string verdictOf(const mw::dkim::Outcome& out) {
  if (out.signatures.empty()) {
    return "none";
  }
  bool fail = false;
  for (const auto& s : out.signatures) {
    if (s.result == Status::Pass) {
      return "pass";
    }
    fail = fail || s.result == Status::Fail;
  }
  return fail ? "fail" : "invalid";
}

std::string describe(const mw::dkim::Outcome& out) {
  std::string d;
  for (const auto& s : out.signatures) {
    d += std::string(d.empty() ? "" : "; ") + std::string(mw::dkim::toString(s.result)) + " d=" +
         s.domain + " s=" + s.selector + " a=" + s.algorithm;
    if (!s.reason.empty()) {
      d += " (" + s.reason + ")";
    }
  }
  if (!out.error.empty()) {
    d += " [" + out.error + "]";
  }
  return d.empty() ? "no signature" : d;
}

bool runMailDkim(const mw::dkim::Library& lib, const fs::path& dir, Counts& c) {
  mw::dns::ZoneResolver zone;
  loadKeyFile(dir / "FAKE_DNS.dat", zone);
  YAML::Node doc;
  try {
    doc = YAML::LoadFile((dir / "expected-results.yaml").string());
  } catch (const YAML::Exception& e) {
    std::fprintf(stderr, "expected-results.yaml:%d: %s\n", e.mark.line + 1, e.what());
    return false;
  }
  const mw::FixedClock clock(kNow);
  for (const auto& entry : doc["messages"]) {
    const std::string file = entry.first.Scalar();
    const YAML::Node& want = entry.second;
    const fs::path path = dir / "corpus" / file;
    if (!fs::exists(path)) {
      c.add(false, file + ": missing");
      continue;
    }
    const mw::dkim::Outcome out = mw::dkim::verifyMessage(lib, mw::conformance::readFile(path), zone, clock);
    const std::string got = verdictOf(out);
    std::string expected = want["result"].Scalar();
    const bool domainkeys_only = !want["alg"] && file.find("dk_") != std::string::npos;
    if (domainkeys_only) {
      expected = "none";  // DomainKey-Signature only: nothing for a DKIM verifier
    }
    const bool must_not_pass =
        want["rfc8301"] && want["rfc8301"].Scalar() == "must-not-pass";
    const bool ok = must_not_pass ? got != "pass" : got == expected;
    if (ok && must_not_pass && expected != "pass" && got != expected) {
      // Not scored, listed: e.g. pre-RFC 6376 signatures without v= are invalid to us
      // (RFC 6376 §3.5: v= is required) where Mail::DKIM says fail.
      c.notes.push_back(file + ": " + got + " where Mail::DKIM says " + expected + ": " +
                        describe(out));
    }
    c.add(ok, file + ": got " + got + ", want " +
                  (must_not_pass ? "not pass (RFC 8301)" : expected) + ": " + describe(out));
  }
  return true;
}

void runRfc8463(const mw::dkim::Library& lib, const fs::path& dir, Counts& c) {
  mw::dns::ZoneResolver zone;
  loadKeyFile(dir / "rfc8463-a2-keys.txt", zone);
  const mw::FixedClock clock(kNow);
  const std::string msg = mw::conformance::readFile(dir / "rfc8463-a3-signed.eml");
  const mw::dkim::Outcome out = mw::dkim::verifyMessage(lib, msg, zone, clock);
  for (const char* alg : {"ed25519-sha256", "rsa-sha256"}) {
    bool ok = false;
    for (const auto& s : out.signatures) {
      ok = ok || (s.algorithm == alg && s.result == Status::Pass);
    }
    c.add(ok, std::string("A.3 ") + alg + " passes: " + describe(out));
  }
  std::string changed = msg;
  const std::size_t at = changed.rfind("Joe.");
  if (at != std::string::npos) {
    changed[at] = 'j';
  }
  const mw::dkim::Outcome bad = mw::dkim::verifyMessage(lib, changed, zone, clock);
  bool none_pass = !bad.signatures.empty();
  for (const auto& s : bad.signatures) {
    none_pass = none_pass && s.result == Status::Fail;
  }
  c.add(none_pass && at != std::string::npos,
        "A.3 with one body byte changed fails both: " + describe(bad));
}

void runDkimpy(const mw::dkim::Library& lib, const fs::path& dir, Counts& c) {
  const mw::FixedClock clock(kNow);
  // Key records: the RFC 8463 selectors (dkimpy signs its rfc6376 messages with them).
  auto zoneFor = [&](const std::string& name, const std::string& record) {
    auto zone = std::make_unique<mw::dns::ZoneResolver>();
    zone->addTxt("brisbane._domainkey.football.example.com",
                 "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
    zone->addTxt("test._domainkey.football.example.com", mw::conformance::readFile(dir / "test.txt"));
    if (!name.empty()) {
      zone->addTxt(name, record);
    }
    return zone;
  };
  auto trim = [](std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
      s.pop_back();
    }
    return s;
  };
  for (const char* file : {"rfc6376.signed.msg", "rfc6376.signed.rsa.msg"}) {
    auto zone = zoneFor("", "");
    const mw::dkim::Outcome out = mw::dkim::verifyMessage(lib, mw::conformance::readFile(dir / file), *zone, clock);
    bool ok = !out.signatures.empty();
    for (const auto& s : out.signatures) {
      ok = ok && s.result == Status::Pass;
    }
    c.add(ok, std::string(file) + ": every signature passes: " + describe(out));
  }
  struct Key {
    const char* key_file;
    const char* record_file;
    mw::dkim::Algorithm alg;
  };
  const Key keys[] = {
      {"test.private", "test.txt", mw::dkim::Algorithm::RsaSha256},
      {"test2.private", "test2.txt", mw::dkim::Algorithm::RsaSha256},
      {"1024_testkey.key", "1024_testkey_wo_markers.pub.txt", mw::dkim::Algorithm::RsaSha256},
      {"2048_testkey.key", "2048_testkey_wo_markers.pub.txt", mw::dkim::Algorithm::RsaSha256},
      {"2048_testkey_PKCS8.key", "2048_testkey_PKCS8.key.pub.txt", mw::dkim::Algorithm::RsaSha256},
      {"ed25519test.key", "ed25519test.dns", mw::dkim::Algorithm::Ed25519Sha256},
      {"rfc8032_7_1.key", "", mw::dkim::Algorithm::Ed25519Sha256},
  };
  const char* messages[] = {"test.message",  "test2.message",    "test_extra.message",
                            "rfc6376.msg",   "rfc6376.w1258.msg", "ed25519test.msg",
                            "ed25519test2.msg"};
  for (const Key& k : keys) {
    const std::string name = std::string("sel._domainkey.example.com");
    std::string record = k.record_file[0] != '\0'
                             ? trim(mw::conformance::readFile(dir / k.record_file))
                             : "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
    auto zone = zoneFor(name, record);
    mw::dkim::SignOptions o;
    o.domain = "example.com";
    o.selector = "sel";
    o.algorithm = k.alg;
    o.private_key = trim(mw::conformance::readFile(dir / k.key_file));
    o.timestamp = kNow - 60;
    for (const char* m : messages) {
      const std::string label = std::string(k.key_file) + " signs " + m;
      const mw::Result<std::string> signed_msg = mw::dkim::signMessage(mw::conformance::readFile(dir / m), o);
      if (!signed_msg) {
        c.add(false, label + ": " + signed_msg.error().describe());
        c.add(false, label + " (changed): not signed");
        continue;
      }
      const mw::dkim::Outcome out = mw::dkim::verifyMessage(lib, *signed_msg, *zone, clock);
      // Ours is the topmost signature; some messages carry signatures of their own whose
      // keys are not published here.
      c.add(!out.signatures.empty() && out.signatures[0].result == Status::Pass &&
                out.signatures[0].domain == "example.com",
            label + ": " + describe(out));
      // One changed body byte: the last letter or digit of the message.
      std::string changed = *signed_msg;
      const std::size_t at = changed.find_last_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
      changed[at] = changed[at] == 'x' ? 'y' : 'x';
      const mw::dkim::Outcome bad = mw::dkim::verifyMessage(lib, changed, *zone, clock);
      c.add(!bad.signatures.empty() && bad.signatures[0].result == Status::Fail,
            label + " (changed): " + describe(bad));
    }
  }
}

}  // namespace

int main() {
  const fs::path dir = mw::conformance::suiteDir("mail-dkim", "dkim", MW_CONFORMANCE_DEFAULT_DIR);
  if (!fs::exists(dir / "mail-dkim" / "expected-results.yaml")) {
    std::printf("SKIP: no DKIM corpora in %s (set MW_CONFORMANCE_DIR)\n", dir.c_str());
    return 77;
  }
  const auto lib = mw::dkim::Library::create();
  if (!lib) {
    std::printf("libopendkim: %s\n", lib.error().describe().c_str());
    return 1;
  }
  const std::map<std::string, int> floor = mw::conformance::readFloor(MW_DKIM_FLOOR_FILE);
  std::map<std::string, Counts> results;
  if (!runMailDkim(**lib, dir / "mail-dkim", results["mail-dkim"])) {
    return 1;
  }
  runRfc8463(**lib, dir / "rfc8463", results["rfc8463"]);
  runDkimpy(**lib, dir / "dkimpy", results["dkimpy"]);
  bool ok = true;
  for (const char* corpus : {"mail-dkim", "rfc8463", "dkimpy"}) {
    const Counts& c = results[corpus];
    std::printf("%s: %d passed, %d failed\n", corpus, c.passed, c.failed);
    for (const std::string& f : c.failures) {
      std::printf("  FAIL %s\n", f.c_str());
    }
    for (const std::string& n : c.notes) {
      std::printf("  differs, not scored: %s\n", n.c_str());
    }
    const auto it = floor.find(corpus);
    const int want = it == floor.end() ? 0 : it->second;
    if (c.passed < want) {
      std::printf("%s: %d passed is below the floor of %d\n", corpus, c.passed, want);
      ok = false;
    }
  }
  return ok ? 0 : 1;
}
