// milter/socket.h — the listening socket around libmilter (private to milter/).
#pragma once

#include <optional>
#include <string>

namespace mw::milter {

// The file of a unix-domain milter socket ("unix:/path", "local:/path", or a bare
// "/path" as libmilter reads it), or nullopt for inet:/inet6: sockets. The spec has
// been validated by config/ (checkSocket) when this is called.
std::optional<std::string> unixSocketPath(const std::string& spec);

// libmilter opens the socket itself and hands us no descriptor, so this finds our
// listening TCP sockets in /proc/self/fd and sets TCP_NODELAY on them; Linux copies the
// option to every accepted connection. Without it the end-of-message exchange stalls
// ~40 ms: libmilter writes each header edit and the final reply as separate small
// packets, Nagle holds the second until the first is ACKed, and the MTA delays that ACK.
// Returns how many sockets were changed.
int setNoDelayOnListeners() noexcept;

}  // namespace mw::milter
