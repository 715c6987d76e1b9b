#include "mailwarden/obs/log.h"

#include <syslog.h>

#include <atomic>
#include <cstdio>
#include <mutex>

namespace mw::obs {
namespace {

struct State {
  std::atomic<int> min_level{static_cast<int>(Level::Info)};
  std::atomic<int> sink{static_cast<int>(Sink::Stderr)};
  std::mutex stderr_mutex;  // keeps concurrent lines whole
};

State& state() noexcept {
  static State s;  // constant after first use; members are atomics or a mutex
  return s;
}

int facilityFromName(std::string_view name) noexcept {
  struct Entry {
    std::string_view name;
    int value;
  };
  static constexpr Entry kFacilities[] = {
      {"mail", LOG_MAIL},     {"daemon", LOG_DAEMON}, {"user", LOG_USER},
      {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
      {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
      {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
  };
  for (const Entry& e : kFacilities) {
    if (e.name == name) {
      return e.value;
    }
  }
  return LOG_MAIL;
}

int syslogPriority(Level level) noexcept {
  switch (level) {
    case Level::Debug: return LOG_DEBUG;
    case Level::Info: return LOG_INFO;
    case Level::Warn: return LOG_WARNING;
    case Level::Error: return LOG_ERR;
  }
  return LOG_ERR;
}

}  // namespace

std::string_view toString(Level level) noexcept {
  switch (level) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warning";
    case Level::Error: return "error";
  }
  return "error";
}

bool parseLevel(std::string_view text, Level& out) noexcept {
  if (text == "debug") {
    out = Level::Debug;
  } else if (text == "info") {
    out = Level::Info;
  } else if (text == "warn" || text == "warning") {
    out = Level::Warn;
  } else if (text == "error") {
    out = Level::Error;
  } else {
    return false;
  }
  return true;
}

void configure(Sink sink, Level min_level, std::string_view facility) noexcept {
  State& s = state();
  s.min_level.store(static_cast<int>(min_level));
  s.sink.store(static_cast<int>(sink));
  if (sink == Sink::Syslog) {
    openlog("mailwarden", LOG_PID | LOG_NDELAY, facilityFromName(facility));
  }
}

bool enabled(Level level) noexcept {
  return static_cast<int>(level) >= state().min_level.load(std::memory_order_relaxed);
}

void write(Level level, std::string_view queue_id, std::string_view module,
           std::string_view text) noexcept {
  if (!enabled(level)) {
    return;
  }
  State& s = state();
  const int qlen = static_cast<int>(queue_id.size());
  const int mlen = static_cast<int>(module.size());
  const int tlen = static_cast<int>(text.size());
  if (static_cast<Sink>(s.sink.load()) == Sink::Syslog) {
    if (queue_id.empty()) {
      syslog(syslogPriority(level), "%s: %.*s: %.*s", toString(level).data(), mlen, module.data(),
             tlen, text.data());
    } else {
      syslog(syslogPriority(level), "%.*s: %.*s: %.*s", qlen, queue_id.data(), mlen, module.data(),
             tlen, text.data());
    }
    return;
  }
  std::lock_guard<std::mutex> lock(s.stderr_mutex);
  if (queue_id.empty()) {
    std::fprintf(stderr, "mailwarden: %s: %.*s: %.*s\n", toString(level).data(), mlen,
                 module.data(), tlen, text.data());
  } else {
    std::fprintf(stderr, "mailwarden: %s: %.*s: %.*s: %.*s\n", toString(level).data(), qlen,
                 queue_id.data(), mlen, module.data(), tlen, text.data());
  }
}

void writeLine(Level level, std::string_view line) noexcept {
  if (!enabled(level)) {
    return;
  }
  State& s = state();
  const int len = static_cast<int>(line.size());
  if (static_cast<Sink>(s.sink.load()) == Sink::Syslog) {
    syslog(syslogPriority(level), "%.*s", len, line.data());
    return;
  }
  std::lock_guard<std::mutex> lock(s.stderr_mutex);
  std::fprintf(stderr, "%.*s\n", len, line.data());
}

}  // namespace mw::obs
