// Tests of dns/unbound.h against a real DNS server: nsd on 127.0.0.1 serving the sample
// zone (started here by fork/exec, stopped by its PID), plus a loopback UDP socket that
// never answers for the timeouts. Skipped, with the reason, when nsd is not installed.
// Every wait is bounded.
#include "mailwarden/dns/unbound.h"

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

#include "testing.h"

namespace mw::dns {
namespace {

using testing::QueryCase;
using testing::render;
using std::chrono::milliseconds;

constexpr const char* kNsd = "/usr/sbin/nsd";

// A bound loopback socket of `type`; its port in *port (0: pick one).
int boundSocket(int type, std::uint16_t* port) {
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(*port);
  socklen_t len = sizeof sa;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    ::close(fd);
    return -1;
  }
  *port = ntohs(sa.sin_port);
  return fd;
}

// One SOA query for example.test over UDP; true when any reply comes within `wait`.
bool probe(std::uint16_t port, milliseconds wait) {
  std::uint16_t any = 0;
  const int fd = boundSocket(SOCK_DGRAM, &any);
  if (fd < 0) {
    return false;
  }
  const unsigned char q[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                             7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0,
                             0, 6, 0, 1};
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(port);
  bool ok = false;
  if (::sendto(fd, q, sizeof q, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
      static_cast<ssize_t>(sizeof q)) {
    pollfd p{fd, POLLIN, 0};
    unsigned char buf[512];
    ok = ::poll(&p, 1, static_cast<int>(wait.count())) == 1 && ::recv(fd, buf, sizeof buf, 0) > 12;
  }
  ::close(fd);
  return ok;
}

// nsd in the foreground (-d), in its own temp dir, no chroot, no privilege change.
class NsdServer {
 public:
  ~NsdServer() { stop(); }

  // Empty on success, else why not.
  std::string start(const std::string& zone_file) {
    if (::access(kNsd, X_OK) != 0) {
      return std::string(kNsd) + " not installed (apt-get install nsd)";
    }
    char tmpl[] = "/tmp/mw-dns-nsd.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      return "mkdtemp failed";
    }
    dir_ = tmpl;
    std::string last;
    for (int attempt = 0; attempt < 5; ++attempt) {  // a port taken between probe and bind
      last = startOnce(zone_file);
      if (last.empty()) {
        return last;
      }
      stop(/*keep_dir=*/true);
    }
    return last;
  }

  std::uint16_t port() const { return port_; }
  std::string forwarder() const { return "127.0.0.1@" + std::to_string(port_); }

  // SIGTERM, then SIGKILL after 5 s; reaps the child.
  void stop(bool keep_dir = false) {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      int status = 0;
      while (::waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > until) {
          ::kill(pid_, SIGKILL);
          ::waitpid(pid_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(milliseconds(10));
      }
      pid_ = -1;
    }
    if (!keep_dir && !dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      dir_.clear();
    }
  }

 private:
  std::string startOnce(const std::string& zone_file) {
    // A port free for both UDP and TCP right now.
    std::uint16_t port = 0;
    const int u = boundSocket(SOCK_DGRAM, &port);
    const int t = u >= 0 ? boundSocket(SOCK_STREAM, &port) : -1;
    if (u >= 0) {
      ::close(u);
    }
    if (t < 0) {
      return "no free loopback port";
    }
    ::close(t);
    port_ = port;
    const std::string conf = dir_ + "/nsd.conf";
    std::ofstream(conf) << "server:\n"
                        << "  ip-address: 127.0.0.1@" << port_ << "\n"
                        << "  do-ip6: no\n"
                        << "  username: \"\"\n"
                        << "  chroot: \"\"\n"
                        << "  zonesdir: \"" << dir_ << "\"\n"
                        << "  pidfile: \"" << dir_ << "/nsd.pid\"\n"
                        << "  database: \"\"\n"
                        << "  xfrdfile: \"" << dir_ << "/xfrd.state\"\n"
                        << "  zonelistfile: \"" << dir_ << "/zone.list\"\n"
                        << "  xfrdir: \"" << dir_ << "\"\n"
                        << "  logfile: \"" << dir_ << "/nsd.log\"\n"
                        << "  server-count: 1\n"
                        << "remote-control:\n"
                        << "  control-enable: no\n"
                        << "zone:\n"
                        << "  name: example.test\n"
                        << "  zonefile: \"" << zone_file << "\"\n";
    const pid_t pid = ::fork();
    if (pid < 0) {
      return "fork failed";
    }
    if (pid == 0) {
      const char* argv[] = {kNsd, "-d", "-c", conf.c_str(), nullptr};
      ::execv(kNsd, const_cast<char* const*>(argv));
      ::_exit(127);
    }
    pid_ = pid;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "nsd exited at start: " + log();
      }
      if (probe(port_, milliseconds(100))) {
        return "";
      }
    }
    return "nsd did not answer within 10 s: " + log();
  }

  std::string log() const {
    std::ifstream in(dir_ + "/nsd.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

class UnboundNsdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    nsd_ = new NsdServer;
    skip_ = nsd_->start(MW_TEST_ZONES "/example.zone");
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
      {"empty label", "a..example", Type::A, "permfail (not a DNS name)"},
      {"label of 64", std::string(64, 'x') + ".example", Type::TXT, "permfail (not a DNS name)"},
      {"empty", "", Type::MX, "permfail (not a DNS name)"},
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
