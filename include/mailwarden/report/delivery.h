// report/delivery.h — how an aggregate report leaves: its names (report_id, attachment
// filename, Subject), the rua mailto: URI, the gzip, the size split and the mail itself
// (RFC 9990 "Report Delivery", "Definition of Report-ID", "Email").
//
// Pure functions over values; no DNS and no I/O (report_job.h does those), so every
// format here is tested without a network. Untrusted input: rua URIs (from DNS) and the
// domains and rows (from mail, through the store). parseMailto() refuses any address
// that could break out of a header field (controls, CR/LF, spaces, '<>,;"()\'), so the
// mail composed from its result cannot carry an injected header.
// Thread-safety: pure functions, reentrant. Never throw except std::bad_alloc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/base/result.h"
#include "mailwarden/report/record.h"
#include "mailwarden/report/store.h"
#include "mailwarden/report/xml.h"

namespace mw::report {

// One rua destination: "mailto:" addr-spec ["!" size [k|m|g|t]] (RFC 9989 §4.7 URI
// syntax; the size limit is RFC 7489 §6.2's, still published by many domains).
struct MailtoUri {
  std::string address;       // local@host, percent-decoded
  std::string host;          // the part after the last '@', lower-case, no trailing dot
  std::uint64_t max_bytes = 0;  // the "!size" limit in bytes; 0: none

  bool operator==(const MailtoUri&) const = default;
};

// nullopt for another scheme, a malformed address, hfields ("?..."), a bad size suffix,
// or an address with characters a header field cannot carry safely.
std::optional<MailtoUri> parseMailto(std::string_view uri);

// The names of one report. `part` is 0 when the (domain, period) has a single report, else
// 1..n (RFC 9990 "unique-id" = 1*(ALPHA / DIGIT)). The same inputs always give the same
// names: a re-send MUST use the same filename (RFC 9990 "Email").
struct ReportNames {
  std::string report_id;  // "2026-03-01.example.com[.k]@submitter.example" (ridfmt)
  std::string filename;   // "submitter!example.com!BEGIN!END[!k].xml.gz"
  std::string subject;    // "Report Domain: ... Submitter: ... Report-ID: <id>", folded
};
ReportNames reportNames(std::string_view submitter, std::string_view policy_domain, Period period,
                        int part);

// "YYYY-MM-DD" of the period's UTC day.
std::string periodDate(Period period);

// The domain of `email` (after the last '@', lower-case); empty when there is none.
std::string submitterDomain(std::string_view email);

// The gzip member (RFC 1952) of `data` (zlib, best compression). Errc::Internal when
// zlib fails.
[[nodiscard]] Result<std::string> gzipCompress(std::string_view data);

// Rows grouped by policy configuration (RFC 9990 §2.1: one report holds one
// PolicyPublished), each group in the order the rows came, groups in order of first
// appearance.
std::vector<std::vector<Row>> splitByPolicy(const std::vector<Row>& rows);

// One finished report: what goes in the attachment, and what it covers.
struct BuiltReport {
  ReportNames names;
  PolicyPublished policy;
  std::size_t rows = 0;
  std::int64_t messages = 0;  // sum of the rows' counts
  std::string gzip;
};

// What buildReports() did not fit.
struct BuildOutcome {
  std::vector<BuiltReport> reports;
  std::size_t rows_too_large = 0;  // single rows whose report alone exceeds the limit
};

// The reports of one (domain, period): one per policy configuration, each split in
// halves (recursively, rows kept in order) until its gzip is at most `max_bytes` (0: no
// limit); a single row that does not fit alone is left out and counted. `meta` gives
// org_name, email, extra_contact_info and generator; report_id, dates and policy are set
// here. Parts are numbered 1..n in order when there is more than one report (0 when
// one). Errors: renderAggregateReport's and gzipCompress's.
[[nodiscard]] Result<BuildOutcome> buildReports(const ReportMeta& meta, std::string_view submitter,
                                                std::string_view policy_domain, Period period,
                                                const std::vector<Row>& rows,
                                                std::uint64_t max_bytes);

// The mail that carries one report to one destination.
struct ReportMail {
  std::string from;        // the configured email
  std::string to;          // the rua address
  std::string subject;     // ReportNames::subject (already folded)
  std::string message_id;  // without the angle brackets
  std::int64_t date = 0;   // seconds since the epoch: the Date field
  std::string filename;    // the attachment's
  std::string summary;     // the text/plain part, one line per '\n'
  std::string gzip;        // the attachment's bytes
};

// The Message-ID for the `index`-th destination (0-based) of a report: the report_id
// itself for the first, "<local>.dN@<domain>" (N = index + 1) for the others — unique per
// destination, derived from the report_id, so a re-send carries the same ids.
std::string messageIdFor(std::string_view report_id, std::size_t index);

// RFC 5322 + MIME (RFC 2045/2046) message with LF line ends (what `sendmail -t` reads on
// its standard input): From, To, Subject, Date, Message-ID, MIME-Version,
// multipart/mixed with a text/plain part and the application/gzip attachment in base64
// (76-character lines), Content-Disposition: attachment; filename="...".
std::string composeMail(const ReportMail& mail);

// RFC 5322 §3.3 date-time in UTC: "Sun, 01 Mar 2026 00:00:00 +0000" (locale-free).
std::string rfc5322Date(std::int64_t t);

// Base64 (RFC 2045 §6.8) in lines of at most 76 characters, each ended by LF.
std::string base64Lines(std::string_view data);

}  // namespace mw::report
