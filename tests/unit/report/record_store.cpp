// tests/unit/report/record_store.cpp — puts records into a SQLite report store for
// dmarc_report_cli_test.sh, as the milter's recording would (Store::record).
// Usage: record_store DBPATH POLICY-DOMAIN SOURCE-IP UNIX-TIME COUNT.
// Exit 0 when all COUNT were stored, 1 otherwise.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "mailwarden/report/store.h"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: record_store DBPATH POLICY-DOMAIN SOURCE-IP UNIX-TIME COUNT\n");
    return 2;
  }
  mw::Result<std::unique_ptr<mw::report::SqliteStore>> store = mw::report::SqliteStore::open(argv[1]);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().describe().c_str());
    return 1;
  }
  mw::report::Record r;
  r.header_from = argv[2];
  r.source_ip = argv[3];
  r.policy.domain = argv[2];
  r.policy.p = mw::report::Policy::Reject;
  r.disposition = mw::report::Disposition::Pass;
  r.dkim_aligned = mw::report::Aligned::Pass;
  r.dkim.push_back({argv[2], "s1", mw::report::DkimResult::Pass});
  r.spf = mw::report::SpfAuth{argv[2], mw::report::SpfScope::MailFrom, mw::report::SpfResult::Pass};
  r.envelope_from = argv[2];
  r.envelope_to = "mx.test.example";
  r.time = std::chrono::sys_seconds(std::chrono::seconds(std::strtoll(argv[4], nullptr, 10)));
  const long n = std::strtol(argv[5], nullptr, 10);
  for (long i = 0; i < n; ++i) {
    if (mw::Result<void> ok = (*store)->record(r); !ok) {
      std::fprintf(stderr, "%s\n", ok.error().describe().c_str());
      return 1;
    }
  }
  return 0;
}
