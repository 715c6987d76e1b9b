// Lookups in flight at once (issue 17): UnboundResolver::start() and dns::Session against
// nsd on loopback behind tests/tools/dns_delay, which holds every answer kDelay. Both
// are started here and stopped by their PIDs. Time is asserted only as generous bounds:
// a lower bound the delay guarantees, and "well under the sequential sum".
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dns_delay_process.h"
#include "mailwarden/dns/session.h"
#include "mailwarden/dns/unbound.h"
#include "mailwarden/obs/counters.h"
#include "testing.h"
#include "tests/support/nsd_server.h"

namespace mw::dns {
namespace {

using std::chrono::milliseconds;
using testing::QueryCase;
using testing::render;
using testsupport::NsdServer;

constexpr milliseconds kDelay(200);

milliseconds since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
}

class AsyncDnsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    nsd_ = new NsdServer;
    skip_ = nsd_->start("example.test", MW_TEST_ZONES "/example.zone");
    if (skip_.empty()) {
      delay_ = new testing::DnsDelayProcess;
      skip_ = delay_->start(nsd_->port(), static_cast<int>(kDelay.count()));
    }
  }
  static void TearDownTestSuite() {
    delete delay_;
    delay_ = nullptr;
    delete nsd_;
    nsd_ = nullptr;
  }
  void SetUp() override {
    if (!skip_.empty()) {
      GTEST_SKIP() << skip_;
    }
  }
  // A new resolver each time: libunbound's cache would answer a name asked before at
  // once, without the delay.
  static ResolverSharedPtr resolver(const std::string& forwarder, int timeout_ms = 3000,
                                    int retries = 0) {
    UnboundOptions o;
    o.forwarders = {forwarder};
    o.forward_special_zones = {"test."};  // else libunbound answers NXDOMAIN (RFC 6761)
    o.timeout_ms = timeout_ms;
    o.retries = retries;
    Result<ResolverSharedPtr> r = UnboundResolver::create(o);
    EXPECT_TRUE(r) << (r ? "" : r.error().describe());
    return r ? *r : nullptr;
  }
  static ResolverSharedPtr delayed() { return resolver(delay_->forwarder()); }

  static NsdServer* nsd_;
  static testing::DnsDelayProcess* delay_;
  static std::string skip_;
};
NsdServer* AsyncDnsTest::nsd_ = nullptr;
testing::DnsDelayProcess* AsyncDnsTest::delay_ = nullptr;
std::string AsyncDnsTest::skip_;

// Eight different questions of the sample zone.
std::vector<QueryCase> eightCases() {
  std::vector<QueryCase> all = testing::sampleZoneCases();
  all.resize(8);
  return all;
}

TEST_F(AsyncDnsTest, TheForwarderDelaysEveryAnswer) {
  // The premise of the tests below: asked one after another, each answer takes kDelay.
  const ResolverSharedPtr r = delayed();
  ASSERT_TRUE(r);
  const std::vector<QueryCase> cases = eightCases();
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string got = render(r->query(cases[i].qname, cases[i].type,
                                            Budget(std::chrono::seconds(10))), true, true);
    EXPECT_EQ(got, cases[i].want) << cases[i].name;
  }
  const milliseconds took = since(t0);
  EXPECT_GE(took.count(), 3 * kDelay.count()) << "got " << took.count() << " ms for 3 in a row";
}

TEST_F(AsyncDnsTest, LookupsInFlightTogetherTakeAboutOneDelay) {
  std::vector<QueryCase> forty;
  for (int i = 0; i < 40; ++i) {
    forty.push_back({"nxdomain", "x" + std::to_string(i) + ".example.test", Type::A, "nxdomain"});
  }
  struct Case {
    const char* name;
    std::vector<QueryCase> lookups;
  };
  const Case cases[] = {
      {"8 different questions of the sample zone", eightCases()},
      // libunbound's default outgoing-range (16) made these 3 rounds of the delay.
      {"40 questions: more than 16 UDP sockets", forty},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    const ResolverSharedPtr r = delayed();
    ASSERT_TRUE(r);
    const Budget budget(std::chrono::seconds(10));
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<LookupPtr> lookups;
    for (const QueryCase& q : tc.lookups) {
      lookups.push_back(r->start(q.qname, q.type, budget));
    }
    const milliseconds started = since(t0);
    for (std::size_t i = 0; i < tc.lookups.size(); ++i) {
      SCOPED_TRACE(tc.lookups[i].name);
      const std::string got = render(lookups[i]->wait(), true, true);
      EXPECT_EQ(got, tc.lookups[i].want) << "got " << got << " want " << tc.lookups[i].want;
      EXPECT_TRUE(lookups[i]->ready());
      EXPECT_EQ(render(lookups[i]->wait(), true, true), got) << "the same answer every time";
    }
    const milliseconds took = since(t0);
    EXPECT_LT(started.count(), kDelay.count()) << "start() returned before any answer came";
    // One after another: N x kDelay. In flight together: about one kDelay.
    EXPECT_GE(took.count(), kDelay.count());
    EXPECT_LT(took.count(), 3 * kDelay.count())
        << "got " << took.count() << " ms want well under " << tc.lookups.size() << " x "
        << kDelay.count();
  }
}

TEST_F(AsyncDnsTest, SessionSharesAPrefetchWithTheCheckThatNeedsIt) {
  const ResolverSharedPtr r = delayed();
  ASSERT_TRUE(r);
  Session s(r, Budget(std::chrono::seconds(10)));
  const auto t0 = std::chrono::steady_clock::now();
  const LookupPtr prefetch = s.start("example.test", Type::TXT);      // at MAIL FROM
  const LookupPtr again = s.start("Example.Test.", Type::TXT);        // a second stage
  static_cast<void>(s.start("mail.example.test", Type::A));           // another prefetch
  EXPECT_EQ(prefetch, again);
  const Answer a = s.query("example.test", Type::TXT, Budget::unlimited());  // the check
  const Answer m = s.query("mail.example.test", Type::A, Budget::unlimited());
  const milliseconds took = since(t0);
  EXPECT_EQ(render(a), "ok TXT \"v=spf1 ip4:192.0.2.0/24 mx -all\"");
  EXPECT_EQ(render(m, true, true), "ok A 192.0.2.10 A 192.0.2.11");
  EXPECT_EQ(s.started(), 2u) << "got " << s.started() << " upstream lookups want 2";
  EXPECT_EQ(s.joined(), 3u) << "the second start and both queries";
  EXPECT_LT(took.count(), 2 * kDelay.count())
      << "got " << took.count() << " ms: the checks waited for lookups already in flight";
}

TEST_F(AsyncDnsTest, ABudgetShorterThanTheDelayIsATimeoutAtTheBudget) {
  struct Case {
    const char* name;
    milliseconds budget;
    int timeout_ms;
    int retries;
    milliseconds wait_later;  // wait() called this long after start()
  };
  const Case cases[] = {
      {"budget ends first", milliseconds(60), 3000, 1, milliseconds(0)},
      {"attempts end first: 2 x 40 ms", milliseconds(5000), 40, 1, milliseconds(0)},
      {"waited after the budget: answers at once", milliseconds(60), 3000, 1, milliseconds(100)},
  };
  // A forwarder of its own, slow enough that "did not wait for the answer" is a wide
  // margin on a loaded machine.
  constexpr milliseconds kSlow(2000);
  testing::DnsDelayProcess slow;
  const std::string why = slow.start(nsd_->port(), static_cast<int>(kSlow.count()));
  ASSERT_TRUE(why.empty()) << why;
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    const ResolverSharedPtr r = resolver(slow.forwarder(), tc.timeout_ms, tc.retries);
    ASSERT_TRUE(r);
    const auto t0 = std::chrono::steady_clock::now();
    const LookupPtr l = r->start("example.test", Type::TXT, Budget(tc.budget));
    std::this_thread::sleep_for(tc.wait_later);
    const auto w0 = std::chrono::steady_clock::now();
    const std::string got = render(l->wait());
    const milliseconds took = since(t0);
    const milliseconds waited = since(w0);
    EXPECT_EQ(got, "tempfail (timeout)") << "got " << got;
    const milliseconds limit =
        std::min(tc.budget, milliseconds(tc.timeout_ms * (1 + tc.retries)));
    EXPECT_GE(took.count(), limit.count()) << "never before the time is up";
    EXPECT_LT(took.count(), kSlow.count() / 2)
        << "got " << took.count() << " ms: the answer (" << kSlow.count()
        << " ms) was not awaited";
    if (tc.wait_later.count() > 0) {
      // Everything was over before wait(): no new attempt is sent and waited for.
      EXPECT_LT(waited.count(), 500) << "got " << waited.count() << " ms in wait()";
    }
  }
}

TEST_F(AsyncDnsTest, QueryIsStartAndWait) {
  // nsd directly: this is about the answers, not the time.
  const ResolverSharedPtr r = resolver(nsd_->forwarder());
  ASSERT_TRUE(r);
  for (const QueryCase& tc : testing::sampleZoneCases()) {
    SCOPED_TRACE(tc.name);
    const std::string q = render(r->query(tc.qname, tc.type, Budget(std::chrono::seconds(10))),
                                 true, true);
    const std::string s = render(r->start(tc.qname, tc.type, Budget(std::chrono::seconds(10)))->wait(),
                                 true, true);
    EXPECT_EQ(q, tc.want);
    EXPECT_EQ(s, tc.want);
  }
  // No query for a bad name or a spent budget: answered at once.
  const LookupPtr bad = r->start("a..example.test", Type::A, Budget::unlimited());
  EXPECT_TRUE(bad->ready());
  EXPECT_EQ(render(bad->wait()), "badname (not a DNS name)");
  const LookupPtr spent = r->start("example.test", Type::A, Budget(milliseconds(0)));
  EXPECT_TRUE(spent->ready());
  EXPECT_EQ(render(spent->wait()), "tempfail (DNS budget exhausted)");
}

TEST_F(AsyncDnsTest, AnAnswerAskedAgainWithinItsTtlIsAnsweredAtStart) {
  // UnboundResolver keeps answers and negative answers for their TTL (300 s and the SOA's
  // 300 s in the sample zone): the second start() of a name is answered on the caller's
  // thread, without the forwarder's delay.
  const ResolverSharedPtr r = delayed();
  ASSERT_TRUE(r);
  const std::string first = render(r->query("two.example.test", Type::TXT,
                                            Budget(std::chrono::seconds(10))), true, true);
  const LookupPtr again = r->start("Two.Example.Test.", Type::TXT, Budget(std::chrono::seconds(10)));
  EXPECT_TRUE(again->ready());
  EXPECT_EQ(render(again->wait(), true, true), first);
  EXPECT_NE(first.find("first"), std::string::npos) << first;
  // Another type of the same name is another question.
  EXPECT_FALSE(r->start("two.example.test", Type::A, Budget(std::chrono::seconds(10)))->ready());
  const Answer nx = r->query("absent.example.test", Type::TXT, Budget(std::chrono::seconds(10)));
  EXPECT_EQ(nx.status, Status::NxDomain);
  // A kept NXDOMAIN is counted as one (mailwarden_dns_queries_total{outcome="nxdomain"}).
  const auto nxdomains = [] {
    return obs::counters().dns_queries[static_cast<std::size_t>(obs::DnsOutcome::NxDomain)].get();
  };
  const std::uint64_t nx_before = nxdomains();
  const LookupPtr nx_again = r->start("absent.example.test", Type::TXT, Budget(std::chrono::seconds(10)));
  EXPECT_TRUE(nx_again->ready());
  EXPECT_EQ(nx_again->wait().status, Status::NxDomain);
  EXPECT_EQ(nxdomains(), nx_before + 1);
  const Answer nodata = r->query("two.example.test", Type::MX, Budget(std::chrono::seconds(10)));
  EXPECT_EQ(nodata.status, Status::NoData);
  EXPECT_TRUE(r->start("two.example.test", Type::MX, Budget(std::chrono::seconds(10)))->ready());
  // A spent budget is still a spent budget, kept answer or not.
  const LookupPtr spent = r->start("two.example.test", Type::TXT, Budget(milliseconds(0)));
  EXPECT_EQ(render(spent->wait()), "tempfail (DNS budget exhausted)");
}

TEST_F(AsyncDnsTest, SeveralThreadsWaitForOneLookup) {
  const ResolverSharedPtr r = delayed();
  ASSERT_TRUE(r);
  const LookupPtr l = r->start("two.example.test", Type::TXT, Budget(std::chrono::seconds(10)));
  std::vector<std::string> got(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] { got[t] = render(l->wait(), true, true); });
  }
  for (std::thread& th : threads) {
    th.join();
  }
  for (const std::string& g : got) {
    EXPECT_EQ(g, "ok TXT \"first\" TXT \"second\"");
  }
}

// Lookups dropped without wait(): cancelled while in flight (behind the delay), or
// dropped while the answer is being delivered (nsd directly, answers in microseconds),
// or kept past the resolver. Nothing may crash, leak or be used after it is freed: the
// sanitizer build (./configure --enable-sanitizers) runs this under ASan and LSan.
TEST_F(AsyncDnsTest, DroppedLookupsAreCleanedUp) {
  struct Case {
    std::string forwarder;
    int lookups;  // fewer than dns_delay's --max-pending (256): none is lost there
  };
  const Case cases[] = {{delay_->forwarder(), 200}, {nsd_->forwarder(), 800}};
  std::vector<LookupPtr> kept;
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.forwarder);
    const ResolverSharedPtr r = resolver(tc.forwarder);
    ASSERT_TRUE(r);
    for (int i = 0; i < tc.lookups; ++i) {
      // Distinct names: libunbound's cache must not answer them at once.
      LookupPtr l = r->start("n" + std::to_string(i) + ".example.test", Type::TXT,
                             Budget(std::chrono::seconds(10)));
      if (i % 50 == 0) {
        kept.push_back(std::move(l));  // outlives the resolver below
      }
      if (i % 7 == 0) {
        std::this_thread::yield();  // lets some answers arrive while others are dropped
      }
    }
    // The resolver still answers.
    EXPECT_EQ(render(r->query("example.test", Type::TXT, Budget(std::chrono::seconds(10)))),
              "ok TXT \"v=spf1 ip4:192.0.2.0/24 mx -all\"");
  }
  // Both resolvers are gone; their lookups still answer (or time out) and then go.
  for (const LookupPtr& l : kept) {
    const Answer& a = l->wait();
    EXPECT_TRUE(a.status == Status::NxDomain || classify(a) == Outcome::Temporary)
        << "got " << render(a);
  }
  kept.clear();
}

}  // namespace
}  // namespace mw::dns
