// base/unique_c.h — RAII for C library handles: one line per handle type.
//   using HsDatabase = UniqueC<hs_database_t, hs_free_database>;
// The free function is called once, never on nullptr. Move-only, like unique_ptr.
#pragma once

#include <memory>

namespace mw {

template <auto FreeFn>
struct CFree {
  template <typename T>
  void operator()(T* p) const noexcept {
    if (p != nullptr) {
      static_cast<void>(FreeFn(p));  // a failed free leaves nothing to do
    }
  }
};

template <typename T, auto FreeFn>
using UniqueC = std::unique_ptr<T, CFree<FreeFn>>;

}  // namespace mw
