// bench/dkim_bench.cpp — how long DKIM verification of one message takes (`make bench`;
// doc/PERFORMANCE.md).
//
// Benchmarks, in one run so the numbers are comparable:
//   BM_DkimVerify_ZoneResolver/rsa2048   one message signed rsa-sha256 with a 2048-bit
//   BM_DkimVerify_ZoneResolver/ed25519   key / ed25519-sha256 (tests/keys), verified by
//                                        a new dkim::Verifier per message (as the DKIM
//                                        stage does), key from a dns::ZoneResolver:
//                                        headers fed one by one, the body in 16 KiB chunks.
//   BM_Reference_OpenSSL/rsa2048         the cryptographic floor of the same work with
//   BM_Reference_OpenSSL/ed25519         OpenSSL alone: SHA-256 of the body, then one
//                                        signature verification over the same number of
//                                        header bytes, the public key already parsed.
//   BM_Reference_OpenSSL_ParseKey/*      the same, decoding the public key (DER, as in
//                                        the key record) every time, as a verifier must.
// (libopendkim itself cannot be driven directly here: only dkim/ includes its header.)
// The message: 11 header fields, a 4 KiB text body, relaxed/relaxed, h= of 7 fields.
// Every benchmark runs a fixed min_time, 5 repetitions, aggregates only (report the
// median). Before timing, each verification must pass (else an error is reported).
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mailwarden/dkim/dkim.h"
#include "mailwarden/dns/zone.h"

namespace {

constexpr double kMinTimeSeconds = 0.5;
constexpr int kRepetitions = 5;
constexpr std::int64_t kNow = 1'700'000'000;

struct Case {
  const char* selector;
  mw::dkim::Algorithm alg;
};

struct Prepared {
  std::vector<std::pair<std::string, std::string>> headers;  // as the MTA hands them on
  std::string body;
};

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string message() {
  std::string m =
      "Received: from mail.example.org (mail.example.org [192.0.2.25])\r\n"
      "\tby mx.example.net (Postfix) with ESMTPS id 4SVxyz1234\r\n"
      "\tfor <bob@example.net>; Tue, 14 Nov 2023 22:13:20 +0000 (UTC)\r\n"
      "From: Alice Example <alice@dkim.test>\r\n"
      "To: Bob Example <bob@example.net>\r\n"
      "Cc: team@example.net\r\n"
      "Subject: Quarterly numbers and the plan for next week\r\n"
      "Date: Tue, 14 Nov 2023 22:13:19 +0000\r\n"
      "Message-ID: <20231114221319.12345@dkim.test>\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: 8bit\r\n"
      "List-Id: <team.example.net>\r\n"
      "\r\n";
  const std::string line = "The numbers for the quarter are in; see the attached summary.  \r\n";
  while (m.size() < 4096 + 600) {
    m += line;
  }
  return m;
}

// Splits a signed message the way MessageReader would (values keep leading space).
Prepared split(const std::string& m) {
  Prepared p;
  const std::size_t eoh = m.find("\r\n\r\n");
  std::size_t pos = 0;
  while (pos < eoh + 2) {
    std::size_t end = m.find("\r\n", pos);
    while (end + 2 < m.size() && (m[end + 2] == ' ' || m[end + 2] == '\t')) {
      end = m.find("\r\n", end + 2);
    }
    const std::string field = m.substr(pos, end - pos);
    const std::size_t colon = field.find(':');
    p.headers.emplace_back(field.substr(0, colon), field.substr(colon + 1));
    pos = end + 2;
  }
  p.body = m.substr(eoh + 4);
  return p;
}

mw::dkim::LibraryConstSharedPtr g_library;
mw::dns::ZoneResolver* g_zone = nullptr;

void BM_DkimVerify_ZoneResolver(benchmark::State& state, Case c) {
  mw::dkim::SignOptions o;
  o.domain = "dkim.test";
  o.selector = c.selector;
  o.algorithm = c.alg;
  o.private_key = readFile(std::string(MW_TEST_KEYS_DIR) + "/" + c.selector + ".pem");
  o.timestamp = kNow - 1;
  const mw::Result<std::string> signed_msg = mw::dkim::signMessage(message(), o);
  if (!signed_msg) {
    state.SkipWithError(signed_msg.error().describe().c_str());
    return;
  }
  const Prepared p = split(*signed_msg);
  const mw::FixedClock clock(kNow);
  auto once = [&]() {
    const mw::dns::Budget budget(std::chrono::seconds(2));
    mw::dkim::Verifier v(*g_library, *g_zone, budget, clock);
    for (const auto& [name, value] : p.headers) {
      v.header(name, value);
    }
    v.endOfHeaders();
    for (std::size_t i = 0; i < p.body.size(); i += 16384) {
      v.body(std::string_view(p.body).substr(i, 16384));
    }
    return v.finish();
  };
  const mw::dkim::Outcome first = once();
  if (first.signatures.size() != 1 || first.signatures[0].result != mw::dkim::Status::Pass) {
    state.SkipWithError("the benchmark message does not pass");
    return;
  }
  for (auto _ : state) {
    mw::dkim::Outcome out = once();
    benchmark::DoNotOptimize(out);
  }
}

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

// parse_key: also decode the public key from its DER form (the p= of the key record)
// in every iteration, as a verifier that fetched the record must.
void referenceOpenSsl(benchmark::State& state, Case c, bool parse_key) {
  const std::string pem = readFile(std::string(MW_TEST_KEYS_DIR) + "/" + c.selector + ".pem");
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                BIO_free);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!key) {
    state.SkipWithError("cannot read the key");
    return;
  }
  const bool ed = c.alg == mw::dkim::Algorithm::Ed25519Sha256;
  const Prepared p = split(message());
  std::string headers;  // the bytes a DKIM header hash covers, roughly
  for (const auto& [name, value] : p.headers) {
    headers += name + ":" + value + "\r\n";
  }
  // RFC 8463 §3: Ed25519 signs the SHA-256 hash of the header data; RSA signs with SHA-256.
  auto sha256 = [](std::string_view data) {
    std::string out(32, '\0');
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len,
               EVP_sha256(), nullptr);
    return out;
  };
  const std::string to_sign = ed ? sha256(headers) : headers;
  std::vector<unsigned char> sig(512);
  std::size_t sig_len = sig.size();
  {
    MdCtxPtr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (EVP_DigestSignInit(ctx.get(), nullptr, ed ? nullptr : EVP_sha256(), nullptr, key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), sig.data(), &sig_len,
                       reinterpret_cast<const unsigned char*>(to_sign.data()), to_sign.size()) != 1) {
      state.SkipWithError("cannot sign");
      return;
    }
  }
  unsigned char* der = nullptr;
  const int der_len = i2d_PUBKEY(key.get(), &der);
  const std::string pub_der(reinterpret_cast<const char*>(der), der_len > 0 ? der_len : 0);
  OPENSSL_free(der);
  for (auto _ : state) {
    PkeyPtr parsed(nullptr, EVP_PKEY_free);
    if (parse_key) {
      const unsigned char* q = reinterpret_cast<const unsigned char*>(pub_der.data());
      parsed.reset(d2i_PUBKEY(nullptr, &q, static_cast<long>(pub_der.size())));
    }
    EVP_PKEY* verify_key = parse_key ? parsed.get() : key.get();
    const std::string body_hash = sha256(p.body);
    benchmark::DoNotOptimize(body_hash);
    const std::string header_input = ed ? sha256(headers) : headers;
    MdCtxPtr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    const int ok =
        verify_key != nullptr &&
        EVP_DigestVerifyInit(ctx.get(), nullptr, ed ? nullptr : EVP_sha256(), nullptr, verify_key) == 1 &&
        EVP_DigestVerify(ctx.get(), sig.data(), sig_len,
                         reinterpret_cast<const unsigned char*>(header_input.data()),
                         header_input.size()) == 1;
    if (!ok) {
      state.SkipWithError("verification failed");
      return;
    }
  }
}

void BM_Reference_OpenSSL(benchmark::State& state, Case c) { referenceOpenSsl(state, c, false); }
void BM_Reference_OpenSSL_ParseKey(benchmark::State& state, Case c) {
  referenceOpenSsl(state, c, true);
}

template <typename Fn>
void add(const char* name, Fn fn, Case c) {
  benchmark::RegisterBenchmark(name, fn, c)
      ->MinTime(kMinTimeSeconds)
      ->Repetitions(kRepetitions)
      ->ReportAggregatesOnly(true)
      ->Unit(benchmark::kMicrosecond);
}

// The same on 4 threads at once, as the milter verifies (one libmilter thread per
// connection): CPU is the whole process's per verification, so lock contention inside
// libopendkim or OpenSSL (3.0's provider fetches) shows as CPU the 1-thread run has not.
template <typename Fn>
void addThreaded(const char* name, Fn fn, Case c) {
  benchmark::RegisterBenchmark(name, fn, c)
      ->MinTime(kMinTimeSeconds)
      ->Repetitions(kRepetitions)
      ->ReportAggregatesOnly(true)
      ->Threads(4)
      ->MeasureProcessCPUTime()
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  auto lib = mw::dkim::Library::create();
  if (!lib) {
    std::fprintf(stderr, "dkim_bench: %s\n", lib.error().describe().c_str());
    return 1;
  }
  g_library = *lib;
  mw::dns::ZoneResolver zone;
  if (auto r = zone.loadFile(std::string(MW_TEST_KEYS_DIR) + "/keys.zone"); !r) {
    std::fprintf(stderr, "dkim_bench: %s\n", r.error().describe().c_str());
    return 1;
  }
  g_zone = &zone;
  const Case rsa{"rsa2048", mw::dkim::Algorithm::RsaSha256};
  const Case ed{"ed25519", mw::dkim::Algorithm::Ed25519Sha256};
  add("BM_DkimVerify_ZoneResolver/rsa2048", BM_DkimVerify_ZoneResolver, rsa);
  add("BM_DkimVerify_ZoneResolver/ed25519", BM_DkimVerify_ZoneResolver, ed);
  addThreaded("BM_DkimVerify_ZoneResolver_4Threads/rsa2048", BM_DkimVerify_ZoneResolver, rsa);
  addThreaded("BM_DkimVerify_ZoneResolver_4Threads/ed25519", BM_DkimVerify_ZoneResolver, ed);
  add("BM_Reference_OpenSSL/rsa2048", BM_Reference_OpenSSL, rsa);
  add("BM_Reference_OpenSSL/ed25519", BM_Reference_OpenSSL, ed);
  add("BM_Reference_OpenSSL_ParseKey/rsa2048", BM_Reference_OpenSSL_ParseKey, rsa);
  add("BM_Reference_OpenSSL_ParseKey/ed25519", BM_Reference_OpenSSL_ParseKey, ed);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
