// arc/seal.h — ARC sealing (RFC 8617 §5.1): the ARC-Seal, ARC-Message-Signature and
// ARC-Authentication-Results of instance N+1 for a message we forward, signed with our
// own key (rsa-sha256 or ed25519-sha256, RFC 8463), on OpenSSL like the Verifier.
//
// What the sealer decides (RFC 8617 §5.1, §5.1.1, §5.1.2, §4.2.1):
//   - The newest ARC-Seal of the message says cv=fail: no seal (§5.1 step 1: the chain
//     is dead, nothing to add).
//   - N = 50 already (or more): no seal (§4.2.1: an instance above 50 is invalid).
//   - The chain failed only because a key lookup failed temporarily
//     (Validation::temporary): no seal. A seal now would write cv=fail for good over a
//     chain that may be valid; the caller decides whether to tempfail.
//   - Otherwise i=N+1; cv=none when N = 0, cv=pass when the chain validated, cv=fail
//     when it did not. The AS of a pass (or none) covers the sets 1..N+1 (§5.1.1); the AS
//     of a fail covers only the new set, "as if this newest ARC Set was the only set"
//     (§5.1.2).
//   - The AMS is relaxed/relaxed over the body and the header fields of
//     SealOptions::headers (RFC 6376 §5.4.2 selection, the new AAR included in what it
//     can pick), never ARC-Seal or ARC-Message-Signature (RFC 8617 §4.1.2).
//   - The fields' tags are in alphabetical order with one space after each ";" when
//     canonicalized (the layout the ValiMail signing suite fixes, so b= values can be
//     compared byte for byte); folding only between tags, never inside b=.
//
// Keys: read once, before the privilege drop (the caller's business), then shared
// read-only by every message (a SealKey is a shared handle: copying is cheap, signing
// from several threads at once is safe, each signature has its own EVP_MD_CTX).
//
// Thread-safety: a Sealer is one message, one thread at a time; free functions are
// thread-safe. Input (header fields, body) is untrusted; the sealer reads existing ARC
// sets through the Verifier's own parsers (arc/internal.h), which are fuzzed, hence no
// fuzz target of its own. Nothing here throws except std::bad_alloc.
#pragma once

#include <openssl/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/arc/arc.h"
#include "mailwarden/base/clock.h"
#include "mailwarden/base/result.h"
#include "mailwarden/dns/resolver.h"

namespace mw::arc {

// The least RSA size we sign with (RFC 8301 §3.2: verifiers ignore smaller keys; 2048
// is what RFC 8301 recommends).
inline constexpr int kMinSealRsaBits = 1024;
// A key file larger than this is not a key (bounds the read).
inline constexpr std::size_t kMaxKeyFileBytes = 64 * 1024;

enum class SealAlgorithm { RsaSha256, Ed25519Sha256 };
std::string_view toString(SealAlgorithm a) noexcept;  // "rsa-sha256", "ed25519-sha256"

// A private key for sealing: RSA (>= kMinSealRsaBits) or Ed25519. Copyable; copies share
// one immutable OpenSSL key (EVP_PKEY, freed with the last copy).
class SealKey {
 public:
  SealAlgorithm algorithm() const noexcept { return algorithm_; }
  int bits() const noexcept { return bits_; }  // 2048, ..., 256 for Ed25519
  // The OpenSSL key, for this module's signing code; never null.
  EVP_PKEY* unsafeHandle() const noexcept { return key_.get(); }

 private:
  friend Result<SealKey> parseSealKey(std::string_view pem);
  SealKey(std::shared_ptr<EVP_PKEY> key, SealAlgorithm algorithm, int bits)
      : key_(std::move(key)), algorithm_(algorithm), bits_(bits) {}
  std::shared_ptr<EVP_PKEY> key_;
  SealAlgorithm algorithm_;
  int bits_;
};

// PEM: PKCS#8 ("BEGIN PRIVATE KEY", RSA or Ed25519) or traditional RSA ("BEGIN RSA
// PRIVATE KEY"). Errors (Errc::Invalid): not a PEM private key, an encrypted key (no
// passphrase is ever asked), RSA under kMinSealRsaBits, any other key type (EC, DSA...).
[[nodiscard]] Result<SealKey> parseSealKey(std::string_view pem);
// The same from a file; errors name the path: missing, unreadable, too large, and the
// above.
[[nodiscard]] Result<SealKey> loadSealKey(const std::string& path);

// The key record this key needs at SELECTOR._domainkey.DOMAIN (RFC 6376 §3.6.1):
// "v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>" or "v=DKIM1; k=ed25519; p=<base64
// of the 32-byte key>" (RFC 8463 §4).
std::string publicKeyRecord(const SealKey& key);

// configtest: the TXT records at SELECTOR._domainkey.DOMAIN carry this key's public
// half. Errors: Errc::TempFail when DNS failed temporarily, Errc::Invalid when no record,
// no usable key (the parser's reason), or a different key is published. Blocks at most
// `budget`'s time.
[[nodiscard]] Result<void> checkPublishedKey(const SealKey& key, std::string_view domain,
                                             std::string_view selector, dns::Resolver& resolver,
                                             const dns::Budget& budget = dns::Budget(
                                                 std::chrono::seconds(10)));

struct SealOptions {
  std::string domain;    // d=, the sealer's domain (ASCII or U-labels: written as A-labels)
  std::string selector;  // s=
  std::shared_ptr<const SealKey> key;
  // AMS h=, names in the order given (a name listed twice signs two fields; one listed
  // but absent "oversigns": RFC 6376 §5.4.2). Empty: every field of the message whose
  // name is in kDefaultSignedHeaders, once per occurrence, From always.
  std::vector<std::string> headers;
  std::optional<std::int64_t> timestamp;  // t=; default: the Clock's now
};

// RFC 6376 §5.4.1's list, plus the MIME fields, Message-ID and DKIM-Signature.
extern const std::vector<std::string_view> kDefaultSignedHeaders;

// Why options cannot seal (empty domain or selector, not DNS names, no key, h= naming
// ARC-Seal or ARC-Message-Signature): Errc::Invalid.
[[nodiscard]] Result<void> checkSealOptions(const SealOptions& options);

// A header field to add, as verdict::HeaderEdit carries one: the value without its
// leading space, folded with "\r\n " (CRLF SP: seal.cpp's fold() says why not TAB).
struct Field {
  std::string name;
  std::string value;
};

struct Sealed {
  // ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results: prepend in this order
  // (the first is the topmost). Empty when the RFC says not to seal (`skipped`).
  std::vector<Field> fields;
  int instance = 0;             // i= of the new set (0 when skipped)
  ChainResult cv = ChainResult::None;  // cv= written
  std::string skipped;          // why nothing was sealed ("" when sealed)
};

// One message, fed as it streams in: header() per received field (value = everything
// after the colon, leading space and folding kept), body() per chunk (CRLF line ends,
// the body as it will be delivered), then seal() once.
class Sealer {
 public:
  // `options` are checked by seal() (checkSealOptions); `clock` must outlive the Sealer.
  Sealer(SealOptions options, const Clock& clock);
  ~Sealer();
  Sealer(const Sealer&) = delete;
  Sealer& operator=(const Sealer&) = delete;

  void header(std::string_view name, std::string_view value);
  void endOfHeaders() {}  // for message::feedMessage
  void body(std::string_view chunk);

  // `chain`: the Verifier's result for this same message. `aar_payload`: the
  // Authentication-Results payload to record ("authserv-id; spf=pass ..."; folded with
  // CRLF WSP or not), written after "i=N+1; ". Errors: bad options or payload
  // (Errc::Invalid), an OpenSSL failure (Errc::Internal), a second call (Errc::Internal).
  [[nodiscard]] Result<Sealed> seal(const Validation& chain, std::string_view aar_payload);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Seals a whole raw message (CRLF or LF line ends, fed through message::MessageReader):
// verifies its chain with `resolver` and `clock`, then seals. Returns the message with
// the new fields on top (CRLF line ends) — or unchanged when Sealed::skipped says why.
// For tests, the conformance driver and tests/tools/arc_seal.
[[nodiscard]] Result<std::string> sealMessage(std::string_view raw, const SealOptions& options,
                                              std::string_view aar_payload,
                                              dns::Resolver& resolver, const Clock& clock,
                                              Sealed* detail = nullptr);

}  // namespace mw::arc
