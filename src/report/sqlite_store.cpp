// report/sqlite_store.cpp — the SQLite Store: aggregation and claims in SQL.
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <tuple>
#include <mutex>
#include <random>

#include "mailwarden/base/ascii.h"
#include "mailwarden/report/store.h"

namespace mw::report {

Store::~Store() = default;

std::vector<BatchRow> groupBatch(std::span<const Record> batch) {
  std::map<std::tuple<std::int64_t, std::string, std::string>, std::int64_t> merged;
  for (const Record& r : batch) {
    ++merged[{Period::of(r.time).day, ascii::lower(r.policy.domain), tupleKey(r)}];
  }
  std::vector<BatchRow> out;
  out.reserve(merged.size());
  for (auto& [k, n] : merged) {
    out.push_back(BatchRow{std::get<0>(k), std::get<1>(k), std::get<2>(k), n});
  }
  return out;
}

std::size_t Store::recordBatch(std::span<const Record> batch) noexcept {
  std::size_t done = 0;
  while (done < batch.size() && record(batch[done])) {
    ++done;
  }
  return done;
}

namespace {

struct DbClose {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbClose>;

struct StmtFinalize {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

// One use of a prepared statement: reset and unbound when the scope ends, whatever the
// outcome, so the next caller finds it clean (and its read lock is dropped).
class Use {
 public:
  explicit Use(const StmtPtr& s) noexcept : s_(s.get()) {}
  ~Use() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  sqlite3_stmt* get() const noexcept { return s_; }

 private:
  sqlite3_stmt* s_;
};

// Version 1. Counters keyed by (period, domain, tuple): WITHOUT ROWID keeps one b-tree,
// the primary key serves both the upsert and the listing by (period, domain).
constexpr const char* kSchemaV1 =
    "CREATE TABLE IF NOT EXISTS tallies ("
    "  period INTEGER NOT NULL,"
    "  domain TEXT NOT NULL,"
    "  tuple TEXT NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  PRIMARY KEY (period, domain, tuple)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS claims ("
    "  domain TEXT NOT NULL,"
    "  period INTEGER NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('claimed', 'sent')),"
    "  owner TEXT NOT NULL,"
    "  claimed_at INTEGER NOT NULL,"
    "  PRIMARY KEY (domain, period)) WITHOUT ROWID;"
    "PRAGMA user_version = 1;";

Errc classify(int rc) noexcept {
  switch (rc & 0xff) {  // primary result code
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return Errc::TempFail;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return Errc::Invalid;
    default:
      return Errc::Internal;
  }
}

std::string randomOwner() {
  std::random_device rd;
  char buf[48];
  std::snprintf(buf, sizeof buf, "pid%ld-%08x%08x", static_cast<long>(::getpid()), rd(), rd());
  return buf;
}

}  // namespace

struct SqliteStore::Impl {
  std::string path;
  Options options;
  std::string owner;
  std::timed_mutex mu;  // guards the connection and every statement
  DbPtr db;             // declared before the statements: destroyed after them
  StmtPtr insert, list_periods, list_domains, list_rows, claim, mark_sent, release, purge_tallies,
      purge_claims;

  tl::unexpected<Error> error(int rc, std::string_view what) const {
    const char* msg = db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc);
    return fail(classify(rc), "sqlite:" + path + ": " + std::string(what) + ": " + msg);
  }

  Result<void> exec(const char* sql, std::string_view what) {
    const int rc = sqlite3_exec(db.get(), sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      return error(rc, what);
    }
    return {};
  }

  Result<StmtPtr> prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    const int rc = sqlite3_prepare_v3(db.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    StmtPtr owned(s);
    if (rc != SQLITE_OK) {
      return error(rc, "prepare");
    }
    return owned;
  }

  Result<int> pragmaInt(const char* sql) {
    Result<StmtPtr> s = prepare(sql);
    if (!s) {
      return fail(s.error());
    }
    const int rc = sqlite3_step(s->get());
    if (rc != SQLITE_ROW) {
      return error(rc, sql);
    }
    return sqlite3_column_int(s->get(), 0);
  }

  Result<void> initSchema() {
    // journal_mode answers with the mode in effect: a file system without shared memory
    // (some network mounts) keeps "delete", which we refuse rather than run slow.
    {
      Result<StmtPtr> s = prepare("PRAGMA journal_mode = WAL");
      if (!s) {
        return fail(s.error());
      }
      const int rc = sqlite3_step(s->get());
      if (rc != SQLITE_ROW) {
        return error(rc, "cannot read database");
      }
      const auto* mode = reinterpret_cast<const char*>(sqlite3_column_text(s->get(), 0));
      if (mode == nullptr || std::string_view(mode) != "wal") {
        return fail(Errc::TempFail, "sqlite:" + path + ": cannot use WAL journal mode (got " +
                                        (mode ? mode : "nothing") + ")");
      }
    }
    if (Result<void> r = exec("PRAGMA synchronous = NORMAL", "synchronous"); !r) {
      return r;
    }
    // BEGIN IMMEDIATE: two processes opening a new file at once create the tables once.
    if (Result<void> r = exec("BEGIN IMMEDIATE", "begin"); !r) {
      return r;
    }
    Result<int> version = pragmaInt("PRAGMA user_version");
    Result<void> done;
    if (!version) {
      done = fail(version.error());
    } else if (*version == 0) {
      done = exec(kSchemaV1, "create schema");
    } else if (*version != kSchemaVersion) {
      done = fail(Errc::Invalid, "sqlite:" + path + ": schema version " +
                                     std::to_string(*version) + ", this mailwarden reads version " +
                                     std::to_string(kSchemaVersion));
    }
    if (!done) {
      (void)exec("ROLLBACK", "rollback");
      return done;
    }
    return exec("COMMIT", "commit");
  }

  Result<void> prepareAll() {
    struct Slot {
      StmtPtr* stmt;
      const char* sql;
    };
    const Slot slots[] = {
        {&insert,
         "INSERT INTO tallies (period, domain, tuple, count) VALUES (?1, ?2, ?3, ?4) "
         "ON CONFLICT (period, domain, tuple) DO UPDATE SET count = count + excluded.count"},
        {&list_periods, "SELECT DISTINCT period FROM tallies ORDER BY period"},
        {&list_domains, "SELECT DISTINCT domain FROM tallies WHERE period = ?1 ORDER BY domain"},
        {&list_rows,
         "SELECT tuple, count FROM tallies WHERE period = ?1 AND domain = ?2 ORDER BY tuple"},
        // A new claim, or a takeover of a claim (not a sent one) older than the lease.
        {&claim,
         "INSERT INTO claims (domain, period, state, owner, claimed_at) "
         "VALUES (?1, ?2, 'claimed', ?3, ?4) "
         "ON CONFLICT (domain, period) DO UPDATE SET owner = excluded.owner, "
         "claimed_at = excluded.claimed_at "
         "WHERE claims.state = 'claimed' AND claims.claimed_at <= ?5"},
        {&mark_sent,
         "UPDATE claims SET state = 'sent' "
         "WHERE domain = ?1 AND period = ?2 AND owner = ?3 AND state = 'claimed'"},
        {&release,
         "DELETE FROM claims WHERE domain = ?1 AND period = ?2 AND owner = ?3 AND state = 'claimed'"},
        {&purge_tallies, "DELETE FROM tallies WHERE period < ?1"},
        {&purge_claims, "DELETE FROM claims WHERE period < ?1"},
    };
    for (const Slot& s : slots) {
      Result<StmtPtr> p = prepare(s.sql);
      if (!p) {
        return fail(p.error());
      }
      *s.stmt = std::move(*p);
    }
    return {};
  }

  void bind(sqlite3_stmt* s, int i, std::string_view text) {
    sqlite3_bind_text(s, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }

  // Runs a statement that returns no rows; the number of rows it changed.
  Result<int> run(sqlite3_stmt* s, std::string_view what) {
    const int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
      return error(rc, what);
    }
    return sqlite3_changes(db.get());
  }

  // One upsert: `count` more messages with this tuple. mu held.
  Result<void> add(std::int64_t day, std::string_view domain, std::string_view key,
                   std::int64_t count) {
    Use u(insert);
    sqlite3_bind_int64(u.get(), 1, day);
    bind(u.get(), 2, domain);
    bind(u.get(), 3, key);
    sqlite3_bind_int64(u.get(), 4, count);
    if (Result<int> changed = run(u.get(), "record"); !changed) {
      return fail(changed.error());
    }
    return {};
  }

  Result<void> ownClaim(const StmtPtr& stmt, std::string_view domain, Period period,
                        std::string_view what) {
    const std::string d = ascii::lower(domain);
    std::lock_guard lock(mu);
    Use u(stmt);
    bind(u.get(), 1, d);
    sqlite3_bind_int64(u.get(), 2, period.day);
    bind(u.get(), 3, owner);
    Result<int> changed = run(u.get(), what);
    if (!changed) {
      return fail(changed.error());
    }
    if (*changed == 0) {
      return fail(Errc::Invalid, "sqlite:" + path + ": " + std::string(what) + " " + d + " day " +
                                     std::to_string(period.day) + ": not claimed by this store");
    }
    return {};
  }
};

SqliteStore::SqliteStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteStore::~SqliteStore() = default;

const std::string& SqliteStore::owner() const noexcept { return impl_->owner; }

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path, Options options) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->options = options;
  impl->owner = randomOwner();
  sqlite3* raw = nullptr;
  // NOMUTEX: our own mutex serializes use of the connection.
  const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  impl->db.reset(raw);  // sqlite3_open_v2 hands out a handle even on failure
  if (rc != SQLITE_OK) {
    return impl->error(rc, "cannot open");
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, static_cast<int>(options.busy_timeout.count()));
  if (Result<void> r = impl->initSchema(); !r) {
    return fail(r.error());
  }
  if (Result<void> r = impl->prepareAll(); !r) {
    return fail(r.error());
  }
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(impl)));
}

Result<void> SqliteStore::record(const Record& r) noexcept {
  try {
    const std::string key = tupleKey(r);
    const std::string domain = ascii::lower(r.policy.domain);
    std::unique_lock lock(impl_->mu, std::defer_lock);
    if (!lock.try_lock_for(impl_->options.busy_timeout)) {
      return fail(Errc::TempFail, "sqlite:" + impl_->path + ": store busy (lock wait over " +
                                      std::to_string(impl_->options.busy_timeout.count()) + " ms)");
    }
    return impl_->add(Period::of(r.time).day, domain, key, 1);
  } catch (const std::exception& e) {  // std::bad_alloc: the record is lost, the caller spools
    return fail(Errc::Internal, std::string("sqlite record: ") + e.what());
  }
}

std::size_t SqliteStore::recordBatch(std::span<const Record> batch) noexcept {
  if (batch.empty()) {
    return 0;
  }
  try {
    const std::vector<BatchRow> merged = groupBatch(batch);
    std::unique_lock lock(impl_->mu, std::defer_lock);
    if (!lock.try_lock_for(impl_->options.busy_timeout)) {
      return 0;
    }
    // IMMEDIATE: the write lock is taken (or busy_timeout spent) before the first upsert.
    if (!impl_->exec("BEGIN IMMEDIATE", "record batch")) {
      return 0;
    }
    for (const BatchRow& b : merged) {
      if (!impl_->add(b.day, b.domain, b.key, b.count)) {
        (void)impl_->exec("ROLLBACK", "rollback");
        return 0;
      }
    }
    if (!impl_->exec("COMMIT", "record batch commit")) {
      (void)impl_->exec("ROLLBACK", "rollback");
      return 0;
    }
    return batch.size();
  } catch (const std::exception&) {  // std::bad_alloc: nothing counted, the caller keeps them
    return 0;
  }
}

Result<std::vector<Period>> SqliteStore::periods() {
  std::lock_guard lock(impl_->mu);
  Use u(impl_->list_periods);
  std::vector<Period> out;
  int rc;
  while ((rc = sqlite3_step(u.get())) == SQLITE_ROW) {
    out.push_back(Period{sqlite3_column_int64(u.get(), 0)});
  }
  if (rc != SQLITE_DONE) {
    return impl_->error(rc, "list periods");
  }
  return out;
}

Result<std::vector<std::string>> SqliteStore::domains(Period period) {
  std::lock_guard lock(impl_->mu);
  Use u(impl_->list_domains);
  sqlite3_bind_int64(u.get(), 1, period.day);
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(u.get())) == SQLITE_ROW) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(u.get(), 0));
    out.emplace_back(text ? text : "");
  }
  if (rc != SQLITE_DONE) {
    return impl_->error(rc, "list domains");
  }
  return out;
}

Result<std::vector<Row>> SqliteStore::rows(Period period, std::string_view domain) {
  const std::string d = ascii::lower(domain);
  std::lock_guard lock(impl_->mu);
  Use u(impl_->list_rows);
  sqlite3_bind_int64(u.get(), 1, period.day);
  impl_->bind(u.get(), 2, d);
  std::vector<Row> out;
  int rc;
  while ((rc = sqlite3_step(u.get())) == SQLITE_ROW) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(u.get(), 0));
    const int len = sqlite3_column_bytes(u.get(), 0);
    Result<Record> rec = recordFromKey(std::string_view(text ? text : "", text ? len : 0));
    if (!rec) {
      return fail(Errc::Invalid, "sqlite:" + impl_->path + ": row " + std::to_string(out.size() + 1) +
                                     " of " + d + ": " + rec.error().message);
    }
    rec->time = std::chrono::sys_seconds(std::chrono::seconds(period.begin()));
    out.push_back(Row{std::move(*rec), sqlite3_column_int64(u.get(), 1)});
  }
  if (rc != SQLITE_DONE) {
    return impl_->error(rc, "list rows");
  }
  return out;
}

Result<bool> SqliteStore::claim(std::string_view domain, Period period,
                                std::chrono::sys_seconds now) {
  const std::string d = ascii::lower(domain);
  const std::int64_t t = now.time_since_epoch().count();
  std::lock_guard lock(impl_->mu);
  Use u(impl_->claim);
  impl_->bind(u.get(), 1, d);
  sqlite3_bind_int64(u.get(), 2, period.day);
  impl_->bind(u.get(), 3, impl_->owner);
  sqlite3_bind_int64(u.get(), 4, t);
  sqlite3_bind_int64(u.get(), 5, t - impl_->options.claim_lease.count());
  Result<int> changed = impl_->run(u.get(), "claim");
  if (!changed) {
    return fail(changed.error());
  }
  return *changed == 1;
}

Result<void> SqliteStore::markSent(std::string_view domain, Period period) {
  return impl_->ownClaim(impl_->mark_sent, domain, period, "mark sent");
}

Result<void> SqliteStore::release(std::string_view domain, Period period) {
  return impl_->ownClaim(impl_->release, domain, period, "release");
}

Result<std::int64_t> SqliteStore::purge(Period first_kept) {
  std::lock_guard lock(impl_->mu);
  // One transaction: a reader never sees claims gone while their counters remain.
  if (Result<void> r = impl_->exec("BEGIN IMMEDIATE", "purge"); !r) {
    return fail(r.error());
  }
  Result<int> removed = [&]() -> Result<int> {
    Use t(impl_->purge_tallies);
    sqlite3_bind_int64(t.get(), 1, first_kept.day);
    Result<int> n = impl_->run(t.get(), "purge");
    if (!n) {
      return n;
    }
    Use c(impl_->purge_claims);
    sqlite3_bind_int64(c.get(), 1, first_kept.day);
    if (Result<int> m = impl_->run(c.get(), "purge claims"); !m) {
      return m;
    }
    return n;
  }();
  if (!removed) {
    (void)impl_->exec("ROLLBACK", "rollback");
    return fail(removed.error());
  }
  if (Result<void> r = impl_->exec("COMMIT", "purge commit"); !r) {
    return fail(r.error());
  }
  return static_cast<std::int64_t>(*removed);
}

}  // namespace mw::report
