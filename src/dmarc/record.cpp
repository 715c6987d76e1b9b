// dmarc/record.cpp — RFC 9989 §4.7/§4.8 tag-list parsing.
#include "mailwarden/dmarc/record.h"

#include <set>

#include "mailwarden/base/ascii.h"

namespace mw::dmarc {
namespace {

std::string_view trimWsp(std::string_view s) noexcept {
  while (!s.empty() && ascii::isWsp(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && ascii::isWsp(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

bool parsePolicy(std::string_view v, Policy& out) noexcept {
  if (ascii::iequals(v, "none")) {
    out = Policy::None;
  } else if (ascii::iequals(v, "quarantine")) {
    out = Policy::Quarantine;
  } else if (ascii::iequals(v, "reject")) {
    out = Policy::Reject;
  } else {
    return false;
  }
  return true;
}

bool parseAlignment(std::string_view v, Alignment& out) noexcept {
  if (ascii::iequals(v, "r")) {
    out = Alignment::Relaxed;
  } else if (ascii::iequals(v, "s")) {
    out = Alignment::Strict;
  } else {
    return false;
  }
  return true;
}

// dmarc-fo: one of 0 1 d s, several separated by ':' (each once is not required).
bool validFo(std::string_view v) noexcept {
  if (v.empty()) {
    return false;
  }
  bool want_item = true;
  for (char c : v) {
    if (want_item) {
      const char l = ascii::toLower(c);
      if (l != '0' && l != '1' && l != 'd' && l != 's') {
        return false;
      }
      want_item = false;
    } else {
      if (c != ':') {
        return false;
      }
      want_item = true;
    }
  }
  return !want_item;
}

// tag-name (RFC 6376 §3.2 tag-list, which DMARC's record uses): ALPHA *(ALPHA/DIGIT/"_").
bool validTagName(std::string_view n) noexcept {
  if (n.empty() || !ascii::isAlpha(n.front())) {
    return false;
  }
  for (char c : n) {
    if (!ascii::isAlpha(c) && !ascii::isDigit(c) && c != '_') {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string_view toString(Policy p) noexcept {
  switch (p) {
    case Policy::None: return "none";
    case Policy::Quarantine: return "quarantine";
    case Policy::Reject: return "reject";
  }
  return "none";
}

bool isValidReportUri(std::string_view uri) noexcept {
  uri = trimWsp(uri);
  if (const std::size_t bang = uri.find('!'); bang != std::string_view::npos) {
    uri = uri.substr(0, bang);  // RFC 9989: the "!size" suffix of RFC 7489 is ignored
  }
  constexpr std::string_view kScheme = "mailto:";
  if (uri.size() <= kScheme.size() || !ascii::iequals(uri.substr(0, kScheme.size()), kScheme)) {
    return false;
  }
  const std::string_view addr = uri.substr(kScheme.size());
  const std::size_t at = addr.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= addr.size()) {
    return false;
  }
  for (char c : addr) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '<' || c == '>' ||
        c == ',' || c == ';') {
      return false;
    }
  }
  return addr.substr(at + 1).find('/') == std::string_view::npos;
}

bool isDmarcRecord(std::string_view txt) noexcept {
  // dmarc-version = "v" *WSP "=" *WSP %s"DMARC1", then *WSP and ";" or the end.
  std::string_view s = trimWsp(txt);
  if (s.empty() || ascii::toLower(s.front()) != 'v') {
    return false;
  }
  s.remove_prefix(1);
  s = trimWsp(s);
  if (s.empty() || s.front() != '=') {
    return false;
  }
  s.remove_prefix(1);
  s = trimWsp(s);
  constexpr std::string_view kVersion = "DMARC1";
  if (s.substr(0, kVersion.size()) != kVersion) {
    return false;
  }
  s.remove_prefix(kVersion.size());
  s = trimWsp(s);
  return s.empty() || s.front() == ';';
}

ParseResult parseRecord(std::string_view txt) {
  ParseResult out;
  if (txt.size() > kMaxRecordBytes) {
    out.status = ParseStatus::NotDmarc;
    out.problem = "record longer than " + std::to_string(kMaxRecordBytes) + " bytes";
    return out;
  }
  if (!isDmarcRecord(txt)) {
    out.status = ParseStatus::NotDmarc;
    out.problem = txt.empty() ? "empty record" : "does not start with v=DMARC1";
    return out;
  }
  Record& r = out.record;
  bool bad_policy = false;
  std::string bad_policy_why;
  std::set<std::string> seen;
  std::string_view rest = txt;
  bool first = true;
  while (!rest.empty()) {
    const std::size_t semi = rest.find(';');
    const std::string_view part = trimWsp(rest.substr(0, semi));
    rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
    if (first) {  // the version tag, checked above
      first = false;
      continue;
    }
    if (part.empty()) {
      continue;  // "p=none;;" or the trailing ';'
    }
    const std::size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      r.ignored.push_back(std::string(part) + ": not a tag=value pair");
      continue;
    }
    const std::string name = ascii::lower(trimWsp(part.substr(0, eq)));
    const std::string_view value = trimWsp(part.substr(eq + 1));
    if (!validTagName(name)) {
      r.ignored.push_back(std::string(part) + ": not a tag name");
      continue;
    }
    const bool known = name == "p" || name == "sp" || name == "np" || name == "adkim" ||
                       name == "aspf" || name == "psd" || name == "t" || name == "rua" ||
                       name == "ruf" || name == "fo" || name == "v";
    if (!known) {
      continue;  // §4.7: unknown tags (and the removed pct, rf, ri) are ignored
    }
    const bool repeated = !seen.insert(name).second;
    const std::string shown = name + "=" + std::string(value);
    auto drop = [&](std::string_view why) { r.ignored.push_back(shown + ": " + std::string(why)); };
    if (name == "v") {
      drop("version tag not first");
      continue;
    }
    if (name == "p" || name == "sp" || name == "np") {
      Policy pol = Policy::None;
      if (repeated || !parsePolicy(value, pol)) {
        bad_policy = true;
        bad_policy_why = repeated ? shown + ": repeated tag" : shown + ": not none, quarantine or reject";
        continue;
      }
      if (name == "p") {
        r.p = pol;
        r.p_present = true;
      } else if (name == "sp") {
        r.sp = pol;
      } else {
        r.np = pol;
      }
      continue;
    }
    if (repeated) {
      drop("repeated tag");
      continue;
    }
    if (name == "adkim" || name == "aspf") {
      Alignment a = Alignment::Relaxed;
      if (!parseAlignment(value, a)) {
        drop("not r or s");
        continue;
      }
      (name == "adkim" ? r.adkim : r.aspf) = a;
    } else if (name == "psd") {
      if (ascii::iequals(value, "y")) {
        r.psd = Psd::Yes;
      } else if (ascii::iequals(value, "n")) {
        r.psd = Psd::No;
      } else if (ascii::iequals(value, "u")) {
        r.psd = Psd::Unknown;
      } else {
        drop("not y, n or u");
      }
    } else if (name == "t") {
      if (ascii::iequals(value, "y")) {
        r.testing = true;
      } else if (ascii::iequals(value, "n")) {
        r.testing = false;
      } else {
        drop("not y or n");
      }
    } else if (name == "fo") {
      if (validFo(value)) {
        r.fo = std::string(value);
      } else {
        drop("not 0, 1, d or s");
      }
    } else {  // rua, ruf: comma-separated URIs; the unusable ones are dropped one by one
      std::vector<std::string>& list = name == "rua" ? r.rua : r.ruf;
      std::string_view uris = value;
      while (true) {
        const std::size_t comma = uris.find(',');
        const std::string_view uri = trimWsp(uris.substr(0, comma));
        if (isValidReportUri(uri)) {
          list.emplace_back(uri);
        } else {
          r.ignored.push_back(name + " URI '" + std::string(uri) + "': not a mailto: address");
        }
        if (comma == std::string_view::npos) {
          break;
        }
        uris.remove_prefix(comma + 1);
      }
    }
  }
  if (bad_policy) {
    // §4.7 (p): a bad p/sp/np with a valid rua reads as p=none; without one the record
    // gets no DMARC processing.
    if (r.rua.empty()) {
      out.status = ParseStatus::Invalid;
      out.problem = bad_policy_why;
      return out;
    }
    r.p = Policy::None;
    r.sp = Policy::None;
    r.np = Policy::None;
    r.downgraded = true;
    r.ignored.push_back(bad_policy_why + " (read as p=none: rua is valid)");
  }
  out.status = ParseStatus::Ok;
  return out;
}

}  // namespace mw::dmarc
