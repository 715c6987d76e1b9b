// report/report_job.h — `mailwarden dmarc-report`: the aggregate reports of complete UTC
// days, from the Store to each domain's rua destinations (RFC 9990 "Report Delivery",
// "Verifying External Destinations"), exactly once across runs and hosts.
//
// runReportJob() walks the periods (one given day, or every complete day in the store
// before today) and, per DMARC Policy Domain: skips exclude_domains; claim()s it (a
// domain another run has, or that was sent, is left alone); reads its rows; looks up
// `_dmarc.<domain>` now (RFC 9990 "Report Request Discovery": the rua published today
// is where reports go); keeps the first `max_uris` valid mailto: URIs, verifies each
// external one; builds the reports (one per policy configuration, split by size) and
// hands each mail to the Sender. Every destination sent → markSent(); a send failure or
// a temporary DNS failure → release() (the next run sends it again, with the same
// report_id, Message-ID and filename); nothing to send (no record, no rua, no
// authorized destination, rows too large) → markSent(), counted. Then periods older than
// `keep_days` are purged (an unsendable report cannot grow the store without end).
//
// Untrusted input: DNS answers (rua, _report._dmarc records) and the rows (from mail).
// Lifetimes: the Store, Resolver and Sender are borrowed for the call. Thread-safety:
// one job per thread (the Store and Resolver are thread-safe; a Sender is not shared).
// Never throws except std::bad_alloc; a Store error ends the job (JobSummary::store_error).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "mailwarden/base/result.h"
#include "mailwarden/dmarc/dmarc.h"
#include "mailwarden/dns/resolver.h"
#include "mailwarden/report/delivery.h"
#include "mailwarden/report/store.h"
#include "mailwarden/report/xml.h"

namespace mw::report {

// RFC 9990 "Verifying External Destinations" for one rua URI of `policy_domain`.
enum class DestinationStatus {
  Authorized,    // same Organizational Domain, or a v=DMARC1 record at the _report name
  Unauthorized,  // no such record, a name too long, or an override to another host
  TempError,     // a DNS failure: try the whole domain again later
};
struct Destination {
  DestinationStatus status = DestinationStatus::Unauthorized;
  MailtoUri uri;    // the URI to use: the original, or the consumer's override (same host)
  std::string why;  // for the output: "no v=DMARC1 record at x._report._dmarc.y", ...
};
// `policy_domain` normalized (lower-case A-labels). `discovery` caches the _dmarc walks
// that find both Organizational Domains; its Resolver answers the _report query too.
Destination verifyDestination(dmarc::Discovery& discovery, dns::Resolver& resolver,
                              const dns::Budget& budget, const std::string& policy_domain,
                              const MailtoUri& uri);

// Where a report mail goes. send() returns once the mail is handed over (or not);
// `destination` is the 0-based index of the rua URI (names files apart).
class Sender {
 public:
  virtual ~Sender();
  [[nodiscard]] virtual Result<void> send(const ReportMail& mail, std::size_t destination) = 0;
};

// The local MTA: `PATH -t -oi -f FROM` (FROM: the configured email, the envelope sender)
// started with posix_spawn (no shell), the mail written to
// its standard input, its exit status 0 = sent (anything else, a signal, or `timeout`
// without an exit: TempFail; the process is then killed and reaped). Recipients come from
// To: (-t); -oi: a line with a single "." does not end the mail.
class SendmailSender final : public Sender {
 public:
  explicit SendmailSender(std::string path,
                          std::chrono::seconds timeout = std::chrono::seconds(300));
  [[nodiscard]] Result<void> send(const ReportMail& mail, std::size_t destination) override;

 private:
  std::string path_;
  std::chrono::seconds timeout_;
};

// `--out DIR`: DIR/<filename> (the gzip) and DIR/<filename>.eml (the whole mail;
// <filename>.dN.eml for the N-th destination, N >= 2), each written to a temporary name
// and renamed, so a reader never sees half a file. The folder must exist.
class DirectorySender final : public Sender {
 public:
  explicit DirectorySender(std::string dir) : dir_(std::move(dir)) {}
  [[nodiscard]] Result<void> send(const ReportMail& mail, std::size_t destination) override;

 private:
  std::string dir_;
};

struct JobOptions {
  ReportMeta meta;  // org_name, email, extra_contact_info, generator (the rest is set per report)
  std::vector<std::string> exclude_domains;  // as config's: "x.example", ".x.example" (and below)
  std::uint64_t max_report_bytes = 10 * 1024 * 1024;  // gzip size; 0: no limit
  std::optional<Period> period;  // only this day; nullopt: every complete day before today
  int keep_days = 7;             // purge periods older than today - keep_days; < 0: never
  std::int64_t now = 0;          // seconds since the epoch (the clock, or --now)
  // URIs used per domain, in rua order. Why 2: a DNS record must not turn one report into
  // mail (and _report._dmarc queries) to a list of strangers (RFC 9990 §Security: reports
  // as an attack); two cover the usual "own mailbox + one report processor".
  std::size_t max_uris = 2;
  bool dry_run = false;  // print what would be sent; neither claim nor send nor purge
  std::chrono::milliseconds dns_budget{10000};  // all DNS of one domain
};

struct JobSummary {
  std::size_t reports = 0;         // report documents sent (to every destination)
  std::size_t mails = 0;           // mails handed over (reports x destinations)
  std::size_t taken = 0;           // domains another run had claimed, or already sent
  std::size_t excluded = 0;        // domains in exclude_domains
  std::size_t no_rua = 0;          // domains without a DMARC record or without rua
  std::size_t no_destination = 0;  // domains whose every URI was skipped
  std::size_t unauthorized = 0;    // external URIs not authorized
  std::size_t non_mailto = 0;      // URIs of another scheme, or malformed
  std::size_t over_uri_limit = 0;  // valid URIs beyond max_uris
  std::size_t too_large = 0;       // rows whose report alone exceeds the size limit
  std::size_t deferred = 0;        // domains released after a temporary DNS failure
  std::size_t failures = 0;        // domains released after a failed build or send
  std::int64_t purged = 0;         // aggregation rows purged
  bool store_error = false;        // the store failed: the job stopped

  // Something is left for a later run (EX_TEMPFAIL).
  bool leftForLater() const noexcept { return deferred > 0 || failures > 0; }
  // One line: "sent 2 report(s) in 3 mail(s); skipped: ...".
  std::string line() const;
};

// Runs the job; progress lines (one per report sent, or would-be sent with dry_run, and
// one per skip or failure) go to `out`, store errors to `err`. `sender` may be null only
// with dry_run.
JobSummary runReportJob(Store& store, dns::Resolver& resolver, Sender* sender,
                        const JobOptions& options, std::ostream& out, std::ostream& err);


}  // namespace mw::report
