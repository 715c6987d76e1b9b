// tests/unit/report/recorder_test.cpp — Recorder over a real SqliteStore whose file
// another connection holds locked: records are spooled (never an error to the caller),
// the spool keeps the newest spool_limit records, drops and counts the oldest, and the
// first record after the lock is released writes them (at most flush_batch at a time).
#include "mailwarden/report/recorder.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "samples.h"

namespace mw::report {
namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;

constexpr std::int64_t kDay = 1767225600;  // 2026-01-01T00:00:00Z

class RecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mw-recorder.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "dmarc.sqlite").string();
    SqliteStore::Options o;
    o.busy_timeout = std::chrono::milliseconds(20);
    Result<std::unique_ptr<SqliteStore>> s = SqliteStore::open(path_, o);
    ASSERT_TRUE(s) << s.error().describe();
    store_ = std::shared_ptr<Store>(std::move(*s));
  }
  void TearDown() override {
    if (lock_ != nullptr) {
      sqlite3_close(lock_);
    }
    std::filesystem::remove_all(dir_);
  }

  void lock() {
    ASSERT_EQ(sqlite3_open(path_.c_str(), &lock_), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(lock_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  }
  void unlock() {
    ASSERT_EQ(sqlite3_exec(lock_, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(lock_);
    lock_ = nullptr;
  }

  static Record sample(int i) {
    Record r = testing::samples()[0].rows[0].record;
    r.source_ip = "192.0.2." + std::to_string(i);
    r.time = sys_seconds(seconds(kDay + 60));
    return r;
  }

  std::vector<Row> rows() {
    Result<std::vector<Row>> r =
        store_->rows(Period::of(sys_seconds(seconds(kDay))), sample(0).policy.domain);
    EXPECT_TRUE(r) << r.error().describe();
    return r ? *r : std::vector<Row>{};
  }

  std::filesystem::path dir_;
  std::string path_;
  std::shared_ptr<Store> store_;
  sqlite3* lock_ = nullptr;
};

TEST_F(RecorderTest, StoredWhenTheStoreIsFree) {
  Recorder rec(store_);
  const Recorder::Tally t = rec.record(sample(1));
  EXPECT_EQ(t.stored, 1u);
  EXPECT_EQ(t.spooled, 0u);
  EXPECT_EQ(rows().size(), 1u);
}

TEST_F(RecorderTest, LockedSpoolsKeepsTheNewestAndFlushesInBatches) {
  Recorder rec(store_, Recorder::Options{.spool_limit = 4, .flush_batch = 2,
                                         .backoff = std::chrono::milliseconds(0)});
  lock();
  std::size_t spooled = 0, dropped = 0;
  for (int i = 1; i <= 6; ++i) {
    const Recorder::Tally t = rec.record(sample(i));
    EXPECT_EQ(t.stored, 0u);
    spooled += t.spooled;
    dropped += t.dropped;
  }
  EXPECT_EQ(spooled, 6u);
  EXPECT_EQ(dropped, 2u);  // 192.0.2.1 and .2, the oldest
  EXPECT_EQ(rec.spooled(), 4u);
  unlock();
  // One record reaches the store and takes flush_batch spooled ones with it.
  Recorder::Tally t = rec.record(sample(7));
  EXPECT_EQ(t.stored, 3u);
  EXPECT_EQ(rec.spooled(), 2u);
  t = rec.flush();
  EXPECT_EQ(t.stored, 2u);
  EXPECT_EQ(rec.spooled(), 0u);
  std::vector<std::string> ips;
  for (const Row& r : rows()) {
    ips.push_back(r.record.source_ip);
    EXPECT_EQ(r.count, 1);
  }
  std::sort(ips.begin(), ips.end());
  EXPECT_EQ(ips, (std::vector<std::string>{"192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6",
                                           "192.0.2.7"}));
}

// After a failure the store is left alone for `backoff`: the next record is spooled at
// once, without waiting for the store's busy timeout.
TEST_F(RecorderTest, BackoffSpoolsWithoutAsking) {
  Recorder rec(store_, Recorder::Options{.spool_limit = 10, .flush_batch = 10,
                                         .backoff = std::chrono::seconds(600)});
  lock();
  EXPECT_EQ(rec.record(sample(1)).spooled, 1u);
  unlock();
  // The store is free again, but within the backoff nobody asks it.
  EXPECT_EQ(rec.record(sample(2)).spooled, 1u);
  EXPECT_TRUE(rows().empty());
  // flush() ignores the backoff.
  EXPECT_EQ(rec.flush().stored, 2u);
  EXPECT_EQ(rows().size(), 2u);
}

}  // namespace
}  // namespace mw::report
