// bench/scan_bench.cpp — what mailwarden's checks cost without the milter: one message
// through the Scan pipeline (the one the milter glue and `mailwarden check` drive), in
// process, over and over, with a given configuration. bench/run-milter-bench.sh runs it
// on the same config and messages as the load generator, so the direct table can say how
// much of mailwarden's CPU per message is its checks and how much is libmilter and the
// kernel (which the reference milter pays too).
//
//   scan_bench CONFIG MESSAGE [--client-ip IP] [--helo NAME] [--mail-from ADDR]
//              [--rcpt ADDR] [--iterations N] [--benchmark_* flags]
//
// --iterations N: exactly N messages (Google Benchmark's own estimation rounds skipped),
// for instruction counts under callgrind: (Ir at N=101 - Ir at N=1) / 100 is the cost of
// one warm message (bench/run-checks-ladder.sh).
//
// BM_Scan: Snapshot built once (as the milter builds it at start and on SIGHUP); per
// iteration a Scan with connect, HELO, MAIL FROM, RCPT, the message's header fields and
// its body in 64 KiB chunks (as Postfix sends them), finish() with the verdict. CPU time
// per message, single thread. Logging is turned down to warnings: the milter's one log
// line per message is not part of Scan.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/base/clock.h"
#include "mailwarden/config/config.h"
#include "mailwarden/message/reader.h"
#include "mailwarden/obs/log.h"
#include "mailwarden/scan/scan.h"
#include "mailwarden/scan/snapshot.h"

namespace {

using namespace mw;

struct Setup {
  scan::SnapshotConstSharedPtr snapshot;
  std::string message;
  std::string client_ip = "192.0.2.10";
  std::string helo = "mail.bench.test.example";
  std::string mail_from = "sender@bench.test.example";
  std::string rcpt = "user@mx.test.example";
};
Setup g_setup;

void BM_Scan(benchmark::State& state) {
  const Setup& s = g_setup;
  std::size_t verdict_headers = 0;
  for (auto _ : state) {
    scan::Scan scan(s.snapshot);
    scan.connect(s.client_ip, "");
    scan.helo(s.helo);
    scan.queueId("BENCH");
    scan.mailFrom(s.mail_from);
    scan.rcpt(s.rcpt);
    scan::ReaderFeed feeder(scan);
    message::MessageReader reader(s.snapshot->limits(), feeder);
    constexpr std::size_t kChunk = 64 * 1024;
    for (std::size_t off = 0; off < s.message.size(); off += kChunk) {
      reader.feed(std::string_view(s.message).substr(off, kChunk));
    }
    reader.finish();
    const verdict::Verdict v = scan.finish();
    verdict_headers = v.auth.size();
    benchmark::DoNotOptimize(verdict_headers);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * s.message.size()));
  state.counters["auth_results"] = static_cast<double>(verdict_headers);
}

int usage() {
  std::fprintf(stderr,
               "usage: scan_bench CONFIG MESSAGE [--client-ip IP] [--helo NAME] [--mail-from ADDR] "
               "[--rcpt ADDR] [--iterations N] [--benchmark_* flags]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);  // takes the --benchmark_* flags out of argv
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() < 2) return usage();
  long iterations = 0;
  for (std::size_t i = 2; i < args.size(); i += 2) {
    if (i + 1 >= args.size()) return usage();
    if (args[i] == "--iterations") {
      iterations = std::strtol(args[i + 1].c_str(), nullptr, 10);
      if (iterations <= 0 || iterations > 10000000) return usage();
    } else if (args[i] == "--client-ip") g_setup.client_ip = args[i + 1];
    else if (args[i] == "--helo") g_setup.helo = args[i + 1];
    else if (args[i] == "--mail-from") g_setup.mail_from = args[i + 1];
    else if (args[i] == "--rcpt") g_setup.rcpt = args[i + 1];
    else return usage();
  }
  config::LoadResult loaded = config::loadFile(args[0]);
  for (const Error& e : loaded.errors) std::fprintf(stderr, "%s\n", e.describe().c_str());
  if (!loaded.ok()) return 1;
  loaded.config.log.sink = obs::Sink::Stderr;
  obs::configure(obs::Sink::Stderr, obs::Level::Warn);
  Result<scan::SnapshotConstSharedPtr> snap =
      scan::Snapshot::build(std::move(loaded.config), std::make_shared<SystemClock>());
  if (!snap) {
    std::fprintf(stderr, "scan_bench: %s\n", snap.error().describe().c_str());
    return 1;
  }
  g_setup.snapshot = *snap;
  std::ifstream in(args[1], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "scan_bench: cannot read %s\n", args[1].c_str());
    return 1;
  }
  g_setup.message.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  benchmark::internal::Benchmark* bm = benchmark::RegisterBenchmark("BM_Scan", BM_Scan);
  bm->Unit(benchmark::kMicrosecond);
  if (iterations > 0) bm->Iterations(iterations);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
