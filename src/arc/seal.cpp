// arc/seal.cpp — RFC 8617 §5.1 sealing: keys (PEM through OpenSSL), the AMS over the
// message, the AS over the ARC sets, and the checks of §5.1 / §4.2.1 that say whether to
// seal at all. The contract is in mailwarden/arc/seal.h.
#include "mailwarden/arc/seal.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <utility>

#include "arc/internal.h"
#include "mailwarden/dns/idna.h"
#include "mailwarden/base/ascii.h"
#include "mailwarden/message/reader.h"

namespace mw::arc {

using detail::encodeBase64;
using detail::MdCtx;
using detail::PKey;

std::string_view toString(SealAlgorithm a) noexcept {
  switch (a) {
    case SealAlgorithm::RsaSha256:
      return "rsa-sha256";
    case SealAlgorithm::Ed25519Sha256:
      return "ed25519-sha256";
  }
  return "rsa-sha256";
}

const std::vector<std::string_view> kDefaultSignedHeaders = {
    // RFC 6376 §5.4.1
    "from", "reply-to", "subject", "date", "to", "cc", "resent-date", "resent-from",
    "resent-to", "resent-cc", "in-reply-to", "references", "list-id", "list-help",
    "list-unsubscribe", "list-subscribe", "list-post", "list-owner", "list-archive",
    // what a forwarder must not let change unnoticed either
    "message-id", "mime-version", "content-type", "content-transfer-encoding",
    "dkim-signature"};

namespace {

using Bio = UniqueC<BIO, BIO_free>;

// No passphrase is ever asked: an encrypted key is an error, not a prompt on a daemon.
int noPassphrase(char*, int, int, void*) { return -1; }

// RFC 8463 §3: Ed25519 signs the SHA-256 of the data; RSA (PKCS#1 v1.5) signs the data
// with SHA-256. The signature, or empty when OpenSSL failed.
std::string sign(const SealKey& key, std::string_view data) {
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx) {
    return {};
  }
  std::string in(data);
  if (key.algorithm() == SealAlgorithm::Ed25519Sha256) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1 ||
        EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.unsafeHandle()) != 1) {
      return {};
    }
    in.assign(reinterpret_cast<const char*>(md), len);
  } else if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                                key.unsafeHandle()) != 1) {
    return {};
  }
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, p, in.size()) != 1) {
    return {};
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, p,
                     in.size()) != 1) {
    return {};
  }
  sig.resize(len);
  return sig;
}

// A tag-list in our layout: "a=...; b=...; ..." — tags in the order given (callers give
// them alphabetically), one space after each ";" (what relaxed canonicalization leaves of
// any folding we add later).
std::string joinTags(const std::vector<std::pair<std::string, std::string>>& tags) {
  std::string out;
  for (const auto& [k, v] : tags) {
    if (!out.empty()) {
      out += "; ";
    }
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

// Folds a value made of "; "-separated parts (our tag-lists, the AAR) before a part that
// would pass 78 characters (RFC 5322 §2.1.1), never inside one: "; " becomes ";\r\n ",
// which relaxed canonicalization turns back into "; ". `first` is the length of "Name: ".
// A space, not a TAB: dkimpy's arc_verify (python3-dkim 1.0.5) finds the AMS of instance
// N by the text " i=N;" and crashed (IndexError) on our "\r\n\ti=2;" when h= was long
// enough to fold before i= (tests/integration/arc_seal_test.sh found it). Both are FWS
// to RFC 5322; the space keeps a widespread verifier working.
std::string fold(std::string_view value, std::size_t first) {
  std::string out;
  std::size_t col = first;
  std::size_t pos = 0;
  while (pos <= value.size()) {
    std::size_t end = value.find("; ", pos);
    const bool last = end == std::string_view::npos;
    if (last) {
      end = value.size();
    }
    const std::string_view part = value.substr(pos, end - pos + (last ? 0 : 1));  // with ";"
    if (pos > 0) {
      if (col + 1 + part.size() > 78) {
        out += "\r\n ";
        col = 1;
      } else {
        out += ' ';
        ++col;
      }
    }
    out += part;
    col += part.size();
    if (last) {
      break;
    }
    pos = end + 2;
  }
  return out;
}

// A header field value that is safe to write: folding only as CRLF followed by WSP, no
// bare CR or LF, no NUL.
bool safeValue(std::string_view v) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (c == '\0') {
      return false;
    }
    if (c == '\r') {
      if (i + 2 >= v.size() || v[i + 1] != '\n' || (v[i + 2] != ' ' && v[i + 2] != '\t')) {
        return false;
      }
      ++i;
    } else if (c == '\n') {
      return false;
    }
  }
  return true;
}

struct Received {
  std::string name;
  std::string value;
};

enum class ArcKind { None, Seal, Signature, Results };

ArcKind arcKind(std::string_view name) {
  const std::string_view n = ascii::trim(name);
  if (ascii::iequals(n, "ARC-Seal")) {
    return ArcKind::Seal;
  }
  if (ascii::iequals(n, "ARC-Message-Signature")) {
    return ArcKind::Signature;
  }
  if (ascii::iequals(n, "ARC-Authentication-Results")) {
    return ArcKind::Results;
  }
  return ArcKind::None;
}

// The instance of an ARC field (nullopt when it has none we can read).
std::optional<int> instanceOf(ArcKind kind, std::string_view value) {
  if (kind == ArcKind::Results) {
    return detail::aarInstance(value);
  }
  detail::Tags t;
  if (value.size() > kMaxFieldBytes || detail::parseTags(value, t)) {
    return std::nullopt;
  }
  const std::string* i = detail::tag(t, "i");
  return i == nullptr ? std::nullopt : detail::parseInstance(*i);
}

}  // namespace

// --- keys ---------------------------------------------------------------------------

Result<SealKey> parseSealKey(std::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    return fail(Errc::Internal, "cannot read the key (OpenSSL BIO)");
  }
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr);
  if (raw == nullptr) {
    const bool encrypted = pem.find("ENCRYPTED") != std::string_view::npos;
    return fail(Errc::Invalid, encrypted ? "the key is encrypted (a passphrase is never asked: "
                                           "store it decrypted, readable by root only)"
                                         : "not a PEM private key");
  }
  std::shared_ptr<EVP_PKEY> key(raw, EVP_PKEY_free);
  const int type = EVP_PKEY_get_base_id(raw);
  const int bits = EVP_PKEY_get_bits(raw);
  if (type == EVP_PKEY_RSA) {
    if (bits < kMinSealRsaBits) {
      return fail(Errc::Invalid, "RSA key of " + std::to_string(bits) +
                                     " bits: verifiers ignore keys under 1024 bits (RFC 8301 "
                                     "§3.2); use 2048");
    }
    return SealKey(std::move(key), SealAlgorithm::RsaSha256, bits);
  }
  if (type == EVP_PKEY_ED25519) {
    return SealKey(std::move(key), SealAlgorithm::Ed25519Sha256, bits);
  }
  const char* name = OBJ_nid2sn(type);
  return fail(Errc::Invalid, std::string("unsupported key type ") +
                                 (name != nullptr ? name : "?") +
                                 ": ARC signs with RSA (rsa-sha256) or Ed25519 (RFC 8463)");
}

Result<SealKey> loadSealKey(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int e = errno;
    return fail(Errc::Invalid, path + ": cannot open the key: " +
                                   (e != 0 ? std::strerror(e) : "unknown error"));
  }
  std::string pem(kMaxKeyFileBytes + 1, '\0');
  in.read(pem.data(), static_cast<std::streamsize>(pem.size()));
  if (in.bad()) {
    return fail(Errc::Invalid, path + ": cannot read the key");
  }
  pem.resize(static_cast<std::size_t>(in.gcount()));
  if (pem.size() > kMaxKeyFileBytes) {
    return fail(Errc::Invalid, path + ": larger than " + std::to_string(kMaxKeyFileBytes) +
                                   " bytes: not a key");
  }
  Result<SealKey> key = parseSealKey(pem);
  if (!key) {
    key.error().message = path + ": " + key.error().message;
  }
  return key;
}

std::string publicKeyRecord(const SealKey& key) {
  if (key.algorithm() == SealAlgorithm::Ed25519Sha256) {
    std::string raw(32, '\0');
    std::size_t len = raw.size();
    if (EVP_PKEY_get_raw_public_key(key.unsafeHandle(),
                                    reinterpret_cast<unsigned char*>(raw.data()), &len) != 1) {
      return {};
    }
    raw.resize(len);
    return "v=DKIM1; k=ed25519; p=" + encodeBase64(raw);
  }
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key.unsafeHandle(), &der);
  if (n <= 0) {
    return {};
  }
  const std::string bytes(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  return "v=DKIM1; k=rsa; p=" + encodeBase64(bytes);
}

Result<void> checkPublishedKey(const SealKey& key, std::string_view domain,
                               std::string_view selector, dns::Resolver& resolver,
                               const dns::Budget& budget) {
  const std::optional<std::string> dom = dns::lookupDomain(domain);
  if (!dom || selector.empty()) {
    return fail(Errc::Invalid, "arc seal: bad domain or selector");
  }
  const std::string name = std::string(selector) + "._domainkey." + *dom;
  const dns::Answer answer = resolver.query(name, dns::Type::TXT, budget);
  switch (dns::classify(answer)) {
    case dns::Outcome::Found:
      break;
    case dns::Outcome::Temporary:
      return fail(Errc::TempFail, name + ": DNS lookup failed: " +
                                      std::string(dns::toString(answer.status)));
    case dns::Outcome::Absent:
      return fail(Errc::Invalid, name + ": no key record is published; publish \"" +
                                     publicKeyRecord(key) + "\"");
    case dns::Outcome::BadName:
      return fail(Errc::Invalid, name + " is not a DNS name");
  }
  std::string why;
  for (const std::string& txt : answer.txt) {
    detail::Key published;
    const std::string bad = detail::parseKey(txt, published);
    if (!bad.empty()) {
      why = bad;
      continue;
    }
    if (EVP_PKEY_eq(published.pkey.get(), key.unsafeHandle()) == 1) {
      return {};
    }
    why = "the published key is not the public half of this key";
  }
  return fail(Errc::Invalid, name + ": " + (why.empty() ? "no key record" : why) +
                                 "; publish \"" + publicKeyRecord(key) + "\"");
}

Result<void> checkSealOptions(const SealOptions& o) {
  if (!o.key) {
    return fail(Errc::Invalid, "arc seal: no key");
  }
  const std::optional<std::string> dom = dns::lookupDomain(o.domain);
  if (o.domain.empty() || !dom || !dns::isQueryableName(o.selector + "._domainkey." + *dom)) {
    return fail(Errc::Invalid, "arc seal: \"" + o.selector + "._domainkey." + o.domain +
                                   "\" is not a DNS name (domain, selector)");
  }
  if (o.selector.empty() || o.selector.find_first_of(" \t;=") != std::string::npos) {
    return fail(Errc::Invalid, "arc seal: bad selector \"" + o.selector + "\"");
  }
  for (const std::string& h : o.headers) {
    if (h.empty() || h.find_first_of(" \t:;\r\n") != std::string::npos) {
      return fail(Errc::Invalid, "arc seal: bad header name \"" + h + "\"");
    }
    if (ascii::iequals(h, "ARC-Seal") || ascii::iequals(h, "ARC-Message-Signature")) {
      return fail(Errc::Invalid, "arc seal: the AMS never signs " + h + " (RFC 8617 §4.1.2)");
    }
  }
  if (o.headers.size() > kMaxSignedFields) {
    return fail(Errc::Invalid, "arc seal: more than " + std::to_string(kMaxSignedFields) +
                                   " header names to sign");
  }
  return {};
}

// --- the sealer ---------------------------------------------------------------------

struct Sealer::Impl {
  SealOptions options;
  const Clock& clock;
  std::vector<Received> headers;
  BodyHasher body{true};  // AMS c=relaxed/relaxed
  bool sealed = false;

  Impl(SealOptions o, const Clock& c) : options(std::move(o)), clock(c) {}

  Result<Sealed> run(const Validation& chain, std::string_view payload);
};

Sealer::Sealer(SealOptions options, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), clock)) {}

Sealer::~Sealer() = default;

void Sealer::header(std::string_view name, std::string_view value) {
  impl_->headers.push_back({std::string(name), std::string(value)});
}

void Sealer::body(std::string_view chunk) { impl_->body.update(chunk); }

Result<Sealed> Sealer::seal(const Validation& chain, std::string_view aar_payload) {
  if (impl_->sealed) {
    return fail(Errc::Internal, "arc seal: seal() called twice for one message");
  }
  impl_->sealed = true;
  return impl_->run(chain, aar_payload);
}

Result<Sealed> Sealer::Impl::run(const Validation& chain, std::string_view payload) {
  if (Result<void> ok = checkSealOptions(options); !ok) {
    return fail(ok.error());
  }
  payload = detail::trimFws(payload);
  if (payload.empty() || !safeValue(payload) || payload.size() > kMaxFieldBytes) {
    return fail(Errc::Invalid, "arc seal: the Authentication-Results payload is empty, too "
                               "long, or not a header field value");
  }
  Sealed out;
  // The existing sets, by instance: N is the highest instance we can read (the
  // Verifier's N when its structure held, else ours, so a broken chain still gets the
  // next number), and whether the newest ARC-Seal says cv=fail (§5.1 step 1).
  std::map<int, std::vector<const Received*>> sets;  // i -> its AAR, AMS, AS (as found)
  int n = chain.instances;
  bool any_arc = false;
  const Received* newest_as = nullptr;
  int newest_as_i = 0;
  for (const Received& h : headers) {
    const ArcKind kind = arcKind(h.name);
    if (kind == ArcKind::None) {
      continue;
    }
    any_arc = true;
    const std::optional<int> i = instanceOf(kind, h.value);
    if (!i) {
      continue;
    }
    n = std::max(n, *i);
    sets[*i].push_back(&h);
    if (kind == ArcKind::Seal && *i > newest_as_i) {
      newest_as = &h;
      newest_as_i = *i;
    }
  }
  if (newest_as != nullptr) {
    detail::Tags t;
    const std::string* cv = detail::parseTags(newest_as->value, t) ? nullptr : detail::tag(t, "cv");
    if (cv != nullptr && ascii::iequals(*cv, "fail")) {
      out.skipped = "the newest ARC-Seal says cv=fail (RFC 8617 §5.1)";
      return out;
    }
  }
  if (n >= kMaxInstances) {
    out.skipped = "the chain has " + std::to_string(n) + " instances already (at most " +
                  std::to_string(kMaxInstances) + ", RFC 8617 §4.2.1)";
    return out;
  }
  ChainResult cv = chain.cv;
  if (any_arc && cv == ChainResult::None) {
    cv = ChainResult::Fail;  // ARC fields the caller's Validation did not see
  }
  if (cv == ChainResult::Fail && chain.temporary) {
    out.skipped = "the chain could not be validated (temporary DNS failure): not sealed";
    return out;
  }
  if (any_arc && n == 0) {
    out.skipped = "ARC header fields without a readable instance: not sealed";
    return out;
  }
  if (cv == ChainResult::None) {
    n = 0;
  }
  const int i = n + 1;
  const std::string inst = std::to_string(i);
  const std::string alg(toString(options.key->algorithm()));
  const std::string dom = *dns::lookupDomain(options.domain);  // checked above
  const std::string t = std::to_string(options.timestamp.value_or(clock.now()));

  // ARC-Authentication-Results (RFC 8617 §4.1.1).
  const std::string aar = "i=" + inst + "; " + std::string(payload);

  // ARC-Message-Signature (§4.1.2): RFC 6376 §3.7 over the header fields as they will
  // be, the new AAR on top of what was received (so h= may name it).
  std::vector<std::string> names;
  if (!options.headers.empty()) {
    for (const std::string& h : options.headers) {
      names.push_back(ascii::lower(h));
    }
  } else {
    bool from = false;
    for (const std::string_view d : kDefaultSignedHeaders) {
      for (const Received& h : headers) {
        if (ascii::iequals(ascii::trim(h.name), d)) {
          names.emplace_back(d);
          from = from || d == "from";
        }
      }
    }
    if (!from) {
      names.insert(names.begin(), "from");  // RFC 6376 §5.4: From is always signed
    }
  }
  std::vector<Received> view;
  view.reserve(headers.size() + 1);
  view.push_back({"ARC-Authentication-Results", " " + aar});
  view.insert(view.end(), headers.begin(), headers.end());
  std::string h_list;
  for (const std::string& name : names) {
    h_list += (h_list.empty() ? "" : ":") + name;
  }
  const std::string digest = body.digest();
  if (digest.empty()) {
    return fail(Errc::Internal, "arc seal: body hash failed (OpenSSL)");
  }
  std::vector<std::pair<std::string, std::string>> ams_tags = {
      {"a", alg}, {"b", ""}, {"bh", encodeBase64(digest)}, {"c", "relaxed/relaxed"},
      {"d", dom}, {"h", h_list}, {"i", inst}, {"s", options.selector}, {"t", t}};
  std::string data = detail::canonSignedHeaders(view, names, true);
  std::string self = canonHeaderRelaxed("ARC-Message-Signature", joinTags(ams_tags));
  self.resize(self.size() - 2);  // RFC 6376 §3.7: the signature field, no final CRLF
  data += self;
  const std::string ams_sig = sign(*options.key, data);
  if (ams_sig.empty()) {
    return fail(Errc::Internal, "arc seal: signing failed (OpenSSL)");
  }
  ams_tags[1].second = encodeBase64(ams_sig);
  const std::string ams = joinTags(ams_tags);

  // ARC-Seal (§4.1.3, §5.1.1): the sets 1..N then ours, each AAR, AMS, AS, relaxed; ours
  // last with b= empty. A failed chain: our set alone (§5.1.2).
  std::vector<std::pair<std::string, std::string>> as_tags = {
      {"a", alg}, {"b", ""}, {"cv", std::string(toString(cv))}, {"d", dom},
      {"i", inst}, {"s", options.selector}, {"t", t}};
  data.clear();
  if (cv == ChainResult::Pass) {
    for (int j = 1; j <= n; ++j) {
      const auto it = sets.find(j);
      // A passing chain has one of each per instance (the Verifier checked it).
      if (it == sets.end() || it->second.size() != 3) {
        return fail(Errc::Internal, "arc seal: the chain passed but set i=" +
                                        std::to_string(j) + " is not complete here");
      }
      for (const ArcKind want : {ArcKind::Results, ArcKind::Signature, ArcKind::Seal}) {
        for (const Received* f : it->second) {
          if (arcKind(f->name) == want) {
            data += canonHeaderRelaxed(f->name, f->value);
          }
        }
      }
    }
  }
  data += canonHeaderRelaxed("ARC-Authentication-Results", aar);
  data += canonHeaderRelaxed("ARC-Message-Signature", ams);
  self = canonHeaderRelaxed("ARC-Seal", joinTags(as_tags));
  self.resize(self.size() - 2);
  data += self;
  const std::string as_sig = sign(*options.key, data);
  if (as_sig.empty()) {
    return fail(Errc::Internal, "arc seal: signing failed (OpenSSL)");
  }
  as_tags[1].second = encodeBase64(as_sig);

  out.instance = i;
  out.cv = cv;
  out.fields.push_back({"ARC-Seal", fold(joinTags(as_tags), 10)});
  out.fields.push_back({"ARC-Message-Signature", fold(ams, 23)});
  out.fields.push_back({"ARC-Authentication-Results", aar});
  return out;
}

// --- whole messages -----------------------------------------------------------------

Result<std::string> sealMessage(std::string_view raw, const SealOptions& options,
                                std::string_view aar_payload, dns::Resolver& resolver,
                                const Clock& clock, Sealed* detail) {
  const dns::Budget budget = dns::Budget::unlimited();
  Verifier verifier(resolver, budget, clock);
  Sealer sealer(options, clock);
  struct Both {
    Verifier& v;
    Sealer& s;
    void header(std::string_view n, std::string_view value) {
      v.header(n, value);
      s.header(n, value);
    }
    void endOfHeaders() { v.endOfHeaders(); }
    void body(std::string_view b) {
      v.body(b);
      s.body(b);
    }
  } both{verifier, sealer};
  message::feedMessage(raw, both);
  Result<Sealed> sealed = sealer.seal(verifier.finish(), aar_payload);
  if (!sealed) {
    return fail(sealed.error());
  }
  std::string out;
  for (const Field& f : sealed->fields) {
    out += f.name + ": " + f.value + "\r\n";
  }
  if (raw.find("\r\n") != std::string_view::npos) {
    out += raw;
  } else {
    for (const char c : raw) {
      out += c == '\n' ? std::string("\r\n") : std::string(1, c);
    }
  }
  if (detail != nullptr) {
    *detail = std::move(*sealed);
  }
  return out;
}

}  // namespace mw::arc
