// cli/report_command.cpp — `mailwarden dmarc-report`: the daily RFC 9990 aggregate
// reports (report/report_job.h does the work; this file reads the command line and the
// configuration, opens the store and the resolver, and maps the outcome to an exit
// status). Exit: 0 everything done, 75 (EX_TEMPFAIL) something is left for a later run
// (a send or a DNS lookup failed), 1 bad command line, configuration or store.
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "config.h"  // PACKAGE_VERSION (configure)
#include "mailwarden/config/config.h"
#include "mailwarden/report/open_store.h"
#include "mailwarden/report/report_job.h"
#include "mailwarden/scan/snapshot.h"

namespace mw::cli {
namespace {

constexpr int kExTempFail = 75;  // sysexits.h EX_TEMPFAIL: cron and systemd retry later


// "YYYY-MM-DD" → the UTC day; nullopt for anything else (month 13, Feb 30, ...).
std::optional<report::Period> parseDay(const std::string& text) {
  int y = 0;
  int m = 0;
  int d = 0;
  char tail = 0;
  if (text.size() != 10 || std::sscanf(text.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3) {
    return std::nullopt;
  }
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(m)),
                                        std::chrono::day(static_cast<unsigned>(d))};
  if (!ymd.ok()) {
    return std::nullopt;
  }
  return report::Period{std::chrono::sys_days(ymd).time_since_epoch().count()};
}

bool isDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

int runDmarcReport(const std::vector<std::string>& args) {
  std::string path = config::kDefaultPath;
  std::vector<std::string> zones;
  std::optional<report::Period> period;
  std::optional<std::string> out_dir;
  std::string sendmail = "/usr/sbin/sendmail";
  bool dry_run = false;
  std::optional<std::int64_t> now;
  std::int64_t keep_days = 7;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--dry-run") {
      dry_run = true;
      continue;
    }
    if (i + 1 >= args.size() || a.empty() || a[0] != '-') {
      std::fprintf(stderr, "mailwarden dmarc-report: unexpected argument %s\n", a.c_str());
      printUsage(true);
      return 1;
    }
    const std::string& v = args[++i];
    std::int64_t n = 0;
    if (a == "-c" || a == "--config") {
      path = v;
    } else if (a == "--dns-zone") {
      struct stat st {};
      if (::stat(v.c_str(), &st) != 0) {
        std::fprintf(stderr, "mailwarden dmarc-report: --dns-zone %s: %s\n", v.c_str(),
                     std::strerror(errno));
        return 1;
      }
      zones.push_back(v);
    } else if (a == "--period") {
      period = parseDay(v);
      if (!period) {
        std::fprintf(stderr, "mailwarden dmarc-report: --period %s: not a date (YYYY-MM-DD)\n",
                     v.c_str());
        return 1;
      }
    } else if (a == "--out") {
      if (!isDirectory(v)) {
        std::fprintf(stderr, "mailwarden dmarc-report: --out %s: not a folder\n", v.c_str());
        return 1;
      }
      out_dir = v;
    } else if (a == "--sendmail") {
      sendmail = v;
    } else if (a == "--now") {
      if (!parseInt64(v, n) || n < 0) {
        std::fprintf(stderr, "mailwarden dmarc-report: --now %s: not a Unix time\n", v.c_str());
        return 1;
      }
      now = n;
    } else if (a == "--keep-days") {
      if (!parseInt64(v, n) || n < 1 || n > 3660) {
        std::fprintf(stderr, "mailwarden dmarc-report: --keep-days %s: not 1..3660\n", v.c_str());
        return 1;
      }
      keep_days = n;
    } else {
      std::fprintf(stderr, "mailwarden dmarc-report: unknown option %s\n", a.c_str());
      printUsage(true);
      return 1;
    }
  }
  if (dry_run && out_dir) {
    std::fprintf(stderr, "mailwarden dmarc-report: --dry-run and --out exclude each other\n");
    return 1;
  }
  config::LoadResult loaded = config::loadFile(path);
  if (!loaded.ok()) {
    for (const Error& e : loaded.errors) {
      std::fprintf(stderr, "%s\n", e.describe().c_str());
    }
    return 1;
  }
  config::Config& cfg = loaded.config;
  obs::configure(obs::Sink::Stderr, obs::Level::Warn);
  const config::DmarcReportOptions& ro = cfg.dmarc.reports;
  if (!ro.enabled) {
    // Not an error: the package's daily timer runs this on every host, and reporting is
    // off until the postmaster turns it on (a failing unit every day would be noise).
    std::printf("%s: dmarc.reports is not enabled: nothing to report\n", path.c_str());
    return 0;
  }
  const std::int64_t t = now.value_or(static_cast<std::int64_t>(std::time(nullptr)));
  const report::Period today = report::Period::of(std::chrono::sys_seconds(std::chrono::seconds(t)));
  if (period && period->day >= today.day) {
    std::fprintf(stderr, "mailwarden dmarc-report: --period: that UTC day is not over yet\n");
    return 1;
  }
  Result<std::unique_ptr<report::Store>> store = report::openStore(ro.store);
  if (!store) {
    std::fprintf(stderr, "%s\n",
                 Error::at(ro.where, store.error().code, "dmarc.reports: " + store.error().message)
                     .describe()
                     .c_str());
    return 1;
  }
  for (const std::string& z : zones) {
    cfg.dns.zone_files.push_back(z);  // answered from these files only
  }
  Result<dns::ResolverSharedPtr> resolver = scan::makeResolver(cfg.dns);
  if (!resolver) {
    std::fprintf(stderr, "mailwarden dmarc-report: %s\n", resolver.error().describe().c_str());
    return 1;
  }
  report::JobOptions o;
  o.meta.org_name = ro.org_name;
  o.meta.email = ro.email;
  o.meta.extra_contact_info = ro.extra_contact_info;
  o.meta.generator = std::string("mailwarden ") + PACKAGE_VERSION;
  o.exclude_domains = ro.exclude_domains;
  o.max_report_bytes = ro.max_report_bytes;
  o.period = period;
  o.keep_days = static_cast<int>(keep_days);
  o.now = t;
  o.dry_run = dry_run;
  if (report::submitterDomain(o.meta.email).empty()) {
    std::fprintf(stderr, "%s\n",
                 Error::at(ro.where, Errc::Invalid,
                           "dmarc.reports.email: " + ro.email + " has no domain (the Submitter)")
                     .describe()
                     .c_str());
    return 1;
  }
  std::unique_ptr<report::Sender> sender;
  if (out_dir) {
    sender = std::make_unique<report::DirectorySender>(*out_dir);
  } else if (!dry_run) {
    sender = std::make_unique<report::SendmailSender>(sendmail);
  }
  const report::JobSummary sum =
      report::runReportJob(**store, **resolver, sender.get(), o, std::cout, std::cerr);
  std::cout << (dry_run ? "dry run: " : "") << sum.line() << std::endl;
  if (sum.store_error) {
    return 1;
  }
  return sum.leftForLater() ? kExTempFail : 0;
}

}  // namespace mw::cli
