#include "mailwarden/report/report_job.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <thread>

#include "mailwarden/base/fd.h"
#include "mailwarden/dmarc/record.h"

extern char** environ;

namespace mw::report {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string errnoText(int e) { return std::strerror(e); }

// Writes all of `data` to `fd`, or fails; `what` names the file in the error.
Result<void> writeAll(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail(Errc::TempFail, what + ": " + errnoText(errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

// DIR/NAME through DIR/.NAME.tmp and rename(2): atomic for readers of DIR.
Result<void> writeFileAtomic(const std::string& dir, const std::string& name,
                             std::string_view data) {
  const std::string tmp = dir + "/." + name + ".tmp";
  const std::string final_path = dir + "/" + name;
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
  if (fd.get() < 0) {
    return fail(Errc::TempFail, tmp + ": " + errnoText(errno));
  }
  if (Result<void> w = writeAll(fd.get(), data, tmp); !w) {
    ::unlink(tmp.c_str());
    return w;
  }
  if (::fsync(fd.get()) != 0 || ::rename(tmp.c_str(), final_path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return fail(Errc::TempFail, final_path + ": " + errnoText(e));
  }
  return {};
}

// Blocks SIGPIPE on this thread while we write to a child that may have exited, and
// takes back any SIGPIPE that write raised, so a dead MTA is an EPIPE, not our death
// (and the process-wide disposition stays as it was).
class SigpipeBlocked {
 public:
  SigpipeBlocked() noexcept {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &s, &old_);
  }
  ~SigpipeBlocked() {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    const timespec zero{0, 0};
    while (sigtimedwait(&s, nullptr, &zero) > 0) {
      // a bounded loop: each pass takes one pending signal away
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t old_;
};

int remainingMs(SteadyClock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 60000));
}

// The ids of the dmarc parser's "ignored" notes about rua (record.cpp): URIs it did not
// keep, i.e. not mailto: (or malformed), which RFC 9990 "Report Delivery" says to skip.
std::size_t ignoredRuaUris(const dmarc::Record& r) {
  std::size_t n = 0;
  for (const std::string& note : r.ignored) {
    if (note.starts_with("rua URI")) {
      ++n;
    }
  }
  return n;
}

std::string dayText(Period p) { return periodDate(p); }

}  // namespace

Sender::~Sender() = default;


Destination verifyDestination(dmarc::Discovery& discovery, dns::Resolver& resolver,
                              const dns::Budget& budget, const std::string& policy_domain,
                              const MailtoUri& uri) {
  Destination d;
  d.uri = uri;
  const dmarc::OrgDomain ours = discovery.organizationalDomain(policy_domain);
  const dmarc::OrgDomain theirs = discovery.organizationalDomain(uri.host);
  if (ours.temperror || theirs.temperror) {
    d.status = DestinationStatus::TempError;
    d.why = "organizational domain: " + (ours.temperror ? ours.problem : theirs.problem);
    return d;
  }
  if (ours.domain == theirs.domain) {
    d.status = DestinationStatus::Authorized;  // not external: no verification needed
    return d;
  }
  // Steps 1-4: <policy-domain>._report._dmarc.<destination host>, within DNS limits.
  const std::string name = policy_domain + "._report._dmarc." + uri.host;
  if (name.size() > 253) {
    d.status = DestinationStatus::Unauthorized;
    d.why = "verification name longer than 253 octets";
    return d;
  }
  const dns::Answer a = resolver.query(name, dns::Type::TXT, budget);
  switch (dns::classify(a)) {
    case dns::Outcome::Temporary:
      d.status = DestinationStatus::TempError;
      d.why = name + ": " + (a.why.empty() ? std::string(dns::toString(a.status)) : a.why);
      return d;
    case dns::Outcome::Absent:
    case dns::Outcome::BadName:
      d.status = DestinationStatus::Unauthorized;
      d.why = "no v=DMARC1 record at " + name;
      return d;
    case dns::Outcome::Found:
      break;
  }
  // Steps 6-9: any record starting with v=DMARC1 authorizes; its rua, if any, replaces
  // the URI but MUST keep the destination host (else neither may be used).
  for (const std::string& txt : a.txt) {
    if (!dmarc::isDmarcRecord(txt)) {
      continue;
    }
    const dmarc::ParseResult parsed = dmarc::parseRecord(txt);
    if (!parsed.record.rua.empty()) {
      const std::optional<MailtoUri> over = parseMailto(parsed.record.rua.front());
      if (!over || over->host != uri.host) {
        d.status = DestinationStatus::Unauthorized;
        d.why = name + ": override rua to another host refused";
        return d;
      }
      d.uri = *over;
    }
    d.status = DestinationStatus::Authorized;
    return d;
  }
  d.status = DestinationStatus::Unauthorized;
  d.why = "no v=DMARC1 record at " + name;
  return d;
}

SendmailSender::SendmailSender(std::string path, std::chrono::seconds timeout)
    : path_(std::move(path)), timeout_(timeout) {}

Result<void> SendmailSender::send(const ReportMail& mail, std::size_t /*destination*/) {
  const std::string text = composeMail(mail);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return fail(Errc::TempFail, "pipe: " + errnoText(errno));
  }
  Fd read_end(fds[0]);
  Fd write_end(fds[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, read_end.get(), STDIN_FILENO);  // clears CLOEXEC
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The child starts with no signal blocked and SIGPIPE at its default, whatever ours are.
  sigset_t none;
  sigemptyset(&none);
  sigset_t dflt;
  sigemptyset(&dflt);
  sigaddset(&dflt, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &dflt);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string arg0 = path_;
  std::string arg_t = "-t";
  std::string arg_oi = "-oi";
  // -f: the envelope sender is the configured address too (RFC 9990 "Email": report mail
  // must pass DMARC, and its SPF identity is the MAIL FROM, which would otherwise be the
  // local user at the host's name). A separate argument: -f always consumes the next one.
  std::string arg_f = "-f";
  std::string from = mail.from;
  char* argv[] = {arg0.data(), arg_t.data(), arg_oi.data(), arg_f.data(), from.data(), nullptr};
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, path_.c_str(), &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return fail(Errc::TempFail, path_ + ": cannot start: " + errnoText(rc));
  }
  read_end = Fd();
  const SteadyClock::time_point deadline = SteadyClock::now() + timeout_;
  Result<void> wrote;
  {
    SigpipeBlocked guard;
    ::fcntl(write_end.get(), F_SETFL, O_NONBLOCK);
    std::string_view rest = text;
    // Bounded by the deadline: each pass waits at most until it, then writes or fails.
    while (!rest.empty()) {
      pollfd p{write_end.get(), POLLOUT, 0};
      const int ready = ::poll(&p, 1, remainingMs(deadline));
      if (ready < 0 && errno == EINTR) {
        continue;
      }
      if (ready <= 0) {
        wrote = fail(Errc::TempFail, path_ + ": " + (ready == 0 ? "timed out reading the mail"
                                                              : errnoText(errno)));
        break;
      }
      const ssize_t n = ::write(write_end.get(), rest.data(), rest.size());
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) {
          continue;
        }
        wrote = fail(Errc::TempFail, path_ + ": " + errnoText(errno));
        break;
      }
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    write_end = Fd();  // end of input: sendmail delivers now
  }
  // Wait for the exit, bounded by the same deadline; then kill and reap.
  int status = 0;
  bool exited = false;
  while (true) {
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      exited = true;
      break;
    }
    if (w < 0 && errno != EINTR) {
      return fail(Errc::TempFail, path_ + ": waitpid: " + errnoText(errno));
    }
    if (SteadyClock::now() >= deadline) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return fail(Errc::TempFail, path_ + ": no exit within " + std::to_string(timeout_.count()) +
                                    " s (killed)");
  }
  if (!wrote) {
    return wrote;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    return {};
  }
  if (WIFEXITED(status)) {
    return fail(Errc::TempFail, path_ + ": exit status " + std::to_string(WEXITSTATUS(status)));
  }
  return fail(Errc::TempFail, path_ + ": killed by signal " + std::to_string(WTERMSIG(status)));
}

Result<void> DirectorySender::send(const ReportMail& mail, std::size_t destination) {
  const std::string eml =
      destination == 0 ? mail.filename + ".eml"
                       : mail.filename + ".d" + std::to_string(destination + 1) + ".eml";
  if (Result<void> r = writeFileAtomic(dir_, mail.filename, mail.gzip); !r) {
    return r;
  }
  return writeFileAtomic(dir_, eml, composeMail(mail));
}

std::string JobSummary::line() const {
  std::ostringstream s;
  s << "sent " << reports << " report(s) in " << mails << " mail(s); skipped: " << taken
    << " domain(s) taken or sent already, " << excluded << " excluded, " << no_rua
    << " without rua, " << no_destination << " without a usable destination; URIs: "
    << unauthorized << " unauthorized, " << non_mailto << " not mailto, " << over_uri_limit
    << " over the limit; " << too_large << " row(s) too large; left for later: " << deferred
    << " (DNS), " << failures << " failed; " << purged << " row(s) purged";
  if (store_error) {
    s << "; stopped on a store error";
  }
  return s.str();
}

namespace {

// What happened to one (period, domain).
enum class DomainEnd { Sent, Nothing, Deferred, Failed };

class Job {
 public:
  Job(Store& store, dns::Resolver& resolver, Sender* sender, const JobOptions& o,
      std::ostream& out, std::ostream& err)
      : store_(store), resolver_(resolver), sender_(sender), o_(o), out_(out), err_(err),
        submitter_(submitterDomain(o.meta.email)) {}

  JobSummary run();

 private:
  // Reports (period, domain) after a successful claim (or without one: dry run).
  DomainEnd report(Period period, const std::string& domain);
  bool finish(Period period, const std::string& domain, DomainEnd end);

  Store& store_;
  dns::Resolver& resolver_;
  Sender* sender_;
  const JobOptions& o_;
  std::ostream& out_;
  std::ostream& err_;
  std::string submitter_;
  JobSummary sum_;
};

JobSummary Job::run() {
  const Period today = Period::of(std::chrono::sys_seconds(std::chrono::seconds(o_.now)));
  std::vector<Period> periods;
  if (o_.period) {
    periods.push_back(*o_.period);
  } else {
    Result<std::vector<Period>> all = store_.periods();
    if (!all) {
      err_ << "dmarc-report: store: " << all.error().describe() << "\n";
      sum_.store_error = true;
      return sum_;
    }
    for (const Period& p : *all) {
      if (p.day < today.day) {  // only complete UTC days (RFC 9990 §2.1: daily reports)
        periods.push_back(p);
      }
    }
  }
  for (const Period& period : periods) {
    Result<std::vector<std::string>> domains = store_.domains(period);
    if (!domains) {
      err_ << "dmarc-report: store: " << domains.error().describe() << "\n";
      sum_.store_error = true;
      return sum_;
    }
    for (const std::string& domain : *domains) {
      if (excludedDomain(o_.exclude_domains, domain)) {
        ++sum_.excluded;
        continue;
      }
      if (!o_.dry_run) {
        Result<bool> mine = store_.claim(domain, period, std::chrono::sys_seconds(
                                                             std::chrono::seconds(o_.now)));
        if (!mine) {
          err_ << "dmarc-report: store: " << mine.error().describe() << "\n";
          sum_.store_error = true;
          return sum_;
        }
        if (!*mine) {
          ++sum_.taken;
          continue;
        }
      }
      const DomainEnd end = report(period, domain);
      if (!finish(period, domain, end)) {
        return sum_;
      }
    }
  }
  if (!o_.dry_run && o_.keep_days >= 0) {
    Result<std::int64_t> purged = store_.purge(Period{today.day - o_.keep_days});
    if (!purged) {
      err_ << "dmarc-report: store: purge: " << purged.error().describe() << "\n";
      sum_.store_error = true;
      return sum_;
    }
    sum_.purged = *purged;
  }
  return sum_;
}

bool Job::finish(Period period, const std::string& domain, DomainEnd end) {
  if (end == DomainEnd::Deferred) {
    ++sum_.deferred;
  } else if (end == DomainEnd::Failed) {
    ++sum_.failures;
  }
  if (o_.dry_run) {
    return true;
  }
  const bool keep = end == DomainEnd::Deferred || end == DomainEnd::Failed;
  const Result<void> r = keep ? store_.release(domain, period) : store_.markSent(domain, period);
  if (!r) {
    err_ << "dmarc-report: store: " << domain << " " << dayText(period) << ": "
         << r.error().describe() << "\n";
    sum_.store_error = true;
    return false;
  }
  return true;
}

DomainEnd Job::report(Period period, const std::string& domain) {
  const std::string where = domain + " " + dayText(period);
  Result<std::vector<Row>> rows = store_.rows(period, domain);
  if (!rows) {
    err_ << "dmarc-report: store: " << where << ": " << rows.error().describe() << "\n";
    return DomainEnd::Failed;
  }
  if (rows->empty()) {
    return DomainEnd::Nothing;
  }
  const dns::Budget budget(o_.dns_budget);
  dmarc::Discovery discovery(resolver_, budget);
  // The record as published now: where the domain owner wants reports today.
  const dmarc::RecordLookup& found = discovery.lookup(domain);
  if (found.status == dmarc::LookupStatus::TempError) {
    out_ << where << ": _dmarc." << domain << ": " << found.problem << " (left for later)\n";
    return DomainEnd::Deferred;
  }
  if (found.status != dmarc::LookupStatus::Found) {
    ++sum_.no_rua;
    out_ << where << ": no DMARC record: nothing to send\n";
    return DomainEnd::Nothing;
  }
  const dmarc::Record& record = found.record;
  const std::size_t ignored = ignoredRuaUris(record);
  sum_.non_mailto += ignored;
  std::vector<MailtoUri> candidates;
  for (const std::string& text : record.rua) {
    const std::optional<MailtoUri> uri = parseMailto(text);
    if (!uri) {
      ++sum_.non_mailto;
      out_ << where << ": rua " << text << ": not a usable mailto: URI (skipped)\n";
    } else if (candidates.size() >= o_.max_uris) {
      ++sum_.over_uri_limit;
      out_ << where << ": rua " << text << ": over the limit of " << o_.max_uris
           << " URIs (skipped)\n";
    } else {
      candidates.push_back(*uri);
    }
  }
  if (record.rua.empty() && ignored == 0) {
    ++sum_.no_rua;
    out_ << where << ": no rua: nothing to send\n";
    return DomainEnd::Nothing;
  }
  std::vector<MailtoUri> destinations;
  for (const MailtoUri& uri : candidates) {
    const Destination d = verifyDestination(discovery, resolver_, budget, domain, uri);
    if (d.status == DestinationStatus::TempError) {
      out_ << where << ": mailto:" << uri.address << ": " << d.why << " (left for later)\n";
      return DomainEnd::Deferred;
    }
    if (d.status == DestinationStatus::Unauthorized) {
      ++sum_.unauthorized;
      out_ << where << ": mailto:" << uri.address << ": unauthorized: " << d.why << "\n";
      continue;
    }
    destinations.push_back(d.uri);
  }
  if (destinations.empty()) {
    ++sum_.no_destination;
    out_ << where << ": no usable destination: nothing to send\n";
    return DomainEnd::Nothing;
  }
  // One split for every destination, at the smallest limit any of them has, so each
  // report (and its id) is the same wherever it goes.
  std::uint64_t limit = o_.max_report_bytes;
  for (const MailtoUri& d : destinations) {
    if (d.max_bytes != 0 && (limit == 0 || d.max_bytes < limit)) {
      limit = d.max_bytes;
    }
  }
  Result<BuildOutcome> built = buildReports(o_.meta, submitter_, domain, period, *rows, limit);
  if (!built) {
    err_ << "dmarc-report: " << where << ": " << built.error().describe() << "\n";
    return DomainEnd::Failed;
  }
  sum_.too_large += built->rows_too_large;
  if (built->rows_too_large > 0) {
    out_ << where << ": " << built->rows_too_large << " row(s) larger than " << limit
         << " bytes alone (skipped)\n";
  }
  std::size_t sent_reports = 0;
  std::size_t sent_mails = 0;
  for (const BuiltReport& b : built->reports) {
    for (std::size_t i = 0; i < destinations.size(); ++i) {
      ReportMail mail;
      mail.from = o_.meta.email;
      mail.to = destinations[i].address;
      mail.subject = b.names.subject;
      mail.message_id = messageIdFor(b.names.report_id, i);
      mail.date = o_.now;
      mail.filename = b.names.filename;
      mail.gzip = b.gzip;
      mail.summary = "DMARC aggregate report (RFC 9990) from " + o_.meta.org_name + "\n" +
                     "Policy domain: " + domain + "\n" + "Period (UTC): " + dayText(period) +
                     " (" + std::to_string(period.begin()) + " to " +
                     std::to_string(period.end()) + ")\n" + "Report-ID: " + b.names.report_id +
                     "\n" + "Records: " + std::to_string(b.rows) +
                     ", messages: " + std::to_string(b.messages) + "\n";
      if (o_.dry_run) {
        out_ << "would send " << where << " to mailto:" << mail.to << ": " << b.names.filename
             << ", report_id " << b.names.report_id << ", " << b.rows << " row(s), "
             << b.messages << " message(s), " << b.gzip.size() << " bytes\n";
        continue;
      }
      const Result<void> r = sender_->send(mail, i);
      if (!r) {
        out_ << where << ": mailto:" << mail.to << ": " << r.error().message
             << " (left for later)\n";
        return DomainEnd::Failed;
      }
      ++sent_mails;
      out_ << "sent " << where << " to mailto:" << mail.to << ": " << b.names.filename << ", "
           << b.rows << " row(s), " << b.gzip.size() << " bytes\n";
    }
    ++sent_reports;
  }
  if (o_.dry_run) {
    return DomainEnd::Nothing;
  }
  sum_.reports += sent_reports;
  sum_.mails += sent_mails;
  return built->reports.empty() ? DomainEnd::Nothing : DomainEnd::Sent;
}

}  // namespace

JobSummary runReportJob(Store& store, dns::Resolver& resolver, Sender* sender,
                        const JobOptions& options, std::ostream& out, std::ostream& err) {
  Job job(store, resolver, sender, options, out, err);
  return job.run();
}

}  // namespace mw::report
