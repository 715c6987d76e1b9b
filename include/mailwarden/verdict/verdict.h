// verdict/verdict.h — what mailwarden decides about one message, as a value.
//
// decide() is a pure function of the Policy and the Findings that the stages of scan/
// collected: same input, same Verdict, byte for byte (golden tests depend on it).
// milter/ translates a Verdict into smfi_* calls at end of message; cli/ prints it.
// Thread-safety: plain values. decide() never throws except std::bad_alloc.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mailwarden/message/defects.h"
#include "mailwarden/report/record.h"
#include "mailwarden/reputation/lists.h"

namespace mw::verdict {

// Ordered by severity: combining two actions keeps the more severe one.
enum class Action { Accept, Tag, Quarantine, TempFail, Reject };

constexpr Action mostSevere(Action a, Action b) noexcept { return a < b ? b : a; }
std::string_view toString(Action a) noexcept;
bool parseAction(std::string_view text, Action& out) noexcept;

struct SmtpReply {
  int code = 451;                 // 451, 550
  std::string enhanced = "4.7.1"; // RFC 3463
  std::string text;               // one line; CR, LF and '%' are removed when built
};

struct HeaderEdit {
  enum class Kind {
    // Part of the block placed at the top of the header, in the order of the edit list
    // (milter/ inserts them at index 0 in reverse: Postfix treats index 0 and 1 alike,
    // Sendmail does not, and only "0 = topmost" means the same to both).
    Prepend,
    // The `index`-th (1-based) field named `name`, counted in the header as received.
    // Removals come first in the edit list, highest index first, so each index still
    // names the field it meant (OpenDKIM's CVE-2022-48521 came from the opposite order).
    Remove,
  };
  Kind kind = Kind::Prepend;
  std::string name;
  int index = 0;
  std::string value;  // without the leading space; folded with "\r\n\t" where long
};

// A received header field to be removed: `occurrence`-th (1-based) field named `name`.
struct HeaderRef {
  std::string name;
  int occurrence = 0;
};

struct Contribution {
  std::string rule_id;
  double score = 0.0;
};

// The methods mailwarden reports in Authentication-Results: spf, dkim, dmarc (RFC 8601
// §2.7.2, §2.7.1; RFC 9989), iprev (RFC 8601 §2.7.3), arc (RFC 8617 §4.1) and auth
// (RFC 8601 §2.7.4: the client authenticated with SMTP AUTH; only with a bypass, below).
// The enumerator order means nothing to A-R, which lists results in the order of
// Findings::auth; it is the metrics' label order (obs::kCheckNames).
enum class Method { Spf, Dkim, Dmarc, Iprev, Arc, Auth };
// The method token as A-R writes it ("spf", "dkim", ...). Never throws.
std::string_view toString(Method m) noexcept;
// The method of a token, case-insensitive (RFC 8601 §2.2 tokens are); nullopt for any
// other text. Never throws.
std::optional<Method> parseMethod(std::string_view text) noexcept;

// RFC 8601 §2.7 result tokens (the union over the methods: softfail is SPF's, policy
// DKIM's and iprev's, ...). Stages set them; readers compare enums, never text.
enum class Code { None, Pass, Fail, SoftFail, Neutral, Policy, TempError, PermError };
// "none", "pass", "fail", "softfail", "neutral", "policy", "temperror", "permerror".
// Never throws.
std::string_view toString(Code c) noexcept;
// The code of a token, case-insensitive; nullopt for any other text (RFC 7208's older
// "error" tokens included: we never write them). Never throws.
std::optional<Code> parseCode(std::string_view text) noexcept;

// A DMARC policy as it applies to the author domain (RFC 9989 §4.7 p/sp/np).
enum class DmarcPolicy { None, Quarantine, Reject };
// "none", "quarantine", "reject". Never throws.
std::string_view toString(DmarcPolicy p) noexcept;

// Why the published DMARC policy was not applied to a failing message (RFC 9990
// PolicyOverrideType, for aggregate reports): `TrustedForwarder` when a trusted ARC
// sealer vouched for the message; `LocalPolicy` for our own choice (dmarc.exceptions,
// monitor mode) when the policy was quarantine or reject.
struct PolicyOverride {
  enum class Type { TrustedForwarder, LocalPolicy };
  Type type = Type::LocalPolicy;
  std::string comment;  // what overrode it, for people ("exception for domain x", ...)
};
// "trusted_forwarder", "local_policy" (RFC 9990's tokens). Never throws.
std::string_view toString(PolicyOverride::Type t) noexcept;

// One Authentication-Results method result (RFC 8601 §2.7): "spf=pass smtp.mailfrom=x".
struct AuthResult {
  Method method = Method::Spf;
  Code result = Code::None;
  std::string reason;  // free text for a comment / reason=; may be empty
  std::vector<std::pair<std::string, std::string>> properties;  // ("smtp.mailfrom", "x@y")
  std::string domain = {};       // the domain the method checked (JSON of `check`; not rendered)
  std::string explanation = {};  // SPF fail: the domain's explanation (JSON; not rendered)
  // DMARC: the policy that applied to the author domain, after `t=y` and `sp`/`np`
  // selection; nullopt for other methods and while undecided. Read by the JSON of
  // `check` (not rendered).
  std::optional<DmarcPolicy> policy = std::nullopt;
  // DMARC fail: set when the published policy (quarantine/reject) was not applied, and
  // why. Read by the JSON of `check` and, later, aggregate reports (not rendered: a
  // trusted-forwarder override is also a `policy.override` property).
  std::optional<PolicyOverride> policy_override = std::nullopt;
};

// The ARC chain of a message as the ARC stage found it (RFC 8617 §5.2), for the DMARC
// stage's trusted-forwarder override and the JSON of `check`. The ARC stage also
// writes the Arc AuthResult; this is the detail behind it.
struct ArcFindings {
  Code result = Code::None;        // None, Pass or Fail (cv)
  int instances = 0;               // N
  std::optional<int> oldest_pass;  // the oldest instance whose AMS validates (pass only)
  std::vector<std::string> sealers;  // AS d= of i=1..N (structure valid), A-labels
  std::string reason;              // why not pass
  bool temporary = false;          // Fail because a key lookup failed temporarily
  // The newest sealer (d= of AS i=N) is trusted (arc.trusted_sealers / trusted_zone).
  // Judged whenever the sealers are known, whatever cv is; trust_temporary: the
  // trusted_zone lookup failed temporarily, so it is unknown (never counted as trust).
  bool trusted = false;
  bool trust_temporary = false;
  std::string newest_results;      // the ARC-Authentication-Results value of i=N, unfolded
  // The ARC set we added (arc.seal), set after decide() by the ARC stage when the message
  // is delivered and sealed: its instance and cv= (`check --json` arc.sealed).
  struct Sealed {
    int instance = 0;
    Code cv = Code::None;  // None, Pass or Fail
  };
  std::optional<Sealed> sealed = std::nullopt;
};

// The checks that judge strangers and that a bypass (config `bypass:`) can leave out for
// our own users: SPF (RFC 7208), iprev (RFC 8601 §3), the DNS lists (every lookup of
// reputation.lists) and DMARC (RFC 9989). DKIM, ARC and the content rules always run.
enum class BypassCheck { Spf, Iprev, Lists, Dmarc };
// "spf", "iprev", "lists", "dmarc" (the config words). Never throws.
std::string_view toString(BypassCheck c) noexcept;

// Why a message was not judged like a stranger's (issue 19, point 3), as a typed marker
// for the log line and the metrics (mailwarden_bypassed_total{reason}). Set by scan/ at
// MAIL FROM, before any stage starts, so the stages read it in every hook.
//   Skip:  the checks in `checks` did not run: no DNS lookup, no A-R entry, no score,
//          no symbol. The A-R says which were not checked and why, in a comment after
//          the authserv-id (RFC 8601 §2.2 allows CFWS there).
//   Score: every check ran and is reported and scored as usual, but the checks in
//          `checks` force no action (DMARC enforcement, spf.reject_on_fail, a list's
//          `action:`); the A-R comment says "not enforced".
// A trusted network is always Skip; an authenticated client is what
// bypass.authenticated says (`check` means no Bypass at all).
struct Bypass {
  enum class Reason { TrustedNetwork, Authenticated };
  enum class Mode { Skip, Score };
  Reason reason = Reason::TrustedNetwork;
  Mode mode = Mode::Skip;
  // bypass.skip restricted to the checks this configuration runs at all (spf.enabled,
  // reputation.iprev.enabled, some reputation.lists, dmarc.enabled), in enum order:
  // what this message was spared. May be empty (the marker and `auth=pass` remain).
  std::vector<BypassCheck> checks;
  // TrustedNetwork: the bypass.trusted_networks entry that matched, as configured (for
  // the log, never rendered in headers).
  std::string network = {};

  bool covers(BypassCheck c) const noexcept;
  bool skips(BypassCheck c) const noexcept { return mode == Mode::Skip && covers(c); }
  bool unenforced(BypassCheck c) const noexcept { return mode == Mode::Score && covers(c); }
};
// "trusted_network", "authenticated" (metrics label values, log words). Never throws.
std::string_view toString(Bypass::Reason r) noexcept;
// "skip", "score". Never throws.
std::string_view toString(Bypass::Mode m) noexcept;
// The A-R comment for a bypass, without parentheses: "not checked: spf, iprev, lists,
// dmarc; authenticated client", "not enforced: dmarc; authenticated client", or
// "trusted network" alone when `checks` is empty. Never throws except std::bad_alloc.
std::string bypassComment(const Bypass& b);

// Header options (config: headers.*).
struct HeaderOptions {
  bool verdict = true;       // X-Mailwarden-Verdict
  bool score = true;         // X-Mailwarden-Score
  bool rules = true;         // X-Mailwarden-Rules
  bool spam_headers = false; // X-Spam-Flag / X-Spam-Status (SpamAssassin-compatible)
  bool remove_forged_authres = true;
};

// What the operator configured for turning findings into an action.
struct Policy {
  std::string authserv_id = "localhost";
  // The failure policy: what an internal error or DNS temperror becomes.
  // TempFail (default: the sender retries, nothing is lost) or Accept (logged, and the
  // verdict header says "error").
  Action on_failure = Action::TempFail;
  double tag_threshold = 5.0;
  double quarantine_threshold = 10.0;
  double reject_threshold = 15.0;
  HeaderOptions headers;
  SmtpReply tempfail_reply{451, "4.7.1", "Service temporarily unavailable, try again later"};
  SmtpReply reject_reply{550, "5.7.1", "Message rejected by policy"};
  std::string quarantine_reason = "held by mailwarden";
};

// Everything the stages learned about a message. Stages append; decide() reads.
struct Findings {
  // In stage order (spf, dkim..., iprev, arc, dmarc); decide() moves arc after dmarc.
  std::vector<AuthResult> auth;
  // The symbols true for this message (SPF_PASS, DKIM_FAIL, DMARC_REJECT, ...), each
  // published once by the stage that knows it (scan/symbols.h lists the names) by the
  // end of its endOfMessage; rule composites read them in conclude. Not rendered.
  std::vector<std::string> symbols;
  std::vector<Contribution> contributions;  // rule hits and their scores
  // An action forced by a stage (a rule with `action`, DMARC enforce); Accept = none.
  Action forced = Action::Accept;
  std::optional<SmtpReply> forced_reply;    // the reply that goes with `forced`
  // 1-based occurrences of Authentication-Results fields that claim our authserv-id.
  std::vector<int> forged_authres;
  // Received fields that pretend to be ours (X-Mailwarden-*, X-Spam-* when we write
  // those): removed so downstream filters only ever see our own verdict.
  std::vector<HeaderRef> impostors;
  message::Defects defects;
  // iprev (RFC 8601 §3) passed: the client's confirmed name, which replaces the MTA's
  // {client_name} guess in the rules' envelope:client_name scope. "" otherwise.
  std::string confirmed_client_name;
  // Every DNS list lookup that answered (listed or blocked) or failed, in start order
  // (reputation/lists.h); `check --json` prints them. Listed classes are also symbols
  // and contributions.
  std::vector<reputation::ListHit> lists;
  // The ARC stage's result (nullopt when ARC is off or the stage did not finish).
  std::optional<ArcFindings> arc;
  // Set when the message could not be fully evaluated (internal error, DNS temperror);
  // the failure policy then decides.
  std::optional<std::string> failure;
  // Set when the client is ours (a trusted network or SMTP AUTH): see Bypass.
  std::optional<Bypass> bypass = std::nullopt;
  // What an RFC 9990 aggregate report needs about this message, set by the DMARC stage
  // when it evaluated a pass or fail under a published policy record (the time is left
  // at the epoch: Scan::finish sets it from the snapshot's clock when it records).
  std::optional<report::Record> dmarc_report = std::nullopt;
};

struct Verdict {
  Action action = Action::Accept;
  std::optional<SmtpReply> reply;           // set iff action is TempFail or Reject
  double score = 0.0;
  std::vector<Contribution> contributions;  // sorted by rule id: stable headers
  std::vector<HeaderEdit> edits;            // removals (highest index first), then inserts
  std::vector<AuthResult> auth;
  std::vector<reputation::ListHit> lists;   // Findings::lists (`check --json`)
  std::optional<ArcFindings> arc;           // Findings::arc (`check --json`)
  std::string quarantine_reason;            // set iff action is Quarantine
  bool failed = false;                      // the failure policy decided
  std::optional<Bypass> bypass;             // Findings::bypass (log line, metrics)
};

Verdict decide(const Policy& policy, const Findings& findings);

// The verdict for a message we could not evaluate at all (exception, no snapshot).
Verdict failureVerdict(const Policy& policy, std::string_view reason);

// "authserv-id; spf=pass smtp.mailfrom=a@b;\r\n\tdkim=..." or "authserv-id; none"
// (RFC 8601 §2.2). Values that are not RFC 2045 tokens are quoted; in quoted values and
// comments control characters, 8-bit bytes and '%' are written %XX: the field is
// printable ASCII whatever the envelope or a DKIM tag held. A non-empty `comment` is
// written after the authserv-id, "authserv-id (comment);" (CFWS, RFC 8601 §2.2): what
// applies to the whole field (a bypass: bypassComment()).
std::string renderAuthenticationResults(std::string_view authserv_id,
                                        const std::vector<AuthResult>& results,
                                        std::string_view comment = {});

// The authserv-id an Authentication-Results value claims (RFC 8601 §2.2: leading CFWS,
// a value, optional version, then ';'), or nullopt when it cannot be parsed.
std::optional<std::string> authservIdOf(std::string_view value);

// Whether an Authentication-Results value claims `our_id` (case-insensitive): the
// authserv-id authservIdOf() reads, or, when the field does not parse, its first word
// before ';' once CFWS (comments, even an unterminated one) and an opening quote are
// skipped — a lenient consumer would read that as ours, so it is removed too.
bool claimsAuthservId(std::string_view value, std::string_view our_id);

// One method result of a parsed Authentication-Results value (RFC 8601 §2.2 resinfo):
// method and result lower-cased as written (an unknown method or result is kept, not
// refused), reason= if given, and the properties "ptype.property" (lower-cased) with
// their values (quoted-strings unquoted).
struct ParsedResult {
  std::string method;
  std::string result;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> properties;
};
struct ParsedAuthenticationResults {
  std::string authserv_id;
  std::vector<ParsedResult> results;  // empty for "none"
};
inline constexpr std::size_t kMaxParsedResults = 64;     // resinfo per field
inline constexpr std::size_t kMaxParsedProperties = 16;  // propspec per resinfo

// Parses an Authentication-Results value (everything after the colon, unfolded or not)
// per RFC 8601 §2.2, CFWS anywhere the grammar allows it. Untrusted input: nullopt for
// anything that does not follow the grammar or passes the bounds above (a field that
// cannot be read is treated as saying nothing). Never throws except std::bad_alloc.
std::optional<ParsedAuthenticationResults> parseAuthenticationResults(std::string_view value);

// Score with two decimals, as in headers ("5.00", "-1.50").
std::string formatScore(double score);

}  // namespace mw::verdict
