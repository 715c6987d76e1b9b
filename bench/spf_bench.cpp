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
#include "tests/support/nsd_server.h"

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

using mw::testsupport::NsdServer;

// The nsd child's PID for the signal handler (kill() is async-signal-safe).
volatile sig_atomic_t g_nsd_pid = -1;

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
  char zone_dir[] = "/tmp/mw-bench-zone.XXXXXX";
  std::string skip = ::mkdtemp(zone_dir) == nullptr ? "mkdtemp failed" : "";
  const std::string zone_file = std::string(zone_dir) + "/bench.zone";
  if (skip.empty()) {
    std::ofstream(zone_file) << kZone;
    skip = nsd.start("bench.test", zone_file);
    g_nsd_pid = nsd.pid();
  }
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
  g_nsd_pid = -1;
  std::error_code ec;
  std::filesystem::remove_all(zone_dir, ec);
  return 0;
}
