// Tests of dns/unbound.h against a real DNS server: nsd on 127.0.0.1 serving the sample
// zone (started here by fork/exec, stopped by its PID), plus a loopback UDP socket that
// never answers for the timeouts. Skipped, with the reason, when nsd is not installed.
// Every wait is bounded.
#include "mailwarden/dns/unbound.h"
#include "mailwarden/dns/zone.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mailwarden/obs/counters.h"
#include "testing.h"
#include "tests/support/nsd_server.h"

namespace mw::dns {
namespace {

using testing::QueryCase;
using testing::render;
using std::chrono::milliseconds;

using testsupport::NsdServer;
using testsupport::boundSocket;

class UnboundNsdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    nsd_ = new NsdServer;
    skip_ = nsd_->start("example.test", MW_TEST_ZONES "/example.zone");
  }
  static void TearDownTestSuite() {
    delete nsd_;
    nsd_ = nullptr;
  }
  void SetUp() override {
    if (!skip_.empty()) {
      GTEST_SKIP() << skip_;
    }
  }
  static ResolverSharedPtr resolver() {
    UnboundOptions o;
    o.forwarders = {nsd_->forwarder()};
    o.forward_special_zones = {"test."};  // else libunbound answers NXDOMAIN (RFC 6761)
    o.timeout_ms = 2000;
    o.retries = 1;
    Result<ResolverSharedPtr> r = UnboundResolver::create(o);
    EXPECT_TRUE(r) << (r ? "" : r.error().describe());
    return r ? *r : nullptr;
  }

  static NsdServer* nsd_;
  static std::string skip_;
};
NsdServer* UnboundNsdTest::nsd_ = nullptr;
std::string UnboundNsdTest::skip_;

TEST_F(UnboundNsdTest, SampleZoneAnswersLikeZoneResolver) {
  const ResolverSharedPtr r = resolver();
  ASSERT_TRUE(r);
  for (const QueryCase& tc : testing::sampleZoneCases()) {
    SCOPED_TRACE(tc.name);
    const Answer a = r->query(tc.qname, tc.type, Budget(std::chrono::seconds(10)));
    const std::string got = render(a, /*with_why=*/true, /*sorted=*/true);
    EXPECT_EQ(got, tc.want) << "query " << tc.qname << " " << toString(tc.type) << ": got "
                            << got << " want " << tc.want;
    EXPECT_FALSE(a.secure) << "no trust anchor: nothing is validated";
  }
}

TEST_F(UnboundNsdTest, ManyThreadsShareOneResolver) {
  const ResolverSharedPtr r = resolver();
  ASSERT_TRUE(r);
  const std::vector<QueryCase> cases = testing::sampleZoneCases();
  constexpr int kThreads = 8;
  constexpr int kRounds = 5;
  std::atomic<int> wrong{0};
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        for (std::size_t i = 0; i < cases.size(); ++i) {
          const QueryCase& tc = cases[(i + static_cast<std::size_t>(t)) % cases.size()];
          const Answer a = r->query(tc.qname, tc.type, Budget(std::chrono::seconds(10)));
          if (render(a, true, true) != tc.want) {
            ++wrong;
          }
          ++done;
        }
      }
    });
  }
  for (std::thread& th : threads) {
    th.join();
  }
  EXPECT_EQ(done.load(), kThreads * kRounds * static_cast<int>(cases.size()));
  EXPECT_EQ(wrong.load(), 0) << "got " << wrong.load() << " wrong answers want 0";
}

// Issue 16: a CNAME loop means the same from both resolvers (the fake must not hide what
// production does): whatever Status each gives, classify() is Temporary.
TEST_F(UnboundNsdTest, CnameLoopIsTemporaryFromBothResolvers) {
  const ResolverSharedPtr r = resolver();
  ASSERT_TRUE(r);
  ZoneResolver z;
  const Result<void> loaded = z.loadFile(MW_TEST_ZONES "/example.zone");
  ASSERT_TRUE(loaded) << loaded.error().describe();
  for (const Type type : {Type::TXT, Type::A}) {
    SCOPED_TRACE(std::string(toString(type)));
    const Answer u = r->query("loop1.example.test", type, Budget(std::chrono::seconds(10)));
    const Answer zone = z.query("loop1.example.test", type, Budget::unlimited());
    EXPECT_EQ(classify(u), Outcome::Temporary) << "unbound: " << render(u);
    EXPECT_EQ(classify(zone), Outcome::Temporary) << "zone: " << render(zone);
    EXPECT_EQ(u.status, zone.status) << "unbound: " << render(u) << " zone: " << render(zone);
  }
}

// A forwarder that never answers: a UDP socket bound on loopback and never read.
class SilentServer {
 public:
  SilentServer() { fd_ = boundSocket(SOCK_DGRAM, &port_); }
  ~SilentServer() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  bool ok() const { return fd_ >= 0; }
  std::string forwarder() const { return "127.0.0.1@" + std::to_string(port_); }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

TEST(UnboundResolver, TimeoutIsTempFailWithinTheBudget) {
  SilentServer silent;
  ASSERT_TRUE(silent.ok());
  struct Case {
    const char* name;
    int timeout_ms;
    int retries;
    milliseconds budget;
  };
  const Case cases[] = {
      {"attempts end first: 2 x 200 ms in a 5 s budget", 200, 1, milliseconds(5000)},
      {"budget ends first: 300 ms budget, 10 s attempts", 10000, 3, milliseconds(300)},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    UnboundOptions o;
    o.forwarders = {silent.forwarder()};
    o.forward_special_zones = {"test."};
    o.timeout_ms = tc.timeout_ms;
    o.retries = tc.retries;
    Result<ResolverSharedPtr> r = UnboundResolver::create(o);
    ASSERT_TRUE(r) << r.error().describe();
    const auto start = std::chrono::steady_clock::now();
    const Answer a = (*r)->query("example.test", Type::TXT, Budget(tc.budget));
    const auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
    EXPECT_EQ(render(a), "tempfail (timeout)") << "got " << render(a) << " want tempfail (timeout)";
    // A bound, not a measurement: generous for a loaded machine, far below "hangs".
    EXPECT_LT(took.count(), tc.budget.count() + 2000)
        << "got " << took.count() << " ms want less than the budget + 2 s";
  }
}

TEST(UnboundResolver, NoQueryForBadNamesOrASpentBudget) {
  SilentServer silent;
  ASSERT_TRUE(silent.ok());
  UnboundOptions o;
  o.forwarders = {silent.forwarder()};
  o.timeout_ms = 10000;
  Result<ResolverSharedPtr> r = UnboundResolver::create(o);
  ASSERT_TRUE(r) << r.error().describe();
  const std::vector<QueryCase> cases = {
      {"empty label", "a..example", Type::A, "badname (not a DNS name)"},
      {"label of 64", std::string(64, 'x') + ".example", Type::TXT, "badname (not a DNS name)"},
      {"empty", "", Type::MX, "badname (not a DNS name)"},
  };
  for (const QueryCase& tc : cases) {
    SCOPED_TRACE(tc.name);
    const std::string got = render((*r)->query(tc.qname, tc.type, Budget::unlimited()));
    EXPECT_EQ(got, tc.want) << "got " << got << " want " << tc.want;
  }
  // Returns at once: a 10 s attempt would otherwise make this test slow.
  const std::string got = render((*r)->query("example.test", Type::A, Budget(milliseconds(0))));
  EXPECT_EQ(got, "tempfail (DNS budget exhausted)") << "got " << got;
}

TEST(UnboundResolver, SpecialUseNamesAreAnsweredLocallyUnlessForwarded) {
  SilentServer silent;
  ASSERT_TRUE(silent.ok());
  struct Case {
    const char* name;
    std::vector<std::string> forward;
    std::string qname;
    std::string want;
  };
  const Case cases[] = {
      {"test. stays local (RFC 6761 §6.2): NXDOMAIN at once", {}, "example.test", "nxdomain"},
      {"invalid. stays local", {"test."}, "x.invalid", "nxdomain"},
      {"RFC 1918 reverse zone stays local", {}, "1.0.0.10.in-addr.arpa", "nxdomain"},
      {"test. forwarded: the silent forwarder times out", {"test."}, "example.test",
       "tempfail (timeout)"},
      {"10.in-addr.arpa. forwarded", {"10.in-addr.arpa."}, "1.0.0.10.in-addr.arpa",
       "tempfail (timeout)"},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    UnboundOptions o;
    o.forwarders = {silent.forwarder()};
    o.forward_special_zones = tc.forward;
    o.timeout_ms = 200;
    o.retries = 0;
    Result<ResolverSharedPtr> r = UnboundResolver::create(o);
    ASSERT_TRUE(r) << r.error().describe();
    const std::string got = render((*r)->query(tc.qname, Type::PTR, Budget(std::chrono::seconds(5))));
    EXPECT_EQ(got, tc.want) << "got " << got << " want " << tc.want;
  }
}

TEST(UnboundResolver, CreateRejectsBadOptions) {
  const std::string missing = MW_TEST_ZONES "/no-such-file";
  struct Case {
    const char* name;
    UnboundOptions options;
    std::string want;  // Error::describe()
  };
  auto opts = [](auto&& edit) {
    UnboundOptions o;
    o.forwarders = {"127.0.0.1@1"};
    edit(o);
    return o;
  };
  const Case cases[] = {
      {"forwarder that is not an address", opts([](UnboundOptions& o) { o.forwarders = {"dns.example"}; }),
       "dns forwarder \"dns.example\" (want addr or addr@port): syntax error"},
      {"resolv.conf missing", opts([&](UnboundOptions& o) {
         o.forwarders.clear();
         o.resolv_conf = missing;
       }),
       missing + ": error reading file"},
      {"dnssec without trust anchor", opts([](UnboundOptions& o) { o.dnssec = true; }),
       "dns: dnssec needs a trust anchor file"},
      {"dnssec with a missing trust anchor", opts([&](UnboundOptions& o) {
         o.dnssec = true;
         o.trust_anchor = missing;
       }),
       missing + ": No such file or directory"},
      {"timeout 0", opts([](UnboundOptions& o) { o.timeout_ms = 0; }),
       "dns: timeout_ms must be at least 1 and retries at least 0"},
      {"negative retries", opts([](UnboundOptions& o) { o.retries = -1; }),
       "dns: timeout_ms must be at least 1 and retries at least 0"},
      {"no UDP socket", opts([](UnboundOptions& o) { o.max_udp_in_flight = 0; }),
       "dns: max_udp_in_flight must be at least 1"},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    const Result<ResolverSharedPtr> r = UnboundResolver::create(tc.options);
    ASSERT_FALSE(r) << "got a resolver want " << tc.want;
    const std::string got = r.error().describe();
    EXPECT_EQ(got, tc.want) << "got " << got << " want " << tc.want;
  }
}

TEST(UnboundResolver, ResolvConfAndDnssecOptionsThatWork) {
  const std::string dir = ::testing::TempDir();
  const std::string conf = dir + "/mw-dns-resolv.conf";
  std::ofstream(conf) << "# test\nsearch example\nnameserver 127.0.0.1\nnameserver ::1\n";
  UnboundOptions o;
  o.resolv_conf = conf;
  Result<ResolverSharedPtr> r = UnboundResolver::create(o);
  EXPECT_TRUE(r) << r.error().describe();
  // A static trust anchor file (DS record text); libunbound reads it at the first lookup.
  const std::string ta = dir + "/mw-dns-root.key";
  std::ofstream(ta) << ". IN DS 20326 8 2 "
                       "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n";
  UnboundOptions d;
  d.forwarders = {"127.0.0.1@1"};
  d.dnssec = true;
  d.trust_anchor = ta;
  Result<ResolverSharedPtr> v = UnboundResolver::create(d);
  EXPECT_TRUE(v) << v.error().describe();
  std::remove(conf.c_str());
  std::remove(ta.c_str());
}

}  // namespace
}  // namespace mw::dns

// Issue 19: every lookup asked is counted once, by outcome, and timed
// (obs::counters(): mailwarden_dns_queries_total, mailwarden_dns_query_duration_seconds).
namespace mw::dns {
namespace {

std::uint64_t outcomeCount(obs::DnsOutcome o) {
  return obs::counters().dns_queries[static_cast<std::size_t>(o)].get();
}

TEST_F(UnboundNsdTest, EachLookupIsCountedOnceByOutcome) {
  const ResolverSharedPtr r = resolver();
  ASSERT_TRUE(r);
  struct Case {
    const char* qname;
    Type type;
    obs::DnsOutcome want;
  };
  const Case cases[] = {
      {"example.test", Type::TXT, obs::DnsOutcome::Answer},
      {"nope.example.test", Type::TXT, obs::DnsOutcome::NxDomain},
      {"mail.example.test", Type::TXT, obs::DnsOutcome::NoData},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.qname);
    const std::uint64_t before = outcomeCount(tc.want);
    const std::uint64_t timed = obs::counters().dns_duration.read().count();
    static_cast<void>(r->query(tc.qname, tc.type, Budget(std::chrono::seconds(10))));
    EXPECT_EQ(outcomeCount(tc.want), before + 1);
    EXPECT_EQ(obs::counters().dns_duration.read().count(), timed + 1);
  }
  // A name that is not a DNS name asks nothing: not counted.
  std::uint64_t all = 0;
  for (const obs::Counter& c : obs::counters().dns_queries) {
    all += c.get();
  }
  static_cast<void>(r->query("a..example", Type::A, Budget(std::chrono::seconds(10))));
  std::uint64_t after = 0;
  for (const obs::Counter& c : obs::counters().dns_queries) {
    after += c.get();
  }
  EXPECT_EQ(after, all);
}

TEST(UnboundResolver, TimeoutIsCountedAsTimeout) {
  SilentServer silent;
  ASSERT_TRUE(silent.ok());
  UnboundOptions o;
  o.forwarders = {silent.forwarder()};
  o.forward_special_zones = {"test."};
  o.timeout_ms = 100;
  o.retries = 1;
  Result<ResolverSharedPtr> r = UnboundResolver::create(o);
  ASSERT_TRUE(r) << r.error().describe();
  const std::uint64_t timeouts = outcomeCount(obs::DnsOutcome::Timeout);
  const std::uint64_t temporary = outcomeCount(obs::DnsOutcome::Temporary);
  const obs::HistogramValues before = obs::counters().dns_duration.read();
  static_cast<void>((*r)->query("example.test", Type::TXT, Budget(milliseconds(5000))));
  EXPECT_EQ(outcomeCount(obs::DnsOutcome::Timeout), timeouts + 1);
  EXPECT_EQ(outcomeCount(obs::DnsOutcome::Temporary), temporary);
  const obs::HistogramValues after = obs::counters().dns_duration.read();
  // Two attempts of 100 ms: at least 0.2 s went into the sum.
  EXPECT_GE(after.sum - before.sum, 0.19);
}

}  // namespace
}  // namespace mw::dns
