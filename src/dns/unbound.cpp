#include "mailwarden/dns/unbound.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <unbound.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include "dns/names.h"
#include "dns/rdata.h"
#include "mailwarden/base/fd.h"
#include "mailwarden/base/signals_blocked.h"
#include "mailwarden/base/unique_c.h"
#include "mailwarden/obs/counters.h"

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

// Answers libunbound gave, kept for their TTL, so that a name asked again is answered
// on the caller's thread. Why: a lookup that libunbound answers from its own cache still
// crosses three threads (the caller writes to its background thread's pipe, that thread
// answers into the result pipe, our dispatcher runs ub_process and wakes the caller);
// profiled under the peers bench (issue 21, doc/PERFORMANCE.md) those hand-offs, the
// context switches and syscalls of the ~6 lookups of every message, were about a third
// of mailwarden's CPU. Kept: answers (Status::Ok) and negative answers (NxDomain,
// NoData), for the TTL libunbound reports in ub_result::ttl: for data the answer
// RRset's, for a negative answer the reply's, which libunbound (libworker.c fill_res)
// sets only when the reply carried records (the SOA, RFC 2308 §5: the negative TTL is
// min(SOA TTL, SOA MINIMUM)) and leaves 0 otherwise. What is left of libunbound's own
// cache entry, so an entry here never outlives libunbound's: the same answer libunbound
// would give. A TTL of 0 is not kept (RFC 1035 §3.2.1: "should not be cached"), nor is
// a failure (TempFail, Refused, Malformed): those go to libunbound every time.
// Bounded: kMaxEntries, full → emptied.
class AnswerCache {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kMaxEntries = 8192;

  // The answer for (qname, type) if one is kept and its TTL has not run out.
  std::optional<Answer> find(const std::string& qname, Type type) {
    const std::lock_guard<std::mutex> lock(m_);
    const auto it = map_.find(Key(qname, type));
    if (it == map_.end()) {
      return std::nullopt;
    }
    if (Clock::now() >= it->second.expires) {
      map_.erase(it);
      return std::nullopt;
    }
    return it->second.answer;
  }

  void put(const std::string& qname, Type type, const Answer& answer, int ttl) {
    const bool kept = answer.status == Status::Ok || answer.status == Status::NxDomain ||
                      answer.status == Status::NoData;
    if (!kept || ttl <= 0) {
      return;
    }
    const Clock::time_point expires = Clock::now() + std::chrono::seconds(ttl);
    const std::lock_guard<std::mutex> lock(m_);
    if (map_.size() >= kMaxEntries) {
      map_.clear();
    }
    map_.insert_or_assign(Key(qname, type), Entry{answer, expires});
  }

 private:
  using Key = std::pair<std::string, Type>;
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      return std::hash<std::string>()(k.first) ^
             (static_cast<std::size_t>(k.second) * 0x9e3779b97f4a7c15ULL);
    }
  };
  struct Entry {
    Answer answer;
    Clock::time_point expires;
  };
  std::mutex m_;
  std::unordered_map<Key, Entry, KeyHash> map_;
};

// The machinery of one resolver, shared by the resolver and every Lookup it started, so a
// Lookup that outlives its resolver still has a context to cancel on.
struct Core {
  UnboundOptions opts;
  UbCtx ctx;
  Fd wake_read;   // the dispatcher's stop signal
  Fd wake_write;
  std::thread dispatcher;
  Registry registry;
  AnswerCache answers;
  // libunbound starts its background thread in the first ub_resolve_async, from the
  // calling thread; until then queries submit with signals blocked (SignalsBlocked).
  std::atomic<bool> bg_started{false};

  // Runs on whichever thread drops the last reference: a caller's, never the
  // dispatcher's (it holds no reference).
  ~Core() {
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

  // One attempt: registers `p` and hands it to libunbound; a libunbound error code.
  int submit(const std::shared_ptr<Pending>& p, const std::string& qname, Type type, int* id);
};

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

int Core::submit(const std::shared_ptr<Pending>& p, const std::string& qname, Type type,
                 int* id) {
  p->registry = &registry;
  registry.add(p);
  int err = 0;
  if (bg_started.load(std::memory_order_acquire)) {
    err = ub_resolve_async(ctx.get(), qname.c_str(), detail::rrType(type), detail::kClassIn,
                           p.get(), &onResult, id);
  } else {
    const SignalsBlocked blocked;
    err = ub_resolve_async(ctx.get(), qname.c_str(), detail::rrType(type), detail::kClassIn,
                           p.get(), &onResult, id);
    if (err == UB_NOERROR) {
      bg_started.store(true, std::memory_order_release);
    }
  }
  if (err != UB_NOERROR) {
    registry.remove(p.get());  // libunbound kept nothing: no callback will come
  }
  return err;
}

// One lookup in flight: attempt 0 is submitted by begin() (from start()), later attempts
// by wait(). Attempt k ends at started + (k+1) x timeout_ms, never after the deadline
// of the Budget given to start(), whenever wait() is called: a lookup waited for late
// is not given more time than query() would have had, and an attempt whose window has
// passed is skipped rather than sent and cancelled at once. An answer that is in when
// wait() looks is used even if it came after its attempt's window: it is real, and it
// cost the caller nothing.
//
// Concurrency: wait() is serialized by drive_ (the first caller drives the attempts,
// later callers find the answer); state_ guards the attempt in flight for ready() and
// the destructor.
class UnboundLookup final : public Lookup {
 public:
  using Clock = Budget::Clock;

  UnboundLookup(std::shared_ptr<Core> core, std::string qname, Type type,
                Clock::time_point deadline)
      : core_(std::move(core)),
        qname_(std::move(qname)),
        type_(type),
        started_(Clock::now()),
        deadline_(deadline),
        attempts_(1 + core_->opts.retries),
        per_attempt_(core_->opts.timeout_ms) {}

  // Dropped unanswered: cancel the attempt in flight, so libunbound forgets it and the
  // registry lets go of it now; if its answer is being delivered at this moment, the
  // callback frees it instead (see Pending).
  ~UnboundLookup() override { static_cast<void>(abandon()); }

  UnboundLookup(const UnboundLookup&) = delete;
  UnboundLookup& operator=(const UnboundLookup&) = delete;

  // Submits attempt 0. Called once, before the Lookup is shared.
  void begin() {
    auto p = std::make_shared<Pending>();
    int id = 0;
    if (const int err = core_->submit(p, qname_, type_, &id); err != UB_NOERROR) {
      finish(failed(Status::TempFail, std::string("libunbound: ") + ub_strerror(err)));
      return;
    }
    const std::lock_guard<std::mutex> lock(state_);
    current_ = std::move(p);
    id_ = id;
  }

  const Answer& wait() override {
    const std::lock_guard<std::mutex> drive(drive_);
    while (!answered_.load(std::memory_order_acquire)) {
      std::shared_ptr<Pending> p;
      {
        const std::lock_guard<std::mutex> lock(state_);
        p = current_;
      }
      if (p) {
        std::unique_lock<std::mutex> lock(p->m);
        if (p->cv.wait_until(lock, attemptEnd(attempt_), [&p] { return p->done; })) {
          Answer a = answerOf(*p, type_);
          remember(*p, a);
          lock.unlock();
          finish(std::move(a));
          break;
        }
      }
      // This attempt's time is up.
      if (const std::shared_ptr<Pending> late = abandon()) {
        Answer a = answerOf(*late, type_);  // done: nobody writes it any more
        remember(*late, a);
        finish(std::move(a));
        break;
      }
      const Clock::time_point now = Clock::now();
      ++attempt_;
      while (attempt_ < attempts_ && attemptEnd(attempt_) <= now) {
        ++attempt_;
      }
      if (attempt_ >= attempts_) {
        finish(failed(Status::TempFail, "timeout"), /*timed_out=*/true);
        break;
      }
      auto next = std::make_shared<Pending>();
      int id = 0;
      if (const int err = core_->submit(next, qname_, type_, &id); err != UB_NOERROR) {
        finish(failed(Status::TempFail, std::string("libunbound: ") + ub_strerror(err)));
        break;
      }
      const std::lock_guard<std::mutex> lock(state_);
      current_ = std::move(next);
      id_ = id;
    }
    return answer_;
  }

  bool ready() const noexcept override {
    if (answered_.load(std::memory_order_acquire)) {
      return true;
    }
    if (Clock::now() >= deadline_) {
      return true;  // wait() only cancels and reports the timeout
    }
    const std::lock_guard<std::mutex> lock(state_);
    if (!current_) {
      return false;
    }
    const std::lock_guard<std::mutex> plock(current_->m);
    return current_->done;
  }

 private:
  // Keeps a real answer for the next caller of the same name (AnswerCache).
  void remember(const Pending& p, const Answer& a) {
    if (p.err == 0 && p.result) {
      core_->answers.put(qname_, type_, a, p.result->ttl);
    }
  }

  Clock::time_point attemptEnd(int attempt) const {
    return std::min(started_ + per_attempt_ * (attempt + 1), deadline_);
  }

  // Every lookup that was asked ends here, once (a lookup dropped unanswered ends in
  // abandon() instead and is not counted): the one place the DNS metrics are taken.
  void finish(Answer a, bool timed_out = false) {
    obs::counters().countDns(metricOutcome(a.status, timed_out), Clock::now() - started_);
    answer_ = std::move(a);
    answered_.store(true, std::memory_order_release);
  }

  // mailwarden_dns_queries_total{outcome}: the classify() meaning, with Absent split as
  // RFC 2308 does and Temporary's timeouts apart (a slow resolver, not a broken zone).
 public:
  static obs::DnsOutcome metricOutcome(Status s, bool timed_out) noexcept {
    switch (s) {
      case Status::Ok: return obs::DnsOutcome::Answer;
      case Status::NxDomain: return obs::DnsOutcome::NxDomain;
      case Status::NoData: return obs::DnsOutcome::NoData;
      case Status::TempFail:
      case Status::Refused:
      case Status::Malformed:
      case Status::BadName:
        break;
    }
    return timed_out ? obs::DnsOutcome::Timeout : obs::DnsOutcome::Temporary;
  }

 private:
  // Takes the attempt in flight away and cancels it. Returns it if it was answered in
  // the meantime (before the cancel, or libunbound said UB_NOID and the callback has
  // run since), else nullptr.
  std::shared_ptr<Pending> abandon() noexcept {
    std::shared_ptr<Pending> p;
    int id = 0;
    {
      const std::lock_guard<std::mutex> lock(state_);
      p = std::move(current_);
      current_.reset();
      id = id_;
    }
    if (!p) {
      return nullptr;
    }
    {
      const std::lock_guard<std::mutex> lock(p->m);
      if (p->done) {
        // The callback has run and left the registry: nothing to cancel (and the id
        // may already name another lookup).
        return p;
      }
    }
    if (ub_cancel(core_->ctx.get(), id) == UB_NOERROR) {
      core_->registry.remove(p.get());  // its callback will never run
      return nullptr;
    }
    // UB_NOID: the answer is being delivered at this moment. Use it if it is here; if
    // not, the callback still holds the registry's reference and cleans up.
    const std::lock_guard<std::mutex> lock(p->m);
    return p->done ? p : nullptr;
  }

  const std::shared_ptr<Core> core_;  // keeps the context alive as long as we may cancel
  const std::string qname_;           // presentation form, escaped
  const Type type_;
  const Clock::time_point started_;
  const Clock::time_point deadline_;  // the Budget's, captured at start()
  const int attempts_;
  const std::chrono::milliseconds per_attempt_;

  std::mutex drive_;              // one wait() at a time drives the attempts
  int attempt_ = 0;               // the attempt in flight; drive_
  mutable std::mutex state_;      // guards current_ and id_
  std::shared_ptr<Pending> current_;
  int id_ = 0;
  std::atomic<bool> answered_{false};
  Answer answer_;  // written once, before answered_ becomes true
};

}  // namespace

struct UnboundResolver::Impl {
  std::shared_ptr<Core> core;
};

UnboundResolver::UnboundResolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UnboundResolver::~UnboundResolver() = default;

Result<ResolverSharedPtr> UnboundResolver::create(const UnboundOptions& options) {
  if (options.timeout_ms < 1 || options.retries < 0) {
    return fail(Errc::Invalid, "dns: timeout_ms must be at least 1 and retries at least 0");
  }
  if (options.max_udp_in_flight < 1) {
    return fail(Errc::Invalid, "dns: max_udp_in_flight must be at least 1");
  }
  auto core = std::make_shared<Core>();
  core->opts = options;
  core->ctx.reset(ub_ctx_create());
  if (!core->ctx) {
    return fail(Errc::Internal, "libunbound: cannot create a context");
  }
  ub_ctx* ctx = core->ctx.get();
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
  // Every lookup of every message is in flight at once (start()); see
  // UnboundOptions::max_udp_in_flight for why libunbound's 16 is not enough.
  if (int err = ub_ctx_set_option(ctx, "outgoing-range:",
                                  std::to_string(options.max_udp_in_flight).c_str());
      err != UB_NOERROR) {
    return fail(ubError("libunbound: outgoing-range", err));
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
  core->wake_read = Fd(pipefd[0]);
  core->wake_write = Fd(pipefd[1]);
  try {
    const SignalsBlocked blocked;
    Core* raw = core.get();  // the thread is joined before *raw goes (~Core)
    core->dispatcher = std::thread([raw] { raw->dispatch(); });
  } catch (const std::system_error& e) {
    return fail(Errc::Internal, std::string("dns: cannot start a thread: ") + e.what());
  }
  auto impl = std::make_unique<Impl>();
  impl->core = std::move(core);
  return ResolverSharedPtr(new UnboundResolver(std::move(impl)));
}

LookupPtr UnboundResolver::start(std::string_view name, Type type, const Budget& budget) {
  if (!isQueryableName(name)) {
    return answeredLookup(failed(Status::BadName, "not a DNS name"));
  }
  if (budget.exhausted()) {
    return answeredLookup(failed(Status::TempFail, "DNS budget exhausted"));
  }
  // Escaped, so a name with '\\', ';', spaces or NUL reaches the wire as its octets.
  std::string qname = detail::presentationName(detail::normalizeName(name));
  if (std::optional<Answer> kept = impl_->core->answers.find(qname, type)) {
    // Counted like any answered lookup (mailwarden_dns_queries_total is what was asked:
    // answer, nxdomain or nodata as the kept answer says), with no time waited.
    obs::counters().countDns(UnboundLookup::metricOutcome(kept->status, false),
                             std::chrono::nanoseconds::zero());
    return answeredLookup(std::move(*kept));
  }
  auto lookup = std::make_shared<UnboundLookup>(impl_->core, std::move(qname), type,
                                                budget.deadline());
  lookup->begin();
  return lookup;
}

// One code path: a blocking query is a lookup started and waited for at once.
Answer UnboundResolver::query(std::string_view name, Type type, const Budget& budget) {
  const LookupPtr lookup = start(name, type, budget);
  return lookup->wait();
}

}  // namespace mw::dns
