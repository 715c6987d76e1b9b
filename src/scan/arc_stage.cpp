// scan/arc_stage.cpp — ARC (RFC 8617) chain validation for every message: arc::Verifier
// is fed each header field as received and each body chunk as it streams in; the keys
// of every ARC set are started at end of headers (arc::Verifier::endOfHeaders) so they
// are in flight during the body; the result is collected at end of message.
//
// What goes into Findings:
//   - Findings::arc (verdict::ArcFindings): cv, N, oldest-pass, the sealers, whether the
//     newest sealer is trusted (arc.trusted_sealers, or an A record in 127.0.0.0/8 at
//     <d>.<arc.trusted_zone>), and that instance's ARC-Authentication-Results, which the
//     DMARC stage reads for the trusted-forwarder override (dmarc_stage.cpp).
//   - AuthResult{method Arc}: "arc=pass|fail|none", rendered after dmarc (decide()).
//     Properties (RFC 8617 §10 / IANA "Email Authentication Methods"): smtp.remote-ip for
//     a message that has a chain, and header.oldest-pass on a pass when an older AMS did
//     not validate. The registry defines oldest-pass as "the instance id of the oldest
//     validating AMS or 0 if they all pass" (§5.2 step 4): 0 says nothing a pass does
//     not, so it is left out, as for a message whose every AMS validates.
//     A temporary DNS failure on a key is arc=fail with the comment "temperror: ..."
//     (RFC 8617 has no temperror for cv). It never allows an override; whether it
//     defers the message is the DMARC stage's decision, because only there can it change
//     the verdict (a DMARC failure the trusted sealer might have vouched for).
//   - Symbols ARC_PASS / ARC_FAIL / ARC_NONE, and ARC_TRUSTED (pass and trusted newest
//     sealer); scores arc.pass_score, fail_score (not for a temporary failure: it is not
//     evidence against the sender), trusted_score, each only when not 0.
// A message without ARC fields gets arc=none, like an unsigned message's dkim=none.
//
// Sealing (arc.seal, RFC 8617 §5.1): an arc::Sealer is fed the same fields and body as
// the Verifier. After decide(), for a delivered message (Stage::delivered: accept, tag,
// quarantine, fully evaluated), seal() gets this chain's Validation and, as the AAR
// payload, exactly the Authentication-Results value decide() wrote (our authserv-id and
// every result, arc= included), so the next hop reads in our AAR what we wrote in our
// A-R. The three fields go at the very top, ARC-Seal first, then AMS, AAR, then our
// A-R and the X-Mailwarden-* block (RFC 8617 §4.1 wants the ARC set above, and
// HeaderEdit::Prepend keeps edit-list order top-down). The AMS signs the default field
// list (arc::kDefaultSignedHeaders), which names neither Authentication-Results nor
// X-Mailwarden-*/X-Spam-*: the fields decide() removes are never signed.
// Not sealed: when the Sealer skips (newest cv=fail, N = 50, a temporary key failure:
// logged at debug), when the header went beyond message::Limits (the Sealer did not see
// all of it), and when seal() fails (an OpenSSL error, logged at warn and counted as an
// internal error): the message is delivered unsealed, because a seal is a courtesy to
// the next hop and never a reason to defer or lose mail.
#include <algorithm>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "builtin_stages.h"
#include "mailwarden/arc/arc.h"
#include "mailwarden/arc/seal.h"
#include "mailwarden/base/ascii.h"
#include "mailwarden/dkim/dkim.h"
#include "mailwarden/dns/idna.h"
#include "mailwarden/message/header.h"
#include "mailwarden/obs/counters.h"
#include "mailwarden/obs/log.h"
#include "mailwarden/scan/snapshot.h"
#include "mailwarden/scan/symbols.h"

namespace mw::scan {
namespace {

verdict::Code code(arc::ChainResult r) noexcept {
  switch (r) {
    case arc::ChainResult::None: return verdict::Code::None;
    case arc::ChainResult::Pass: return verdict::Code::Pass;
    case arc::ChainResult::Fail: return verdict::Code::Fail;
  }
  MW_UNREACHABLE("arc::ChainResult out of range");
}

// A sealer d= as the trust lists hold domains: A-labels, lower case; nullopt when it is
// not a domain at all (then nobody trusts it).
std::optional<std::string> aLabels(std::string_view d) { return dns::lookupDomain(d); }

class ArcStage final : public Stage {
 public:
  ArcStage(const Snapshot& snapshot, dns::Session& dns)
      : options_(snapshot.config().arc),
        limits_(snapshot.limits()),
        dns_(dns),
        verifier_(dns, dns.budget(), snapshot.clock()) {
    if (snapshot.sealKey() && options_.seal) {
      arc::SealOptions seal;
      seal.domain = options_.seal->domain;
      seal.selector = options_.seal->selector;
      seal.key = snapshot.sealKey();
      sealer_ = std::make_unique<arc::Sealer>(std::move(seal), snapshot.clock());
    }
  }

  std::string_view name() const noexcept override { return "arc"; }

  Flow envelope(const message::Envelope& env, verdict::Findings&) override {
    client_ip_ = env.client_ip;
    return Flow::Continue;
  }

  Flow header(const message::HeaderField& field, int, verdict::Findings&) override {
    // Bounded like the DKIM stage: fields beyond message::Limits are not seen; an ARC
    // set among them is missing, and the chain fails, which such a header deserves.
    bytes_ += field.name.size() + field.value.size();
    if (++fields_ > limits_.max_headers || bytes_ > limits_.max_header_bytes) {
      over_limits_ = true;
      return Flow::Continue;
    }
    verifier_.header(field.name, field.value);  // the value with its leading space
    if (sealer_) {
      sealer_->header(field.name, field.value);
    }
    noteSeal(field);
    return Flow::Continue;
  }

  Flow endOfHeaders(const message::Envelope& env, verdict::Findings&) override {
    queue_id_ = env.queue_id;
    verifier_.endOfHeaders();  // starts every key lookup of the chain
    startTrustLookup();
    return Flow::Continue;
  }

  Flow body(std::string_view chunk, verdict::Findings&) override {
    verifier_.body(chunk);
    if (sealer_) {
      sealer_->body(chunk);
    }
    return Flow::Continue;
  }

  void endOfMessage(verdict::Findings& findings) override {
    arc::Validation v = verifier_.finish();
    if (sealer_) {
      validation_ = v;  // seal() reads it in delivered()
    }
    verdict::ArcFindings f;
    f.result = code(v.cv);
    f.instances = v.instances;
    if (v.cv == arc::ChainResult::Pass) {
      f.oldest_pass = v.oldest_pass;
    }
    for (const std::string& d : v.sealers) {
      f.sealers.push_back(aLabels(d).value_or(d));
    }
    f.reason = v.reason;
    f.temporary = v.temporary;
    if (!v.detail.empty()) {
      f.newest_results = message::unfold(v.detail.back().results);
      judgeTrust(v.detail.back().sealer_domain, f);
    }
    if (f.temporary) {
      obs::log(obs::Level::Warn, queue_id_.empty() ? "NOQUEUE" : queue_id_, "arc", "{}", v.reason);
    }

    verdict::AuthResult a;
    a.method = verdict::Method::Arc;
    a.result = f.result;
    a.reason = f.reason;
    if (f.result != verdict::Code::None && !client_ip_.empty()) {
      a.properties.emplace_back("smtp.remote-ip", client_ip_);
    }
    if (f.oldest_pass && *f.oldest_pass > 1) {
      a.properties.emplace_back("header.oldest-pass", std::to_string(*f.oldest_pass));
    }
    if (!f.sealers.empty()) {
      a.domain = f.sealers.back();
    }
    const bool trusted_pass = f.result == verdict::Code::Pass && f.trusted;
    publish(findings, arcSymbols(f.result, trusted_pass));
    switch (f.result) {
      case verdict::Code::Pass: score(findings, "ARC_PASS", options_.pass_score); break;
      case verdict::Code::Fail:
        if (!f.temporary) {
          score(findings, "ARC_FAIL", options_.fail_score);
        }
        break;
      default: break;
    }
    if (trusted_pass) {
      score(findings, "ARC_TRUSTED", options_.trusted_score);
    }
    findings.auth.push_back(std::move(a));
    findings.arc = std::move(f);
  }

  void delivered(verdict::Verdict& v) override {
    if (!sealer_ || !validation_) {
      return;
    }
    const char* qid = queue_id_.empty() ? "NOQUEUE" : queue_id_.c_str();
    if (over_limits_) {
      obs::log(obs::Level::Debug, qid, "arc", "not sealed: the header is beyond the message limits");
      return;
    }
    // Our A-R is the first prepended field (decide()); the ARC set goes above it.
    auto first = std::find_if(v.edits.begin(), v.edits.end(), [](const verdict::HeaderEdit& e) {
      return e.kind == verdict::HeaderEdit::Kind::Prepend;
    });
    if (first == v.edits.end() || first->name != "Authentication-Results") {
      return;  // decide() always writes A-R for a delivered message; nothing to record
    }
    Result<arc::Sealed> sealed = sealer_->seal(*validation_, first->value);
    if (!sealed) {
      obs::counters().internal_errors.add();
      obs::log(obs::Level::Warn, qid, "arc", "not sealed, delivered without our ARC set: {}",
               sealed.error().describe());
      return;
    }
    if (!sealed->skipped.empty()) {
      obs::log(obs::Level::Debug, qid, "arc", "not sealed: {}", sealed->skipped);
      return;
    }
    // Everything that can throw happens before `v` changes (Stage::delivered): the edits
    // are built, then room is made, then they are moved in (std::string moves never throw).
    std::vector<verdict::HeaderEdit> edits;
    edits.reserve(sealed->fields.size());
    for (arc::Field& f : sealed->fields) {
      edits.push_back(verdict::HeaderEdit{verdict::HeaderEdit::Kind::Prepend, std::move(f.name), 0,
                                          std::move(f.value)});
    }
    const std::ptrdiff_t at = first - v.edits.begin();
    v.edits.reserve(v.edits.size() + edits.size());
    v.edits.insert(v.edits.begin() + at, std::make_move_iterator(edits.begin()),
                   std::make_move_iterator(edits.end()));
    if (v.arc) {
      v.arc->sealed = verdict::ArcFindings::Sealed{sealed->instance, code(sealed->cv)};
    }
    obs::log(obs::Level::Debug, qid, "arc", "sealed i={} cv={}", sealed->instance,
             verdict::toString(code(sealed->cv)));
  }

 private:
  static void score(verdict::Findings& findings, const char* symbol, double s) {
    if (s != 0.0) {
      findings.contributions.push_back({symbol, s});
    }
  }

  // The newest ARC-Seal (highest i=) and its d=, as the fields arrive, so the
  // trusted_zone lookup can start at end of headers instead of after the body. Only a
  // hint: the decision reads the Verifier's sealer of instance N, and a lookup started
  // for another name is simply not used.
  void noteSeal(const message::HeaderField& field) {
    if (options_.trusted_zone.empty() || !ascii::iequals(field.name, "ARC-Seal") ||
        ++seals_ > arc::kMaxArcFields) {
      return;
    }
    const std::string value = message::unfold(field.value);
    const std::optional<std::string> i = dkim::signatureTag(value, "i");
    const std::optional<std::string> d = dkim::signatureTag(value, "d");
    if (!i || !d || i->empty() || i->size() > 2) {
      return;
    }
    int n = 0;
    for (const char c : *i) {
      if (!ascii::isDigit(c)) {
        return;
      }
      n = n * 10 + (c - '0');
    }
    if (n > newest_seal_) {
      newest_seal_ = n;
      newest_sealer_ = *d;
    }
  }

  std::optional<std::string> trustName(std::string_view sealer) const {
    std::optional<std::string> d = aLabels(sealer);
    if (!d || options_.trusted_zone.empty()) {
      return std::nullopt;
    }
    return *d + "." + options_.trusted_zone;
  }

  void startTrustLookup() {
    if (newest_sealer_.empty()) {
      return;
    }
    if (std::optional<std::string> name = trustName(newest_sealer_)) {
      dns_.start(*name, dns::Type::A);  // joined by judgeTrust() through the Session
    }
  }

  // trusted_sealers: the exact domain. trusted_zone: an A record at <d>.<zone>, every
  // address in 127.0.0.0/8 (RFC 5782 §2.3's convention for list answers: anything else
  // is a broken or wildcarded zone, not a listing); NXDOMAIN/NODATA: not trusted; a
  // lookup that failed: unknown (trust_temporary), never trust.
  void judgeTrust(std::string_view sealer, verdict::ArcFindings& f) {
    const std::optional<std::string> d = aLabels(sealer);
    if (!d) {
      return;
    }
    for (const std::string& t : options_.trusted_sealers) {
      if (*d == t) {
        f.trusted = true;
        return;
      }
    }
    const std::optional<std::string> name = trustName(*d);
    if (!name) {
      return;
    }
    const dns::Answer a = dns_.query(*name, dns::Type::A, dns_.budget());
    switch (dns::classify(a)) {
      case dns::Outcome::Found: {
        bool loopback = !a.a.empty();
        for (const auto& addr : a.a) {
          loopback = loopback && addr[0] == 127;
        }
        f.trusted = loopback;
        return;
      }
      case dns::Outcome::Temporary:
        f.trust_temporary = true;
        return;
      case dns::Outcome::Absent:
      case dns::Outcome::BadName:
        return;
    }
  }

  config::ArcOptions options_;
  message::Limits limits_;
  dns::Session& dns_;
  arc::Verifier verifier_;
  std::unique_ptr<arc::Sealer> sealer_;     // arc.seal set: fed like the Verifier
  std::optional<arc::Validation> validation_;  // kept for the seal when sealer_
  bool over_limits_ = false;
  std::size_t fields_ = 0;
  std::size_t bytes_ = 0;
  std::size_t seals_ = 0;
  int newest_seal_ = 0;
  std::string newest_sealer_;
  std::string client_ip_;
  std::string queue_id_;
};

}  // namespace

StagePtr makeArcStage(const Snapshot& snapshot, dns::Session& dns) {
  return std::make_unique<ArcStage>(snapshot, dns);
}

}  // namespace mw::scan
