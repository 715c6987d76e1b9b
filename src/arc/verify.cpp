// arc/verify.cpp — RFC 8617 §5.2 chain validation: structure, AMS and AS verification
// with keys from DNS (RFC 6376 §3.6), OpenSSL EVP for the signatures.
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <map>
#include <utility>

#include "arc/internal.h"
#include "mailwarden/arc/arc.h"
#include "mailwarden/base/ascii.h"
#include "mailwarden/base/unique_c.h"
#include "mailwarden/dns/idna.h"
#include "mailwarden/message/limits.h"
#include "mailwarden/message/reader.h"

namespace mw::arc {

std::string_view toString(ChainResult r) noexcept {
  switch (r) {
    case ChainResult::None:
      return "none";
    case ChainResult::Pass:
      return "pass";
    case ChainResult::Fail:
      return "fail";
  }
  return "fail";
}

namespace {

using detail::decodeBase64;
using dns::lookupDomain;
using detail::isFws;
using detail::Key;
using detail::MdCtx;
using detail::parseInstance;
using detail::parseKey;
using detail::parseTags;
using detail::parseTime;
using detail::tag;
using detail::Tags;
using detail::trimFws;
using detail::withoutB;

enum class Kind { Seal, Signature, Results };

enum class Alg { RsaSha256, Ed25519Sha256 };

struct Field {
  std::string name;
  std::string value;
};

struct ArcField {
  Kind kind;
  std::size_t index;  // into Impl::headers
  Tags tags;          // AS, AMS
};

struct Set {
  const ArcField* as = nullptr;
  const ArcField* ams = nullptr;
  const ArcField* aar = nullptr;
};

bool verifySignature(const Key& key, Alg alg, std::string_view data, const std::string& sig) {
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx) {
    return false;
  }
  const auto* s = reinterpret_cast<const unsigned char*>(sig.data());
  if (alg == Alg::RsaSha256) {
    if (key.type != EVP_PKEY_RSA ||
        EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.pkey.get()) != 1) {
      return false;
    }
    return EVP_DigestVerify(ctx.get(), s, sig.size(),
                            reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  }
  // RFC 8463 §3: Ed25519 signs the SHA-256 hash of the data, not the data.
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (key.type != EVP_PKEY_ED25519 ||
      EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1 ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.pkey.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), s, sig.size(), md, len) == 1;
}

// The parts common to AS and AMS (RFC 8617 §4.1.2, §4.1.3): a=, b=, d=, s=, t=, x=.
struct Common {
  Alg alg = Alg::RsaSha256;
  std::string sig;
  std::string domain;  // as written (lower-cased)
  std::string key_name;
};

std::optional<std::string> parseCommon(const Tags& t, Common& c) {
  const std::string* a = tag(t, "a");
  if (a == nullptr) {
    return "no a=";
  }
  if (*a == "rsa-sha256") {
    c.alg = Alg::RsaSha256;
  } else if (*a == "ed25519-sha256") {
    c.alg = Alg::Ed25519Sha256;
  } else if (*a == "rsa-sha1") {
    return "policy: rsa-sha1 (RFC 8301 §3.1)";
  } else {
    return "unknown a=" + *a;
  }
  const std::string* b = tag(t, "b");
  if (b == nullptr) {
    return "no b=";
  }
  const std::optional<std::string> sig = decodeBase64(*b);
  if (!sig) {
    return "b= is not base64";
  }
  c.sig = *sig;
  const std::string* d = tag(t, "d");
  const std::string* s = tag(t, "s");
  if (d == nullptr || d->empty()) {
    return "no d=";
  }
  if (s == nullptr || s->empty()) {
    return "no s=";
  }
  const std::optional<std::string> dom = lookupDomain(*d);
  if (!dom) {
    return "d= is not a domain name";
  }
  c.domain = *dom;
  c.key_name = *s + "._domainkey." + *dom;
  if (!dns::isQueryableName(c.key_name) || c.domain.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyz0123456789-._") != std::string::npos) {
    return "key name " + c.key_name + " is not a DNS name";
  }
  if (const std::string* tv = tag(t, "t"); tv != nullptr && !parseTime(*tv)) {
    return "bad t=";
  }
  if (const std::string* xv = tag(t, "x"); xv != nullptr && !parseTime(*xv)) {
    return "bad x=";
  }
  return std::nullopt;
}

}  // namespace

struct Verifier::Impl {
  dns::Resolver& resolver;
  const dns::Budget& budget;
  const Clock& clock;
  VerifyOptions options;

  std::vector<Field> headers;
  std::vector<ArcField> arc;
  std::size_t arc_seen = 0;
  bool ended = false;
  bool finished = false;
  Validation result;
  std::string structure_error;  // set at endOfHeaders: the chain fails without crypto

  std::vector<Set> sets;  // index i-1
  std::map<std::string, dns::LookupPtr, std::less<>> lookups;
  std::map<std::string, Key, std::less<>> keys;
  // Body hashers per (relaxed, l=).
  std::map<std::pair<bool, std::optional<std::uint64_t>>, std::unique_ptr<BodyHasher>> hashers;

  Impl(dns::Resolver& r, const dns::Budget& b, const Clock& c, VerifyOptions o)
      : resolver(r), budget(b), clock(c), options(o) {}

  void buildStructure();
  bool checkTimes(const Tags& t, std::string& why) const;
  const Key& key(const std::string& name);
  bool verifyAms(int i, std::string& why);
  bool verifySeal(int i, std::string& why);
  // The last step of both: `data` (the canonicalized fields, the signature's own last
  // and without its final CRLF, §3.7 of RFC 6376) against the key c names. `failure`
  // says what did not verify.
  bool signedBy(const Common& c, std::string_view data, const std::string& prefix,
                const char* failure, std::string& why);
  Validation run();
};

namespace {

struct Canon {
  bool header_relaxed = false;
  bool body_relaxed = false;
};

std::optional<Canon> parseCanon(const std::string* c) {
  Canon out;  // RFC 6376 §3.5: default simple/simple
  if (c == nullptr) {
    return out;
  }
  const std::size_t slash = c->find('/');
  const std::string h = c->substr(0, slash);
  const std::string b = slash == std::string::npos ? "simple" : c->substr(slash + 1);
  if ((h != "simple" && h != "relaxed") || (b != "simple" && b != "relaxed")) {
    return std::nullopt;
  }
  out.header_relaxed = h == "relaxed";
  out.body_relaxed = b == "relaxed";
  return out;
}

std::optional<std::optional<std::uint64_t>> parseLength(const std::string* l) {
  if (l == nullptr) {
    return std::optional<std::uint64_t>();
  }
  const std::optional<std::int64_t> n = parseTime(*l);  // digits, at most 12
  if (!n) {
    return std::nullopt;
  }
  return std::optional<std::uint64_t>(static_cast<std::uint64_t>(*n));
}

}  // namespace

void Verifier::Impl::buildStructure() {
  if (arc_seen == 0) {
    return;
  }
  if (arc_seen > kMaxArcFields) {
    structure_error = "more than " + std::to_string(kMaxArcFields) + " ARC header fields";
    return;
  }
  std::map<int, Set> by_instance;
  for (ArcField& f : arc) {
    const Field& h = headers[f.index];
    std::optional<int> inst;
    const char* what = f.kind == Kind::Seal        ? "ARC-Seal"
                       : f.kind == Kind::Signature ? "ARC-Message-Signature"
                                                   : "ARC-Authentication-Results";
    if (h.value.size() > kMaxFieldBytes) {
      structure_error = std::string(what) + " too long";
      return;
    }
    if (f.kind == Kind::Results) {
      inst = detail::aarInstance(h.value);
    } else {
      if (const auto bad = parseTags(h.value, f.tags)) {
        structure_error = std::string(what) + ": " + *bad;
        return;
      }
      if (const std::string* iv = tag(f.tags, "i")) {
        inst = parseInstance(*iv);
      }
    }
    if (!inst) {
      structure_error = std::string(what) + ": missing or bad instance i=";
      return;
    }
    Set& s = by_instance[*inst];
    const ArcField** slot = f.kind == Kind::Seal        ? &s.as
                            : f.kind == Kind::Signature ? &s.ams
                                                        : &s.aar;
    if (*slot != nullptr) {
      structure_error = std::string("two ") + what + " with i=" + std::to_string(*inst);
      return;
    }
    *slot = &f;
  }
  // §5.1.1 / §5.2 step 2: instances 1..N, each a complete set.
  const int n = by_instance.rbegin()->first;
  result.instances = n;
  for (int i = 1; i <= n; ++i) {
    const auto it = by_instance.find(i);
    if (it == by_instance.end() || it->second.as == nullptr || it->second.ams == nullptr ||
        it->second.aar == nullptr) {
      structure_error = "ARC set i=" + std::to_string(i) + " is missing or incomplete";
      return;
    }
    sets.push_back(it->second);
  }
  std::vector<std::string> sealers;
  std::vector<Instance> detail;
  for (int i = 1; i <= n; ++i) {
    const Tags& as = sets[static_cast<std::size_t>(i - 1)].as->tags;
    const std::string* cv = tag(as, "cv");
    if (cv == nullptr) {
      structure_error = "ARC-Seal i=" + std::to_string(i) + " has no cv=";
      return;
    }
    if (i == n && *cv == "fail") {
      structure_error = "the newest ARC-Seal says cv=fail";
      return;
    }
    if (*cv != (i == 1 ? "none" : "pass")) {
      structure_error = "ARC-Seal i=" + std::to_string(i) + " has cv=" + *cv;
      return;
    }
    if (tag(as, "h") != nullptr) {
      structure_error = "ARC-Seal i=" + std::to_string(i) + " has h= (RFC 8617 §4.1.3)";
      return;
    }
    Instance in;
    in.i = i;
    if (const std::string* d = tag(as, "d")) {
      in.sealer_domain = ascii::lower(*d);
    }
    if (const std::string* s = tag(as, "s")) {
      in.selector = *s;
    }
    in.results = headers[sets[static_cast<std::size_t>(i - 1)].aar->index].value;
    sealers.push_back(in.sealer_domain);
    detail.push_back(std::move(in));
  }
  // Only a chain whose structure holds names its sealers.
  result.sealers = std::move(sealers);
  result.detail = std::move(detail);
  // Keys and body hashes for every set: all lookups in flight at once.
  for (const Set& s : sets) {
    for (const ArcField* f : {s.ams, s.as}) {
      Common c;
      if (!parseCommon(f->tags, c) && !lookups.count(c.key_name)) {
        lookups.emplace(c.key_name, resolver.start(c.key_name, dns::Type::TXT, budget));
      }
    }
    const std::optional<Canon> canon = parseCanon(tag(s.ams->tags, "c"));
    const auto len = parseLength(tag(s.ams->tags, "l"));
    if (canon && len) {
      auto& h = hashers[{canon->body_relaxed, *len}];
      if (!h) {
        h = std::make_unique<BodyHasher>(canon->body_relaxed, *len);
      }
    }
  }
}

bool Verifier::Impl::checkTimes(const Tags& t, std::string& why) const {
  const std::int64_t now = clock.now();
  // -1: no (valid) t=; parseCommon() has already rejected a malformed one.
  std::int64_t ts = -1;
  if (const std::string* tv = tag(t, "t")) {
    ts = parseTime(*tv).value_or(-1);
  }
  if (ts > now + options.clock_drift) {
    why = "t= is in the future";
    return false;
  }
  if (const std::string* xv = tag(t, "x")) {
    const std::optional<std::int64_t> x = parseTime(*xv);
    if (!x || *x < now || *x < ts) {
      why = "signature expired (x=)";
      return false;
    }
  }
  return true;
}

const Key& Verifier::Impl::key(const std::string& name) {
  Key& k = keys[name];
  if (k.done) {
    return k;
  }
  k.done = true;
  const auto it = lookups.find(name);
  const dns::Answer answer = it != lookups.end() ? it->second->wait()
                                                 : resolver.query(name, dns::Type::TXT, budget);
  switch (dns::classify(answer)) {
    case dns::Outcome::Found:
      break;
    case dns::Outcome::Temporary:
      k.error = "temperror: key " + name + ": " + std::string(dns::toString(answer.status));
      k.temporary = true;
      return k;
    case dns::Outcome::Absent:
      k.error = "no key at " + name;
      return k;
    case dns::Outcome::BadName:
      k.error = "key name " + name + " is not a DNS name";
      return k;
  }
  // RFC 6376 §6.1.2: several records — use the first one that parses.
  std::string first_error;
  for (const std::string& txt : answer.txt) {
    const std::string why = parseKey(txt, k);
    if (why.empty()) {
      return k;
    }
    if (first_error.empty()) {
      first_error = why;
    }
  }
  k.pkey.reset();
  k.error = first_error.empty() ? "no key at " + name : first_error + " (" + name + ")";
  return k;
}

bool Verifier::Impl::verifyAms(int i, std::string& why) {
  const ArcField& f = *sets[static_cast<std::size_t>(i - 1)].ams;
  const std::string prefix = "AMS i=" + std::to_string(i) + ": ";
  Common c;
  if (const auto bad = parseCommon(f.tags, c)) {
    why = prefix + *bad;
    return false;
  }
  const std::string* bh = tag(f.tags, "bh");
  const std::string* h = tag(f.tags, "h");
  const std::optional<Canon> canon = parseCanon(tag(f.tags, "c"));
  const auto len = parseLength(tag(f.tags, "l"));
  if (bh == nullptr || h == nullptr || !canon || !len) {
    why = prefix + (bh == nullptr ? "no bh=" : h == nullptr ? "no h=" : !canon ? "bad c=" : "bad l=");
    return false;
  }
  if (!checkTimes(f.tags, why)) {
    why = prefix + why;
    return false;
  }
  // Body hash (RFC 6376 §3.7).
  const std::optional<std::string> want = decodeBase64(*bh);
  const std::string got = hashers.at({canon->body_relaxed, *len})->digest();
  if (!want || got.empty() || *want != got) {
    why = prefix + "body hash mismatch";
    return false;
  }
  // Header hash (RFC 6376 §5.4.2): h= names, bounded, ARC-Seal never (RFC 8617 §4.1.2).
  std::vector<std::string> names;
  std::string_view hl = *h;
  while (!hl.empty()) {
    const std::size_t colon = std::min(hl.find(':'), hl.size());
    std::string name = ascii::lower(trimFws(hl.substr(0, colon)));
    hl.remove_prefix(std::min(colon + 1, hl.size()));
    if (name.empty()) {
      continue;
    }
    if (names.size() >= kMaxSignedFields) {
      why = prefix + "h= lists too many fields";
      return false;
    }
    if (name == "arc-seal") {
      why = prefix + "h= includes ARC-Seal (RFC 8617 §4.1.2)";
      return false;
    }
    names.push_back(std::move(name));
  }
  std::string data = detail::canonSignedHeaders(headers, names, canon->header_relaxed);
  const Field& self = headers[f.index];
  std::string last = canon->header_relaxed ? canonHeaderRelaxed(self.name, withoutB(self.value))
                                           : canonHeaderSimple(self.name, withoutB(self.value));
  last.resize(last.size() - 2);  // §3.7: the signature field without its final CRLF
  data += last;
  return signedBy(c, data, prefix, "signature does not verify", why);
}

bool Verifier::Impl::signedBy(const Common& c, std::string_view data, const std::string& prefix,
                              const char* failure, std::string& why) {
  const Key& k = key(c.key_name);
  if (!k.error.empty()) {
    why = prefix + k.error;
    result.temporary = result.temporary || k.temporary;
    return false;
  }
  if (!verifySignature(k, c.alg, data, c.sig)) {
    why = prefix + failure;
    return false;
  }
  return true;
}

bool Verifier::Impl::verifySeal(int i, std::string& why) {
  const ArcField& f = *sets[static_cast<std::size_t>(i - 1)].as;
  const std::string prefix = "AS i=" + std::to_string(i) + ": ";
  Common c;
  if (const auto bad = parseCommon(f.tags, c)) {
    why = prefix + *bad;
    return false;
  }
  if (!checkTimes(f.tags, why)) {
    why = prefix + why;
    return false;
  }
  // RFC 8617 §5.1.1: the sets 1..i, each AAR, AMS, AS, relaxed; this AS last, b= empty,
  // no final CRLF.
  std::string data;
  for (int j = 1; j <= i; ++j) {
    const Set& s = sets[static_cast<std::size_t>(j - 1)];
    for (const ArcField* g : {s.aar, s.ams, s.as}) {
      const Field& h = headers[g->index];
      if (g == &f) {
        std::string last = canonHeaderRelaxed(h.name, withoutB(h.value));
        last.resize(last.size() - 2);
        data += last;
      } else {
        data += canonHeaderRelaxed(h.name, h.value);
      }
    }
  }
  return signedBy(c, data, prefix, "seal does not verify", why);
}

Validation Verifier::Impl::run() {
  if (arc_seen == 0) {
    result.cv = ChainResult::None;
    return result;
  }
  const auto fail = [&](std::string why) {
    result.cv = ChainResult::Fail;
    result.reason = std::move(why);
    result.oldest_pass.reset();
    return result;
  };
  if (!structure_error.empty()) {
    return fail(structure_error);
  }
  const int n = static_cast<int>(sets.size());
  // §5.2 step 3: the newest AMS.
  std::string why;
  if (!verifyAms(n, why)) {
    return fail(why);
  }
  result.detail[static_cast<std::size_t>(n - 1)].ams_valid = true;
  // Step 5: every AS, newest first.
  for (int i = n; i >= 1; --i) {
    if (!verifySeal(i, why)) {
      return fail(why);
    }
    result.detail[static_cast<std::size_t>(i - 1)].seal_valid = true;
  }
  // Step 4: the oldest instance whose AMS still validates, walking down from N; the walk
  // stops at the first failure (a temporary one included: it cannot count as a pass).
  int oldest = n;
  for (int i = n - 1; i >= 1; --i) {
    std::string ignored;
    if (!verifyAms(i, ignored)) {
      break;
    }
    result.detail[static_cast<std::size_t>(i - 1)].ams_valid = true;
    oldest = i;
  }
  result.temporary = false;  // a temporary failure past the decision does not matter
  result.oldest_pass = oldest;
  result.cv = ChainResult::Pass;
  return result;
}

Verifier::Verifier(dns::Resolver& resolver, const dns::Budget& budget, const Clock& clock,
                   VerifyOptions options)
    : impl_(std::make_unique<Impl>(resolver, budget, clock, options)) {}

Verifier::~Verifier() = default;

void Verifier::header(std::string_view name, std::string_view value) {
  if (impl_->ended) {
    return;
  }
  const std::string_view n = ascii::trim(name);
  Kind kind{};
  bool is_arc = true;
  if (ascii::iequals(n, "ARC-Seal")) {
    kind = Kind::Seal;
  } else if (ascii::iequals(n, "ARC-Message-Signature")) {
    kind = Kind::Signature;
  } else if (ascii::iequals(n, "ARC-Authentication-Results")) {
    kind = Kind::Results;
  } else {
    is_arc = false;
  }
  impl_->headers.push_back({std::string(name), std::string(value)});
  if (is_arc) {
    // Counted beyond the bound so the structure check can say "too many".
    if (++impl_->arc_seen <= kMaxArcFields) {
      impl_->arc.push_back({kind, impl_->headers.size() - 1, {}});
    }
  }
}

void Verifier::endOfHeaders() {
  if (impl_->ended) {
    return;
  }
  impl_->ended = true;
  impl_->buildStructure();
}

void Verifier::body(std::string_view chunk) {
  if (!impl_->ended) {
    endOfHeaders();
  }
  for (auto& [k, h] : impl_->hashers) {
    h->update(chunk);
  }
}

Validation Verifier::finish() {
  if (!impl_->ended) {
    endOfHeaders();
  }
  if (!impl_->finished) {
    impl_->finished = true;
    impl_->result = impl_->run();
  }
  return impl_->result;
}

Validation verifyMessage(std::string_view raw, dns::Resolver& resolver, const Clock& clock,
                         VerifyOptions options, std::size_t chunk) {
  const dns::Budget budget = dns::Budget::unlimited();
  Verifier verifier(resolver, budget, clock, options);
  message::feedMessage(raw, verifier, chunk);
  return verifier.finish();
}

}  // namespace mw::arc
