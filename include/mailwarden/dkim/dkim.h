// dkim/dkim.h — DKIM (RFC 6376) verification and signing over libopendkim, with our
// policy on top:
//   - RFC 8301 §3.1: rsa-sha1 never passes (libopendkim verifies it happily): "policy".
//   - RFC 8301 §3.2: an RSA key under 1024 bits never passes: "policy".
//   - At most VerifyOptions::max_signatures signatures are evaluated per message (the
//     first ones in header order); the rest are reported as not evaluated.
//   - t= in the future and x= in the past are judged against our Clock (`check --now`),
//     not libopendkim's time(): "policy" with the reason.
//   - One unparsable DKIM-Signature does not hide the others (DKIM_LIBFLAGS_BADSIGHANDLES).
//   - Keys come through dns::Resolver, inside the message's dns::Budget; a temporary DNS
//     failure is "temperror" for that signature only.
// ../shared/conformance/FINDINGS.md §3 lists the libopendkim traps each of these answers.
//
// Thread-safety: a Library is immutable after create() and shared by every thread (one
// per Snapshot). A Verifier or Signer is one message, one thread at a time. Input
// (headers, body, DNS answers) is untrusted: bad input becomes a result, never a crash.
// Nothing here throws except std::bad_alloc.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/base/clock.h"
#include "mailwarden/base/result.h"
#include "mailwarden/dns/resolver.h"

namespace mw::dkim {

// The RFC 8601 §2.7.1 result of one signature.
enum class Status { Pass, Fail, Neutral, Policy, TempError, PermError };
std::string_view toString(Status r) noexcept;

struct SignatureResult {
  Status result = Status::PermError;
  std::string domain;     // d=, lower-case (empty when the signature has none)
  std::string selector;   // s=
  std::string algorithm;  // a=, lower-case ("rsa-sha256", "ed25519-sha256", ...)
  std::string identity;   // i= as decoded (RFC 6376 §2.11 QP); empty when absent
  std::string b_prefix;   // the first 8 characters of b= (RFC 6008 header.b)
  std::string reason;     // why it is not "pass"; empty for pass
  unsigned key_bits = 0;  // RSA modulus bits; 0 for Ed25519 or when no key was loaded
};

struct Outcome {
  std::vector<SignatureResult> signatures;  // evaluated ones, in header order
  int not_evaluated = 0;                    // signatures beyond max_signatures
  // Set when the message as a whole could not be verified (a library failure); the
  // signatures then carry what was known.
  std::string error;
  // The error is temporary: one of our libopendkim callbacks failed inside mailwarden
  // (an exception, caught at the C boundary); signatures left are temperror.
  bool temporary = false;
};

struct VerifyOptions {
  int max_signatures = 5;
  // Seconds of clock skew tolerated for t= and x= (libopendkim's default).
  std::int64_t clock_drift = 300;
};

class Verifier;

// One libopendkim library handle (DKIM_LIB) configured for verification with our
// callbacks. One per Snapshot.
class Library {
 public:
  // Fails (Errc::Internal) when libopendkim cannot start or lacks Ed25519.
  [[nodiscard]] static Result<std::shared_ptr<const Library>> create();
  ~Library();
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;

  struct Impl;

 private:
  Library();
  std::unique_ptr<Impl> impl_;
  friend class Verifier;
};

using LibraryConstSharedPtr = std::shared_ptr<const Library>;

// One message's verification, fed as it streams in: header() per field as received,
// endOfHeaders() (key lookups happen here), body() per chunk, finish() once.
// `library`, `resolver`, `budget` and `clock` must outlive the Verifier.
class Verifier {
 public:
  Verifier(const Library& library, dns::Resolver& resolver, const dns::Budget& budget,
           const Clock& clock, VerifyOptions options = {});
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  // `value` is everything after the colon, leading whitespace and folding (CRLF) kept.
  void header(std::string_view name, std::string_view value);
  void endOfHeaders();
  // Body bytes with CRLF line ends, any chunking (including 1 byte).
  void body(std::string_view chunk);
  // Calls endOfHeaders() if needed. Further calls return the same Outcome.
  Outcome finish();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The value of tag `name` in a DKIM-Signature field value (RFC 6376 §3.2), whitespace
// (folding included) removed; nullopt when absent. No validation of the value.
std::optional<std::string> signatureTag(std::string_view value, std::string_view name);

// The name of the TXT record holding the key a signature names (RFC 6376 §3.6.2.1):
// "SELECTOR._domainkey.D", D lower-case in A-labels (RFC 8616); nullopt when d= is not
// a valid (internationalized) domain name or the result is not a DNS name. The
// Verifier's key lookup asks exactly this name, so a lookup started early for it
// (dns::Session) is the one the Verifier joins.
std::optional<std::string> keyRecordName(std::string_view selector, std::string_view domain);

// Verifies a whole raw message (CRLF or LF line ends), fed through message::MessageReader
// as an MTA would present it, in body chunks of `chunk` bytes (0: one piece). For tests,
// the conformance driver, fuzzing and benchmarks; DNS without a budget limit.
Outcome verifyMessage(const Library& library, std::string_view raw, dns::Resolver& resolver,
                      const Clock& clock, VerifyOptions options = {}, std::size_t chunk = 0);

enum class Algorithm {
  RsaSha256,
  Ed25519Sha256,
  // Tests only: RFC 8301 §3.1 forbids signing with it; the tests sign with it to prove
  // the Verifier never lets it pass.
  RsaSha1,
};

struct SignOptions {
  std::string domain;
  std::string selector;
  Algorithm algorithm = Algorithm::RsaSha256;
  // RSA: a PEM private key. Ed25519: the base64 of the 32-byte seed (dkimpy's and
  // RFC 8463 A.1's form) or a PEM PKCS#8 key.
  std::string private_key;
  std::string identity;         // i= (RFC 6376 §3.5, "@domain" or "user@domain"); "" = none
  std::int64_t timestamp = 0;   // t=; 0 = now
  std::int64_t expiration = 0;  // x=; 0 = none
  // c=simple/simple instead of relaxed/relaxed (tests of byte-exact header handling).
  bool simple = false;
  // Tests only: allow RSA keys under 1024 bits (RFC 8301 §3.2 forbids signing with
  // them; libopendkim refuses by default), to prove the Verifier never passes them.
  bool allow_weak_key = false;
};

// libopendkim leaks the loaded private key of each signer (a few hundred bytes; see
// tests/support/lsan_opendkim.cpp): fine for tests and tools, not for a long-running
// signer of many messages.
// Signs one message (relaxed/relaxed by default, RFC 6376 §3.4.2/§3.4.4) the same way the
// Verifier reads it: header() per field, body() per chunk, then signatureField() gives
// the value of the DKIM-Signature field to prepend ("v=1; a=...", folded with CRLF+TAB).
class Signer {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Signer>> create(const SignOptions& options);
  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  void header(std::string_view name, std::string_view value);
  void body(std::string_view chunk);
  // The field value, without "DKIM-Signature:" and without the final CRLF.
  [[nodiscard]] Result<std::string> signatureField();

  struct Impl;

 private:
  Signer();
  std::unique_ptr<Impl> impl_;
};

// Signs a whole raw message (CRLF or LF line ends) and returns it with the
// DKIM-Signature field prepended (line ends as CRLF). For tests, tools and benchmarks.
[[nodiscard]] Result<std::string> signMessage(std::string_view raw, const SignOptions& options);

}  // namespace mw::dkim
