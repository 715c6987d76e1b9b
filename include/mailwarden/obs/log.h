// obs/log.h — one logging vocabulary for the whole program (Postfix msg.c):
//   debug  — detail for a developer;
//   info   — one summary line per message, start/stop/reload;
//   warn   — a degraded path taken (DNS temperror, limit hit, reload rejected);
//   error  — a failure that cost a message its verdict (tempfail by policy).
// Every line about a message starts with its queue id: "QUEUEID: module: text".
// Thread-safe: configure() once at start-up (or under reload), log() from any thread.
// Never throws.
#pragma once

#include <string>
#include <string_view>

#include <fmt/format.h>

namespace mw::obs {

enum class Level { Debug, Info, Warn, Error };

enum class Sink { Stderr, Syslog };

// How the per-message line (scan/message_log.h) is written: key=value text after the
// usual "QUEUEID: scan: " prefix, or one JSON object per line for log shippers.
enum class Format { Text, Json };

std::string_view toString(Level level) noexcept;
// Parses "debug" | "info" | "warn" | "error"; false for anything else.
bool parseLevel(std::string_view text, Level& out) noexcept;

// Sets where lines go and the lowest level written. For Syslog, facility is a name such
// as "mail" or "local0"; an unknown name falls back to "mail".
void configure(Sink sink, Level min_level, std::string_view facility = "mail") noexcept;
bool enabled(Level level) noexcept;

// queue_id may be empty (no message yet): the line then starts with the module.
void write(Level level, std::string_view queue_id, std::string_view module,
           std::string_view text) noexcept;

// Writes `line` as it is, without the "mailwarden: LEVEL: QUEUEID: module: " prefix: on
// stderr the whole output line is `line` (a JSON object a shipper reads as is), to
// syslog it is the message text (syslog adds its own header). The caller makes `line`
// one line of printable text; this only writes it (same level filter as write()).
void writeLine(Level level, std::string_view line) noexcept;

template <typename... Args>
void log(Level level, std::string_view queue_id, std::string_view module,
         fmt::format_string<Args...> format, Args&&... args) noexcept {
  if (!enabled(level)) {
    return;
  }
  try {
    write(level, queue_id, module, fmt::format(format, std::forward<Args>(args)...));
  } catch (...) {
    write(level, queue_id, module, "(log line could not be formatted)");
  }
}

}  // namespace mw::obs
