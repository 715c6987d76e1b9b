#include "socket.h"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdlib>
#include <initializer_list>

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
