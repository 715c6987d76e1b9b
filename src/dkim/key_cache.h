// dkim/key_cache.h — private to dkim/: the cache of decoded DKIM public keys under
// libopendkim (key_cache.cpp says why and how).
#pragma once

#include <cstdint>
#include <cstddef>

namespace mw::dkim {

struct KeyCacheStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;   // decoded and cached
  std::uint64_t flushes = 0;  // times the full cache was emptied
  std::size_t size = 0;       // keys held now
};

// Turns the cache on for the whole process (dkim::Library::create calls it); until then
// every key is decoded by OpenSSL as libopendkim asks. Idempotent.
void enableKeyCache() noexcept;

KeyCacheStats keyCacheStats();

}  // namespace mw::dkim
