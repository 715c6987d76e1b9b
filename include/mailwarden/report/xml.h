// report/xml.h — the RFC 9990 aggregate report document (Appendix A schema,
// namespace urn:ietf:params:xml:ns:dmarc-2.0, version 1.0).
//
// renderAggregateReport() writes one "feedback" document: report_metadata from `meta`,
// policy_published from meta.policy, one "record" per Row with its "count". The caller
// passes the rows of one DMARC Policy Domain and one policy configuration (RFC 9990 §2.1:
// "a single report MUST contain data for one policy configuration"); rows are written in
// the order given.
//
// Why libxml2's xmlTextWriter and not string concatenation: the writer closes every
// element it opens and escapes '<', '&', '>' and (in text) CR for us, so the document is
// well-formed by construction; libxml2 is in every Debian system already. It does not
// protect against what XML 1.0 cannot carry at all (control bytes such as U+0001, bytes
// that are not UTF-8): every text is first cleaned here, each such byte or character
// becoming U+FFFD. Domains, selectors and comments come from mail and DNS: untrusted.
//
// Bad input: no rows (the schema needs at least one record), or org_name, email or
// report_id empty: Errc::Invalid. A libxml2 failure: Errc::Internal.
// Thread-safety: reentrant (libxml2's writer is per call). Never throws except
// std::bad_alloc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mailwarden/base/result.h"
#include "mailwarden/report/record.h"
#include "mailwarden/report/store.h"

namespace mw::report {

struct ReportMeta {
  std::string org_name;            // report_metadata/org_name (required)
  std::string email;               // report_metadata/email (required)
  std::string extra_contact_info;  // empty: omitted
  std::string report_id;           // unique per report (required)
  std::int64_t begin = 0;          // date_range, seconds since the epoch, UTC
  std::int64_t end = 0;
  std::string generator;           // e.g. "mailwarden 0.1.0"; empty: omitted
  PolicyPublished policy;          // policy_published
};

[[nodiscard]] Result<std::string> renderAggregateReport(const ReportMeta& meta,
                                                        const std::vector<Row>& rows);

// What XML 1.0 text can carry (§2.2 Char): `s` with every byte that is not part of valid
// UTF-8, and every character outside Char (C0 controls but TAB, LF, CR; U+FFFE, U+FFFF),
// replaced by U+FFFD. Exposed for tests.
std::string xmlSafe(std::string_view s);

}  // namespace mw::report
