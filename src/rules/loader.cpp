// rules/loader.cpp — rule files (YAML) to Rule values, cross-file checks (duplicate ids,
// composites' unknown ids and cycles), then compile.cpp. Every problem is collected, so
// `configtest` and `rules test` show all of them; errors sort by file, then line.
#include <algorithm>
#include <cmath>
#include <functional>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "internal.h"
#include "mailwarden/base/ascii.h"

namespace mw::rules {
namespace {

namespace fs = std::filesystem;

// A rule file is a few kilobytes; refuse what would only feed yaml-cpp's appetite.
constexpr std::size_t kMaxFileBytes = 4 * 1024 * 1024;
constexpr std::size_t kMaxRules = 100000;
constexpr std::size_t kMaxExpressionBytes = 4096;

std::atomic<std::uint64_t> g_serial{1};

// yaml-cpp marks are 0-based (-1 for none); errors are 1-based.
int lineOf(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return m.line >= 0 ? m.line + 1 : 0;
}

bool validId(std::string_view id) {
  if (id.empty() || id.size() > 64 || id[0] < 'A' || id[0] > 'Z') {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// LoadOptions::symbols, each name with its index there (a name given twice keeps its
// first index).
using SymbolIndex = std::map<std::string, int, std::less<>>;

SymbolIndex indexSymbols(const std::vector<std::string>& symbols) {
  SymbolIndex index;
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    index.emplace(symbols[i], static_cast<int>(i));
  }
  return index;
}

class FileLoader {
 public:
  FileLoader(std::string file, const SymbolIndex& symbols, std::vector<Rule>& out,
             std::vector<Error>& errors)
      : file_(std::move(file)), symbols_(symbols), out_(out), errors_(errors) {}

  void error(int line, std::string_view rule, std::string_view what) {
    std::string msg = rule.empty() ? std::string(what) : "rule " + std::string(rule) + ": " + std::string(what);
    errors_.push_back(Error::at(SourceLoc{file_, line}, Errc::Invalid, std::move(msg)));
  }

  void document(const YAML::Node& root) {
    if (root.IsNull()) {
      return;  // an empty file: no rules
    }
    if (!root.IsMap()) {
      error(lineOf(root), "", "expected a mapping with one key 'rules'");
      return;
    }
    YAML::Node list;
    for (const auto& kv : root) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      if (key != "rules") {
        error(lineOf(kv.first), "", "unknown top-level key '" + key + "' (expected 'rules')");
        continue;
      }
      list = kv.second;
    }
    if (!list || list.IsNull()) {
      return;
    }
    if (!list.IsSequence()) {
      error(lineOf(list), "", "'rules' must be a list");
      return;
    }
    std::size_t n = 0;
    for (const YAML::Node& item : list) {
      if (++n > kMaxRules) {
        error(lineOf(item), "", "too many rules in one file");
        return;
      }
      rule(item, n);
    }
  }

 private:
  std::optional<std::string> scalar(const YAML::Node& v, std::string_view rule, std::string_view key) {
    if (!v.IsScalar()) {
      error(lineOf(v), rule, std::string(key) + ": expected a string");
      return std::nullopt;
    }
    return v.Scalar();
  }

  std::optional<double> number(const YAML::Node& v, std::string_view rule, std::string_view key) {
    if (!v.IsScalar() || v.Tag() != "?") {
      error(lineOf(v), rule, std::string(key) + ": expected a number");
      return std::nullopt;
    }
    const std::string& s = v.Scalar();
    char* end = nullptr;
    errno = 0;
    const double d = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || errno != 0 || !std::isfinite(d) ||
        std::abs(d) > 1e6) {
      error(lineOf(v), rule, std::string(key) + ": expected a number between -1000000 and 1000000, got '" + s + "'");
      return std::nullopt;
    }
    return d;
  }

  std::optional<bool> boolean(const YAML::Node& v, std::string_view rule, std::string_view key) {
    if (v.IsScalar() && v.Tag() == "?" && (v.Scalar() == "true" || v.Scalar() == "false")) {
      return v.Scalar() == "true";
    }
    error(lineOf(v), rule, std::string(key) + ": expected true or false");
    return std::nullopt;
  }

  std::optional<std::vector<std::pair<std::string, int>>> strings(const YAML::Node& v, std::string_view rule,
                                                                  std::string_view key) {
    std::vector<std::pair<std::string, int>> out;
    if (v.IsNull()) {
      return out;
    }
    if (v.IsScalar()) {
      out.emplace_back(v.Scalar(), lineOf(v));
      return out;
    }
    if (!v.IsSequence()) {
      error(lineOf(v), rule, std::string(key) + ": expected a list of strings");
      return std::nullopt;
    }
    for (const YAML::Node& e : v) {
      if (!e.IsScalar()) {
        error(lineOf(e), rule, std::string(key) + ": expected a list of strings");
        return std::nullopt;
      }
      out.emplace_back(e.Scalar(), lineOf(e));
    }
    return out;
  }

  bool scope(Rule& r, const std::string& text, int line) {
    static const std::pair<std::string_view, Scope> kNames[] = {
        {"headers", Scope::Headers},
        {"body:raw", Scope::BodyRaw},
        {"body:text", Scope::BodyText},
        {"url", Scope::Url},
        {"attachment:name", Scope::AttachmentName},
        {"attachment:type", Scope::AttachmentType},
        {"envelope:mail_from", Scope::EnvMailFrom},
        {"envelope:rcpt", Scope::EnvRcpt},
        {"envelope:helo", Scope::EnvHelo},
        {"envelope:client_name", Scope::EnvClientName},
    };
    for (const auto& [name, s] : kNames) {
      if (text == name) {
        r.scope = s;
        return true;
      }
    }
    std::string field;
    if (text == "subject") {
      field = "subject";
    } else if (text == "from") {
      field = "from";
    } else if (text.starts_with("header:")) {
      field = text.substr(7);
      // RFC 5322 §2.2: a field name is printable US-ASCII except ':'.
      const bool ok = !field.empty() && field.size() <= 128 &&
                      std::all_of(field.begin(), field.end(), [](char c) { return c >= 0x21 && c <= 0x7e && c != ':'; });
      if (!ok) {
        error(line, r.id, "scope '" + text + "': not a valid header field name");
        return false;
      }
    } else {
      error(line, r.id,
            "unknown scope '" + text +
                "' (expected header:NAME, headers, subject, from, body:raw, body:text, url, "
                "attachment:name, attachment:type, envelope:mail_from, envelope:rcpt, "
                "envelope:helo or envelope:client_name)");
      return false;
    }
    r.scope = Scope::Header;
    r.header_name = ascii::lower(field);
    return true;
  }

  void rule(const YAML::Node& item, std::size_t n) {
    const int line = lineOf(item);
    std::string label = "#" + std::to_string(n);
    if (!item.IsMap()) {
      error(line, label, "expected a mapping (id, description, scope, pattern, ...)");
      return;
    }
    Rule r;
    r.where = SourceLoc{file_, line};
    // The id first, so every other message can name the rule.
    if (const YAML::Node id = item["id"]; id) {
      if (auto v = scalar(id, label, "id")) {
        if (!validId(*v)) {
          error(lineOf(id), label, "id '" + *v + "' must match [A-Z][A-Z0-9_]{0,63}");
          return;
        }
        if (symbols_.contains(*v)) {
          error(lineOf(id), *v, "id is an authentication symbol");
          return;
        }
        r.id = *v;
        label = *v;
      } else {
        return;
      }
    } else {
      error(line, label, "missing 'id'");
      return;
    }
    bool ok = true;
    std::optional<std::string> scope_text;
    int scope_line = 0;
    bool has_pattern = false, has_expression = false;
    std::set<std::string> seen;
    for (const auto& kv : item) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      const YAML::Node& v = kv.second;
      const int kl = lineOf(kv.first);
      if (!seen.insert(key).second) {
        error(kl, label, "repeated key '" + key + "'");
        ok = false;
        continue;
      }
      if (key == "id") {
        continue;
      } else if (key == "description") {
        if (auto s = scalar(v, label, key)) r.description = *s; else ok = false;
      } else if (key == "scope") {
        if (auto s = scalar(v, label, key)) { scope_text = *s; scope_line = lineOf(v); } else ok = false;
      } else if (key == "pattern") {
        if (auto s = scalar(v, label, key)) {
          r.pattern = *s;
          has_pattern = true;
          if (s->empty()) { error(lineOf(v), label, "pattern is empty"); ok = false; }
        } else ok = false;
      } else if (key == "expression") {
        if (auto s = scalar(v, label, key)) {
          r.pattern = *s;
          has_expression = true;
          if (s->size() > kMaxExpressionBytes) { error(lineOf(v), label, "expression too long"); ok = false; }
        } else ok = false;
      } else if (key == "flags") {
        auto list = strings(v, label, key);
        if (!list) { ok = false; continue; }
        for (const auto& [f, fl] : *list) {
          if (f == "caseless") r.flags |= HS_FLAG_CASELESS;
          else if (f == "dotall") r.flags |= HS_FLAG_DOTALL;
          else if (f == "multiline") r.flags |= HS_FLAG_MULTILINE;
          else if (f == "utf8") r.flags |= HS_FLAG_UTF8 | HS_FLAG_UCP;
          else { error(fl, label, "unknown flag '" + f + "' (expected caseless, dotall, multiline or utf8)"); ok = false; }
        }
      } else if (key == "score") {
        if (auto d = number(v, label, key)) r.score = *d; else ok = false;
      } else if (key == "action") {
        auto s = scalar(v, label, key);
        if (const std::optional<RuleAction> a = s ? parseRuleAction(*s) : std::nullopt) {
          r.action = *a;
        } else {
          if (s) error(lineOf(v), label, "unknown action '" + *s + "' (expected accept, tag, quarantine, tempfail or reject)");
          ok = false;
        }
      } else if (key == "reply") {
        if (auto s = scalar(v, label, key)) {
          if (s->empty() || s->size() > 400 ||
              std::any_of(s->begin(), s->end(), [](char c) { return c == '\r' || c == '\n' || c == '%' || static_cast<unsigned char>(c) < 0x20; })) {
            error(lineOf(v), label, "reply must be one line of 1..400 characters without '%'");
            ok = false;
          } else {
            r.reply = *s;
          }
        } else ok = false;
      } else if (key == "tests") {
        ok = tests(v, r) && ok;
      } else {
        error(kl, label, "unknown key '" + key + "'");
        ok = false;
      }
    }
    if (r.description.empty()) {
      error(line, label, "missing 'description' (say why the rule exists)");
      ok = false;
    }
    if (has_expression) {
      r.composite = true;
      if (has_pattern || scope_text) {
        error(line, label, "a composite has 'expression' and no 'scope' or 'pattern'");
        ok = false;
      }
    } else {
      if (!has_pattern) { error(line, label, "missing 'pattern' (or 'expression' for a composite)"); ok = false; }
      if (!scope_text) { error(line, label, "missing 'scope'"); ok = false; }
      else if (!scope(r, *scope_text, scope_line)) ok = false;
    }
    if (!r.score && !r.action) {
      error(line, label, "needs a 'score' or an 'action'");
      ok = false;
    }
    if (r.reply && !(r.action == RuleAction::Reject || r.action == RuleAction::TempFail)) {
      error(line, label, "'reply' goes with action reject or tempfail");
      ok = false;
    }
    if (ok) {
      out_.push_back(std::move(r));
    } else {
      // Keep the id reserved so composites that name it do not add a second error.
      broken_.push_back(r.id);
    }
  }

  bool tests(const YAML::Node& v, Rule& r) {
    if (v.IsNull()) return true;
    if (!v.IsSequence()) {
      error(lineOf(v), r.id, "tests: expected a list");
      return false;
    }
    bool ok = true;
    for (const YAML::Node& t : v) {
      ok = testCase(t, r) && ok;
    }
    return ok;
  }

  bool testCase(const YAML::Node& t, Rule& r) {
    TestCase tc;
    tc.where = SourceLoc{file_, lineOf(t)};
    if (!t.IsMap()) {
      error(lineOf(t), r.id, "tests: each case is a mapping (header, body, eml, expect)");
      return false;
    }
    bool ok = true, has_expect = false;
    for (const auto& kv : t) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      const YAML::Node& v = kv.second;
      if (key == "header") {
        if (auto s = scalar(v, r.id, "tests.header")) tc.header = *s; else ok = false;
      } else if (key == "body") {
        if (auto s = scalar(v, r.id, "tests.body")) tc.body = *s; else ok = false;
      } else if (key == "eml") {
        if (auto s = scalar(v, r.id, "tests.eml")) {
          fs::path p(*s);
          tc.eml = (p.is_absolute() ? p : fs::path(file_).parent_path() / p).lexically_normal().string();
        } else ok = false;
      } else if (key == "raw") {
        if (auto b = boolean(v, r.id, "tests.raw")) tc.raw = *b; else ok = false;
      } else if (key == "expect") {
        auto s = scalar(v, r.id, "tests.expect");
        if (s && (*s == "hit" || *s == "miss")) {
          tc.expect_hit = *s == "hit";
          has_expect = true;
        } else {
          if (s) error(lineOf(v), r.id, "tests.expect: expected hit or miss, got '" + *s + "'");
          ok = false;
        }
      } else if (key == "auth") {
        auto list = strings(v, r.id, "tests.auth");
        if (!list) { ok = false; continue; }
        for (const auto& [a, al] : *list) {
          if (!symbols_.contains(a)) { error(al, r.id, "tests.auth: unknown authentication symbol '" + a + "'"); ok = false; }
          else tc.auth.push_back(a);
        }
      } else if (key == "envelope") {
        ok = envelope(v, r, tc.envelope) && ok;
      } else {
        error(lineOf(kv.first), r.id, "tests: unknown key '" + key + "'");
        ok = false;
      }
    }
    if (!has_expect) {
      error(lineOf(t), r.id, "tests: missing 'expect: hit|miss'");
      ok = false;
    }
    if (!tc.eml.empty() && (!tc.header.empty() || !tc.body.empty())) {
      error(lineOf(t), r.id, "tests: 'eml' is a whole message; no 'header' or 'body' with it");
      ok = false;
    }
    if (ok) r.tests.push_back(std::move(tc));
    return ok;
  }

  bool envelope(const YAML::Node& v, Rule& r, message::Envelope& env) {
    if (!v.IsMap()) {
      error(lineOf(v), r.id, "tests.envelope: expected a mapping");
      return false;
    }
    bool ok = true;
    for (const auto& kv : v) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      const std::string path = "tests.envelope." + key;
      if (key == "rcpt") {
        auto list = strings(kv.second, r.id, path);
        if (!list) { ok = false; continue; }
        for (const auto& e : *list) env.rcpts.push_back(e.first);
        continue;
      }
      std::string* out = key == "mail_from" ? &env.mail_from
                         : key == "helo" ? &env.helo
                         : key == "client_name" ? &env.client_name
                         : key == "client_ip" ? &env.client_ip : nullptr;
      if (out == nullptr) {
        error(lineOf(kv.first), r.id, "tests.envelope: unknown key '" + key + "'");
        ok = false;
      } else if (auto s = scalar(kv.second, r.id, path)) {
        *out = *s;
      } else {
        ok = false;
      }
    }
    return ok;
  }

 public:
  std::vector<std::string> broken_;

 private:
  std::string file_;
  const SymbolIndex& symbols_;
  std::vector<Rule>& out_;
  std::vector<Error>& errors_;
};

void parseFile(std::string_view text, const std::string& file, const SymbolIndex& symbols,
               std::vector<Rule>& rules, std::vector<Error>& errors,
               std::vector<std::string>& broken) {
  if (text.size() > kMaxFileBytes) {
    errors.push_back(Error::at(SourceLoc{file, 0}, Errc::Invalid, "file too large"));
    return;
  }
  FileLoader loader(file, symbols, rules, errors);
  try {
    // YAML::Load reads the first document only (one parser step), so yaml-cpp 0.7's
    // LoadAll loop on a stray ',' (see config.cpp) cannot happen here.
    const YAML::Node root = YAML::Load(std::string(text));
    loader.document(root);
  } catch (const YAML::Exception& e) {
    const bool too_deep = dynamic_cast<const YAML::DeepRecursion*>(&e) != nullptr;
    const int line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    errors.push_back(Error::at(SourceLoc{file, line}, Errc::Invalid,
                               "YAML syntax error: " + (too_deep ? std::string("nested too deeply") : e.msg)));
  }
  broken.insert(broken.end(), loader.broken_.begin(), loader.broken_.end());
}

// Duplicate ids, composite expressions (unknown ids, cycles), then the databases.
LoadReport finish(std::vector<Rule> rules, std::vector<Error> errors, const std::vector<std::string>& broken,
                  const std::vector<std::string>& symbols, SymbolIndex symbol_index,
                  const std::string& cache_dir, LoadStats stats) {
  auto impl = std::make_unique<RuleSet::Impl>();
  impl->symbols = symbols;
  impl->symbol_index = std::move(symbol_index);
  auto err = [&](const Rule& r, const std::string& what) {
    errors.push_back(Error::at(r.where, Errc::Invalid, "rule " + r.id + ": " + what));
  };
  std::vector<Rule> kept;
  for (Rule& r : rules) {
    auto [it, inserted] = impl->by_id.emplace(r.id, static_cast<int>(kept.size()));
    if (!inserted) {
      const Rule& first = kept[static_cast<std::size_t>(it->second)];
      err(r, "duplicate id (first defined at " + first.where.file + ":" + std::to_string(first.where.line) + ")");
      continue;
    }
    kept.push_back(std::move(r));
  }
  impl->rules = std::move(kept);
  impl->exprs.resize(impl->rules.size());
  const std::set<std::string> broken_ids(broken.begin(), broken.end());

  // Parse and resolve every composite.
  bool composites_ok = true;
  for (std::size_t i = 0; i < impl->rules.size(); ++i) {
    const Rule& r = impl->rules[i];
    if (!r.composite) continue;
    Result<ExprParse> parsed = parseExpression(r.pattern);
    if (!parsed) {
      err(r, "expression: " + parsed.error().message);
      composites_ok = false;
      continue;
    }
    bool ok = true;
    std::size_t leaf = 0;
    for (Expr::Node& n : parsed->expr.nodes) {
      if (n.kind != Expr::Kind::Leaf) continue;
      const std::string& name = parsed->names[leaf++];
      if (auto it = impl->by_id.find(name); it != impl->by_id.end()) {
        n.rule = it->second;
      } else if (auto a = impl->symbol_index.find(name); a != impl->symbol_index.end()) {
        n.symbol = a->second;
      } else if (!broken_ids.contains(name)) {
        err(r, "expression: unknown rule or symbol '" + name + "'");
        ok = false;
      } else {
        ok = false;  // already reported where that rule is
      }
    }
    if (ok) impl->exprs[i] = std::move(parsed->expr);
    else composites_ok = false;
  }
  // Cycles: depth-first over composite -> composite references; each composite is
  // appended after everything it uses, which is also the evaluation order.
  if (composites_ok) {
    enum class Mark { None, Active, Done };
    std::vector<Mark> mark(impl->rules.size(), Mark::None);
    std::vector<int> stack;
    std::function<bool(int)> visit = [&](int i) -> bool {
      if (mark[static_cast<std::size_t>(i)] == Mark::Done) return true;
      if (mark[static_cast<std::size_t>(i)] == Mark::Active) {
        std::string path;
        auto from = std::find(stack.begin(), stack.end(), i);
        for (auto p = from; p != stack.end(); ++p) path += impl->rules[static_cast<std::size_t>(*p)].id + " -> ";
        path += impl->rules[static_cast<std::size_t>(i)].id;
        err(impl->rules[static_cast<std::size_t>(i)], "expression: cycle " + path);
        return false;
      }
      mark[static_cast<std::size_t>(i)] = Mark::Active;
      stack.push_back(i);
      bool ok = true;
      for (const Expr::Node& n : impl->exprs[static_cast<std::size_t>(i)].nodes) {
        if (n.kind == Expr::Kind::Leaf && n.rule >= 0 && impl->rules[static_cast<std::size_t>(n.rule)].composite) {
          if (!visit(n.rule)) { ok = false; break; }
        }
      }
      stack.pop_back();
      mark[static_cast<std::size_t>(i)] = Mark::Done;
      if (ok) impl->composites.push_back(i);
      return ok;
    };
    for (std::size_t i = 0; i < impl->rules.size(); ++i) {
      if (impl->rules[i].composite && mark[i] == Mark::None) {
        visit(static_cast<int>(i));
      }
    }
  }
  std::set<std::string> names;
  for (const Rule& r : impl->rules) {
    if (!r.composite && r.scope == Scope::Header) names.insert(r.header_name);
  }
  impl->header_names.assign(names.begin(), names.end());
  compileScopes(*impl, cache_dir, errors, stats);
  LoadReport report;
  report.stats = stats;
  if (!errors.empty()) {
    std::stable_sort(errors.begin(), errors.end(), [](const Error& a, const Error& b) {
      const SourceLoc& x = *a.where;
      const SourceLoc& y = *b.where;
      return x.file != y.file ? x.file < y.file : x.line < y.line;
    });
    report.errors = std::move(errors);
    return report;
  }
  impl->serial = g_serial.fetch_add(1);
  report.rules = std::make_shared<const RuleSet>(std::move(impl));
  return report;
}

}  // namespace

RuleSet::RuleSet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RuleSet::~RuleSet() = default;
const std::vector<Rule>& RuleSet::rules() const noexcept { return impl_->rules; }
int RuleSet::find(std::string_view id) const noexcept {
  auto it = impl_->by_id.find(id);
  return it == impl_->by_id.end() ? -1 : it->second;
}

LoadReport loadText(std::string_view yaml, const std::string& file,
                    const std::vector<std::string>& symbols, const std::string& cache_dir) {
  std::vector<Rule> rules;
  std::vector<Error> errors;
  std::vector<std::string> broken;
  SymbolIndex index = indexSymbols(symbols);
  parseFile(yaml, file, index, rules, errors, broken);
  LoadStats stats;
  stats.files = 1;
  return finish(std::move(rules), std::move(errors), broken, symbols, std::move(index), cache_dir,
                stats);
}

LoadReport load(const LoadOptions& options) {
  std::vector<Rule> rules;
  std::vector<Error> errors;
  std::vector<std::string> broken;
  LoadStats stats;
  SymbolIndex index = indexSymbols(options.symbols);
  for (const std::string& dir : options.dirs) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
      continue;  // see rules.h: an absent folder holds no rules
    }
    std::vector<fs::path> files;
    fs::directory_iterator it(dir, ec);
    if (ec) {
      errors.push_back(Error::at(SourceLoc{dir, 0}, Errc::Invalid, "cannot read folder: " + ec.message()));
      continue;
    }
    for (const fs::directory_entry& e : it) {
      if (e.path().extension() == ".yaml" && e.is_regular_file(ec)) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& p : files) {
      std::ifstream in(p, std::ios::binary);
      if (!in) {
        errors.push_back(Error::at(SourceLoc{p.string(), 0}, Errc::Invalid,
                                   std::string("cannot read: ") + std::strerror(errno)));
        continue;
      }
      std::ostringstream text;
      text << in.rdbuf();
      ++stats.files;
      parseFile(text.str(), p.string(), index, rules, errors, broken);
    }
  }
  return finish(std::move(rules), std::move(errors), broken, options.symbols, std::move(index),
                options.cache_dir, stats);
}

}  // namespace mw::rules
