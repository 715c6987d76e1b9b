// metrics/server.h — the Prometheus endpoint (issue 19): GET or HEAD /metrics answers
// obs::renderPrometheus() in the text exposition format 0.0.4; any other path is 404, any
// other method 405. Nothing else is served and nothing is read from the request beyond
// its method and path; no authentication (bind it to loopback or a management network).
//
// libmicrohttpd (Debian's libmicrohttpd12) runs the endpoint in one internal thread of
// its own, with every signal blocked (base/signals_blocked.h: SIGHUP and SIGTERM belong
// to libmilter's signal thread). At most kMaxConnections clients at once, each closed
// after kConnectionTimeoutSeconds idle: a stuck scraper cannot pin a thread or memory.
//
// The listening socket is ours: bound here (so the error says what failed: "bind
// 127.0.0.1:9128: Address already in use"), then handed to libmicrohttpd, which closes
// it when the Server goes. milter/ starts it before the privilege drop, so a port below
// 1024 works; the thread keeps running after setuid (glibc applies it to every thread).
// Thread-safety: start() and the destructor from one thread; the endpoint itself reads
// only the thread-safe obs registry.
#pragma once

#include <memory>
#include <string>

#include "mailwarden/base/result.h"

namespace mw::metrics {

inline constexpr unsigned kMaxConnections = 16;
inline constexpr unsigned kConnectionTimeoutSeconds = 10;

class Server {
 public:
  // Binds address:port (an IPv4 or IPv6 literal, as config::MetricsOptions holds it) and
  // starts serving. Errc::TempFail when the address cannot be bound (in use, not
  // permitted), Errc::Invalid for an address that is not a literal, Errc::Internal when
  // libmicrohttpd fails to start. Never throws except std::bad_alloc.
  static Result<std::unique_ptr<Server>> start(const std::string& address, int port);

  // Stops the thread (an answer being written is finished first) and closes the socket.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // "127.0.0.1:9128", "[::1]:9128": what is actually bound.
  const std::string& endpoint() const noexcept { return endpoint_; }
  // The port bound; differs from the one asked for only when 0 was asked (tests).
  int port() const noexcept { return port_; }

 private:
  struct Daemon;
  Server(std::unique_ptr<Daemon> d, std::string endpoint, int port);
  std::unique_ptr<Daemon> daemon_;
  std::string endpoint_;
  int port_ = 0;
};

// Fills obs::setBuildInfo() with this build's version and the versions of the libraries
// it runs with (Hyperscan or Vectorscan, libopendkim, OpenSSL), as mailwarden_build_info
// labels. Call once at start-up. Never throws except std::bad_alloc.
void recordBuildInfo();

}  // namespace mw::metrics
