// bench/arc_bench.cpp — how long ARC chain validation of one message takes, beside DKIM
// verification of a comparable message, in one run (`make bench-checks`, the ARC rows of
// doc/PERFORMANCE.md; issue 18).
//
//   bench/arc_bench DIR [benchmark flags]
//
// DIR is what `tests/integration/mw_arcchain.py --keys tests/keys --out DIR` writes (the
// dkimpy mailing-list round trip; every signature rsa-sha256 with a 2048-bit key, t= fixed,
// a text body of about 4 KB): the messages and arc.example.zone / arc.example.org.zone.
//
//   BM_ArcVerify/two-hop    two-hop.eml: a 2-instance chain (lists.example.org, then
//                           relay.example): 2 ARC-Message-Signatures (the newest, and the
//                           older one for oldest-pass) and 2 ARC-Seals to verify.
//   BM_ArcVerify/one-hop    list.eml: 1 instance (1 AMS, 1 AS).
//   BM_DkimVerify/original  original.eml: the author's DKIM-Signature (relaxed/relaxed,
//                           the same body before the list's footer) through dkim::Verifier
//                           (libopendkim): the comparable single-signature cost. dkim/
//                           keeps decoded keys in a process-wide cache (src/dkim/
//                           key_cache.cpp), so from the second iteration on this is the
//                           cost with the key already decoded; arc/ has no such cache.
//   BM_Reference_DecodeKey/rsa2048
//                           OpenSSL's d2i_PUBKEY of one published 2048-bit key (the p= of
//                           sel._domainkey.relay.example, base64-decoded once): what every
//                           key decode costs a verifier without a cache.
// Each iteration is what a stage does per message: a new Verifier, the header fields
// handed over one by one as the MTA does (value after the colon, leading space and folding
// kept), the body in 16 KiB chunks, finish(). Keys come from a dns::ZoneResolver loaded
// with the zones, so only CPU is measured (no sockets, no cache of ours in between); the
// clock is fixed after the signatures' t=. Before timing, each message must give its
// expected result (else the benchmark reports an error rather than a number).
// No MinTime/Repetitions are set here, so --benchmark_min_time and
// --benchmark_repetitions decide (bench/run-checks-ladder.sh passes them).
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mailwarden/arc/arc.h"
#include "mailwarden/base/clock.h"
#include "mailwarden/dkim/dkim.h"
#include "mailwarden/dns/zone.h"

namespace {

// After the t= that mw_arcchain.py stamps (1767225600), so no signature is "in the future".
constexpr std::int64_t kNow = 1'767'229'200;
constexpr std::size_t kChunk = 16384;

struct Prepared {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Splits a CRLF message into header fields (continuation lines joined, the value keeping
// everything after the colon) and the body. An empty Prepared when it is not one.
Prepared split(const std::string& m) {
  Prepared p;
  const std::size_t eoh = m.find("\r\n\r\n");
  if (eoh == std::string::npos) {
    return p;
  }
  std::size_t pos = 0;
  while (pos < eoh + 2) {
    std::size_t end = m.find("\r\n", pos);
    while (end + 2 < m.size() && (m[end + 2] == ' ' || m[end + 2] == '\t')) {
      end = m.find("\r\n", end + 2);
    }
    const std::string field = m.substr(pos, end - pos);
    const std::size_t colon = field.find(':');
    if (colon == std::string::npos) {
      return {};
    }
    p.headers.emplace_back(field.substr(0, colon), field.substr(colon + 1));
    pos = end + 2;
  }
  p.body = m.substr(eoh + 4);
  return p;
}

template <typename V>
void feed(V& v, const Prepared& p) {
  for (const auto& [name, value] : p.headers) {
    v.header(name, value);
  }
  v.endOfHeaders();
  for (std::size_t i = 0; i < p.body.size(); i += kChunk) {
    v.body(std::string_view(p.body).substr(i, kChunk));
  }
}

std::string g_dir;
mw::dns::ZoneResolver* g_zone = nullptr;
mw::dkim::LibraryConstSharedPtr g_library;

void BM_ArcVerify(benchmark::State& state, const char* file, int instances) {
  const Prepared p = split(readFile(g_dir + "/" + file));
  const mw::FixedClock clock(kNow);
  auto once = [&]() {
    const mw::dns::Budget budget(std::chrono::seconds(2));
    mw::arc::Verifier v(*g_zone, budget, clock);
    feed(v, p);
    return v.finish();
  };
  const mw::arc::Validation first = once();
  if (first.cv != mw::arc::ChainResult::Pass || first.instances != instances) {
    state.SkipWithError(("the chain does not pass: " + first.reason).c_str());
    return;
  }
  for (auto _ : state) {
    mw::arc::Validation out = once();
    benchmark::DoNotOptimize(out);
  }
  state.counters["body_bytes"] = static_cast<double>(p.body.size());
}

void BM_DkimVerify(benchmark::State& state, const char* file) {
  const Prepared p = split(readFile(g_dir + "/" + file));
  const mw::FixedClock clock(kNow);
  auto once = [&]() {
    const mw::dns::Budget budget(std::chrono::seconds(2));
    mw::dkim::Verifier v(*g_library, *g_zone, budget, clock);
    feed(v, p);
    return v.finish();
  };
  const mw::dkim::Outcome first = once();
  if (first.signatures.size() != 1 || first.signatures[0].result != mw::dkim::Status::Pass) {
    state.SkipWithError("the DKIM signature does not pass");
    return;
  }
  for (auto _ : state) {
    mw::dkim::Outcome out = once();
    benchmark::DoNotOptimize(out);
  }
  state.counters["body_bytes"] = static_cast<double>(p.body.size());
}

void BM_Reference_DecodeKey(benchmark::State& state) {
  const mw::dns::Answer a = g_zone->query("sel._domainkey.relay.example", mw::dns::Type::TXT,
                                          mw::dns::Budget::unlimited());
  const std::size_t p = a.txt.empty() ? std::string::npos : a.txt[0].find("p=");
  if (p == std::string::npos) {
    state.SkipWithError("no key record for sel._domainkey.relay.example");
    return;
  }
  const std::string b64 = a.txt[0].substr(p + 2);
  std::string der(b64.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(der.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
  if (n <= 0) {
    state.SkipWithError("the key record's p= is not base64");
    return;
  }
  // EVP_DecodeBlock counts the padding as zero bytes; DER carries its own length.
  der.resize(static_cast<std::size_t>(n));
  for (auto _ : state) {
    const unsigned char* q = reinterpret_cast<const unsigned char*>(der.data());
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
        d2i_PUBKEY(nullptr, &q, static_cast<long>(der.size())), EVP_PKEY_free);
    if (!key) {
      state.SkipWithError("d2i_PUBKEY failed");
      return;
    }
    benchmark::DoNotOptimize(key.get());
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (argc != 2) {
    std::fprintf(stderr, "usage: arc_bench DIR [benchmark flags]  (DIR: mw_arcchain.py --out DIR)\n");
    return 2;
  }
  g_dir = argv[1];
  auto lib = mw::dkim::Library::create();
  if (!lib) {
    std::fprintf(stderr, "arc_bench: %s\n", lib.error().describe().c_str());
    return 1;
  }
  g_library = *lib;
  mw::dns::ZoneResolver zone;
  for (const char* z : {"/arc.example.zone", "/arc.example.org.zone"}) {
    if (auto r = zone.loadFile(g_dir + z); !r) {
      std::fprintf(stderr, "arc_bench: %s\n", r.error().describe().c_str());
      return 1;
    }
  }
  g_zone = &zone;
  benchmark::RegisterBenchmark("BM_ArcVerify/two-hop", BM_ArcVerify, "two-hop.eml", 2)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_ArcVerify/one-hop", BM_ArcVerify, "list.eml", 1)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_DkimVerify/original", BM_DkimVerify, "original.eml")
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_Reference_DecodeKey/rsa2048", BM_Reference_DecodeKey)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
