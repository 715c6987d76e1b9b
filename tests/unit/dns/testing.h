// Test helpers of dns/: an Answer as one line of text, so a table row can hold the whole
// expected answer and a failure prints `got … want …` readably.
#pragma once

#include <arpa/inet.h>

#include <cstdio>
#include <string>

#include "mailwarden/dns/resolver.h"

namespace mw::dns::testing {

// "ok TXT "v=spf1 -all"", "ok A 192.0.2.1 192.0.2.2", "nxdomain", "tempfail (timeout)".
// TXT octets outside printable ASCII (and '"', '\\') as \DDD.
inline std::string render(const Answer& a, bool with_why = true) {
  std::string out(toString(a.status));
  char buf[INET6_ADDRSTRLEN];
  for (const auto& v4 : a.a) {
    out += " A ";
    out += inet_ntop(AF_INET, v4.data(), buf, sizeof buf);
  }
  for (const auto& v6 : a.aaaa) {
    out += " AAAA ";
    out += inet_ntop(AF_INET6, v6.data(), buf, sizeof buf);
  }
  for (const std::string& t : a.txt) {
    out += " TXT \"";
    for (char ch : t) {
      const auto c = static_cast<unsigned char>(ch);
      if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
        char esc[5];
        std::snprintf(esc, sizeof esc, "\\%03u", static_cast<unsigned>(c));
        out += esc;
      } else {
        out += ch;
      }
    }
    out += '"';
  }
  for (const Mx& m : a.mx) {
    out += " MX " + std::to_string(m.preference) + " " + m.exchange;
  }
  for (const std::string& p : a.ptr) {
    out += " PTR " + p;
  }
  if (with_why && !a.why.empty()) {
    out += " (" + a.why + ")";
  }
  return out;
}

}  // namespace mw::dns::testing
