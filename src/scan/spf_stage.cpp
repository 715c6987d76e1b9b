// scan/spf_stage.cpp — SPF results into Findings: Authentication-Results entries, scores,
// the optional reject on fail, and temperror as spf.temperror says (the failure policy
// by default, or a score).
#include <optional>
#include <string>

#include "builtin_stages.h"
#include "mailwarden/dns/idna.h"
#include "mailwarden/obs/log.h"
#include "mailwarden/scan/snapshot.h"
#include "mailwarden/scan/symbols.h"
#include "mailwarden/spf/spf.h"

namespace mw::scan {
namespace {

class SpfStage final : public Stage {
 public:
  SpfStage(const Snapshot& snapshot, dns::Session& dns)
      : dns_(dns), options_(snapshot.config().spf) {
    spf_options_.receiving_host = snapshot.policy().authserv_id;
    spf_options_.clock = snapshot.clockPtr();
  }

  // A check still running (the message was aborted) uses our members: wait for it. It
  // ends by the message's DNS budget at the latest.
  ~SpfStage() override {
    for (const TaskHandle& t : {main_task_, helo_task_}) {
      if (t.valid()) {
        static_cast<void>(t.error());  // waits; never throws
      }
    }
  }

  std::string_view name() const noexcept override { return "spf"; }

  // MAIL FROM: the MAIL FROM (or, for the null sender, HELO) identity and the HELO
  // identity are checked at once, each in a worker thread, while the message streams
  // on; end of message collects them. An exception in a check (bad_alloc) is kept by
  // its TaskHandle and rethrown at end of message: Scan logs and counts it and the
  // failure policy applies.
  Flow envelope(const message::Envelope& env, verdict::Findings&) override {
    // RFC 7208 §2.1/§2.4: SPF authorizes a host by its IP address; without one (local
    // submission, `check` without --client-ip) there is nothing to check.
    if (env.client_ip.empty()) {
      return Flow::Done;
    }
    env_ = &env;
    client_ip_ = env.client_ip;
    helo_ = env.helo;
    mail_from_ = env.mail_from;
    null_sender_ = env.mail_from.empty();
    main_task_ = checkWorkers().submit([this] {
      spf::Checker checker(dns_, spf_options_);
      main_ = checker.checkMailFrom(client_ip_, helo_, mail_from_, dns_.budget());
    });
    if (options_.check_helo && !null_sender_ && !helo_.empty()) {
      helo_task_ = checkWorkers().submit([this] {
        spf::Checker checker(dns_, spf_options_);
        helo_result_ = checker.checkHelo(client_ip_, helo_, dns_.budget());
      });
    }
    return Flow::Done;
  }

  void endOfMessage(verdict::Findings& findings) override {
    for (const TaskHandle& t : {main_task_, helo_task_}) {
      if (t.valid()) {
        t.wait();  // rethrows what the check threw
      }
    }
    if (!main_) {
      return;
    }
    // RFC 8601 §2.7.2: smtp.mailfrom for MAIL FROM; for the null sender the identity
    // checked is the HELO name (RFC 7208 §2.4), reported as smtp.helo.
    record(findings, *main_, null_sender_ ? "smtp.helo" : "smtp.mailfrom",
           null_sender_ ? helo_ : mail_from_);
    // The first SPF result is the one composites and DMARC read (scan/symbols.h).
    publish(findings, spfSymbols(code(main_->result)));
    policy(findings, *main_);
    if (helo_result_ && helo_result_->result != spf::Result::None) {
      record(findings, *helo_result_, "smtp.helo", helo_);
    }
  }

 private:
  // RFC 8601 §2.7.2: every RFC 7208 §2.6 result is an A-R token of the same name.
  static verdict::Code code(spf::Result r) noexcept {
    switch (r) {
      case spf::Result::None: return verdict::Code::None;
      case spf::Result::Neutral: return verdict::Code::Neutral;
      case spf::Result::Pass: return verdict::Code::Pass;
      case spf::Result::Fail: return verdict::Code::Fail;
      case spf::Result::SoftFail: return verdict::Code::SoftFail;
      case spf::Result::TempError: return verdict::Code::TempError;
      case spf::Result::PermError: return verdict::Code::PermError;
    }
    MW_UNREACHABLE("spf::Result out of range");
  }

  // RFC 8601 property values are ASCII: an identity with a U-label domain is written with
  // the A-label domain SPF checked (RFC 8616), "user@xn--bcher-kva.example"; a UTF-8
  // local-part, or an IDN that did not convert, stays as is and verdict/ %XX-escapes it.
  static std::string asciiIdentity(const std::string& identity, const spf::CheckResult& r) {
    if (!dns::hasNonAscii(identity) || dns::hasNonAscii(r.domain)) {
      return identity;
    }
    const std::size_t at = identity.rfind('@');
    return at == std::string::npos ? r.domain : identity.substr(0, at + 1) + r.domain;
  }

  static void record(verdict::Findings& findings, const spf::CheckResult& r,
                     const char* property, const std::string& identity) {
    verdict::AuthResult a;
    a.method = verdict::Method::Spf;
    a.result = code(r.result);
    a.reason = r.problem;
    a.properties.emplace_back(property, asciiIdentity(identity, r));
    a.domain = r.domain;
    a.explanation = r.explanation;
    findings.auth.push_back(std::move(a));
  }

  void policy(verdict::Findings& findings, const spf::CheckResult& r) const {
    const message::Envelope& env = *env_;  // Scan's: the queue id is known by now
    switch (r.result) {
      case spf::Result::Fail:
        findings.contributions.push_back({"SPF_FAIL", options_.fail_score});
        // bypass `score`: the failure counts, the reject is not applied to our own users.
        if (options_.reject_on_fail &&
            !(findings.bypass && findings.bypass->unenforced(verdict::BypassCheck::Spf))) {
          findings.forced = verdict::mostSevere(findings.forced, verdict::Action::Reject);
          std::string text = "SPF check failed for " + r.domain;
          if (!r.explanation.empty()) {
            text += ": " + r.explanation;
          }
          // RFC 7372 §3.2: 5.7.23 "SPF validation failed".
          findings.forced_reply = verdict::SmtpReply{550, "5.7.23", text};
        }
        return;
      case spf::Result::SoftFail:
        findings.contributions.push_back({"SPF_SOFTFAIL", options_.softfail_score});
        return;
      case spf::Result::PermError:
        findings.contributions.push_back({"SPF_PERMERROR", options_.permerror_score});
        return;
      case spf::Result::TempError:
        // RFC 7208 §2.6.6: a transient error; spf.temperror decides: the failure policy
        // (tempfail, the default) or a score. At MAIL FROM Postfix may not have assigned
        // a queue id yet.
        obs::log(obs::Level::Warn,
                 env.queue_id.empty() ? std::string_view("NOQUEUE") : std::string_view(env.queue_id), "spf",
                 "temperror for {}: {}", r.domain,
                 r.problem);
        onTemperror(findings, options_.temperror, "SPF_TEMPERROR", "SPF temperror for " + r.domain);
        return;
      case spf::Result::Pass:
      case spf::Result::Neutral:
      case spf::Result::None:
        return;
    }
  }

  dns::Session& dns_;
  config::SpfOptions options_;
  spf::Options spf_options_;
  const message::Envelope* env_ = nullptr;
  std::string client_ip_;
  std::string helo_;
  std::string mail_from_;
  bool null_sender_ = false;
  TaskHandle main_task_;
  TaskHandle helo_task_;
  std::optional<spf::CheckResult> main_;         // written by its task, read after wait()
  std::optional<spf::CheckResult> helo_result_;  // likewise
};

}  // namespace

StagePtr makeSpfStage(const Snapshot& snapshot, dns::Session& dns) {
  return std::make_unique<SpfStage>(snapshot, dns);
}

}  // namespace mw::scan
