// Test helpers of dns/: an Answer as one line of text, so a table row can hold the whole
// expected answer and a failure prints `got … want …` readably.
#pragma once

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "mailwarden/dns/resolver.h"

namespace mw::dns::testing {

// "ok TXT "v=spf1 -all"", "ok A 192.0.2.1 A 192.0.2.2", "nxdomain", "tempfail (timeout)".
// TXT octets outside printable ASCII (and '"', '\\') as \DDD. `sorted`: records of each
// type in sorted order, for servers that may rotate an RRset (unbound's rrset-roundrobin).
inline std::string render(Answer a, bool with_why = true, bool sorted = false) {
  if (sorted) {
    std::sort(a.a.begin(), a.a.end());
    std::sort(a.aaaa.begin(), a.aaaa.end());
    std::sort(a.txt.begin(), a.txt.end());
    std::sort(a.ptr.begin(), a.ptr.end());
    std::sort(a.mx.begin(), a.mx.end(), [](const Mx& x, const Mx& y) {
      return x.preference != y.preference ? x.preference < y.preference : x.exchange < y.exchange;
    });
  }
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

struct QueryCase {
  const char* name;
  std::string qname;
  Type type;
  std::string want;  // render() of the answer
};

// What tests/unit/dns/zones/example.zone answers, for ZoneResolver and for nsd behind
// UnboundResolver alike (rendered with sorted = true). Pragmas are not here: nsd
// ignores them.
inline std::vector<QueryCase> sampleZoneCases() {
  return {
      {"apex TXT", "example.test", Type::TXT, "ok TXT \"v=spf1 ip4:192.0.2.0/24 mx -all\""},
      {"apex MX, relative and absolute exchanges", "example.test.", Type::MX,
       "ok MX 10 mail.example.test MX 20 mail2.example.test"},
      {"owner inherited from the line before", "mail.example.test", Type::A,
       "ok A 192.0.2.10 A 192.0.2.11"},
      {"AAAA", "MAIL.example.test", Type::AAAA, "ok AAAA 2001:db8::10"},
      {"multi-string TXT", "multi.example.test", Type::TXT,
       "ok TXT \"v=spf1 ip4:192.0.2.1 -all\""},
      {"TXT in parentheses over two lines", "long.example.test", Type::TXT,
       "ok TXT \"part one, part two\""},
      {"\\DDD escapes incl. \\000", "escaped.example.test", Type::TXT,
       "ok TXT \"a\\000b\\255c\\034d\\092e;f\""},
      {"two TXT records", "two.example.test", Type::TXT, "ok TXT \"first\" TXT \"second\""},
      {"PTR", "10.ptr.example.test", Type::PTR, "ok PTR mail.example.test"},
      {"PTRs, case folded, relative target", "11.ptr.example.test", Type::PTR,
       "ok PTR mail.example.test PTR mail2.example.test"},
      {"CNAME", "alias.example.test", Type::AAAA, "ok AAAA 2001:db8::10"},
      {"CNAME to CNAME", "alias2.example.test", Type::A, "ok A 192.0.2.10 A 192.0.2.11"},
      {"NXDOMAIN", "nope.example.test", Type::TXT, "nxdomain"},
      {"NXDOMAIN, odd octets in the name", std::string("a b\\;\0.example.test", 19), Type::A,
       "nxdomain"},
      {"NODATA", "mail.example.test", Type::TXT, "nodata"},
      {"NODATA: only an SPF (type 99) record", "spf99.example.test", Type::TXT, "nodata"},
      {"NODATA: ns1 has only an A record", "ns1.example.test", Type::MX, "nodata"},
      {"NODATA: empty non-terminal", "b.c.deep.example.test", Type::TXT, "nodata"},
      {"deep name", "a.b.c.deep.example.test", Type::TXT, "ok TXT \"deep\""},
  };
}

}  // namespace mw::dns::testing
