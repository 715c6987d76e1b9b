// tests/unit/report/redis_server.cpp — see redis_server.h.
#include "redis_server.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <thread>

namespace mw::report::testing {

namespace {
struct ContextFree {
  void operator()(redisContext* c) const noexcept { redisFree(c); }
};
struct ReplyFree {
  void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
}  // namespace

RedisServer::RedisServer(std::filesystem::path dir, bool persist, std::vector<std::string> extra)
    : dir_(std::move(dir)), persist_(persist), extra_(std::move(extra)),
      socket_((dir_ / "redis.sock").string()) {}

RedisServer::~RedisServer() { stop(); }

bool RedisServer::installed() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string d;
  while (std::getline(dirs, d, ':')) {
    if (!d.empty() && ::access((d + "/redis-server").c_str(), X_OK) == 0) {
      return true;
    }
  }
  return false;
}

std::string RedisServer::start() {
  if (pid_ > 0) {
    return "already running";
  }
  std::vector<std::string> args{"redis-server", "--port", "0", "--unixsocket", socket_,
                                "--unixsocketperm", "700", "--appendonly", "no",
                                "--daemonize", "no", "--dir", dir_.string(),
                                "--logfile", (dir_ / "redis.log").string()};
  if (persist_) {
    args.insert(args.end(), {"--save", "3600 1", "--dbfilename", "dump.rdb"});
  } else {
    args.insert(args.end(), {"--save", ""});
  }
  args.insert(args.end(), extra_.begin(), extra_.end());
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) {
    return "fork failed";
  }
  if (pid_ == 0) {
    ::execvp("redis-server", argv.data());
    ::_exit(127);
  }
  const std::string password = [&] {
    for (std::size_t i = 0; i + 1 < extra_.size(); ++i) {
      if (extra_[i] == "--requirepass") {
        return extra_[i + 1];
      }
    }
    return std::string();
  }();
  for (int i = 0; i < 200; ++i) {  // 200 × 50 ms
    if (command({"PING"}, password) == "PONG") {
      return "";
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return "redis-server exited at start (see " + (dir_ / "redis.log").string() + ")";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop();
  return "redis-server did not answer within 10 s";
}

void RedisServer::stop() {
  if (pid_ <= 0) {
    return;
  }
  ::kill(pid_, SIGCONT);  // in case a test stopped it
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 200; ++i) {  // 200 × 50 ms
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string RedisServer::command(const std::vector<std::string>& args,
                                 const std::string& password) const {
  timeval tv{2, 0};
  std::unique_ptr<redisContext, ContextFree> c(redisConnectUnixWithTimeout(socket_.c_str(), tv));
  if (!c || c->err != 0 || redisSetTimeout(c.get(), tv) != REDIS_OK) {
    return "";
  }
  if (!password.empty()) {
    std::unique_ptr<redisReply, ReplyFree> auth(
        static_cast<redisReply*>(redisCommand(c.get(), "AUTH %s", password.c_str())));
  }
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const std::string& a : args) {
    argv.push_back(a.c_str());
    lens.push_back(a.size());
  }
  std::unique_ptr<redisReply, ReplyFree> r(static_cast<redisReply*>(
      redisCommandArgv(c.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
  if (!r) {
    return "";
  }
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      return std::string(r->str, r->len);
    case REDIS_REPLY_ARRAY: {
      std::string out;
      for (std::size_t i = 0; i < r->elements; ++i) {
        out += (i ? "," : "") + std::string(r->element[i]->str ? r->element[i]->str : "",
                                            r->element[i]->len);
      }
      return out;
    }
    default:
      return "";
  }
}

}  // namespace mw::report::testing
