// bench/report_fill.cpp — fills a DMARC report store for the report-generation benchmark
// (issue 20: "report generation for 1,000,000 recorded messages over 10,000 domains").
//
//   report_fill --store sqlite:PATH --messages N --domains D --day EPOCH_DAY --zone FILE
//
// Writes N records for UTC day EPOCH_DAY (days since 1970-01-01) spread over D policy
// domains (d0000.bench.example, ...) through SqliteStore::recordBatch, as the milter's
// writer does, and a zone file for mailwarden's ZoneResolver (--dns-zone) with each
// domain's DMARC record (rua=mailto:dmarc@<domain>: an internal destination, no external
// verification). The mix is deterministic (a fixed seed): per domain a few source IPs
// (IPv4 and IPv6), pass and fail under its policy, one or two DKIM signatures, SPF
// results, now and then an override — so the store holds many distinct tuples per
// domain, as real traffic gives.
//
// A benchmark tool, not a test: it prints what it wrote and how long filling took.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "mailwarden/report/store.h"

namespace {

using mw::report::Record;

int usage() {
  std::fprintf(stderr,
               "usage: report_fill --store sqlite:PATH --messages N --domains D --day DAY "
               "--zone FILE\n");
  return 2;
}

std::string domainName(int d) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "d%04d.bench.example", d);
  return buf;
}

mw::report::Policy policyOf(int d) {
  switch (d % 3) {
    case 0: return mw::report::Policy::None;
    case 1: return mw::report::Policy::Quarantine;
    default: return mw::report::Policy::Reject;
  }
}

Record make(std::mt19937_64& rng, int domains, std::int64_t day) {
  using namespace mw::report;
  const int d = static_cast<int>(rng() % static_cast<unsigned>(domains));
  const std::string dom = domainName(d);
  Record r;
  r.header_from = dom;
  const unsigned src = static_cast<unsigned>(rng() % 8);
  r.source_ip = src < 6 ? "192.0.2." + std::to_string(1 + (d % 50) * 4 + src % 4)
                        : "2001:db8:" + std::to_string(d % 4096) + "::" + std::to_string(src);
  r.policy.domain = dom;
  r.policy.p = policyOf(d);
  if (d % 7 == 0) {
    r.policy.sp = Policy::Reject;
  }
  const bool pass = rng() % 10 < 8;  // most mail from a domain's own servers passes
  r.dkim_aligned = pass ? Aligned::Pass : Aligned::Fail;
  r.spf_aligned = pass && rng() % 4 != 0 ? Aligned::Pass : Aligned::Fail;
  if (pass) {
    r.disposition = Disposition::Pass;
  } else if (r.policy.p == Policy::None) {
    r.disposition = Disposition::None;
  } else {
    r.disposition = r.policy.p == Policy::Reject ? Disposition::Reject : Disposition::Quarantine;
    if (rng() % 20 == 0) {
      r.disposition = Disposition::None;
      r.overrides.push_back(Override{OverrideType::TrustedForwarder,
                                     "arc=pass as[1].d=lists.example.org"});
    }
  }
  r.dkim.push_back(DkimAuth{dom, "s2026", pass ? DkimResult::Pass : DkimResult::Fail});
  if (rng() % 5 == 0) {
    r.dkim.push_back(DkimAuth{"esp.example", "k1", DkimResult::Pass});
  }
  r.spf = SpfAuth{pass ? dom : "forwarder.example", SpfScope::MailFrom,
                  r.spf_aligned == Aligned::Pass ? SpfResult::Pass : SpfResult::SoftFail};
  r.envelope_from = r.spf->domain;
  r.envelope_to = "mx.bench.example";
  r.time = std::chrono::sys_seconds(std::chrono::seconds(day * 86400 + static_cast<std::int64_t>(rng() % 86400)));
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string store_spec, zone;
  long long messages = 0, domains = 0, day = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const char* v = argv[i + 1];
    if (a == "--store") {
      store_spec = v;
    } else if (a == "--messages") {
      messages = std::atoll(v);
    } else if (a == "--domains") {
      domains = std::atoll(v);
    } else if (a == "--day") {
      day = std::atoll(v);
    } else if (a == "--zone") {
      zone = v;
    } else {
      return usage();
    }
  }
  if (store_spec.rfind("sqlite:", 0) != 0 || messages <= 0 || domains <= 0 || day < 0 ||
      zone.empty()) {
    return usage();
  }
  auto store = mw::report::SqliteStore::open(store_spec.substr(7));
  if (!store) {
    std::fprintf(stderr, "report_fill: %s\n", store.error().describe().c_str());
    return 1;
  }
  std::mt19937_64 rng(20);
  const auto start = std::chrono::steady_clock::now();
  std::vector<Record> batch;
  for (long long done = 0; done < messages;) {
    batch.clear();
    for (int i = 0; i < 256 && done < messages; ++i, ++done) {
      batch.push_back(make(rng, static_cast<int>(domains), day));
    }
    if ((*store)->recordBatch(batch) != batch.size()) {
      std::fprintf(stderr, "report_fill: the store refused a batch\n");
      return 1;
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::ofstream z(zone);
  z << "$ORIGIN bench.example.\n$TTL 300\n";
  for (long long d = 0; d < domains; ++d) {
    const std::string name = domainName(static_cast<int>(d));
    z << "_dmarc." << name << ". IN TXT \"v=DMARC1; p="
      << (d % 3 == 0 ? "none" : d % 3 == 1 ? "quarantine" : "reject")
      << (d % 7 == 0 ? "; sp=reject" : "") << "; rua=mailto:dmarc@" << name << "\"\n";
  }
  if (!z) {
    std::fprintf(stderr, "report_fill: cannot write %s\n", zone.c_str());
    return 1;
  }
  std::printf("report_fill: %lld messages over %lld domains for day %lld in %.2f s\n", messages,
              domains, day, secs);
  return 0;
}
