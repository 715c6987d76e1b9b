// milter/privileges.h — least privilege (Postfix single_server.c): the socket is opened
// and files are read as root, then the process drops to the configured user for good,
// before the first connection. Private to milter/.
#pragma once

#include <string>

#include "mailwarden/base/result.h"

namespace mw::milter {

struct Identity {
  unsigned uid = 0;
  unsigned gid = 0;
  std::string user;
};

// Looks up `user` (and `group`, or the user's primary group). Empty user: the current
// identity, no switch.
// Errors name the remedy ("create it: adduser --system --group mailwarden").
[[nodiscard]] Result<Identity> lookupIdentity(const std::string& user, const std::string& group);

// Gives a unix socket file to the identity (when root; the mode was set at bind time by
// the umask), without following a symbolic link.
[[nodiscard]] Result<void> handOverSocket(const std::string& path, const Identity& who);

// setgroups/setgid/setuid, irrevocably; verifies that root cannot be regained.
// A no-op when the identity is the current one.
[[nodiscard]] Result<void> dropTo(const Identity& who);

}  // namespace mw::milter
