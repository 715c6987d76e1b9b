// arc/tags.cpp — what the Verifier and the Sealer parse alike (arc/internal.h): RFC 6376
// §3.2 tag-lists, instances, base64, the b= removal of §3.7, key records (§3.6.1).
#include <openssl/x509.h>

#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "arc/internal.h"
#include "mailwarden/dns/idna.h"
#include "mailwarden/dns/resolver.h"

namespace mw::arc::detail {
namespace {

// Decoded RSA public keys by their DER bytes, for the whole process. Why: OpenSSL 3's
// d2i_PUBKEY builds a decoder chain on every call — about 91 µs for a 2048-bit key,
// more than the RSA verification it prepares (bench/arc_bench: a 2-instance chain cost
// 345 µs, two thirds of it decoding the same two keys again). The same bytes are the same
// key whatever domain, selector or TTL they came with, so an entry is never stale; DNS
// still decides which bytes apply (the answer is asked as before). An EVP_PKEY may be
// shared between threads for verification (OpenSSL 3 locks its lazily built caches);
// each Key gets its own reference. Bounded: kMaxCachedKeys distinct keys, then emptied
// (an attacker who publishes many keys costs us decoding, as without a cache). Failures
// are not cached. dkim/key_cache.cpp does the same under libopendkim.
constexpr std::size_t kMaxCachedKeys = 1024;

struct RsaKeyCache {
  std::mutex mu;
  std::unordered_map<std::string, EVP_PKEY*> keys;
};

RsaKeyCache& rsaKeyCache() {
  static RsaKeyCache* c = new RsaKeyCache();  // never destroyed: threads may verify at exit
  return *c;
}

// A new reference to the cached key of `der`, or null.
EVP_PKEY* cachedRsaKey(const std::string& der) {
  RsaKeyCache& c = rsaKeyCache();
  const std::lock_guard<std::mutex> lock(c.mu);
  const auto it = c.keys.find(der);
  if (it == c.keys.end() || EVP_PKEY_up_ref(it->second) != 1) {
    return nullptr;
  }
  return it->second;
}

// Keeps a reference to `key` (a valid RSA key of at least 1024 bits) under `der`.
void cacheRsaKey(const std::string& der, EVP_PKEY* key) {
  RsaKeyCache& c = rsaKeyCache();
  const std::lock_guard<std::mutex> lock(c.mu);
  if (c.keys.size() >= kMaxCachedKeys) {
    for (auto& [bytes, k] : c.keys) {
      EVP_PKEY_free(k);
    }
    c.keys.clear();
  }
  if (c.keys.count(der) == 0 && EVP_PKEY_up_ref(key) == 1) {
    c.keys.emplace(der, key);
  }
}

}  // namespace

bool isFws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trimFws(std::string_view s) {
  while (!s.empty() && isFws(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && isFws(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

std::string stripFws(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (!isFws(c)) {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> parseTags(std::string_view list, Tags& out) {
  std::size_t pos = 0;
  while (pos <= list.size()) {
    const std::size_t semi = std::min(list.find(';', pos), list.size());
    const std::string_view spec = trimFws(list.substr(pos, semi - pos));
    const bool last = semi >= list.size();
    pos = semi + 1;
    if (spec.empty()) {
      if (last) {
        break;  // the optional trailing ";" (or an empty list)
      }
      return "empty tag-spec";
    }
    const std::size_t eq = spec.find('=');
    if (eq == std::string_view::npos) {
      return "tag without '='";
    }
    const std::string_view name = trimFws(spec.substr(0, eq));
    if (name.empty() || !ascii::isAlpha(name.front())) {
      return "bad tag name";
    }
    for (const char c : name) {
      if (!ascii::isAlpha(c) && !ascii::isDigit(c) && c != '_') {
        return "bad tag name";
      }
    }
    const std::string_view value = trimFws(spec.substr(eq + 1));
    for (const char c : value) {
      const auto u = static_cast<unsigned char>(c);
      if (!isFws(c) && (u < 0x21 || u > 0x7e)) {
        return "bad character in tag " + std::string(name);
      }
    }
    if (!out.emplace(std::string(name), std::string(value)).second) {
      return "duplicate tag " + std::string(name);
    }
  }
  return std::nullopt;
}

const std::string* tag(const Tags& t, std::string_view name) {
  const auto it = t.find(name);
  return it == t.end() ? nullptr : &it->second;
}

std::optional<int> parseInstance(std::string_view v) {
  if (v.empty() || v.size() > 2) {
    return std::nullopt;
  }
  int n = 0;
  for (const char c : v) {
    if (!ascii::isDigit(c)) {
      return std::nullopt;
    }
    n = n * 10 + (c - '0');
  }
  if (n < 1 || n > kMaxInstances) {
    return std::nullopt;
  }
  return n;
}

std::optional<std::int64_t> parseTime(std::string_view v) {
  if (v.empty() || v.size() > 12) {  // RFC 6376 §3.5: at most 12 digits
    return std::nullopt;
  }
  std::int64_t n = 0;
  for (const char c : v) {
    if (!ascii::isDigit(c)) {
      return std::nullopt;
    }
    n = n * 10 + (c - '0');
  }
  return n;
}

std::optional<std::string> decodeBase64(std::string_view text) {
  const std::string s = stripFws(text);
  if (s.empty() || s.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out(s.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(s.data()),
                                static_cast<int>(s.size()));
  if (n < 0) {
    return std::nullopt;
  }
  std::size_t pad = 0;
  if (s.back() == '=') {
    pad = s[s.size() - 2] == '=' ? 2 : 1;
  }
  // '=' only as the final padding (EVP_DecodeBlock is lenient about where it is).
  if (s.find('=') < s.size() - pad) {
    return std::nullopt;
  }
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

// The field value with the b= tag's value removed (RFC 6376 §3.7, RFC 8617 §4.1.2/
// §4.1.3): everything else, whitespace included, stays as it is.
std::string withoutB(std::string_view value) {
  std::size_t pos = 0;
  while (pos < value.size()) {
    const std::size_t semi = std::min(value.find(';', pos), value.size());
    const std::string_view spec = value.substr(pos, semi - pos);
    const std::size_t eq = spec.find('=');
    if (eq != std::string_view::npos && trimFws(spec.substr(0, eq)) == "b") {
      std::string out(value.substr(0, pos + eq + 1));
      out += value.substr(semi);
      return out;
    }
    pos = semi + 1;
  }
  return std::string(value);
}

std::string encodeBase64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return out;
}

// RFC 6376 §3.6.1 key record; the key or why not.
std::string parseKey(std::string_view txt, Key& key) {
  Tags t;
  if (const auto bad = parseTags(txt, t)) {
    return "key record: " + *bad;
  }
  if (const std::string* v = tag(t, "v")) {
    if (*v != "DKIM1" || trimFws(txt).substr(0, 1) != "v") {
      return "key record: bad v=";
    }
  }
  if (const std::string* h = tag(t, "h")) {
    bool sha256 = false;
    std::string_view hl = *h;
    while (!hl.empty()) {
      const std::size_t c = std::min(hl.find(':'), hl.size());
      sha256 = sha256 || trimFws(hl.substr(0, c)) == "sha256";
      hl.remove_prefix(std::min(c + 1, hl.size()));
    }
    if (!sha256) {
      return "key record: h= excludes sha256";
    }
  }
  if (const std::string* s = tag(t, "s")) {
    bool email = false;
    std::string_view sl = *s;
    while (!sl.empty()) {
      const std::size_t c = std::min(sl.find(':'), sl.size());
      const std::string_view one = trimFws(sl.substr(0, c));
      email = email || one == "*" || one == "email";
      sl.remove_prefix(std::min(c + 1, sl.size()));
    }
    if (!email) {
      return "key record: s= excludes email";
    }
  }
  const std::string* k = tag(t, "k");
  const std::string kind = k == nullptr ? "rsa" : *k;
  const std::string* p = tag(t, "p");
  if (p == nullptr) {
    return "key record: no p=";
  }
  if (stripFws(*p).empty()) {
    return "key revoked (empty p=)";  // §3.6.1
  }
  const std::optional<std::string> der = decodeBase64(*p);
  if (!der) {
    return "key record: p= is not base64";
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(der->data());
  if (kind == "rsa") {
    if (EVP_PKEY* cached = cachedRsaKey(*der)) {
      key.pkey.reset(cached);  // checked (type, RFC 8301 size) before it was cached
      key.type = EVP_PKEY_RSA;
      return {};
    }
    const unsigned char* q = bytes;
    EVP_PKEY* raw = d2i_PUBKEY(nullptr, &q, static_cast<long>(der->size()));
    if (raw == nullptr) {
      q = bytes;  // some publish the bare RSAPublicKey (PKCS#1)
      raw = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &q, static_cast<long>(der->size()));
    }
    key.pkey.reset(raw);
    if (!key.pkey || EVP_PKEY_get_base_id(key.pkey.get()) != EVP_PKEY_RSA) {
      key.pkey.reset();
      return "key record: p= is not an RSA public key";
    }
    if (EVP_PKEY_get_bits(key.pkey.get()) < 1024) {
      key.pkey.reset();
      return "policy: RSA key under 1024 bits (RFC 8301 §3.2)";
    }
    key.type = EVP_PKEY_RSA;
    cacheRsaKey(*der, key.pkey.get());
    return {};
  }
  if (kind == "ed25519") {
    if (der->size() != 32) {
      return "key record: Ed25519 key is not 32 bytes";
    }
    key.pkey.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes, 32));
    if (!key.pkey) {
      return "key record: bad Ed25519 key";
    }
    key.type = EVP_PKEY_ED25519;
    return {};
  }
  return "key record: unknown k=" + kind;
}

// The instance of an ARC-Authentication-Results: "i=N;" first (RFC 8617 §4.1.1).
std::optional<int> aarInstance(std::string_view v) {
  v = trimFws(v);
  if (v.empty() || v.front() != 'i') {
    return std::nullopt;
  }
  v = trimFws(v.substr(1));
  if (v.empty() || v.front() != '=') {
    return std::nullopt;
  }
  v = trimFws(v.substr(1));
  const std::size_t semi = v.find(';');
  if (semi == std::string_view::npos) {
    return std::nullopt;
  }
  return parseInstance(trimFws(v.substr(0, semi)));
}

}  // namespace mw::arc::detail
