// dns/session.h over ZoneResolver (answers at once, counts nothing itself): what is
// shared, what is not, the bound, and whose Budget wins. The timing of a Session over
// UnboundResolver is in async_test.cpp.
#include "mailwarden/dns/session.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "mailwarden/dns/zone.h"
#include "testing.h"

namespace mw::dns {
namespace {

using std::chrono::milliseconds;
using testing::render;

std::shared_ptr<ZoneResolver> sampleZone() {
  auto z = std::make_shared<ZoneResolver>();
  z->addTxt("example.test", "v=spf1 -all");
  EXPECT_TRUE(z->addA("mail.example.test", "192.0.2.10"));
  return z;
}

TEST(Session, SameNameAndTypeShareOneLookup) {
  struct Case {
    const char* name;
    std::string first;
    Type first_type;
    std::string second;
    Type second_type;
    bool shared;
  };
  const Case cases[] = {
      {"same spelling", "example.test", Type::TXT, "example.test", Type::TXT, true},
      {"case and trailing dot", "example.test", Type::TXT, "EXAMPLE.Test.", Type::TXT, true},
      {"other type", "example.test", Type::TXT, "example.test", Type::MX, false},
      {"other name", "example.test", Type::TXT, "mail.example.test", Type::TXT, false},
      {"a bad name is never remembered", "a..test", Type::TXT, "a..test", Type::TXT, false},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    Session s(sampleZone(), Budget(std::chrono::seconds(10)));
    const LookupPtr a = s.start(tc.first, tc.first_type);
    const LookupPtr b = s.start(tc.second, tc.second_type);
    EXPECT_EQ(a == b, tc.shared) << "got " << (a == b ? "shared" : "two lookups");
    EXPECT_EQ(s.started(), tc.shared ? 1u : 2u) << "got " << s.started() << " started";
    EXPECT_EQ(s.joined(), tc.shared ? 1u : 0u) << "got " << s.joined() << " joined";
  }
}

// A connection's lookups (started at connect) are joined by a message's Session.
TEST(Session, AdoptsTheLookupsOfAnEarlierSession) {
  auto zone = sampleZone();
  Session connection(zone, Budget(std::chrono::seconds(10)));
  const LookupPtr ptr = connection.start("mail.example.test", Type::A);
  Session message(zone, Budget(std::chrono::seconds(10)));
  message.start("example.test", Type::TXT);  // its own, kept
  message.adopt(connection);
  EXPECT_EQ(message.start("mail.example.test", Type::A), ptr);
  EXPECT_EQ(message.started(), 1u);  // only its own TXT went to the resolver
  EXPECT_EQ(message.joined(), 1u);
  EXPECT_EQ(message.remembered(), 2u);
  message.adopt(message);  // no-op, no deadlock
  EXPECT_EQ(message.remembered(), 2u);
}

TEST(Session, QueryAfterStartJoinsAndAnswersTheSame) {
  Session s(sampleZone(), Budget(std::chrono::seconds(10)));
  const LookupPtr pre = s.start("Mail.Example.Test", Type::A);
  const Answer a = s.query("mail.example.test.", Type::A, Budget::unlimited());
  EXPECT_EQ(render(a), "ok A 192.0.2.10");
  EXPECT_EQ(render(pre->wait()), "ok A 192.0.2.10");
  EXPECT_EQ(s.started(), 1u);
  EXPECT_EQ(s.joined(), 1u);
  // Through the Resolver interface, as SPF/DKIM/DMARC see it.
  Resolver& r = s;
  EXPECT_EQ(render(r.query("example.test", Type::TXT, Budget::unlimited())),
            "ok TXT \"v=spf1 -all\"");
  EXPECT_EQ(render(r.query("example.test", Type::TXT, Budget::unlimited())),
            "ok TXT \"v=spf1 -all\"");
  EXPECT_EQ(s.started(), 2u);
  EXPECT_EQ(s.joined(), 2u);
}

TEST(Session, RemembersAtMostMaxEntries) {
  Session s(sampleZone(), Budget(std::chrono::seconds(10)), /*max_entries=*/2);
  for (const char* n : {"a.example.test", "b.example.test", "c.example.test"}) {
    static_cast<void>(s.start(n, Type::TXT));
  }
  EXPECT_EQ(s.remembered(), 2u);
  static_cast<void>(s.start("a.example.test", Type::TXT));  // remembered: joined
  static_cast<void>(s.start("c.example.test", Type::TXT));  // over the bound: made again
  EXPECT_EQ(s.started(), 4u) << "got " << s.started();
  EXPECT_EQ(s.joined(), 1u) << "got " << s.joined();
  EXPECT_EQ(render(s.query("c.example.test", Type::TXT, Budget::unlimited())), "nxdomain");
}

TEST(Session, TheEarlierDeadlineWins) {
  struct Case {
    const char* name;
    milliseconds session;
    milliseconds caller;
    std::string want;
  };
  const Case cases[] = {
      {"the caller's budget is spent", milliseconds(10000), milliseconds(0),
       "tempfail (DNS budget exhausted)"},
      {"the message's budget is spent", milliseconds(0), milliseconds(10000),
       "tempfail (DNS budget exhausted)"},
      {"both have time", milliseconds(10000), milliseconds(10000), "ok TXT \"v=spf1 -all\""},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    Session s(sampleZone(), Budget(tc.session));
    const std::string got = render(s.query("example.test", Type::TXT, Budget(tc.caller)));
    EXPECT_EQ(got, tc.want) << "got " << got << " want " << tc.want;
  }
}

// A caller whose Budget was spent does not leave its TempFail to a caller with time; a
// caller with less (or the same) time joins it.
TEST(Session, ATempFailIsAskedAgainByACallerWithMoreTime) {
  Session s(sampleZone(), Budget(std::chrono::seconds(10)));
  EXPECT_EQ(render(s.query("example.test", Type::TXT, Budget(milliseconds(0)))),
            "tempfail (DNS budget exhausted)");
  EXPECT_EQ(render(s.query("example.test", Type::TXT, Budget(milliseconds(0)))),
            "tempfail (DNS budget exhausted)");
  EXPECT_EQ(s.started(), 1u) << "a second caller with no time joined";
  EXPECT_EQ(render(s.query("example.test", Type::TXT, Budget::unlimited())),
            "ok TXT \"v=spf1 -all\"");
  EXPECT_EQ(s.started(), 2u);
  EXPECT_EQ(render(s.query("example.test", Type::TXT, Budget::unlimited())),
            "ok TXT \"v=spf1 -all\"");
  EXPECT_EQ(s.started(), 2u) << "the answer is remembered in place of the TempFail";
}

TEST(Session, ManyThreadsGetOneLookupPerName) {
  Session s(sampleZone(), Budget(std::chrono::seconds(10)));
  constexpr int kThreads = 8;
  std::vector<LookupPtr> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] { got[static_cast<std::size_t>(t)] = s.start("example.test", Type::TXT); });
  }
  for (std::thread& th : threads) {
    th.join();
  }
  for (const LookupPtr& l : got) {
    EXPECT_EQ(l, got.front()) << "every thread holds the lookup remembered first";
  }
  EXPECT_EQ(s.remembered(), 1u);
  EXPECT_EQ(s.joined(), static_cast<std::size_t>(kThreads) - 1)
      << "got " << s.joined() << " joined: all but the first share";
}

}  // namespace
}  // namespace mw::dns
