// reputation/options.cpp — the code syntax of `answers[].codes` and the checks of a list
// configuration. Pure; uses base only, so config/ can call it without the DNS code.
#include "mailwarden/reputation/options.h"

#include <map>
#include <string>

#include "mailwarden/base/ascii.h"

namespace mw::reputation {
namespace {

// A decimal number 0..255 of 1 to 3 digits at the front of `s`; consumed on success.
std::optional<std::uint8_t> octet(std::string_view& s) {
  std::size_t n = 0;
  unsigned v = 0;
  while (n < s.size() && n < 4 && ascii::isDigit(s[n])) {
    v = v * 10 + static_cast<unsigned>(s[n] - '0');
    ++n;
  }
  if (n == 0 || n > 3 || v > 255) {
    return std::nullopt;
  }
  s.remove_prefix(n);
  return static_cast<std::uint8_t>(v);
}

// A whole dotted quad, strictly: four decimal octets, nothing else.
std::optional<std::uint32_t> ipv4(std::string_view s) {
  std::uint32_t out = 0;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (s.empty() || s.front() != '.') {
        return std::nullopt;
      }
      s.remove_prefix(1);
    }
    std::optional<std::uint8_t> o = octet(s);
    if (!o) {
      return std::nullopt;
    }
    out = (out << 8) | *o;
  }
  if (!s.empty()) {
    return std::nullopt;
  }
  return out;
}

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// postscreen_dnsbl_sites' form, d.d.d.[a..b;c]: each octet a number or a bracketed list.
tl::expected<CodePattern, std::string> perOctet(std::string_view text) {
  CodePattern p;
  p.text = std::string(text);
  p.per_octet = true;
  std::string_view s = text;
  const std::string bad = quoted(text) + " is not an address pattern such as 127.0.0.[2..11;20]";
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (s.empty() || s.front() != '.') {
        return tl::unexpected(bad);
      }
      s.remove_prefix(1);
    }
    if (!s.empty() && s.front() == '[') {
      s.remove_prefix(1);
      for (;;) {
        std::optional<std::uint8_t> a = octet(s);
        if (!a) {
          return tl::unexpected(bad);
        }
        std::uint8_t b = *a;
        if (s.substr(0, 2) == "..") {
          s.remove_prefix(2);
          std::optional<std::uint8_t> hi = octet(s);
          if (!hi) {
            return tl::unexpected(bad);
          }
          if (*hi < *a) {
            return tl::unexpected("range " + std::to_string(*a) + ".." + std::to_string(*hi) +
                                  " in " + quoted(text) + " is backwards");
          }
          b = *hi;
        }
        p.octets[static_cast<std::size_t>(i)].emplace_back(*a, b);
        if (!s.empty() && s.front() == ';') {
          s.remove_prefix(1);
          continue;
        }
        if (!s.empty() && s.front() == ']') {
          s.remove_prefix(1);
          break;
        }
        return tl::unexpected(bad);
      }
    } else {
      std::optional<std::uint8_t> a = octet(s);
      if (!a) {
        return tl::unexpected(bad);
      }
      p.octets[static_cast<std::size_t>(i)].emplace_back(*a, *a);
    }
  }
  if (!s.empty()) {
    return tl::unexpected(bad);
  }
  return p;
}

// A zone as the operator writes it: LDH labels (and '_', used by some list operators'
// sub-zones) of 1..63 octets, at most 253 in all, no trailing dot.
bool isZoneName(std::string_view z) noexcept {
  if (z.empty() || z.size() > 253 || z.back() == '.') {
    return false;
  }
  std::size_t label = 0;
  for (char c : z) {
    if (c == '.') {
      if (label == 0) {
        return false;
      }
      label = 0;
      continue;
    }
    if (!(ascii::isAlpha(c) || ascii::isDigit(c) || c == '-' || c == '_') || ++label > 63) {
      return false;
    }
  }
  return label > 0;
}

bool isReplyText(std::string_view t) noexcept {
  if (t.empty() || t.size() > 400) {
    return false;
  }
  for (char c : t) {
    if (c < 0x20 || c > 0x7e) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string_view toString(Key k) noexcept {
  switch (k) {  // no default: -Wswitch reports a new enumerator
    case Key::ClientIp: return "client_ip";
    case Key::Helo: return "helo";
    case Key::MailFrom: return "mail_from";
    case Key::From: return "from";
    case Key::Dkim: return "dkim";
    case Key::Url: return "url";
  }
  MW_UNREACHABLE("reputation::Key out of range");
}

std::string_view toString(Hash h) noexcept {
  switch (h) {
    case Hash::None: return "none";
    case Hash::Md5: return "md5";
    case Hash::Sha1: return "sha1";
    case Hash::Sha256: return "sha256";
  }
  MW_UNREACHABLE("reputation::Hash out of range");
}

std::string_view toString(Action a) noexcept {
  switch (a) {
    case Action::Tag: return "tag";
    case Action::Quarantine: return "quarantine";
    case Action::TempFail: return "tempfail";
    case Action::Reject: return "reject";
  }
  MW_UNREACHABLE("reputation::Action out of range");
}

bool CodePattern::matches(std::uint32_t address) const noexcept {
  if (!per_octet) {
    return address >= lo && address <= hi;
  }
  for (std::size_t i = 0; i < 4; ++i) {
    const auto value = static_cast<std::uint8_t>(address >> (24 - 8 * i));
    bool in = false;
    for (const auto& [a, b] : octets[i]) {
      in = in || (value >= a && value <= b);
    }
    if (!in) {
      return false;
    }
  }
  return true;
}

tl::expected<CodePattern, std::string> parseCode(std::string_view text) {
  if (text.find('[') != std::string_view::npos) {
    return perOctet(text);
  }
  CodePattern p;
  p.text = std::string(text);
  if (const std::size_t dots = text.find(".."); dots != std::string_view::npos) {
    const std::optional<std::uint32_t> a = ipv4(text.substr(0, dots));
    const std::optional<std::uint32_t> b = ipv4(text.substr(dots + 2));
    if (!a || !b) {
      return tl::unexpected(quoted(text) + " is not a range of IPv4 addresses such as " +
                            "127.0.0.4..127.0.0.7");
    }
    if (*b < *a) {
      return tl::unexpected("range " + quoted(text) + " is backwards");
    }
    p.lo = *a;
    p.hi = *b;
    return p;
  }
  const std::optional<std::uint32_t> a = ipv4(text);
  if (!a) {
    return tl::unexpected(quoted(text) + " is not an IPv4 address (or A..B, or a pattern " +
                          "such as 127.0.0.[2..11;20])");
  }
  p.lo = p.hi = *a;
  return p;
}

bool isSymbolName(std::string_view s) noexcept {
  if (s.empty() || s.size() > 64 || !(s[0] >= 'A' && s[0] <= 'Z')) {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || ascii::isDigit(c) || c == '_')) {
      return false;
    }
  }
  return true;
}

bool isBuiltinSymbol(std::string_view s) noexcept {
  for (std::string_view prefix : {"SPF_", "DKIM_", "DMARC_", "IPREV_"}) {
    if (s.substr(0, prefix.size()) == prefix) {
      return true;
    }
  }
  return false;
}

std::vector<Error> validate(const Options& o) {
  std::vector<Error> out;
  auto problem = [&](const SourceLoc& where, const std::string& path, const std::string& what) {
    out.push_back(Error::at(where, Errc::Invalid, path + ": " + what));
  };
  if (o.max_url_hosts < 0 || o.max_url_hosts > kMaxUrlHosts) {
    problem(SourceLoc{}, "reputation.max_url_hosts",
            "must be between 0 and " + std::to_string(kMaxUrlHosts));
  }
  std::map<std::string, std::string, std::less<>> symbols;  // symbol -> where first defined
  for (std::size_t i = 0; i < o.lists.size(); ++i) {
    const ListOptions& l = o.lists[i];
    const std::string path = "reputation.lists[" + std::to_string(i) + "]";
    if (l.zone.empty()) {
      problem(l.where, path + ".zone", "is missing (the list's DNS zone, such as zen.spamhaus.org)");
    } else if (!isZoneName(l.zone)) {
      problem(l.where, path + ".zone",
              quoted(l.zone) + " is not a DNS zone name such as zen.spamhaus.org");
    }
    if (l.lookups.empty()) {
      problem(l.where, path + ".lookup", "names nothing to look up");
    }
    for (std::size_t k = 0; k < l.lookups.size(); ++k) {
      for (std::size_t m = 0; m < k; ++m) {
        if (l.lookups[k] == l.lookups[m]) {
          problem(l.where, path + ".lookup",
                  std::string(toString(l.lookups[k])) + " is named twice");
        }
      }
    }
    if (l.pause_seconds < 0 || l.pause_seconds > kMaxPauseSeconds) {
      problem(l.where, path + ".pause",
              "must be between 0 and " + std::to_string(kMaxPauseSeconds));
    }
    if (l.answers.empty()) {
      problem(l.where, path + ".answers",
              "no answer class: say which answers count (codes: or bits:) and their symbol");
    }
    for (std::size_t j = 0; j < l.answers.size(); ++j) {
      const AnswerClass& c = l.answers[j];
      const std::string cpath = path + ".answers[" + std::to_string(j) + "]";
      if (c.codes.empty() == (c.bits == 0)) {
        problem(c.where, cpath,
                c.codes.empty() ? "needs codes: (answer addresses) or bits: (a mask, 1..255)"
                                : "has both codes: and bits: (give one)");
      }
      for (const CodePattern& p : c.codes) {
        if (!p.per_octet && p.hi < p.lo) {
          problem(c.where, cpath + ".codes", "range " + quoted(p.text) + " is backwards");
        }
      }
      if (c.symbol.empty()) {
        problem(c.where, cpath + ".symbol", "is missing (a name such as RBL_ZEN_SBL)");
      } else if (!isSymbolName(c.symbol)) {
        problem(c.where, cpath + ".symbol",
                quoted(c.symbol) + " is not a symbol ([A-Z][A-Z0-9_]*, at most 64 characters)");
      } else if (isBuiltinSymbol(c.symbol)) {
        problem(c.where, cpath + ".symbol",
                quoted(c.symbol) + " is a built-in name (SPF_*, DKIM_*, DMARC_*, IPREV_*)");
      } else if (auto [it, fresh] = symbols.emplace(c.symbol, cpath); !fresh) {
        problem(c.where, cpath + ".symbol",
                quoted(c.symbol) + " is already defined by " + it->second);
      }
      if (!(c.score >= -1000 && c.score <= 1000)) {
        problem(c.where, cpath + ".score", "must be between -1000 and 1000");
      }
      if (!c.reply.empty()) {
        if (!c.action || (*c.action != Action::Reject && *c.action != Action::TempFail)) {
          problem(c.where, cpath + ".reply", "is only for action reject or tempfail");
        } else if (!isReplyText(c.reply)) {
          problem(c.where, cpath + ".reply",
                  "must be one line of printable ASCII, at most 400 characters");
        }
      }
    }
  }
  return out;
}

}  // namespace mw::reputation
