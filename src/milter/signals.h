// milter/signals.h — SIGHUP reloads instead of stopping (private to milter/).
//
// libmilter's smfi_main() starts a thread that sigwait()s for SIGHUP, SIGTERM and SIGINT
// and stops the milter on any of them; it offers no hook. Two sigwait()ing threads
// would race for the signal, so instead signals.cpp defines sigwait() itself: the
// executable's definition interposes the C library's for libmilter's call. It waits with
// sigwaitinfo(), runs the reload hook on SIGHUP and keeps waiting, and hands every other
// signal back to libmilter unchanged. Without a hook it behaves exactly like sigwait().
#pragma once

#include <functional>

namespace mw::milter {

// The hook runs on libmilter's signal thread; it must not throw. nullptr removes it.
void setReloadHook(std::function<void()> hook);
// Runs on SIGTERM or SIGINT before the signal is handed back to libmilter (which then
// stops); the milter keeps serving open sessions until the hook returns.
void setStopHook(std::function<void(int)> hook);

}  // namespace mw::milter
