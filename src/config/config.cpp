#include "mailwarden/config/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>
#include <yaml-cpp/eventhandler.h>

#include "config/checks.h"
#include "mailwarden/base/ascii.h"
#include "mailwarden/dns/idna.h"
#include "mailwarden/dns/resolver.h"
#include "mailwarden/report/redis_store.h"
#include "mailwarden/reputation/options.h"

namespace mw::config {
namespace {

namespace fs = std::filesystem;
using detail::IntParse;
using detail::Problem;

// yaml-cpp's marks are 0-based; a node built in code has none (-1). This is the one place
// they become 1-based lines (STYLE.md §5.2).
int lineOf(const YAML::Node& node) {
  const YAML::Mark m = node.Mark();
  return m.line >= 0 ? m.line + 1 : 0;
}

// yaml-cpp's tag for a plain (unquoted, untagged) scalar is "?", for a quoted one "!".
bool isPlain(const YAML::Node& node) { return node.Tag() == "?"; }

std::string inQuotes(std::string_view s) { return "'" + std::string(s) + "'"; }

// An operator's value as quoted back in a message: long ones are cut.
std::string shown(std::string_view s) {
  constexpr std::size_t kMax = 60;
  return s.size() <= kMax ? std::string(s) : std::string(s.substr(0, kMax)) + "...";
}

// One value in the file, with the dotted key path used in messages ("milter.timeout",
// "dns.resolvers[1]") and the line an error about it points at.
struct Field {
  std::string path;
  YAML::Node value;
  int line = 0;
  int key_line = 0;  // the line of its key in a mapping (0 otherwise): where a section starts
};

// Walks the document, fills a Config and collects every error. Errors are sorted by line
// at the end, so cross-field checks (thresholds, budget) land in file order too.
class Loader {
 public:
  Loader(Config& config, std::string file, fs::path base_dir)
      : config_(config), file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  std::vector<Error> takeErrors() {
    std::stable_sort(errors_.begin(), errors_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<Error> out;
    out.reserve(errors_.size());
    for (auto& [line, e] : errors_) {
      out.push_back(std::move(e));
    }
    return out;
  }

  void error(int line, std::string message) {
    errors_.emplace_back(line,
                         Error::at(SourceLoc{file_, line}, Errc::Invalid, std::move(message)));
  }
  void error(const Field& f, std::string_view what) {
    error(f.line, f.path.empty() ? std::string(what) : f.path + ": " + std::string(what));
  }

  void document(const YAML::Node& root);

 private:
  using Handler = std::function<void(const Field&)>;
  struct Key {
    std::string_view name;
    Handler handle;
  };

  // Calls the handler of each key of the mapping `f`, in file order. Null (an empty
  // section, "milter:" with everything commented out) keeps the defaults.
  void mapping(const Field& f, std::initializer_list<Key> keys);
  // The elements of a sequence as fields "path[i]"; nullopt (and an error) otherwise.
  // Null is an empty list.
  std::optional<std::vector<Field>> list(const Field& f);

  std::optional<long long> integer(const Field& f, long long lo, long long hi);
  std::optional<double> number(const Field& f);
  std::optional<bool> boolean(const Field& f);
  std::optional<std::string> string(const Field& f);
  std::optional<std::string> word(const Field& f, std::initializer_list<std::string_view> words);
  std::optional<std::string> checked(const Field& f, Problem (*check)(std::string_view));
  std::optional<std::string> path(const Field& f);
  bool scalarOrError(const Field& f, std::string_view expected);
  Problem unreadable(const std::string& file);
  Problem noRules(const std::string& dir);
  // A list of paths, each passing `check` (else an error at its element); the whole
  // list only when every element does.
  std::optional<std::vector<std::string>> checkedPaths(const Field& f,
                                                       Problem (Loader::*check)(const std::string&));

  template <typename T>
  void setInt(const Field& f, T& out, long long lo, long long hi) {
    if (auto v = integer(f, lo, hi)) {
      out = static_cast<T>(*v);
    }
  }
  void setBool(const Field& f, bool& out) {
    if (auto v = boolean(f)) {
      out = *v;
    }
  }
  // A method's score (spf:, dkim:, dmarc:): a number within +-1000, so one misplaced
  // digit cannot outweigh every threshold by orders of magnitude unnoticed.
  void setScore(const Field& f, double& out) {
    if (auto v = number(f)) {
      if (*v < -1000 || *v > 1000) {
        error(f, "must be between -1000 and 1000");
        return;
      }
      out = *v;
    }
  }

  // spf/dkim/dmarc.temperror: the word tempfail, or a score as setScore takes it.
  void setTemperror(const Field& f, OnTemperror& out) {
    if (f.value.IsScalar() && isPlain(f.value) && f.value.Scalar() == "tempfail") {
      out = OnTemperror{true, 0.0};
      return;
    }
    double v = 0.0;
    if (!f.value.IsScalar() || !isPlain(f.value) || !detail::parseNumber(f.value.Scalar(), v)) {
      error(f, "expected tempfail or a number (a score)");
      return;
    }
    if (v < -1000 || v > 1000) {
      error(f, "must be between -1000 and 1000");
      return;
    }
    out = OnTemperror{false, v};
  }

  void milter(const Field& f);
  void thresholds(const Field& f);
  void reply(const Field& f, verdict::SmtpReply& out, long long lo, long long hi);
  void limits(const Field& f);
  void log(const Field& f);
  void dns(const Field& f);
  void dmarc(const Field& f);
  void dmarcReports(const Field& f);
  void arc(const Field& f);
  std::optional<std::string> domain(const Field& f);
  void reputationSection(const Field& f);
  void reputationList(const Field& f, reputation::ListOptions& out);
  void answerClass(const Field& f, reputation::AnswerClass& out);
  void crossChecks();
  void metrics(const Field& f);
  void bypass(const Field& f);

  Config& config_;
  std::string file_;
  fs::path base_dir_;
  std::vector<std::pair<int, Error>> errors_;  // (line, error): sorted by line at the end

  // Lines of settings that cross-field checks refer to (0: not in the file).
  int tag_line_ = 0;
  int quarantine_line_ = 0;
  int reject_line_ = 0;
  int timeout_ms_line_ = 0;
  int budget_ms_line_ = 0;
  int dnssec_line_ = 0;
  int trust_anchor_line_ = 0;
  bool rule_dirs_given_ = false;  // rules.directories is in the file
};

Field child(const Field& parent, std::string_view key, const YAML::Node& key_node,
            const YAML::Node& value) {
  // A null value's mark is wherever the next token is (often the next line): point at
  // the key instead.
  return Field{parent.path.empty() ? std::string(key) : parent.path + "." + std::string(key),
               value, value.IsNull() ? lineOf(key_node) : lineOf(value), lineOf(key_node)};
}

void Loader::mapping(const Field& f, std::initializer_list<Key> keys) {
  if (f.value.IsNull()) {
    return;
  }
  if (!f.value.IsMap()) {
    error(f, f.path.empty() ? "expected a mapping of settings (key: value) at the top level"
                            : "expected a mapping");
    return;
  }
  std::vector<std::string_view> names;
  for (const Key& k : keys) {
    names.push_back(k.name);
  }
  // yaml-cpp 0.7 keeps every pair of a mapping in order and operator[] returns the first:
  // a repeated key would silently be ignored, so it is found here.
  std::map<std::string, int, std::less<>> seen;
  for (const auto& pair : f.value) {
    const YAML::Node& key_node = pair.first;
    const int key_line = lineOf(key_node);
    if (!key_node.IsScalar()) {
      error(Field{f.path, key_node, key_line}, "a key must be a plain name");
      continue;
    }
    const std::string& name = key_node.Scalar();
    const Key* known = nullptr;
    for (const Key& k : keys) {
      if (k.name == name) {
        known = &k;
      }
    }
    if (known == nullptr) {
      std::string what = "unknown key " + inQuotes(shown(name));
      if (auto near = detail::closestKey(name, names)) {
        what += " (did you mean " + inQuotes(*near) + "?)";
      }
      error(Field{f.path, key_node, key_line}, what);
      continue;
    }
    const Field value = child(f, name, key_node, pair.second);
    if (auto [it, inserted] = seen.emplace(name, key_line); !inserted) {
      error(Field{value.path, key_node, key_line},
            "duplicate key (first set at line " + std::to_string(it->second) + ")");
      continue;
    }
    known->handle(value);
  }
}

std::optional<std::vector<Field>> Loader::list(const Field& f) {
  std::vector<Field> out;
  if (f.value.IsNull()) {
    return out;
  }
  if (!f.value.IsSequence()) {
    error(f, "expected a list");
    return std::nullopt;
  }
  std::size_t i = 0;
  for (const auto& it : f.value) {
    const YAML::Node& element = it;  // a sequence iterator's value is the element itself
    out.push_back(Field{f.path + "[" + std::to_string(i++) + "]", element,
                        element.IsNull() ? f.line : lineOf(element)});
  }
  return out;
}

bool Loader::scalarOrError(const Field& f, std::string_view expected) {
  if (f.value.IsScalar()) {
    return true;
  }
  error(f, expected);
  return false;
}

std::optional<long long> Loader::integer(const Field& f, long long lo, long long hi) {
  static constexpr std::string_view kExpected = "expected an integer";
  if (!scalarOrError(f, kExpected)) {
    return std::nullopt;
  }
  // A quoted "12" is a string in YAML; only plain scalars are numbers.
  long long v = 0;
  const IntParse parsed =
      isPlain(f.value) ? detail::parseInteger(f.value.Scalar(), v) : IntParse::NotAnInteger;
  if (parsed == IntParse::NotAnInteger) {
    error(f, kExpected);
    return std::nullopt;
  }
  if (parsed == IntParse::OutOfRange || v < lo || v > hi) {
    error(f, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + " (got " +
                 shown(f.value.Scalar()) + ")");
    return std::nullopt;
  }
  return v;
}

std::optional<double> Loader::number(const Field& f) {
  static constexpr std::string_view kExpected = "expected a number";
  if (!scalarOrError(f, kExpected)) {
    return std::nullopt;
  }
  double v = 0.0;
  if (!isPlain(f.value) || !detail::parseNumber(f.value.Scalar(), v)) {
    error(f, kExpected);
    return std::nullopt;
  }
  return v;
}

std::optional<bool> Loader::boolean(const Field& f) {
  // Only YAML 1.2's true/false. yaml-cpp would also take YAML 1.1's yes/no/on/off/y/n,
  // which turn country codes and "off-by-one" answers into booleans (the Norway problem):
  // an operator writing them gets an error, not a guess.
  static constexpr std::string_view kExpected = "expected a boolean (true/false)";
  if (!scalarOrError(f, kExpected)) {
    return std::nullopt;
  }
  const std::string& s = f.value.Scalar();
  if (isPlain(f.value)) {
    if (s == "true" || s == "True" || s == "TRUE") {
      return true;
    }
    if (s == "false" || s == "False" || s == "FALSE") {
      return false;
    }
  }
  error(f, kExpected);
  return std::nullopt;
}

std::optional<std::string> Loader::string(const Field& f) {
  if (!scalarOrError(f, "expected a string")) {
    return std::nullopt;
  }
  return f.value.Scalar();
}

std::optional<std::string> Loader::word(const Field& f,
                                        std::initializer_list<std::string_view> words) {
  std::optional<std::string> s = string(f);
  if (!s) {
    return std::nullopt;
  }
  if (std::find(words.begin(), words.end(), *s) != words.end()) {
    return s;
  }
  // "(expected a, b or c)"
  std::string what = "unknown value " + inQuotes(shown(*s)) + " (expected ";
  std::size_t left = words.size();
  for (std::string_view w : words) {
    --left;
    what += w;
    what += left > 1 ? ", " : left == 1 ? " or " : ")";
  }
  error(f, what);
  return std::nullopt;
}

std::optional<std::string> Loader::checked(const Field& f, Problem (*check)(std::string_view)) {
  std::optional<std::string> s = string(f);
  if (!s) {
    return std::nullopt;
  }
  if (Problem p = check(*s)) {
    error(f, *p);
    return std::nullopt;
  }
  return s;
}

// A path setting; a relative path is taken relative to the configuration file's folder.
std::optional<std::string> Loader::path(const Field& f) {
  std::optional<std::string> s = string(f);
  if (!s) {
    return std::nullopt;
  }
  if (s->empty() || s->find('\0') != std::string::npos) {
    error(f, "expected a file or directory path");
    return std::nullopt;
  }
  const fs::path p(*s);
  if (p.is_absolute()) {
    return s;
  }
  return (base_dir_ / p).lexically_normal().string();
}

std::optional<std::vector<std::string>> Loader::checkedPaths(
    const Field& f, Problem (Loader::*check)(const std::string&)) {
  auto elements = list(f);
  if (!elements) {
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const Field& e : *elements) {
    std::optional<std::string> p = path(e);
    if (!p) {
      continue;
    }
    if (Problem why = (this->*check)(*p)) {
      error(e, *why);
      continue;
    }
    out.push_back(*p);
  }
  if (out.size() != elements->size()) {
    return std::nullopt;
  }
  return out;
}

// What keeps `file` from being read, or nullopt. Opens and closes it (no read): this is
// a configtest-time check, the module that uses the file reads it later.
Problem Loader::unreadable(const std::string& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    return "cannot read " + file + ": " + std::strerror(errno);
  }
  struct stat st {};
  const bool is_dir = ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
  ::close(fd);
  if (is_dir) {
    return "cannot read " + file + ": " + std::strerror(EISDIR);
  }
  return std::nullopt;
}

// Why the rule folder `dir` gives no rules, or nullopt: it must exist and hold at least
// one *.yaml file. A folder that silently loads nothing is how a postmaster ends up with
// no content rules and "configuration OK"; an empty rule set is said explicitly
// (`directories: []`). The rule loader reads the files later.
Problem Loader::noRules(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    return "rule folder " + dir + " does not exist (no rules would be loaded; say " +
           "`directories: []` for none)";
  }
  if (!fs::is_directory(dir, ec)) {
    return "rule folder " + dir + " is not a folder";
  }
  fs::directory_iterator it(dir, ec);
  if (ec) {
    return "cannot read rule folder " + dir + ": " + ec.message();
  }
  for (const fs::directory_entry& e : it) {
    if (e.path().extension() == ".yaml" && e.is_regular_file(ec)) {
      return std::nullopt;
    }
  }
  return "rule folder " + dir + " holds no *.yaml rule file (say `directories: []` for none)";
}

void Loader::document(const YAML::Node& root) {
  verdict::Policy& policy = config_.policy;
  const Field top{"", root, lineOf(root)};
  mapping(top, {
    {"milter", [&](const Field& f) { milter(f); }},
    {"authserv_id",
     [&](const Field& f) {
       if (auto v = checked(f, detail::checkAuthservId)) {
         policy.authserv_id = *v;
       }
     }},
    {"failure_policy",
     [&](const Field& f) {
       if (auto v = word(f, {"tempfail", "accept"})) {
         policy.on_failure = *v == "accept" ? verdict::Action::Accept : verdict::Action::TempFail;
       }
     }},
    {"thresholds", [&](const Field& f) { thresholds(f); }},
    {"replies",
     [&](const Field& f) {
       mapping(f, {
         {"tempfail", [&](const Field& g) { reply(g, policy.tempfail_reply, 400, 499); }},
         {"reject", [&](const Field& g) { reply(g, policy.reject_reply, 500, 599); }},
       });
     }},
    {"quarantine_reason",
     [&](const Field& f) {
       if (auto v = checked(f, [](std::string_view t) { return detail::checkReplyText(t, 200); })) {
         policy.quarantine_reason = *v;
       }
     }},
    {"headers",
     [&](const Field& f) {
       verdict::HeaderOptions& h = policy.headers;
       mapping(f, {
         {"verdict", [&](const Field& g) { setBool(g, h.verdict); }},
         {"score", [&](const Field& g) { setBool(g, h.score); }},
         {"rules", [&](const Field& g) { setBool(g, h.rules); }},
         {"spam_headers", [&](const Field& g) { setBool(g, h.spam_headers); }},
         {"remove_forged_authres", [&](const Field& g) { setBool(g, h.remove_forged_authres); }},
       });
     }},
    {"limits", [&](const Field& f) { limits(f); }},
    {"log", [&](const Field& f) { log(f); }},
    {"dns", [&](const Field& f) { dns(f); }},
    {"spf",
     [&](const Field& f) {
       SpfOptions& o = config_.spf;
       mapping(f, {
         {"enabled", [&](const Field& g) { setBool(g, o.enabled); }},
         {"check_helo", [&](const Field& g) { setBool(g, o.check_helo); }},
         {"fail_score", [&](const Field& g) { setScore(g, o.fail_score); }},
         {"softfail_score", [&](const Field& g) { setScore(g, o.softfail_score); }},
         {"permerror_score", [&](const Field& g) { setScore(g, o.permerror_score); }},
         {"reject_on_fail", [&](const Field& g) { setBool(g, o.reject_on_fail); }},
         {"temperror", [&](const Field& g) { setTemperror(g, o.temperror); }},
       });
     }},
    {"dkim",
     [&](const Field& f) {
       DkimOptions& o = config_.dkim;
       mapping(f, {
         {"enabled", [&](const Field& g) { setBool(g, o.enabled); }},
         {"max_signatures", [&](const Field& g) { setInt(g, o.max_signatures, 1, 50); }},
         {"fail_score", [&](const Field& g) { setScore(g, o.fail_score); }},
         {"policy_score", [&](const Field& g) { setScore(g, o.policy_score); }},
         {"permerror_score", [&](const Field& g) { setScore(g, o.permerror_score); }},
         {"temperror", [&](const Field& g) { setTemperror(g, o.temperror); }},
       });
     }},
    {"dmarc", [&](const Field& f) { dmarc(f); }},
    {"arc", [&](const Field& f) { arc(f); }},
    {"reputation", [&](const Field& f) { reputationSection(f); }},
    {"rules",
     [&](const Field& f) {
       mapping(f, {
         {"directories",
          [&](const Field& g) {
            rule_dirs_given_ = true;
            if (auto v = checkedPaths(g, &Loader::noRules)) {
              config_.rule_dirs = std::move(*v);
            }
          }},
         {"cache_dir",
          [&](const Field& g) {
            // An empty string (or null) switches the cache off.
            if (g.value.IsNull() || (g.value.IsScalar() && g.value.Scalar().empty() && !isPlain(g.value))) {
              config_.rules_cache_dir.clear();
            } else if (auto v = path(g)) {
              config_.rules_cache_dir = std::move(*v);
            }
          }},
       });
     }},
    {"metrics", [&](const Field& f) { metrics(f); }},
    {"bypass", [&](const Field& f) { bypass(f); }},
  });
  crossChecks();
}

void Loader::dmarc(const Field& f) {
  DmarcOptions& o = config_.dmarc;
  // A list of strings, each passing `check`; the whole list is kept only when all do.
  auto strings = [&](const Field& g, std::vector<std::string>& out, auto check) {
    auto elements = list(g);
    if (!elements) {
      return;
    }
    std::vector<std::string> values;
    bool ok = true;
    for (const Field& e : *elements) {
      std::optional<std::string> v = string(e);
      if (!v) {
        ok = false;
      } else if (Problem p = check(*v)) {
        error(e, *p);
        ok = false;
      } else {
        values.push_back(*v);
      }
    }
    if (ok) {
      out = std::move(values);
    }
  };
  mapping(f, {
    {"enabled", [&](const Field& g) { setBool(g, o.enabled); }},
    {"mode",
     [&](const Field& g) {
       if (auto v = word(g, {"monitor", "enforce"})) {
         o.mode = *v == "enforce" ? DmarcMode::Enforce : DmarcMode::Monitor;
       }
     }},
    {"quarantine_action",
     [&](const Field& g) {
       if (auto v = word(g, {"tag", "quarantine", "reject"})) {
         o.quarantine_action = *v == "tag"      ? verdict::Action::Tag
                               : *v == "reject" ? verdict::Action::Reject
                                                : verdict::Action::Quarantine;
       }
     }},
    {"reject_reply", [&](const Field& g) { reply(g, o.reject_reply, 500, 599); }},
    {"exceptions",
     [&](const Field& g) {
       mapping(g, {
         {"domains",
          [&](const Field& h) {
            strings(h, o.exception_domains,
                    [](std::string_view d) { return detail::checkDomainName(d, true); });
            for (std::string& d : o.exception_domains) {
              d = ascii::lower(d);
            }
          }},
         {"networks",
          [&](const Field& h) { strings(h, o.exception_networks, detail::checkNetwork); }},
       });
     }},
    {"reject_score", [&](const Field& g) { setScore(g, o.reject_score); }},
    {"quarantine_score", [&](const Field& g) { setScore(g, o.quarantine_score); }},
    {"none_score", [&](const Field& g) { setScore(g, o.none_score); }},
    {"bad_from_score", [&](const Field& g) { setScore(g, o.bad_from_score); }},
    {"temperror", [&](const Field& g) { setTemperror(g, o.temperror); }},
    {"reports", [&](const Field& g) { dmarcReports(g); }},
  });
}

void Loader::dmarcReports(const Field& f) {
  DmarcReportOptions r = config_.dmarc.reports;
  r.where = SourceLoc{file_, f.key_line != 0 ? f.key_line : f.line};
  bool ok = true;
  // A text that goes into the report as is: non-empty, one line (it is also an XML text
  // and, for email, the address reports come from).
  auto text = [&](const Field& g, std::string& out) {
    std::optional<std::string> v = string(g);
    if (!v) {
      ok = false;
    } else if (v->find_first_of("\r\n") != std::string::npos) {
      error(g, "must be one line");
      ok = false;
    } else {
      out = std::move(*v);
    }
  };
  mapping(f, {
    {"enabled", [&](const Field& g) { setBool(g, r.enabled); }},
    {"store",
     [&](const Field& g) {
       std::optional<std::string> v = string(g);
       if (!v) {
         ok = false;
       } else if (v->starts_with("redis")) {
         // Syntax only: whether Redis answers is Snapshot::build's question (configtest,
         // start), as whether the SQLite file opens.
         if (Result<report::RedisAddress> a = report::parseRedisUrl(*v); !a) {
           error(g, a.error().message);
           ok = false;
         } else {
           r.store = std::move(*v);
         }
       } else if (!v->starts_with("sqlite:")) {
         error(g, "expected sqlite:/ABSOLUTE/PATH, redis://HOST[:PORT][/DB] or "
                  "redis+unix:///SOCKET[?db=N]");
         ok = false;
       } else if (v->size() < 8 || (*v)[7] != '/' || v->back() == '/') {
         error(g, "sqlite: needs an absolute file path (sqlite:/var/lib/mailwarden/dmarc.sqlite)");
         ok = false;
       } else {
         r.store = std::move(*v);
       }
     }},
    {"org_name", [&](const Field& g) { text(g, r.org_name); }},
    {"email",
     [&](const Field& g) {
       text(g, r.email);
       const std::size_t at = r.email.rfind('@');
       if (!r.email.empty() && (at == 0 || at == std::string::npos || at + 1 == r.email.size())) {
         error(g, "expected an email address (local@domain)");
         ok = false;
       }
     }},
    {"extra_contact_info", [&](const Field& g) { text(g, r.extra_contact_info); }},
    {"exclude_domains",
     [&](const Field& g) {
       auto elements = list(g);
       if (!elements) {
         ok = false;
         return;
       }
       std::vector<std::string> values;
       for (const Field& e : *elements) {
         std::optional<std::string> v = string(e);
         if (!v) {
           ok = false;
         } else if (Problem p = detail::checkDomainName(*v, true)) {
           error(e, *p);
           ok = false;
         } else {
           values.push_back(ascii::lower(*v));
         }
       }
       r.exclude_domains = std::move(values);
     }},
    // RFC 9990 §2.1: a receiver may cap its reports; at least what one record needs.
    {"max_report_bytes", [&](const Field& g) { setInt(g, r.max_report_bytes, 4096, 1LL << 30); }},
  });
  if (!f.value.IsMap() && !f.value.IsNull()) {
    return;  // mapping() said so
  }
  if (r.enabled) {
    for (const auto& [value, key] : {std::pair<const std::string&, const char*>{r.org_name, "org_name"},
                                     {r.email, "email"}}) {
      if (value.empty()) {
        // At the `reports:` line (f.line is its first key's, which may be any key).
        error(r.where.line, f.path + ": missing " + key +
                                " (reports need org_name and email: RFC 9990 report_metadata)");
        ok = false;
      }
    }
  }
  if (ok) {
    config_.dmarc.reports = std::move(r);
  }
}

// A domain as the operator writes it, in A-labels and lower case: ASCII names as
// checkDomainName() takes them, a name with U-labels through dns::toALabels() (the
// conversion every check uses, RFC 8616), so "bücher.example" is xn--bcher-kva.example.
std::optional<std::string> Loader::domain(const Field& f) {
  std::optional<std::string> s = string(f);
  if (!s) {
    return std::nullopt;
  }
  if (dns::hasNonAscii(*s)) {
    tl::expected<std::string, std::string> a = dns::toALabels(*s);
    if (!a) {
      error(f, "not a valid internationalized domain name: " + a.error());
      return std::nullopt;
    }
    *s = std::move(*a);
  }
  if (Problem p = detail::checkDomainName(*s, false)) {
    error(f, *p);
    return std::nullopt;
  }
  return ascii::lower(*s);
}

// arc: verification, trusted sealers, the scores; seal is only read as text here.
void Loader::arc(const Field& f) {
  ArcOptions& o = config_.arc;
  mapping(f, {
    {"enabled", [&](const Field& g) { setBool(g, o.enabled); }},
    {"trusted_sealers",
     [&](const Field& g) {
       auto elements = list(g);
       if (!elements) {
         return;
       }
       std::vector<std::string> values;
       bool ok = true;
       for (const Field& e : *elements) {
         if (std::optional<std::string> d = domain(e)) {
           values.push_back(std::move(*d));
         } else {
           ok = false;
         }
       }
       if (ok) {
         o.trusted_sealers = std::move(values);
       }
     }},
    {"trusted_zone",
     [&](const Field& g) {
       if (g.value.IsNull()) {
         o.trusted_zone.clear();  // "trusted_zone:" with nothing: none
       } else if (std::optional<std::string> d = domain(g)) {
         o.trusted_zone = std::move(*d);
       }
     }},
    {"seal",
     [&](const Field& g) {
       if (g.value.IsNull()) {
         return;  // an empty section: no sealing
       }
       ArcSealOptions seal;
       seal.where = SourceLoc{file_, g.key_line != 0 ? g.key_line : g.line};
       bool has_domain = false, has_selector = false, has_key = false, ok = true;
       mapping(g, {
         {"domain",
          [&](const Field& h) {
            has_domain = true;
            if (auto d = domain(h)) {
              seal.domain = std::move(*d);
            } else {
              ok = false;
            }
          }},
         {"selector",
          [&](const Field& h) {
            has_selector = true;
            // RFC 6376 §3.1: a selector is a sub-domain (dot-separated labels).
            if (auto v = checked(h, [](std::string_view t) { return detail::checkDomainName(t, false); })) {
              seal.selector = ascii::lower(*v);
            } else {
              ok = false;
            }
          }},
         {"key_file",
          [&](const Field& h) {
            has_key = true;
            if (auto v = path(h)) {
              seal.key_file = std::move(*v);
            } else {
              ok = false;
            }
          }},
       });
       if (!g.value.IsMap()) {
         return;  // mapping() said so
       }
       for (const auto& [given, key] : {std::pair{has_domain, "domain"},
                                        {has_selector, "selector"}, {has_key, "key_file"}}) {
         if (!given) {
           error(g, std::string("missing ") + key + " (seal needs domain, selector and key_file)");
           ok = false;
         }
       }
       if (ok) {
         o.seal = std::move(seal);
       }
     }},
    {"pass_score", [&](const Field& g) { setScore(g, o.pass_score); }},
    {"fail_score", [&](const Field& g) { setScore(g, o.fail_score); }},
    {"trusted_score", [&](const Field& g) { setScore(g, o.trusted_score); }},
  });
}

// reputation: the DNS lists and iprev. Each value is checked here at its line; what
// spans fields (symbols unique across lists, codes xor bits, reply only with reject or
// tempfail, ...) is reputation::validate()'s, run once the section is read, for the lists
// that had no error of their own (a list with a bad code would otherwise also be told
// it has no codes).
void Loader::reputationSection(const Field& f) {
  reputation::Options& o = config_.reputation;
  std::vector<int> dirty_lines;  // the lines of lists (and their classes) with errors
  mapping(f, {
    {"max_url_hosts",
     [&](const Field& g) { setInt(g, o.max_url_hosts, 0, reputation::kMaxUrlHosts); }},
    {"lists",
     [&](const Field& g) {
       auto elements = list(g);
       if (!elements) {
         return;
       }
       o.lists.clear();
       for (const Field& e : *elements) {
         const std::size_t errors_before = errors_.size();
         reputation::ListOptions l;
         reputationList(e, l);
         if (errors_.size() != errors_before) {
           dirty_lines.push_back(l.where.line);
           for (const reputation::AnswerClass& c : l.answers) {
             dirty_lines.push_back(c.where.line);
           }
         }
         o.lists.push_back(std::move(l));
       }
     }},
    {"iprev",
     [&](const Field& g) {
       IprevOptions& i = config_.iprev;
       mapping(g, {
         {"enabled", [&](const Field& h) { setBool(h, i.enabled); }},
         {"pass_score", [&](const Field& h) { setScore(h, i.pass_score); }},
         {"fail_score", [&](const Field& h) { setScore(h, i.fail_score); }},
         {"permerror_score", [&](const Field& h) { setScore(h, i.permerror_score); }},
         {"temperror", [&](const Field& h) { setTemperror(h, i.temperror); }},
       });
     }},
  });
  for (Error& e : reputation::validate(o)) {
    const int line = e.where ? e.where->line : f.line;
    if (std::find(dirty_lines.begin(), dirty_lines.end(), line) == dirty_lines.end()) {
      if (!e.where) {
        e.where = SourceLoc{file_, line};
      }
      errors_.emplace_back(line, std::move(e));
    }
  }
}

void Loader::reputationList(const Field& f, reputation::ListOptions& out) {
  out.where = SourceLoc{file_, f.line};
  if (!f.value.IsMap()) {
    error(f, "expected a mapping (zone:, lookup:, answers:, ...)");
    return;
  }
  mapping(f, {
    {"zone",
     [&](const Field& g) {
       if (auto v = string(g)) {
         out.zone = ascii::lower(*v);
       }
     }},
    {"lookup",
     [&](const Field& g) {
       // A list of kinds; one word alone is a list of one.
       std::vector<Field> kinds;
       if (g.value.IsScalar()) {
         kinds.push_back(g);
       } else if (auto elements = list(g)) {
         kinds = std::move(*elements);
       }
       for (const Field& k : kinds) {
         if (auto v = word(k, {"client_ip", "helo", "mail_from", "from", "dkim", "url"})) {
           using reputation::Key;
           out.lookups.push_back(*v == "client_ip"   ? Key::ClientIp
                                 : *v == "helo"      ? Key::Helo
                                 : *v == "mail_from" ? Key::MailFrom
                                 : *v == "from"      ? Key::From
                                 : *v == "dkim"      ? Key::Dkim
                                                     : Key::Url);
         }
       }
     }},
    {"hash",
     [&](const Field& g) {
       if (auto v = word(g, {"none", "md5", "sha1", "sha256"})) {
         using reputation::Hash;
         out.hash = *v == "md5"      ? Hash::Md5
                    : *v == "sha1"   ? Hash::Sha1
                    : *v == "sha256" ? Hash::Sha256
                                     : Hash::None;
       }
     }},
    {"pause", [&](const Field& g) { setInt(g, out.pause_seconds, 0, reputation::kMaxPauseSeconds); }},
    {"answers",
     [&](const Field& g) {
       auto elements = list(g);
       if (!elements) {
         return;
       }
       for (const Field& e : *elements) {
         reputation::AnswerClass c;
         answerClass(e, c);
         out.answers.push_back(std::move(c));
       }
     }},
  });
}

void Loader::answerClass(const Field& f, reputation::AnswerClass& out) {
  out.where = SourceLoc{file_, f.line};
  if (!f.value.IsMap()) {
    error(f, "expected a mapping (codes: or bits:, symbol:, score:, ...)");
    return;
  }
  mapping(f, {
    {"codes",
     [&](const Field& g) {
       auto elements = list(g);
       if (!elements) {
         return;
       }
       for (const Field& e : *elements) {
         if (auto text = string(e)) {
           if (auto code = reputation::parseCode(*text)) {
             out.codes.push_back(std::move(*code));
           } else {
             error(e, code.error());
           }
         }
       }
     }},
    {"bits",
     [&](const Field& g) {
       // Decimal or 0x hex, as list operators document their masks.
       static constexpr std::string_view kExpected = "expected a mask between 1 and 255 (decimal or 0x hex)";
       if (!g.value.IsScalar() || !isPlain(g.value)) {
         error(g, kExpected);
         return;
       }
       const std::string& s = g.value.Scalar();
       unsigned v = 0;
       const bool hex = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
       const std::string_view digits = std::string_view(s).substr(hex ? 2 : 0);
       bool ok = !digits.empty() && digits.size() <= 4;
       for (char c : digits) {
         const int d = ascii::isDigit(c)                        ? c - '0'
                       : hex && c >= 'a' && c <= 'f'            ? c - 'a' + 10
                       : hex && c >= 'A' && c <= 'F'            ? c - 'A' + 10
                                                                : -1;
         ok = ok && d >= 0;
         v = v * (hex ? 16 : 10) + static_cast<unsigned>(d < 0 ? 0 : d);
       }
       if (!ok || v < 1 || v > 255) {
         error(g, kExpected);
         return;
       }
       out.bits = static_cast<std::uint8_t>(v);
     }},
    {"symbol",
     [&](const Field& g) {
       if (auto v = string(g)) {
         out.symbol = *v;
       }
     }},
    {"score", [&](const Field& g) { setScore(g, out.score); }},
    {"action",
     [&](const Field& g) {
       if (auto v = word(g, {"tag", "quarantine", "tempfail", "reject"})) {
         using reputation::Action;
         out.action = *v == "tag"          ? Action::Tag
                      : *v == "quarantine" ? Action::Quarantine
                      : *v == "tempfail"   ? Action::TempFail
                                           : Action::Reject;
       }
     }},
    {"reply",
     [&](const Field& g) {
       if (auto v = checked(g, [](std::string_view t) { return detail::checkReplyText(t, 400); })) {
         out.reply = *v;
       }
     }},
  });
}

void Loader::milter(const Field& f) {
  MilterOptions& m = config_.milter;
  auto account = [&](const Field& g, std::string& out) {
    if (auto v = checked(g, detail::checkAccountName)) {
      out = *v;
    }
  };
  mapping(f, {
    {"socket",
     [&](const Field& g) {
       if (auto v = checked(g, detail::checkSocket)) {
         m.socket = *v;
       }
     }},
    {"user", [&](const Field& g) { account(g, m.user); }},
    {"group", [&](const Field& g) { account(g, m.group); }},
    {"socket_mode",
     [&](const Field& g) {
       // Octal like chmod, whether written 0660, 660 or "0660" (YAML 1.2 would read a
       // plain 0660 as decimal 660; nobody means that for a mode).
       unsigned mode = 0;
       if (!g.value.IsScalar() || !detail::parseOctalMode(g.value.Scalar(), mode)) {
         error(g, "expected an octal file mode between 0000 and 0777, such as \"0660\"");
         return;
       }
       m.socket_mode = mode;
     }},
    {"timeout", [&](const Field& g) { setInt(g, m.timeout_seconds, 1, 86400); }},
    {"backlog", [&](const Field& g) { setInt(g, m.backlog, 1, 65535); }},
    {"drain_timeout", [&](const Field& g) { setInt(g, m.drain_seconds, 0, 3600); }},
  });
}

void Loader::thresholds(const Field& f) {
  verdict::Policy& p = config_.policy;
  auto threshold = [&](const Field& g, double& out, int& line) {
    if (auto v = number(g)) {
      if (*v < -1e6 || *v > 1e6) {
        error(g, "must be between -1000000 and 1000000");
        return;
      }
      out = *v;
      line = g.line;
    }
  };
  mapping(f, {
    {"tag", [&](const Field& g) { threshold(g, p.tag_threshold, tag_line_); }},
    {"quarantine",
     [&](const Field& g) { threshold(g, p.quarantine_threshold, quarantine_line_); }},
    {"reject", [&](const Field& g) { threshold(g, p.reject_threshold, reject_line_); }},
  });
}

void Loader::reply(const Field& f, verdict::SmtpReply& out, long long lo, long long hi) {
  int code_line = 0;
  int enhanced_line = 0;
  std::string enhanced_path;
  mapping(f, {
    {"code",
     [&](const Field& g) {
       if (auto v = integer(g, lo, hi)) {
         out.code = static_cast<int>(*v);
         code_line = g.line;
       }
     }},
    {"enhanced",
     [&](const Field& g) {
       if (auto v = checked(g, detail::checkEnhancedCode)) {
         out.enhanced = *v;
         enhanced_line = g.line;
         enhanced_path = g.path;
       }
     }},
    {"text",
     [&](const Field& g) {
       // RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with code and CRLF.
       if (auto v = checked(g, [](std::string_view t) { return detail::checkReplyText(t, 400); })) {
         out.text = *v;
       }
     }},
  });
  // RFC 3463 §2: the class of the enhanced code repeats the first digit of the reply.
  if ((code_line != 0 || enhanced_line != 0) && out.enhanced[0] - '0' != out.code / 100) {
    const bool at_enhanced = enhanced_line != 0;
    error(at_enhanced ? enhanced_line : code_line,
          (at_enhanced ? enhanced_path : f.path + ".code") + ": class " + out.enhanced.substr(0, 1) +
              " of enhanced code " + out.enhanced + " does not match reply code " +
              std::to_string(out.code));
  }
}

void Loader::limits(const Field& f) {
  message::Limits& l = config_.limits;
  mapping(f, {
    {"header_bytes", [&](const Field& g) { setInt(g, l.max_header_bytes, 1024, 64LL << 20); }},
    {"headers", [&](const Field& g) { setInt(g, l.max_headers, 10, 100000); }},
    // RFC 5322 §2.1.1: 998 characters is the line limit every MTA must accept.
    {"line_length", [&](const Field& g) { setInt(g, l.max_line_length, 998, 16LL << 20); }},
    {"mime_depth", [&](const Field& g) { setInt(g, l.max_mime_depth, 1, 128); }},
    {"mime_parts", [&](const Field& g) { setInt(g, l.max_mime_parts, 1, 100000); }},
    {"decoded_bytes",
     [&](const Field& g) { setInt(g, l.max_decoded_bytes, 1024, 1LL << 30); }},
  });
}

void Loader::log(const Field& f) {
  LogOptions& o = config_.log;
  mapping(f, {
    {"level",
     [&](const Field& g) {
       if (auto v = word(g, {"debug", "info", "warn", "error"})) {
         static_cast<void>(obs::parseLevel(*v, o.level));  // every listed word parses
       }
     }},
    {"target",
     [&](const Field& g) {
       if (auto v = word(g, {"syslog", "stderr"})) {
         o.sink = *v == "stderr" ? obs::Sink::Stderr : obs::Sink::Syslog;
       }
     }},
    {"facility",
     [&](const Field& g) {
       if (auto v = word(g, {"mail", "daemon", "user", "local0", "local1", "local2", "local3",
                             "local4", "local5", "local6", "local7"})) {
         o.facility = *v;
       }
     }},
    {"format",
     [&](const Field& g) {
       if (auto v = word(g, {"text", "json"})) {
         o.format = *v == "json" ? obs::Format::Json : obs::Format::Text;
       }
     }},
  });
}

void Loader::dns(const Field& f) {
  DnsOptions& d = config_.dns;
  mapping(f, {
    {"resolvers",
     [&](const Field& g) {
       auto elements = list(g);
       if (!elements) {
         return;
       }
       std::vector<std::string> out;
       for (const Field& e : *elements) {
         if (auto v = checked(e, detail::checkResolver)) {
           out.push_back(*v);
         }
       }
       if (out.size() == elements->size()) {
         d.resolvers = std::move(out);
       }
     }},
    {"zone_files",
     [&](const Field& g) {
       if (auto v = checkedPaths(g, &Loader::unreadable)) {
         d.zone_files = std::move(*v);
       }
     }},
    {"timeout_ms",
     [&](const Field& g) {
       if (auto v = integer(g, 1, 30000)) {
         d.timeout_ms = static_cast<int>(*v);
         timeout_ms_line_ = g.line;
       }
     }},
    {"retries", [&](const Field& g) { setInt(g, d.retries, 0, 5); }},
    {"forward_special_zones",
     [&](const Field& g) {
       auto elements = list(g);
       if (!elements) {
         return;
       }
       std::vector<std::string> out;
       for (const Field& e : *elements) {
         std::optional<std::string> zone = string(e);
         if (!zone) {
           continue;
         }
         std::string name = ascii::lower(*zone);
         if (name.size() > 1 && name.back() == '.') {
           name.pop_back();
         }
         if (!dns::isQueryableName(name)) {
           error(e, "not a DNS zone name: \"" + *zone + "\"");
           continue;
         }
         out.push_back(std::move(name));
       }
       if (out.size() == elements->size()) {
         d.forward_special_zones = std::move(out);
       }
     }},
    // Postfix's milter_command_timeout is 30 s: the whole budget must end before it.
    {"budget_ms",
     [&](const Field& g) {
       if (auto v = integer(g, 1, 29999)) {
         d.budget_ms = static_cast<int>(*v);
         budget_ms_line_ = g.line;
       }
     }},
    {"dnssec",
     [&](const Field& g) {
       if (auto v = boolean(g)) {
         d.dnssec = *v;
         dnssec_line_ = g.line;
       }
     }},
    {"trust_anchor",
     [&](const Field& g) {
       if (auto v = path(g)) {
         d.trust_anchor = *v;
         trust_anchor_line_ = g.line;
       }
     }},
  });
}

// metrics: (issue 19). An empty listen ("" or null) is the same as none: off.
void Loader::metrics(const Field& f) {
  MetricsOptions& m = config_.metrics;
  mapping(f, {
    {"listen",
     [&](const Field& g) {
       if (g.value.IsNull()) {
         return;
       }
       auto text = string(g);
       if (!text || text->empty()) {
         return;
       }
       std::string address;
       int port = 0;
       if (Problem why = detail::checkListen(*text, address, port)) {
         error(g, *why);
         return;
       }
       m = MetricsOptions{*text, address, port};
     }},
  });
}

void Loader::bypass(const Field& f) {
  BypassOptions& o = config_.bypass;
  mapping(f, {
    {"trusted_networks",
     [&](const Field& g) {
       auto elements = list(g);
       if (!elements) {
         return;
       }
       BypassOptions parsed;
       bool ok = true;
       for (const Field& e : *elements) {
         std::optional<std::string> v = string(e);
         if (!v) {
           ok = false;
           continue;
         }
         // checkNetwork's sentence for a bad entry; net::parseNetwork is what matches.
         if (Problem p = detail::checkNetwork(*v)) {
           error(e, *p);
           ok = false;
           continue;
         }
         std::optional<net::Network> n = net::parseNetwork(*v);
         if (!n) {
           error(e, "'" + shown(*v) + "' is not ADDRESS or ADDRESS/PREFIX");
           ok = false;
           continue;
         }
         parsed.trusted_networks.push_back(*v);
         parsed.networks.push_back(*n);
       }
       if (ok) {
         o.trusted_networks = std::move(parsed.trusted_networks);
         o.networks = std::move(parsed.networks);
       }
     }},
    {"authenticated",
     [&](const Field& g) {
       if (auto v = word(g, {"skip", "score", "check"})) {
         o.authenticated = *v == "skip"    ? AuthenticatedMode::Skip
                           : *v == "score" ? AuthenticatedMode::Score
                                           : AuthenticatedMode::Check;
       }
     }},
    {"skip",
     [&](const Field& g) {
       auto elements = list(g);
       if (!elements) {
         return;
       }
       bool seen[4] = {false, false, false, false};
       bool ok = true;
       for (const Field& e : *elements) {
         std::optional<std::string> v = word(e, {"spf", "iprev", "lists", "dmarc"});
         if (!v) {
           ok = false;
           continue;
         }
         const verdict::BypassCheck c = *v == "spf"     ? verdict::BypassCheck::Spf
                                        : *v == "iprev" ? verdict::BypassCheck::Iprev
                                        : *v == "lists" ? verdict::BypassCheck::Lists
                                                        : verdict::BypassCheck::Dmarc;
         bool& was = seen[static_cast<std::size_t>(c)];
         if (was) {
           error(e, "'" + *v + "' is listed twice");
           ok = false;
         }
         was = true;
       }
       if (ok) {
         o.skip.clear();
         for (std::size_t i = 0; i < 4; ++i) {
           if (seen[i]) {
             o.skip.push_back(static_cast<verdict::BypassCheck>(i));
           }
         }
       }
     }},
  });
}

void Loader::crossChecks() {
  if (!rule_dirs_given_) {
    // The default folder, not named in the file: the error has no line of its own.
    for (const std::string& dir : config_.rule_dirs) {
      if (Problem why = noRules(dir)) {
        error(0, "rules.directories (default): " + *why);
      }
    }
  }
  const verdict::Policy& p = config_.policy;
  // Thresholds ascend: the error goes to the later of the two lines that are in the file
  // (the one the operator most likely just changed).
  auto ascending = [&](double low, int low_line, std::string_view low_name, double high,
                       int high_line, std::string_view high_name) {
    if (low <= high || (low_line == 0 && high_line == 0)) {
      return;
    }
    const bool at_high = high_line >= low_line;
    const std::string what = "thresholds must ascend (tag <= quarantine <= reject), but " +
                             std::string(low_name) + " is " + fmt::format("{}", low) +
                             " and " + std::string(high_name) + " is " +
                             fmt::format("{}", high);
    error(at_high ? high_line : low_line,
          "thresholds." + std::string(at_high ? high_name : low_name) + ": " + what);
  };
  ascending(p.tag_threshold, tag_line_, "tag", p.quarantine_threshold, quarantine_line_,
            "quarantine");
  ascending(p.quarantine_threshold, quarantine_line_, "quarantine", p.reject_threshold,
            reject_line_, "reject");

  const DnsOptions& d = config_.dns;
  if (d.budget_ms < d.timeout_ms && (budget_ms_line_ != 0 || timeout_ms_line_ != 0)) {
    const bool at_budget = budget_ms_line_ >= timeout_ms_line_;
    error(at_budget ? budget_ms_line_ : timeout_ms_line_,
          std::string(at_budget ? "dns.budget_ms" : "dns.timeout_ms") +
              ": the per-message budget_ms (" + std::to_string(d.budget_ms) +
              ") must not be less than one query's timeout_ms (" + std::to_string(d.timeout_ms) +
              ")");
  }
  if (d.dnssec && dnssec_line_ != 0) {
    if (Problem why = unreadable(d.trust_anchor)) {
      const bool at_anchor = trust_anchor_line_ != 0;
      error(at_anchor ? trust_anchor_line_ : dnssec_line_,
            std::string(at_anchor ? "dns.trust_anchor" : "dns.dnssec") + ": " + *why +
                " (dns.dnssec is true)");
    }
  }
}

// DocumentProbe - records whether one YAML document has content, and where it starts.
class DocumentProbe final : public YAML::EventHandler {
 public:
  bool onlyNull() const noexcept { return only_null_; }
  const YAML::Mark& first() const noexcept { return first_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { note(mark, true); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { note(mark, false); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    note(mark, false);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    note(mark, false);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    note(mark, false);
  }
  void OnMapEnd() override {}

 private:
  void note(const YAML::Mark& mark, bool is_null) {
    if (!seen_) {
      first_ = mark;
      seen_ = true;
    }
    only_null_ = only_null_ && is_null;
  }
  bool seen_ = false;
  bool only_null_ = true;
  YAML::Mark first_ = YAML::Mark::null_mark();
};

// Parses every document of `text` once, without building nodes, and returns the line of
// a second document that has content (0: none). Throws YAML::ParserException on a syntax
// error anywhere in the stream.
//
// This replaces YAML::LoadAll, which loops forever in yaml-cpp 0.7 on a token no node can
// start with (a ',' outside [ ] or { }): the parser then reports an empty document
// without consuming the token, again and again, and LoadAll keeps collecting them until
// memory runs out (jbeder/yaml-cpp#1040, fixed upstream after 0.7 by PR #1319). Here two
// empty documents in a row at the same position mean the parser is stuck: a syntax error.
int probeDocuments(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  std::optional<int> last_empty_pos;
  for (int documents = 1;; ++documents) {
    DocumentProbe probe;
    if (!parser.HandleNextDocument(probe)) {
      return 0;
    }
    const YAML::Mark& at = probe.first();
    if (probe.onlyNull()) {
      if (last_empty_pos && *last_empty_pos == at.pos) {
        const auto pos = static_cast<std::size_t>(at.pos);
        const std::string what = pos < text.size() && text[pos] >= 0x21 && text[pos] <= 0x7e
                                     ? "unexpected '" + std::string(1, text[pos]) + "'"
                                     : std::string("unexpected token");
        throw YAML::ParserException(at, what);
      }
      last_empty_pos = at.pos;
      continue;  // an empty document ("---" alone) is harmless
    }
    last_empty_pos.reset();
    if (documents > 1) {
      return at.line >= 0 ? at.line + 1 : 0;
    }
  }
}

std::string hostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) {
    return "localhost";
  }
  std::string name(buf);
  return detail::checkAuthservId(name) ? "localhost" : name;
}

// The folder relative paths in `file` are taken against, made absolute so a later chdir
// (the daemon goes to /) does not change what they mean.
fs::path baseDirOf(const std::string& file) {
  std::error_code ec;
  fs::path dir = fs::path(file).parent_path();
  fs::path abs = fs::absolute(dir.empty() ? fs::path(".") : dir, ec);
  if (ec) {
    return dir;
  }
  return abs.lexically_normal();
}

}  // namespace
}  // namespace mw::config

// Defined with qualified names (STYLE.md 1.5): a signature that drifts from config.h
// fails to compile instead of failing to link.
mw::config::Config mw::config::defaults() {
  Config c;
  c.policy.authserv_id = hostName();
  return c;
}

mw::config::LoadResult mw::config::loadString(std::string_view yaml, const std::string& file) {
  LoadResult result;
  result.config = defaults();
  result.config.path = file;
  if (yaml.size() > kMaxFileBytes) {
    result.errors.push_back(Error::at(SourceLoc{file, 0}, Errc::Invalid,
                                      "file too large (over " + std::to_string(kMaxFileBytes) +
                                          " bytes)"));
    return result;
  }
  const std::string text(yaml);
  YAML::Node root;
  int extra_document_line = 0;
  try {
    extra_document_line = probeDocuments(text);
    root = YAML::Load(text);  // the first document only
  } catch (const YAML::Exception& e) {
    // yaml-cpp 0.7 stops nesting at 500 levels with DeepRecursion, whose message is the
    // unhelpful "bad file": say what happened instead.
    const bool too_deep = dynamic_cast<const YAML::DeepRecursion*>(&e) != nullptr;
    const int line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    result.errors.push_back(Error::at(
        SourceLoc{file, line}, Errc::Invalid,
        "YAML syntax error: " + (too_deep ? std::string("nested too deeply") : e.msg)));
    return result;
  }
  Loader loader(result.config, file, baseDirOf(file));
  try {
    if (extra_document_line != 0) {
      loader.error(extra_document_line, "only one YAML document is allowed (found another)");
    }
    loader.document(root);
  } catch (const YAML::Exception& e) {
    // Not expected: every accessor used above is valid for the node types checked.
    const int line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    loader.error(line, std::string("internal error reading the YAML tree: ") + e.msg);
  }
  result.errors = loader.takeErrors();
  return result;
}

mw::config::LoadResult mw::config::loadFile(const std::string& path) {
  auto cannotRead = [&](int err) {
    LoadResult r;
    r.config = defaults();
    r.config.path = path;
    r.errors.push_back(Error::at(SourceLoc{path, 0}, Errc::Invalid,
                                 std::string("cannot read: ") + std::strerror(err)));
    return r;
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return cannotRead(errno);
  }
  std::string text;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int err = errno;
      ::close(fd);
      return cannotRead(err);
    }
    if (n == 0) {
      break;
    }
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxFileBytes) {
      break;  // loadString reports it
    }
  }
  ::close(fd);
  return loadString(text, path);
}
