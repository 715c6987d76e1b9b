// base/network.cpp — CIDR matching with inet_pton.
#include "mailwarden/base/network.h"

#include <arpa/inet.h>

#include <algorithm>

#include <string>

namespace mw::net {
namespace {

// The address in 16 bytes (v4 in the first 4); IPv4-mapped IPv6 becomes v4.
std::optional<Network> parseAddress(std::string_view text) {
  const std::string s(text);
  Network n;
  if (::inet_pton(AF_INET, s.c_str(), n.bytes.data()) == 1) {
    n.prefix = 32;
    return n;
  }
  if (::inet_pton(AF_INET6, s.c_str(), n.bytes.data()) == 1) {
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(std::begin(kMapped), std::end(kMapped), n.bytes.begin())) {
      std::array<std::uint8_t, 16> v4 = {};
      std::copy(n.bytes.begin() + 12, n.bytes.end(), v4.begin());
      n.bytes = v4;
      n.prefix = 32;
      return n;
    }
    n.v6 = true;
    n.prefix = 128;
    return n;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Network> parseNetwork(std::string_view text) {
  const std::size_t slash = text.find('/');
  std::optional<Network> n = parseAddress(text.substr(0, slash));
  if (!n) {
    return std::nullopt;
  }
  if (slash == std::string_view::npos) {
    return n;
  }
  const std::string_view p = text.substr(slash + 1);
  if (p.empty() || p.size() > 3) {
    return std::nullopt;
  }
  int prefix = 0;
  for (char c : p) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    prefix = prefix * 10 + (c - '0');
  }
  if (prefix > (n->v6 ? 128 : 32)) {
    return std::nullopt;
  }
  n->prefix = prefix;
  return n;
}

namespace {

bool inside(const Network& net, const Network& a) noexcept {
  if (a.v6 != net.v6) {
    return false;
  }
  int bits = net.prefix;
  for (std::size_t i = 0; bits > 0; ++i, bits -= 8) {
    const std::uint8_t mask =
        bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((a.bytes[i] & mask) != (net.bytes[i] & mask)) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool contains(const Network& net, std::string_view ip) {
  const std::optional<Network> a = parseAddress(ip);
  return a && inside(net, *a);
}

std::optional<std::size_t> firstContaining(const std::vector<Network>& nets, std::string_view ip) {
  if (nets.empty() || ip.empty()) {
    return std::nullopt;
  }
  const std::optional<Network> a = parseAddress(ip);
  if (!a) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < nets.size(); ++i) {
    if (inside(nets[i], *a)) {
      return i;
    }
  }
  return std::nullopt;
}

}  // namespace mw::net
