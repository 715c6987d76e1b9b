// tests/unit/report/redis_server.h — a redis-server of the test's own, on a unix socket in
// a folder the test owns (no TCP port at all: --port 0), started and stopped by its PID.
// Thread-safety: none (one test thread drives it).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace mw::report::testing {

class RedisServer {
 public:
  // `dir` holds the socket, the log and (persist) the RDB file; it must exist.
  // persist: the server saves its data when stopped (SIGTERM) and loads it at start, so a
  // restart keeps the counts (the "Redis restarted" tests). extra: more arguments
  // (e.g. {"--requirepass", "x"}).
  RedisServer(std::filesystem::path dir, bool persist, std::vector<std::string> extra = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // redis-server found on PATH?
  static bool installed();
  // Starts it and waits (at most 10 s) until it answers PING. "" or why not.
  std::string start();
  // SIGTERM to our PID, waits (at most 10 s, then SIGKILL). No-op when not running.
  void stop();
  pid_t pid() const noexcept { return pid_; }
  const std::string& socket() const noexcept { return socket_; }
  std::string url() const { return "redis+unix://" + socket_; }

  // One command on a fresh connection (empty when it fails): an integer or a string reply
  // as text, an array joined by ','. For the tests' look behind the store's back.
  std::string command(const std::vector<std::string>& args, const std::string& password = "") const;

 private:
  std::filesystem::path dir_;
  bool persist_;
  std::vector<std::string> extra_;
  std::string socket_;
  pid_t pid_ = -1;
};

}  // namespace mw::report::testing
