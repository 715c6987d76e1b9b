// tests/support/nsd_server.h — a real DNS server for tests and benchmarks: nsd on
// 127.0.0.1 (Debian package nsd), started by fork/exec and stopped by its PID. Used by
// tests/unit/dns/unbound_test.cpp and bench/spf_bench.cpp. Every wait is bounded.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "stop_child.h"

namespace mw::testsupport {

using std::chrono::milliseconds;

inline constexpr const char* kNsd = "/usr/sbin/nsd";

// A bound loopback socket of `type`; its port in *port (0: pick one).
inline int boundSocket(int type, std::uint16_t* port) {
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(*port);
  socklen_t len = sizeof sa;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    ::close(fd);
    return -1;
  }
  *port = ntohs(sa.sin_port);
  return fd;
}

// One SOA query for `zone` over UDP; true when any reply comes within `wait`.
inline bool probe(std::uint16_t port, milliseconds wait, const std::string& zone) {
  std::uint16_t any = 0;
  const int fd = boundSocket(SOCK_DGRAM, &any);
  if (fd < 0) {
    return false;
  }
  std::vector<unsigned char> q = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  std::size_t start = 0;
  while (start < zone.size()) {  // the zone name in wire form
    std::size_t dot = zone.find('.', start);
    if (dot == std::string::npos) {
      dot = zone.size();
    }
    q.push_back(static_cast<unsigned char>(dot - start));
    q.insert(q.end(), zone.begin() + static_cast<long>(start), zone.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  q.insert(q.end(), {0, 0, 6, 0, 1});  // root, QTYPE SOA, QCLASS IN
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(port);
  bool ok = false;
  if (::sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
      static_cast<ssize_t>(q.size())) {
    pollfd p{fd, POLLIN, 0};
    unsigned char buf[512];
    ok = ::poll(&p, 1, static_cast<int>(wait.count())) == 1 && ::recv(fd, buf, sizeof buf, 0) > 12;
  }
  ::close(fd);
  return ok;
}

// nsd in the foreground (-d), in its own temp dir, no chroot, no privilege change,
// serving one zone on a free 127.0.0.1 port. Stopped by its PID (SIGTERM, then SIGKILL
// after 5 s) in stop() or the destructor.
class NsdServer {
 public:
  ~NsdServer() { stop(); }

  // Empty on success, else why not (nsd missing, no port, nsd did not answer in 10 s).
  std::string start(const std::string& zone, const std::string& zone_file) {
    zone_ = zone;
    if (::access(kNsd, X_OK) != 0) {
      return std::string(kNsd) + " not installed (apt-get install nsd)";
    }
    char tmpl[] = "/tmp/mw-dns-nsd.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      return "mkdtemp failed";
    }
    dir_ = tmpl;
    std::string last;
    for (int attempt = 0; attempt < 5; ++attempt) {  // a port taken between probe and bind
      last = startOnce(zone_file);
      if (last.empty()) {
        return last;
      }
      stop(/*keep_dir=*/true);
    }
    return last;
  }

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string forwarder() const { return "127.0.0.1@" + std::to_string(port_); }

  // SIGTERM, then SIGKILL after 5 s; reaps the child.
  void stop(bool keep_dir = false) {
    if (pid_ > 0) {
      mw::testing::stopChild(pid_);
      pid_ = -1;
    }
    if (!keep_dir && !dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      dir_.clear();
    }
  }

 private:
  std::string startOnce(const std::string& zone_file) {
    // A port free for both UDP and TCP right now.
    std::uint16_t port = 0;
    const int u = boundSocket(SOCK_DGRAM, &port);
    const int t = u >= 0 ? boundSocket(SOCK_STREAM, &port) : -1;
    if (u >= 0) {
      ::close(u);
    }
    if (t < 0) {
      return "no free loopback port";
    }
    ::close(t);
    port_ = port;
    const std::string conf = dir_ + "/nsd.conf";
    std::ofstream(conf) << "server:\n"
                        << "  ip-address: 127.0.0.1@" << port_ << "\n"
                        << "  do-ip6: no\n"
                        << "  username: \"\"\n"
                        << "  chroot: \"\"\n"
                        << "  zonesdir: \"" << dir_ << "\"\n"
                        << "  pidfile: \"" << dir_ << "/nsd.pid\"\n"
                        << "  database: \"\"\n"
                        << "  xfrdfile: \"" << dir_ << "/xfrd.state\"\n"
                        << "  zonelistfile: \"" << dir_ << "/zone.list\"\n"
                        << "  xfrdir: \"" << dir_ << "\"\n"
                        << "  logfile: \"" << dir_ << "/nsd.log\"\n"
                        << "  server-count: 1\n"
                        << "remote-control:\n"
                        << "  control-enable: no\n"
                        << "zone:\n"
                        << "  name: " << zone_ << "\n"
                        << "  zonefile: \"" << zone_file << "\"\n";
    const pid_t pid = ::fork();
    if (pid < 0) {
      return "fork failed";
    }
    if (pid == 0) {
      const char* argv[] = {kNsd, "-d", "-c", conf.c_str(), nullptr};
      ::execv(kNsd, const_cast<char* const*>(argv));
      ::_exit(127);
    }
    pid_ = pid;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "nsd exited at start: " + log();
      }
      if (probe(port_, milliseconds(100), zone_)) {
        return "";
      }
    }
    return "nsd did not answer within 10 s: " + log();
  }

  std::string log() const {
    std::ifstream in(dir_ + "/nsd.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string zone_;
  std::string dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};


}  // namespace mw::testsupport
