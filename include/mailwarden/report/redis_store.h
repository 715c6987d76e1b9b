// report/redis_store.h — the Redis Store (Debian's libhiredis, redis-server 7): one place
// that every MX host writes to, so one report covers all of them (issue 20, point 2).
//
// Same contract as SqliteStore (store.h): aggregation in the store, exactly-once claims
// with a lease, bounded record(). The layout (every key under "mailwarden:dmarc:"):
//   version                  string "1": the layout this build reads (kSchemaVersion)
//   periods                  sorted set of days with data (member = score = the day)
//   {day}                    set of the DMARC Policy Domains with data that day
//   {day}:{domain}           hash: field tupleKey(record) → count (HINCRBY 1 per message)
//   claim:{day}:{domain}     hash {state claimed|sent, owner, at}: the report claim
//   claims                   sorted set "{day}:{domain}" by day: the claims, for purge()
// Every write is one Lua script (EVALSHA, EVAL when the server does not know it yet), so
// a record is one round trip and atomic, and claim/markSent/release decide and write in
// one step (the owner and the time are arguments: scripts stay deterministic). Every data
// and claim key gets a TTL (Options::ttl, 40 days) refreshed on write, so a store nobody
// reports from any more empties itself; purge() deletes explicitly. The scripts touch
// keys they compute, so this is for a standalone Redis (or a primary with replicas), not
// Redis Cluster.
//
// Why one connection guarded by a timed mutex rather than a pool: record() is one EVALSHA
// of a few microseconds on the server; a pool would multiply connections by milter
// threads and hosts (the failure mode of other filters), for no throughput the milter
// needs. The timed mutex keeps record()'s bound: a thread that cannot get the connection
// within Options::timeout gives up (TempFail).
//
// Bounds: every command has Options::timeout (SO_RCVTIMEO/SO_SNDTIMEO via hiredis) for
// record(), Options::admin_timeout for the report command's calls (a purge may run
// longer). A failed or timed-out connection is dropped; the next call reconnects, but not
// more than once per Options::reconnect_backoff: in between, record() returns TempFail at
// once, so a Redis that is down costs a message nothing. record() waits at most for the
// lock, then, on a reconnect (at most once per backoff), the connect and four set-up
// commands (AUTH, SELECT, the version's SET NX and GET), then its own command, each
// within Options::timeout; in practice one of them (a Redis that is down refuses at once,
// a hung one costs one timeout and then nothing until the backoff has passed).
//
// Errors never contain the password: URLs in messages are written with ":***@".
// Thread-safety: every member function may be called from any thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "mailwarden/base/result.h"
#include "mailwarden/report/store.h"

namespace mw::report {

// Where a Redis store is. Two URL forms:
//   redis://[:PASSWORD@]HOST[:PORT][/DB]      HOST a name, IPv4, or [IPv6]; PORT 6379; DB 0
//   redis+unix://[:PASSWORD@]/PATH[?db=DB]    a unix socket (absolute path); DB 0
// PASSWORD is sent with AUTH (no ACL user names: Redis' "default" user). The password may
// not contain '@' or '/'.
struct RedisAddress {
  std::string host;    // empty for a unix socket
  int port = 6379;
  std::string socket;  // the unix socket path; empty for TCP
  int db = 0;
  std::string password;  // empty: no AUTH

  // The URL again, the password as "***" (for messages and logs).
  std::string display() const;
};

// Parses a store URL. A malformed one: Errc::Invalid, the message naming the URL (password
// hidden) and what is wrong. Pure; never throws except bad_alloc.
[[nodiscard]] Result<RedisAddress> parseRedisUrl(std::string_view url);

class RedisStore final : public Store {
 public:
  struct Options {
    std::chrono::milliseconds timeout{250};         // connect, and each record()
    std::chrono::milliseconds admin_timeout{5000};  // the other calls (report command)
    std::chrono::milliseconds reconnect_backoff{1000};
    std::chrono::seconds claim_lease{3600};
    std::chrono::seconds ttl{40 * 86400};
  };
  // The layout version this build writes and reads (key mailwarden:dmarc:version).
  static constexpr int kSchemaVersion = 1;

  // Parses `url`, connects (Options::timeout), AUTHs, SELECTs the DB and checks the
  // version key (set when absent). Errors name the URL (password hidden): a bad URL or a
  // store of another version is Errc::Invalid; Redis unreachable, refusing AUTH or SELECT
  // is Errc::TempFail.
  [[nodiscard]] static Result<std::unique_ptr<RedisStore>> open(const std::string& url,
                                                                Options options);
  [[nodiscard]] static Result<std::unique_ptr<RedisStore>> open(const std::string& url) {
    return open(url, Options{});
  }
  ~RedisStore() override;
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  [[nodiscard]] Result<void> record(const Record& r) noexcept override;
  // One script call for the whole batch (one round trip, atomic: all or nothing),
  // identical tuples merged into one HINCRBY each. Bounded like record().
  [[nodiscard]] std::size_t recordBatch(std::span<const Record> batch) noexcept override;
  [[nodiscard]] Result<std::vector<Period>> periods() override;
  [[nodiscard]] Result<std::vector<std::string>> domains(Period period) override;
  [[nodiscard]] Result<std::vector<Row>> rows(Period period, std::string_view domain) override;
  [[nodiscard]] Result<bool> claim(std::string_view domain, Period period,
                                   std::chrono::sys_seconds now) override;
  [[nodiscard]] Result<void> markSent(std::string_view domain, Period period) override;
  [[nodiscard]] Result<void> release(std::string_view domain, Period period) override;
  [[nodiscard]] Result<std::int64_t> purge(Period first_kept) override;

  // Who this store claims as (random per open: two stores in one process are two owners).
  const std::string& owner() const noexcept;

  struct Impl;

 private:
  explicit RedisStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mw::report
