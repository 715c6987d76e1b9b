// report/store.h — where DMARC aggregate data lives between messages and reports.
//
// Store is the one interface the pipeline (record) and the report command (domains, rows,
// claim, markSent, release) use; SqliteStore is the default, embedded implementation,
// RedisStore (redis_store.h) the one several MX hosts share.
//
// Aggregation happens in the store: record() adds 1 to the counter of the row
// (period, DMARC Policy Domain, tupleKey(record)), so the data grows with distinct tuples,
// not with messages. The period is the UTC day of record.time; the domain is
// record.policy.domain lower-cased (RFC 9990 §2.1: one report per DMARC Policy Domain).
//
// Exactly-once reporting across processes and hosts: before sending the report for
// (domain, period), the report command claim()s it. One claimer wins; the others get
// false. After a successful send it calls markSent() (the pair is never claimable again);
// after a failed send it calls release() (the next run claims and sends it). A claim that
// is neither marked nor released within `claim_lease` (a process that died mid-send) may
// be taken over by a later claim().
//
// Contracts common to every implementation:
//   * record() never blocks long: it gives up with Errc::TempFail after a bounded wait
//     (SqliteStore: Options::busy_timeout for the connection, the same again for the
//     store's lock; RedisStore: Options::timeout per step, no reconnect attempt within
//     its backoff). The caller then spools the record; it never delays a verdict.
//   * Errors are Result values, never exceptions (std::bad_alloc aside).
//   * All member functions are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/base/result.h"
#include "mailwarden/report/record.h"

namespace mw::report {

// One aggregation row: the tuple (record.time is the period's begin) and how many
// messages had it.
struct Row {
  Record record;
  std::int64_t count = 0;
};

// A batch grouped by aggregation row: the period's day, the policy domain lower-cased,
// tupleKey(), and how many records of the batch had them; in key order. What a store's
// recordBatch() writes: under load a batch is mostly the same few tuples.
struct BatchRow {
  std::int64_t day = 0;
  std::string domain;
  std::string key;
  std::int64_t count = 0;
};
[[nodiscard]] std::vector<BatchRow> groupBatch(std::span<const Record> batch);

class Store {
 public:
  virtual ~Store();

  // Counts one message. Bounded wait (see above); TempFail when the store is busy or down.
  [[nodiscard]] virtual Result<void> record(const Record& r) noexcept = 0;
  // Counts every record of `batch`, in order; how many were counted, from the front (the
  // rest: the store failed, retry them later). Bounded like record(). The default calls
  // record() for each and stops at the first failure; a store that can do better (one
  // transaction, one round trip) overrides it: the Recorder's writer hands its batches
  // here, so under load a message costs a fraction of a commit.
  [[nodiscard]] virtual std::size_t recordBatch(std::span<const Record> batch) noexcept;
  // The periods with data, oldest first (the report command walks them to find the
  // complete days not yet reported).
  [[nodiscard]] virtual Result<std::vector<Period>> periods() = 0;
  // The DMARC Policy Domains with data in `period`, sorted.
  [[nodiscard]] virtual Result<std::vector<std::string>> domains(Period period) = 0;
  // The rows of (period, domain), in tupleKey order (stable reports).
  [[nodiscard]] virtual Result<std::vector<Row>> rows(Period period, std::string_view domain) = 0;
  // Takes (domain, period) for reporting. true: ours, send it; false: another run has it
  // (claimed within the lease, or already sent).
  [[nodiscard]] virtual Result<bool> claim(std::string_view domain, Period period,
                                           std::chrono::sys_seconds now) = 0;
  // Our claim was sent: never again. Errc::Invalid if the claim is not ours (any more).
  [[nodiscard]] virtual Result<void> markSent(std::string_view domain, Period period) = 0;
  // Our claim failed to send: give it back for the next run. Errc::Invalid as markSent.
  [[nodiscard]] virtual Result<void> release(std::string_view domain, Period period) = 0;
  // Forgets every period before `first_kept`: counters and claims (sent or not). The
  // number of aggregation rows removed. Retention is the caller's choice (the report
  // command keeps a bounded number of days so an unsendable report cannot grow the store
  // without end).
  [[nodiscard]] virtual Result<std::int64_t> purge(Period first_kept) = 0;
};

// SQLite (Debian's libsqlite3), one database file shared by every process on the host.
//
// Why one connection guarded by a mutex rather than one per thread: record() is a single
// short INSERT ... ON CONFLICT DO UPDATE; milter threads come and go with connections, and
// per-thread connections would each hold a file descriptor, a page cache and prepared
// statements for a few microseconds of work. A timed mutex keeps record()'s bound: a
// thread that cannot get the connection within busy_timeout gives up (TempFail).
//
// The file is opened in WAL mode (readers never block the writer: the report command can
// read while milters write) with synchronous=NORMAL (no fsync per message; a power loss
// may lose the last few counts, never corrupt the file). The schema is versioned with
// PRAGMA user_version; a file with a newer version than this build knows is refused.
class SqliteStore final : public Store {
 public:
  struct Options {
    std::chrono::milliseconds busy_timeout{250};
    std::chrono::seconds claim_lease{3600};
  };
  // The schema version this build writes and reads (PRAGMA user_version).
  static constexpr int kSchemaVersion = 1;

  // Opens or creates `path` (its directory must exist). Errors name the path:
  // "sqlite:/var/lib/x.sqlite: cannot open: unable to open database file" (TempFail for
  // an unwritable or missing place, Invalid for a file that is not a store of ours).
  [[nodiscard]] static Result<std::unique_ptr<SqliteStore>> open(const std::string& path,
                                                                 Options options);
  [[nodiscard]] static Result<std::unique_ptr<SqliteStore>> open(const std::string& path) {
    return open(path, Options{});
  }
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  [[nodiscard]] Result<void> record(const Record& r) noexcept override;
  // One transaction for the whole batch (all or nothing), identical tuples merged into
  // one upsert each.
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
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mw::report
