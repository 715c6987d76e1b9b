#include "mailwarden/scan/scan.h"

#include <algorithm>

#include "mailwarden/base/ascii.h"
#include "mailwarden/obs/counters.h"
#include "mailwarden/obs/log.h"
#include "mailwarden/reputation/iprev.h"
#include "mailwarden/scan/message_log.h"

namespace mw::scan {

Scan::Scan(SnapshotConstSharedPtr snapshot, std::shared_ptr<const ClientLookups> client)
    : snapshot_(std::move(snapshot)), client_(std::move(client)), headers_(snapshot_->limits()) {}

std::optional<verdict::Bypass> bypassFor(const Snapshot& snapshot, std::string_view client_ip,
                                         std::string_view authenticated_user) {
  const config::Config& cfg = snapshot.config();
  const config::BypassOptions& o = cfg.bypass;
  verdict::Bypass b;
  if (const std::optional<std::size_t> i = net::firstContaining(o.networks, client_ip)) {
    b.reason = verdict::Bypass::Reason::TrustedNetwork;
    b.mode = verdict::Bypass::Mode::Skip;
    b.network = o.trusted_networks[*i];
  } else if (!authenticated_user.empty() && o.authenticated != config::AuthenticatedMode::Check) {
    b.reason = verdict::Bypass::Reason::Authenticated;
    b.mode = o.authenticated == config::AuthenticatedMode::Score ? verdict::Bypass::Mode::Score
                                                                  : verdict::Bypass::Mode::Skip;
  } else {
    return std::nullopt;
  }
  for (const verdict::BypassCheck c : o.skip) {
    bool runs = false;
    switch (c) {
      case verdict::BypassCheck::Spf: runs = cfg.spf.enabled; break;
      case verdict::BypassCheck::Iprev: runs = cfg.iprev.enabled; break;
      case verdict::BypassCheck::Lists: runs = snapshot.lists() != nullptr; break;
      case verdict::BypassCheck::Dmarc: runs = cfg.dmarc.enabled; break;
    }
    if (runs) {
      b.checks.push_back(c);
    }
  }
  return b;
}

std::shared_ptr<const ClientLookups> startClientLookups(SnapshotConstSharedPtr snapshot,
                                                        std::string_view client_ip) {
  const config::Config& cfg = snapshot->config();
  // A trusted network is known at connect: what it skips is never asked. (SMTP AUTH is
  // known only at MAIL FROM; an authenticated client's connect lookups are made, and
  // left unused when its bypass skips them.)
  const std::optional<verdict::Bypass> trusted = bypassFor(*snapshot, client_ip, "");
  const bool iprev = cfg.iprev.enabled && !(trusted && trusted->skips(verdict::BypassCheck::Iprev));
  const bool lists = snapshot->lists() != nullptr &&
                     !(trusted && trusted->skips(verdict::BypassCheck::Lists));
  const std::string ptr = reputation::reverseName(client_ip);
  if (ptr.empty() || (!iprev && !lists)) {
    return nullptr;
  }
  auto out = std::make_shared<ClientLookups>();
  out->dns = std::make_shared<dns::Session>(
      snapshot->resolverPtr(), dns::Budget(std::chrono::milliseconds(cfg.dns.budget_ms)));
  if (iprev) {
    out->dns->start(ptr, dns::Type::PTR);  // the name and type reputation::Iprev asks
  }
  if (lists) {
    // The Message's own handles go; the Session keeps the lookups for the messages.
    snapshot->lists()->start(*out->dns, out->dns->budget()).clientIp(client_ip);
  }
  out->snapshot = std::move(snapshot);
  return out;
}

void Scan::connect(std::string_view client_ip, std::string_view client_name) {
  envelope_.client_ip = std::string(client_ip);
  envelope_.client_name = std::string(client_name);
}

void Scan::helo(std::string_view name) { envelope_.helo = std::string(ascii::trim(name)); }

void Scan::queueId(std::string_view id) { envelope_.queue_id = std::string(id); }

void Scan::authenticated(std::string_view user) {
  envelope_.authenticated_user = message::sanitizeAuthUser(user);
}

void Scan::startStages() {
  if (started_) {
    return;
  }
  started_ = true;
  // One DNS budget per message (dns.budget_ms), shared by every lookup of every stage.
  dns_ = std::make_unique<dns::Session>(
      snapshot_->resolverPtr(),
      dns::Budget(std::chrono::milliseconds(snapshot_->config().dns.budget_ms)));
  // Our own users (bypass:): decided before any stage exists, so a skipped check never
  // starts a lookup. Connect-time lookups are adopted only when they are still wanted.
  findings_.bypass = bypassFor(*snapshot_, envelope_.client_ip, envelope_.authenticated_user);
  const bool skips_client_checks =
      findings_.bypass && findings_.bypass->skips(verdict::BypassCheck::Iprev) &&
      findings_.bypass->skips(verdict::BypassCheck::Lists);
  if (client_ && client_->snapshot == snapshot_ && !skips_client_checks) {
    dns_->adopt(*client_->dns);  // the lookups started at connect
  }
  if (!envelope_.authenticated_user.empty() && snapshot_->config().bypass.authenticated !=
                                                   config::AuthenticatedMode::Check) {
    // RFC 8601 §2.7.4: SMTP AUTH succeeded; smtp.auth is the identity it confirmed.
    // First in the A-R: it is why the rest of the field reads as it does.
    verdict::AuthResult a;
    a.method = verdict::Method::Auth;
    a.result = verdict::Code::Pass;
    a.properties.emplace_back("smtp.auth", envelope_.authenticated_user);
    findings_.auth.push_back(std::move(a));
  }
  stages_ = snapshot_->makeStages(*dns_, findings_.bypass);
  timings_.stages.clear();
  for (const StagePtr& st : stages_) {
    timings_.stages.push_back({st->name(), {}});
  }
  done_.assign(stages_.size(), false);
  failed_.assign(stages_.size(), false);
}

template <typename Hook>
void Scan::runHook(std::size_t i, const char* hook, Hook&& call) {
  // Wall time per stage (mailwarden_stage_duration_seconds). One clock read per hook:
  // a hook starts when the previous one of the same event ended (tick_; the event's
  // loop reads the clock once before the first), so the stages of an event share
  // reads (about 25 ns each; a 4 KB message has some 100 hooks).
  struct Charge {
    std::chrono::nanoseconds& into;
    std::chrono::steady_clock::time_point& tick;
    ~Charge() {
      const auto now = std::chrono::steady_clock::now();
      into += now - tick;
      tick = now;
    }
  } charge{timings_.stages[i].took, tick_};
  try {
    call(*stages_[i]);
  } catch (const std::exception& e) {
    stageFailed(i, hook, e.what());
  } catch (...) {
    stageFailed(i, hook, "unknown exception");
  }
}

void Scan::stageFailed(std::size_t i, const char* hook, const char* what) noexcept {
  done_[i] = true;
  failed_[i] = true;
  obs::counters().internal_errors.add();
  // obs::log never throws (a line it cannot format is replaced by a fixed one).
  obs::log(obs::Level::Error, envelope_.queue_id.empty() ? "NOQUEUE" : envelope_.queue_id,
           "scan", "stage {} failed in {}: {}", stages_[i]->name(), hook, what);
  try {
    if (!findings_.failure) {
      findings_.failure = "internal error in " + std::string(stages_[i]->name());
    }
  } catch (...) {
    // No memory for the reason: finish() sets a fixed one (failed_ remembers).
  }
}

void Scan::deliveredFailed(std::size_t i, const char* what) noexcept {
  obs::counters().internal_errors.add();
  obs::log(obs::Level::Error, envelope_.queue_id.empty() ? "NOQUEUE" : envelope_.queue_id,
           "scan", "stage {} failed after the decision, its edits left out: {}",
           stages_[i]->name(), what);
}

void Scan::mailFrom(std::string_view addr) {
  envelope_.mail_from = message::stripAngleBrackets(addr);
  startStages();
  tick_ = std::chrono::steady_clock::now();  // the first hook's start (runHook)
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    if (!done_[i]) {
      runHook(i, "envelope", [&](Stage& st) {
        done_[i] = st.envelope(envelope_, findings_) == Flow::Done;
      });
    }
  }
}

void Scan::rcpt(std::string_view addr) { envelope_.rcpts.push_back(message::stripAngleBrackets(addr)); }

void Scan::header(std::string_view name, std::string_view value) {
  startStages();
  const int occurrence = ++occurrences_[ascii::lower(name)];
  if (occurrence == 1 && ascii::iequals(name, "Message-ID")) {
    // The log line's msgid (the first field: RFC 5322 §3.6 allows one): bounded, its
    // folding white space (RFC 5322 §3.2.2) trimmed at both ends; message_log escapes
    // whatever else it holds.
    std::string_view id = value.substr(0, kMaxMessageId);
    const std::size_t first = id.find_first_not_of(" \t\r\n");
    id = first == std::string_view::npos ? std::string_view() : id.substr(first);
    id = id.substr(0, id.find_last_not_of(" \t\r\n") + 1);
    message_id_ = std::string(id);
  }
  const message::HeaderField* kept = headers_.add(name, value);
  // Over a limit the field is not kept, but the stages still see it once (stage.h).
  message::HeaderField transient;
  if (kept == nullptr) {
    transient = message::HeaderField{std::string(name), std::string(value)};
  }
  const message::HeaderField& field = kept != nullptr ? *kept : transient;
  tick_ = std::chrono::steady_clock::now();  // the first hook's start (runHook)
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    if (!done_[i]) {
      runHook(i, "header", [&](Stage& st) {
        done_[i] = st.header(field, occurrence, findings_) == Flow::Done;
      });
    }
  }
}

void Scan::endOfHeaders() {
  startStages();
  if (headers_ended_) {
    return;
  }
  headers_ended_ = true;
  tick_ = std::chrono::steady_clock::now();  // the first hook's start (runHook)
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    if (!done_[i]) {
      runHook(i, "endOfHeaders", [&](Stage& st) {
        done_[i] = st.endOfHeaders(envelope_, findings_) == Flow::Done;
      });
    }
  }
}

void Scan::body(std::string_view chunk) {
  if (!headers_ended_) {
    endOfHeaders();
  }
  body_bytes_ += chunk.size();
  tick_ = std::chrono::steady_clock::now();  // the first hook's start (runHook)
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    if (!done_[i]) {
      runHook(i, "body", [&](Stage& st) {
        done_[i] = st.body(chunk, findings_) == Flow::Done;
      });
    }
  }
}

void Scan::recordDmarcReport(const verdict::Verdict& v) noexcept {
  // RFC 9990 reports what receivers did with mail: a tempfailed message was not handled
  // yet (it comes again), and one the failure policy decided was not fully evaluated.
  // Our own users' mail (bypass) is not the domain owner's business. A rejected message
  // is recorded: disposition reject is what the report exists to tell.
  report::Recorder* recorder = snapshot_->reports();
  if (recorder == nullptr || !findings_.dmarc_report || findings_.bypass || v.failed ||
      v.action == verdict::Action::TempFail) {
    return;
  }
  const config::DmarcReportOptions& o = snapshot_->config().dmarc.reports;
  report::Record& r = *findings_.dmarc_report;
  if (report::excludedDomain(o.exclude_domains, r.policy.domain) ||
      report::excludedDomain(o.exclude_domains, r.header_from)) {
    return;
  }
  r.time = std::chrono::sys_seconds(std::chrono::seconds(snapshot_->clock().now()));
  recorder->record(r);  // queued: the counters move as the writer stores it (reportsFor)
}

verdict::Verdict Scan::finish() {
  if (!headers_ended_) {
    endOfHeaders();
  }
  if (finished_) {
    return verdict::failureVerdict(snapshot_->policy(), "message finished twice");
  }
  finished_ = true;
  tick_ = std::chrono::steady_clock::now();  // the first hook's start (runHook)
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    if (!failed_[i]) {
      runHook(i, "endOfMessage", [&](Stage& st) { st.endOfMessage(findings_); });
    }
  }
  tick_ = std::chrono::steady_clock::now();  // the first hook's start (runHook)
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    if (!failed_[i]) {
      runHook(i, "conclude", [&](Stage& st) { st.conclude(findings_); });
    }
  }
  if (!findings_.failure &&
      std::find(failed_.begin(), failed_.end(), true) != failed_.end()) {
    findings_.failure = "internal error";
  }
  findings_.defects.merge(headers_.defects());
  verdict::Verdict v = verdict::decide(snapshot_->policy(), findings_);
  // Edits that depend on the decision (the ARC seal, which records our A-R). Only for a
  // delivered, fully evaluated message: a rejected or deferred one gets no headers at
  // all, and we vouch for nothing we could not evaluate. An exception here does not
  // undo the decision: the stage left `v` as it was, and the message goes out unsealed.
  const bool delivers = v.action == verdict::Action::Accept || v.action == verdict::Action::Tag ||
                        v.action == verdict::Action::Quarantine;
  if (delivers && !v.failed) {
    for (std::size_t i = 0; i < stages_.size(); ++i) {
      if (failed_[i]) {
        continue;
      }
      try {
        stages_[i]->delivered(v);
      } catch (const std::exception& e) {
        deliveredFailed(i, e.what());
      } catch (...) {
        deliveredFailed(i, "unknown exception");
      }
    }
  }

  recordDmarcReport(v);

  timings_.total = std::chrono::steady_clock::now() - created_;
  recordMessage(v, findings_, timings_,
                std::find(failed_.begin(), failed_.end(), true) != failed_.end());
  // The one info line per message (STYLE 4.7; scan/message_log.h).
  logMessage({.envelope = envelope_,
              .findings = findings_,
              .verdict = v,
              .message_id = message_id_,
              .headers = headers_.fields().size(),
              .body_bytes = body_bytes_,
              .took = timings_.total,
              .bypass = v.bypass ? verdict::toString(v.bypass->reason) : std::string_view()},
             snapshot_->config().log.format);
  return v;
}

}  // namespace mw::scan
