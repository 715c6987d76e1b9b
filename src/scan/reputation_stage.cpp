// scan/reputation_stage.cpp — iprev (RFC 8601 §3) and the DNS lists of reputation.lists
// (RFC 5782) as a pipeline stage.
//
// Every lookup starts as soon as its key is known and is collected only at end of
// message, so the lists and iprev are in flight while the message streams and while
// SPF, DKIM and DMARC wait for theirs (dns::Resolver::start):
//   envelope (MAIL FROM)  iprev's PTR, the client address, the HELO name and the MAIL FROM
//                         domain on the lists that ask for them
//   header                the d= of every DKIM-Signature (at most dkim.max_signatures):
//                         only those whose signature verifies count, but asking early
//                         costs no round trip at end of message
//   endOfHeaders          the author domain(s) of From (dmarc::authorDomains)
//   URL hosts             as the MIME stage's text extraction finds them
//   every event           iprev's forward lookups as soon as the PTR answer is in
// At end of message (after SPF and DKIM):
//   iprev   AuthResult{Iprev, pass|fail|permerror|temperror, smtp.remote-ip,
//           policy.iprev (pass: the confirmed name)}, symbols IPREV_<RESULT>, the scores
//           of reputation.iprev, temperror as reputation.iprev.temperror says (a score of
//           0 by default: a missing reverse DNS never defers mail unless asked to).
//           The confirmed name replaces the MTA's {client_name} for the rules.
//   lists   each Listed class: its symbol (published for composites), a contribution
//           with its score (negative for allowlists), its action (the most severe wins)
//           with its reply, default "Listed at ZONE". Blocked answers and temperrors are
//           never hits (reputation/lists.h counts, logs and pauses); every lookup that
//           answered or failed is kept in Findings::lists (`check --json`).
#include <string>
#include <utility>
#include <vector>

#include "builtin_stages.h"
#include "mailwarden/base/ascii.h"
#include "mailwarden/dkim/dkim.h"
#include "mailwarden/dmarc/dmarc.h"
#include "mailwarden/message/address.h"
#include "mailwarden/message/text.h"
#include "mailwarden/reputation/iprev.h"
#include "mailwarden/reputation/lists.h"
#include "mailwarden/scan/snapshot.h"
#include "mailwarden/scan/symbols.h"

namespace mw::scan {
namespace {

verdict::Code code(reputation::IprevResult r) noexcept {
  switch (r) {
    case reputation::IprevResult::Pass: return verdict::Code::Pass;
    case reputation::IprevResult::Fail: return verdict::Code::Fail;
    case reputation::IprevResult::TempError: return verdict::Code::TempError;
    case reputation::IprevResult::PermError: return verdict::Code::PermError;
  }
  MW_UNREACHABLE("reputation::IprevResult out of range");
}

verdict::Action action(reputation::Action a) noexcept {
  switch (a) {
    case reputation::Action::Tag: return verdict::Action::Tag;
    case reputation::Action::Quarantine: return verdict::Action::Quarantine;
    case reputation::Action::TempFail: return verdict::Action::TempFail;
    case reputation::Action::Reject: return verdict::Action::Reject;
  }
  MW_UNREACHABLE("reputation::Action out of range");
}

// The domain of an address ("user@example.org" -> "example.org"); "" without one.
std::string_view domainOf(std::string_view address) {
  const std::size_t at = address.rfind('@');
  return at == std::string_view::npos ? std::string_view() : address.substr(at + 1);
}

class ReputationStage final : public Stage, public message::TextListener {
 public:
  ReputationStage(const Snapshot& snapshot, dns::Session& dns, bool iprev, bool lists)
      : iprev_options_(snapshot.config().iprev),
        max_signatures_(snapshot.config().dkim.max_signatures),
        dns_(dns),
        iprev_enabled_(iprev && snapshot.config().iprev.enabled) {
    if (lists && snapshot.lists()) {
      lists_.emplace(snapshot.lists()->start(dns, dns.budget()));
      url_hosts_ = wantsKey(*snapshot.lists(), reputation::Key::Url);
    }
  }

  std::string_view name() const noexcept override { return "reputation"; }

  // Whether the lists ask for URL hosts (Snapshot::makeStages subscribes us to the text
  // extraction only then).
  bool wantsUrls() const noexcept { return url_hosts_; }

  Flow envelope(const message::Envelope& env, verdict::Findings&) override {
    // Without a client address (local submission, `check` without --client-ip) there is
    // no client to judge, as for SPF.
    if (env.client_ip.empty()) {
      return Flow::Continue;
    }
    client_ = true;
    if (iprev_enabled_) {
      iprev_.emplace(reputation::Iprev::start(dns_, dns_.budget(), env.client_ip));
    }
    if (lists_) {
      lists_->clientIp(env.client_ip);
      lists_->helo(env.helo);
      lists_->mailFrom(domainOf(env.mail_from));
    }
    return Flow::Continue;
  }

  Flow header(const message::HeaderField& field, int, verdict::Findings&) override {
    advance();
    if (!lists_ || !client_) {
      return Flow::Continue;
    }
    if (ascii::iequals(field.name, "from")) {
      if (from_.size() < kMaxFromFields) {
        from_.push_back(message::unfold(field.value));
      }
    } else if (ascii::iequals(field.name, "dkim-signature") && signatures_ < max_signatures_) {
      ++signatures_;
      if (std::optional<std::string> d = dkim::signatureTag(message::unfold(field.value), "d")) {
        lists_->dkimDomain(*d);
      }
    }
    return Flow::Continue;
  }

  Flow endOfHeaders(const message::Envelope&, verdict::Findings&) override {
    advance();
    if (lists_ && client_) {
      for (const std::string& d : dmarc::authorDomains(from_).domains) {
        lists_->from(d);
      }
    }
    return Flow::Continue;
  }

  Flow body(std::string_view, verdict::Findings&) override {
    advance();
    return Flow::Continue;
  }

  // message::TextListener: a URL of the body's text parts (plain text and HTML).
  void url(std::string_view url) override {
    if (lists_ && client_) {
      lists_->urlHost(hostOf(url));
    }
  }

  void endOfMessage(verdict::Findings& findings) override {
    if (iprev_) {
      iprevResult(findings, iprev_->collect());
    }
    if (lists_) {
      listResults(findings, lists_->collect());
    }
  }

 private:
  void advance() {
    if (iprev_) {
      iprev_->advance();
    }
  }

  // The host of "scheme://user@host:port/path" (or of "www.example.org/path" as the URL
  // finder reports bare www. links); reputation::Lists normalises and checks it.
  static std::string_view hostOf(std::string_view url) {
    if (const std::size_t scheme = url.find("://"); scheme != std::string_view::npos) {
      url.remove_prefix(scheme + 3);
    } else if (const std::size_t colon = url.find(':');
               colon != std::string_view::npos && url.substr(0, colon).find('.') == std::string_view::npos) {
      url.remove_prefix(colon + 1);  // mailto:user@host
    }
    url = url.substr(0, std::min(url.size(), url.find_first_of("/?#\\")));
    if (const std::size_t at = url.rfind('@'); at != std::string_view::npos) {
      url.remove_prefix(at + 1);
    }
    return url;
  }

  void iprevResult(verdict::Findings& findings, const reputation::IprevOutcome& o) {
    verdict::AuthResult a;
    a.method = verdict::Method::Iprev;
    a.result = code(o.result);
    if (o.result != reputation::IprevResult::Pass) {
      a.reason = o.why;
    }
    // RFC 8601 §2.7.3: smtp.remote-ip is the address checked; policy.iprev the name that
    // resolved back to it (authentication_milter and Gmail write it so).
    a.properties.emplace_back("smtp.remote-ip", o.ip);
    if (!o.name.empty()) {
      a.properties.emplace_back("policy.iprev", o.name);
      findings.confirmed_client_name = o.name;
    }
    a.domain = o.name;
    findings.auth.push_back(std::move(a));
    publish(findings, iprevSymbols(code(o.result)));
    switch (o.result) {
      case reputation::IprevResult::Pass:
        score(findings, "IPREV_PASS", iprev_options_.pass_score);
        break;
      case reputation::IprevResult::Fail:
        score(findings, "IPREV_FAIL", iprev_options_.fail_score);
        break;
      case reputation::IprevResult::PermError:
        score(findings, "IPREV_PERMERROR", iprev_options_.permerror_score);
        break;
      case reputation::IprevResult::TempError:
        onTemperror(findings, iprev_options_.temperror, "IPREV_TEMPERROR",
                    "iprev temperror for " + o.ip);
        break;
    }
  }

  static void score(verdict::Findings& findings, const char* symbol, double s) {
    if (s != 0.0) {
      findings.contributions.push_back({symbol, s});
    }
  }

  void listResults(verdict::Findings& findings, std::vector<reputation::ListHit> hits) {
    for (reputation::ListHit& hit : hits) {
      // A d= lookup counts only when a signature of that domain verified (RFC 6376 §6.1:
      // an unverified signature says nothing about who sent the message).
      if (hit.key == reputation::Key::Dkim && !dkimVerified(findings, hit.lookup)) {
        continue;
      }
      if (hit.result == reputation::ListResult::Listed) {
        for (const reputation::Listing& l : hit.classes) {
          publish(findings, {l.symbol});
          findings.contributions.push_back({l.symbol, l.score});
          // bypass `score`: listed and scored, but a list's action is not ours to apply
          // to our own users.
          if (l.action && !(findings.bypass &&
                            findings.bypass->unenforced(verdict::BypassCheck::Lists))) {
            const verdict::Action forced = action(*l.action);
            if (forced > findings.forced) {
              findings.forced = forced;
              if (forced == verdict::Action::Reject || forced == verdict::Action::TempFail) {
                const bool reject = forced == verdict::Action::Reject;
                findings.forced_reply = verdict::SmtpReply{
                    reject ? 550 : 451, reject ? "5.7.1" : "4.7.1",
                    l.reply.empty() ? "Listed at " + hit.zone : l.reply};
              }
            }
          }
        }
      }
      findings.lists.push_back(std::move(hit));
    }
  }

  static bool dkimVerified(const verdict::Findings& findings, const std::string& domain) {
    for (const verdict::AuthResult& a : findings.auth) {
      if (a.method == verdict::Method::Dkim && a.result == verdict::Code::Pass &&
          ascii::iequals(a.domain, domain)) {
        return true;
      }
    }
    return false;
  }

  static bool wantsKey(const reputation::Lists& lists, reputation::Key key) {
    for (const reputation::ListOptions& l : lists.options().lists) {
      for (const reputation::Key k : l.lookups) {
        if (k == key) return true;
      }
    }
    return false;
  }

  const config::IprevOptions& iprev_options_;
  int max_signatures_;
  dns::Session& dns_;
  bool iprev_enabled_;
  std::optional<reputation::Iprev> iprev_;
  std::optional<reputation::Lists::Message> lists_;
  bool url_hosts_ = false;
  bool client_ = false;
  int signatures_ = 0;
  std::vector<std::string> from_;
};

}  // namespace

StagePtr makeReputationStage(const Snapshot& snapshot, dns::Session& dns, MimeStage& mime,
                             bool iprev, bool lists) {
  auto stage = std::make_unique<ReputationStage>(snapshot, dns, iprev, lists);
  if (stage->wantsUrls()) {
    mime.subscribeText(*stage, false, true);  // the MIME stage's one text extraction
  }
  return stage;
}

}  // namespace mw::scan
