// dmarc/dmarc.h — RFC 9989 policy discovery, organizational domains, alignment and
// evaluation, over dns::Resolver (no Public Suffix List: the DNS Tree Walk, §4.10).
//
// Discovery holds the lookups of one message: every _dmarc TXT answer is asked once
// and cached, so finding the policy of the author domain and the organizational domains
// of the author, SPF and DKIM identifiers costs each name one query. One tree walk sends
// at most kMaxWalkQueries queries (§4.10: after the first query, a name of more than 8
// labels is shortened to its last 7). A DNS failure during a walk is temperror; it never
// becomes "no record". Discovery is thread-compatible (one message, one thread); the
// Resolver and Budget must outlive it. Never throws except std::bad_alloc.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/dmarc/record.h"
#include "mailwarden/dns/resolver.h"

namespace mw::dmarc {

inline constexpr int kMaxWalkQueries = 8;
inline constexpr int kLongNameLabels = 8;   // names with more labels are shortened...
inline constexpr int kShortenedLabels = 7;  // ...to this many after the first query

// The names a DNS Tree Walk queries from `domain` (lower-case, no trailing dot), in
// order: the domain, then (§4.10) its last 7 labels when it has more than 8, then one
// label less each time down to the top-level label. At most kMaxWalkQueries names.
std::vector<std::string> treeWalkNames(std::string_view domain);

// Starts, without waiting, the TXT lookups of every _dmarc name of the tree walk of
// `domain` (a normalized author domain, as authorDomains() gives it): the names the
// policy discovery and organizational domain of `domain` ask for (§4.10). For a
// dns::Session, which keeps the lookups until Discovery joins them at end of message
// (DESIGN.md: the DMARC record is asked as soon as From is seen). Another resolver
// would drop, and so cancel, them. Names that are not DNS names start nothing.
void startTreeWalk(dns::Resolver& resolver, const dns::Budget& budget, std::string_view domain);

// A name DMARC can use, in the form DMARC looks up and compares (RFC 8616): first
// dns::toALabels() (U-labels to A-labels, "xn--" labels checked, lower case, one
// trailing dot stripped), then LDH-and-underscore labels of 1..63 octets, at most 253
// octets. nullopt when unusable (an invalid IDN included).
std::optional<std::string> normalizeDomain(std::string_view domain);

enum class LookupStatus {
  None,       // NXDOMAIN, NODATA, no DMARC record, or several (§4.10: all discarded)
  Found,      // exactly one usable record
  Invalid,    // exactly one record, unusable (record.h: bad p/sp/np without rua)
  TempError,  // the query failed (timeout, SERVFAIL, budget exhausted)
};

struct RecordLookup {
  LookupStatus status = LookupStatus::None;
  std::string domain;      // the domain the record belongs to (without "_dmarc.")
  Record record;           // Found: the record; Invalid: its tags as parsed (psd counts)
  std::string problem;     // Invalid/TempError: why; None: "2 DMARC records" or empty
};

struct OrgDomain {
  bool temperror = false;
  std::string domain;      // the organizational domain (when !temperror)
  // The name whose psd=y record ended the walk (§4.10.2 step 2), else empty: the
  // Public Suffix Domain whose record applies when neither the author domain nor its
  // organizational domain has one (§4.10.1).
  std::string psd_domain;
  std::string problem;
};

enum class Existence { Exists, NonExistent, TempError };

class Discovery {
 public:
  Discovery(dns::Resolver& resolver, const dns::Budget& budget)
      : resolver_(resolver), budget_(budget) {}

  // The one TXT query at _dmarc.`domain` (cached).
  const RecordLookup& lookup(const std::string& domain);
  // §4.10.1 policy discovery, in order of preference: the record of `author_domain`
  // itself; else the record of its Organizational Domain (organizationalDomain(), the
  // same walk alignment uses); else the record of its PSD (psd=y). Records at other names
  // on the walk (a department below the organizational domain) never apply to it.
  // status None: no policy; Invalid: the chosen record is unusable (no DMARC
  // processing); TempError: the author's query, or any query of the walk, failed.
  RecordLookup policyRecord(const std::string& author_domain);
  // §4.10 walk from `domain`, stopping at a record with psd=y or psd=n; §4.10.2: psd=n →
  // that domain; psd=y (not at the start) → one label below it; otherwise the record
  // with the fewest labels; none → `domain` itself. A record counts when it is the one
  // DMARC record at its name, usable or not (an invalid p is judged only if the record
  // is the one applied, §4.10.1).
  OrgDomain organizationalDomain(const std::string& domain);
  // RFC 9989 "non-existent domain" (§3.2.13, Appendix A.4): an NXDOMAIN answer. NODATA
  // means the name exists; REFUSED or a malformed answer count as existing.
  Existence existence(const std::string& domain);

  int queries() const noexcept { return queries_; }

 private:
  dns::Resolver& resolver_;
  const dns::Budget& budget_;
  std::map<std::string, RecordLookup, std::less<>> cache_;
  std::map<std::string, OrgDomain, std::less<>> org_cache_;
  int queries_ = 0;
};

// Identifier alignment (RFC 9989 §4.4): strict = the same name; relaxed = the same
// organizational domain. Both domains already normalized.
enum class Aligned { Yes, No, TempError };
Aligned aligned(Discovery& d, const std::string& author_domain, const std::string& other,
                Alignment mode);

// What DMARC reads of an SPF or DKIM result (RFC 9989 §4.4): only a pass can align, and a
// temperror on an identifier that would align might have been a pass. Every other RFC
// 8601 result (fail, softfail, neutral, policy, permerror) is Fail here. dmarc/ sits
// below verdict/, so the caller (scan/) maps verdict::Code to this.
enum class IdentifierResult { None, Pass, Fail, TempError };

// What the other stages found, as DMARC needs it.
struct AuthIdentifier {
  IdentifierResult result = IdentifierResult::None;
  std::string domain;  // SPF: the domain checked; DKIM: d=
};

enum class Result { None, Pass, Fail, TempError, PermError };
std::string_view toString(Result r) noexcept;

struct Evaluation {
  Result result = Result::None;
  std::string from_domain;
  std::string record_domain;            // the DMARC Policy Domain (§3.2.5): whose record applies
  std::optional<Record> record = std::nullopt;
  // The policy that applies to the author domain after p/sp/np selection (§4.10.1: p of
  // the author's own record; sp, or np for a non-existent author domain, of an
  // organizational domain's or PSD's record) and t=y (testing: one level lower, §4.7 t);
  // meaningful when `record` is set.
  Policy applied = Policy::None;
  // `applied` was decided: false when there is no record, or when a DNS failure left it
  // open (the np existence check); then no policy is reported.
  bool policy_decided = false;
  Policy disposition = Policy::None;    // `applied` when the result is fail, else none
  std::string aligned_by;               // "spf" or "dkim" (pass only)
  std::string problem;                  // none/temperror/permerror: why
};

// Evaluates one author domain (normalized). `spf` may have result None (no SPF).
// RFC 9989 §4.10.1 policy, §4.4 alignment: pass when an SPF or DKIM pass aligns; else
// temperror when a temperror on an identifier that would align could have been a pass;
// else fail.
Evaluation evaluate(Discovery& d, const std::string& from_domain, const AuthIdentifier& spf,
                    const std::vector<AuthIdentifier>& dkim);

// "p=reject sp=quarantine dis=none" (the A-R comment): sp shown as it applies to
// subdomains (sp, else p).
std::string summary(const Evaluation& e);

}  // namespace mw::dmarc

namespace mw::dmarc {

// The author of a message from its From field(s) (RFC 5322 §3.6.2: exactly one From;
// RFC 9989: the Author Domain). `fields` are unfolded From values, in order.
struct Authors {
  enum class Kind { Single, NoFrom, Unparsable, NoAddress, BadDomain, Several };
  Kind kind = Kind::Single;
  std::vector<std::string> domains;  // distinct normalized domains, in order of appearance
  std::size_t mailboxes = 0;         // mailboxes over all From fields
  std::size_t fields = 0;
  // Set when DMARC cannot name a single author domain: no From (result none), or a
  // From that does not parse, has no address, several fields or several mailboxes, or
  // a domain that is not a usable DNS name (result permerror; never pass).
  std::string problem;
  bool single() const noexcept { return kind == Kind::Single; }
};

// At most this many distinct author domains are evaluated when a message has several
// From mailboxes (to find the strictest policy among them, CVE-2019-16378).
inline constexpr std::size_t kMaxAuthorDomains = 4;

Authors authorDomains(const std::vector<std::string>& fields);

}  // namespace mw::dmarc
