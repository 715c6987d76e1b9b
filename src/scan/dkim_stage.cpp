// scan/dkim_stage.cpp — DKIM (RFC 6376) for every message: the Verifier is fed each
// header field as received and each body chunk as it streams in, key lookups happen at
// end of headers, results are concluded at end of message.
//
// What goes into Findings, per evaluated signature and in signature order (the DMARC
// stage reads method Dkim, result and domain):
//   AuthResult{method Dkim, result (RFC 8601 code), reason (comment, not for pass),
//              properties header.d, header.i (if any), header.s, header.a, header.b
//              (the first 8 characters of b=, RFC 6008), domain = d= lower-case}.
// No signature: one AuthResult{Dkim, None}. temperror (a key lookup that failed) does
// what dkim.temperror says, like the scores (config dkim.*) once per message and only
// when no signature passed; by default nothing: whether it matters is DMARC's decision.
#include <string>
#include <utility>
#include <vector>

#include "builtin_stages.h"
#include "mailwarden/base/ascii.h"
#include "mailwarden/dkim/dkim.h"
#include "mailwarden/message/header.h"
#include "mailwarden/obs/counters.h"
#include "mailwarden/obs/log.h"
#include "mailwarden/scan/snapshot.h"
#include "mailwarden/scan/symbols.h"

namespace mw::scan {
namespace {

// RFC 8601 §2.7.1: each verification status is the A-R token of the same name.
verdict::Code code(dkim::Status s) noexcept {
  switch (s) {
    case dkim::Status::Pass: return verdict::Code::Pass;
    case dkim::Status::Fail: return verdict::Code::Fail;
    case dkim::Status::Neutral: return verdict::Code::Neutral;
    case dkim::Status::Policy: return verdict::Code::Policy;
    case dkim::Status::TempError: return verdict::Code::TempError;
    case dkim::Status::PermError: return verdict::Code::PermError;
  }
  MW_UNREACHABLE("dkim::Status out of range");
}

class DkimStage final : public Stage {
 public:
  DkimStage(const Snapshot& snapshot, dns::Session& dns)
      : options_(snapshot.config().dkim),
        limits_(snapshot.limits()),
        dns_(dns),
        verifier_(*snapshot.dkimLibrary(), dns, dns.budget(), snapshot.clock(),
                  dkim::VerifyOptions{options_.max_signatures, 300}) {}

  std::string_view name() const noexcept override { return "dkim"; }

  Flow header(const message::HeaderField& field, int, verdict::Findings&) override {
    // Scan hands every received field to the stages (stage.h); we bound our own work to
    // what message::Limits allows a header: fields beyond that are not seen, and a
    // signature covering them fails, which is the outcome such a header deserves.
    bytes_ += field.name.size() + field.value.size();
    if (++fields_ > limits_.max_headers || bytes_ > limits_.max_header_bytes) {
      truncated_ = true;
      return Flow::Continue;
    }
    verifier_.header(field.name, field.value);
    prefetchKey(field);
    return Flow::Continue;
  }

  Flow endOfHeaders(const message::Envelope& env, verdict::Findings&) override {
    queue_id_ = env.queue_id;
    verifier_.endOfHeaders();
    return Flow::Continue;
  }

  Flow body(std::string_view chunk, verdict::Findings&) override {
    verifier_.body(chunk);
    return Flow::Continue;
  }

  void endOfMessage(verdict::Findings& findings) override {
    // dkim::Verifier throws nothing but bad_alloc: Scan logs and counts it, and the
    // failure policy applies (stage.h).
    recordResults(findings);
  }

 private:
  void recordResults(verdict::Findings& findings) {
    const dkim::Outcome out = verifier_.finish();
    const std::string qid = queue_id_.empty() ? "NOQUEUE" : queue_id_;
    if (!out.error.empty()) {
      obs::log(obs::Level::Warn, qid, "dkim", "{}", out.error);
    }
    if (out.not_evaluated > 0) {
      obs::log(obs::Level::Info, qid, "dkim", "{} signature(s) not evaluated (max_signatures {})",
               out.not_evaluated, options_.max_signatures);
    }
    if (out.temporary) {
      // A callback failed inside mailwarden (dkim/verify.cpp): an internal error, counted
      // and decided by the failure policy like any other; the results say temperror.
      obs::counters().internal_errors.add();
      if (!findings.failure) {
        findings.failure = "dkim: " + out.error;
      }
    }
    if (out.signatures.empty()) {
      verdict::AuthResult a;
      a.method = verdict::Method::Dkim;
      if (out.error.empty()) {
        a.result = verdict::Code::None;  // RFC 8601 §2.7.1: the message was not signed
      } else {
        a.result = out.temporary ? verdict::Code::TempError : verdict::Code::PermError;
        a.reason = out.error;
      }
      publish(findings, dkimSymbols({a.result}));
      findings.auth.push_back(std::move(a));
      return;
    }
    bool passed = false;
    bool any_temperror = false;
    bool any_fail = false;
    bool any_policy = false;
    bool any_permerror = false;
    std::vector<verdict::Code> codes;
    for (const dkim::SignatureResult& s : out.signatures) {
      verdict::AuthResult a;
      a.method = verdict::Method::Dkim;
      a.result = code(s.result);
      a.reason = s.reason;
      if (truncated_ && s.result != dkim::Status::Pass) {
        a.reason += a.reason.empty() ? "" : "; ";
        a.reason += "header over the configured limits was not verified";
      }
      // RFC 8601 §2.7.1 / RFC 6008: header.d, header.i, header.s, header.a, header.b;
      // a tag an unparsable signature lacks is left out rather than written empty.
      for (const auto& [prop, value] : {std::pair<const char*, const std::string&>{"header.d", s.domain},
                                        {"header.i", s.identity},
                                        {"header.s", s.selector},
                                        {"header.a", s.algorithm},
                                        {"header.b", s.b_prefix}}) {
        if (!value.empty()) {
          a.properties.emplace_back(prop, value);
        }
      }
      a.domain = s.domain;
      codes.push_back(a.result);
      findings.auth.push_back(std::move(a));
      switch (s.result) {
        case dkim::Status::Pass: passed = true; break;
        case dkim::Status::Fail: any_fail = true; break;
        case dkim::Status::Policy: any_policy = true; break;
        case dkim::Status::PermError:
        case dkim::Status::Neutral: any_permerror = true; break;
        case dkim::Status::TempError:
          any_temperror = true;
          obs::log(obs::Level::Warn, qid, "dkim", "temperror for d={} s={}: {}", s.domain,
                   s.selector, s.reason);
          break;
      }
    }
    publish(findings, dkimSymbols(codes));
    if (passed) {
      return;
    }
    if (any_temperror) {
      onTemperror(findings, options_.temperror, "DKIM_TEMPERROR", "DKIM temperror");
    }
    if (any_fail) {
      findings.contributions.push_back({"DKIM_FAIL", options_.fail_score});
    } else if (any_policy) {
      findings.contributions.push_back({"DKIM_POLICY", options_.policy_score});
    } else if (any_permerror) {
      findings.contributions.push_back({"DKIM_PERMERROR", options_.permerror_score});
    }
  }

  // The key of a signature is asked as soon as its DKIM-Signature field arrives, not at
  // end of headers where libopendkim asks for it: the Verifier's lookup joins this one
  // (dns::Session), so the keys of every signature are in flight together and alongside
  // the other checks' lookups. Only for the signatures the Verifier evaluates (the first
  // max_signatures); a field that names no usable key starts nothing.
  void prefetchKey(const message::HeaderField& field) {
    if (!ascii::iequals(field.name, "DKIM-Signature") || signatures_ >= options_.max_signatures) {
      return;
    }
    ++signatures_;
    const std::string value = message::unfold(field.value);
    const std::optional<std::string> s = dkim::signatureTag(value, "s");
    const std::optional<std::string> d = dkim::signatureTag(value, "d");
    if (s && d) {
      if (const std::optional<std::string> name = dkim::keyRecordName(*s, *d)) {
        dns_.start(*name, dns::Type::TXT);
      }
    }
  }

  config::DkimOptions options_;
  message::Limits limits_;
  dns::Session& dns_;
  int signatures_ = 0;
  dkim::Verifier verifier_;
  std::size_t fields_ = 0;
  std::size_t bytes_ = 0;
  bool truncated_ = false;
  std::string queue_id_;
};

}  // namespace

StagePtr makeDkimStage(const Snapshot& snapshot, dns::Session& dns) {
  return std::make_unique<DkimStage>(snapshot, dns);
}

}  // namespace mw::scan
