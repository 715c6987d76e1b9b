// Test helper of dns/: tests/tools/dns_delay in front of a DNS server on loopback,
// started by fork/exec (path MW_DNS_DELAY) and stopped by its PID (SIGTERM, then SIGKILL
// after 5 s). Every wait is bounded.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "tests/support/stop_child.h"

namespace mw::dns::testing {

class DnsDelayProcess {
 public:
  ~DnsDelayProcess() { stop(); }

  // Empty on success, else why not. `upstream_port`: the server behind it on 127.0.0.1.
  std::string start(std::uint16_t upstream_port, int delay_ms) {
    if (::access(MW_DNS_DELAY, X_OK) != 0) {
      return std::string(MW_DNS_DELAY) + " not built";
    }
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) {
      return "pipe failed";
    }
    const std::string upstream = "127.0.0.1:" + std::to_string(upstream_port);
    const std::string delay = std::to_string(delay_ms);
    const pid_t pid = ::fork();
    if (pid < 0) {
      ::close(out[0]);
      ::close(out[1]);
      return "fork failed";
    }
    if (pid == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      const char* argv[] = {MW_DNS_DELAY, "--listen", "127.0.0.1:0", "--upstream",
                            upstream.c_str(), "--delay-ms", delay.c_str(), nullptr};
      ::execv(MW_DNS_DELAY, const_cast<char* const*>(argv));
      ::_exit(127);
    }
    pid_ = pid;
    ::close(out[1]);
    // "listening 127.0.0.1:PORT\n" within 5 s.
    std::string line;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < until) {
      pollfd p{out[0], POLLIN, 0};
      if (::poll(&p, 1, 100) != 1) {
        continue;
      }
      char buf[128];
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) {
        break;
      }
      line.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    const std::string prefix = "listening 127.0.0.1:";
    if (line.rfind(prefix, 0) != 0) {
      stop();
      return "dns_delay did not start: \"" + line + "\"";
    }
    port_ = static_cast<std::uint16_t>(std::stoi(line.substr(prefix.size())));
    return "";
  }

  std::string forwarder() const { return "127.0.0.1@" + std::to_string(port_); }

  void stop() {
    mw::testing::stopChild(pid_);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace mw::dns::testing
