// tests/unit/report/store_test.cpp — the Store contract, one body for every store: a real
// SQLite file in a fresh temporary directory, and a real redis-server of the test's own on
// a unix socket there (skipped when redis-server is not installed): aggregation,
// exactly-once claims across stores, release, takeover, periods and purge. Then what is
// SQLite's own: schema versioning, bad paths, a locked file.
#include "mailwarden/report/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "mailwarden/report/redis_store.h"
#include "redis_server.h"
#include "samples.h"

namespace mw::report {
namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;

constexpr std::int64_t kDay = 1767225600;  // 2026-01-01T00:00:00Z

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mw-store.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "dmarc.sqlite").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<SqliteStore> open(SqliteStore::Options o = {}) {
    Result<std::unique_ptr<SqliteStore>> s = SqliteStore::open(path_, o);
    EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().describe());
    return s ? std::move(*s) : nullptr;
  }

  // Runs one SQL statement on the file behind the store's back; the first column of the
  // first row, or -1.
  long long raw(const std::string& sql) {
    sqlite3* db = nullptr;
    sqlite3_open(path_.c_str(), &db);
    sqlite3_stmt* st = nullptr;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
  }

  static Record sample(std::string ip, std::int64_t t = kDay + 60) {
    Record r = testing::samples()[0].rows[0].record;
    r.source_ip = std::move(ip);
    r.time = sys_seconds(seconds(t));
    return r;
  }

  std::filesystem::path dir_;
  std::string path_;
};

// A store kind for the typed tests: where its data lives (set up in `dir`), and open().
class SqliteKind {
 public:
  static constexpr const char* kName = "Sqlite";
  explicit SqliteKind(const std::filesystem::path& dir) : path_((dir / "dmarc.sqlite").string()) {}
  std::string start() { return ""; }
  Result<std::unique_ptr<Store>> open(std::chrono::milliseconds wait) {
    SqliteStore::Options o;
    o.busy_timeout = wait;
    Result<std::unique_ptr<SqliteStore>> s = SqliteStore::open(path_, o);
    if (!s) {
      return fail(s.error());
    }
    return std::unique_ptr<Store>(std::move(*s));
  }
  static std::string owner(Store& s) { return static_cast<SqliteStore&>(s).owner(); }

 private:
  std::string path_;
};

class RedisKind {
 public:
  static constexpr const char* kName = "Redis";
  explicit RedisKind(const std::filesystem::path& dir) : server_(dir, false) {}
  std::string start() {
    if (!testing::RedisServer::installed()) {
      return "skip";
    }
    return server_.start();
  }
  Result<std::unique_ptr<Store>> open(std::chrono::milliseconds wait) {
    RedisStore::Options o;
    o.timeout = wait;
    Result<std::unique_ptr<RedisStore>> s = RedisStore::open(server_.url(), o);
    if (!s) {
      return fail(s.error());
    }
    return std::unique_ptr<Store>(std::move(*s));
  }
  static std::string owner(Store& s) { return static_cast<RedisStore&>(s).owner(); }

 private:
  testing::RedisServer server_;
};

template <class Kind>
class StoreContract : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mw-store.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    kind_ = std::make_unique<Kind>(dir_);
    const std::string why = kind_->start();
    if (why == "skip") {
      GTEST_SKIP() << "redis-server is not installed";
    }
    ASSERT_EQ(why, "");
  }
  void TearDown() override {
    kind_.reset();  // stops a server before its folder goes
    std::filesystem::remove_all(dir_);
  }

  // wait: SQLite's busy_timeout, Redis' command timeout.
  std::unique_ptr<Store> open(std::chrono::milliseconds wait = std::chrono::milliseconds(250)) {
    Result<std::unique_ptr<Store>> s = kind_->open(wait);
    EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().describe());
    return s ? std::move(*s) : nullptr;
  }

  static Record sample(std::string ip, std::int64_t t = kDay + 60) {
    Record r = testing::samples()[0].rows[0].record;
    r.source_ip = std::move(ip);
    r.time = sys_seconds(seconds(t));
    return r;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Kind> kind_;
};

struct KindName {
  template <class Kind>
  static std::string GetName(int) {
    return Kind::kName;
  }
};
using StoreKinds = ::testing::Types<SqliteKind, RedisKind>;
TYPED_TEST_SUITE(StoreContract, StoreKinds, KindName);

TYPED_TEST(StoreContract, HundredMessagesFromTwoSourcesAreTwoRows) {
  auto store = this->open();
  ASSERT_TRUE(store);
  for (int i = 0; i < 100; ++i) {
    // different times within the day: the time is not part of the tuple
    ASSERT_TRUE(store->record(this->sample(i % 3 == 0 ? "2001:db8::1" : "192.0.2.1", kDay + i * 600)));
  }
  const Period day = Period::of(sys_seconds(seconds(kDay)));
  const Result<std::vector<std::string>> domains = store->domains(day);
  ASSERT_TRUE(domains.has_value());
  EXPECT_EQ(*domains, std::vector<std::string>{"example.com"});
  const Result<std::vector<Row>> rows = store->rows(day, "EXAMPLE.com");
  ASSERT_TRUE(rows.has_value()) << rows.error().message;
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].count + (*rows)[1].count, 100);
  for (const Row& row : *rows) {
    EXPECT_EQ(row.count, row.record.source_ip == "2001:db8::1" ? 34 : 66);
    Record want = this->sample(row.record.source_ip, kDay);
    EXPECT_EQ(row.record, want);
  }
  // the next day is another period
  ASSERT_TRUE(store->record(this->sample("192.0.2.1", kDay + 86400)));
  EXPECT_EQ(store->rows(day, "example.com")->size(), 2u);
  EXPECT_EQ(store->rows(Period{day.day + 1}, "example.com")->size(), 1u);
}

// The recorder's writer hands whole batches over (recordBatch): every record counted,
// identical tuples merged, days kept apart, and the batch adds to what single records left.
TYPED_TEST(StoreContract, BatchCountsEveryRecord) {
  auto store = this->open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->record(this->sample("192.0.2.1")));
  std::vector<Record> batch;
  for (int i = 0; i < 100; ++i) {
    batch.push_back(this->sample(i % 4 == 0 ? "2001:db8::1" : "192.0.2.1", kDay + i));
  }
  batch.push_back(this->sample("192.0.2.1", kDay + 86400));  // the next day: another row
  EXPECT_EQ(store->recordBatch(batch), batch.size());
  const Period day = Period::of(sys_seconds(seconds(kDay)));
  const Result<std::vector<Row>> rows = store->rows(day, "example.com");
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 2u);
  for (const Row& row : *rows) {
    EXPECT_EQ(row.count, row.record.source_ip == "2001:db8::1" ? 25 : 76);
  }
  const Result<std::vector<Row>> next = store->rows(Period{day.day + 1}, "example.com");
  ASSERT_TRUE(next.has_value());
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ((*next)[0].count, 1);
  EXPECT_EQ(*store->periods(), (std::vector<Period>{day, Period{day.day + 1}}));
  EXPECT_EQ(store->recordBatch({}), 0u);
}

TYPED_TEST(StoreContract, TwoStoresWritingAtOnceLoseNothing) {
  // generous waits: 2 shared cores
  auto a = this->open(std::chrono::milliseconds(5000));
  auto b = this->open(std::chrono::milliseconds(5000));
  ASSERT_TRUE(a && b);
  std::atomic<int> failures{0};
  auto writer = [&](Store* s) {
    for (int i = 0; i < 200; ++i) {
      if (!s->record(this->sample("192.0.2.1"))) {
        ++failures;
      }
    }
  };
  std::thread ta(writer, a.get()), tb(writer, b.get()), tc(writer, a.get());
  ta.join();
  tb.join();
  tc.join();
  EXPECT_EQ(failures.load(), 0);
  const Result<std::vector<Row>> rows = a->rows(Period::of(sys_seconds(seconds(kDay))), "example.com");
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].count, 600);
}

TYPED_TEST(StoreContract, ClaimIsWonExactlyOnceAcrossStores) {
  auto a = this->open(std::chrono::milliseconds(5000));
  auto b = this->open(std::chrono::milliseconds(5000));
  ASSERT_TRUE(a && b);
  EXPECT_NE(TypeParam::owner(*a), TypeParam::owner(*b));
  const Period day{20454};
  const sys_seconds now(seconds(kDay + 86400 + 300));
  constexpr int kDomains = 50;
  std::atomic<int> wins_a{0}, wins_b{0}, errors{0};
  std::atomic<bool> go{false};
  auto claimer = [&](Store* s, std::atomic<int>* wins) {
    while (!go.load()) {
      std::this_thread::yield();
    }
    for (int i = 0; i < kDomains; ++i) {
      const Result<bool> won = s->claim("d" + std::to_string(i) + ".example", day, now);
      if (!won) {
        ++errors;
      } else if (*won) {
        ++*wins;
      }
    }
  };
  std::thread ta(claimer, a.get(), &wins_a), tb(claimer, b.get(), &wins_b);
  go = true;
  ta.join();
  tb.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(wins_a.load() + wins_b.load(), kDomains);
  // and the same store cannot claim twice either
  EXPECT_FALSE(*a->claim("d0.example", day, now));
}

TYPED_TEST(StoreContract, FailedSendIsReleasedAndClaimedAgain) {
  auto a = this->open();
  auto b = this->open();
  ASSERT_TRUE(a && b);
  const Period day{20454};
  const sys_seconds now{seconds(kDay)};
  ASSERT_TRUE(*a->claim("example.com", day, now));
  EXPECT_FALSE(*b->claim("example.com", day, now));
  // b cannot release or mark what a holds
  const Result<void> foreign = b->release("example.com", day);
  ASSERT_FALSE(foreign.has_value());
  EXPECT_EQ(foreign.error().code, Errc::Invalid);
  EXPECT_FALSE(b->markSent("example.com", day).has_value());
  ASSERT_TRUE(a->release("example.com", day));  // the send failed
  ASSERT_TRUE(*b->claim("example.com", day, now + seconds(60)));  // the next run
  ASSERT_TRUE(b->markSent("example.com", day));
  // sent: never again, not even after the lease
  EXPECT_FALSE(*a->claim("example.com", day, now + seconds(86400 * 30)));
  EXPECT_FALSE(*b->claim("example.com", day, now + seconds(86400 * 30)));
}

TYPED_TEST(StoreContract, AClaimLeftBehindIsTakenOverAfterTheLease) {
  auto a = this->open();
  auto b = this->open();
  ASSERT_TRUE(a && b);
  const Period day{20454};
  const sys_seconds now{seconds(kDay)};
  ASSERT_TRUE(*a->claim("Example.COM", day, now));  // a's process dies here
  EXPECT_FALSE(*b->claim("example.com", day, now + seconds(3599)));
  ASSERT_TRUE(*b->claim("example.com", day, now + seconds(3600)));
  EXPECT_FALSE(a->markSent("example.com", day).has_value());  // a lost it
  EXPECT_TRUE(b->markSent("example.com", day).has_value());
}

// A batch is one transaction: merged tuples, all counted; against a locked file, none.
TEST_F(SqliteStoreTest, BatchIsAllOrNothing) {
  auto store = open(SqliteStore::Options{.busy_timeout = std::chrono::milliseconds(20)});
  ASSERT_TRUE(store);
  std::vector<Record> batch;
  for (int i = 0; i < 100; ++i) {
    batch.push_back(sample(i % 4 == 0 ? "2001:db8::1" : "192.0.2.1", kDay + i));
  }
  batch.push_back(sample("192.0.2.1", kDay + 86400));  // the next day: another row
  EXPECT_EQ(store->recordBatch(batch), batch.size());
  const Period day = Period::of(sys_seconds(seconds(kDay)));
  const Result<std::vector<Row>> rows = store->rows(day, "example.com");
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 2u);
  for (const Row& row : *rows) {
    EXPECT_EQ(row.count, row.record.source_ip == "2001:db8::1" ? 25 : 75);
  }
  EXPECT_EQ(store->rows(Period{day.day + 1}, "example.com")->size(), 1u);

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_EQ(store->recordBatch(batch), 0u);
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  EXPECT_EQ(raw("SELECT sum(count) FROM tallies"), 101);  // nothing of the refused batch
}

TYPED_TEST(StoreContract, PeriodsAreListedAndOldOnesPurged) {
  auto store = this->open();
  ASSERT_TRUE(store);
  const Period first = Period::of(sys_seconds(seconds(kDay)));
  for (int d = 0; d < 3; ++d) {
    ASSERT_TRUE(store->record(this->sample("192.0.2.1", kDay + d * 86400 + 5)));
    ASSERT_TRUE(store->record(this->sample("192.0.2.2", kDay + d * 86400 + 5)));
  }
  const sys_seconds now{seconds(kDay + 3 * 86400)};
  ASSERT_TRUE(*store->claim("example.com", first, now));
  ASSERT_TRUE(store->markSent("example.com", first));
  Result<std::vector<Period>> periods = store->periods();
  ASSERT_TRUE(periods.has_value());
  EXPECT_EQ(*periods, (std::vector<Period>{first, Period{first.day + 1}, Period{first.day + 2}}));
  // everything before the third day goes: 2 rows per day, and the first day's claim
  Result<std::int64_t> removed = store->purge(Period{first.day + 2});
  ASSERT_TRUE(removed.has_value()) << removed.error().message;
  EXPECT_EQ(*removed, 4);
  EXPECT_EQ(*store->periods(), std::vector<Period>{Period{first.day + 2}});
  EXPECT_EQ(store->rows(first, "example.com")->size(), 0u);
  EXPECT_EQ(store->rows(Period{first.day + 2}, "example.com")->size(), 2u);
  EXPECT_EQ(*store->purge(first), 0);  // nothing older: nothing removed
  // the first day's claim went too (sent, it would refuse): the day can be claimed again
  EXPECT_TRUE(*store->claim("example.com", first, now));
}

TEST_F(SqliteStoreTest, SchemaIsVersionedAndWal) {
  {
    auto s = open();
    ASSERT_TRUE(s);
  }
  EXPECT_EQ(raw("PRAGMA user_version"), SqliteStore::kSchemaVersion);
  EXPECT_EQ(raw("SELECT count(*) FROM sqlite_master WHERE name IN ('tallies', 'claims')"), 2);
  {
    auto again = open();  // an existing store of our version opens, data kept
    ASSERT_TRUE(again);
    ASSERT_TRUE(again->record(sample("192.0.2.1")));
  }
  raw("PRAGMA user_version = 7");
  const Result<std::unique_ptr<SqliteStore>> newer = SqliteStore::open(path_);
  ASSERT_FALSE(newer.has_value());
  EXPECT_EQ(newer.error().code, Errc::Invalid);
  EXPECT_NE(newer.error().message.find("schema version 7"), std::string::npos)
      << newer.error().message;
  EXPECT_NE(newer.error().message.find(path_), std::string::npos);
}

TEST_F(SqliteStoreTest, BadPathsAreClearErrors) {
  const std::string missing = (dir_ / "no-such-dir" / "dmarc.sqlite").string();
  const Result<std::unique_ptr<SqliteStore>> a = SqliteStore::open(missing);
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().code, Errc::TempFail);
  EXPECT_EQ(a.error().message.rfind("sqlite:" + missing + ": cannot open", 0), 0u)
      << a.error().message;

  const std::string text = (dir_ / "not-a-db").string();
  std::ofstream(text) << "this is not an SQLite database, but it is long enough to look like one\n";
  const Result<std::unique_ptr<SqliteStore>> b = SqliteStore::open(text);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code, Errc::Invalid);
  EXPECT_NE(b.error().message.find("not a database"), std::string::npos) << b.error().message;

  const Result<std::unique_ptr<SqliteStore>> c = SqliteStore::open(dir_.string());  // a directory
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message.find("sqlite:" + dir_.string()), std::string::npos);
}

TEST_F(SqliteStoreTest, RecordGivesUpWhenTheDatabaseIsLocked) {
  SqliteStore::Options o;
  o.busy_timeout = std::chrono::milliseconds(50);
  auto s = open(o);
  ASSERT_TRUE(s);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  const Result<void> r = s->record(sample("192.0.2.1"));
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::TempFail) << r.error().message;
  EXPECT_TRUE(s->record(sample("192.0.2.1")).has_value());  // and works again after
}

}  // namespace
}  // namespace mw::report
