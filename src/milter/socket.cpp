#include "socket.h"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdlib>

namespace mw::milter {

Result<SocketSpec> parseSocketSpec(const std::string& spec) {
  const std::size_t colon = spec.find(':');
  if (colon == std::string::npos) {
    // libmilter reads a bare path as a unix socket.
    if (!spec.empty() && spec.front() == '/') {
      return SocketSpec{SocketSpec::Family::Unix, spec, 0, ""};
    }
    return fail(Errc::Invalid, "socket '" + spec + "': expected unix:/path or inet:PORT@HOST");
  }
  const std::string kind = spec.substr(0, colon);
  const std::string rest = spec.substr(colon + 1);
  if (kind == "unix" || kind == "local") {
    if (rest.empty() || rest.front() != '/') {
      return fail(Errc::Invalid, "socket '" + spec + "': the path must be absolute");
    }
    return SocketSpec{SocketSpec::Family::Unix, rest, 0, ""};
  }
  if (kind == "inet" || kind == "inet6") {
    const std::size_t at = rest.find('@');
    const std::string port_text = rest.substr(0, at);
    char* end = nullptr;
    const long port = std::strtol(port_text.c_str(), &end, 10);
    if (port_text.empty() || *end != '\0' || port < 1 || port > 65535) {
      return fail(Errc::Invalid, "socket '" + spec + "': port must be 1..65535");
    }
    SocketSpec s;
    s.family = kind == "inet" ? SocketSpec::Family::Inet : SocketSpec::Family::Inet6;
    s.port = static_cast<int>(port);
    s.host = at == std::string::npos ? "" : rest.substr(at + 1);
    return s;
  }
  return fail(Errc::Invalid, "socket '" + spec + "': unknown kind '" + kind + "'");
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
