// milter/socket.cpp — see socket.h. Why not libmilter alone: it gives no errno on
// failure and unlinks another instance's socket at exit (socket.h).
#include "socket.h"

#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iterator>

#include "mailwarden/base/fd.h"

namespace mw::milter {

std::optional<std::string> unixSocketPath(const std::string& spec) {
  for (const char* prefix : {"unix:", "local:"}) {
    const std::string p(prefix);
    if (spec.compare(0, p.size(), p) == 0) {
      return spec.substr(p.size());
    }
  }
  if (!spec.empty() && spec.front() == '/') {
    return spec;
  }
  return std::nullopt;
}

namespace {

std::string folderOf(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool fillUnixAddress(const std::string& path, sockaddr_un& addr) {
  addr = sockaddr_un{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return false;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return true;
}

// "pid 1234: mailwarden run -c /etc/mailwarden/mailwarden.yaml" from /proc, as far as
// it can be read.
std::string describeProcess(pid_t pid) {
  std::string out = "pid " + std::to_string(pid);
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!cmd.empty() && cmd.back() == '\0') {
    cmd.pop_back();
  }
  for (char& c : cmd) {
    if (c == '\0') {
      c = ' ';
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      c = '?';
    }
  }
  if (!cmd.empty()) {
    out += ": " + cmd.substr(0, 200);
  }
  return out;
}

// What to do about errno `err` from binding the unix socket at `path` (nullopt: TCP),
// for `owner`, the user that must own its folder.
std::string remedy(int err, const std::optional<std::string>& path, const std::string& owner) {
  const std::string who = owner.empty() ? "the user mailwarden runs as" : owner;
  if (path) {
    const std::string folder = folderOf(*path);
    switch (err) {
      case ENOENT:
        return "create the folder " + folder + ", owned by " + who +
               " (mode 0750; the MTA's user a member of its group)";
      case ENOTDIR: return "a part of " + folder + " is not a folder";
      case EACCES:
      case EPERM:
        return "the folder " + folder + " must be writable by " + who + " (chown " + who + " " +
               folder + ")";
      case EROFS:
        return folder + " is read-only here (under systemd: ReadWritePaths= of the unit)";
      case EADDRINUSE: return "a file is in the way at the staging name; remove it";
      default: return "check milter.socket";
    }
  }
  switch (err) {
    case EADDRINUSE:
      return "another process listens on it: stop it, or choose another port in milter.socket";
    case EADDRNOTAVAIL: return "the address is not one of this machine's";
    case EACCES: return "ports below 1024 need root: choose a port above 1023";
    default: return "check milter.socket";
  }
}

// socket() + bind() for an inet:/inet6: spec ("inet:PORT", "inet:PORT@HOST",
// "inet6:PORT@[ADDR]"), as libmilter does it (SO_REUSEADDR). errno-style result.
int bindInet(const std::string& spec) {
  const std::size_t colon = spec.find(':');
  const bool v6 = spec.compare(0, colon, "inet6") == 0;
  std::string rest = spec.substr(colon + 1);
  std::string port = rest;
  std::string host;
  if (const std::size_t at = rest.find('@'); at != std::string::npos) {
    port = rest.substr(0, at);
    host = rest.substr(at + 1);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = v6 ? AF_INET6 : AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found) != 0 ||
      found == nullptr) {
    return EADDRNOTAVAIL;
  }
  const Fd s(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int err = 0;
  const int one = 1;
  if (s.get() < 0) {
    err = errno;
  } else if (::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
             ::bind(s.get(), found->ai_addr, found->ai_addrlen) != 0) {
    err = errno;
  }
  ::freeaddrinfo(found);
  return err;
}

}  // namespace

Result<void> checkNotInUse(const std::string& spec) {
  const std::optional<std::string> path = unixSocketPath(spec);
  if (!path) {
    return {};
  }
  struct stat st {};
  if (::lstat(path->c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return {};
    }
    return fail(Errc::Invalid, "cannot check " + *path + ": " + std::strerror(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    const char* what = S_ISLNK(st.st_mode) ? "a symbolic link" : S_ISDIR(st.st_mode) ? "a folder" : "a file";
    return fail(Errc::Invalid, "cannot open socket " + spec + ": " + *path + " is " + what +
                                   ", not a socket; remove it if nothing needs it (mailwarden "
                                   "does not replace it)");
  }
  sockaddr_un addr{};
  if (!fillUnixAddress(*path, addr)) {
    return fail(Errc::Invalid, "socket path too long: " + *path);
  }
  const Fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s.get() < 0) {
    return fail(Errc::Invalid, std::string("socket: ") + std::strerror(errno));
  }
  if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno == ECONNREFUSED) {
      return {};  // nobody answers: a socket left behind, replaced when we publish ours
    }
    return fail(Errc::Invalid, "cannot tell whether another process answers on " + spec +
                                   ": connect: " + std::strerror(errno) +
                                   "; refusing to replace the socket");
  }
  ucred peer{};
  socklen_t len = sizeof peer;
  const std::string who = ::getsockopt(s.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0 && peer.pid > 0
                              ? describeProcess(peer.pid)
                              : "pid unknown";
  return fail(Errc::Invalid, "another process (" + who + ") answers on " + spec +
                                 ": stop it first, or give this instance another milter.socket");
}

Result<std::string> stagingPath(const std::string& path) {
  std::string staging = folderOf(path);
  staging += (staging == "/" ? "" : "/");
  staging += ".mailwarden-" + std::to_string(::getpid());
  sockaddr_un addr{};
  if (!fillUnixAddress(staging, addr)) {
    return fail(Errc::Invalid, "cannot open socket " + path + ": the folder's name is too long for "
                               "a unix socket (" + std::to_string(sizeof addr.sun_path - 1) +
                               " bytes with the staging name " + staging + ")");
  }
  return staging;
}

Result<void> probe(const std::string& bind_spec, const std::string& shown_spec, const std::string& owner) {
  const std::optional<std::string> path = unixSocketPath(bind_spec);
  int err = 0;
  if (path) {
    sockaddr_un addr{};
    if (!fillUnixAddress(*path, addr)) {
      err = ENAMETOOLONG;
    } else {
      // A staging name left by a crashed process with our pid: only a socket is removed.
      struct stat st {};
      if (::lstat(path->c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
        static_cast<void>(::unlink(path->c_str()));
      }
      const Fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (s.get() < 0 || ::bind(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        err = errno;
      } else {
        static_cast<void>(::unlink(path->c_str()));
      }
    }
  } else {
    err = bindInet(bind_spec);
  }
  if (err == 0) {
    return {};
  }
  const std::optional<std::string> shown_path = unixSocketPath(shown_spec);
  return fail(Errc::Invalid, "cannot open socket " + shown_spec + ": " + std::strerror(err) + ": " +
                                 remedy(err, shown_path, owner));
}

Result<SocketFile> publish(const std::string& staging, const std::string& path) {
  if (::rename(staging.c_str(), path.c_str()) != 0) {
    const int err = errno;
    static_cast<void>(::unlink(staging.c_str()));
    return fail(Errc::Invalid, "cannot open socket " + path + ": rename from " + staging + ": " +
                                   std::strerror(err));
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
    return fail(Errc::Invalid, "cannot open socket " + path + ": it vanished after rename");
  }
  return SocketFile{path, st.st_dev, st.st_ino};
}

bool removeIfOurs(const SocketFile& file) noexcept {
  struct stat st {};
  if (file.path.empty() || ::lstat(file.path.c_str(), &st) != 0 || st.st_dev != file.dev ||
      st.st_ino != file.ino) {
    return false;
  }
  return ::unlink(file.path.c_str()) == 0;
}

int setNoDelayOnListeners() noexcept {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    return 0;
  }
  int changed = 0;
  while (const dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (*end != '\0' || fd < 0 || fd == dirfd(dir)) {
      continue;
    }
    int value = 0;
    socklen_t len = sizeof value;
    const int sfd = static_cast<int>(fd);
    if (getsockopt(sfd, SOL_SOCKET, SO_ACCEPTCONN, &value, &len) != 0 || value == 0) {
      continue;
    }
    int domain = 0;
    len = sizeof domain;
    if (getsockopt(sfd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 ||
        (domain != AF_INET && domain != AF_INET6)) {
      continue;
    }
    const int one = 1;
    if (setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0) {
      ++changed;
    }
  }
  closedir(dir);
  return changed;
}

}  // namespace mw::milter
