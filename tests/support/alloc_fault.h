// tests/support/alloc_fault.h — allocation fault injection for test programs only.
//
// Linking alloc_fault.cpp into a program replaces the global operator new/delete (all
// the replaceable forms) with malloc/free-based ones that can be told to fail: after
// armAllocFault(n), the n-th operator new on *this thread* throws std::bad_alloc (the
// nothrow forms return nullptr), once. Other threads are never affected, so a test can
// fail one message while other sessions run. Never linked into mailwarden itself.
#pragma once

namespace mw::testing {

// The n-th (1-based) allocation on this thread from now on fails; n <= 0 disarms.
void armAllocFault(long n) noexcept;
// Disarms; returns how many allocations were still to go before the fault (0 if it fired).
long disarmAllocFault() noexcept;
// Whether the fault armed last on this thread has fired.
bool allocFaultFired() noexcept;
// Faults fired in the whole process since start (every thread).
long allocFaultsFiredTotal() noexcept;

}  // namespace mw::testing
