#include "mailwarden/obs/counters.h"

namespace mw::obs {

Counters& counters() noexcept {
  static Counters c;  // atomics only; safe to share between libmilter's threads
  return c;
}

std::string renderCounters() {
  const Counters& c = counters();
  struct Row {
    const char* name;
    const Counter& counter;
  };
  const Row rows[] = {
      {"connections", c.connections},   {"messages", c.messages},
      {"accepted", c.accepted},         {"tagged", c.tagged},
      {"quarantined", c.quarantined},   {"tempfailed", c.tempfailed},
      {"rejected", c.rejected},         {"internal_errors", c.internal_errors},
      {"limits_hit", c.limits_hit},     {"mime_defects", c.mime_defects},
      {"forged_authres", c.forged_authres}, {"list_errors", c.list_errors},
      {"reloads", c.reloads},
      {"reloads_rejected", c.reloads_rejected},
  };
  std::string out;
  for (const Row& r : rows) {
    out += r.name;
    out += ' ';
    out += std::to_string(r.counter.get());
    out += '\n';
  }
  return out;
}

}  // namespace mw::obs
