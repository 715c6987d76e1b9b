// tests/support/alloc_fault.cpp — see alloc_fault.h. Test programs only.
#include "alloc_fault.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {

// Plain thread_locals (no constructor): usable from the first allocation of a thread.
thread_local long t_countdown = 0;  // > 0: armed, the allocation that brings it to 0 fails
thread_local bool t_fired = false;
std::atomic<long> g_fired{0};

// True when this allocation is the one to fail.
bool failNow() noexcept {
  if (t_countdown <= 0) {
    return false;
  }
  if (--t_countdown > 0) {
    return false;
  }
  t_fired = true;
  g_fired.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void* allocate(std::size_t n) noexcept { return std::malloc(n == 0 ? 1 : n); }

void* allocateAligned(std::size_t n, std::align_val_t al) noexcept {
  const auto a = static_cast<std::size_t>(al);
  void* p = nullptr;
  return posix_memalign(&p, a < sizeof(void*) ? sizeof(void*) : a, n == 0 ? 1 : n) == 0 ? p
                                                                                     : nullptr;
}

}  // namespace

namespace mw::testing {

void armAllocFault(long n) noexcept {
  t_fired = false;
  t_countdown = n > 0 ? n : 0;
}

long disarmAllocFault() noexcept {
  const long left = t_countdown;
  t_countdown = 0;
  return left;
}

bool allocFaultFired() noexcept { return t_fired; }

long allocFaultsFiredTotal() noexcept { return g_fired.load(std::memory_order_relaxed); }

}  // namespace mw::testing

void* operator new(std::size_t n) {
  void* p = failNow() ? nullptr : allocate(n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return failNow() ? nullptr : allocate(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return failNow() ? nullptr : allocate(n);
}
void* operator new(std::size_t n, std::align_val_t al) {
  void* p = failNow() ? nullptr : allocateAligned(n, al);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](std::size_t n, std::align_val_t al) { return operator new(n, al); }
void* operator new(std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return failNow() ? nullptr : allocateAligned(n, al);
}
void* operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return failNow() ? nullptr : allocateAligned(n, al);
}

void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}
