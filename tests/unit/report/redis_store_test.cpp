// tests/unit/report/redis_store_test.cpp — what is RedisStore's own (the contract is in
// store_test.cpp): the URLs, the version key, AUTH, TTLs, and a Redis that is down, hung
// or restarted under a Recorder. Every server is a redis-server of the test's own on a
// unix socket in a fresh folder, stopped by PID; skipped when redis-server is missing.
#include "mailwarden/report/redis_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <thread>

#include "mailwarden/report/recorder.h"
#include "redis_server.h"
#include "samples.h"

namespace mw::report {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;
using std::chrono::sys_seconds;

constexpr std::int64_t kDay = 1767225600;  // 2026-01-01T00:00:00Z

Record sample(std::string ip) {
  Record r = testing::samples()[0].rows[0].record;
  r.source_ip = std::move(ip);
  r.time = sys_seconds(seconds(kDay + 60));
  return r;
}

TEST(RedisUrl, GoodFormsParse) {
  struct Case {
    const char* url;
    const char* host;
    int port;
    const char* socket;
    int db;
    const char* password;
  };
  const Case cases[] = {
      {"redis://127.0.0.1", "127.0.0.1", 6379, "", 0, ""},
      {"redis://127.0.0.1:6380/3", "127.0.0.1", 6380, "", 3, ""},
      {"redis://redis.example.net/", "redis.example.net", 6379, "", 0, ""},
      {"redis://[::1]:7000/2", "::1", 7000, "", 2, ""},
      {"redis://[2001:db8::7]", "2001:db8::7", 6379, "", 0, ""},
      {"redis://:s3cret@localhost:6379/1", "localhost", 6379, "", 1, "s3cret"},
      {"redis+unix:///run/redis/redis.sock", "", 6379, "/run/redis/redis.sock", 0, ""},
      {"redis+unix:///run/redis/redis.sock?db=5", "", 6379, "/run/redis/redis.sock", 5, ""},
      {"redis+unix://:pw@/run/redis.sock?db=1", "", 6379, "/run/redis.sock", 1, "pw"},
  };
  for (const Case& c : cases) {
    const Result<RedisAddress> a = parseRedisUrl(c.url);
    ASSERT_TRUE(a.has_value()) << c.url << ": " << a.error().message;
    EXPECT_EQ(a->host, c.host) << c.url;
    EXPECT_EQ(a->port, c.port) << c.url;
    EXPECT_EQ(a->socket, c.socket) << c.url;
    EXPECT_EQ(a->db, c.db) << c.url;
    EXPECT_EQ(a->password, c.password) << c.url;
    EXPECT_EQ(a->display().find(c.password[0] ? c.password : "\x01"), std::string::npos);
  }
  EXPECT_EQ(parseRedisUrl("redis://[::1]:7000/2")->display(), "redis://[::1]:7000/2");
  EXPECT_EQ(parseRedisUrl("redis://:x@h")->display(), "redis://:***@h:6379/0");
}

TEST(RedisUrl, BadFormsAreInvalidAndNameTheUrlButNotThePassword) {
  const char* bad[] = {
      "redis:/127.0.0.1",          "http://127.0.0.1",
      "redis://",                  "redis://:6379",
      "redis://host:",             "redis://host:0",
      "redis://host:65536",        "redis://host:12ab",
      "redis://host/x",            "redis://host/70000",
      "redis://host/1?db=2",       "redis://[::1",
      "redis://[nothex]:1",        "redis://[::1]x",
      "redis://::1:6379",          "redis://ho st",
      "redis://user:pw@host",      "redis://:@host",
      "redis+unix://",             "redis+unix://relative.sock",
      "redis+unix:///run/",        "redis+unix:///run/r.sock?db=x",
      "redis+unix:///run/r.sock?x=1",
  };
  for (const char* url : bad) {
    const Result<RedisAddress> a = parseRedisUrl(url);
    ASSERT_FALSE(a.has_value()) << url;
    EXPECT_EQ(a.error().code, Errc::Invalid) << url;
    if (std::string_view(url).find('@') == std::string_view::npos) {
      EXPECT_NE(a.error().message.find(url), std::string::npos) << a.error().message;
    }
  }
  const Result<RedisAddress> secret = parseRedisUrl("redis://:hunter2@host:99999/0");
  ASSERT_FALSE(secret.has_value());
  EXPECT_EQ(secret.error().message.find("hunter2"), std::string::npos) << secret.error().message;
  EXPECT_NE(secret.error().message.find("redis://:***@host:99999/0"), std::string::npos)
      << secret.error().message;
  const Result<std::unique_ptr<RedisStore>> store = RedisStore::open("redis://:pw@[::1");
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, Errc::Invalid);
}

class RedisStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::RedisServer::installed()) {
      GTEST_SKIP() << "redis-server is not installed";
    }
    std::string tmpl = (std::filesystem::temp_directory_path() / "mw-redis.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    server_.reset();
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }
  void startServer(bool persist, std::vector<std::string> extra = {}) {
    server_ = std::make_unique<testing::RedisServer>(dir_, persist, std::move(extra));
    ASSERT_EQ(server_->start(), "");
  }
  std::int64_t total(Store& s) {
    const Result<std::vector<Row>> rows = s.rows(Period::of(sys_seconds(seconds(kDay))), "example.com");
    std::int64_t n = 0;
    for (const Row& r : rows ? *rows : std::vector<Row>{}) {
      n += r.count;
    }
    return n;
  }

  std::filesystem::path dir_;
  std::unique_ptr<testing::RedisServer> server_;
};

TEST_F(RedisStoreTest, NotRunningAtOpenIsATemporaryErrorNamingTheSocket) {
  const std::string url = "redis+unix://" + (dir_ / "nobody.sock").string();
  const Result<std::unique_ptr<RedisStore>> s = RedisStore::open(url);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, Errc::TempFail);
  EXPECT_NE(s.error().message.find(url), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("cannot connect"), std::string::npos) << s.error().message;
}

TEST_F(RedisStoreTest, PasswordIsSentAndNeverShown) {
  startServer(false, {"--requirepass", "t0p-secret"});
  const std::string sock = server_->socket();
  const Result<std::unique_ptr<RedisStore>> none = RedisStore::open("redis+unix://" + sock);
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, Errc::TempFail);
  EXPECT_NE(none.error().message.find("NOAUTH"), std::string::npos) << none.error().message;
  const Result<std::unique_ptr<RedisStore>> wrong =
      RedisStore::open("redis+unix://:wr0ng-secret@" + sock);
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code, Errc::TempFail);
  EXPECT_EQ(wrong.error().message.find("wr0ng-secret"), std::string::npos) << wrong.error().message;
  EXPECT_NE(wrong.error().message.find(":***@"), std::string::npos) << wrong.error().message;
  const Result<std::unique_ptr<RedisStore>> right =
      RedisStore::open("redis+unix://:t0p-secret@" + sock + "?db=3");
  ASSERT_TRUE(right.has_value()) << right.error().message;
  ASSERT_TRUE((*right)->record(sample("192.0.2.1")));
  // db=3 was selected: the data is there, not in 0
  EXPECT_EQ(server_->command({"SELECT", "3"}, "t0p-secret"), "OK");
  EXPECT_EQ(server_->command({"DBSIZE"}, "t0p-secret"), "0");  // a fresh connection is on 0
  EXPECT_EQ(total(**right), 1);
}

TEST_F(RedisStoreTest, LayoutVersionAndTtl) {
  startServer(false);
  RedisStore::Options o;
  o.ttl = seconds(1000);
  Result<std::unique_ptr<RedisStore>> s = RedisStore::open(server_->url(), o);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(server_->command({"GET", "mailwarden:dmarc:version"}), "1");
  ASSERT_TRUE((*s)->record(sample("192.0.2.1")));
  ASSERT_TRUE(*(*s)->claim("example.com", Period{20454}, sys_seconds(seconds(kDay))));
  const std::string day = std::to_string(Period::of(sys_seconds(seconds(kDay))).day);
  for (const std::string& key : {"mailwarden:dmarc:" + day + ":example.com", "mailwarden:dmarc:" + day,
                                std::string("mailwarden:dmarc:periods"),
                                std::string("mailwarden:dmarc:claim:20454:example.com"),
                                std::string("mailwarden:dmarc:claims")}) {
    const int ttl = std::atoi(server_->command({"TTL", key}).c_str());
    EXPECT_GT(ttl, 900) << key;
    EXPECT_LE(ttl, 1000) << key;
  }
  EXPECT_EQ(server_->command({"HLEN", "mailwarden:dmarc:" + day + ":example.com"}), "1");
  // another layout version is refused, naming the key
  EXPECT_EQ(server_->command({"SET", "mailwarden:dmarc:version", "9"}), "OK");
  const Result<std::unique_ptr<RedisStore>> newer = RedisStore::open(server_->url());
  ASSERT_FALSE(newer.has_value());
  EXPECT_EQ(newer.error().code, Errc::Invalid);
  EXPECT_NE(newer.error().message.find("mailwarden:dmarc:version is 9"), std::string::npos)
      << newer.error().message;
}

TEST_F(RedisStoreTest, ScriptsFlushedOnTheServerAreLoadedAgain) {
  startServer(false);
  Result<std::unique_ptr<RedisStore>> s = RedisStore::open(server_->url());
  ASSERT_TRUE(s.has_value()) << s.error().message;
  ASSERT_TRUE((*s)->record(sample("192.0.2.1")));
  EXPECT_EQ(server_->command({"SCRIPT", "FLUSH"}), "OK");
  ASSERT_TRUE((*s)->record(sample("192.0.2.1")));  // NOSCRIPT → EVAL
  EXPECT_EQ(total(**s), 2);
}

TEST_F(RedisStoreTest, AHungServerCostsRecordOneTimeoutThenNothingUntilTheBackoff) {
  startServer(false);
  RedisStore::Options o;
  o.timeout = milliseconds(250);
  o.reconnect_backoff = milliseconds(60000);
  Result<std::unique_ptr<RedisStore>> s = RedisStore::open(server_->url(), o);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  ASSERT_TRUE((*s)->record(sample("192.0.2.1")));
  ASSERT_EQ(::kill(server_->pid(), SIGSTOP), 0);  // hung: the socket accepts, nobody answers
  auto t0 = steady_clock::now();
  const Result<void> r = (*s)->record(sample("192.0.2.1"));
  const auto first = steady_clock::now() - t0;
  ::kill(server_->pid(), SIGCONT);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::TempFail);
  EXPECT_NE(r.error().message.find("no answer within 250 ms"), std::string::npos) << r.error().message;
  EXPECT_LT(first, seconds(2));
  // within the backoff: refused at once, without touching the socket
  t0 = steady_clock::now();
  const Result<void> again = (*s)->record(sample("192.0.2.1"));
  ASSERT_FALSE(again.has_value());
  EXPECT_NE(again.error().message.find("next attempt in"), std::string::npos) << again.error().message;
  EXPECT_LT(steady_clock::now() - t0, seconds(1));
}

TEST_F(RedisStoreTest, StoppedMidRunTheRecorderSpoolsAndFlushesAfterTheRestart) {
  startServer(true);  // persists across the restart: the counts must add up
  RedisStore::Options o;
  o.timeout = milliseconds(250);
  o.reconnect_backoff = milliseconds(100);
  Result<std::unique_ptr<RedisStore>> opened = RedisStore::open(server_->url(), o);
  ASSERT_TRUE(opened.has_value()) << opened.error().message;
  std::shared_ptr<Store> store(std::move(*opened));
  Recorder::Options ro;
  ro.backoff = milliseconds(50);
  Recorder recorder(store, ro);
  for (int i = 0; i < 10; ++i) {
    recorder.record(sample(i % 2 ? "192.0.2.1" : "2001:db8::1"));
  }
  ASSERT_TRUE(recorder.settle(seconds(10)));
  EXPECT_EQ(recorder.totals().stored, 10u);
  server_->stop();
  // the store itself: TempFail, quickly
  const auto t0 = steady_clock::now();
  const Result<void> direct = store->record(sample("192.0.2.1"));
  EXPECT_LT(steady_clock::now() - t0, seconds(2));
  ASSERT_FALSE(direct.has_value());
  EXPECT_EQ(direct.error().code, Errc::TempFail);
  const auto t1 = steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    recorder.record(sample(i % 2 ? "192.0.2.1" : "2001:db8::1"));  // queued: never waits
  }
  EXPECT_LT(steady_clock::now() - t1, seconds(2));  // 20 messages, nobody waited long
  ASSERT_TRUE(recorder.settle(seconds(10)));  // the writer met the stopped server
  EXPECT_EQ(recorder.totals().spooled, 20u);
  EXPECT_EQ(recorder.spooled(), 20u);
  ASSERT_EQ(server_->start(), "");  // the same socket, the saved data loaded
  // The writer retries by itself (its backoff, then the store's reconnect backoff):
  // bounded, 200 × 50 ms.
  for (int i = 0; i < 200 && recorder.spooled() > 0; ++i) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_EQ(recorder.spooled(), 0u);
  ASSERT_TRUE(recorder.settle(seconds(10)));
  EXPECT_EQ(recorder.totals().stored, 30u);
  EXPECT_EQ(total(*store), 30);  // 10 before the stop (saved), 20 from the spool
  const Result<std::vector<Row>> rows = store->rows(Period::of(sys_seconds(seconds(kDay))), "example.com");
  ASSERT_TRUE(rows.has_value());
  EXPECT_EQ(rows->size(), 2u);
}

}  // namespace
}  // namespace mw::report
