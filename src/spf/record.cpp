// The strict RFC 7208 record parser: section 12 ABNF, section 7.1 macro syntax.
#include "mailwarden/spf/record.h"

#include <arpa/inet.h>

#include <cstdio>
#include <utility>

#include "mailwarden/base/ascii.h"
#include "mailwarden/base/result.h"

namespace mw::spf {
namespace {

using ascii::isAlpha;
using ascii::isDigit;

bool isAlnum(char c) noexcept { return isAlpha(c) || isDigit(c); }

// printable - escapes a term for messages: bytes outside %x20-7E become \xNN.
std::string printable(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u <= 0x7e) {
      out.push_back(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", u);
      out += buf;
    }
  }
  return out;
}

tl::unexpected<SyntaxError> syntaxError(std::string reason, std::string_view term,
                                        std::size_t offset) {
  return tl::unexpected<SyntaxError>(SyntaxError{std::move(reason), printable(term), offset});
}

// isMacroLetter - RFC 7208 §7.1 macro-letter; c, r, t only in explanation text.
bool isMacroLetter(char lower, bool explanation) noexcept {
  switch (lower) {
    case 's': case 'l': case 'o': case 'd': case 'i': case 'p': case 'h': case 'v':
      return true;
    case 'c': case 'r': case 't':
      return explanation;
    default:
      return false;
  }
}

bool isDelimiter(char c) noexcept {
  switch (c) {
    case '.': case '-': case '+': case ',': case '/': case '_': case '=':
      return true;
    default:
      return false;
  }
}

struct MacroParse {
  MacroString value;
  bool ends_with_macro = false;  // the last token was a macro-expand (domain-end, §12)
  std::size_t tail_start = 0;    // where the literal text after the last macro-expand begins
};

// parseMacroString - macro-string (or explain-string when `explanation`: SP and the
// letters c, r, t allowed). Errors name the problem; the caller adds the term.
tl::expected<MacroParse, std::string> parseMacroString(std::string_view s, bool explanation) {
  MacroParse out;
  out.value.text = std::string(s);
  std::string literal;
  const auto flushLiteral = [&] {
    if (!literal.empty()) {
      MacroItem item;
      item.literal = std::move(literal);
      out.value.items.push_back(std::move(item));
      literal.clear();
    }
  };
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    const auto u = static_cast<unsigned char>(c);
    if (c != '%') {
      // macro-literal = %x21-24 / %x26-7E; explain-string also allows SP (§12).
      if ((u >= 0x21 && u <= 0x7e) || (explanation && c == ' ')) {
        literal.push_back(c);
        ++i;
        out.ends_with_macro = false;
        continue;
      }
      return tl::unexpected<std::string>("character not allowed in a macro-string");
    }
    if (i + 1 >= s.size()) {
      return tl::unexpected<std::string>("'%' at the end of a macro-string");
    }
    const char next = s[i + 1];
    if (next == '%' || next == '_' || next == '-') {  // §7.1: "%%", "%_", "%-"
      literal += next == '%' ? "%" : next == '_' ? " " : "%20";
      i += 2;
      out.ends_with_macro = true;
      out.tail_start = i;
      continue;
    }
    if (next != '{') {
      return tl::unexpected<std::string>("'%' not followed by '{', '%', '_' or '-'");
    }
    // "%{" macro-letter transformers *delimiter "}"
    std::size_t j = i + 2;
    if (j >= s.size()) {
      return tl::unexpected<std::string>("unterminated macro");
    }
    MacroItem item;
    item.kind = MacroItem::Kind::Macro;
    const char letter = s[j];
    item.letter = ascii::toLower(letter);
    item.url_escape = letter >= 'A' && letter <= 'Z';
    if (!isAlpha(letter) || !isMacroLetter(item.letter, explanation)) {
      return tl::unexpected<std::string>(
          isAlpha(letter) && isMacroLetter(item.letter, true)
              ? std::string("macro letter '") + letter + "' is allowed only in explanation text"
              : "unknown macro letter");
    }
    ++j;
    bool have_digits = false;
    unsigned digits = 0;
    while (j < s.size() && isDigit(s[j])) {
      have_digits = true;
      digits = digits * 10 + static_cast<unsigned>(s[j] - '0');
      if (digits > kMaxMacroDigits) {
        digits = kMaxMacroDigits + 1;  // saturate; capped below
      }
      ++j;
    }
    if (have_digits && digits == 0) {
      return tl::unexpected<std::string>("macro DIGIT transformer of zero");  // §7.3
    }
    item.digits = digits > kMaxMacroDigits ? kMaxMacroDigits : digits;
    if (j < s.size() && (s[j] == 'r' || s[j] == 'R')) {
      item.reverse = true;
      ++j;
    }
    while (j < s.size() && isDelimiter(s[j])) {
      if (item.delimiters.find(s[j]) == std::string::npos) {
        item.delimiters.push_back(s[j]);
      }
      ++j;
    }
    if (j >= s.size() || s[j] != '}') {
      return tl::unexpected<std::string>("malformed macro");
    }
    flushLiteral();
    out.value.items.push_back(std::move(item));
    i = j + 1;
    out.ends_with_macro = true;
    out.tail_start = i;
  }
  flushLiteral();
  return out;
}

// isTopLabel - toplabel = ( *alphanum ALPHA *alphanum ) /
//                         ( 1*alphanum "-" *( alphanum / "-" ) alphanum )   (§12)
bool isTopLabel(std::string_view l) noexcept {
  if (l.empty() || !isAlnum(l.front()) || !isAlnum(l.back())) {
    return false;
  }
  bool alpha_or_dash = false;
  for (const char c : l) {
    if (!isAlnum(c) && c != '-') {
      return false;
    }
    alpha_or_dash = alpha_or_dash || isAlpha(c) || c == '-';
  }
  return alpha_or_dash;  // an all-numeric toplabel is not a domain (a-numeric)
}

// parseDomainSpecImpl - domain-spec = macro-string domain-end;
// domain-end = ( "." toplabel [ "." ] ) / macro-expand.
tl::expected<MacroString, std::string> parseDomainSpecImpl(std::string_view s) {
  if (s.empty()) {
    return tl::unexpected<std::string>("empty domain-spec");
  }
  auto parsed = parseMacroString(s, false);
  if (!parsed) {
    return tl::unexpected<std::string>(std::move(parsed.error()));
  }
  if (parsed->ends_with_macro) {
    return std::move(parsed->value);
  }
  std::string_view tail = s.substr(parsed->tail_start);
  if (!tail.empty() && tail.back() == '.') {
    tail.remove_suffix(1);
  }
  const std::size_t dot = tail.rfind('.');
  if (dot == std::string_view::npos) {
    return tl::unexpected<std::string>("domain-spec does not end in '.' toplabel or a macro");
  }
  if (!isTopLabel(tail.substr(dot + 1))) {
    return tl::unexpected<std::string>("invalid toplabel in domain-spec");
  }
  return std::move(parsed->value);
}

// parseCidr - the digits of a CIDR length: "0" / %x31-39 *DIGIT, at most `max` (§12).
std::optional<unsigned> parseCidr(std::string_view digits, unsigned max) noexcept {
  if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits.front() == '0')) {
    return std::nullopt;
  }
  unsigned v = 0;
  for (const char c : digits) {
    if (!isDigit(c)) {
      return std::nullopt;
    }
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > max) {
    return std::nullopt;
  }
  return v;
}

// parseIp4Network - qnum "." qnum "." qnum "." qnum, no leading zeros (§12).
bool parseIp4Network(std::string_view s, std::array<std::uint8_t, 16>& out) noexcept {
  for (int octet = 0; octet < 4; ++octet) {
    std::size_t n = 0;
    unsigned v = 0;
    while (n < s.size() && isDigit(s[n]) && n < 4) {
      v = v * 10 + static_cast<unsigned>(s[n] - '0');
      ++n;
    }
    if (n == 0 || n > 3 || v > 255 || (n > 1 && s.front() == '0')) {
      return false;
    }
    out[static_cast<std::size_t>(octet)] = static_cast<std::uint8_t>(v);
    s.remove_prefix(n);
    if (octet < 3) {
      if (s.empty() || s.front() != '.') {
        return false;
      }
      s.remove_prefix(1);
    }
  }
  return s.empty();
}

// parseIp6Network - RFC 4291 §2.2 text forms, via inet_pton (locale-independent).
bool parseIp6Network(std::string_view s, std::array<std::uint8_t, 16>& out) noexcept {
  char buf[64];
  if (s.empty() || s.size() >= sizeof buf) {
    return false;
  }
  for (const char c : s) {
    if (!(isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.')) {
      return false;
    }
  }
  s.copy(buf, s.size());
  buf[s.size()] = '\0';
  return inet_pton(AF_INET6, buf, out.data()) == 1;
}

struct DualCidr {
  std::optional<unsigned> v4;
  std::optional<unsigned> v6;
};

// splitDualCidr - removes a trailing dual-cidr-length ( [ "/" digits ] [ "//" digits ] )
// from `s`; the digits are validated by the caller.
std::pair<std::string_view, std::pair<std::string_view, std::string_view>> splitDualCidr(
    std::string_view s) noexcept {
  std::string_view v4;
  std::string_view v6;
  std::size_t i = s.size();
  while (i > 0 && isDigit(s[i - 1])) {
    --i;
  }
  if (i < s.size() && i >= 2 && s[i - 1] == '/' && s[i - 2] == '/') {
    v6 = s.substr(i);
    s = s.substr(0, i - 2);
    i = s.size();
    while (i > 0 && isDigit(s[i - 1])) {
      --i;
    }
  }
  if (i < s.size() && i >= 1 && s[i - 1] == '/') {
    v4 = s.substr(i);
    s = s.substr(0, i - 1);
  }
  return {s, {v4, v6}};
}

tl::expected<Mechanism, std::string> parseMechanism(std::string_view term) {
  Mechanism m;
  m.text = std::string(term);
  std::string_view t = term;
  switch (t.empty() ? '\0' : t.front()) {
    case '+': m.qualifier = Qualifier::Pass; t.remove_prefix(1); break;
    case '-': m.qualifier = Qualifier::Fail; t.remove_prefix(1); break;
    case '~': m.qualifier = Qualifier::SoftFail; t.remove_prefix(1); break;
    case '?': m.qualifier = Qualifier::Neutral; t.remove_prefix(1); break;
    default: break;
  }
  std::size_t name_end = 0;
  while (name_end < t.size() && t[name_end] != ':' && t[name_end] != '/') {
    ++name_end;
  }
  const std::string name = ascii::lower(t.substr(0, name_end));
  std::string_view rest = t.substr(name_end);
  const bool has_arg = !rest.empty() && rest.front() == ':';
  const std::string_view arg = has_arg ? rest.substr(1) : std::string_view();

  const auto domainSpec = [&](std::string_view s) -> tl::expected<void, std::string> {
    auto d = parseDomainSpecImpl(s);
    if (!d) {
      return tl::unexpected<std::string>(std::move(d.error()));
    }
    m.domain = std::move(*d);
    return {};
  };

  if (name == "all") {  // all = "all" (§5.1)
    m.kind = MechanismKind::All;
    if (!rest.empty()) {
      return tl::unexpected<std::string>("'all' takes no argument");
    }
    return m;
  }
  if (name == "include" || name == "exists") {  // ":" domain-spec (§5.2, §5.7)
    m.kind = name == "include" ? MechanismKind::Include : MechanismKind::Exists;
    if (!has_arg) {
      return tl::unexpected<std::string>("'" + name + "' needs ':' domain-spec");
    }
    if (auto ok = domainSpec(arg); !ok) {
      return tl::unexpected<std::string>(std::move(ok.error()));
    }
    return m;
  }
  if (name == "ptr") {  // "ptr" [ ":" domain-spec ] (§5.5)
    m.kind = MechanismKind::Ptr;
    if (!rest.empty() && !has_arg) {
      return tl::unexpected<std::string>("'ptr' takes no CIDR length");
    }
    if (has_arg) {
      if (auto ok = domainSpec(arg); !ok) {
        return tl::unexpected<std::string>(std::move(ok.error()));
      }
    }
    return m;
  }
  if (name == "a" || name == "mx") {  // [ ":" domain-spec ] [ dual-cidr-length ] (§5.3, §5.4)
    m.kind = name == "a" ? MechanismKind::A : MechanismKind::Mx;
    auto [remaining, cidrs] = splitDualCidr(has_arg ? arg : rest);
    if (!cidrs.first.empty()) {
      const auto v = parseCidr(cidrs.first, 32);
      if (!v) {
        return tl::unexpected<std::string>("invalid ip4 CIDR length");
      }
      m.cidr4 = *v;
    }
    if (!cidrs.second.empty()) {
      const auto v = parseCidr(cidrs.second, 128);
      if (!v) {
        return tl::unexpected<std::string>("invalid ip6 CIDR length");
      }
      m.cidr6 = *v;
    }
    if (has_arg) {
      if (auto ok = domainSpec(remaining); !ok) {
        return tl::unexpected<std::string>(std::move(ok.error()));
      }
    } else if (!remaining.empty()) {
      return tl::unexpected<std::string>("invalid dual-cidr-length");
    }
    return m;
  }
  if (name == "ip4" || name == "ip6") {  // ":" ipN-network [ ipN-cidr-length ] (§5.6)
    const bool v4 = name == "ip4";
    m.kind = v4 ? MechanismKind::Ip4 : MechanismKind::Ip6;
    if (!has_arg) {
      return tl::unexpected<std::string>("'" + name + "' needs ':' network");
    }
    const std::size_t slash = arg.find('/');
    const std::string_view net = arg.substr(0, slash);
    if (v4 ? !parseIp4Network(net, m.network) : !parseIp6Network(net, m.network)) {
      return tl::unexpected<std::string>(v4 ? "invalid ip4 network" : "invalid ip6 network");
    }
    if (slash != std::string_view::npos) {
      const auto v = parseCidr(arg.substr(slash + 1), v4 ? 32 : 128);
      if (!v) {
        return tl::unexpected<std::string>(v4 ? "invalid ip4 CIDR length" : "invalid ip6 CIDR length");
      }
      (v4 ? m.cidr4 : m.cidr6) = *v;
    }
    return m;
  }
  return tl::unexpected<std::string>("unknown mechanism");
}

// modifierName - the length of `name` in name "=" ..., or 0 when the term is not a
// modifier. name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) (§12).
std::size_t modifierName(std::string_view term) noexcept {
  if (term.empty() || !isAlpha(term.front())) {
    return 0;
  }
  std::size_t i = 1;
  while (i < term.size() &&
         (isAlnum(term[i]) || term[i] == '-' || term[i] == '_' || term[i] == '.')) {
    ++i;
  }
  return i < term.size() && term[i] == '=' ? i : 0;
}

}  // namespace

bool MacroString::hasMacros() const noexcept {
  for (const MacroItem& item : items) {
    if (item.kind == MacroItem::Kind::Macro) {
      return true;
    }
  }
  return false;
}

std::string_view toString(MechanismKind k) noexcept {
  switch (k) {
    case MechanismKind::All: return "all";
    case MechanismKind::Include: return "include";
    case MechanismKind::A: return "a";
    case MechanismKind::Mx: return "mx";
    case MechanismKind::Ptr: return "ptr";
    case MechanismKind::Ip4: return "ip4";
    case MechanismKind::Ip6: return "ip6";
    case MechanismKind::Exists: return "exists";
  }
  MW_UNREACHABLE("MechanismKind out of range");
}

bool Mechanism::queriesDns() const noexcept {
  switch (kind) {
    case MechanismKind::Include:
    case MechanismKind::A:
    case MechanismKind::Mx:
    case MechanismKind::Ptr:
    case MechanismKind::Exists:
      return true;
    case MechanismKind::All:
    case MechanismKind::Ip4:
    case MechanismKind::Ip6:
      return false;
  }
  MW_UNREACHABLE("MechanismKind out of range");
}

bool Record::hasAll() const noexcept {
  for (const Mechanism& m : mechanisms) {
    if (m.kind == MechanismKind::All) {
      return true;
    }
  }
  return false;
}

std::string SyntaxError::describe() const {
  return term.empty() ? reason : reason + " in '" + term + "'";
}

bool isSpfRecord(std::string_view txt) noexcept {
  constexpr std::string_view kVersion = "v=spf1";
  return txt.size() >= kVersion.size() && ascii::iequals(txt.substr(0, kVersion.size()), kVersion) &&
         (txt.size() == kVersion.size() || txt[kVersion.size()] == ' ');
}

Parsed<Record> parseRecord(std::string_view txt) {
  if (txt.size() > kMaxRecordBytes) {
    return syntaxError("record longer than " + std::to_string(kMaxRecordBytes) + " octets", "", 0);
  }
  if (!isSpfRecord(txt)) {
    return syntaxError("not an SPF version 1 record", txt.substr(0, 16), 0);
  }
  // §3.1, §4.6.1: terms are separated by SP; the record is 7-bit printable ASCII.
  for (std::size_t i = 6; i < txt.size(); ++i) {
    const auto u = static_cast<unsigned char>(txt[i]);
    if (u < 0x20 || u > 0x7e) {
      std::size_t start = txt.rfind(' ', i);
      start = start == std::string_view::npos ? 0 : start + 1;
      std::size_t end = txt.find(' ', i);
      end = end == std::string_view::npos ? txt.size() : end;
      return syntaxError(u > 0x7e ? "non-ASCII octet in record" : "control character in record",
                         txt.substr(start, end - start), start);
    }
  }
  Record record;
  std::size_t terms = 0;
  std::size_t pos = 6;
  while (pos < txt.size()) {
    if (txt[pos] == ' ') {
      ++pos;
      continue;
    }
    std::size_t end = txt.find(' ', pos);
    end = end == std::string_view::npos ? txt.size() : end;
    const std::string_view term = txt.substr(pos, end - pos);
    const std::size_t offset = pos;
    pos = end;
    if (++terms > kMaxTerms) {
      return syntaxError("more than " + std::to_string(kMaxTerms) + " terms", "", offset);
    }
    if (const std::size_t name_len = modifierName(term); name_len > 0) {
      const std::string name = ascii::lower(term.substr(0, name_len));
      const std::string_view value = term.substr(name_len + 1);
      if (name == "redirect" || name == "exp") {  // §6: at most once each
        std::optional<MacroString>& slot = name == "redirect" ? record.redirect : record.exp;
        if (slot) {
          return syntaxError("'" + name + "' modifier appears twice", term, offset);
        }
        auto d = parseDomainSpecImpl(value);
        if (!d) {
          return syntaxError(std::move(d.error()), term, offset);
        }
        slot = std::move(*d);
        continue;
      }
      auto v = parseMacroString(value, false);
      if (!v) {
        return syntaxError(std::move(v.error()), term, offset);
      }
      record.unknown.push_back(UnknownModifier{name, std::move(v->value)});
      continue;
    }
    auto m = parseMechanism(term);
    if (!m) {
      return syntaxError(std::move(m.error()), term, offset);
    }
    record.mechanisms.push_back(std::move(*m));
  }
  return record;
}

Parsed<MacroString> parseDomainSpec(std::string_view text) {
  auto d = parseDomainSpecImpl(text);
  if (!d) {
    return syntaxError(std::move(d.error()), text, 0);
  }
  return std::move(*d);
}

Parsed<MacroString> parseExplainString(std::string_view text) {
  if (text.size() > kMaxRecordBytes) {
    return syntaxError("explanation longer than " + std::to_string(kMaxRecordBytes) + " octets",
                       "", 0);
  }
  auto v = parseMacroString(text, true);
  if (!v) {
    return syntaxError(std::move(v.error()), text, 0);
  }
  return std::move(v->value);
}

}  // namespace mw::spf
