// tests/unit/report/recorder_test.cpp — Recorder over a real SqliteStore whose file
// another connection holds locked: record() never waits (the writer thread does), records
// are spooled and counted once, the spool keeps the newest spool_limit records and counts
// the dropped ones, and the writer drains the spool by itself once the lock is released.
#include "mailwarden/report/recorder.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
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

TEST_F(RecorderTest, StoredByTheWriterWhenTheStoreIsFree) {
  std::vector<Recorder::Tally> seen;
  std::mutex m;
  Recorder rec(store_, Recorder::Options{.on_tally = [&](const Recorder::Tally& t) {
                 std::lock_guard<std::mutex> lock(m);
                 seen.push_back(t);
               }});
  rec.record(sample(1));
  ASSERT_TRUE(rec.settle(std::chrono::seconds(10)));
  EXPECT_EQ(rec.totals().stored, 1u);
  EXPECT_EQ(rec.totals().spooled, 0u);
  EXPECT_EQ(rows().size(), 1u);
  std::lock_guard<std::mutex> lock(m);
  ASSERT_EQ(seen.size(), 1u);  // the callback saw what totals() counts
  EXPECT_EQ(seen[0].stored, 1u);
}

// record() never waits for the store: with the database locked, a thousand records are
// queued in far less time than one of the store's bounded waits takes (the writer thread
// is the one that waits). The spool keeps the newest spool_limit records.
TEST_F(RecorderTest, LockedNeverWaitsAndKeepsTheNewest) {
  Recorder rec(store_, Recorder::Options{.spool_limit = 4, .flush_batch = 2,
                                         .backoff = std::chrono::seconds(600)});
  lock();
  rec.record(sample(1));
  ASSERT_TRUE(rec.settle(std::chrono::seconds(10)));  // the writer met the lock
  EXPECT_EQ(rec.totals().spooled, 1u);
  for (int i = 2; i <= 6; ++i) {
    rec.record(sample(i));
  }
  const Recorder::Tally t = rec.totals();
  EXPECT_EQ(t.stored, 0u);
  EXPECT_EQ(t.spooled, 6u);  // each counted once, on arrival while the store is down
  EXPECT_EQ(t.dropped, 2u);  // 192.0.2.1 and .2, the oldest
  EXPECT_EQ(rec.spooled(), 4u);
  unlock();
  // Within the backoff the writer leaves the store alone; flush() does not wait for it.
  const Recorder::Tally f = rec.flush();
  EXPECT_EQ(f.stored, 4u);
  EXPECT_EQ(rec.spooled(), 0u);
  std::vector<std::string> ips;
  for (const Row& r : rows()) {
    ips.push_back(r.record.source_ip);
    EXPECT_EQ(r.count, 1);
  }
  std::sort(ips.begin(), ips.end());
  EXPECT_EQ(ips, (std::vector<std::string>{"192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6"}));
}

TEST_F(RecorderTest, RecordDoesNotWaitForALockedStore) {
  Recorder rec(store_, Recorder::Options{.spool_limit = 2000,
                                         .backoff = std::chrono::milliseconds(0)});
  lock();
  // With no backoff the writer keeps meeting the lock (20 ms each time); the thousand
  // calls below would take 20 s if any of them waited for the store.
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) {
    rec.record(sample(i % 250));
  }
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_EQ(rec.totals().stored, 0u);
  unlock();
  // The writer retries on its own and drains everything.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (rec.spooled() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(rec.spooled(), 0u);
  EXPECT_EQ(rec.totals().stored, 1000u);
  std::int64_t sum = 0;
  for (const Row& r : rows()) {
    sum += r.count;
  }
  EXPECT_EQ(sum, 1000);
}

// What is still spooled when the recorder goes is written by the destructor, if it can.
TEST_F(RecorderTest, DestructorWritesWhatIsLeft) {
  {
    Recorder rec(store_, Recorder::Options{.backoff = std::chrono::seconds(600)});
    lock();
    rec.record(sample(1));
    ASSERT_TRUE(rec.settle(std::chrono::seconds(10)));
    rec.record(sample(2));
    EXPECT_EQ(rec.spooled(), 2u);
    unlock();
  }
  EXPECT_EQ(rows().size(), 2u);
}

}  // namespace
}  // namespace mw::report
