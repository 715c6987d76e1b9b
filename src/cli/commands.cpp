#include "commands.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "mailwarden/arc/seal.h"
#include "mailwarden/config/config.h"
#include "mailwarden/message/reader.h"
#include "mailwarden/milter/milter.h"
#include "mailwarden/rules/rules.h"
#include "mailwarden/rules/testcases.h"
#include "mailwarden/scan/scan.h"
#include "mailwarden/scan/snapshot.h"
#include "mailwarden/scan/symbols.h"

namespace mw::cli {
namespace {

constexpr const char* kUsage =
    "usage:\n"
    "  mailwarden run [-c FILE]                 the milter, in the foreground\n"
    "  mailwarden check [-c FILE] [--dns-zone FILE]... [--client-ip IP] [--client-name NAME]\n"
    "                   [--helo NAME] [--mail-from ADDR] [--rcpt ADDR]... [--auth-user NAME]\n"
    "                   [--now UNIX_TIME] [--json] [--log] MESSAGE.eml\n"
    "                                           one message through the same pipeline;\n"
    "                                           --log: its log line on stderr\n"
    "  mailwarden configtest [-c FILE] [--dns-zone FILE]...\n"
    "                                           print every configuration error\n"
    "  mailwarden rules test [-c FILE | DIR...] run the rules' test cases\n"
    "  mailwarden lists test [-c FILE] [--dns-zone FILE]...\n"
    "                                           ask each DNS list's RFC 5782 test points\n"
    "  mailwarden dmarc-report [-c FILE] [--period YYYY-MM-DD] [--out DIR | --dry-run]\n"
    "                   [--dns-zone FILE]... [--now UNIX_TIME] [--keep-days N] [--sendmail PATH]\n"
    "                                           send the DMARC aggregate reports (RFC 9990)\n"
    "                                           of the complete UTC days not sent yet\n";

bool fileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Loads -c FILE, or the default file when it exists, or the built-in defaults (check
// only: a postmaster can try a message before writing any configuration).
std::optional<config::Config> loadConfig(const std::optional<std::string>& path,
                                         bool defaults_ok) {
  std::string file = path.value_or(config::kDefaultPath);
  if (!path && defaults_ok && !fileExists(file)) {
    return config::defaults();
  }
  config::LoadResult loaded = config::loadFile(file);
  if (!loaded.ok()) {
    for (const Error& e : loaded.errors) {
      std::fprintf(stderr, "%s\n", e.describe().c_str());
    }
    return std::nullopt;
  }
  return std::move(loaded.config);
}

double roundScore(double s) { return std::round(s * 100.0) / 100.0; }

// The JSON object of DESIGN.md's `check --json` contract.
nlohmann::ordered_json toJson(const verdict::Verdict& v) {
  nlohmann::ordered_json j;
  j["action"] = std::string(verdict::toString(v.action));
  j["score"] = roundScore(v.score);
  if (v.reply) {
    j["reply"] = {{"code", v.reply->code}, {"enhanced", v.reply->enhanced}, {"text", v.reply->text}};
  } else {
    j["reply"] = nullptr;
  }
  nlohmann::ordered_json spf = nullptr;
  nlohmann::ordered_json dkim = nlohmann::ordered_json::array();
  nlohmann::ordered_json dmarc = nullptr;
  nlohmann::ordered_json iprev = nullptr;
  nlohmann::ordered_json auth = nullptr;
  auto prop = [](const verdict::AuthResult& r, std::string_view name) -> nlohmann::ordered_json {
    for (const auto& [k, value] : r.properties) {
      if (k == name) {
        return value;
      }
    }
    return nullptr;
  };
  for (const verdict::AuthResult& r : v.auth) {
    const std::string result(verdict::toString(r.result));
    if (r.method == verdict::Method::Spf) {
      if (!spf.is_null()) {
        continue;  // the first is the MAIL FROM identity (or HELO for the null sender)
      }
      spf = {{"result", result},
             {"domain", r.domain.empty() ? nlohmann::ordered_json(nullptr)
                                         : nlohmann::ordered_json(r.domain)},
             {"explanation", r.explanation.empty() ? nlohmann::ordered_json(nullptr)
                                                   : nlohmann::ordered_json(r.explanation)}};
    } else if (r.method == verdict::Method::Dkim) {
      dkim.push_back({{"result", result}, {"domain", prop(r, "header.d")},
                      {"selector", prop(r, "header.s")}, {"algorithm", prop(r, "header.a")}});
    } else if (r.method == verdict::Method::Dmarc) {
      const nlohmann::ordered_json policy =
          r.policy ? nlohmann::ordered_json(std::string(verdict::toString(*r.policy)))
                   : nlohmann::ordered_json(nullptr);
      nlohmann::ordered_json override = nullptr;  // the published policy applied
      if (r.policy_override) {
        override = {{"type", std::string(verdict::toString(r.policy_override->type))},
                    {"comment", r.policy_override->comment}};
      }
      dmarc = {{"result", result},
               {"policy", policy},
               {"from_domain", r.domain.empty() ? nlohmann::ordered_json(nullptr)
                                                : nlohmann::ordered_json(r.domain)},
               {"override", override}};
    } else if (r.method == verdict::Method::Iprev) {
      iprev = {{"result", result}, {"name", prop(r, "policy.iprev")}};
    } else if (r.method == verdict::Method::Auth) {
      auth = {{"result", result}, {"user", prop(r, "smtp.auth")}};
    }
  }
  j["spf"] = spf;
  j["dkim"] = dkim;
  j["dmarc"] = dmarc;
  // Issue 17 (DESIGN.md's list of added fields): iprev, and one entry per list lookup
  // that answered or failed ("lookup" is what was looked up, "key" which of the
  // message's keys it was).
  j["iprev"] = iprev;
  // Issue 19: SMTP AUTH (--auth-user; null when not authenticated or bypass.authenticated
  // is check) and the bypass of our own users (null for a stranger): why, how (skip: the
  // checks did not run; score: they ran, nothing enforced), which checks, and the
  // trusted network that matched.
  j["auth"] = auth;
  nlohmann::ordered_json bypass = nullptr;
  if (v.bypass) {
    nlohmann::ordered_json checks = nlohmann::ordered_json::array();
    for (const verdict::BypassCheck c : v.bypass->checks) {
      checks.push_back(std::string(verdict::toString(c)));
    }
    bypass = {{"reason", std::string(verdict::toString(v.bypass->reason))},
              {"mode", std::string(verdict::toString(v.bypass->mode))},
              {"checks", checks},
              {"network", v.bypass->network.empty() ? nlohmann::ordered_json(nullptr)
                                                    : nlohmann::ordered_json(v.bypass->network)}};
  }
  j["bypass"] = bypass;
  // Issue 18: the ARC chain (null when ARC verification is off). oldest_pass is the
  // oldest instance whose AMS validates (1 when all do; A-R's header.oldest-pass writes
  // RFC 8617's 0 for that and is then left out), null unless the chain passes; sealers
  // are the AS d= of i=1..N; trusted: the newest sealer is trusted (arc.trusted_*).
  nlohmann::ordered_json arc = nullptr;
  if (v.arc) {
    arc = {{"result", std::string(verdict::toString(v.arc->result))},
           {"instances", v.arc->instances},
           {"oldest_pass", v.arc->oldest_pass ? nlohmann::ordered_json(*v.arc->oldest_pass)
                                              : nlohmann::ordered_json(nullptr)},
           {"sealers", v.arc->sealers},
           {"trusted", v.arc->trusted},
           {"reason", v.arc->reason.empty() ? nlohmann::ordered_json(nullptr)
                                            : nlohmann::ordered_json(v.arc->reason)}};
    // arc.seal: the ARC set we add to the delivered message (its fields are in
    // `headers`), null when not sealing or when the sealer skipped.
    arc["sealed"] = v.arc->sealed
                        ? nlohmann::ordered_json{{"instance", v.arc->sealed->instance},
                                                 {"cv", std::string(verdict::toString(
                                                            v.arc->sealed->cv))}}
                        : nlohmann::ordered_json(nullptr);
  }
  j["arc"] = arc;
  nlohmann::ordered_json lists = nlohmann::ordered_json::array();
  for (const reputation::ListHit& h : v.lists) {
    nlohmann::ordered_json symbols = nlohmann::ordered_json::array();
    for (const reputation::Listing& l : h.classes) {
      symbols.push_back(l.symbol);
    }
    lists.push_back({{"zone", h.zone},
                     {"lookup", h.lookup},
                     {"key", std::string(reputation::toString(h.key))},
                     {"query", h.query},
                     {"codes", h.codes},
                     {"result", std::string(reputation::toString(h.result))},
                     {"symbols", symbols}});
  }
  j["lists"] = lists;
  nlohmann::ordered_json rules = nlohmann::ordered_json::array();
  for (const verdict::Contribution& c : v.contributions) {
    rules.push_back({{"id", c.rule_id}, {"score", roundScore(c.score)}});
  }
  j["rules"] = rules;
  nlohmann::ordered_json headers = nlohmann::ordered_json::array();
  for (const verdict::HeaderEdit& e : v.edits) {
    if (e.kind == verdict::HeaderEdit::Kind::Remove) {
      headers.push_back({{"op", "remove"}, {"name", e.name}, {"index", e.index}});
    } else {
      headers.push_back({{"op", "prepend"}, {"name", e.name}, {"value", e.value}});
    }
  }
  j["headers"] = headers;
  return j;
}

// Human output: the header block the milter would put on top, exactly as it would
// appear in the delivered message; then a blank line and a short summary.
void printHuman(const verdict::Verdict& v) {
  for (const verdict::HeaderEdit& e : v.edits) {
    if (e.kind == verdict::HeaderEdit::Kind::Prepend) {
      std::cout << e.name << ": " << e.value << "\r\n";
    }
  }
  std::cout << "\r\n";
  std::cout << "action: " << verdict::toString(v.action) << "\n";
  std::cout << "score: " << verdict::formatScore(v.score) << "\n";
  if (v.reply) {
    std::cout << "reply: " << v.reply->code << " " << v.reply->enhanced << " " << v.reply->text
              << "\n";
  }
  for (const verdict::HeaderEdit& e : v.edits) {
    if (e.kind == verdict::HeaderEdit::Kind::Remove) {
      std::cout << "remove: " << e.name << " #" << e.index << "\n";
    }
  }
}


// configtest with arc.seal: the key is loaded (Snapshot::build: readable, RSA >= 1024
// bits or Ed25519); here, that SELECTOR._domainkey.DOMAIN publishes its public half,
// through the snapshot's resolver (the --dns-zone files, dns.zone_files, or the
// configured DNS). A missing or different record is an error at the `seal:` line (every
// seal we wrote would fail at the next hop); a DNS failure is only a warning (the DNS
// may be unreachable from where configtest runs). Returns false on an error.
bool checkPublishedSealKey(const scan::Snapshot& snap) {
  const std::optional<config::ArcSealOptions>& seal = snap.config().arc.seal;
  if (!seal || !snap.sealKey()) {
    return true;
  }
  const Result<void> r = arc::checkPublishedKey(*snap.sealKey(), seal->domain, seal->selector,
                                                snap.resolver(),
                                                dns::Budget(std::chrono::seconds(5)));
  if (r) {
    return true;
  }
  const Error e = Error::at(seal->where, r.error().code, "arc.seal: " + r.error().message);
  if (r.error().code == Errc::TempFail) {
    std::fprintf(stderr, "warning: %s\n", e.describe().c_str());
    return true;
  }
  std::fprintf(stderr, "%s\n", e.describe().c_str());
  return false;
}

}  // namespace

bool parseInt64(const std::string& text, std::int64_t& out) {
  if (text.empty()) {
    return false;
  }
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (*end != '\0' || errno != 0) {
    return false;
  }
  out = v;
  return true;
}

void printUsage(bool to_stderr) { std::fputs(kUsage, to_stderr ? stderr : stdout); }

int runCheck(const std::vector<std::string>& args) {
  std::optional<std::string> config_path;
  std::vector<std::string> zones;
  std::string client_ip;
  std::string client_name = "unknown";
  std::string helo;
  std::optional<std::string> mail_from;
  std::vector<std::string> rcpts;
  std::string auth_user;
  std::optional<std::int64_t> now;
  bool json = false;
  bool log_line = false;
  std::optional<std::string> message_path;

  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* opt) -> std::optional<std::string> {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "mailwarden check: %s needs a value\n", opt);
        return std::nullopt;
      }
      return args[++i];
    };
    std::optional<std::string> v;
    if (a == "--json") {
      json = true;
      continue;
    }
    if (a == "--log") {
      log_line = true;
      continue;
    }
    if (a == "-c" || a == "--config") {
      if (!(v = value("-c"))) return 1;
      config_path = *v;
    } else if (a == "--dns-zone") {
      if (!(v = value("--dns-zone"))) return 1;
      if (!fileExists(*v)) {
        std::fprintf(stderr, "mailwarden check: --dns-zone %s: %s\n", v->c_str(), std::strerror(ENOENT));
        return 1;
      }
      zones.push_back(*v);
    } else if (a == "--client-ip") {
      if (!(v = value("--client-ip"))) return 1;
      client_ip = *v;
    } else if (a == "--client-name") {
      if (!(v = value("--client-name"))) return 1;
      client_name = *v;
    } else if (a == "--helo") {
      if (!(v = value("--helo"))) return 1;
      helo = *v;
    } else if (a == "--mail-from") {
      if (!(v = value("--mail-from"))) return 1;
      mail_from = *v;
    } else if (a == "--rcpt") {
      if (!(v = value("--rcpt"))) return 1;
      rcpts.push_back(*v);
    } else if (a == "--auth-user") {
      // As if the MTA reported {auth_authen}: the client authenticated as NAME.
      if (!(v = value("--auth-user"))) return 1;
      auth_user = *v;
    } else if (a == "--now") {
      if (!(v = value("--now"))) return 1;
      std::int64_t t = 0;
      if (!parseInt64(*v, t)) {
        std::fprintf(stderr, "mailwarden check: --now %s: not a Unix time\n", v->c_str());
        return 1;
      }
      now = t;
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      std::fprintf(stderr, "mailwarden check: unknown option %s\n", a.c_str());
      printUsage(true);
      return 1;
    } else if (message_path) {
      std::fprintf(stderr, "mailwarden check: one message at a time\n");
      return 1;
    } else {
      message_path = a;
    }
  }
  if (!message_path) {
    std::fprintf(stderr, "mailwarden check: no message given\n");
    printUsage(true);
    return 1;
  }

  std::optional<config::Config> cfg = loadConfig(config_path, true);
  if (!cfg) {
    return 2;
  }
  cfg->log.sink = obs::Sink::Stderr;  // check talks to the terminal, never to syslog
  // Quiet by default (the verdict is on stdout); --log adds the info lines, among them
  // the message's log line exactly as the milter writes it (log.format), to stderr.
  obs::configure(cfg->log.sink, log_line ? std::min(cfg->log.level, obs::Level::Info)
                                         : std::max(cfg->log.level, obs::Level::Warn));
  for (const std::string& z : zones) {
    cfg->dns.zone_files.push_back(z);
  }
  ClockConstSharedPtr clock = now ? ClockConstSharedPtr(std::make_shared<FixedClock>(*now))
                                  : ClockConstSharedPtr(std::make_shared<SystemClock>());
  // check is a dry tool: it never writes to the DMARC report store (nor opens it), so a
  // message tried by hand is not counted in anybody's aggregate report.
  cfg->dmarc.reports.enabled = false;
  Result<scan::SnapshotConstSharedPtr> snap = scan::Snapshot::build(std::move(*cfg), clock);
  if (!snap) {
    std::fprintf(stderr, "mailwarden check: %s\n", snap.error().describe().c_str());
    return 2;
  }

  std::ifstream file;
  std::istream* in = &std::cin;
  if (*message_path != "-") {
    file.open(*message_path, std::ios::binary);
    if (!file) {
      std::fprintf(stderr, "mailwarden check: %s: %s\n", message_path->c_str(), std::strerror(errno));
      return 1;
    }
    in = &file;
  }

  scan::Scan scan(*snap);
  scan.connect(client_ip, client_name);
  scan.helo(helo);
  scan.queueId("CHECK");
  scan.authenticated(auth_user);
  scan.mailFrom(mail_from.value_or(""));
  for (const std::string& r : rcpts) {
    scan.rcpt(r);
  }
  scan::ReaderFeed feeder(scan);
  message::MessageReader reader((*snap)->limits(), feeder);
  // Fixed-size reads: memory stays bounded whatever the message size.
  std::vector<char> buf(64 * 1024);
  while (*in) {
    in->read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize n = in->gcount();
    if (n > 0) {
      reader.feed(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    }
  }
  if (in->bad()) {
    std::fprintf(stderr, "mailwarden check: read error on %s\n", message_path->c_str());
    return 1;
  }
  reader.finish();
  const verdict::Verdict v = scan.finish();
  if (json) {
    std::cout << toJson(v).dump(2) << "\n";
  } else {
    printHuman(v);
  }
  return 0;
}

int runConfigtest(const std::vector<std::string>& args) {
  std::string path = config::kDefaultPath;
  std::vector<std::string> zones;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "-c" || args[i] == "--config") && i + 1 < args.size()) {
      path = args[++i];
    } else if (args[i] == "--dns-zone" && i + 1 < args.size()) {
      const std::string& z = args[++i];
      if (!fileExists(z)) {
        std::fprintf(stderr, "mailwarden configtest: --dns-zone %s: %s\n", z.c_str(),
                     std::strerror(ENOENT));
        return 1;
      }
      zones.push_back(z);
    } else {
      std::fprintf(stderr, "mailwarden configtest: unexpected argument %s\n", args[i].c_str());
      return 1;
    }
  }
  config::LoadResult loaded = config::loadFile(path);
  for (const Error& e : loaded.errors) {
    std::fprintf(stderr, "%s\n", e.describe().c_str());
  }
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s: %zu error(s)\n", path.c_str(), loaded.errors.size());
    return 1;
  }
  for (const std::string& z : zones) {
    loaded.config.dns.zone_files.push_back(z);  // answered from these files only
  }
  Result<scan::SnapshotConstSharedPtr> snap =
      scan::Snapshot::build(std::move(loaded.config), std::make_shared<SystemClock>());
  if (!snap) {
    std::fprintf(stderr, "%s\n", snap.error().describe().c_str());
    return 1;
  }
  if (!checkPublishedSealKey(**snap)) {
    return 1;
  }
  std::printf("%s: configuration OK\n", path.c_str());
  return 0;
}

int runRules(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "test") {
    std::fprintf(stderr, "mailwarden rules: expected 'test'\n");
    printUsage(true);
    return 1;
  }
  std::optional<std::string> config_path;
  std::vector<std::string> dirs;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if ((args[i] == "-c" || args[i] == "--config") && i + 1 < args.size()) {
      config_path = args[++i];
    } else if (!args[i].empty() && args[i][0] == '-') {
      std::fprintf(stderr, "mailwarden rules test: unknown option %s\n", args[i].c_str());
      return 1;
    } else {
      dirs.push_back(args[i]);
    }
  }
  if (config_path && !dirs.empty()) {
    std::fprintf(stderr, "mailwarden rules test: give -c FILE or folders, not both\n");
    return 1;
  }
  message::Limits limits;
  rules::LoadOptions options;
  options.dirs = dirs;
  if (dirs.empty()) {
    std::optional<config::Config> cfg = loadConfig(config_path, false);
    if (!cfg) {
      return 2;
    }
    options.dirs = cfg->rule_dirs;
    options.symbols = scan::knownSymbols(*cfg);
    limits = cfg->limits;
  } else {
    // Folders without a configuration: the symbols of the default one.
    options.symbols = scan::knownSymbols(config::defaults());
    for (const std::string& d : dirs) {
      struct stat st {};
      if (::stat(d.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        std::fprintf(stderr, "mailwarden rules test: %s: not a folder\n", d.c_str());
        return 1;
      }
    }
  }
  obs::configure(obs::Sink::Stderr, obs::Level::Error);  // a cache warning is not a test result
  rules::LoadReport loaded = rules::load(options);
  if (!loaded.ok()) {
    for (const Error& e : loaded.errors) {
      std::fprintf(stderr, "%s\n", e.describe().c_str());
    }
    std::fprintf(stderr, "%zu rule error(s)\n", loaded.errors.size());
    return 2;
  }
  const rules::TestSummary sum = rules::runTests(loaded.rules, limits);
  for (const rules::CaseFailure& f : sum.failures) {
    std::printf("%s:%d: rule %s: %s\n", f.where.file.c_str(), f.where.line, f.rule_id.c_str(), f.what.c_str());
  }
  std::printf("%zu passed, %zu failed\n", sum.passed, sum.failed);
  return sum.failed == 0 ? 0 : 1;
}

int runMilter(const std::vector<std::string>& args) {
  std::string path = config::kDefaultPath;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "-c" || args[i] == "--config") && i + 1 < args.size()) {
      path = args[++i];
    } else {
      std::fprintf(stderr, "mailwarden run: unexpected argument %s\n", args[i].c_str());
      return 1;
    }
  }
  return milter::run(path);
}

}  // namespace mw::cli
