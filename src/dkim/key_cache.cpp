// dkim/key_cache.cpp — decoded RSA public keys, cached by their DER bytes, under
// libopendkim.
//
// Why: libopendkim decodes the p= key of every signature it verifies with
// d2i_PUBKEY_bio(). With OpenSSL 3.0 that call builds a decoder chain each time
// (OSSL_DECODER_CTX_new_for_pkey); profiled under load (bench/run-milter-bench.sh, 4 KB
// message signed rsa-sha256 2048) it was 17 % of mailwarden's CPU, five times the RSA
// verification itself. libopendkim has no hook to hand it a decoded key, so this file
// defines d2i_PUBKEY_bio in the executable: the dynamic linker binds libopendkim's call
// to it (a definition in the executable comes first in symbol lookup), and it answers
// from the cache or calls OpenSSL's own (dlsym RTLD_NEXT).
//
// Correctness: the key is the same bytes → the same key, whatever domain, selector or
// TTL it came with, so a cached key is never stale. An EVP_PKEY may be shared between
// threads for verification (OpenSSL 3 locks its lazily built caches, including the
// legacy RSA that libopendkim's EVP_PKEY_get1_RSA asks for); each caller gets its own
// reference (EVP_PKEY_up_ref) and frees it as before. Only the plain form of the call is
// served from the cache: a memory BIO and no reuse pointer (libopendkim's form, which
// frees the BIO right after: on a hit it is left unread); any other call goes straight
// to OpenSSL. Failures are not cached. The cache is bounded
// (kMaxKeys; full → emptied) and off until a dkim::Library exists (enableKeyCache).
#include <dlfcn.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <atomic>
#include <mutex>
#include <string>
#include <unordered_map>

#include "dkim/key_cache.h"

namespace mw::dkim {
namespace {

constexpr std::size_t kMaxKeys = 4096;  // distinct keys seen; ~1 KB each for RSA 2048

using D2iPubkeyBio = EVP_PKEY* (*)(BIO*, EVP_PKEY**);

struct Cache {
  std::mutex mu;
  std::unordered_map<std::string, EVP_PKEY*> keys;
  KeyCacheStats stats;
  ~Cache() {
    for (auto& [der, key] : keys) EVP_PKEY_free(key);
  }
};

std::atomic<bool> g_enabled{false};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: threads may still verify at exit
  return *c;
}

D2iPubkeyBio opensslD2iPubkeyBio() {
  // OpenSSL 3 versions its symbols; ask for the version libopendkim was linked against,
  // then for whatever the next object defines.
  static const D2iPubkeyBio fn = [] {
    void* f = dlvsym(RTLD_NEXT, "d2i_PUBKEY_bio", "OPENSSL_3.0.0");
    if (f == nullptr) f = dlsym(RTLD_NEXT, "d2i_PUBKEY_bio");
    return reinterpret_cast<D2iPubkeyBio>(f);
  }();
  return fn;
}

// The key in `bp` (a memory BIO), from the cache or decoded and cached; nullptr when it
// does not decode. Throws std::bad_alloc only before `bp` is read.
EVP_PKEY* lookup(BIO* bp, D2iPubkeyBio real) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bp, &data);
  if (len <= 0 || data == nullptr) return real(bp, nullptr);
  const std::string der(data, static_cast<std::size_t>(len));
  Cache& c = cache();
  {
    const std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.keys.find(der);
    if (it != c.keys.end() && EVP_PKEY_up_ref(it->second) == 1) {
      ++c.stats.hits;
      return it->second;  // `bp` stays unread: libopendkim frees it next
    }
  }
  EVP_PKEY* key = real(bp, nullptr);
  if (key == nullptr) return nullptr;
  try {
    const std::lock_guard<std::mutex> lock(c.mu);
    ++c.stats.misses;
    if (c.keys.size() >= kMaxKeys) {
      for (auto& [d, k] : c.keys) EVP_PKEY_free(k);
      c.keys.clear();
      ++c.stats.flushes;
    }
    if (EVP_PKEY_up_ref(key) == 1) {
      auto [it, inserted] = c.keys.emplace(der, key);
      if (!inserted) EVP_PKEY_free(key);  // another thread cached the same key meanwhile
    }
  } catch (...) {
    // no room to cache it: the caller still gets its key
  }
  return key;
}

}  // namespace

void enableKeyCache() noexcept { g_enabled.store(true, std::memory_order_relaxed); }

KeyCacheStats keyCacheStats() {
  Cache& c = cache();
  const std::lock_guard<std::mutex> lock(c.mu);
  KeyCacheStats s = c.stats;
  s.size = c.keys.size();
  return s;
}

}  // namespace mw::dkim

// The interposer (see the top of this file). Same signature as <openssl/x509.h>.
extern "C" EVP_PKEY* d2i_PUBKEY_bio(BIO* bp, EVP_PKEY** a) {
  using namespace mw::dkim;
  const D2iPubkeyBio real = opensslD2iPubkeyBio();
  if (real == nullptr) return nullptr;  // cannot happen with libcrypto loaded; fail closed
  if (a != nullptr || bp == nullptr || BIO_method_type(bp) != BIO_TYPE_MEM ||
      !g_enabled.load(std::memory_order_relaxed)) {
    return real(bp, a);
  }
  try {
    return lookup(bp, real);
  } catch (...) {
    return real(bp, a);  // std::bad_alloc before the BIO was read: decode without the cache
  }
}
