// rules/internal.h — private to rules/: the RuleSet's compiled form, the Hyperscan RAII
// handles and the composite expression. The only header of the project that includes
// hs/hs.h.
#pragma once

#include <hs/hs.h>

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/base/unique_c.h"
#include "mailwarden/rules/rules.h"

namespace mw::rules {

using HsDatabase = UniqueC<hs_database_t, hs_free_database>;
using HsScratch = UniqueC<hs_scratch_t, hs_free_scratch>;
using HsCompileError = UniqueC<hs_compile_error_t, hs_free_compile_error>;

// A composite's expression, as a flat tree: nodes[root] is the top. A leaf names a rule
// (rule >= 0) or a symbol another module publishes (symbol >= 0).
struct Expr {
  enum class Kind { Leaf, Not, And, Or };
  struct Node {
    Kind kind = Kind::Leaf;
    int a = -1, b = -1;    // children (Not: a only)
    int rule = -1;         // Leaf: index into RuleSet::rules()
    int symbol = -1;       // Leaf: index into RuleSet::Impl::symbols
  };
  std::vector<Node> nodes;
  int root = -1;
};

// Parses `text` (and, or, not, parentheses, identifiers; not > and > or). Identifiers
// are resolved by `resolve`, which returns false for an unknown one. The error says what
// and where (column).
struct ExprParse {
  Expr expr;
  std::vector<std::string> names;  // identifiers, in order of appearance
};
Result<ExprParse> parseExpression(std::string_view text);

// Scopes whose items are whole short strings (one URL, one address, one header field):
// each is scanned in one call, so its database is a block-mode one: hs_scan keeps no
// stream state to set up, save and flush. With a stream opened, scanned and closed per
// item, the 4 KB bench message (14 URLs) spent 8 % of its checks on these scans; block
// mode cut its checks by 10 % (callgrind, 2.38 -> 2.13 M instructions a message).
// Whole-message scopes arrive in chunks and stay streaming (DESIGN "Rules").
constexpr bool isPerItem(Scope s) noexcept {
  return s != Scope::Headers && s != Scope::BodyRaw && s != Scope::BodyText;
}

// One scope's database; `ids[i]` is the rule index of Hyperscan pattern id i.
struct ScopeDb {
  HsDatabase db;  // HS_MODE_BLOCK when isPerItem(scope), else HS_MODE_STREAM
  std::vector<int> ids;
  bool utf8 = false;  // a pattern has HS_FLAG_UTF8: input must be valid UTF-8
};

// The Hyperscan scratch of one RuleSet's matchers. hs_alloc_scratch validates every
// database it grows a scratch for (a CRC over all the bytecode: about 0.2 ms a message
// with 1,000 rules), so it runs once per RuleSet, for the prototype; a Matcher borrows a
// scratch for its message (hs_clone_scratch of the prototype when none is free: a copy,
// no validation) and gives it back when it ends. A per-thread scratch paid that
// validation on every connection, since libmilter runs one thread per connection. The
// pool holds as many scratches as messages were ever scanned at once.
class ScratchPool {
 public:
  // A scratch fitted to every database in `scopes` (the same every call for one pool);
  // nullptr when Hyperscan cannot allocate it (that message fails; the next call tries
  // again, growing the prototype if that was what failed).
  HsScratch take(const std::array<ScopeDb, kScopeCount>& scopes);
  void give(HsScratch scratch) noexcept;

 private:
  std::mutex mu_;
  HsScratch prototype_;
  std::vector<HsScratch> free_;
};

struct RuleSet::Impl {
  std::vector<Rule> rules;
  std::map<std::string, int, std::less<>> by_id;
  std::array<ScopeDb, kScopeCount> scopes;
  std::vector<std::string> header_names;  // sorted, lower-case: the fields header:* reads
  std::vector<int> composites;             // rule indexes, in evaluation (dependency) order
  std::vector<Expr> exprs;                 // per rule (empty for pattern rules)
  // LoadOptions::symbols, and each name's index there (Expr leaves refer to it).
  std::vector<std::string> symbols;
  std::map<std::string, int, std::less<>> symbol_index;
  std::uint64_t serial = 0;                // unique per RuleSet in this process
  mutable ScratchPool scratch;             // matchers borrow from it
};

// Checks every pattern alone (hs_expression_info), then, when no error was found here or
// before (`errors` empty on entry), compiles every scope that has rules, using the cache
// when it can. Errors are per pattern ("rule ID: pattern rejected by Hyperscan: REASON")
// with the rule's location.
void compileScopes(RuleSet::Impl& impl, const std::string& cache_dir, std::vector<Error>& errors,
                   LoadStats& stats);

// 64-bit FNV-1a, for cache keys and checksums (not a defence against an attacker who
// can write the cache folder: that folder is root's).
std::uint64_t fnv1a(std::string_view data, std::uint64_t seed = 0xcbf29ce484222325ULL) noexcept;

}  // namespace mw::rules
