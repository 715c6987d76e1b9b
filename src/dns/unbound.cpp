#include "mailwarden/dns/unbound.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <unbound.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include "dns/names.h"
#include "dns/rdata.h"
#include "mailwarden/base/fd.h"
#include "mailwarden/base/signals_blocked.h"
#include "mailwarden/base/unique_c.h"

namespace mw::dns {

namespace {

using UbCtx = UniqueC<ub_ctx, ub_ctx_delete>;
using UbResult = UniqueC<ub_result, ub_resolve_free>;

Answer failed(Status s, std::string why) {
  Answer a;
  a.status = s;
  a.why = std::move(why);
  return a;
}

struct Pending;

// The outstanding lookups, by the address libunbound hands back to the callback.
struct Registry {
  std::mutex m;
  std::unordered_map<Pending*, std::shared_ptr<Pending>> map;

  void add(const std::shared_ptr<Pending>& p) {
    const std::lock_guard<std::mutex> lock(m);
    map.emplace(p.get(), p);
  }
  std::shared_ptr<Pending> remove(Pending* p) {
    const std::lock_guard<std::mutex> lock(m);
    const auto it = map.find(p);
    if (it == map.end()) {
      return nullptr;
    }
    std::shared_ptr<Pending> keep = std::move(it->second);
    map.erase(it);
    return keep;
  }
};

// One outstanding ub_resolve_async. Shared by the caller and the registry; the callback
// finds it through the registry, so whichever of "callback ran" and "ub_cancel
// succeeded" happens (libunbound guarantees exactly one: process_answer_detail and
// ub_cancel both decide under the ctx lock) drops the registry's reference.
struct Pending {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  int err = 0;
  UbResult result;
  Registry* registry = nullptr;
};

}  // namespace

struct UnboundResolver::Impl {
  UnboundOptions opts;
  UbCtx ctx;
  Fd wake_read;   // the dispatcher's stop signal
  Fd wake_write;
  std::thread dispatcher;
  Registry registry;
  // libunbound starts its background thread in the first ub_resolve_async, from the
  // calling thread; until then queries submit with signals blocked (SignalsBlocked).
  std::atomic<bool> bg_started{false};

  ~Impl() {
    if (dispatcher.joinable()) {
      const char stop = 1;
      while (::write(wake_write.get(), &stop, 1) < 0 && errno == EINTR) {
      }
      dispatcher.join();
    }
    ctx.reset();  // stops libunbound's thread; callbacks of cancelled lookups never run
    registry.map.clear();
  }

  // The only caller of ub_process: wakes on ub_fd, runs callbacks, stops on wake_read.
  // If libunbound's result pipe fails, lookups then time out (TempFail), which is the
  // safe way to fail.
  void dispatch() noexcept {
    pollfd fds[2] = {{ub_fd(ctx.get()), POLLIN, 0}, {wake_read.get(), POLLIN, 0}};
    while (true) {
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) {
          continue;
        }
        return;
      }
      if (fds[1].revents != 0) {
        return;
      }
      if (fds[0].revents != 0 && ub_process(ctx.get()) != UB_NOERROR) {
        return;
      }
    }
  }
};

namespace {

// libunbound's callback (ub_callback_type), on the dispatcher thread. C calls it: it
// must not throw.
void onResult(void* mydata, int err, ub_result* result) noexcept {
  UbResult owned(result);
  auto* raw = static_cast<Pending*>(mydata);
  const std::shared_ptr<Pending> p = raw->registry->remove(raw);
  if (!p) {
    return;  // cannot happen (see Pending); the result is freed either way
  }
  {
    const std::lock_guard<std::mutex> lock(p->m);
    p->err = err;
    p->result = std::move(owned);
    p->done = true;
  }
  p->cv.notify_all();
}

Answer answerOf(const Pending& p, Type type) {
  if (p.err != 0 || !p.result) {
    // UB_SERVFAIL, UB_NOMEM, UB_INITFAIL (e.g. a trust anchor libunbound cannot use)...
    return failed(Status::TempFail, std::string("libunbound: ") + ub_strerror(p.err));
  }
  return detail::fromUnbound(type, *p.result);
}

Error ubError(std::string what, int err) {
  return Error{Errc::Invalid, std::move(what) + ": " + ub_strerror(err)};
}

}  // namespace

UnboundResolver::UnboundResolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UnboundResolver::~UnboundResolver() = default;

Result<ResolverSharedPtr> UnboundResolver::create(const UnboundOptions& options) {
  if (options.timeout_ms < 1 || options.retries < 0) {
    return fail(Errc::Invalid, "dns: timeout_ms must be at least 1 and retries at least 0");
  }
  auto impl = std::make_unique<Impl>();
  impl->opts = options;
  impl->ctx.reset(ub_ctx_create());
  if (!impl->ctx) {
    return fail(Errc::Internal, "libunbound: cannot create a context");
  }
  ub_ctx* ctx = impl->ctx.get();
  // A thread, not the default forked process, answers async lookups: a process would
  // not share the cache and would outlive a crash of ours.
  if (int err = ub_ctx_async(ctx, 1); err != UB_NOERROR) {
    return fail(ubError("libunbound: ub_ctx_async", err));
  }
  // libunbound refuses to send to 127.0.0.1/::1 unless told: a local caching
  // resolver (and the test's nsd) is the usual forwarder of a mail host.
  if (int err = ub_ctx_set_option(ctx, "do-not-query-localhost:", "no"); err != UB_NOERROR) {
    return fail(ubError("libunbound: do-not-query-localhost", err));
  }
  if (!options.dnssec) {
    // Without a trust anchor the validator proves nothing; skip it.
    if (int err = ub_ctx_set_option(ctx, "module-config:", "iterator"); err != UB_NOERROR) {
      return fail(ubError("libunbound: module-config", err));
    }
  }
  // A "transparent" local zone with no local data resolves normally, i.e. via the
  // forwarders. ("nodefault", unbound.conf's spelling, is not honoured when set through
  // ub_ctx_set_option in libunbound 1.17: the default zone stays; checked by the tests.)
  for (const std::string& zone : options.forward_special_zones) {
    const std::string value = zone + " transparent";
    if (int err = ub_ctx_set_option(ctx, "local-zone:", value.c_str()); err != UB_NOERROR) {
      return fail(ubError("dns forward_special_zones \"" + zone + "\"", err));
    }
  }
  // Forward mode for "." (forward-first off): libunbound asks these servers and never
  // the root servers, so no query leaves for anywhere else.
  if (!options.forwarders.empty()) {
    for (const std::string& f : options.forwarders) {
      if (int err = ub_ctx_set_fwd(ctx, f.c_str()); err != UB_NOERROR) {
        return fail(ubError("dns forwarder \"" + f + "\" (want addr or addr@port)", err));
      }
    }
  } else if (int err = ub_ctx_resolvconf(ctx, options.resolv_conf.c_str()); err != UB_NOERROR) {
    return fail(ubError(options.resolv_conf, err));
  }
  if (options.dnssec) {
    if (options.trust_anchor.empty()) {
      return fail(Errc::Invalid, "dns: dnssec needs a trust anchor file");
    }
    // libunbound reads the file only at the first lookup; check it now so a bad path is
    // a start-up error, not a TempFail on every message.
    const int mode = options.trust_anchor_rfc5011 ? (R_OK | W_OK) : R_OK;
    if (::access(options.trust_anchor.c_str(), mode) != 0) {
      return fail(Errc::Invalid, options.trust_anchor + ": " + std::strerror(errno) +
                                     (options.trust_anchor_rfc5011
                                          ? " (an RFC 5011 trust anchor must be writable)"
                                          : ""));
    }
    const int err = options.trust_anchor_rfc5011
                        ? ub_ctx_add_ta_autr(ctx, options.trust_anchor.c_str())
                        : ub_ctx_add_ta_file(ctx, options.trust_anchor.c_str());
    if (err != UB_NOERROR) {
      return fail(ubError(options.trust_anchor, err));
    }
  }
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    return fail(Errc::Internal, std::string("pipe2: ") + std::strerror(errno));
  }
  impl->wake_read = Fd(pipefd[0]);
  impl->wake_write = Fd(pipefd[1]);
  try {
    const SignalsBlocked blocked;
    Impl* raw = impl.get();
    impl->dispatcher = std::thread([raw] { raw->dispatch(); });
  } catch (const std::system_error& e) {
    return fail(Errc::Internal, std::string("dns: cannot start a thread: ") + e.what());
  }
  return ResolverSharedPtr(new UnboundResolver(std::move(impl)));
}

Answer UnboundResolver::query(std::string_view name, Type type, const Budget& budget) {
  if (!isQueryableName(name)) {
    return failed(Status::BadName, "not a DNS name");
  }
  if (budget.exhausted()) {
    return failed(Status::TempFail, "DNS budget exhausted");
  }
  // Escaped, so a name with '\\', ';', spaces or NUL reaches the wire as its octets.
  const std::string qname = detail::presentationName(detail::normalizeName(name));
  const std::chrono::milliseconds per_attempt(impl_->opts.timeout_ms);
  const int attempts = 1 + impl_->opts.retries;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    const Budget::Clock::time_point now = Budget::Clock::now();
    if (now >= budget.deadline()) {
      break;
    }
    const Budget::Clock::time_point until = std::min(now + per_attempt, budget.deadline());
    auto p = std::make_shared<Pending>();
    p->registry = &impl_->registry;
    impl_->registry.add(p);
    int id = 0;
    int err = 0;
    if (impl_->bg_started.load(std::memory_order_acquire)) {
      err = ub_resolve_async(impl_->ctx.get(), qname.c_str(), detail::rrType(type),
                             detail::kClassIn, p.get(), &onResult, &id);
    } else {
      const SignalsBlocked blocked;
      err = ub_resolve_async(impl_->ctx.get(), qname.c_str(), detail::rrType(type),
                             detail::kClassIn, p.get(), &onResult, &id);
      impl_->bg_started.store(err == UB_NOERROR, std::memory_order_release);
    }
    if (err != UB_NOERROR) {
      impl_->registry.remove(p.get());
      return failed(Status::TempFail, std::string("libunbound: ") + ub_strerror(err));
    }
    std::unique_lock<std::mutex> lock(p->m);
    if (p->cv.wait_until(lock, until, [&p] { return p->done; })) {
      return answerOf(*p, type);
    }
    lock.unlock();
    if (ub_cancel(impl_->ctx.get(), id) == UB_NOERROR) {
      impl_->registry.remove(p.get());  // its callback will never run
      continue;
    }
    // UB_NOID: the answer is being delivered at this moment. Use it if it is here; if
    // not, the callback still owns the registry's reference and cleans up.
    lock.lock();
    if (p->done) {
      return answerOf(*p, type);
    }
  }
  return failed(Status::TempFail, "timeout");
}

}  // namespace mw::dns
