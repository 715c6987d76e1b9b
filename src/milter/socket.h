// milter/socket.h — the listening socket around libmilter (private to milter/).
//
// libmilter opens the socket itself (smfi_opensocket) and reports failure without a
// reason; for unix sockets it also unlinks, at exit, *whatever socket* is at the path by
// then (mi_closener compares nothing when the file is a socket), so a stopping instance
// removes the socket of the instance that replaced it. This module wraps it:
//   * before anything is opened, checkNotInUse() refuses when another process answers
//     on the socket (naming that process), and probe() binds once on its own to learn
//     the errno libmilter would not tell, and turns it into a sentence with a remedy;
//   * a unix socket is bound by libmilter at a private staging name in the same folder
//     (stagingPath), given its owner and mode there, and then rename()d over the
//     configured path (publish): the MTA never sees a socket with the wrong mode, a stale
//     socket is replaced atomically, and libmilter's exit-time unlink finds nothing at
//     the staging name. bind() creates a new file and rename() replaces the name itself:
//     neither follows a symbolic link.
//   * removeIfOurs() unlinks the path at exit only while it is still the file this
//     process published (same device and inode).
// Not thread-safe; called from run() before smfi_main and at exit.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "mailwarden/base/result.h"

namespace mw::milter {

// The file of a unix-domain milter socket ("unix:/path", "local:/path", or a bare
// "/path" as libmilter reads it), or nullopt for inet:/inet6: sockets. The spec has
// been validated by config/ (checkSocket) when this is called.
std::optional<std::string> unixSocketPath(const std::string& spec);

// Errc::Invalid "another process (pid N: CMDLINE) answers on SPEC: ..." when a process
// accepts connections on the unix socket `spec`; also when the path exists but is not a
// socket (a symbolic link, a file). A socket nobody answers on (a crashed instance's) is
// fine: publish() replaces it. inet: sockets are checked by probe() (EADDRINUSE).
[[nodiscard]] Result<void> checkNotInUse(const std::string& spec);

// The name libmilter binds a unix socket at: ".mailwarden-PID" in the socket's folder.
// Errc::Invalid when that name does not fit in sun_path.
[[nodiscard]] Result<std::string> stagingPath(const std::string& path);

// Binds (and closes) a socket as libmilter will: `bind_spec` is the libmilter spec of
// what will be bound (the staging path for unix sockets), `shown_spec` the configured
// one that errors name, `owner` the user the socket folder should belong to (for the
// remedy). Errc::Invalid "cannot open socket SPEC: STRERROR: REMEDY" on failure.
[[nodiscard]] Result<void> probe(const std::string& bind_spec, const std::string& shown_spec,
                                 const std::string& owner);

// A unix socket file this process published.
struct SocketFile {
  std::string path;
  dev_t dev = 0;
  ino_t ino = 0;
};

// rename(staging, path), then records the identity of what now is at `path`.
[[nodiscard]] Result<SocketFile> publish(const std::string& staging, const std::string& path);

// Unlinks file.path if it is still the file publish() put there; true if it did.
bool removeIfOurs(const SocketFile& file) noexcept;

// libmilter opens the socket itself and hands us no descriptor, so this finds our
// listening TCP sockets in /proc/self/fd and sets TCP_NODELAY on them; Linux copies the
// option to every accepted connection. Without it the end-of-message exchange stalls
// ~40 ms: libmilter writes each header edit and the final reply as separate small
// packets, Nagle holds the second until the first is ACKed, and the MTA delays that ACK.
// Returns how many sockets were changed.
int setNoDelayOnListeners() noexcept;

}  // namespace mw::milter
