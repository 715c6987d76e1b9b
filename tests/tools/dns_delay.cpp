// dns_delay — a DNS forwarder that answers late on purpose, for tests and benchmarks of
// lookups in flight at once (issue 17): every answer reaches its client --delay-ms after
// the question, however many questions are outstanding, so N lookups made one after
// another take N x delay and N lookups in flight together take about one delay.
//
//   dns_delay --listen 127.0.0.1:PORT --upstream 127.0.0.1:PORT --delay-ms N
//             [--pidfile FILE] [--max-pending N]
//
// Addresses are IPv4 a.b.c.d:PORT or [IPv6]:PORT, and both must be loopback (127/8,
// ::1): a test tool never talks to anything else. PORT 0 for --listen picks a free port.
// On stdout, once the socket is bound: "listening ADDR:PORT" (the real port), then
// nothing until it stops. SIGTERM or SIGINT stop it (exit status 0); bad usage is 2, a
// socket that cannot be opened 1.
//
// UDP only. libunbound would retry a truncated answer over TCP; the zones of the tests
// have no answer near 512 octets, so TCP is not served (a TCP retry would get "connection
// refused" and the lookup SERVFAIL, which a test would see).
//
// How: each question gets its own UDP socket connected to the upstream, so the reply on
// that socket can only be the answer to that question: no ID rewriting, no parsing
// beyond the 2-byte ID (a reply with another ID is dropped, as a resolver would). The
// answer is sent to the client at max(question + delay, answer arrival). One thread and
// poll(); questions are never queued behind each other. Bounded: at most --max-pending
// questions (default 256; more are dropped and counted, the client retries), each
// forgotten 10 s after it was asked if the upstream never answers, each datagram at most
// 65535 octets.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <list>
#include <optional>
#include <string>
#include <vector>

#include "mailwarden/base/fd.h"

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kUpstreamGiveUp(10000);
constexpr std::size_t kMaxDatagram = 65535;
constexpr int kReadsPerWakeup = 64;  // fairness between the listener and the replies

struct Address {
  sockaddr_storage sa{};
  socklen_t len = 0;
};

// "127.0.0.1:53" or "[::1]:53"; nullopt when not numeric or not loopback.
std::optional<Address> parseLoopback(const std::string& text) {
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string::npos) {
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  char* end = nullptr;
  const unsigned long p = std::strtoul(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p > 65535) {
    return std::nullopt;
  }
  Address a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.sa);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.sa);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    if ((ntohl(v4->sin_addr.s_addr) >> 24) != 127) {
      return std::nullopt;
    }
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(p));
    a.len = sizeof(sockaddr_in);
    return a;
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) {
      return std::nullopt;
    }
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(p));
    a.len = sizeof(sockaddr_in6);
    return a;
  }
  return std::nullopt;
}

std::string render(const Address& a) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (a.sa.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a.sa);
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(v4->sin_port));
  }
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a.sa);
  inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
  return "[" + std::string(buf) + "]:" + std::to_string(ntohs(v6->sin6_port));
}

// One question in flight: its own socket to the upstream until the answer is in, then
// the answer until it is due.
struct Pending {
  mw::Fd upstream;
  Address client;
  std::uint8_t id[2] = {0, 0};
  Clock::time_point asked;
  std::vector<char> answer;  // empty until the upstream answered
  bool answered = false;
  Clock::time_point due;
};

struct Args {
  Address listen;
  Address upstream;
  milliseconds delay{0};
  std::string pidfile;
  std::size_t max_pending = 256;
};

void usage() {
  std::fputs(
      "usage: dns_delay --listen ADDR:PORT --upstream ADDR:PORT --delay-ms N\n"
      "                 [--pidfile FILE] [--max-pending N]\n"
      "ADDR: loopback only (127.0.0.0/8, [::1])\n",
      stderr);
}

std::optional<Args> parseArgs(int argc, char** argv) {
  Args a;
  bool have_listen = false;
  bool have_upstream = false;
  bool have_delay = false;
  for (int i = 1; i < argc; i += 2) {
    const std::string opt = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "dns_delay: %s needs a value\n", opt.c_str());
      return std::nullopt;
    }
    const std::string val = argv[i + 1];
    if (opt == "--listen" || opt == "--upstream") {
      const std::optional<Address> addr = parseLoopback(val);
      if (!addr) {
        std::fprintf(stderr, "dns_delay: %s %s: want a loopback ADDR:PORT\n", opt.c_str(),
                     val.c_str());
        return std::nullopt;
      }
      (opt == "--listen" ? a.listen : a.upstream) = *addr;
      (opt == "--listen" ? have_listen : have_upstream) = true;
    } else if (opt == "--delay-ms" || opt == "--max-pending") {
      char* end = nullptr;
      const long n = std::strtol(val.c_str(), &end, 10);
      if (val.empty() || *end != '\0' || n < 0 || n > 3600000 ||
          (opt == "--max-pending" && n < 1)) {
        std::fprintf(stderr, "dns_delay: %s %s: want a number\n", opt.c_str(), val.c_str());
        return std::nullopt;
      }
      if (opt == "--delay-ms") {
        a.delay = milliseconds(n);
        have_delay = true;
      } else {
        a.max_pending = static_cast<std::size_t>(n);
      }
    } else if (opt == "--pidfile") {
      a.pidfile = val;
    } else {
      std::fprintf(stderr, "dns_delay: unknown option %s\n", opt.c_str());
      return std::nullopt;
    }
  }
  if (!have_listen || !have_upstream || !have_delay) {
    return std::nullopt;
  }
  return a;
}

mw::Fd udpSocket(int family) {
  return mw::Fd(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
}

class Forwarder {
 public:
  Forwarder(const Args& args, mw::Fd listener, mw::Fd signals)
      : args_(args), listener_(std::move(listener)), signals_(std::move(signals)) {}

  // Until SIGTERM/SIGINT; 0, or 1 when poll() itself fails.
  int run() {
    std::vector<pollfd> fds;
    std::vector<Pending*> owners;  // owners[i] for fds[i], i >= 2
    while (true) {
      fds.clear();
      owners.clear();
      fds.push_back({signals_.get(), POLLIN, 0});
      fds.push_back({listener_.get(), POLLIN, 0});
      for (Pending& p : pending_) {
        if (!p.answered) {
          fds.push_back({p.upstream.get(), POLLIN, 0});
          owners.push_back(&p);
        }
      }
      if (::poll(fds.data(), fds.size(), timeoutMs()) < 0) {
        if (errno == EINTR) {
          continue;
        }
        std::perror("dns_delay: poll");
        return 1;
      }
      if (fds[0].revents != 0) {
        std::fprintf(stderr,
                     "dns_delay: stopping; %lu questions forwarded, %lu dropped (over --max-pending)\n",
                     static_cast<unsigned long>(forwarded_), static_cast<unsigned long>(dropped_));
        return 0;
      }
      if (fds[1].revents != 0) {
        readQuestions();
      }
      for (std::size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents != 0) {
          readAnswer(*owners[i - 2]);
        }
      }
      sendDueAndExpire();
    }
  }

 private:
  int timeoutMs() const {
    if (pending_.empty()) {
      return -1;
    }
    const Clock::time_point now = Clock::now();
    Clock::time_point next = Clock::time_point::max();
    for (const Pending& p : pending_) {
      next = std::min(next, p.answered ? p.due : p.asked + kUpstreamGiveUp);
    }
    if (next <= now) {
      return 0;
    }
    return static_cast<int>(std::chrono::ceil<milliseconds>(next - now).count());
  }

  void readQuestions() {
    for (int n = 0; n < kReadsPerWakeup; ++n) {
      Address from;
      from.len = sizeof from.sa;
      const ssize_t got = ::recvfrom(listener_.get(), buf_.data(), buf_.size(), 0,
                                     reinterpret_cast<sockaddr*>(&from.sa), &from.len);
      if (got < 0) {
        return;  // EAGAIN: all read
      }
      if (got < 12) {
        continue;  // not even a DNS header
      }
      if (pending_.size() >= args_.max_pending) {
        ++dropped_;
        continue;
      }
      Pending p;
      p.upstream = udpSocket(args_.upstream.sa.ss_family);
      if (p.upstream.get() < 0 ||
          ::connect(p.upstream.get(), reinterpret_cast<const sockaddr*>(&args_.upstream.sa),
                    args_.upstream.len) != 0 ||
          ::send(p.upstream.get(), buf_.data(), static_cast<std::size_t>(got), 0) != got) {
        ++dropped_;
        continue;
      }
      p.client = from;
      p.id[0] = static_cast<std::uint8_t>(buf_[0]);
      p.id[1] = static_cast<std::uint8_t>(buf_[1]);
      p.asked = Clock::now();
      pending_.push_back(std::move(p));
      ++forwarded_;
    }
  }

  void readAnswer(Pending& p) {
    const ssize_t got = ::recv(p.upstream.get(), buf_.data(), buf_.size(), 0);
    if (got < 12 || static_cast<std::uint8_t>(buf_[0]) != p.id[0] ||
        static_cast<std::uint8_t>(buf_[1]) != p.id[1]) {
      return;  // an error (ECONNREFUSED: the client retries) or not our answer
    }
    p.answer.assign(buf_.begin(), buf_.begin() + got);
    p.answered = true;
    p.due = std::max(p.asked + args_.delay, Clock::now());
    p.upstream = mw::Fd();  // done with it: one descriptor per question in flight only
  }

  void sendDueAndExpire() {
    const Clock::time_point now = Clock::now();
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->answered && it->due <= now) {
        // A client that went away is not our problem: the datagram is lost, as on a net.
        static_cast<void>(::sendto(listener_.get(), it->answer.data(), it->answer.size(), 0,
                                   reinterpret_cast<const sockaddr*>(&it->client.sa),
                                   it->client.len));
        it = pending_.erase(it);
      } else if (!it->answered && it->asked + kUpstreamGiveUp <= now) {
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
  }

  const Args& args_;
  mw::Fd listener_;
  mw::Fd signals_;
  std::list<Pending> pending_;  // stable addresses for the poll owners
  std::vector<char> buf_ = std::vector<char>(kMaxDatagram);
  std::size_t dropped_ = 0;
  std::size_t forwarded_ = 0;  // questions sent upstream (reported at exit)
};

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Args> args = parseArgs(argc, argv);
  if (!args) {
    usage();
    return 2;
  }
  // SIGTERM/SIGINT arrive through a descriptor the poll loop watches: no handler runs
  // between two system calls, and stopping is just leaving the loop.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  if (sigprocmask(SIG_BLOCK, &stop, nullptr) != 0) {
    std::perror("dns_delay: sigprocmask");
    return 1;
  }
  mw::Fd signals(::signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK));
  mw::Fd listener = udpSocket(args->listen.sa.ss_family);
  if (signals.get() < 0 || listener.get() < 0) {
    std::perror("dns_delay: socket");
    return 1;
  }
  Address bound = args->listen;
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&bound.sa), bound.len) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&bound.sa), &bound.len) != 0) {
    std::fprintf(stderr, "dns_delay: bind %s: %s\n", render(args->listen).c_str(),
                 std::strerror(errno));
    return 1;
  }
  if (!args->pidfile.empty()) {
    std::ofstream out(args->pidfile);
    out << ::getpid() << "\n";
    if (!out.flush()) {
      std::fprintf(stderr, "dns_delay: cannot write %s\n", args->pidfile.c_str());
      return 1;
    }
  }
  std::printf("listening %s\n", render(bound).c_str());
  std::fflush(stdout);
  Forwarder forwarder(*args, std::move(listener), std::move(signals));
  return forwarder.run();
}
