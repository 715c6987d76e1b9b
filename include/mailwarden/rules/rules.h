// rules/rules.h — content rules: YAML rule files compiled into Hyperscan databases
// (issue 6), matched while a message streams through, concluded into scores/actions.
//
// Contract
//  - load() reads every *.yaml file of the given folders (folders in order, files in
//    file-name order) and returns a RuleSet, or every problem found as an Error of the
//    shape "FILE:LINE: rule ID: what is wrong" (file order). A folder that does not exist
//    holds no rules (the packaged default /etc/mailwarden/rules may be absent).
//  - A RuleSet is immutable and shared between threads (it lives in scan::Snapshot).
//    Only scopes that have rules get a database. All header:NAME rules (subject and from
//    included) share one database; each header field is one stream and a match counts
//    only for the rules of that field's name (one scan per field, whatever the number
//    of rules). Every pattern is compiled with HS_FLAG_SINGLEMATCH: a rule hits or not.
//  - The database cache (LoadOptions::cache_dir) holds one file per scope, named after a
//    hash of its content; a file is used only when its header (magic, format, the exact
//    Hyperscan version and platform, a hash of the scope's rule content and of the
//    database bytes) matches and Hyperscan accepts it; anything else is rebuilt and
//    rewritten. A cache that cannot be written is not an error (logged at warn).
//  - A Matcher is one message: thread-compatible, one thread at a time, but it may move
//    between threads between calls: it borrows Hyperscan scratch from its RuleSet's pool
//    for the message (thread-safe; one hs_alloc_scratch per RuleSet, clones after). Every
//    stream it opens is closed by finish() or by the destructor (abort).
//  - Input is untrusted; nothing here throws except std::bad_alloc.
//  - rules/ depends on message/ and base/ only: what a hit means for the message (a
//    score, a forced action) is decided by scan/'s rules stage from the Hits conclude()
//    returns, and the symbols composites read are names other modules publish.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/base/result.h"
#include "mailwarden/message/envelope.h"
#include "mailwarden/message/header.h"
#include "mailwarden/message/limits.h"
#include "mailwarden/message/mime.h"
#include "mailwarden/message/text.h"

namespace mw::rules {

enum class Scope {
  Header,          // header:NAME (subject, from): each field NAME, unfolded, RFC 2047 decoded
  Headers,         // every field raw, "Name: value\r\n" each, one stream
  BodyRaw,         // the body as transmitted, one stream
  BodyText,        // decoded text/* parts as UTF-8 (HTML as text), one stream, parts joined by "\n"
  Url,             // each URL of the text and HTML parts
  AttachmentName,  // each part's file name (RFC 2231/2047 decoded)
  AttachmentType,  // each non-text, non-multipart part's media type
  EnvMailFrom,
  EnvRcpt,         // each recipient
  EnvHelo,
  EnvClientName,
};
inline constexpr std::size_t kScopeCount = 11;
std::string_view toString(Scope s) noexcept;

// A rule's `action:`, ordered by severity like the pipeline's actions (scan/ maps one
// to the other): of two hits, the greater is the more severe.
enum class RuleAction { Accept, Tag, Quarantine, TempFail, Reject };
// "accept", "tag", "quarantine", "tempfail", "reject". Never throws.
std::string_view toString(RuleAction a) noexcept;
// The action of a word, case-insensitive; nullopt for anything else. Never throws.
std::optional<RuleAction> parseRuleAction(std::string_view text) noexcept;

// One `tests:` entry of a rule (mailwarden rules test).
struct TestCase {
  SourceLoc where;
  std::string header;  // "Name: value" lines, newline separated
  std::string body;
  std::string eml;     // absolute path, or empty
  bool raw = false;    // no minimal header added
  message::Envelope envelope = {};
  std::vector<std::string> auth = {};  // `auth:`: the symbols true for the case
  bool expect_hit = true;
};

struct Rule {
  std::string id;
  std::string description;
  SourceLoc where;
  bool composite = false;
  Scope scope = Scope::BodyRaw;
  std::string header_name = {};  // Scope::Header: lower-case field name
  std::string pattern = {};      // Hyperscan syntax, or the composite's expression
  unsigned flags = 0;            // Hyperscan compile flags
  std::optional<double> score = std::nullopt;
  std::optional<RuleAction> action = std::nullopt;
  std::optional<std::string> reply = std::nullopt;
  std::vector<TestCase> tests = {};
};

struct LoadOptions {
  std::vector<std::string> dirs;
  std::string cache_dir;  // empty: no cache
  // The names other modules publish for a message (scan::knownSymbols: SPF_PASS,
  // DMARC_REJECT, ...): the only names besides rule ids a composite may use, and the
  // names a test case's `auth:` may set. A rule id may not be one of them.
  std::vector<std::string> symbols = {};
};

struct LoadStats {
  std::size_t files = 0;
  std::size_t databases = 0;  // scopes with a database
  std::size_t from_cache = 0; // of those, read from the cache
};

class RuleSet;
using RuleSetConstSharedPtr = std::shared_ptr<const RuleSet>;

struct LoadReport {
  RuleSetConstSharedPtr rules;  // set iff errors is empty
  std::vector<Error> errors;
  LoadStats stats = {};
  bool ok() const noexcept { return errors.empty(); }
};

// The rule files of `options.dirs`. Never throws except bad_alloc.
LoadReport load(const LoadOptions& options);
// One file's text (tests, the fuzz target); `file` names it in errors and is the base
// for relative .eml paths; `symbols` as LoadOptions::symbols.
LoadReport loadText(std::string_view yaml, const std::string& file,
                    const std::vector<std::string>& symbols, const std::string& cache_dir = "");

class RuleSet {
 public:
  struct Impl;
  explicit RuleSet(std::unique_ptr<Impl> impl);
  ~RuleSet();
  const std::vector<Rule>& rules() const noexcept;
  // Index of a rule id in rules(), or -1.
  int find(std::string_view id) const noexcept;
  const Impl& impl() const noexcept { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// A rule that hit and counts: it has a score other than 0 or an action (a rule with score
// 0 and no action is a building block for composites and `rules test`, not listed).
struct Hit {
  std::string id;
  double score = 0.0;                        // the rule's score; 0 when it has none
  std::optional<RuleAction> action = std::nullopt;
  std::optional<std::string> reply = std::nullopt;  // one line, for reject / tempfail
};

// One message's matching. Feed the events in protocol order; the MIME parser of the
// message calls mimeSink(), and a message::TextExtractor on that parser calls
// textListener() (subscribed with wantsText(), wantsUrls()). finish() closes every
// stream (end-anchored matches fire); conclude() then evaluates composites and returns
// the hits.
class Matcher {
 public:
  Matcher(RuleSetConstSharedPtr rules, const message::Limits& limits);
  ~Matcher();
  Matcher(const Matcher&) = delete;
  Matcher& operator=(const Matcher&) = delete;

  void envelope(const message::Envelope& env);
  void header(const message::HeaderField& field);
  void body(std::string_view raw_chunk);
  // attachment:name and attachment:type, from partBegin; the other events are ignored.
  message::MimeSink& mimeSink() noexcept;
  // body:text (the text, "\n" between parts, as the extractor gives it) and url (each
  // distinct URL once, the first 1,000 of the message); lives as long as the Matcher.
  message::TextListener& textListener() noexcept;
  // The rule set has body:text / url rules: what to subscribe textListener() for (a
  // TextExtractor nobody wants anything from does no work).
  bool wantsText() const noexcept;
  bool wantsUrls() const noexcept;
  void finish();
  // Evaluates the composites over the hits and `symbols` (the names true for this
  // message; a name the RuleSet was not loaded with counts as false) and returns the
  // hits that count, in rule order (as the rule files list them). Calls finish() if
  // needed. Once per message: a second call returns nothing.
  std::vector<Hit> conclude(const std::vector<std::string>& symbols);
  // After conclude(): did rule `id` hit (composites included)?
  bool hit(std::string_view id) const noexcept;
  // A scan error (Hyperscan refused to scan, e.g. no memory): nullopt when none. The
  // hits of such a message are incomplete; the caller fails the message.
  const std::optional<std::string>& failure() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace mw::rules
