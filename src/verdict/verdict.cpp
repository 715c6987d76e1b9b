#include "mailwarden/verdict/verdict.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "mailwarden/base/ascii.h"
#include "mailwarden/base/result.h"

namespace mw::verdict {
namespace {

// A header line is folded once it would pass RFC 5322 §2.1.1's recommended 78 characters.
constexpr std::size_t kFoldAt = 78;

// One line, no CR/LF (a reply is a single SMTP line) and no '%' (libmilter's
// smfi_setreply treats the text as a format).
std::string sanitizeReplyText(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '\r' || c == '\n') {
      out += ' ';
    } else if (c != '%') {
      out += c;
    }
  }
  return out;
}

// Joins items with `sep`, folding with CRLF TAB before an item that would push the
// current line past kFoldAt. `first_line_used` counts the field name and ": ".
std::string foldJoin(const std::vector<std::string>& items, std::string_view sep,
                     std::size_t first_line_used) {
  std::string out;
  std::size_t line = first_line_used;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string& item = items[i];
    if (i > 0) {
      out += sep;
      line += sep.size();
      if (line + item.size() + 1 > kFoldAt) {
        while (!out.empty() && out.back() == ' ') {
          out.pop_back();
        }
        out += "\r\n\t";
        line = 8;
      } else if (sep.back() != ' ') {
        out += ' ';
        ++line;
      }
    }
    out += item;
    line += item.size();
  }
  return out;
}

// RFC 2045 token: the value of an A-R property needs quoting otherwise.
bool isToken(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return false;
    }
    if (std::string_view("()<>@,;:\\\"/[]?=").find(c) != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// RFC 8601 §2.2: pvalue may also be an addr-spec or a domain (local@domain without quoting).
bool isPValue(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  const std::size_t at = s.rfind('@');
  if (at == std::string_view::npos) {
    return isToken(s);
  }
  const std::string_view local = s.substr(0, at);
  const std::string_view domain = s.substr(at + 1);
  return (local.empty() || isToken(local)) && isToken(domain);
}

// CR and LF dropped (a value never folds or breaks the field), then ascii::
// escapeUnprintable: other control characters, 8-bit bytes and '%' as %XX.
std::string printable(std::string_view s) {
  std::string one_line;
  for (const char c : s) {
    if (c != '\r' && c != '\n') {
      one_line += c;
    }
  }
  return ascii::escapeUnprintable(one_line);
}

// RFC 2045 quoted-string (RFC 822's: qtext and quoted-pair are 7-bit, no CR): control
// characters, 8-bit bytes and '%' are written as %XX (printable()), since a quoted-pair
// cannot carry them; '"' and '\\' are quoted-pairs.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (const char c : printable(s)) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
  return out;
}

// Comment text for a reason: parentheses and backslashes escaped (RFC 5322 §3.2.2 ctext),
// control characters, 8-bit bytes and '%' as %XX.
std::string commentText(std::string_view s) {
  std::string out;
  for (const char c : printable(s)) {
    if (c == '(' || c == ')' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

std::string renderResinfo(const AuthResult& r) {
  std::string out = std::string(toString(r.method)) + "=" + std::string(toString(r.result));
  if (!r.reason.empty()) {
    out += " (" + commentText(r.reason) + ")";
  }
  for (const auto& [name, value] : r.properties) {
    out += " " + name + "=" + (isPValue(value) ? value : quoted(value));
  }
  return out;
}

// Skips RFC 5322 CFWS: whitespace, folding, and (nested) comments.
std::size_t skipCfws(std::string_view s, std::size_t i) {
  while (i < s.size()) {
    const char c = s[i];
    if (ascii::isWsp(c)) {
      ++i;
      continue;
    }
    if (c != '(') {
      break;
    }
    int depth = 0;
    for (; i < s.size(); ++i) {
      if (s[i] == '\\') {
        ++i;
        continue;
      }
      if (s[i] == '(') {
        ++depth;
      } else if (s[i] == ')' && --depth == 0) {
        ++i;
        break;
      }
    }
    if (depth != 0) {
      return s.size();  // unterminated comment: nothing follows
    }
  }
  return i;
}

// RFC 8601 §2.2 over one value, left to right; every method returns nullopt (or false)
// where the grammar is not followed, and the caller gives up on the whole field.
class AuthresParser {
 public:
  explicit AuthresParser(std::string_view s) : s_(s) {}

  std::optional<ParsedAuthenticationResults> parse() {
    ParsedAuthenticationResults out;
    std::optional<std::string> id = authservIdOf(s_);
    if (!id) {
      return std::nullopt;
    }
    out.authserv_id = std::move(*id);
    // authservIdOf() accepted it: skip to its ';' (the id, CFWS and a version before it;
    // a quoted id may hold ';', so past the closing quote first).
    skip();
    if (i_ < s_.size() && s_[i_] == '"') {
      for (++i_; i_ < s_.size() && s_[i_] != '"'; ++i_) {
        i_ += s_[i_] == '\\' ? 1 : 0;
      }
      ++i_;
    }
    while (i_ < s_.size() && s_[i_] != ';') {
      ++i_;
      skip();
    }
    // no-result: "; none" and the end.
    const std::size_t mark = i_;
    if (eat(';')) {
      std::optional<std::string> w = keyword();
      if (w && ascii::iequals(*w, "none") && atEnd()) {
        return out;
      }
    }
    i_ = mark;
    while (eat(';')) {
      if (atEnd()) {
        break;  // a trailing ';' (common, not in the grammar): read leniently
      }
      if (out.results.size() >= kMaxParsedResults) {
        return std::nullopt;
      }
      std::optional<ParsedResult> r = resinfo();
      if (!r) {
        return std::nullopt;
      }
      out.results.push_back(std::move(*r));
    }
    if (!atEnd() || out.results.empty() || broken_) {
      return std::nullopt;
    }
    return out;
  }

 private:
  // skipCfws() reads an unterminated comment as running to the end (what a lenient
  // reader does, which claimsAuthservId() needs); here it breaks the field.
  void skip() {
    const std::size_t from = i_;
    i_ = skipCfws(s_, i_);
    if (i_ == s_.size() && from < s_.size()) {
      int depth = 0;
      for (std::size_t k = from; k < s_.size(); ++k) {
        if (s_[k] == '\\') {
          ++k;
        } else if (s_[k] == '(') {
          ++depth;
        } else if (s_[k] == ')') {
          --depth;
        }
      }
      broken_ = broken_ || depth > 0;
    }
  }
  bool atEnd() {
    skip();
    return i_ >= s_.size();
  }
  bool eat(char c) {
    skip();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  // Keyword (RFC 5321 Ldh-str; '_' too, which RFC 8601 property names use in practice),
  // lower-cased.
  std::optional<std::string> keyword() {
    skip();
    const std::size_t start = i_;
    while (i_ < s_.size() && (ascii::isAlpha(s_[i_]) || ascii::isDigit(s_[i_]) || s_[i_] == '-' || s_[i_] == '_')) {
      ++i_;
    }
    if (i_ == start) {
      return std::nullopt;
    }
    return ascii::lower(s_.substr(start, i_ - start));
  }
  std::optional<std::string> quotedString() {
    std::string out;
    for (++i_; i_ < s_.size() && s_[i_] != '"'; ++i_) {
      if (s_[i_] == '\\' && i_ + 1 < s_.size()) {
        ++i_;
      }
      out += s_[i_];
    }
    if (i_ >= s_.size()) {
      return std::nullopt;
    }
    ++i_;
    return out;
  }
  // value (RFC 2045 token or quoted-string), or for a pvalue also an addr-spec or a
  // domain: a run of token characters and '@', or a quoted local-part then "@domain".
  std::optional<std::string> value(bool pvalue) {
    skip();
    if (i_ >= s_.size()) {
      return std::nullopt;
    }
    std::string out;
    if (s_[i_] == '"') {
      std::optional<std::string> q = quotedString();
      if (!q) {
        return std::nullopt;
      }
      out = std::move(*q);
      if (!pvalue || i_ >= s_.size() || s_[i_] != '@') {
        return out;
      }
    }
    const std::size_t start = i_;
    while (i_ < s_.size() && (isToken(s_.substr(i_, 1)) || (pvalue && s_[i_] == '@'))) {
      ++i_;
    }
    if (i_ == start && out.empty()) {
      return std::nullopt;
    }
    out += s_.substr(start, i_ - start);
    return out;
  }
  // resinfo after its ';': methodspec [reasonspec] [propspec...].
  std::optional<ParsedResult> resinfo() {
    ParsedResult r;
    std::optional<std::string> method = keyword();
    if (!method) {
      return std::nullopt;
    }
    r.method = std::move(*method);
    if (eat('/')) {  // method-version
      skip();
      const std::size_t start = i_;
      while (i_ < s_.size() && ascii::isDigit(s_[i_])) {
        ++i_;
      }
      if (i_ == start) {
        return std::nullopt;
      }
    }
    std::optional<std::string> result;
    if (!eat('=') || !(result = keyword())) {
      return std::nullopt;
    }
    r.result = std::move(*result);
    while (!atEnd() && s_[i_] != ';') {
      std::optional<std::string> ptype = keyword();
      if (!ptype) {
        return std::nullopt;
      }
      if (*ptype == "reason") {
        std::optional<std::string> v;
        if (!eat('=') || !(v = value(false))) {
          return std::nullopt;
        }
        r.reason = std::move(*v);
        continue;
      }
      std::optional<std::string> property;
      std::optional<std::string> v;
      if (!eat('.') || !(property = keyword()) || !eat('=') || !(v = value(true))) {
        return std::nullopt;
      }
      if (r.properties.size() >= kMaxParsedProperties) {
        return std::nullopt;
      }
      r.properties.emplace_back(*ptype + "." + *property, std::move(*v));
    }
    return r;
  }

  std::string_view s_;
  std::size_t i_ = 0;
  bool broken_ = false;
};

std::string spamStatus(const Policy& policy, const Verdict& v) {
  std::vector<std::string> tests;
  for (const Contribution& c : v.contributions) {
    tests.push_back(c.rule_id);
  }
  const bool spam = v.score >= policy.tag_threshold;
  std::string head = std::string(spam ? "Yes" : "No") + ", score=" + formatScore(v.score) +
                     " required=" + formatScore(policy.tag_threshold) + " tests=";
  if (tests.empty()) {
    return head + "none";
  }
  return head + foldJoin(tests, ",", 15 + head.size());
}

}  // namespace

std::string_view toString(Action a) noexcept {
  switch (a) {
    case Action::Accept: return "accept";
    case Action::Tag: return "tag";
    case Action::Quarantine: return "quarantine";
    case Action::TempFail: return "tempfail";
    case Action::Reject: return "reject";
  }
  MW_UNREACHABLE("Action out of range");
}

bool parseAction(std::string_view text, Action& out) noexcept {
  for (const Action a : {Action::Accept, Action::Tag, Action::Quarantine, Action::TempFail,
                         Action::Reject}) {
    if (ascii::iequals(text, toString(a))) {
      out = a;
      return true;
    }
  }
  return false;
}

std::string_view toString(Method m) noexcept {
  switch (m) {
    case Method::Spf: return "spf";
    case Method::Dkim: return "dkim";
    case Method::Dmarc: return "dmarc";
    case Method::Iprev: return "iprev";
    case Method::Arc: return "arc";
    case Method::Auth: return "auth";
  }
  MW_UNREACHABLE("Method out of range");
}

std::optional<Method> parseMethod(std::string_view text) noexcept {
  for (const Method m :
       {Method::Spf, Method::Dkim, Method::Dmarc, Method::Iprev, Method::Arc, Method::Auth}) {
    if (ascii::iequals(text, toString(m))) {
      return m;
    }
  }
  return std::nullopt;
}

std::string_view toString(Code c) noexcept {
  switch (c) {
    case Code::None: return "none";
    case Code::Pass: return "pass";
    case Code::Fail: return "fail";
    case Code::SoftFail: return "softfail";
    case Code::Neutral: return "neutral";
    case Code::Policy: return "policy";
    case Code::TempError: return "temperror";
    case Code::PermError: return "permerror";
  }
  MW_UNREACHABLE("Code out of range");
}

std::optional<Code> parseCode(std::string_view text) noexcept {
  for (const Code c : {Code::None, Code::Pass, Code::Fail, Code::SoftFail, Code::Neutral,
                       Code::Policy, Code::TempError, Code::PermError}) {
    if (ascii::iequals(text, toString(c))) {
      return c;
    }
  }
  return std::nullopt;
}

std::string_view toString(DmarcPolicy p) noexcept {
  switch (p) {
    case DmarcPolicy::None: return "none";
    case DmarcPolicy::Quarantine: return "quarantine";
    case DmarcPolicy::Reject: return "reject";
  }
  MW_UNREACHABLE("DmarcPolicy out of range");
}

std::string_view toString(PolicyOverride::Type t) noexcept {
  switch (t) {
    case PolicyOverride::Type::TrustedForwarder: return "trusted_forwarder";
    case PolicyOverride::Type::LocalPolicy: return "local_policy";
  }
  MW_UNREACHABLE("PolicyOverride::Type out of range");
}

std::string formatScore(double score) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", score);
  if (std::string_view(buf) == "-0.00") {
    return "0.00";
  }
  return buf;
}

std::string_view toString(BypassCheck c) noexcept {
  switch (c) {
    case BypassCheck::Spf: return "spf";
    case BypassCheck::Iprev: return "iprev";
    case BypassCheck::Lists: return "lists";
    case BypassCheck::Dmarc: return "dmarc";
  }
  MW_UNREACHABLE("BypassCheck out of range");
}

std::string_view toString(Bypass::Reason r) noexcept {
  switch (r) {
    case Bypass::Reason::TrustedNetwork: return "trusted_network";
    case Bypass::Reason::Authenticated: return "authenticated";
  }
  MW_UNREACHABLE("Bypass::Reason out of range");
}

std::string_view toString(Bypass::Mode m) noexcept {
  switch (m) {
    case Bypass::Mode::Skip: return "skip";
    case Bypass::Mode::Score: return "score";
  }
  MW_UNREACHABLE("Bypass::Mode out of range");
}

bool Bypass::covers(BypassCheck c) const noexcept {
  return std::find(checks.begin(), checks.end(), c) != checks.end();
}

std::string bypassComment(const Bypass& b) {
  const std::string_view why = b.reason == Bypass::Reason::TrustedNetwork
                                   ? "trusted network"
                                   : "authenticated client";
  if (b.checks.empty()) {
    return std::string(why);
  }
  std::string out = b.mode == Bypass::Mode::Skip ? "not checked: " : "not enforced: ";
  for (std::size_t i = 0; i < b.checks.size(); ++i) {
    out += (i == 0 ? "" : ", ") + std::string(toString(b.checks[i]));
  }
  out += "; ";
  out += why;
  return out;
}

std::string renderAuthenticationResults(std::string_view authserv_id,
                                        const std::vector<AuthResult>& results,
                                        std::string_view comment) {
  std::string out(authserv_id);
  if (!comment.empty()) {
    out += " (" + commentText(comment) + ")";
  }
  if (results.empty()) {
    return out + "; none";  // RFC 8601 §2.2 no-result
  }
  for (const AuthResult& r : results) {
    out += ";\r\n\t" + renderResinfo(r);
  }
  return out;
}

std::optional<std::string> authservIdOf(std::string_view value) {
  std::size_t i = skipCfws(value, 0);
  if (i >= value.size()) {
    return std::nullopt;
  }
  std::string id;
  if (value[i] == '"') {
    for (++i; i < value.size() && value[i] != '"'; ++i) {
      if (value[i] == '\\' && i + 1 < value.size()) {
        ++i;
      }
      id += value[i];
    }
    if (i >= value.size()) {
      return std::nullopt;  // unterminated quoted-string
    }
    ++i;
  } else {
    const std::size_t start = i;
    while (i < value.size() && !ascii::isWsp(value[i]) && value[i] != ';' && value[i] != '(') {
      ++i;
    }
    id.assign(value.substr(start, i - start));
    if (!isToken(id)) {
      return std::nullopt;
    }
  }
  // Optional version (RFC 8601 §2.2: authserv-id [ CFWS authres-version ]), then ';'.
  i = skipCfws(value, i);
  while (i < value.size() && ascii::isDigit(value[i])) {
    ++i;
  }
  i = skipCfws(value, i);
  if (i >= value.size() || value[i] != ';') {
    return std::nullopt;
  }
  if (id.empty()) {
    return std::nullopt;
  }
  return id;
}

std::optional<ParsedAuthenticationResults> parseAuthenticationResults(std::string_view value) {
  return AuthresParser(value).parse();
}

bool claimsAuthservId(std::string_view value, std::string_view our_id) {
  if (const std::optional<std::string> id = authservIdOf(value)) {
    return ascii::iequals(*id, our_id);  // parses: ours or someone else's
  }
  // Unparsable. A lenient reader takes the first word before ';' for the authserv-id:
  // skip CFWS (an unterminated comment runs to the end), an opening quote, then up to
  // whitespace, ';', '(', '"' or the end.
  std::size_t i = skipCfws(value, 0);
  if (i < value.size() && value[i] == '"') {
    ++i;
  }
  const std::size_t start = i;
  while (i < value.size() && !ascii::isWsp(value[i]) && value[i] != ';' && value[i] != '(' &&
         value[i] != '"') {
    ++i;
  }
  return i > start && ascii::iequals(value.substr(start, i - start), our_id);
}

Verdict decide(const Policy& policy, const Findings& findings) {
  Verdict v;
  // arc after dmarc (issue 18; Gmail's and authentication_milter's order): the ARC stage
  // runs before DMARC, which reads its result, but is reported last. RFC 8601 gives the
  // order no meaning; keeping the others in stage order keeps every earlier field as it
  // was. (Not std::stable_partition: its buffer is a nothrow allocation whose failure it
  // hides, and an allocation failure must reach the failure policy.)
  v.auth.reserve(findings.auth.size());
  for (const bool arc : {false, true}) {
    for (const AuthResult& r : findings.auth) {
      if ((r.method == Method::Arc) == arc) {
        v.auth.push_back(r);
      }
    }
  }
  v.lists = findings.lists;
  v.arc = findings.arc;
  v.bypass = findings.bypass;

  // Contributions sorted by rule id, so headers are stable byte for byte.
  std::map<std::string, double> by_rule;
  for (const Contribution& c : findings.contributions) {
    by_rule[c.rule_id] += c.score;
  }
  for (const auto& [id, score] : by_rule) {
    v.contributions.push_back(Contribution{id, score});
    v.score += score;
  }

  Action action = Action::Accept;
  if (v.score >= policy.reject_threshold) {
    action = Action::Reject;
  } else if (v.score >= policy.quarantine_threshold) {
    action = Action::Quarantine;
  } else if (v.score >= policy.tag_threshold) {
    action = Action::Tag;
  }
  action = mostSevere(action, findings.forced);
  if (findings.failure) {
    v.failed = true;
    action = mostSevere(action, policy.on_failure);
  }
  v.action = action;

  if (action == Action::TempFail || action == Action::Reject) {
    const SmtpReply& fallback =
        action == Action::TempFail ? policy.tempfail_reply : policy.reject_reply;
    SmtpReply reply = (findings.forced == action && findings.forced_reply) ? *findings.forced_reply
                                                                           : fallback;
    reply.text = sanitizeReplyText(reply.text);
    v.reply = std::move(reply);
    return v;  // nothing is delivered, so no header edits
  }
  if (action == Action::Quarantine) {
    v.quarantine_reason = sanitizeReplyText(policy.quarantine_reason);
  }

  // Removals first, highest occurrence first within each name.
  std::vector<HeaderRef> removals = findings.impostors;
  if (policy.headers.remove_forged_authres) {
    for (const int occurrence : findings.forged_authres) {
      removals.push_back(HeaderRef{"Authentication-Results", occurrence});
    }
  }
  std::sort(removals.begin(), removals.end(), [](const HeaderRef& a, const HeaderRef& b) {
    const std::string la = ascii::lower(a.name);
    const std::string lb = ascii::lower(b.name);
    if (la != lb) {
      return la < lb;
    }
    return a.occurrence > b.occurrence;
  });
  removals.erase(std::unique(removals.begin(), removals.end(),
                             [](const HeaderRef& a, const HeaderRef& b) {
                               return ascii::iequals(a.name, b.name) &&
                                      a.occurrence == b.occurrence;
                             }),
                 removals.end());
  for (const HeaderRef& r : removals) {
    v.edits.push_back(HeaderEdit{HeaderEdit::Kind::Remove, r.name, r.occurrence, ""});
  }

  auto prepend = [&v](std::string name, std::string value) {
    v.edits.push_back(HeaderEdit{HeaderEdit::Kind::Prepend, std::move(name), 0, std::move(value)});
  };
  prepend("Authentication-Results",
          renderAuthenticationResults(policy.authserv_id, v.auth,
                                      v.bypass ? bypassComment(*v.bypass) : std::string()));
  if (policy.headers.verdict) {
    std::string value(toString(action));
    if (v.failed) {
      value += " (not fully evaluated: " + commentText(*findings.failure) + ")";
    }
    prepend("X-Mailwarden-Verdict", std::move(value));
  }
  if (policy.headers.score) {
    prepend("X-Mailwarden-Score", formatScore(v.score));
  }
  if (policy.headers.rules) {
    std::vector<std::string> items;
    for (const Contribution& c : v.contributions) {
      items.push_back(c.rule_id + "=" + formatScore(c.score));
    }
    prepend("X-Mailwarden-Rules",
            items.empty() ? std::string("none") : foldJoin(items, ",", 20));
  }
  if (policy.headers.spam_headers) {
    prepend("X-Spam-Flag", v.score >= policy.tag_threshold ? "YES" : "NO");
    prepend("X-Spam-Status", spamStatus(policy, v));
  }
  return v;
}

Verdict failureVerdict(const Policy& policy, std::string_view reason) {
  Findings findings;
  findings.failure = std::string(reason);
  return decide(policy, findings);
}

}  // namespace mw::verdict
