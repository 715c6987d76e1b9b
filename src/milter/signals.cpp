#include "signals.h"

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <mutex>

namespace mw::milter {
namespace {

std::mutex g_hooks_mutex;
std::function<void()> g_reload;
std::function<void(int)> g_stop;

}  // namespace

void setReloadHook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(g_hooks_mutex);
  g_reload = std::move(hook);
}

void setStopHook(std::function<void(int)> hook) {
  std::lock_guard<std::mutex> lock(g_hooks_mutex);
  g_stop = std::move(hook);
}

}  // namespace mw::milter

// See signals.h for why this interposes the C library's sigwait().
extern "C" int sigwait(const sigset_t* set, int* sig) {
  for (;;) {
    siginfo_t info;
    const int received = sigwaitinfo(set, &info);
    if (received < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno;
    }
    std::function<void()> reload;
    std::function<void(int)> stop;
    {
      std::lock_guard<std::mutex> lock(mw::milter::g_hooks_mutex);
      reload = mw::milter::g_reload;
      stop = mw::milter::g_stop;
    }
    if (received == SIGHUP && reload) {
      reload();
      continue;
    }
    if ((received == SIGTERM || received == SIGINT) && stop) {
      stop(received);
    }
    *sig = received;
    return 0;
  }
}
