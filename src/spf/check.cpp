// check_host() of RFC 7208 §4–§6 over dns::Resolver, evaluating the syntax tree of our
// strict parser. Why this, and not libspf2, evaluates: doc/CONFORMANCE.md.
#include "mailwarden/spf/spf.h"

#include <optional>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "macro.h"
#include "mailwarden/base/ascii.h"
#include "mailwarden/base/result.h"
#include "mailwarden/dns/idna.h"
#include "mailwarden/spf/record.h"

namespace mw::spf {
namespace {

using detail::IpAddress;
using detail::MacroContext;

// include: and redirect= nest check_host(); each counts as a DNS-querying term, so the
// term limit bounds the depth already. This cap holds even if an operator raises it.
constexpr unsigned kMaxDepth = 32;

// What one check_host() call (or a part of it) decided.
struct Outcome {
  Result result = Result::Neutral;
  std::string problem;
  std::optional<MacroString> exp;  // exp= of the record whose mechanism decided a Fail
  std::string decided_in;          // that record's <domain> (the d macro of its exp)
};

Outcome error(Result r, std::string problem) {
  Outcome o;
  o.result = r;
  o.problem = std::move(problem);
  return o;
}

Result qualifierResult(Qualifier q) noexcept {
  switch (q) {
    case Qualifier::Pass: return Result::Pass;
    case Qualifier::Fail: return Result::Fail;
    case Qualifier::SoftFail: return Result::SoftFail;
    case Qualifier::Neutral: return Result::Neutral;
  }
  MW_UNREACHABLE("Qualifier out of range");
}

std::string stripDot(std::string_view name) {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  return std::string(name);
}

// A MAIL FROM / HELO domain as SPF uses it (RFC 8616 §4): names with U-labels or "xn--"
// labels through dns::toALabels(); other ASCII names unchanged (case kept: the macros
// expand them as given, §7.3), judged by the checks below as before. `problem` is set
// when an IDN is invalid; `value` is then the name as given.
struct IdnaName {
  std::string value;
  std::string problem;
};

IdnaName idnaName(std::string name) {
  const std::string lower = ascii::lower(name);
  if (!dns::hasNonAscii(name) && lower.find("xn--") == std::string::npos) {
    return {std::move(name), {}};
  }
  tl::expected<std::string, std::string> a = dns::toALabels(name);
  if (!a) {
    return {std::move(name), "is not a valid internationalized domain name: " + a.error()};
  }
  return {std::move(*a), {}};
}

// endsWithDomain - `name` is `domain` or a subdomain of it (case-insensitive, §5.5).
bool endsWithDomain(std::string_view name, std::string_view domain) noexcept {
  if (name.size() == domain.size()) {
    return ascii::iequals(name, domain);
  }
  return name.size() > domain.size() && name[name.size() - domain.size() - 1] == '.' &&
         ascii::iequals(name.substr(name.size() - domain.size()), domain);
}

// The one DNS mapping (dns::classify): Absent is a void lookup (§4.6.4), Temporary is
// temperror (§4.4, §5: "RCODE other than 0 or 3", a timeout). BadName cannot reach the
// resolver from here: every name is checked with isQueryable (stricter) first, and a
// name that fails it is none (§4.3) or no match (a mechanism's target), not a DNS error.
bool isVoid(const dns::Answer& a) noexcept { return dns::classify(a) == dns::Outcome::Absent; }
bool isFound(const dns::Answer& a) noexcept { return dns::classify(a) == dns::Outcome::Found; }

std::string dnsProblem(std::string_view name, dns::Type type, const dns::Answer& a) {
  std::string out = "DNS ";
  out += dns::toString(a.status);
  out += " for ";
  out += name;
  out += '/';
  out += dns::toString(type);
  if (!a.why.empty()) {
    out += " (" + a.why + ")";
  }
  return out;
}

// One evaluation of check_host() with its nested include:/redirect= calls. Holds the
// per-check counters of RFC 7208 §4.6.4.
class Evaluation {
 public:
  Evaluation(dns::Resolver& resolver, const Options& options, const dns::Budget& budget,
             const IpAddress& ip, std::string sender, std::string local_part,
             std::string sender_domain, std::string helo, std::int64_t now)
      : resolver_(resolver),
        options_(options),
        budget_(budget),
        ip_(ip),
        sender_(std::move(sender)),
        local_part_(std::move(local_part)),
        sender_domain_(std::move(sender_domain)),
        helo_(std::move(helo)),
        now_(now) {}

  // check_host(<ip>, <domain>, <sender>) (§4).
  Outcome checkHost(const std::string& domain, unsigned depth);
  // The explanation for a Fail (§6.2): the deciding record's exp=, else the default.
  std::string explain(const Outcome& o, const std::string& top_domain);

 private:
  using Matched = tl::expected<bool, Outcome>;

  Matched evaluate(const Mechanism& m, const std::string& domain, unsigned depth);
  Matched matchAddresses(const std::string& name, unsigned cidr4, unsigned cidr6, bool count_void);
  Matched matchMx(const std::string& name, unsigned cidr4, unsigned cidr6);
  Matched matchPtr(const std::string& target);
  Matched matchExists(const std::string& name);
  std::optional<Outcome> countTerm(const Mechanism* m, std::string_view text);
  std::optional<Outcome> countVoid(std::string_view name);
  const std::vector<std::string>& validatedNames();
  std::string validatedName(std::string_view domain);
  MacroContext context(const std::string& domain);
  dns::Answer query(std::string_view name, dns::Type type) {
    return resolver_.query(name, type, budget_);
  }
  dns::Type addressType() const noexcept { return ip_.v6 ? dns::Type::AAAA : dns::Type::A; }

  dns::Resolver& resolver_;
  const Options& options_;
  const dns::Budget& budget_;
  const IpAddress ip_;
  const std::string sender_;
  const std::string local_part_;
  const std::string sender_domain_;
  const std::string helo_;
  const std::int64_t now_;

  unsigned terms_ = 0;
  unsigned voids_ = 0;
  // The PTR lookup and its validated names (§5.5), shared by ptr and %{p}.
  std::optional<dns::Outcome> ptr_status_;
  std::vector<std::string> validated_;
};

MacroContext Evaluation::context(const std::string& domain) {
  MacroContext ctx;
  ctx.sender = sender_;
  ctx.local_part = local_part_;
  ctx.sender_domain = sender_domain_;
  ctx.domain = domain;
  ctx.ip = &ip_;
  ctx.helo = helo_;
  ctx.receiving_host = options_.receiving_host;
  ctx.now = now_;
  ctx.validated_name = [this, &domain] { return validatedName(domain); };
  return ctx;
}

std::optional<Outcome> Evaluation::countTerm(const Mechanism* m, std::string_view text) {
  // §4.6.4: include, a, mx, ptr, exists and redirect count; more than 10 is permerror.
  if (m != nullptr && !m->queriesDns()) {
    return std::nullopt;
  }
  if (++terms_ > options_.max_dns_terms) {
    return error(Result::PermError, "more than " + std::to_string(options_.max_dns_terms) +
                                        " DNS-querying terms (at '" + std::string(text) + "')");
  }
  return std::nullopt;
}

std::optional<Outcome> Evaluation::countVoid(std::string_view name) {
  // §4.6.4: lookups answering NXDOMAIN or no records; more than 2 is permerror.
  if (++voids_ > options_.max_void_lookups) {
    return error(Result::PermError, "more than " + std::to_string(options_.max_void_lookups) +
                                        " void lookups (at " + std::string(name) + ")");
  }
  return std::nullopt;
}

Outcome Evaluation::checkHost(const std::string& domain, unsigned depth) {
  if (depth > kMaxDepth) {
    return error(Result::PermError, "include/redirect nested too deeply");
  }
  // §4.3: a malformed or single-label <domain> gives none.
  if (!detail::isCheckableDomain(domain)) {
    return error(Result::None, "'" + domain + "' is not a multi-label domain name");
  }
  // §4.4: the TXT records of <domain>.
  const dns::Answer txt = query(domain, dns::Type::TXT);
  switch (dns::classify(txt)) {
    case dns::Outcome::Found:
      break;
    case dns::Outcome::Absent:
    case dns::Outcome::BadName:  // not reached: isCheckableDomain above (§4.3: none)
      return error(Result::None, "no SPF record at " + domain);
    case dns::Outcome::Temporary:
      return error(Result::TempError, dnsProblem(domain, dns::Type::TXT, txt));
  }
  // §4.5: select the records that start with "v=spf1"; several are permerror.
  const std::string* selected = nullptr;
  for (const std::string& t : txt.txt) {
    if (!isSpfRecord(t)) {
      continue;
    }
    if (selected != nullptr) {
      return error(Result::PermError, "more than one SPF record at " + domain);
    }
    selected = &t;
  }
  if (selected == nullptr) {
    return error(Result::None, "no SPF record at " + domain);
  }
  // §4.6: syntax errors anywhere in the record are permerror, before any evaluation.
  Parsed<Record> record = parseRecord(*selected);
  if (!record) {
    return error(Result::PermError, domain + ": " + record.error().describe());
  }
  // §4.6.2: mechanisms in order; the first match decides.
  for (const Mechanism& m : record->mechanisms) {
    if (auto over = countTerm(&m, m.text)) {
      return *over;
    }
    Matched matched = evaluate(m, domain, depth);
    if (!matched) {
      return std::move(matched.error());
    }
    if (*matched) {
      Outcome o;
      o.result = qualifierResult(m.qualifier);
      if (o.result == Result::Fail) {
        o.exp = record->exp;
        o.decided_in = domain;
      }
      return o;
    }
  }
  // §6.1: redirect= applies when nothing matched, and is ignored if there is an "all".
  if (record->redirect && !record->hasAll()) {
    if (auto over = countTerm(nullptr, "redirect=" + record->redirect->text)) {
      return *over;
    }
    const std::string target = detail::expandDomain(*record->redirect, context(domain));
    Outcome o = checkHost(target, depth + 1);
    if (o.result == Result::None) {  // §6.1: no record, or a malformed target: permerror
      return error(Result::PermError, "redirect=" + target + ": " + o.problem);
    }
    return o;  // the target's exp= applies, ours does not (§6.2)
  }
  return Outcome{};  // §4.7: neutral
}

Evaluation::Matched Evaluation::evaluate(const Mechanism& m, const std::string& domain,
                                         unsigned depth) {
  const auto target = [&]() -> std::string {
    return m.domain ? detail::expandDomain(*m.domain, context(domain)) : domain;
  };
  switch (m.kind) {
    case MechanismKind::All:
      return true;
    case MechanismKind::Ip4:
      return !ip_.v6 && ip_.inNetwork(m.network, m.cidr4);
    case MechanismKind::Ip6:
      return ip_.v6 && ip_.inNetwork(m.network, m.cidr6);
    case MechanismKind::A:
      return matchAddresses(target(), m.cidr4, m.cidr6, true);
    case MechanismKind::Mx:
      return matchMx(target(), m.cidr4, m.cidr6);
    case MechanismKind::Ptr:
      return matchPtr(target());
    case MechanismKind::Exists:
      return matchExists(target());
    case MechanismKind::Include: {
      // §5.2: pass matches; fail, softfail, neutral do not; temperror stays
      // temperror; permerror and none are permerror.
      const std::string t = target();
      Outcome o = checkHost(t, depth + 1);
      switch (o.result) {
        case Result::Pass:
          return true;
        case Result::Fail:
        case Result::SoftFail:
        case Result::Neutral:
          return false;
        case Result::TempError:
        case Result::PermError:
          return tl::unexpected<Outcome>(std::move(o));
        case Result::None:
          return tl::unexpected<Outcome>(
              error(Result::PermError, "include:" + t + ": " + o.problem));
      }
      MW_UNREACHABLE("Result out of range");
    }
  }
  MW_UNREACHABLE("MechanismKind out of range");
}

Evaluation::Matched Evaluation::matchAddresses(const std::string& name, unsigned cidr4,
                                               unsigned cidr6, bool count_void) {
  if (!detail::isQueryable(name)) {
    // A target that cannot be a DNS name (an empty or over-long label, perhaps from a
    // macro) matches nothing: RFC 7208 leaves this undefined (suite: invalid-domain-*).
    return false;
  }
  const dns::Type type = addressType();
  const dns::Answer a = query(name, type);
  if (isVoid(a) || (isFound(a) && a.a.empty() && a.aaaa.empty())) {
    if (count_void) {
      if (auto over = countVoid(name)) {
        return tl::unexpected<Outcome>(std::move(*over));
      }
    }
    return false;
  }
  if (!isFound(a)) {  // Temporary (BadName cannot happen: isQueryable above)
    return tl::unexpected<Outcome>(error(Result::TempError, dnsProblem(name, type, a)));
  }
  std::array<std::uint8_t, 16> net{};
  if (ip_.v6) {
    for (const auto& addr : a.aaaa) {
      std::copy(addr.begin(), addr.end(), net.begin());
      if (ip_.inNetwork(net, cidr6)) {
        return true;
      }
    }
  } else {
    for (const auto& addr : a.a) {
      std::copy(addr.begin(), addr.end(), net.begin());
      if (ip_.inNetwork(net, cidr4)) {
        return true;
      }
    }
  }
  return false;
}

Evaluation::Matched Evaluation::matchMx(const std::string& name, unsigned cidr4, unsigned cidr6) {
  if (!detail::isQueryable(name)) {
    return false;
  }
  const dns::Answer mx = query(name, dns::Type::MX);
  if (isVoid(mx) || (isFound(mx) && mx.mx.empty())) {
    if (auto over = countVoid(name)) {
      return tl::unexpected<Outcome>(std::move(*over));
    }
    return false;
  }
  if (!isFound(mx)) {  // Temporary
    return tl::unexpected<Outcome>(error(Result::TempError, dnsProblem(name, dns::Type::MX, mx)));
  }
  // §4.6.4: "the evaluation of each MX record MUST NOT result in querying more than 10
  // address records ... If this limit is exceeded, the mx mechanism MUST produce a
  // permerror result."
  if (mx.mx.size() > options_.max_mx_ptr_names) {
    return tl::unexpected<Outcome>(
        error(Result::PermError, name + " has more than " +
                                     std::to_string(options_.max_mx_ptr_names) + " MX records"));
  }
  for (const dns::Mx& host : mx.mx) {
    const std::string exchange = stripDot(host.exchange);
    if (exchange.empty()) {
      continue;  // null MX (RFC 7505): no host to compare
    }
    Matched m = matchAddresses(exchange, cidr4, cidr6, false);
    if (!m || *m) {
      return m;
    }
  }
  return false;
}

const std::vector<std::string>& Evaluation::validatedNames() {
  if (ptr_status_) {
    return validated_;
  }
  // §5.5: the PTR names of <ip>, at most 10 of them, each validated by a forward
  // lookup that must return <ip>; DNS errors skip the name. Here, and only here, RFC
  // 7208 makes a Temporary outcome no match instead of temperror (§5.5: "If a DNS error
  // occurs while doing the PTR RR lookup, then this mechanism fails to match").
  const std::string reverse = ip_.reverseName();
  const dns::Answer ptr = query(reverse, dns::Type::PTR);
  ptr_status_ = dns::classify(ptr);
  if (!isFound(ptr)) {
    return validated_;
  }
  std::size_t checked = 0;
  for (const std::string& raw : ptr.ptr) {
    if (checked++ >= options_.max_mx_ptr_names) {
      break;  // §4.6.4: names beyond the first 10 are ignored
    }
    const std::string name = stripDot(raw);
    if (!detail::isQueryable(name)) {
      continue;
    }
    const dns::Answer a = query(name, addressType());
    if (!isFound(a)) {
      continue;  // §5.5: "If a DNS error occurs ... that domain name is skipped"
    }
    bool found = false;
    if (ip_.v6) {
      for (const auto& addr : a.aaaa) {
        found = found || std::equal(addr.begin(), addr.end(), ip_.bytes.begin());
      }
    } else {
      for (const auto& addr : a.a) {
        found = found || std::equal(addr.begin(), addr.end(), ip_.bytes.begin());
      }
    }
    if (found) {
      validated_.push_back(name);
    }
  }
  return validated_;
}

std::string Evaluation::validatedName(std::string_view domain) {
  // §7.3 p: <domain> itself if validated, else a subdomain of it, else any name.
  const std::vector<std::string>& names = validatedNames();
  for (const std::string& n : names) {
    if (ascii::iequals(n, domain)) {
      return n;
    }
  }
  for (const std::string& n : names) {
    if (endsWithDomain(n, domain)) {
      return n;
    }
  }
  return names.empty() ? std::string("unknown") : names.front();
}

Evaluation::Matched Evaluation::matchPtr(const std::string& target) {
  const std::vector<std::string>& names = validatedNames();
  if (ptr_status_ && *ptr_status_ == dns::Outcome::Absent) {
    if (auto over = countVoid(ip_.reverseName())) {
      return tl::unexpected<Outcome>(std::move(*over));
    }
  }
  // §5.5: a DNS error on the PTR lookup means no match, not temperror.
  for (const std::string& n : names) {
    if (endsWithDomain(n, target)) {
      return true;
    }
  }
  return false;
}

Evaluation::Matched Evaluation::matchExists(const std::string& name) {
  if (!detail::isQueryable(name)) {
    return false;
  }
  // §5.7: always an A query, whatever the family of <ip>.
  const dns::Answer a = query(name, dns::Type::A);
  if (isVoid(a) || (isFound(a) && a.a.empty())) {
    if (auto over = countVoid(name)) {
      return tl::unexpected<Outcome>(std::move(*over));
    }
    return false;
  }
  if (!isFound(a)) {  // Temporary
    return tl::unexpected<Outcome>(error(Result::TempError, dnsProblem(name, dns::Type::A, a)));
  }
  return true;
}

std::string Evaluation::explain(const Outcome& o, const std::string& top_domain) {
  const std::string& domain = o.decided_in.empty() ? top_domain : o.decided_in;
  const MacroContext ctx = context(domain);
  if (o.exp) {
    // §6.2: any problem (expansion, DNS, not exactly one record, syntax) means the
    // exp= is ignored. The lookup does not count against the limits (§4.6.4).
    const std::string name = detail::expandDomain(*o.exp, ctx);
    if (detail::isQueryable(name)) {
      const dns::Answer txt = query(name, dns::Type::TXT);
      if (isFound(txt) && txt.txt.size() == 1) {
        Parsed<MacroString> text = parseExplainString(txt.txt.front());
        if (text) {
          return detail::expandExplanation(*text, ctx);
        }
      }
    }
  }
  Parsed<MacroString> text = parseExplainString(options_.default_explanation);
  return text ? detail::expandExplanation(*text, ctx) : options_.default_explanation;
}

}  // namespace

std::string_view toString(Result r) noexcept {
  switch (r) {
    case Result::None: return "none";
    case Result::Neutral: return "neutral";
    case Result::Pass: return "pass";
    case Result::Fail: return "fail";
    case Result::SoftFail: return "softfail";
    case Result::TempError: return "temperror";
    case Result::PermError: return "permerror";
  }
  MW_UNREACHABLE("Result out of range");
}

Checker::Checker(dns::Resolver& resolver, Options options)
    : resolver_(resolver), options_(std::move(options)) {}

Checker::~Checker() = default;

CheckResult Checker::checkHost(std::string_view client_ip, std::string_view domain,
                               std::string_view sender, std::string_view helo,
                               const dns::Budget& budget) {
  CheckResult out;
  // RFC 8616 §4: a MAIL FROM or HELO domain in U-labels (SMTPUTF8) is evaluated in
  // A-labels, the form the DNS holds, and so are the macros that expand it (d, o, h).
  // An invalid IDN is a malformed <domain>: none (RFC 7208 §4.3), as before.
  const IdnaName name = idnaName(stripDot(domain));
  out.domain = name.value;
  if (!name.problem.empty()) {
    out.result = Result::None;
    out.problem = "'" + out.domain + "' " + name.problem;
    return out;
  }
  const std::optional<IpAddress> ip = IpAddress::parse(client_ip);
  if (!ip) {
    out.result = Result::PermError;
    out.problem = "client address '" + std::string(client_ip.substr(0, 64)) + "' does not parse";
    return out;
  }
  // §4.3: <sender> without a local-part gets "postmaster".
  std::string local_part;
  std::string sender_domain;
  const std::size_t at = sender.rfind('@');
  if (at == std::string_view::npos) {
    sender_domain = stripDot(sender);
  } else {
    local_part = std::string(sender.substr(0, at));
    sender_domain = stripDot(sender.substr(at + 1));
  }
  sender_domain = idnaName(std::move(sender_domain)).value;  // the o macro (RFC 8616 §4)
  if (local_part.empty()) {
    local_part = "postmaster";
  }
  std::string full_sender = local_part + "@" + sender_domain;
  const std::int64_t now = options_.clock ? options_.clock->now() : SystemClock().now();
  Evaluation evaluation(resolver_, options_, budget, *ip, std::move(full_sender),
                        std::move(local_part), std::move(sender_domain),
                        idnaName(std::string(helo)).value, now);
  const Outcome o = evaluation.checkHost(out.domain, 0);
  out.result = o.result;
  out.problem = o.problem;
  if (o.result == Result::Fail) {
    out.explanation = evaluation.explain(o, out.domain);
  }
  return out;
}

CheckResult Checker::checkMailFrom(std::string_view client_ip, std::string_view helo,
                                   std::string_view mail_from, const dns::Budget& budget) {
  if (mail_from.empty()) {
    return checkHelo(client_ip, helo, budget);  // §2.4: the null sender
  }
  const std::size_t at = mail_from.rfind('@');
  const std::string_view domain = at == std::string_view::npos ? mail_from : mail_from.substr(at + 1);
  return checkHost(client_ip, domain, mail_from, helo, budget);
}

CheckResult Checker::checkHelo(std::string_view client_ip, std::string_view helo,
                               const dns::Budget& budget) {
  const std::string sender = "postmaster@" + std::string(helo);
  return checkHost(client_ip, helo, sender, helo, budget);
}

}  // namespace mw::spf
