// milter/socket.h — the listening socket around libmilter (private to milter/).
#pragma once

#include <string>

#include "mailwarden/base/result.h"

namespace mw::milter {

struct SocketSpec {
  enum class Family { Unix, Inet, Inet6 };
  Family family = Family::Unix;
  std::string path;  // Unix
  int port = 0;      // Inet, Inet6
  std::string host;  // Inet, Inet6; empty = any
};

// Parses libmilter's syntax: unix:/path, local:/path, inet:PORT[@HOST], inet6:PORT[@HOST].
[[nodiscard]] Result<SocketSpec> parseSocketSpec(const std::string& spec);

// libmilter opens the socket itself and hands us no descriptor, so this finds our
// listening TCP sockets in /proc/self/fd and sets TCP_NODELAY on them; Linux copies the
// option to every accepted connection. Without it the end-of-message exchange stalls
// ~40 ms: libmilter writes each header edit and the final reply as separate small
// packets, Nagle holds the second until the first is ACKed, and the MTA delays that ACK.
// Returns how many sockets were changed.
int setNoDelayOnListeners() noexcept;

}  // namespace mw::milter
