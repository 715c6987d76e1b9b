// scan/dmarc_stage.cpp — DMARC (RFC 9989) over the SPF and DKIM results the earlier
// stages left in Findings::auth: one "dmarc" Authentication-Results entry, scores, the
// enforcement of `dmarc.mode: enforce`, and temperror as dmarc.temperror says (the
// failure policy by default, or a score).
//
// Runs last (Snapshot::makeStages): it reads the other stages' results at end of message.
// Author domain: dmarc::authorDomains (a strict RFC 5322 parser); several From fields or
// addresses never pass: each distinct domain (at most dmarc::kMaxAuthorDomains) is
// evaluated and the strictest failing policy is reported, otherwise permerror.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "builtin_stages.h"
#include "mailwarden/base/ascii.h"
#include "mailwarden/dmarc/dmarc.h"
#include "mailwarden/base/network.h"
#include "mailwarden/obs/log.h"
#include "mailwarden/report/record.h"
#include "mailwarden/scan/snapshot.h"
#include "mailwarden/scan/symbols.h"

namespace mw::scan {
namespace {

int severity(dmarc::Policy p) noexcept {
  switch (p) {
    case dmarc::Policy::None: return 0;
    case dmarc::Policy::Quarantine: return 1;
    case dmarc::Policy::Reject: return 2;
  }
  return 0;
}

// RFC 9989 §4.4: only a pass aligns, and a temperror might have been one; every other
// result is a failure to DMARC.
dmarc::IdentifierResult identifierResult(verdict::Code c) noexcept {
  switch (c) {
    case verdict::Code::None: return dmarc::IdentifierResult::None;
    case verdict::Code::Pass: return dmarc::IdentifierResult::Pass;
    case verdict::Code::TempError: return dmarc::IdentifierResult::TempError;
    case verdict::Code::Fail:
    case verdict::Code::SoftFail:
    case verdict::Code::Neutral:
    case verdict::Code::Policy:
    case verdict::Code::PermError: return dmarc::IdentifierResult::Fail;
  }
  MW_UNREACHABLE("verdict::Code out of range");
}

verdict::Code code(dmarc::Result r) noexcept {
  switch (r) {
    case dmarc::Result::None: return verdict::Code::None;
    case dmarc::Result::Pass: return verdict::Code::Pass;
    case dmarc::Result::Fail: return verdict::Code::Fail;
    case dmarc::Result::TempError: return verdict::Code::TempError;
    case dmarc::Result::PermError: return verdict::Code::PermError;
  }
  MW_UNREACHABLE("dmarc::Result out of range");
}

verdict::DmarcPolicy policy(dmarc::Policy p) noexcept {
  switch (p) {
    case dmarc::Policy::None: return verdict::DmarcPolicy::None;
    case dmarc::Policy::Quarantine: return verdict::DmarcPolicy::Quarantine;
    case dmarc::Policy::Reject: return verdict::DmarcPolicy::Reject;
  }
  MW_UNREACHABLE("dmarc::Policy out of range");
}

class DmarcStage final : public Stage {
 public:
  DmarcStage(const Snapshot& snapshot, dns::Session& dns)
      : dns_(dns), options_(snapshot.config().dmarc) {
    for (const std::string& n : options_.exception_networks) {
      if (std::optional<net::Network> net = net::parseNetwork(n)) {
        networks_.push_back(*net);  // config/ validated every entry
      }
    }
  }

  std::string_view name() const noexcept override { return "dmarc"; }

  Flow envelope(const message::Envelope& env, verdict::Findings&) override {
    client_ip_ = env.client_ip;
    queue_id_ = env.queue_id;
    return Flow::Continue;
  }

  Flow header(const message::HeaderField& field, int, verdict::Findings&) override {
    if (ascii::iequals(field.name, "From")) {
      // No catch here: an allocation failure is not an unparsable From (stage.h).
      if (from_.size() < kMaxFromFields) {
        from_.push_back(message::unfold(field.value));
        prefetch(from_.back());
      } else {
        from_.emplace_back();  // counted; "" does not parse, which is the truth of it
      }
    }
    return Flow::Continue;
  }

  Flow endOfHeaders(const message::Envelope& env, verdict::Findings&) override {
    queue_id_ = env.queue_id;
    // The envelope domains of the aggregate report (RFC 9990 identifiers); every
    // recipient is known by now.
    envelope_from_ = domainOf(env.mail_from);
    envelope_to_ = env.rcpts.empty() ? std::string() : domainOf(env.rcpts.front());
    return Flow::Continue;
  }

  void endOfMessage(verdict::Findings& findings) override {
    run(findings);  // an exception: Scan logs and counts it, the failure policy applies
  }

 private:
  void run(verdict::Findings& findings) {
    // As for SPF: without a client address (local submission, `check` without
    // --client-ip) the message did not arrive from another ADMD; nothing to evaluate.
    if (client_ip_.empty()) {
      return;
    }
    dmarc::AuthIdentifier spf;
    std::vector<dmarc::AuthIdentifier> dkim;
    collect(findings, spf, dkim);

    const dmarc::Authors authors = dmarc::authorDomains(from_);
    dmarc::Discovery discovery(dns_, dns_.budget());
    std::optional<dmarc::Evaluation> e;
    std::string prefix;  // says why the evaluation is about one of several authors
    if (authors.single()) {
      e = dmarc::evaluate(discovery, authors.domains.front(), spf, dkim);
    } else if (authors.kind == dmarc::Authors::Kind::Several &&
               authors.domains.size() <= dmarc::kMaxAuthorDomains) {
      e = strictest(discovery, authors.domains, spf, dkim);
      prefix = authors.problem + "; ";
    }

    verdict::AuthResult a;
    a.method = verdict::Method::Dmarc;
    if (!e) {
      // No single author domain and nothing stricter to report.
      a.result = authors.kind == dmarc::Authors::Kind::NoFrom ? verdict::Code::None
                                                               : verdict::Code::PermError;
      a.reason = authors.problem;
      publish(findings, dmarcSymbols(a.result, std::nullopt));
      findings.auth.push_back(std::move(a));
      // A message without From has nothing to claim; one with a broken or ambiguous
      // From may be hiding its author (CVE-2019-16378): that scores.
      if (authors.kind != dmarc::Authors::Kind::NoFrom && !excepted(std::nullopt)) {
        findings.contributions.push_back({"DMARC_BAD_FROM", options_.bad_from_score});
      }
      return;
    }
    a.result = code(e->result);
    a.domain = e->from_domain;
    a.properties.emplace_back("header.from", e->from_domain);
    if (e->record && e->policy_decided) {
      a.policy = policy(e->applied);
    }
    a.reason = prefix + dmarc::summary(*e);
    act(findings, *e, a, discovery, authors.single());
    if (e->record && (e->result == dmarc::Result::Pass || e->result == dmarc::Result::Fail)) {
      findings.dmarc_report = reportRecord(findings, *e, a, discovery);
    }
    publish(findings, dmarcSymbols(a.result, a.policy));
    findings.auth.push_back(std::move(a));
  }

  // SPF: the first Spf result (MAIL FROM, or HELO for the null sender); DKIM: every
  // Dkim result with its d= (the `domain` field, or header.d).
  static void collect(const verdict::Findings& findings, dmarc::AuthIdentifier& spf,
                      std::vector<dmarc::AuthIdentifier>& dkim) {
    bool have_spf = false;
    for (const verdict::AuthResult& r : findings.auth) {
      if (r.method == verdict::Method::Spf && !have_spf) {
        have_spf = true;
        spf = {identifierResult(r.result), r.domain};
      } else if (r.method == verdict::Method::Dkim) {
        std::string d = r.domain;
        if (d.empty()) {
          for (const auto& [k, v] : r.properties) {
            if (k == "header.d") {
              d = v;
            }
          }
        }
        dkim.push_back({identifierResult(r.result), d});
      }
    }
  }

  // Several author domains: a temperror anywhere wins (the answer is not final); else
  // the failing evaluation with the strictest policy; a message whose authors all pass
  // is still not a pass (permerror).
  static std::optional<dmarc::Evaluation> strictest(dmarc::Discovery& d,
                                                    const std::vector<std::string>& domains,
                                                    const dmarc::AuthIdentifier& spf,
                                                    const std::vector<dmarc::AuthIdentifier>& dkim) {
    std::optional<dmarc::Evaluation> worst;
    for (const std::string& dom : domains) {
      dmarc::Evaluation e = dmarc::evaluate(d, dom, spf, dkim);
      if (e.result == dmarc::Result::TempError) {
        return e;
      }
      if (e.result == dmarc::Result::Fail &&
          (!worst || severity(e.disposition) > severity(worst->disposition))) {
        worst = std::move(e);
      }
    }
    return worst;
  }

  // Exceptions: the client network, or the author domain ("example.org", or
  // ".example.org" for it and its subdomains). Returns what matched, for the reason.
  std::optional<std::string> excepted(std::optional<std::string> domain) const {
    for (std::size_t i = 0; i < networks_.size(); ++i) {
      if (!client_ip_.empty() && net::contains(networks_[i], client_ip_)) {
        return "network " + options_.exception_networks[i];
      }
    }
    if (domain) {
      for (const std::string& x : options_.exception_domains) {
        const bool sub = !x.empty() && x.front() == '.';
        const std::string_view base = sub ? std::string_view(x).substr(1) : std::string_view(x);
        if (*domain == base ||
            (sub && domain->size() > x.size() &&
             domain->compare(domain->size() - x.size(), x.size(), x) == 0)) {
          return "domain " + x;
        }
      }
    }
    return std::nullopt;
  }

  void act(verdict::Findings& findings, const dmarc::Evaluation& e, verdict::AuthResult& a,
           dmarc::Discovery& discovery, bool single_author) {
    if (e.result == dmarc::Result::TempError) {
      // RFC 9989: the result is not final; dmarc.temperror decides: the failure policy
      // (tempfail, the default) or a score.
      obs::log(obs::Level::Warn, queue_id_.empty() ? "NOQUEUE" : queue_id_, "dmarc",
               "temperror for {}: {}", e.from_domain, e.problem);
      onTemperror(findings, options_.temperror, "DMARC_TEMPERROR",
                  "DMARC temperror for " + e.from_domain);
      return;
    }
    if (e.result == dmarc::Result::PermError) {
      return;  // an unusable record is the domain owner's problem, not the sender's
    }
    if (e.result != dmarc::Result::Fail) {
      return;
    }
    if (std::optional<std::string> x = excepted(e.from_domain)) {
      if (e.disposition != dmarc::Policy::None) {
        a.reason += "; not enforced: exception for " + *x;
        a.policy_override = verdict::PolicyOverride{verdict::PolicyOverride::Type::LocalPolicy,
                                                    "exception for " + *x};
      }
      return;  // an exception records the result, nothing more
    }
    switch (e.disposition) {
      case dmarc::Policy::None:
        findings.contributions.push_back({"DMARC_FAIL", options_.none_score});
        return;
      case dmarc::Policy::Quarantine:
        findings.contributions.push_back({"DMARC_QUARANTINE", options_.quarantine_score});
        break;
      case dmarc::Policy::Reject:
        findings.contributions.push_back({"DMARC_REJECT", options_.reject_score});
        break;
    }
    if (findings.bypass && findings.bypass->unenforced(verdict::BypassCheck::Dmarc)) {
      // bypass `score` (config.h): the result and its score stand, our own user's
      // message is not refused for it. RFC 9990's local_policy override.
      const std::string why = findings.bypass->reason == verdict::Bypass::Reason::Authenticated
                                  ? "authenticated client"
                                  : "trusted network";
      a.reason += "; not enforced: " + why;
      a.policy_override = verdict::PolicyOverride{verdict::PolicyOverride::Type::LocalPolicy, why};
      return;
    }
    if (options_.mode == config::DmarcMode::Monitor) {
      a.reason += "; not enforced: monitor mode";
      a.policy_override =
          verdict::PolicyOverride{verdict::PolicyOverride::Type::LocalPolicy, "monitor mode"};
      return;
    }
    std::string vouched;
    switch (single_author ? arcVouches(findings, e, discovery, vouched) : Vouch::No) {
      case Vouch::Yes:
        // RFC 8617 §7.2 / RFC 9989: a trusted intermediary's word keeps the published
        // policy from being applied; DMARC itself still failed and says so. Scored as
        // configured (above), nothing forced.
        a.reason += "; not enforced: " + vouched;
        a.properties.emplace_back("policy.override", "trusted_forwarder");
        a.policy_override =
            verdict::PolicyOverride{verdict::PolicyOverride::Type::TrustedForwarder, vouched};
        return;
      case Vouch::TempError:
        // The trusted sealer might have vouched, but its chain (or the trust lookup, or
        // an alignment walk) could not be read now: the result is not final, as for any
        // DMARC temperror (dmarc.temperror). With a score instead, the policy applies:
        // a temporary failure never allows an override.
        obs::log(obs::Level::Warn, queue_id_.empty() ? "NOQUEUE" : queue_id_, "dmarc",
                 "ARC temperror for a trusted sealer of {}: {}", e.from_domain, vouched);
        if (options_.temperror.tempfail) {
          onTemperror(findings, options_.temperror, "DMARC_TEMPERROR",
                      "ARC temperror for a trusted sealer of " + e.from_domain);
          return;
        }
        onTemperror(findings, options_.temperror, "DMARC_TEMPERROR", "");
        break;
      case Vouch::No:
        break;
    }
    const verdict::Action action = e.disposition == dmarc::Policy::Reject
                                       ? verdict::Action::Reject
                                       : options_.quarantine_action;
    findings.forced = verdict::mostSevere(findings.forced, action);
    if (action == verdict::Action::Reject) {
      verdict::SmtpReply reply = options_.reject_reply;
      reply.text += " (policy of " + e.from_domain + ": " + std::string(dmarc::toString(e.applied)) + ")";
      findings.forced_reply = std::move(reply);
    }
  }

  // "user@Example.ORG" -> "example.org"; "" for the null reverse-path or no '@'.
  static std::string domainOf(std::string_view address) {
    const std::size_t at = address.rfind('@');
    return at == std::string_view::npos ? std::string() : ascii::lower(address.substr(at + 1));
  }

  static report::Policy reportPolicy(dmarc::Policy p) noexcept {
    switch (p) {
      case dmarc::Policy::None: return report::Policy::None;
      case dmarc::Policy::Quarantine: return report::Policy::Quarantine;
      case dmarc::Policy::Reject: return report::Policy::Reject;
    }
    MW_UNREACHABLE("dmarc::Policy out of range");
  }

  static report::Alignment reportAlignment(dmarc::Alignment a) noexcept {
    return a == dmarc::Alignment::Strict ? report::Alignment::Strict : report::Alignment::Relaxed;
  }

  // RFC 8601 §2.7.1 / §2.7.2 results as RFC 9990's DKIMResultType / SPFResultType.
  static report::DkimResult dkimResult(verdict::Code c) noexcept {
    switch (c) {
      case verdict::Code::None: return report::DkimResult::None;
      case verdict::Code::Pass: return report::DkimResult::Pass;
      case verdict::Code::Fail:
      case verdict::Code::SoftFail: return report::DkimResult::Fail;
      case verdict::Code::Neutral: return report::DkimResult::Neutral;
      case verdict::Code::Policy: return report::DkimResult::Policy;
      case verdict::Code::TempError: return report::DkimResult::TempError;
      case verdict::Code::PermError: return report::DkimResult::PermError;
    }
    MW_UNREACHABLE("verdict::Code out of range");
  }
  static report::SpfResult spfResult(verdict::Code c) noexcept {
    switch (c) {
      case verdict::Code::None: return report::SpfResult::None;
      case verdict::Code::Pass: return report::SpfResult::Pass;
      case verdict::Code::Fail: return report::SpfResult::Fail;
      case verdict::Code::SoftFail: return report::SpfResult::SoftFail;
      case verdict::Code::Neutral: return report::SpfResult::Neutral;
      case verdict::Code::Policy: return report::SpfResult::Policy;
      case verdict::Code::TempError: return report::SpfResult::TempError;
      case verdict::Code::PermError: return report::SpfResult::PermError;
    }
    MW_UNREACHABLE("verdict::Code out of range");
  }

  static std::string property(const verdict::AuthResult& r, std::string_view name) {
    for (const auto& [k, v] : r.properties) {
      if (k == name) {
        return v;
      }
    }
    return {};
  }

  // The message as an RFC 9990 "record" (§2.1): the policy as published by the Policy
  // Domain, what we did (pass; else the applied policy, or none when overridden), why
  // (the override), and every DKIM signature and the SPF result DMARC looked at. Only
  // for a pass or fail under a policy record: other results have nothing to report.
  report::Record reportRecord(const verdict::Findings& findings, const dmarc::Evaluation& e,
                              const verdict::AuthResult& a, dmarc::Discovery& discovery) const {
    report::Record r;
    r.header_from = e.from_domain;
    r.source_ip = client_ip_;
    r.policy.domain = e.record_domain;
    r.policy.p = reportPolicy(e.record->p);
    if (e.record->sp) {
      r.policy.sp = reportPolicy(*e.record->sp);
    }
    if (e.record->np) {
      r.policy.np = reportPolicy(*e.record->np);
    }
    r.policy.adkim = reportAlignment(e.record->adkim);
    r.policy.aspf = reportAlignment(e.record->aspf);
    r.policy.testing = e.record->testing;
    r.policy.discovery = report::Discovery::TreeWalk;  // RFC 9989 §4.10
    if (a.policy_override) {
      r.overrides.push_back(
          {a.policy_override->type == verdict::PolicyOverride::Type::TrustedForwarder
               ? report::OverrideType::TrustedForwarder
               : report::OverrideType::LocalPolicy,
           a.policy_override->comment});
    }
    if (e.result == dmarc::Result::Fail && e.record->testing) {
      // t=y lowered the policy one level (RFC 9989 §4.7): RFC 9990's policy_test_mode.
      r.overrides.push_back({report::OverrideType::PolicyTestMode, "t=y"});
    }
    if (e.result == dmarc::Result::Pass) {
      r.disposition = report::Disposition::Pass;
    } else if (a.policy_override || e.disposition == dmarc::Policy::None) {
      r.disposition = report::Disposition::None;
    } else {
      // What act() forced: p=reject rejects; p=quarantine as dmarc.quarantine_action says
      // (tag is a quarantine by header, reject a refusal).
      const bool reject = e.disposition == dmarc::Policy::Reject ||
                          options_.quarantine_action == verdict::Action::Reject;
      r.disposition = reject ? report::Disposition::Reject : report::Disposition::Quarantine;
    }
    // policy_evaluated dkim/spf: did a pass of that method align (RFC 9989 §4.4)? The
    // walks are the ones the evaluation made (Discovery caches them).
    bool spf_seen = false;
    for (const verdict::AuthResult& x : findings.auth) {
      if (x.method == verdict::Method::Dkim) {
        std::string d = x.domain.empty() ? property(x, "header.d") : x.domain;
        d = ascii::lower(d);
        if (d.empty()) {
          continue;  // dkim=none (unsigned) or a signature without d=: no signature to name
        }
        if (x.result == verdict::Code::Pass && r.dkim_aligned == report::Aligned::Fail &&
            dmarc::aligned(discovery, e.from_domain, d, e.record->adkim) == dmarc::Aligned::Yes) {
          r.dkim_aligned = report::Aligned::Pass;
        }
        r.dkim.push_back({std::move(d), ascii::lower(property(x, "header.s")), dkimResult(x.result)});
      } else if (x.method == verdict::Method::Spf && !spf_seen) {
        spf_seen = true;  // the one DMARC used (collect())
        const std::string d = ascii::lower(x.domain);
        if (x.result == verdict::Code::Pass &&
            dmarc::aligned(discovery, e.from_domain, d, e.record->aspf) == dmarc::Aligned::Yes) {
          r.spf_aligned = report::Aligned::Pass;
        }
        r.spf = report::SpfAuth{d,
                                property(x, "smtp.helo").empty() ? report::SpfScope::MailFrom
                                                                 : report::SpfScope::Helo,
                                spfResult(x.result)};
      }
    }
    r.envelope_from = envelope_from_;
    r.envelope_to = envelope_to_;
    return r;
  }

  enum class Vouch { No, Yes, TempError };

  // The trusted-forwarder override (issue 18): the ARC chain validates (cv=pass, nothing
  // temporary), the sealer of the newest instance is trusted (arc.trusted_sealers or
  // trusted_zone), and that instance's ARC-Authentication-Results (RFC 8617 §4.1.1;
  // parsed as RFC 8601 by verdict::parseAuthenticationResults, untrusted and bounded)
  // record dmarc=pass with header.from = our author domain, or a dkim=pass header.d= /
  // spf=pass smtp.mailfrom= whose domain aligns with it under this record's adkim /
  // aspf (dmarc::aligned, RFC 9989 §4.4). Only the newest instance is read: it is the
  // one the trusted sealer wrote; older ones are the word of sealers we did not choose.
  // `why` is the comment (Yes) or what failed (TempError).
  static Vouch arcVouches(const verdict::Findings& findings, const dmarc::Evaluation& e,
                          dmarc::Discovery& discovery, std::string& why) {
    if (!findings.arc || findings.arc->sealers.empty() || !e.record) {
      return Vouch::No;
    }
    const verdict::ArcFindings& arc = *findings.arc;
    if (!arc.trusted && !arc.trust_temporary) {
      return Vouch::No;  // nobody we chose: nothing to ask
    }
    if (arc.result == verdict::Code::Fail && arc.temporary) {
      why = arc.reason;
      return Vouch::TempError;
    }
    if (arc.result != verdict::Code::Pass) {
      return Vouch::No;
    }
    const std::string sealer = "as[" + std::to_string(arc.instances) + "].d=" + arc.sealers.back();
    if (arc.trust_temporary) {
      why = "trust lookup for " + sealer + " failed";
      return Vouch::TempError;
    }
    // "i=N; authserv-id; ..." (arc::Verifier checked the "i=N;" prefix).
    const std::size_t semi = arc.newest_results.find(';');
    if (semi == std::string::npos) {
      return Vouch::No;
    }
    const std::optional<verdict::ParsedAuthenticationResults> aar =
        verdict::parseAuthenticationResults(std::string_view(arc.newest_results).substr(semi + 1));
    if (!aar) {
      return Vouch::No;
    }
    const auto prop = [](const verdict::ParsedResult& r, std::string_view name) -> std::string {
      for (const auto& [k, v] : r.properties) {
        if (k == name) {
          return v;
        }
      }
      return {};
    };
    // The sealer's DMARC pass for our author domain says the most; then any aligned
    // DKIM or SPF pass it saw.
    for (const verdict::ParsedResult& r : aar->results) {
      if (r.method == "dmarc" && r.result == "pass") {
        const std::optional<std::string> from = dmarc::normalizeDomain(prop(r, "header.from"));
        if (from && *from == e.from_domain) {
          why = "trusted forwarder arc=pass " + sealer + " saw DMARC pass for " + e.from_domain;
          return Vouch::Yes;
        }
      }
    }
    bool temporary = false;
    for (const verdict::ParsedResult& r : aar->results) {
      if (r.result != "pass") {
        continue;
      }
      std::string what;
      std::string identifier;
      dmarc::Alignment mode = dmarc::Alignment::Relaxed;
      if (r.method == "dkim") {
        identifier = prop(r, "header.d");
        what = "an aligned DKIM pass, d=";
        mode = e.record->adkim;
      } else if (r.method == "spf") {
        identifier = prop(r, "smtp.mailfrom");
        identifier = identifier.substr(identifier.rfind('@') + 1);  // npos + 1 = 0
        what = "an aligned SPF pass, mail from ";
        mode = e.record->aspf;
      } else {
        continue;
      }
      const std::optional<std::string> d = dmarc::normalizeDomain(identifier);
      if (!d) {
        continue;
      }
      switch (dmarc::aligned(discovery, e.from_domain, *d, mode)) {
        case dmarc::Aligned::Yes:
          why = "trusted forwarder arc=pass " + sealer + " saw " + what + *d;
          return Vouch::Yes;
        case dmarc::Aligned::TempError: temporary = true; break;
        case dmarc::Aligned::No: break;
      }
    }
    if (temporary) {
      why = "alignment of " + sealer + "'s results could not be checked (DNS)";
      return Vouch::TempError;
    }
    return Vouch::No;
  }

  // DESIGN.md: the DMARC record is asked as soon as From is seen. The author domains of
  // each From field (at most kMaxAuthorDomains in all) start their tree walk now;
  // evaluate() at end of message joins those lookups through the Session.
  void prefetch(const std::string& from) {
    if (client_ip_.empty()) {
      return;  // run() evaluates nothing without a client address
    }
    for (const std::string& d : dmarc::authorDomains({from}).domains) {
      if (prefetched_ >= dmarc::kMaxAuthorDomains) {
        return;
      }
      ++prefetched_;
      dmarc::startTreeWalk(dns_, dns_.budget(), d);
    }
  }

  dns::Session& dns_;
  config::DmarcOptions options_;
  std::size_t prefetched_ = 0;  // author domains whose walk was started
  std::vector<net::Network> networks_;
  std::vector<std::string> from_;
  std::string client_ip_;
  std::string queue_id_;
  std::string envelope_from_;  // RFC5321.MailFrom domain, lower-case; "" for <>
  std::string envelope_to_;    // the first recipient's domain, lower-case
};

}  // namespace

StagePtr makeDmarcStage(const Snapshot& snapshot, dns::Session& dns) {
  return std::make_unique<DmarcStage>(snapshot, dns);
}

}  // namespace mw::scan
