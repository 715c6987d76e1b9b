#include "config/checks.h"

#include <arpa/inet.h>
#include <sys/un.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <system_error>
#include <vector>

#include "mailwarden/base/ascii.h"

namespace mw::config::detail {
namespace {

constexpr bool isAlnum(char c) noexcept { return ascii::isAlpha(c) || ascii::isDigit(c); }

bool allDigits(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return ascii::isDigit(c); });
}

// Splits at the first `sep`; the second part is nullopt when there is none.
std::pair<std::string_view, std::optional<std::string_view>> splitAt(std::string_view s, char sep) {
  const std::size_t at = s.find(sep);
  if (at == std::string_view::npos) {
    return {s, std::nullopt};
  }
  return {s.substr(0, at), s.substr(at + 1)};
}

// parsePort - "1".."65535", decimal digits only.
Problem checkPort(std::string_view port) {
  long long value = 0;
  if (!allDigits(port) || parseInteger(port, value) != IntParse::Ok || value < 1 ||
      value > 65535) {
    return "port must be between 1 and 65535 (got '" + std::string(port) + "')";
  }
  return std::nullopt;
}

bool isAddress(int family, std::string_view text) {
  const std::string s(text);  // inet_pton needs a terminated string
  unsigned char buf[sizeof(struct in6_addr)];
  return s.find('\0') == std::string::npos && inet_pton(family, s.c_str(), buf) == 1;
}

// Host name syntax (RFC 1123 labels); a final dot is allowed.
bool isHostName(std::string_view name) {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  if (name.empty() || name.size() > 253) {
    return false;
  }
  bool all_numeric = true;
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t dot = std::min(name.find('.', start), name.size());
    const std::string_view label = name.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!isAlnum(c) && c != '-') {
        return false;
      }
      all_numeric = all_numeric && ascii::isDigit(c);
    }
    start = dot + 1;
  }
  // "300.1.2.3" looks like a broken IPv4 address, not a host name.
  return !all_numeric;
}

}  // namespace

std::size_t editDistance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  // d[i][j] over a rolling set of three rows (transposition looks two rows back).
  std::vector<std::size_t> prev2(m + 1), prev(m + 1), cur(m + 1);
  for (std::size_t j = 0; j <= m; ++j) {
    prev[j] = j;
  }
  for (std::size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= m; ++j) {
      const bool same = ascii::toLower(a[i - 1]) == ascii::toLower(b[j - 1]);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (same ? 0 : 1)});
      if (i > 1 && j > 1 && ascii::toLower(a[i - 1]) == ascii::toLower(b[j - 2]) &&
          ascii::toLower(a[i - 2]) == ascii::toLower(b[j - 1])) {
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      }
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[m];
}

std::optional<std::string_view> closestKey(std::string_view word,
                                           std::span<const std::string_view> candidates) {
  std::optional<std::string_view> best;
  std::size_t best_distance = 0;
  for (std::string_view c : candidates) {
    const std::size_t d = editDistance(word, c);
    // Short keys tolerate one edit, longer ones two: "tab" is not a typo of "tag" and "log".
    const std::size_t allowed = c.size() <= 4 ? 1 : 2;
    if (d <= allowed && (!best || d < best_distance)) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

Problem checkSocket(std::string_view spec) {
  static constexpr const char* kForms =
      "must be unix:/PATH, local:/PATH, inet:PORT@HOST or inet6:PORT@HOST";
  const auto [kind, rest] = splitAt(spec, ':');
  if (!rest) {
    return std::string(kForms);
  }
  if (kind == "unix" || kind == "local") {
    if (rest->empty() || rest->front() != '/') {
      return "socket path must be absolute (got '" + std::string(*rest) + "')";
    }
    if (rest->find('\0') != std::string_view::npos) {
      return std::string("socket path contains a NUL byte");
    }
    if (rest->size() >= sizeof(sockaddr_un::sun_path)) {
      return "socket path is longer than " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
             " bytes";
    }
    return std::nullopt;
  }
  if (kind != "inet" && kind != "inet6") {
    return std::string(kForms);
  }
  const auto [port, host] = splitAt(*rest, '@');
  if (Problem p = checkPort(port)) {
    return p;
  }
  if (!host) {
    return std::nullopt;  // libmilter: all addresses of the family
  }
  std::string_view h = *host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
    if (isAddress(kind == "inet" ? AF_INET : AF_INET6, h)) {
      return std::nullopt;
    }
  } else if (isAddress(kind == "inet" ? AF_INET : AF_INET6, h) || isHostName(h)) {
    return std::nullopt;
  }
  if (kind == "inet" && isAddress(AF_INET6, h)) {
    return "'" + std::string(h) + "' is an IPv6 address: use inet6:PORT@HOST";
  }
  return "'" + std::string(*host) + "' is not an " + (kind == "inet" ? "IPv4" : "IPv6") +
         " address or host name";
}

Problem checkListen(std::string_view spec, std::string& address, int& port) {
  static constexpr const char* kForm =
      "expected ADDRESS:PORT with an IP address, such as 127.0.0.1:9128 or [::1]:9128";
  const std::size_t colon = spec.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return std::string(kForm);
  }
  std::string_view host = spec.substr(0, colon);
  const std::string_view port_text = spec.substr(colon + 1);
  int family = AF_INET;
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') {
      return std::string(kForm);
    }
    host = host.substr(1, host.size() - 2);
    family = AF_INET6;
  } else if (host.find(':') != std::string_view::npos) {
    return "'" + std::string(host) + "': an IPv6 address goes in brackets, as [::1]:9128";
  }
  if (!isAddress(family, host)) {
    return "'" + std::string(host) + "' is not an " + (family == AF_INET ? "IPv4" : "IPv6") +
           " address (host names are not accepted: " + kForm + ")";
  }
  if (Problem p = checkPort(port_text)) {
    return p;
  }
  long long value = 0;
  static_cast<void>(parseInteger(port_text, value));  // checkPort parsed it
  address = std::string(host);
  port = static_cast<int>(value);
  return std::nullopt;
}

Problem checkResolver(std::string_view spec) {
  std::string_view addr = spec;
  if (const std::size_t at = spec.rfind('@'); at != std::string_view::npos) {
    addr = spec.substr(0, at);
    if (Problem p = checkPort(spec.substr(at + 1))) {
      return p;
    }
  }
  if (isAddress(AF_INET, addr) || isAddress(AF_INET6, addr)) {
    return std::nullopt;
  }
  return "'" + std::string(addr) + "' is not an IPv4 or IPv6 address";
}

Problem checkNetwork(std::string_view spec) {
  const std::size_t slash = spec.find('/');
  const std::string_view addr = spec.substr(0, slash);
  const bool v4 = isAddress(AF_INET, addr);
  if (!v4 && !isAddress(AF_INET6, addr)) {
    return "'" + std::string(addr) + "' is not an IPv4 or IPv6 address";
  }
  if (slash == std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view prefix = spec.substr(slash + 1);
  const int max = v4 ? 32 : 128;
  int value = 0;
  if (prefix.empty() || prefix.size() > 3 || !allDigits(prefix)) {
    return "prefix length '" + std::string(prefix) + "' is not a number";
  }
  std::from_chars(prefix.data(), prefix.data() + prefix.size(), value);
  if (value > max) {
    return "prefix length " + std::string(prefix) + " is larger than " + std::to_string(max);
  }
  return std::nullopt;
}

Problem checkDomainName(std::string_view name, bool allow_leading_dot) {
  static constexpr const char* kWhat =
      "must be a domain name such as example.org (letters, digits, '-', '_' and '.')";
  if (allow_leading_dot && !name.empty() && name.front() == '.') {
    name.remove_prefix(1);
  }
  if (name.empty() || name.size() > 253) {
    return std::string(kWhat);
  }
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) {
        return std::string(kWhat);
      }
      label = 0;
      continue;
    }
    if ((!isAlnum(c) && c != '-' && c != '_') || ++label > 63) {
      return std::string(kWhat);
    }
  }
  if (label == 0) {
    return std::string(kWhat);
  }
  return std::nullopt;
}

Problem checkAuthservId(std::string_view id) {
  static constexpr const char* kWhat =
      "must be a host name such as mx.example.org (letters, digits, '-', '_' and '.'; "
      "no spaces or ';')";
  if (id.empty() || id.size() > 253) {
    return std::string(kWhat);
  }
  bool label_empty = true;
  for (char c : id) {
    if (c == '.') {
      if (label_empty) {
        return std::string(kWhat);
      }
      label_empty = true;
      continue;
    }
    if (!isAlnum(c) && c != '-' && c != '_') {
      return std::string(kWhat);
    }
    label_empty = false;
  }
  if (label_empty) {
    return std::string(kWhat);  // trailing dot
  }
  return std::nullopt;
}

Problem checkEnhancedCode(std::string_view code) {
  static constexpr const char* kWhat =
      "must be an RFC 3463 status code CLASS.SUBJECT.DETAIL such as 5.7.1 (class 2, 4 or 5)";
  auto part = [](std::string_view s) { return allDigits(s) && s.size() <= 3; };
  const auto [cls, rest] = splitAt(code, '.');
  if (!rest) {
    return std::string(kWhat);
  }
  const auto [subject, detail] = splitAt(*rest, '.');
  if (!detail || (cls != "2" && cls != "4" && cls != "5") || !part(subject) || !part(*detail)) {
    return std::string(kWhat);
  }
  return std::nullopt;
}

Problem checkReplyText(std::string_view text, std::size_t max_length) {
  if (text.empty()) {
    return std::string("must not be empty");
  }
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) {
      return std::string(
          "must be one line of printable ASCII (no CR, LF, tab or other control characters)");
    }
  }
  if (text.size() > max_length) {
    return "must be at most " + std::to_string(max_length) + " characters";
  }
  return std::nullopt;
}

Problem checkAccountName(std::string_view name) {
  const bool ok =
      name.size() <= 32 && (name.empty() || name.front() != '-') &&
      std::all_of(name.begin(), name.end(),
                  [](char c) { return isAlnum(c) || c == '.' || c == '_' || c == '-'; });
  if (!ok) {
    return "'" + std::string(name) + "' is not a valid user or group name";
  }
  return std::nullopt;
}

IntParse parseInteger(std::string_view text, long long& out) {
  std::string_view digits = text;
  if (!digits.empty() && (digits.front() == '+' || digits.front() == '-')) {
    digits.remove_prefix(1);
  }
  if (!allDigits(digits)) {
    return IntParse::NotAnInteger;
  }
  // from_chars takes '-' but not '+'.
  const std::string_view number = text.front() == '+' ? digits : text;
  long long value = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec == std::errc::result_out_of_range) {
    return IntParse::OutOfRange;
  }
  if (ec != std::errc() || end != number.data() + number.size()) {
    return IntParse::NotAnInteger;
  }
  out = value;
  return IntParse::Ok;
}

bool parseNumber(std::string_view text, double& out) {
  std::string_view s = text;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    s.remove_prefix(1);
  }
  // Only the plain decimal forms: from_chars alone would also take "inf" and "nan".
  std::size_t i = 0;
  std::size_t mantissa_digits = 0;
  while (i < s.size() && ascii::isDigit(s[i])) {
    ++i;
    ++mantissa_digits;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && ascii::isDigit(s[i])) {
      ++i;
      ++mantissa_digits;
    }
  }
  if (mantissa_digits == 0) {
    return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      ++i;
    }
    const std::size_t exp_start = i;
    while (i < s.size() && ascii::isDigit(s[i])) {
      ++i;
    }
    if (i == exp_start) {
      return false;
    }
  }
  if (i != s.size()) {
    return false;
  }
  const std::string_view number = text.front() == '+' ? s : text;
  double value = 0.0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size() || !std::isfinite(value)) {
    return false;
  }
  out = value;
  return true;
}

bool parseOctalMode(std::string_view text, unsigned& out) {
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'o' || text[1] == 'O')) {
    text.remove_prefix(2);
  }
  if (text.empty() || text.size() > 4) {
    return false;
  }
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '7') {
      return false;
    }
    value = value * 8 + static_cast<unsigned>(c - '0');
  }
  if (value > 0777) {
    return false;
  }
  out = value;
  return true;
}

}  // namespace mw::config::detail
