// bench/spf_bench.cpp — how long one SPF check takes (`make bench`; doc/PERFORMANCE.md).
//
// Benchmarks, in one run so the numbers are comparable:
//   BM_Reference_ParseRecord/*         spf::parseRecord() of the record checked below
//   BM_SpfCheck_ZoneResolver/*         Checker::checkMailFrom() over a ZoneResolver
//   BM_SpfCheck_Unbound_WarmCache/*    the same over UnboundResolver -> nsd on loopback,
//                                      libunbound's cache warmed first
// "/nested": sender@bench.test, a record with include: include: mx a -all (5 DNS-querying
// terms, 8 lookups), the client matching at the last mechanism before -all.
// "/simple": sender@simple.bench.test, "v=spf1 ip4:192.0.2.0/24 -all" (1 lookup).
//
// nsd (/usr/sbin/nsd) is started by this program: foreground, its own temp dir, a free
// 127.0.0.1 port, stopped by its PID at exit (and on SIGINT/SIGTERM). Without nsd the
// Unbound benchmarks are skipped with a message. Every wait is bounded; every benchmark
// runs for a fixed min_time, 5 repetitions, aggregates only (report the median).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

#include "mailwarden/dns/resolver.h"
#include "mailwarden/dns/unbound.h"
#include "mailwarden/dns/zone.h"
#include "mailwarden/spf/record.h"
#include "mailwarden/spf/spf.h"

namespace {

namespace dns = mw::dns;
namespace spf = mw::spf;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

// Served by both resolvers: loaded into the ZoneResolver, written out for nsd.
// Evaluation of bench.test for 192.0.2.80:
//   TXT bench.test; include -> TXT _spf.a (ip4 terms, no match, -all: not a match);
//   include -> TXT _spf.b, A out.b (no match, ~all: not a match); mx -> MX bench.test,
//   A mx1, A mx2 (no match); a -> A bench.test: 192.0.2.80 matches: pass.
constexpr std::string_view kZone = R"(; bench.zone — the SPF records of bench/spf_bench.cpp
$ORIGIN bench.test.
$TTL 3600
@        IN SOA  ns1 hostmaster ( 2024010101 3600 900 604800 3600 )
         IN NS   ns1
ns1      IN A    127.0.0.1
@        IN TXT  "v=spf1 include:_spf.a.bench.test include:_spf.b.bench.test mx a -all"
@        IN MX   10 mx1
@        IN MX   20 mx2
@        IN A    192.0.2.80
_spf.a   IN TXT  "v=spf1 ip4:198.51.100.0/24 ip4:203.0.113.0/25 ip6:2001:db8:a::/48 -all"
_spf.b   IN TXT  "v=spf1 a:out.b.bench.test ip4:198.51.100.128/25 ~all"
out.b    IN A    203.0.113.200
mx1      IN A    198.51.100.25
mx2      IN A    198.51.100.26
simple   IN TXT  "v=spf1 ip4:192.0.2.0/24 -all"
)";

constexpr std::string_view kNestedRecord =
    "v=spf1 include:_spf.a.bench.test include:_spf.b.bench.test mx a -all";
constexpr std::string_view kSimpleRecord = "v=spf1 ip4:192.0.2.0/24 -all";

constexpr std::string_view kClient = "192.0.2.80";
constexpr std::string_view kHelo = "mail.bench.test";
constexpr std::string_view kNestedSender = "sender@bench.test";
constexpr std::string_view kSimpleSender = "sender@simple.bench.test";

constexpr double kMinTimeSeconds = 0.5;
constexpr int kRepetitions = 5;

// ---------------------------------------------------------------------------- nsd

constexpr const char* kNsd = "/usr/sbin/nsd";

// The nsd child's PID for the signal handler (kill() is async-signal-safe).
volatile sig_atomic_t g_nsd_pid = -1;

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

// One SOA query for bench.test over UDP; true when any reply comes within `wait`.
bool probe(std::uint16_t port, milliseconds wait) {
  std::uint16_t any = 0;
  const int fd = boundSocket(SOCK_DGRAM, &any);
  if (fd < 0) {
    return false;
  }
  const unsigned char q[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                             5, 'b', 'e', 'n', 'c', 'h', 4, 't', 'e', 's', 't', 0,
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

// nsd in the foreground (-d), in its own temp dir, no chroot, no privilege change
// (as in tests/unit/dns/unbound_test.cpp).
class NsdServer {
 public:
  ~NsdServer() { stop(); }

  // Empty on success, else why not.
  std::string start() {
    if (::access(kNsd, X_OK) != 0) {
      return std::string(kNsd) + " not installed (apt-get install nsd)";
    }
    char tmpl[] = "/tmp/mw-bench-nsd.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      return "mkdtemp failed";
    }
    dir_ = tmpl;
    std::ofstream(dir_ + "/bench.zone") << kZone;
    std::string last;
    for (int attempt = 0; attempt < 5; ++attempt) {  // a port taken between probe and bind
      last = startOnce();
      if (last.empty()) {
        return last;
      }
      stop(/*keep_dir=*/true);
    }
    stop();
    return last;
  }

  std::string forwarder() const { return "127.0.0.1@" + std::to_string(port_); }

  // SIGTERM, then SIGKILL after 5 s; reaps the child.
  void stop(bool keep_dir = false) {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      const auto until = std::chrono::steady_clock::now() + 5s;
      int status = 0;
      while (::waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > until) {
          ::kill(pid_, SIGKILL);
          ::waitpid(pid_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(10ms);
      }
      pid_ = -1;
      g_nsd_pid = -1;
    }
    if (!keep_dir && !dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      dir_.clear();
    }
  }

 private:
  std::string startOnce() {
    std::uint16_t port = 0;  // free for both UDP and TCP right now
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
                        << "  name: bench.test\n"
                        << "  zonefile: \"" << dir_ << "/bench.zone\"\n";
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
    g_nsd_pid = pid;
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        g_nsd_pid = -1;
        return "nsd exited at start: " + log();
      }
      if (probe(port_, 100ms)) {
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

extern "C" void onFatalSignal(int sig) {
  const pid_t pid = g_nsd_pid;
  if (pid > 0) {
    ::kill(pid, SIGTERM);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// ---------------------------------------------------------------------- benchmarks

struct Case {
  std::string_view sender;
  std::string_view record;
};
constexpr Case kNested{kNestedSender, kNestedRecord};
constexpr Case kSimple{kSimpleSender, kSimpleRecord};

dns::ZoneResolver* g_zone = nullptr;
dns::ResolverSharedPtr g_unbound;

spf::CheckResult checkOnce(dns::Resolver& resolver, const Case& c) {
  spf::Checker checker(resolver, spf::Options{});  // one per check, as scan/ does
  return checker.checkMailFrom(kClient, kHelo, c.sender, dns::Budget(2000ms));
}

// Counts the queries of one check (reported as the counter dns_queries).
class CountingResolver final : public dns::Resolver {
 public:
  explicit CountingResolver(dns::Resolver& inner) : inner_(inner) {}
  dns::Answer query(std::string_view name, dns::Type type, const dns::Budget& budget) override {
    ++count;
    return inner_.query(name, type, budget);
  }
  int count = 0;

 private:
  dns::Resolver& inner_;
};

// Runs the check once outside the timing: the answer must be pass (and, for Unbound,
// this fills libunbound's cache).
bool precheck(benchmark::State& state, dns::Resolver& resolver, const Case& c) {
  CountingResolver counting(resolver);
  const spf::CheckResult r = checkOnce(counting, c);
  state.counters["dns_queries"] = counting.count;
  if (r.result != spf::Result::Pass) {
    const std::string why = "expected pass, got " + std::string(spf::toString(r.result)) +
                            " (" + r.problem + ")";
    state.SkipWithError(why.c_str());
    return false;
  }
  return true;
}

void runChecks(benchmark::State& state, dns::Resolver& resolver, const Case& c) {
  if (!precheck(state, resolver, c)) {
    return;
  }
  for (auto _ : state) {
    spf::CheckResult r = checkOnce(resolver, c);
    benchmark::DoNotOptimize(r);
  }
}

void BM_Reference_ParseRecord(benchmark::State& state, Case c) {
  for (auto _ : state) {
    auto parsed = spf::parseRecord(c.record);
    benchmark::DoNotOptimize(parsed);
  }
}

void BM_SpfCheck_ZoneResolver(benchmark::State& state, Case c) {
  runChecks(state, *g_zone, c);
}

void BM_SpfCheck_Unbound_WarmCache(benchmark::State& state, Case c) {
  runChecks(state, *g_unbound, c);
}

template <typename Fn>
void add(const char* name, Fn fn, Case c) {
  benchmark::RegisterBenchmark(name, fn, c)
      ->MinTime(kMinTimeSeconds)
      ->Repetitions(kRepetitions)
      ->ReportAggregatesOnly(true)
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }

  dns::ZoneResolver zone;
  if (auto r = zone.loadText(kZone, "bench.zone"); !r) {
    std::fprintf(stderr, "spf_bench: %s\n", r.error().describe().c_str());
    return 1;
  }
  g_zone = &zone;

  ::signal(SIGINT, onFatalSignal);
  ::signal(SIGTERM, onFatalSignal);
  ::signal(SIGHUP, onFatalSignal);

  NsdServer nsd;
  std::string skip = nsd.start();
  if (skip.empty()) {
    dns::UnboundOptions o;
    o.forwarders = {nsd.forwarder()};
    o.forward_special_zones = {"test."};  // else libunbound answers NXDOMAIN (RFC 6761)
    o.timeout_ms = 2000;
    o.retries = 1;
    auto created = dns::UnboundResolver::create(o);  // after the fork (dns/unbound.h)
    if (created) {
      g_unbound = *created;
    } else {
      skip = "UnboundResolver: " + created.error().describe();
    }
  }

  add("BM_Reference_ParseRecord/nested", BM_Reference_ParseRecord, kNested);
  add("BM_Reference_ParseRecord/simple", BM_Reference_ParseRecord, kSimple);
  add("BM_SpfCheck_ZoneResolver/nested", BM_SpfCheck_ZoneResolver, kNested);
  add("BM_SpfCheck_ZoneResolver/simple", BM_SpfCheck_ZoneResolver, kSimple);
  if (skip.empty()) {
    add("BM_SpfCheck_Unbound_WarmCache/nested", BM_SpfCheck_Unbound_WarmCache, kNested);
    add("BM_SpfCheck_Unbound_WarmCache/simple", BM_SpfCheck_Unbound_WarmCache, kSimple);
  } else {
    std::fprintf(stderr, "spf_bench: skipping BM_SpfCheck_Unbound_WarmCache: %s\n",
                 skip.c_str());
  }

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  g_unbound.reset();  // its threads stop before nsd does
  nsd.stop();
  return 0;
}
