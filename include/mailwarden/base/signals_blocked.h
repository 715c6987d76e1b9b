// base/signals_blocked.h — every signal blocked on the calling thread for a scope, so the
// threads created inside that scope start with every signal blocked too.
//
// Why: a thread inherits its creator's signal mask. milter/signals.cpp sigwait()s for
// SIGHUP/SIGTERM/SIGINT in one thread of libmilter's; a process signal delivered to a
// helper thread of ours that does not block it would instead run its default action
// (SIGTERM: the process dies without draining) or be lost to the reload. So every thread
// we create (libunbound's and our DNS dispatcher, the task pool's workers) is created
// inside a SignalsBlocked scope. The old mask comes back at the end of the scope.
// Thread-safety: affects the calling thread only. Never throws.
#pragma once

#include <pthread.h>
#include <signal.h>

namespace mw {

class SignalsBlocked {
 public:
  SignalsBlocked() noexcept {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old_);
  }
  ~SignalsBlocked() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  SignalsBlocked(const SignalsBlocked&) = delete;
  SignalsBlocked& operator=(const SignalsBlocked&) = delete;

 private:
  sigset_t old_;
};

}  // namespace mw
