// report/record.h — what one DMARC-evaluated message contributes to an aggregate report
// (RFC 9990 §2.1 "Description of the content XML file", Appendix A schema).
//
// A Record is a plain value: everything the "record" and "policy_published" elements of an
// RFC 9990 report need about one message, in the schema's own vocabulary (the enums below
// name the schema's enumerations one for one), plus the time it was evaluated. It is
// independent of dmarc/, spf/ and dkim/ on purpose: the pipeline maps its results onto it
// (a later slice), and the store and the XML writer never see a pipeline type.
//
// tupleKey() names the aggregation row a record belongs to: every field but the time, in
// a canonical, reversible text form (JSON, keys sorted, no whitespace). Two records with
// the same key are counted in one RFC 9990 "record" with "count" > 1 (§2.1: "one record
// per (IP, result, IDs, Auths) tuple"). The published policy is part of the key: if a
// domain changes its policy during a period, rows differ, and the report command may send
// one report per configuration (RFC 9990 §2.1 allows it) or note only the last one.
// recordFromKey() reads a key back (time left at the epoch).
//
// Strings are untrusted (they come from mail and DNS): any bytes are accepted. Bytes that
// are not UTF-8 become U+FFFD in the key (so the key is always valid JSON text); the XML
// writer cleans what XML 1.0 cannot carry. Domains are stored as given: the caller passes
// them in the form it evaluated (dns::lookupDomain's lower-case A-labels).
// Thread-safety: plain values and pure functions. Never throw except std::bad_alloc.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/base/result.h"

namespace mw::report {

// DispositionType: p, sp and np as published.
enum class Policy { None, Quarantine, Reject };
// ActionDispositionType: what was done to the message ("pass": passed DMARC).
enum class Disposition { None, Pass, Quarantine, Reject };
// AlignmentType: adkim, aspf.
enum class Alignment { Relaxed, Strict };
// DiscoveryType: we implement RFC 9989's DNS Tree Walk, so TreeWalk is the default.
enum class Discovery { Psl, TreeWalk };
// DMARCResultType: the DMARC-aligned result of DKIM or SPF in policy_evaluated.
enum class Aligned { Pass, Fail };
// PolicyOverrideType (RFC 9990 §2.1.4, "reason").
enum class OverrideType { LocalPolicy, MailingList, Other, PolicyTestMode, TrustedForwarder };
// DKIMResultType: RFC 8601 §2.7.1.
enum class DkimResult { None, Pass, Fail, Policy, Neutral, TempError, PermError };
// SPFResultType: RFC 8601 §2.7.2.
enum class SpfResult { None, Pass, Fail, SoftFail, Policy, Neutral, TempError, PermError };
// Where the SPF domain came from. RFC 9990's SPFDomainScope has only "mfrom" (DMARC uses
// the MAIL FROM identity only); Helo is kept for the store's sake and written without a
// "scope" element (it is optional in the schema).
enum class SpfScope { MailFrom, Helo };

std::string_view toString(Policy v) noexcept;
std::string_view toString(Disposition v) noexcept;
std::string_view toString(Alignment v) noexcept;     // "r" / "s"
std::string_view toString(Discovery v) noexcept;
std::string_view toString(Aligned v) noexcept;
std::string_view toString(OverrideType v) noexcept;
std::string_view toString(DkimResult v) noexcept;
std::string_view toString(SpfResult v) noexcept;
std::string_view toString(SpfScope v) noexcept;      // "mfrom" / "helo"

// policy_published (RFC 9990 §2.1.2): the DMARC Policy Record as discovered, defaults
// filled in; sp/np absent when the record had no such tag.
struct PolicyPublished {
  std::string domain;  // the DMARC Policy Domain: where the record was found
  Policy p = Policy::None;
  std::optional<Policy> sp = std::nullopt;
  std::optional<Policy> np = std::nullopt;
  Alignment adkim = Alignment::Relaxed;
  Alignment aspf = Alignment::Relaxed;
  bool testing = false;  // t=y
  Discovery discovery = Discovery::TreeWalk;

  bool operator==(const PolicyPublished&) const = default;
};

// reason (RFC 9990 §2.1.4): why the disposition differs from the published policy.
struct Override {
  OverrideType type = OverrideType::Other;
  std::string comment;  // free text (e.g. "arc=pass as.example"); empty: no comment element

  bool operator==(const Override&) const = default;
};

// auth_results/dkim: one per DKIM signature evaluated, in signature order.
struct DkimAuth {
  std::string domain;    // d=
  std::string selector;  // s=
  DkimResult result = DkimResult::None;

  bool operator==(const DkimAuth&) const = default;
};

// auth_results/spf: the SPF check DMARC used (RFC 7208 §2.4 MAIL FROM identity).
struct SpfAuth {
  std::string domain;
  SpfScope scope = SpfScope::MailFrom;
  SpfResult result = SpfResult::None;

  bool operator==(const SpfAuth&) const = default;
};

struct Record {
  std::string header_from;   // RFC5322.From domain (identifiers/header_from)
  std::string source_ip;     // the connecting IP, IPv4 dotted or IPv6 text, no brackets
  PolicyPublished policy;
  Disposition disposition = Disposition::None;  // policy_evaluated/disposition
  Aligned dkim_aligned = Aligned::Fail;         // policy_evaluated/dkim
  Aligned spf_aligned = Aligned::Fail;          // policy_evaluated/spf
  std::vector<Override> overrides;              // policy_evaluated/reason, in order
  std::vector<DkimAuth> dkim;
  std::optional<SpfAuth> spf = std::nullopt;
  std::string envelope_from;  // RFC5321.MailFrom domain; empty: none (null reverse-path)
  std::string envelope_to;    // envelope recipient domain; empty: not recorded
  std::chrono::sys_seconds time{};  // when it was evaluated (UTC); not part of the tuple

  bool operator==(const Record&) const = default;
};

// The aggregation tuple of `r`: every field but `time`, canonical and reversible.
std::string tupleKey(const Record& r);

// Reads a tupleKey() back. A text that is not a key this version wrote: Errc::Invalid.
[[nodiscard]] Result<Record> recordFromKey(std::string_view key);

// A reporting period: one UTC day, RFC 9990 §2.1 ("daily"), counted in days since the epoch.
struct Period {
  std::int64_t day = 0;

  static Period of(std::chrono::sys_seconds t) noexcept;
  std::int64_t begin() const noexcept { return day * 86400; }      // date_range/begin
  std::int64_t end() const noexcept { return day * 86400 + 86399; }  // date_range/end, inclusive
  bool operator==(const Period&) const = default;
};

// dmarc.reports.exclude_domains (the recording and the report command): "x.example"
// matches that domain, ".x.example" it and every name below it. `domain` lower-case.
bool excludedDomain(const std::vector<std::string>& list, std::string_view domain);

}  // namespace mw::report
