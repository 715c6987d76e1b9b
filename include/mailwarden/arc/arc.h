// arc/arc.h — ARC chain validation (RFC 8617 §5.2): collects the ARC sets of a message
// (ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results), checks their structure,
// verifies the newest ARC-Message-Signature (and the older ones, for oldest-pass) and
// every ARC-Seal, and reports the chain validation status none / pass / fail.
//
// Why our own code: Debian 12 packages no ARC library in C or C++ (`apt-cache search arc
// dkim` lists only python3-dkim and go-msgauth; OpenARC is not packaged), and libopendkim,
// which dkim/ uses, cannot verify ARC. So canonicalization (RFC 6376 §3.4), hashing and
// the signature check (OpenSSL EVP: rsa-sha256, ed25519-sha256 per RFC 8463) are here.
//
// Policy (the same key rules as dkim/):
//   - RFC 8301 §3.1: rsa-sha1 never validates (a set signed with it fails the chain).
//   - RFC 8301 §3.2: an RSA key under 1024 bits never validates.
//   - Keys: TXT at SELECTOR._domainkey.DOMAIN (RFC 6376 §3.6.2.1), parsed per §3.6.1
//     (v=DKIM1 first if present, k=rsa|ed25519, h= must allow sha256, s= must allow
//     email, empty p= = revoked).
//   - t= more than VerifyOptions::clock_drift in the future, or x= in the past, judged
//     against our Clock, makes the signature invalid.
//   - A temporary DNS failure for a key the validation needs: RFC 8617 has no temperror
//     for cv, so the result is Fail with `temporary` set and a reason starting
//     "temperror:" (the caller may then choose to tempfail rather than act on it; it
//     must never be read as a pass).
//   - Bounds: at most kMaxInstances (50, RFC 8617 §4.2.1) instances; at most
//     kMaxArcFields ARC header fields are kept (more: fail); h= of an AMS lists at most
//     kMaxSignedFields names; each ARC field value at most kMaxFieldBytes.
//
// Thread-safety: a Verifier is one message, one thread at a time; free functions are
// pure. Input (headers, body, DNS answers) is untrusted: bad input becomes a Fail with a
// reason, never a crash. Nothing here throws except std::bad_alloc.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/base/clock.h"
#include "mailwarden/dns/resolver.h"

namespace mw::arc {

inline constexpr int kMaxInstances = 50;              // RFC 8617 §4.2.1
inline constexpr std::size_t kMaxArcFields = 3 * kMaxInstances + 3;
inline constexpr std::size_t kMaxSignedFields = 256;  // names in one AMS h=
inline constexpr std::size_t kMaxFieldBytes = 64 * 1024;

// The chain validation status (RFC 8617 §4.4, the `cv` values; "none" = no ARC sets).
enum class ChainResult { None, Pass, Fail };
std::string_view toString(ChainResult r) noexcept;  // "none", "pass", "fail"

// What was found about one instance (filled as far as validation got).
struct Instance {
  int i = 0;
  std::string sealer_domain;  // d= of its ARC-Seal, lower-case ("" when unparsable)
  std::string selector;       // s= of its ARC-Seal
  bool ams_valid = false;     // its ARC-Message-Signature verified
  bool seal_valid = false;    // its ARC-Seal verified
  // Its ARC-Authentication-Results value as received ("i=N; authserv-id; ..."): what
  // the sealer says it saw (RFC 8617 §4.1.1), for a receiver that trusts it.
  std::string results;
};

struct Validation {
  ChainResult cv = ChainResult::None;
  int instances = 0;               // N, the highest instance (0 when none)
  std::optional<int> oldest_pass;  // RFC 8617 §5.2 step 4 (only when cv is Pass)
  std::vector<std::string> sealers;  // d= of AS i=1..N (when the structure was valid)
  std::vector<Instance> detail;      // i=1..N (when the structure was valid)
  std::string reason;                // why not pass ("" for pass and none)
  bool temporary = false;            // Fail because of a temporary DNS failure
};

struct VerifyOptions {
  std::int64_t clock_drift = 300;  // seconds tolerated for t= in the future
};

// One message's validation, fed as it streams in: header() per field as received,
// endOfHeaders() (key lookups are started here so they are in flight while the body
// arrives), body() per chunk, finish() once. `resolver`, `budget` and `clock` must
// outlive the Verifier.
class Verifier {
 public:
  Verifier(dns::Resolver& resolver, const dns::Budget& budget, const Clock& clock,
           VerifyOptions options = {});
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  // `value` is everything after the colon, leading whitespace and folding (CRLF) kept
  // (SMFIP_HDR_LEADSPC): "simple" header canonicalization needs the exact bytes.
  void header(std::string_view name, std::string_view value);
  void endOfHeaders();
  // Body bytes with CRLF line ends, any chunking.
  void body(std::string_view chunk);
  // Calls endOfHeaders() if needed. Further calls return the same Validation.
  Validation finish();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Validates a whole raw message (CRLF or LF line ends) fed through
// message::MessageReader as an MTA would present it, in body chunks of `chunk` bytes
// (0: one piece). For tests, the conformance driver, fuzzing and tools; DNS unlimited.
Validation verifyMessage(std::string_view raw, dns::Resolver& resolver, const Clock& clock,
                         VerifyOptions options = {}, std::size_t chunk = 0);

// --- Canonicalization (RFC 6376 §3.4), exposed for tests ----------------------------

// "simple" (§3.4.1): the field unchanged: name ":" value CRLF.
std::string canonHeaderSimple(std::string_view name, std::string_view value);
// "relaxed" (§3.4.2): name lower-cased, value unfolded, WSP runs to one SP, WSP at the
// ends of the value and around the colon removed; ends in CRLF.
std::string canonHeaderRelaxed(std::string_view name, std::string_view value);

// Streaming body canonicalization (§3.4.3 simple, §3.4.4 relaxed) into SHA-256, with an
// optional length limit (l=, §3.5). Any chunking gives the same result.
class BodyHasher {
 public:
  explicit BodyHasher(bool relaxed, std::optional<std::uint64_t> limit = std::nullopt);
  ~BodyHasher();
  BodyHasher(const BodyHasher&) = delete;
  BodyHasher& operator=(const BodyHasher&) = delete;
  void update(std::string_view chunk);
  // The SHA-256 of the canonical body; the hasher is finished afterwards (later calls
  // return the same digest). Empty when OpenSSL failed.
  std::string digest();
  // The canonical body itself is not kept; tests compare digests of known texts.
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The canonical body as text (no hashing): the same rules, for tests and tools.
std::string canonBody(std::string_view body, bool relaxed);

}  // namespace mw::arc
