// dmarc/network.h — client networks for DMARC exceptions (a known forwarder's relays):
// "192.0.2.0/24", "2001:db8::/32", or a single address. IPv4-mapped IPv6 clients
// (::ffff:192.0.2.1) match IPv4 networks. Plain values; pure functions; never throw
// except std::bad_alloc.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace mw::dmarc {

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

}  // namespace mw::dmarc
