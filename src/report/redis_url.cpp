// report/redis_url.cpp — the Redis store's URLs (redis_store.h). Apart from the store so
// that config/ checks a URL's syntax without linking hiredis.
#include <algorithm>
#include <charconv>
#include <optional>

#include "mailwarden/base/ascii.h"
#include "mailwarden/report/redis_store.h"

namespace mw::report {

namespace {

bool parseInt(std::string_view s, std::int64_t& out) noexcept {
  if (s.empty()) {
    return false;
  }
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool allDigits(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// `url` with whatever sits between "://" and the last '@' of the authority replaced by
// ":***": error messages show where, never the password (even of a malformed URL).
std::string redact(std::string_view url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) {
    return std::string(url);
  }
  const std::size_t start = scheme + 3;
  const std::size_t at = url.rfind('@');
  if (at == std::string_view::npos || at < start) {
    return std::string(url);
  }
  return std::string(url.substr(0, start)) + ":***" + std::string(url.substr(at));
}

}  // namespace

std::string RedisAddress::display() const {
  const std::string auth = password.empty() ? "" : ":***@";
  if (!socket.empty()) {
    return "redis+unix://" + auth + socket + (db != 0 ? "?db=" + std::to_string(db) : "");
  }
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return "redis://" + auth + h + ":" + std::to_string(port) + "/" + std::to_string(db);
}

Result<RedisAddress> parseRedisUrl(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return fail(Errc::Invalid, "redis store " + redact(url) + ": " + std::string(why));
  };
  RedisAddress a;
  // ":PASSWORD@" at the front of `rest`, if any: into a.password, removed from `rest`.
  auto password = [&](std::string_view& rest, std::string_view until) -> std::optional<std::string> {
    const std::size_t end = rest.find_first_of(until);
    const std::size_t at = rest.substr(0, end).find('@');
    if (at == std::string_view::npos) {
      return std::nullopt;
    }
    const std::string_view userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    if (userinfo.empty() || userinfo[0] != ':') {
      return std::string("a user name is not supported (write :PASSWORD@, Redis' default user)");
    }
    if (userinfo.size() == 1) {
      return std::string("empty password");
    }
    a.password = std::string(userinfo.substr(1));
    return std::nullopt;
  };
  constexpr std::string_view kTcp = "redis://", kUnix = "redis+unix://";
  constexpr int kMaxDb = 65535;
  auto dbNumber = [&](std::string_view digits) -> bool {
    std::int64_t n = 0;
    if (!allDigits(digits) || digits.size() > 5 || !parseInt(digits, n) || n > kMaxDb) {
      return false;
    }
    a.db = static_cast<int>(n);
    return true;
  };
  if (url.starts_with(kUnix)) {
    std::string_view rest = url.substr(kUnix.size());
    if (std::optional<std::string> why = password(rest, "/?")) {
      return bad(*why);
    }
    const std::size_t q = rest.find('?');
    const std::string_view path = rest.substr(0, q);
    if (path.size() < 2 || path[0] != '/' || path.back() == '/') {
      return bad("expected redis+unix:///ABSOLUTE/SOCKET/PATH[?db=N]");
    }
    if (q != std::string_view::npos) {
      const std::string_view query = rest.substr(q + 1);
      if (!query.starts_with("db=") || !dbNumber(query.substr(3))) {
        return bad("the only parameter is db=N (0 to 65535)");
      }
    }
    a.socket = std::string(path);
    return a;
  }
  if (!url.starts_with(kTcp)) {
    return bad("expected redis://HOST[:PORT][/DB] or redis+unix:///SOCKET[?db=N]");
  }
  std::string_view rest = url.substr(kTcp.size());
  if (std::optional<std::string> why = password(rest, "/")) {
    return bad(*why);
  }
  const std::size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  std::string_view port;
  if (hostport.starts_with('[')) {
    const std::size_t close = hostport.find(']');
    if (close == std::string_view::npos) {
      return bad("unclosed [ in the host");
    }
    const std::string_view v6 = hostport.substr(1, close - 1);
    if (v6.empty() || v6.find(':') == std::string_view::npos ||
        !std::all_of(v6.begin(), v6.end(), [](char c) {
          return (ascii::isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) || c == ':' || c == '.';
        })) {
      return bad("expected an IPv6 address between [ ]");
    }
    a.host = std::string(v6);
    const std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        return bad("expected :PORT after ]");
      }
      port = after.substr(1);
      if (port.empty()) {
        return bad("empty port");
      }
    }
  } else {
    const std::size_t colon = hostport.find(':');
    a.host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = hostport.substr(colon + 1);
      if (port.empty()) {
        return bad("empty port");
      }
    }
    if (a.host.empty()) {
      return bad("no host");
    }
    if (!std::all_of(a.host.begin(), a.host.end(), [](char c) {
          return (ascii::isAlpha(c) || ascii::isDigit(c)) || c == '.' || c == '-' || c == '_';
        })) {
      return bad("the host is not a name or an address (IPv6 goes between [ ])");
    }
  }
  if (!port.empty()) {
    std::int64_t p = 0;
    if (!allDigits(port) || port.size() > 5 || !parseInt(port, p) || p < 1 || p > 65535) {
      return bad("the port is not a number from 1 to 65535");
    }
    a.port = static_cast<int>(p);
  }
  if (slash != std::string_view::npos) {
    const std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && !dbNumber(db)) {
      return bad("the database is not a number from 0 to 65535");
    }
  }
  return a;
}

}  // namespace mw::report
