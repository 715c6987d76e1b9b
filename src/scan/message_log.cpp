#include "mailwarden/scan/message_log.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace mw::scan {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kCut = "...";  // a value or line that hit its bound

// The text form's value rule (message_log.h): printable ASCII without space; '%' and
// everything else as %XX, and `delims` too (the separators of a structured value).
// At most kMaxValue bytes as written, then "...": a %XX is never split.
std::string escapeValue(std::string_view s, std::string_view delims = {}) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(std::min(s.size(), kMaxValue) + kCut.size());
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    const bool escape = u <= 0x20 || u >= 0x7F || c == '%' || delims.find(c) != std::string_view::npos;
    if (out.size() + (escape ? 3 : 1) > kMaxValue) {
      out += kCut;
      return out;
    }
    if (escape) {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0x0F];
    } else {
      out += c;
    }
  }
  return out;
}

// Inside "dkim=pass(d=...)", "lists=zone:result,..." and "rules=ID:score,...".
constexpr std::string_view kNested = "(),:";

std::string_view property(const verdict::AuthResult& r, std::string_view name) noexcept {
  for (const auto& [k, v] : r.properties) {
    if (k == name) {
      return v;
    }
  }
  return {};
}

// SPF's identity: MAIL FROM's (the null sender's HELO counts as "helo") or HELO's.
std::string_view spfIdentity(const verdict::AuthResult& r) noexcept {
  for (const auto& [k, v] : r.properties) {
    if (k == "smtp.mailfrom") {
      return "mailfrom";
    }
    if (k == "smtp.helo") {
      return "helo";
    }
  }
  return {};
}

std::string_view clientName(const MessageLogEntry& e) noexcept {
  // iprev's confirmed name when it passed; else the name the MTA verified ("unknown").
  return e.findings.confirmed_client_name.empty() ? std::string_view(e.envelope.client_name)
                                                  : std::string_view(e.findings.confirmed_client_name);
}

double millis(std::chrono::nanoseconds d) noexcept {
  return static_cast<double>(d.count()) / 1e6;
}

std::vector<std::string> defectNames(const message::Defects& d) {
  std::vector<std::string> out;
  const std::string all = d.describe();
  std::size_t at = 0;
  while (at < all.size()) {
    const std::size_t sp = std::min(all.find(' ', at), all.size());
    if (sp > at) {
      out.emplace_back(all.substr(at, sp - at));
    }
    at = sp + 1;
  }
  return out;
}

// One "key=a,b,c" field of which only the first `shown` items are written.
std::string listField(std::string_view key, const std::vector<std::string>& items,
                      std::size_t shown) {
  std::string out(key);
  out += '=';
  for (std::size_t i = 0; i < shown; ++i) {
    if (i > 0) {
      out += ',';
    }
    out += items[i];
  }
  if (shown < items.size()) {
    out += fmt::format("{}+{}_more", shown > 0 ? "," : "", items.size() - shown);
  }
  return out;
}

// A JSON string of at most kMaxValue bytes, cut on a UTF-8 boundary (then "...").
// Bytes that are not UTF-8 are left for dump()'s replace handler.
Json jsonString(std::string_view s) {
  if (s.size() <= kMaxValue) {
    return Json(std::string(s));
  }
  std::size_t cut = kMaxValue;
  // Back off over continuation bytes (10xxxxxx) so a character is not split.
  for (int i = 0; i < 3 && cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80; ++i) {
    --cut;
  }
  return Json(std::string(s.substr(0, cut)) + std::string(kCut));
}

Json jsonOrNull(std::string_view s) { return s.empty() ? Json(nullptr) : jsonString(s); }

std::string dumpLine(const Json& j) {
  // ensure_ascii: the line is printable ASCII (message_log.h); replace: invalid UTF-8
  // becomes U+FFFD instead of an exception.
  return j.dump(-1, ' ', true, nlohmann::detail::error_handler_t::replace);
}

double roundScore(double s) { return static_cast<double>(std::llround(s * 100.0)) / 100.0; }
double roundMs(double ms) { return static_cast<double>(std::llround(ms * 10.0)) / 10.0; }

}  // namespace

int replyCode(const verdict::Verdict& v) noexcept {
  if (v.reply && (v.action == verdict::Action::TempFail || v.action == verdict::Action::Reject)) {
    return v.reply->code;
  }
  switch (v.action) {
    case verdict::Action::TempFail: return 451;  // a reply is always set; a safe default
    case verdict::Action::Reject: return 550;
    default: return 250;
  }
}

std::string formatText(const MessageLogEntry& e) {
  const verdict::Verdict& v = e.verdict;
  const message::Envelope& env = e.envelope;
  std::string head = fmt::format(
      "action={} code={} score={} ms={:.1f} client={} name={} helo={} from=<{}> rcpts={} "
      "msgid={} headers={} body={}",
      verdict::toString(v.action), replyCode(v), verdict::formatScore(v.score), millis(e.took),
      env.client_ip.empty() ? std::string("unknown") : escapeValue(env.client_ip),
      escapeValue(clientName(e)), escapeValue(env.helo), escapeValue(env.mail_from),
      env.rcpts.size(), escapeValue(e.message_id), e.headers, e.body_bytes);

  // Every check's result, grouped by method in a fixed order whatever the order of
  // Verdict::auth; a check that did not run writes nothing.
  static constexpr verdict::Method kOrder[] = {verdict::Method::Spf, verdict::Method::Dkim,
                                               verdict::Method::Dmarc, verdict::Method::Arc,
                                               verdict::Method::Iprev, verdict::Method::Auth};
  for (const verdict::Method m : kOrder) {
    for (const verdict::AuthResult& r : v.auth) {
      if (r.method != m) {
        continue;
      }
      std::string detail;
      if (m == verdict::Method::Spf) {
        detail = std::string(spfIdentity(r));
      } else if (m == verdict::Method::Dkim) {
        if (const std::string_view d = property(r, "header.d"); !d.empty()) {
          detail = "d=" + escapeValue(d, kNested);
        }
      } else if (m == verdict::Method::Dmarc) {
        if (r.policy) {
          detail = "p=" + std::string(verdict::toString(*r.policy));
        }
        if (r.policy_override) {
          detail += (detail.empty() ? "override=" : ",override=") +
                    std::string(verdict::toString(r.policy_override->type));
        }
      }
      head += fmt::format(" {}={}", verdict::toString(m), verdict::toString(r.result));
      if (!detail.empty()) {
        head += "(" + detail + ")";
      }
    }
  }

  std::vector<std::string> lists;
  for (const reputation::ListHit& h : v.lists) {
    lists.push_back(escapeValue(h.zone, kNested) + ":" + std::string(reputation::toString(h.result)));
  }
  std::vector<std::string> rules;
  for (const verdict::Contribution& c : v.contributions) {
    rules.push_back(escapeValue(c.rule_id, kNested) + ":" + verdict::formatScore(c.score));
  }

  std::string tail;
  if (!e.bypass.empty()) {
    tail += " bypass=" + escapeValue(e.bypass);
  }
  if (e.findings.defects.any()) {
    const std::vector<std::string> names = defectNames(e.findings.defects);
    tail += " " + listField("defects", names, names.size());
  }
  if (e.findings.failure) {
    tail += " failure=" + escapeValue(*e.findings.failure);
  }

  // Within kMaxLine: the rules go first ("+N_more"), then the lists, then the line is cut.
  std::size_t shown_lists = lists.size();
  std::size_t shown_rules = rules.size();
  auto render = [&] {
    std::string line = head;
    if (!lists.empty()) {
      line += " " + listField("lists", lists, shown_lists);
    }
    if (!rules.empty()) {
      line += " " + listField("rules", rules, shown_rules);
    }
    line += tail;
    return line;
  };
  std::string line = render();
  while (line.size() > kMaxLine && shown_rules > 0) {
    --shown_rules;
    line = render();
  }
  while (line.size() > kMaxLine && shown_lists > 0) {
    --shown_lists;
    line = render();
  }
  if (line.size() > kMaxLine) {
    std::size_t cut = kMaxLine - kCut.size();
    // Never split a %XX escape.
    if (line[cut - 1] == '%') {
      cut -= 1;
    } else if (line[cut - 2] == '%') {
      cut -= 2;
    }
    line.resize(cut);
    line += kCut;
  }
  return line;
}

std::string formatJson(const MessageLogEntry& e) {
  const verdict::Verdict& v = e.verdict;
  const message::Envelope& env = e.envelope;
  Json j;
  j["queue_id"] = jsonString(env.queue_id.empty() ? std::string_view("NOQUEUE")
                                                   : std::string_view(env.queue_id));
  j["action"] = std::string(verdict::toString(v.action));
  j["code"] = replyCode(v);
  j["score"] = roundScore(v.score);
  j["ms"] = roundMs(millis(e.took));
  j["client"] = {{"ip", jsonOrNull(env.client_ip)}, {"name", jsonOrNull(clientName(e))}};
  j["helo"] = jsonString(env.helo);
  j["mail_from"] = jsonString(env.mail_from);
  j["rcpts"] = env.rcpts.size();
  j["message_id"] = jsonOrNull(e.message_id);
  j["headers"] = e.headers;
  j["body"] = e.body_bytes;

  Json spf = Json::array();
  Json dkim = Json::array();
  Json dmarc = nullptr;
  Json arc = nullptr;
  Json iprev = nullptr;
  Json auth = nullptr;
  for (const verdict::AuthResult& r : v.auth) {
    const std::string result(verdict::toString(r.result));
    switch (r.method) {
      case verdict::Method::Spf:
        spf.push_back({{"result", result}, {"identity", jsonOrNull(spfIdentity(r))}});
        break;
      case verdict::Method::Dkim:
        dkim.push_back({{"result", result}, {"d", jsonOrNull(property(r, "header.d"))}});
        break;
      case verdict::Method::Dmarc:
        dmarc = {{"result", result},
                 {"p", r.policy ? Json(std::string(verdict::toString(*r.policy))) : Json(nullptr)},
                 {"override", r.policy_override
                                  ? Json(std::string(verdict::toString(r.policy_override->type)))
                                  : Json(nullptr)}};
        break;
      case verdict::Method::Arc: arc = result; break;
      case verdict::Method::Iprev: iprev = result; break;
      // SMTP AUTH as the MTA reported it (RFC 8601 §2.7.4); the login itself is in the
      // A-R field, not in the log line.
      case verdict::Method::Auth: auth = result; break;
    }
  }
  j["results"] = {{"spf", spf},     {"dkim", dkim},   {"dmarc", dmarc},
                  {"arc", arc},     {"iprev", iprev}, {"auth", auth}};

  Json lists = Json::array();
  for (const reputation::ListHit& h : v.lists) {
    lists.push_back({{"zone", jsonString(h.zone)},
                     {"result", std::string(reputation::toString(h.result))}});
  }
  Json rules = Json::array();
  for (const verdict::Contribution& c : v.contributions) {
    rules.push_back({{"id", jsonString(c.rule_id)}, {"score", roundScore(c.score)}});
  }
  j["lists"] = lists;
  j["rules"] = rules;
  j["bypass"] = jsonOrNull(e.bypass);
  j["defects"] = defectNames(e.findings.defects);
  j["failure"] = e.findings.failure ? jsonString(*e.findings.failure) : Json(nullptr);

  // Within kMaxLine: rules dropped from the end first, then lists (each counted).
  std::string line = dumpLine(j);
  auto shrink = [&](const char* key, const char* omitted_key) {
    if (line.size() <= kMaxLine) {
      return;
    }
    Json& arr = j[key];
    std::size_t omitted = 0;
    // Estimated from each element's size (leaving room for the count's own key), then
    // checked on the real dump.
    constexpr std::size_t kRoom = 32;
    std::size_t size = line.size();
    while (size + kRoom > kMaxLine && !arr.empty()) {
      size -= std::min(size, dumpLine(arr.back()).size() + 1);  // the element, its comma
      arr.erase(arr.size() - 1);
      ++omitted;
    }
    if (omitted == 0) {
      return;
    }
    j[omitted_key] = omitted;
    line = dumpLine(j);
    while (line.size() > kMaxLine && !arr.empty()) {
      arr.erase(arr.size() - 1);
      j[omitted_key] = ++omitted;
      line = dumpLine(j);
    }
  };
  shrink("rules", "rules_omitted");
  shrink("lists", "lists_omitted");
  if (line.size() > kMaxLine) {
    // Cannot happen with kMaxValue-bounded strings and the checks' own bounds; a valid
    // object that says so beats a cut one that no shipper can parse.
    Json small;
    for (const char* key : {"queue_id", "action", "code", "score", "ms"}) {
      small[key] = j[key];
    }
    small["truncated"] = true;
    line = dumpLine(small);
  }
  return line;
}

void logMessage(const MessageLogEntry& e, obs::Format format) noexcept {
  if (!obs::enabled(obs::Level::Info)) {
    return;
  }
  // Both branches string_view: a std::string temporary would dangle.
  const std::string_view qid = e.envelope.queue_id.empty()
                                   ? std::string_view("NOQUEUE")
                                   : std::string_view(e.envelope.queue_id);
  try {
    if (format == obs::Format::Json) {
      obs::writeLine(obs::Level::Info, formatJson(e));
    } else {
      obs::write(obs::Level::Info, qid, "scan", formatText(e));
    }
  } catch (...) {
    obs::write(obs::Level::Info, qid, "scan", "(log line could not be formatted)");
  }
}

}  // namespace mw::scan
