// fault_milter — mailwarden's milter (libmw_milter.a, unchanged) with allocation faults
// injected from the outside, for tests/integration/fault_injection_test.sh. A test
// program only: never installed, and nothing of it is in the mailwarden binary.
//
//   fault_milter CONFIG        same as `mailwarden run -c CONFIG`
//
// How: the link wraps smfi_register (-Wl,--wrap=smfi_register), so every callback
// mailwarden registers is called through a wrapper here; operator new is replaced by
// tests/support/alloc_fault.cpp. A wrapper arms "the N-th allocation on this thread
// fails" just before the real callback of the session and event the test chose, and
// disarms after it. The choice travels in the session itself:
//   negotiate  the file $MW_FAULT_DIR/negotiate exists (the first session to remove it)
//   connect    the client host name starts with "fault-connect-N."
//   helo       the HELO name starts with "fault-helo-N."
//   mail, rcpt, header, eoh, body, eom
//              the MAIL FROM local part is "fault-EVENT-N" (header and body: counted over
//              all the header / body callbacks of the message)
// Each armed event prints one line on stderr:
//   "fault-inject: EVENT allocation N failed"  or  "fault-inject: EVENT allocation N not reached"
// so a test can tell that the fault fired (it cannot pass without one).
#include <libmilter/mfapi.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "mailwarden/milter/milter.h"
#include "tests/support/alloc_fault.h"

extern "C" int __real_smfi_register(struct smfiDesc desc);
extern "C" int __wrap_smfi_register(struct smfiDesc desc);

namespace {

struct smfiDesc g_real;  // mailwarden's callbacks

struct Plan {
  std::string event;
  long n = 0;
  long remaining = 0;
  bool done = false;
};

std::mutex g_mu;
std::map<SMFICTX*, Plan> g_plans;

// "PREFIX-N" at the start of `s` (then '.', '@' or the end): N, else 0.
long planned(const char* s, const std::string& prefix) {
  if (s == nullptr) return 0;
  if (*s == '<') ++s;
  if (std::strncmp(s, prefix.c_str(), prefix.size()) != 0) return 0;
  char* end = nullptr;
  const long n = std::strtol(s + prefix.size(), &end, 10);
  return (end != s + prefix.size() && (*end == '.' || *end == '@' || *end == '\0')) ? n : 0;
}

void setPlan(SMFICTX* ctx, const std::string& event, long n) {
  const std::lock_guard<std::mutex> lock(g_mu);
  g_plans[ctx] = Plan{event, n, n, false};
}

// Runs `call` with the session's fault armed if it is planned for `event`.
template <typename Call>
sfsistat armed(SMFICTX* ctx, const char* event, Call&& call) {
  long left = 0;
  long n = 0;
  {
    const std::lock_guard<std::mutex> lock(g_mu);
    auto it = g_plans.find(ctx);
    if (it != g_plans.end() && it->second.event == event && !it->second.done) {
      left = it->second.remaining;
      n = it->second.n;
    }
  }
  if (left <= 0) return call();
  mw::testing::armAllocFault(left);
  const sfsistat r = call();
  const long still = mw::testing::disarmAllocFault();
  const bool fired = mw::testing::allocFaultFired();
  const std::lock_guard<std::mutex> lock(g_mu);
  Plan& p = g_plans[ctx];
  p.remaining = still;
  if (fired) {
    p.done = true;
    std::fprintf(stderr, "fault-inject: %s allocation %ld failed\n", event, n);
  }
  return r;
}

// The events of one message are over: report a plan that never fired.
void endPlan(SMFICTX* ctx, bool session_end) {
  const std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_plans.find(ctx);
  if (it == g_plans.end()) return;
  const bool message_event = it->second.event != "negotiate" && it->second.event != "connect" &&
                             it->second.event != "helo";
  if (!session_end && !message_event) return;  // a session's plan lasts the session
  if (!it->second.done) {
    std::fprintf(stderr, "fault-inject: %s allocation %ld not reached\n",
                 it->second.event.c_str(), it->second.n);
  }
  g_plans.erase(it);
}

sfsistat negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                   unsigned long f3, unsigned long* p0, unsigned long* p1, unsigned long* p2,
                   unsigned long* p3) {
  const char* dir = std::getenv("MW_FAULT_DIR");
  if (dir != nullptr && ::unlink((std::string(dir) + "/negotiate").c_str()) == 0) {
    setPlan(ctx, "negotiate", 1);
  }
  return armed(ctx, "negotiate",
               [&] { return g_real.xxfi_negotiate(ctx, f0, f1, f2, f3, p0, p1, p2, p3); });
}

sfsistat onConnect(SMFICTX* ctx, char* host, _SOCK_ADDR* addr) {
  if (const long n = planned(host, "fault-connect-"); n > 0) setPlan(ctx, "connect", n);
  return armed(ctx, "connect", [&] { return g_real.xxfi_connect(ctx, host, addr); });
}

sfsistat helo(SMFICTX* ctx, char* name) {
  if (const long n = planned(name, "fault-helo-"); n > 0) setPlan(ctx, "helo", n);
  return armed(ctx, "helo", [&] { return g_real.xxfi_helo(ctx, name); });
}

sfsistat envfrom(SMFICTX* ctx, char** argv) {
  const char* from = argv != nullptr ? argv[0] : nullptr;
  for (const char* event : {"mail", "rcpt", "header", "eoh", "body", "eom"}) {
    if (const long n = planned(from, std::string("fault-") + event + "-"); n > 0) {
      setPlan(ctx, event, n);
    }
  }
  return armed(ctx, "mail", [&] { return g_real.xxfi_envfrom(ctx, argv); });
}

sfsistat envrcpt(SMFICTX* ctx, char** argv) {
  return armed(ctx, "rcpt", [&] { return g_real.xxfi_envrcpt(ctx, argv); });
}

sfsistat header(SMFICTX* ctx, char* name, char* value) {
  return armed(ctx, "header", [&] { return g_real.xxfi_header(ctx, name, value); });
}

sfsistat eoh(SMFICTX* ctx) {
  return armed(ctx, "eoh", [&] { return g_real.xxfi_eoh(ctx); });
}

sfsistat body(SMFICTX* ctx, unsigned char* data, size_t len) {
  return armed(ctx, "body", [&] { return g_real.xxfi_body(ctx, data, len); });
}

sfsistat eom(SMFICTX* ctx) {
  const sfsistat r = armed(ctx, "eom", [&] { return g_real.xxfi_eom(ctx); });
  endPlan(ctx, false);
  return r;
}

sfsistat abortMessage(SMFICTX* ctx) {
  endPlan(ctx, false);
  return g_real.xxfi_abort(ctx);
}

sfsistat onClose(SMFICTX* ctx) {
  endPlan(ctx, true);
  return g_real.xxfi_close(ctx);
}

}  // namespace

extern "C" int __wrap_smfi_register(struct smfiDesc desc) {
  g_real = desc;
  desc.xxfi_negotiate = desc.xxfi_negotiate ? negotiate : nullptr;
  desc.xxfi_connect = desc.xxfi_connect ? onConnect : nullptr;
  desc.xxfi_helo = desc.xxfi_helo ? helo : nullptr;
  desc.xxfi_envfrom = desc.xxfi_envfrom ? envfrom : nullptr;
  desc.xxfi_envrcpt = desc.xxfi_envrcpt ? envrcpt : nullptr;
  desc.xxfi_header = desc.xxfi_header ? header : nullptr;
  desc.xxfi_eoh = desc.xxfi_eoh ? eoh : nullptr;
  desc.xxfi_body = desc.xxfi_body ? body : nullptr;
  desc.xxfi_eom = desc.xxfi_eom ? eom : nullptr;
  desc.xxfi_abort = desc.xxfi_abort ? abortMessage : nullptr;
  desc.xxfi_close = desc.xxfi_close ? onClose : nullptr;
  return __real_smfi_register(desc);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fputs("usage: fault_milter CONFIG\n", stderr);
    return 2;
  }
  return mw::milter::run(argv[1]);
}
