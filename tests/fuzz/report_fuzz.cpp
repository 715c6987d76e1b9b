// fuzz target of report/: what the DMARC report code reads from outside.
//   * a rua URI (from a DMARC record in DNS) through parseMailto(): never crashes; an
//     accepted address is local@host with host its lower-case part after the last '@',
//     and carries nothing a header field could be split on (no CR, LF, other controls,
//     ',' or ';'), so the report mail's To: cannot be injected into;
//   * the same bytes as a stored tuple through recordFromKey(): a key it accepts writes
//     back (tupleKey) to a key that reads to the same record (the store's rows survive a
//     round trip);
//   * the bytes as text in a report: xmlSafe() gives valid UTF-8 without a character XML
//     1.0 forbids, and a report carrying them as a domain, selector and comment renders.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mailwarden/report/delivery.h"
#include "mailwarden/report/record.h"
#include "mailwarden/report/xml.h"

namespace {

using namespace mw::report;

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

// Valid UTF-8 (RFC 3629: shortest form, no surrogates, <= U+10FFFF) with no C0 control
// but TAB/LF/CR and no U+FFFE/U+FFFF.
bool xmlText(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::uint32_t cp;
    std::size_t n;
    if (c < 0x80) {
      cp = c;
      n = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      cp = c & 0x1F;
      n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      cp = c & 0x0F;
      n = 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      cp = c & 0x07;
      n = 4;
    } else {
      return false;
    }
    if (i + n > s.size()) {
      return false;
    }
    for (std::size_t k = 1; k < n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF ||
        (cp < 0x20 && cp != 0x09 && cp != 0x0A && cp != 0x0D)) {
      return false;
    }
    i += n;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (const std::optional<MailtoUri> m = parseMailto(input)) {
    const std::size_t at = m->address.rfind('@');
    check(at != std::string::npos && at > 0 && at + 1 < m->address.size());
    check(!m->host.empty() && m->host.back() != '.');
    for (const char c : m->address) {
      const auto u = static_cast<unsigned char>(c);
      check(u >= 0x20 && u != 0x7F && c != ',' && c != ';');
    }
    for (const char c : m->host) {
      check(!(c >= 'A' && c <= 'Z'));
    }
  }

  if (const mw::Result<Record> r = recordFromKey(input)) {
    const std::string key = tupleKey(*r);
    const mw::Result<Record> again = recordFromKey(key);
    check(again.has_value() && *again == *r && tupleKey(*again) == key);
  }

  const std::string safe = xmlSafe(input);
  check(xmlText(safe));
  ReportMeta meta;
  meta.org_name = "mx.example.net";
  meta.email = "dmarc-reports@example.net";
  meta.report_id = "fuzz@example.net";
  meta.policy.domain = std::string(input);
  Row row;
  row.count = 1;
  row.record.header_from = std::string(input);
  row.record.source_ip = "192.0.2.1";
  row.record.policy = meta.policy;
  row.record.dkim.push_back(DkimAuth{std::string(input), std::string(input), DkimResult::Pass});
  row.record.overrides.push_back(Override{OverrideType::Other, std::string(input)});
  const mw::Result<std::string> xml = renderAggregateReport(meta, {row});
  check(xml.has_value() && xmlText(*xml));
  return 0;
}
