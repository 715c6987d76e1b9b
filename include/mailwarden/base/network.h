// base/network.h — client networks as an operator writes them (dmarc.exceptions.networks,
// bypass.trusted_networks): "192.0.2.0/24", "2001:db8::/32", or a single address. IPv4-mapped IPv6 clients
// (::ffff:192.0.2.1) match IPv4 networks. Plain values; pure functions; never throw
// except std::bad_alloc.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace mw::net {

struct Network {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes = {};  // v4 in the first 4
  int prefix = 0;
};

// nullopt when `text` is not ADDRESS or ADDRESS/PREFIX (prefix in range, host bits
// may be set: they are ignored).
std::optional<Network> parseNetwork(std::string_view text);

// True when the client address `ip` (text) is inside `net`; false for unparsable text.
bool contains(const Network& net, std::string_view ip);

// The index of the first network in `nets` that contains `ip`; nullopt when none does
// (or `ip` is empty or unparsable). The address is parsed once.
std::optional<std::size_t> firstContaining(const std::vector<Network>& nets, std::string_view ip);

}  // namespace mw::net
