// report/redis_store.cpp — the Redis Store: aggregation and claims in Lua scripts run by
// the server (layout and bounds: redis_store.h).
#include "mailwarden/report/redis_store.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <mutex>
#include <optional>
#include <random>

#include "mailwarden/base/ascii.h"

namespace mw::report {

namespace {

constexpr std::string_view kPrefix = "mailwarden:dmarc:";

struct ContextFree {
  void operator()(redisContext* c) const noexcept { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextFree>;

struct ReplyFree {
  void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

// One script per store operation, so each is atomic on the server and one round trip.
// They compute key names from ARGV[prefix] (hence: no Redis Cluster, see the header).
struct Script {
  const char* name;
  const char* text;
};

// KEYS: the (day, domain) hash, the day's domain set, the periods sorted set.
// ARGV: tuple, domain, day, ttl.
constexpr Script kRecord{"record",
                         "redis.call('HINCRBY', KEYS[1], ARGV[1], 1)\n"
                         "redis.call('EXPIRE', KEYS[1], ARGV[4])\n"
                         "redis.call('SADD', KEYS[2], ARGV[2])\n"
                         "redis.call('EXPIRE', KEYS[2], ARGV[4])\n"
                         "redis.call('ZADD', KEYS[3], ARGV[3], ARGV[3])\n"
                         "redis.call('EXPIRE', KEYS[3], ARGV[4])\n"
                         "return 1\n"};

// KEYS: periods. ARGV: prefix. The days whose domain set still exists; days whose data
// expired (TTL) are dropped from the index on the way.
constexpr Script kPeriods{"periods",
                          "local out = {}\n"
                          "for _, d in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do\n"
                          "  if redis.call('EXISTS', ARGV[1] .. d) == 1 then\n"
                          "    out[#out + 1] = d\n"
                          "  else\n"
                          "    redis.call('ZREM', KEYS[1], d)\n"
                          "  end\n"
                          "end\n"
                          "return out\n"};

// KEYS: the claim hash, the claims index. ARGV: owner, now, lease, ttl, day, index member.
// A new claim, or the takeover of a claim (not a sent one) at least `lease` old: the
// same rule as SqliteStore's upsert.
constexpr Script kClaim{"claim",
                        "local st = redis.call('HGET', KEYS[1], 'state')\n"
                        "if st == 'sent' then return 0 end\n"
                        "if st == 'claimed' and (tonumber(redis.call('HGET', KEYS[1], 'at')) or 0)\n"
                        "    > tonumber(ARGV[2]) - tonumber(ARGV[3]) then return 0 end\n"
                        "redis.call('HSET', KEYS[1], 'state', 'claimed', 'owner', ARGV[1], 'at', ARGV[2])\n"
                        "redis.call('EXPIRE', KEYS[1], ARGV[4])\n"
                        "redis.call('ZADD', KEYS[2], ARGV[5], ARGV[6])\n"
                        "redis.call('EXPIRE', KEYS[2], ARGV[4])\n"
                        "return 1\n"};

// KEYS: the claim hash. ARGV: owner, "sent" or "release". 0 when the claim is not ours.
constexpr Script kOwn{"own",
                      "if redis.call('HGET', KEYS[1], 'state') ~= 'claimed' or\n"
                      "   redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end\n"
                      "if ARGV[2] == 'sent' then\n"
                      "  redis.call('HSET', KEYS[1], 'state', 'sent')\n"
                      "else\n"
                      "  redis.call('DEL', KEYS[1])\n"
                      "end\n"
                      "return 1\n"};

// KEYS: periods, claims. ARGV: prefix, the last day to forget. The number of rows removed.
constexpr Script kPurge{"purge",
                        "local removed = 0\n"
                        "for _, d in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])) do\n"
                        "  local set = ARGV[1] .. d\n"
                        "  for _, dom in ipairs(redis.call('SMEMBERS', set)) do\n"
                        "    local h = set .. ':' .. dom\n"
                        "    removed = removed + redis.call('HLEN', h)\n"
                        "    redis.call('DEL', h)\n"
                        "  end\n"
                        "  redis.call('DEL', set)\n"
                        "end\n"
                        "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])\n"
                        "for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])) do\n"
                        "  redis.call('DEL', ARGV[1] .. 'claim:' .. m)\n"
                        "end\n"
                        "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])\n"
                        "return removed\n"};

// KEYS: periods. ARGV: ttl, then per distinct tuple six values: hash, domain set, day,
// domain, tuple, count. The recorder's batch in one round trip and one atomic step (the
// writer merges identical tuples first). The hash and set names travel in ARGV because
// their number varies: like the other scripts, this needs a standalone Redis (no Cluster).
constexpr Script kRecordMany{"record batch",
                             "local ttl = ARGV[1]\n"
                             "local n = 0\n"
                             "for i = 2, #ARGV, 6 do\n"
                             "  redis.call('HINCRBY', ARGV[i], ARGV[i + 4], ARGV[i + 5])\n"
                             "  redis.call('EXPIRE', ARGV[i], ttl)\n"
                             "  redis.call('SADD', ARGV[i + 1], ARGV[i + 3])\n"
                             "  redis.call('EXPIRE', ARGV[i + 1], ttl)\n"
                             "  redis.call('ZADD', KEYS[1], ARGV[i + 2], ARGV[i + 2])\n"
                             "  n = n + tonumber(ARGV[i + 5])\n"
                             "end\n"
                             "redis.call('EXPIRE', KEYS[1], ttl)\n"
                             "return n\n"};

constexpr const Script* kScripts[] = {&kRecord, &kPeriods, &kClaim, &kOwn, &kPurge, &kRecordMany};

std::string randomOwner() {
  std::random_device rd;
  char host[64] = {};
  if (::gethostname(host, sizeof host - 1) != 0) {
    host[0] = '\0';
  }
  char buf[128];
  // host and pid for whoever reads the claim by hand; the random part makes it unique.
  std::snprintf(buf, sizeof buf, "%s-pid%ld-%08x%08x", host, static_cast<long>(::getpid()), rd(),
                rd());
  return buf;
}

timeval toTimeval(std::chrono::milliseconds ms) noexcept {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

bool parseInt(std::string_view s, std::int64_t& out) noexcept {
  if (s.empty()) {
    return false;
  }
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// hiredis writes with write(2): a server that closed the connection would raise SIGPIPE
// and kill a process that does not ignore it (the report command, the tests; libmilter
// ignores it, but the store must not depend on its caller). So each command runs with
// SIGPIPE blocked in this thread, and a SIGPIPE it raised is consumed before unblocking
// (one that was pending before is left alone).
class SigpipeBlocked {
 public:
  SigpipeBlocked() noexcept {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlocked() {
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{};
        sigtimedwait(&pipe_, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t old_{};
  bool was_pending_ = false;
};

std::string_view replyText(const redisReply* r) noexcept {
  return r->str != nullptr ? std::string_view(r->str, r->len) : std::string_view();
}

}  // namespace

struct RedisStore::Impl {
  RedisAddress address;
  std::string shown;  // address.display(): the password hidden
  Options options;
  std::string owner;
  std::timed_mutex mu;  // guards everything below
  ContextPtr ctx;       // null: not connected
  std::chrono::milliseconds ctx_timeout{0};  // what the socket timeouts are set to
  std::string sha[std::size(kScripts)];     // SCRIPT LOAD answers (the same on any server)
  std::chrono::steady_clock::time_point retry_at{};  // no reconnect before
  std::string down_because;                          // the last connection error

  tl::unexpected<Error> error(Errc code, std::string_view what) const {
    return fail(code, "redis store " + shown + ": " + std::string(what));
  }

  // The connection failed: drop it, leave Redis alone for the backoff.
  tl::unexpected<Error> lost(std::string_view what, std::string why) {
    ctx.reset();
    down_because = std::move(why);
    retry_at = std::chrono::steady_clock::now() + options.reconnect_backoff;
    return error(Errc::TempFail, std::string(what) + ": " + down_because);
  }

  // One command on the open connection. A reply of type error is returned as such (the
  // caller decides), a transport failure drops the connection (TempFail).
  Result<ReplyPtr> raw(const std::vector<std::string_view>& args, std::string_view what) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (std::string_view a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    SigpipeBlocked no_sigpipe;
    ReplyPtr reply(static_cast<redisReply*>(
        redisCommandArgv(ctx.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
    if (!reply) {
      // hiredis says "Resource temporarily unavailable" for a timeout: say what it means.
      const bool timeout = ctx->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
      return lost(what, timeout ? "no answer within " + std::to_string(ctx_timeout.count()) + " ms"
                                : std::string(ctx->errstr));
    }
    return reply;
  }

  // Errors Redis answers with: TempFail for the passing states, Internal otherwise (our
  // scripts and commands are fixed: any other error is a bug or a foreign server).
  tl::unexpected<Error> replyError(const redisReply* r, std::string_view what) const {
    const std::string_view text = replyText(r);
    const bool passing = text.starts_with("LOADING") || text.starts_with("BUSY") ||
                         text.starts_with("READONLY") || text.starts_with("OOM") ||
                         text.starts_with("MASTERDOWN") || text.starts_with("NOAUTH") ||
                         text.starts_with("TRYAGAIN");
    return error(passing ? Errc::TempFail : Errc::Internal,
                 std::string(what) + ": " + std::string(text));
  }

  Result<ReplyPtr> expect(const std::vector<std::string_view>& args, std::string_view what) {
    Result<ReplyPtr> r = raw(args, what);
    if (r && (*r)->type == REDIS_REPLY_ERROR) {
      return replyError(r->get(), what);
    }
    return r;
  }

  // Connects, AUTHs, SELECTs, checks the version and loads the scripts. Errors: TempFail
  // for anything the server or the network did, Invalid for a store of another version.
  Result<void> connect() {
    const timeval tv = toTimeval(options.timeout);
    ContextPtr c(address.socket.empty()
                     ? redisConnectWithTimeout(address.host.c_str(), address.port, tv)
                     : redisConnectUnixWithTimeout(address.socket.c_str(), tv));
    if (!c) {
      return lost("cannot connect", "out of memory");
    }
    if (c->err != 0) {
      return lost("cannot connect", c->errstr);
    }
    if (redisSetTimeout(c.get(), tv) != REDIS_OK) {
      return lost("cannot connect", "cannot set the command timeout");
    }
    ctx = std::move(c);
    ctx_timeout = options.timeout;
    auto step = [&](const std::vector<std::string_view>& args, std::string_view what) -> Result<ReplyPtr> {
      Result<ReplyPtr> r = expect(args, what);
      if (!r) {
        // A refusal (wrong password, no such DB) leaves a connection we must not use.
        ctx.reset();
        retry_at = std::chrono::steady_clock::now() + options.reconnect_backoff;
        down_because = r.error().message;
        return fail(Errc::TempFail, r.error().message);
      }
      return r;
    };
    if (!address.password.empty()) {
      if (Result<ReplyPtr> r = step({"AUTH", address.password}, "AUTH refused"); !r) {
        return fail(r.error());
      }
    }
    const std::string db = std::to_string(address.db);
    if (Result<ReplyPtr> r = step({"SELECT", db}, "SELECT " + db); !r) {
      return fail(r.error());
    }
    const std::string version_key = std::string(kPrefix) + "version";
    const std::string ours = std::to_string(kSchemaVersion);
    if (Result<ReplyPtr> r = step({"SET", version_key, ours, "NX"}, "set version"); !r) {
      return fail(r.error());
    }
    Result<ReplyPtr> v = step({"GET", version_key}, "read version");
    if (!v) {
      return fail(v.error());
    }
    if ((*v)->type != REDIS_REPLY_STRING || replyText(v->get()) != ours) {
      const std::string found =
          (*v)->type == REDIS_REPLY_STRING ? std::string(replyText(v->get())) : "not a string";
      ctx.reset();
      return error(Errc::Invalid, version_key + " is " + found + ", this mailwarden reads version " +
                                      ours);
    }
    // Once per store: the digests do not change with the server (a server that lost its
    // scripts answers NOSCRIPT and run() sends the text), so a reconnect skips this.
    for (std::size_t i = 0; i < std::size(kScripts) && sha[i].empty(); ++i) {
      Result<ReplyPtr> r = step({"SCRIPT", "LOAD", kScripts[i]->text},
                                std::string("load script ") + kScripts[i]->name);
      if (!r) {
        return fail(r.error());
      }
      sha[i] = std::string(replyText(r->get()));
    }
    down_because.clear();
    return {};
  }

  // The connection, (re)made when there is none and the backoff has passed.
  Result<void> ready(std::chrono::milliseconds timeout) {
    if (!ctx) {
      const auto now = std::chrono::steady_clock::now();
      if (now < retry_at) {
        const auto wait =
            std::chrono::duration_cast<std::chrono::milliseconds>(retry_at - now).count();
        return error(Errc::TempFail, "not connected (" + down_because + "; next attempt in " +
                                         std::to_string(wait) + " ms)");
      }
      if (Result<void> r = connect(); !r) {
        return r;
      }
    }
    if (timeout != ctx_timeout) {
      if (redisSetTimeout(ctx.get(), toTimeval(timeout)) != REDIS_OK) {
        return lost("set timeout", "cannot set the command timeout");
      }
      ctx_timeout = timeout;
    }
    return {};
  }

  Result<ReplyPtr> command(const std::vector<std::string_view>& args, std::string_view what,
                           std::chrono::milliseconds timeout) {
    if (Result<void> r = ready(timeout); !r) {
      return fail(r.error());
    }
    return expect(args, what);
  }

  // EVALSHA, and EVAL when the server lost its script cache (SCRIPT FLUSH, a restart
  // behind a proxy): EVAL caches it again.
  Result<ReplyPtr> run(const Script& s, const std::vector<std::string_view>& keys,
                       const std::vector<std::string_view>& args,
                       std::chrono::milliseconds timeout) {
    if (Result<void> r = ready(timeout); !r) {
      return fail(r.error());
    }
    const std::size_t index =
        static_cast<std::size_t>(std::find(std::begin(kScripts), std::end(kScripts), &s) -
                                 std::begin(kScripts));
    const std::string nkeys = std::to_string(keys.size());
    std::vector<std::string_view> argv{"EVALSHA", sha[index], nkeys};
    argv.insert(argv.end(), keys.begin(), keys.end());
    argv.insert(argv.end(), args.begin(), args.end());
    Result<ReplyPtr> r = raw(argv, s.name);
    if (r && (*r)->type == REDIS_REPLY_ERROR && replyText(r->get()).starts_with("NOSCRIPT")) {
      argv[0] = "EVAL";
      argv[1] = s.text;
      r = raw(argv, s.name);
    }
    if (r && (*r)->type == REDIS_REPLY_ERROR) {
      return replyError(r->get(), s.name);
    }
    return r;
  }

  Result<std::int64_t> integer(const Script& s, const std::vector<std::string_view>& keys,
                               const std::vector<std::string_view>& args,
                               std::chrono::milliseconds timeout) {
    Result<ReplyPtr> r = run(s, keys, args, timeout);
    if (!r) {
      return fail(r.error());
    }
    if ((*r)->type != REDIS_REPLY_INTEGER) {
      return error(Errc::Internal, std::string(s.name) + ": unexpected answer type " +
                                       std::to_string((*r)->type));
    }
    return static_cast<std::int64_t>((*r)->integer);
  }

  std::string claimMember(Period period, std::string_view domain) const {
    return std::to_string(period.day) + ":" + std::string(domain);
  }

  Result<void> own(std::string_view domain, Period period, std::string_view action,
                   std::string_view what) {
    const std::string d = ascii::lower(domain);
    const std::string key = std::string(kPrefix) + "claim:" + claimMember(period, d);
    std::lock_guard lock(mu);
    Result<std::int64_t> done = integer(kOwn, {key}, {owner, action}, options.admin_timeout);
    if (!done) {
      return fail(done.error());
    }
    if (*done == 0) {
      return error(Errc::Invalid, std::string(what) + " " + d + " day " +
                                      std::to_string(period.day) + ": not claimed by this store");
    }
    return {};
  }
};

RedisStore::RedisStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RedisStore::~RedisStore() = default;

const std::string& RedisStore::owner() const noexcept { return impl_->owner; }

Result<std::unique_ptr<RedisStore>> RedisStore::open(const std::string& url, Options options) {
  Result<RedisAddress> address = parseRedisUrl(url);
  if (!address) {
    return fail(address.error());
  }
  auto impl = std::make_unique<Impl>();
  impl->address = std::move(*address);
  impl->shown = impl->address.display();
  impl->options = options;
  impl->owner = randomOwner();
  if (Result<void> r = impl->connect(); !r) {
    return fail(r.error());
  }
  return std::unique_ptr<RedisStore>(new RedisStore(std::move(impl)));
}

Result<void> RedisStore::record(const Record& r) noexcept {
  try {
    const std::string tuple = tupleKey(r);
    const std::string domain = ascii::lower(r.policy.domain);
    const std::string day = std::to_string(Period::of(r.time).day);
    const std::string set = std::string(kPrefix) + day;
    const std::string hash = set + ":" + domain;
    const std::string periods = std::string(kPrefix) + "periods";
    const std::string ttl = std::to_string(impl_->options.ttl.count());
    std::unique_lock lock(impl_->mu, std::defer_lock);
    if (!lock.try_lock_for(impl_->options.timeout)) {
      return impl_->error(Errc::TempFail, "store busy (lock wait over " +
                                              std::to_string(impl_->options.timeout.count()) +
                                              " ms)");
    }
    Result<std::int64_t> done =
        impl_->integer(kRecord, {hash, set, periods}, {tuple, domain, day, ttl}, impl_->options.timeout);
    if (!done) {
      return fail(done.error());
    }
    return {};
  } catch (const std::exception& e) {  // std::bad_alloc: the record is lost, the caller spools
    return fail(Errc::Internal, std::string("redis record: ") + e.what());
  }
}

std::size_t RedisStore::recordBatch(std::span<const Record> batch) noexcept {
  if (batch.empty()) {
    return 0;
  }
  try {
    const std::vector<BatchRow> merged = groupBatch(batch);
    std::vector<std::string> values;
    values.reserve(1 + merged.size() * 6);
    values.push_back(std::to_string(impl_->options.ttl.count()));
    for (const BatchRow& b : merged) {
      const std::string day = std::to_string(b.day);
      const std::string set = std::string(kPrefix) + day;
      values.push_back(set + ":" + b.domain);
      values.push_back(set);
      values.push_back(day);
      values.push_back(b.domain);
      values.push_back(b.key);
      values.push_back(std::to_string(b.count));
    }
    const std::vector<std::string_view> args(values.begin(), values.end());
    const std::string periods = std::string(kPrefix) + "periods";
    std::unique_lock lock(impl_->mu, std::defer_lock);
    if (!lock.try_lock_for(impl_->options.timeout)) {
      return 0;
    }
    Result<std::int64_t> done = impl_->integer(kRecordMany, {periods}, args, impl_->options.timeout);
    return done && *done == static_cast<std::int64_t>(batch.size()) ? batch.size() : 0;
  } catch (const std::exception&) {  // std::bad_alloc: nothing counted, the caller keeps them
    return 0;
  }
}

Result<std::vector<Period>> RedisStore::periods() {
  std::lock_guard lock(impl_->mu);
  Result<ReplyPtr> r = impl_->run(kPeriods, {std::string(kPrefix) + "periods"}, {kPrefix},
                                  impl_->options.admin_timeout);
  if (!r) {
    return fail(r.error());
  }
  std::vector<Period> out;
  if ((*r)->type == REDIS_REPLY_ARRAY) {
    for (std::size_t i = 0; i < (*r)->elements; ++i) {
      std::int64_t day = 0;
      if (!parseInt(replyText((*r)->element[i]), day)) {
        return impl_->error(Errc::Invalid, "periods: not a day: " +
                                               std::string(replyText((*r)->element[i])));
      }
      out.push_back(Period{day});
    }
  }
  std::sort(out.begin(), out.end(), [](Period a, Period b) { return a.day < b.day; });
  return out;
}

Result<std::vector<std::string>> RedisStore::domains(Period period) {
  std::lock_guard lock(impl_->mu);
  Result<ReplyPtr> r = impl_->command({"SMEMBERS", std::string(kPrefix) + std::to_string(period.day)},
                                      "list domains", impl_->options.admin_timeout);
  if (!r) {
    return fail(r.error());
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; (*r)->type == REDIS_REPLY_ARRAY && i < (*r)->elements; ++i) {
    out.emplace_back(replyText((*r)->element[i]));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<Row>> RedisStore::rows(Period period, std::string_view domain) {
  const std::string d = ascii::lower(domain);
  std::lock_guard lock(impl_->mu);
  Result<ReplyPtr> r =
      impl_->command({"HGETALL", std::string(kPrefix) + std::to_string(period.day) + ":" + d},
                     "list rows", impl_->options.admin_timeout);
  if (!r) {
    return fail(r.error());
  }
  std::vector<std::pair<std::string_view, std::int64_t>> pairs;
  for (std::size_t i = 0; (*r)->type == REDIS_REPLY_ARRAY && i + 1 < (*r)->elements; i += 2) {
    std::int64_t count = 0;
    if (!parseInt(replyText((*r)->element[i + 1]), count)) {
      return impl_->error(Errc::Invalid, "row of " + d + ": count is not a number");
    }
    pairs.emplace_back(replyText((*r)->element[i]), count);
  }
  std::sort(pairs.begin(), pairs.end());  // tupleKey order, as SqliteStore
  std::vector<Row> out;
  for (const auto& [key, count] : pairs) {
    Result<Record> rec = recordFromKey(key);
    if (!rec) {
      return impl_->error(Errc::Invalid, "row " + std::to_string(out.size() + 1) + " of " + d +
                                             ": " + rec.error().message);
    }
    rec->time = std::chrono::sys_seconds(std::chrono::seconds(period.begin()));
    out.push_back(Row{std::move(*rec), count});
  }
  return out;
}

Result<bool> RedisStore::claim(std::string_view domain, Period period,
                               std::chrono::sys_seconds now) {
  const std::string d = ascii::lower(domain);
  const std::string member = impl_->claimMember(period, d);
  const std::string key = std::string(kPrefix) + "claim:" + member;
  const std::string index = std::string(kPrefix) + "claims";
  const std::string t = std::to_string(now.time_since_epoch().count());
  const std::string lease = std::to_string(impl_->options.claim_lease.count());
  const std::string ttl = std::to_string(impl_->options.ttl.count());
  const std::string day = std::to_string(period.day);
  std::lock_guard lock(impl_->mu);
  Result<std::int64_t> won = impl_->integer(kClaim, {key, index},
                                            {impl_->owner, t, lease, ttl, day, member},
                                            impl_->options.admin_timeout);
  if (!won) {
    return fail(won.error());
  }
  return *won == 1;
}

Result<void> RedisStore::markSent(std::string_view domain, Period period) {
  return impl_->own(domain, period, "sent", "mark sent");
}

Result<void> RedisStore::release(std::string_view domain, Period period) {
  return impl_->own(domain, period, "release", "release");
}

Result<std::int64_t> RedisStore::purge(Period first_kept) {
  const std::string last = std::to_string(first_kept.day - 1);
  std::lock_guard lock(impl_->mu);
  return impl_->integer(kPurge,
                        {std::string(kPrefix) + "periods", std::string(kPrefix) + "claims"},
                        {kPrefix, last}, impl_->options.admin_timeout);
}

}  // namespace mw::report
