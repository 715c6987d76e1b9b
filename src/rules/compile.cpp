// rules/compile.cpp — per-scope Hyperscan databases (streaming, or block for per-item
// scopes), the on-disk cache of serialized databases (hs_serialize_database), and the
// scratch pool.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config.h"  // MW_HS_FLAVOUR (configure)
#include "internal.h"
#include "mailwarden/base/fd.h"
#include "mailwarden/obs/log.h"

namespace mw::rules {
namespace {

constexpr char kMagic[8] = {'M', 'W', 'H', 'S', 'D', 'B', '1', '\n'};
constexpr std::size_t kMaxCacheFile = 512u * 1024 * 1024;

struct Pattern {
  int rule;
  std::string text;
  unsigned flags;
};

// What makes a database what it is: the Hyperscan version, the platform it was built
// for, the mode and every (flags, pattern) in id order. The cache file carries this
// text in full and is used only when it is identical, so a hash collision cannot make
// us load another rule set's database.
std::string cacheKey(Scope scope, const std::vector<Pattern>& patterns) {
  hs_platform_info_t plat{};
  hs_populate_platform(&plat);
  std::string key = "hyperscan=" + std::string(hs_version()) + "\nflavour=" MW_HS_FLAVOUR "\ntune=" +
                    std::to_string(plat.tune) + "\ncpu_features=" + std::to_string(plat.cpu_features) +
                    "\nmode=" + (isPerItem(scope) ? "block" : "stream") +
                    "\nscope=" + std::string(toString(scope)) + "\n";
  for (const Pattern& p : patterns) {
    key += std::to_string(p.flags) + " " + std::to_string(p.text.size()) + ":" + p.text + "\n";
  }
  return key;
}

std::string hex(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

void putU64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
bool getU64(std::string_view& in, std::uint64_t& v) {
  if (in.size() < 8) return false;
  v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[static_cast<std::size_t>(i)])) << (8 * i);
  in.remove_prefix(8);
  return true;
}

std::string cachePath(const std::string& dir, Scope scope, std::uint64_t hash) {
  std::string name(toString(scope));
  for (char& c : name) if (c == ':') c = '_';
  return dir + "/rules-" + name + "-" + hex(hash) + ".hsdb";
}

// The database from a cache file when the file is exactly what we would write;
// nullptr (and a debug line saying why) otherwise.
HsDatabase readCache(const std::string& path, const std::string& key, bool block, bool& existed) {
  existed = false;
  auto reject = [&](const char* why) {
    obs::log(obs::Level::Warn, "", "rules", "cache file {} rejected ({}): rebuilding", path, why);
    return nullptr;
  };
  // Read as root at start-up from a folder the service user may write: never through a
  // symbolic link, only a regular file, and no more than a cache file can be.
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (fd.get() < 0) {
    if (errno == ENOENT) return nullptr;
    existed = true;
    return reject(errno == ELOOP ? "a symbolic link" : std::strerror(errno));
  }
  existed = true;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return reject("not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > kMaxCacheFile) return reject("too large");
  std::string data(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = ::read(fd.get(), data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got != data.size()) return reject("short read");
  std::string_view v(data);
  if (v.size() < sizeof kMagic || std::memcmp(v.data(), kMagic, sizeof kMagic) != 0) return reject("not a mailwarden cache file");
  v.remove_prefix(sizeof kMagic);
  std::uint64_t key_hash = 0, key_len = 0, db_len = 0, db_sum = 0;
  if (!getU64(v, key_hash) || !getU64(v, key_len) || key_len > v.size()) return reject("truncated");
  const std::string_view file_key = v.substr(0, key_len);
  v.remove_prefix(key_len);
  if (key_hash != fnv1a(key) || file_key != key) return reject("built from other rules or another Hyperscan/CPU");
  if (!getU64(v, db_len) || !getU64(v, db_sum) || db_len != v.size()) return reject("truncated");
  if (fnv1a(v) != db_sum) return reject("checksum mismatch");
  char* info = nullptr;
  if (hs_serialized_database_info(v.data(), v.size(), &info) != HS_SUCCESS) return reject("Hyperscan does not recognise it");
  // The key names the mode too; this guards against a file whose key was forged or
  // whose database does not match its key.
  const bool right_mode = info != nullptr && std::strstr(info, block ? "BLOCK" : "STREAM") != nullptr;
  std::free(info);  // hs_serialized_database_info allocates with the misc allocator (malloc)
  if (!right_mode) return reject(block ? "not a block-mode database" : "not a streaming database");
  hs_database_t* db = nullptr;
  if (hs_deserialize_database(v.data(), v.size(), &db) != HS_SUCCESS) return reject("Hyperscan refused to load it");
  return HsDatabase(db);
}

void writeCache(const std::string& dir, const std::string& path, const std::string& key, const hs_database_t* db) {
  char* bytes = nullptr;
  std::size_t len = 0;
  if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS) {
    obs::log(obs::Level::Warn, "", "rules", "cannot serialize a database for {}", path);
    return;
  }
  std::string out(kMagic, sizeof kMagic);
  putU64(out, fnv1a(key));
  putU64(out, key.size());
  out += key;
  putU64(out, len);
  putU64(out, fnv1a(std::string_view(bytes, len)));
  out.append(bytes, len);
  std::free(bytes);
  // Write aside and rename: a reader never sees half a file (rename is atomic in a folder).
  const std::string tmp = dir + "/.rules-" + std::to_string(::getpid()) + "-" + hex(fnv1a(path)) + ".tmp";
  // O_EXCL|O_NOFOLLOW: the name is predictable and this may run as root in a folder the
  // service user can write; a file (or link) already there is removed, never followed.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EEXIST && ::unlink(tmp.c_str()) == 0) {
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  }
  if (fd < 0) {
    obs::log(obs::Level::Warn, "", "rules", "cannot write rule cache {}: {}", tmp, std::strerror(errno));
    return;
  }
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::write(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  const bool ok = done == out.size() && ::close(fd) == 0;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    obs::log(obs::Level::Warn, "", "rules", "cannot write rule cache {}: {}", path, std::strerror(errno));
    ::unlink(tmp.c_str());
  }
}

std::string compileErrorText(const hs_compile_error_t* e) {
  return e != nullptr && e->message != nullptr ? std::string(e->message) : std::string("unknown error");
}

}  // namespace

void compileScopes(RuleSet::Impl& impl, const std::string& cache_dir, std::vector<Error>& errors, LoadStats& stats) {
  const bool build = errors.empty();  // else only report bad patterns (configtest shows all)
  std::array<std::vector<Pattern>, kScopeCount> by_scope;
  for (std::size_t i = 0; i < impl.rules.size(); ++i) {
    const Rule& r = impl.rules[i];
    if (r.composite) continue;
    // Every rule only needs to know whether it hit: one match per stream is enough and
    // lets Hyperscan stop tracking the pattern (hs_compile.h, HS_FLAG_SINGLEMATCH).
    const unsigned flags = r.flags | HS_FLAG_SINGLEMATCH;
    // Check each pattern alone first so every bad pattern is reported, with its reason.
    hs_expr_info_t* info = nullptr;
    hs_compile_error_t* raw_err = nullptr;
    if (hs_expression_info(r.pattern.c_str(), flags, &info, &raw_err) != HS_SUCCESS) {
      HsCompileError err(raw_err);
      errors.push_back(Error::at(r.where, Errc::Invalid,
                                 "rule " + r.id + ": pattern rejected by Hyperscan: " + compileErrorText(err.get())));
      continue;
    }
    std::free(info);
    by_scope[static_cast<std::size_t>(r.scope)].push_back(Pattern{static_cast<int>(i), r.pattern, flags});
  }
  if (!build || !errors.empty()) {
    return;
  }
  for (std::size_t s = 0; s < kScopeCount; ++s) {
    std::vector<Pattern>& patterns = by_scope[s];
    if (patterns.empty()) continue;
    const Scope scope = static_cast<Scope>(s);
    const bool block = isPerItem(scope);
    ScopeDb& out = impl.scopes[s];
    for (const Pattern& p : patterns) out.utf8 |= (p.flags & HS_FLAG_UTF8) != 0;

    const std::string key = cacheKey(scope, patterns);
    const std::string path = cache_dir.empty() ? std::string() : cachePath(cache_dir, scope, fnv1a(key));
    if (!path.empty()) {
      bool existed = false;
      if (HsDatabase db = readCache(path, key, block, existed)) {
        out.db = std::move(db);
        for (const Pattern& p : patterns) out.ids.push_back(p.rule);
        ++stats.databases;
        ++stats.from_cache;
        continue;
      }
    }
    // Whole-set errors (a pattern valid alone but too large with the others) name the
    // pattern; drop it, report it and try again, at most once per pattern.
    for (std::size_t attempt = 0; attempt <= patterns.size() && !patterns.empty(); ++attempt) {
      std::vector<const char*> exprs;
      std::vector<unsigned> flags;
      std::vector<unsigned> ids;
      for (std::size_t i = 0; i < patterns.size(); ++i) {
        exprs.push_back(patterns[i].text.c_str());
        flags.push_back(patterns[i].flags);
        ids.push_back(static_cast<unsigned>(i));
      }
      hs_database_t* db = nullptr;
      hs_compile_error_t* raw_err = nullptr;
      const hs_error_t rc = hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                                             static_cast<unsigned>(exprs.size()), block ? HS_MODE_BLOCK : HS_MODE_STREAM,
                                             nullptr, &db, &raw_err);
      HsCompileError err(raw_err);
      if (rc == HS_SUCCESS) {
        out.db.reset(db);
        for (const Pattern& p : patterns) out.ids.push_back(p.rule);
        ++stats.databases;
        if (!path.empty()) writeCache(cache_dir, path, key, db);
        break;
      }
      const int bad = err ? err->expression : -1;
      if (bad < 0 || static_cast<std::size_t>(bad) >= patterns.size()) {
        const Rule& first = impl.rules[static_cast<std::size_t>(patterns.front().rule)];
        errors.push_back(Error::at(first.where, Errc::Invalid,
                                   "rule " + first.id + ": scope " + std::string(toString(scope)) +
                                       ": Hyperscan cannot compile the scope's patterns: " + compileErrorText(err.get())));
        break;
      }
      const Rule& r = impl.rules[static_cast<std::size_t>(patterns[static_cast<std::size_t>(bad)].rule)];
      errors.push_back(Error::at(r.where, Errc::Invalid, "rule " + r.id + ": pattern rejected by Hyperscan: " + compileErrorText(err.get())));
      patterns.erase(patterns.begin() + bad);
    }
  }
}

HsScratch ScratchPool::take(const std::array<ScopeDb, kScopeCount>& scopes) {
  const std::lock_guard<std::mutex> lock(mu_);
  if (!free_.empty()) {
    HsScratch s = std::move(free_.back());
    free_.pop_back();
    return s;
  }
  if (!prototype_) {
    // A failure here fails this message only: nothing is remembered, the next message
    // tries again (a transient out-of-memory must not fail every message until the next
    // SIGHUP builds a new RuleSet).
    HsScratch grown;
    for (const ScopeDb& db : scopes) {
      if (!db.db) continue;
      hs_scratch_t* raw = grown.release();
      const hs_error_t rc = hs_alloc_scratch(db.db.get(), &raw);
      grown.reset(raw);  // on failure Hyperscan leaves *raw as it was (or NULL): freed here
      if (rc != HS_SUCCESS) return nullptr;
    }
    if (!grown) return nullptr;  // no database: no scratch needed (callers never ask)
    prototype_ = std::move(grown);
  }
  hs_scratch_t* copy = nullptr;
  if (hs_clone_scratch(prototype_.get(), &copy) != HS_SUCCESS) return nullptr;
  return HsScratch(copy);
}

void ScratchPool::give(HsScratch scratch) noexcept {
  if (!scratch) return;
  try {
    const std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(std::move(scratch));
  } catch (...) {
    // push_back could not grow: the scratch is freed by its handle instead
  }
}

}  // namespace mw::rules
