// Unit tests of config/: one case file per kind of error under cases/ with the exact
// messages it must produce ("file:line: key: what"), inline cases for value syntax,
// a full file read back into the struct, the defaults, and contrib/mailwarden.yaml.
#include "mailwarden/config/config.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace mw::config {
namespace {

namespace fs = std::filesystem;

const std::string kData = fs::path(MW_TEST_DATA).lexically_normal().string();

std::string dataPath(const std::string& name) { return kData + "/" + name; }

// The built-in rule folder (/etc/mailwarden/rules: the default, and what
// contrib/mailwarden.yaml names) exists where mailwarden is installed and nowhere else, so
// its error depends on the host: ConfigRules.* assert it; the other tests set it aside.
bool aboutDefaultRuleFolder(const Error& e) {
  return e.message.find("rule folder /etc/mailwarden/rules ") != std::string::npos;
}

// ok() apart from the default rule folder.
bool okHere(const LoadResult& r) {
  for (const Error& e : r.errors) {
    if (!aboutDefaultRuleFolder(e)) {
      return false;
    }
  }
  return true;
}

// describe() of each error, with the case folder taken out of file names and resolved
// paths, so expectations read "bad_type.yaml:4: ..." wherever the tree is. Without the
// default rule folder's error (aboutDefaultRuleFolder).
std::vector<std::string> described(const std::vector<Error>& errors) {
  std::vector<std::string> out;
  const std::string prefix = kData + "/";
  for (const Error& e : errors) {
    if (aboutDefaultRuleFolder(e)) {
      continue;
    }
    std::string s = e.describe();
    for (std::size_t at = s.find(prefix); at != std::string::npos; at = s.find(prefix, at)) {
      s.erase(at, prefix.size());
    }
    out.push_back(s);
  }
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) {
    out += "  " + l + "\n";
  }
  return out.empty() ? "  (none)\n" : out;
}

// Field-by-field differences "key: got X want Y" (Config has no operator==: its parts
// belong to other modules).
std::vector<std::string> differences(const Config& got, const Config& want) {
  std::vector<std::string> out;
  auto cmp = [&](const char* name, const auto& g, const auto& w) {
    if (!(g == w)) {
      std::ostringstream s;
      s << name << ": got " << ::testing::PrintToString(g) << " want "
        << ::testing::PrintToString(w);
      out.push_back(s.str());
    }
  };
  cmp("milter.socket", got.milter.socket, want.milter.socket);
  cmp("milter.user", got.milter.user, want.milter.user);
  cmp("milter.group", got.milter.group, want.milter.group);
  cmp("milter.socket_mode", got.milter.socket_mode, want.milter.socket_mode);
  cmp("milter.timeout", got.milter.timeout_seconds, want.milter.timeout_seconds);
  cmp("milter.backlog", got.milter.backlog, want.milter.backlog);
  cmp("milter.drain_timeout", got.milter.drain_seconds, want.milter.drain_seconds);
  const verdict::Policy& gp = got.policy;
  const verdict::Policy& wp = want.policy;
  cmp("authserv_id", gp.authserv_id, wp.authserv_id);
  cmp("failure_policy", static_cast<int>(gp.on_failure), static_cast<int>(wp.on_failure));
  cmp("thresholds.tag", gp.tag_threshold, wp.tag_threshold);
  cmp("thresholds.quarantine", gp.quarantine_threshold, wp.quarantine_threshold);
  cmp("thresholds.reject", gp.reject_threshold, wp.reject_threshold);
  cmp("replies.tempfail.code", gp.tempfail_reply.code, wp.tempfail_reply.code);
  cmp("replies.tempfail.enhanced", gp.tempfail_reply.enhanced, wp.tempfail_reply.enhanced);
  cmp("replies.tempfail.text", gp.tempfail_reply.text, wp.tempfail_reply.text);
  cmp("replies.reject.code", gp.reject_reply.code, wp.reject_reply.code);
  cmp("replies.reject.enhanced", gp.reject_reply.enhanced, wp.reject_reply.enhanced);
  cmp("replies.reject.text", gp.reject_reply.text, wp.reject_reply.text);
  cmp("quarantine_reason", gp.quarantine_reason, wp.quarantine_reason);
  cmp("headers.verdict", gp.headers.verdict, wp.headers.verdict);
  cmp("headers.score", gp.headers.score, wp.headers.score);
  cmp("headers.rules", gp.headers.rules, wp.headers.rules);
  cmp("headers.spam_headers", gp.headers.spam_headers, wp.headers.spam_headers);
  cmp("headers.remove_forged_authres", gp.headers.remove_forged_authres,
      wp.headers.remove_forged_authres);
  cmp("limits.header_bytes", got.limits.max_header_bytes, want.limits.max_header_bytes);
  cmp("limits.headers", got.limits.max_headers, want.limits.max_headers);
  cmp("limits.line_length", got.limits.max_line_length, want.limits.max_line_length);
  cmp("limits.mime_depth", got.limits.max_mime_depth, want.limits.max_mime_depth);
  cmp("limits.mime_parts", got.limits.max_mime_parts, want.limits.max_mime_parts);
  cmp("limits.decoded_bytes", got.limits.max_decoded_bytes, want.limits.max_decoded_bytes);
  cmp("log.level", static_cast<int>(got.log.level), static_cast<int>(want.log.level));
  cmp("log.target", static_cast<int>(got.log.sink), static_cast<int>(want.log.sink));
  cmp("log.facility", got.log.facility, want.log.facility);
  cmp("log.format", static_cast<int>(got.log.format), static_cast<int>(want.log.format));
  cmp("dns.resolvers", got.dns.resolvers, want.dns.resolvers);
  cmp("dns.zone_files", got.dns.zone_files, want.dns.zone_files);
  cmp("dns.timeout_ms", got.dns.timeout_ms, want.dns.timeout_ms);
  cmp("dns.retries", got.dns.retries, want.dns.retries);
  cmp("dns.budget_ms", got.dns.budget_ms, want.dns.budget_ms);
  cmp("dns.dnssec", got.dns.dnssec, want.dns.dnssec);
  cmp("dns.trust_anchor", got.dns.trust_anchor, want.dns.trust_anchor);
  cmp("spf.enabled", got.spf.enabled, want.spf.enabled);
  cmp("spf.check_helo", got.spf.check_helo, want.spf.check_helo);
  cmp("spf.fail_score", got.spf.fail_score, want.spf.fail_score);
  cmp("spf.softfail_score", got.spf.softfail_score, want.spf.softfail_score);
  cmp("spf.permerror_score", got.spf.permerror_score, want.spf.permerror_score);
  cmp("spf.reject_on_fail", got.spf.reject_on_fail, want.spf.reject_on_fail);
  cmp("dkim.enabled", got.dkim.enabled, want.dkim.enabled);
  cmp("dkim.max_signatures", got.dkim.max_signatures, want.dkim.max_signatures);
  cmp("dkim.fail_score", got.dkim.fail_score, want.dkim.fail_score);
  cmp("dkim.policy_score", got.dkim.policy_score, want.dkim.policy_score);
  cmp("dkim.permerror_score", got.dkim.permerror_score, want.dkim.permerror_score);
  const auto temperror = [](const OnTemperror& t) { return std::make_pair(t.tempfail, t.score); };
  cmp("spf.temperror", temperror(got.spf.temperror), temperror(want.spf.temperror));
  cmp("dkim.temperror", temperror(got.dkim.temperror), temperror(want.dkim.temperror));
  cmp("dmarc.temperror", temperror(got.dmarc.temperror), temperror(want.dmarc.temperror));
  cmp("reputation.max_url_hosts", got.reputation.max_url_hosts, want.reputation.max_url_hosts);
  cmp("reputation.lists", got.reputation.lists.size(), want.reputation.lists.size());
  cmp("reputation.iprev.enabled", got.iprev.enabled, want.iprev.enabled);
  cmp("reputation.iprev.pass_score", got.iprev.pass_score, want.iprev.pass_score);
  cmp("reputation.iprev.fail_score", got.iprev.fail_score, want.iprev.fail_score);
  cmp("reputation.iprev.permerror_score", got.iprev.permerror_score, want.iprev.permerror_score);
  cmp("reputation.iprev.temperror", temperror(got.iprev.temperror), temperror(want.iprev.temperror));
  cmp("arc.enabled", got.arc.enabled, want.arc.enabled);
  cmp("arc.trusted_sealers", got.arc.trusted_sealers, want.arc.trusted_sealers);
  cmp("arc.trusted_zone", got.arc.trusted_zone, want.arc.trusted_zone);
  cmp("arc.seal", got.arc.seal.has_value(), want.arc.seal.has_value());
  cmp("arc.pass_score", got.arc.pass_score, want.arc.pass_score);
  cmp("arc.fail_score", got.arc.fail_score, want.arc.fail_score);
  cmp("arc.trusted_score", got.arc.trusted_score, want.arc.trusted_score);
  cmp("rules.directories", got.rule_dirs, want.rule_dirs);
  return out;
}

struct FileCase {
  std::string file;
  std::vector<std::string> want;  // exact error texts, in order; empty: the file is valid
};

// One file per kind of error. Every *.yaml under cases/ must appear here.
const std::vector<FileCase> kFileCases = {
    {"empty.yaml", {}},
    {"comments_only.yaml", {}},
    {"empty_sections.yaml", {}},
    {"full.yaml", {}},
    {"bad_log_format.yaml",
     {"bad_log_format.yaml:3: log.format: unknown value 'xml' (expected text or json)"}},
    {"unknown_key.yaml",
     {"unknown_key.yaml:3: milter: unknown key 'timout' (did you mean 'timeout'?)",
      "unknown_key.yaml:5: unknown key 'colour'",
      "unknown_key.yaml:7: dns: unknown key 'Retries' (did you mean 'retries'?)",
      "unknown_key.yaml:8: dns: unknown key 'resolver' (did you mean 'resolvers'?)"}},
    {"bad_type.yaml",
     {"bad_type.yaml:4: milter.timeout: expected an integer",
      "bad_type.yaml:5: milter.backlog: expected an integer",
      "bad_type.yaml:6: milter.drain_timeout: expected an integer",
      "bad_type.yaml:8: dns.retries: expected an integer",
      "bad_type.yaml:9: dns.timeout_ms: expected an integer"}},
    {"spf.yaml",
     {"spf.yaml:3: spf.enabled: expected a boolean (true/false)",
      "spf.yaml:4: spf.fail_score: must be between -1000 and 1000",
      "spf.yaml:5: spf.softfail_score: expected a number",
      "spf.yaml:7: spf: unknown key 'check_heloo' (did you mean 'check_helo'?)"}},
    {"dkim.yaml",
     {"dkim.yaml:3: dkim.enabled: expected a boolean (true/false)",
      "dkim.yaml:4: dkim.max_signatures: must be between 1 and 50 (got 0)",
      "dkim.yaml:5: dkim.fail_score: must be between -1000 and 1000",
      "dkim.yaml:6: dkim.policy_score: expected a number",
      "dkim.yaml:7: dkim: unknown key 'max_signature' (did you mean 'max_signatures'?)"}},
    {"bad_bool.yaml",
     {"bad_bool.yaml:3: headers.verdict: expected a boolean (true/false)",
      "bad_bool.yaml:4: headers.score: expected a boolean (true/false)",
      "bad_bool.yaml:5: headers.rules: expected a boolean (true/false)",
      "bad_bool.yaml:6: headers.spam_headers: expected a boolean (true/false)"}},
    {"bad_list.yaml",
     {"bad_list.yaml:2: dns.resolvers: expected a list",
      "bad_list.yaml:3: dns.zone_files: expected a list",
      "bad_list.yaml:5: rules.directories: expected a list"}},
    {"bad_mapping.yaml",
     {"bad_mapping.yaml:1: milter: expected a mapping",
      "bad_mapping.yaml:2: thresholds: expected a mapping",
      "bad_mapping.yaml:4: replies.tempfail: expected a mapping",
      "bad_mapping.yaml:6: log: expected a mapping"}},
    {"bad_key.yaml", {"bad_key.yaml:2: milter: a key must be a plain name"}},
    {"not_a_mapping.yaml",
     {"not_a_mapping.yaml:1: expected a mapping of settings (key: value) at the top level"}},
    {"out_of_range.yaml",
     {"out_of_range.yaml:2: milter.timeout: must be between 1 and 86400 (got 0)",
      "out_of_range.yaml:3: milter.backlog: must be between 1 and 65535 (got 70000)",
      "out_of_range.yaml:4: milter.drain_timeout: must be between 0 and 3600 (got -1)",
      "out_of_range.yaml:6: limits.header_bytes: must be between 1024 and 67108864 (got 100)",
      "out_of_range.yaml:7: limits.headers: must be between 10 and 100000 (got 100001)",
      "out_of_range.yaml:8: limits.line_length: must be between 998 and 16777216 (got 997)",
      "out_of_range.yaml:9: limits.mime_depth: must be between 1 and 128 (got 0)",
      "out_of_range.yaml:10: limits.mime_parts: must be between 1 and 100000 "
      "(got 99999999999999999999999)",
      "out_of_range.yaml:11: limits.decoded_bytes: must be between 1024 and 1073741824 "
      "(got 2147483648)",
      "out_of_range.yaml:13: dns.timeout_ms: must be between 1 and 30000 (got 30001)",
      "out_of_range.yaml:14: dns.retries: must be between 0 and 5 (got 6)",
      "out_of_range.yaml:15: dns.budget_ms: must be between 1 and 29999 (got 30000)"}},
    {"bad_value.yaml",
     {"bad_value.yaml:1: failure_policy: unknown value 'reject' (expected tempfail or accept)",
      "bad_value.yaml:3: log.level: unknown value 'verbose' (expected debug, info, warn or "
      "error)",
      "bad_value.yaml:4: log.target: unknown value 'file' (expected syslog or stderr)",
      "bad_value.yaml:5: log.facility: unknown value 'local8' (expected mail, daemon, user, "
      "local0, local1, local2, local3, local4, local5, local6 or local7)",
      "bad_value.yaml:6: authserv_id: must be a host name such as mx.example.org (letters, "
      "digits, '-', '_' and '.'; no spaces or ';')",
      "bad_value.yaml:7: quarantine_reason: must not be empty"}},
    {"duplicate_key.yaml",
     {"duplicate_key.yaml:4: milter.timeout: duplicate key (first set at line 2)",
      "duplicate_key.yaml:6: dns: duplicate key (first set at line 5)"}},
    {"syntax_error.yaml",
     {"syntax_error.yaml:4: YAML syntax error: end of sequence flow not found"}},
    {"multi_document.yaml",
     {"multi_document.yaml:4: only one YAML document is allowed (found another)"}},
    {"thresholds_order.yaml",
     {"thresholds_order.yaml:4: thresholds.quarantine: thresholds must ascend (tag <= "
      "quarantine <= reject), but tag is 8 and quarantine is 6"}},
    {"thresholds_default.yaml",
     {"thresholds_default.yaml:3: thresholds.reject: thresholds must ascend (tag <= "
      "quarantine <= reject), but quarantine is 10 and reject is 9.5"}},
    {"bad_socket.yaml",
     {"bad_socket.yaml:2: milter.socket: port must be between 1 and 65535 (got '99999')"}},
    {"bad_reply.yaml",
     {"bad_reply.yaml:3: replies.tempfail.code: must be between 400 and 499 (got 550)",
      "bad_reply.yaml:4: replies.tempfail.enhanced: must be an RFC 3463 status code "
      "CLASS.SUBJECT.DETAIL such as 5.7.1 (class 2, 4 or 5)",
      "bad_reply.yaml:8: replies.reject.enhanced: class 4 of enhanced code 4.7.1 does not "
      "match reply code 554",
      "bad_reply.yaml:9: replies.reject.text: must be one line of printable ASCII (no CR, LF, "
      "tab or other control characters)"}},
    {"bad_resolver.yaml",
     {"bad_resolver.yaml:5: dns.resolvers[2]: '256.1.1.1' is not an IPv4 or IPv6 address",
      "bad_resolver.yaml:6: dns.resolvers[3]: port must be between 1 and 65535 (got '0')",
      "bad_resolver.yaml:7: dns.resolvers[4]: 'ns1.example.org' is not an IPv4 or IPv6 "
      "address"}},
    {"zone_files.yaml",
     {"zone_files.yaml:5: dns.zone_files[1]: cannot read zones/missing.zone: No such file or "
      "directory",
      "zone_files.yaml:6: dns.zone_files[2]: cannot read zones: Is a directory"}},
    {"budget.yaml",
     {"budget.yaml:3: dns.timeout_ms: the per-message budget_ms (3000) must not be less than "
      "one query's timeout_ms (4000)"}},
    {"trust_anchor.yaml",
     {"trust_anchor.yaml:3: dns.trust_anchor: cannot read keys/root.key: No such file or "
      "directory (dns.dnssec is true)"}},
    {"multi_error.yaml",
     {"multi_error.yaml:3: milter.socket: must be unix:/PATH, local:/PATH, inet:PORT@HOST or "
      "inet6:PORT@HOST",
      "multi_error.yaml:4: milter.timeout: expected an integer",
      "multi_error.yaml:7: thresholds.tag: thresholds must ascend (tag <= quarantine <= "
      "reject), but tag is 20 and quarantine is 10",
      "multi_error.yaml:10: headers.verdict: expected a boolean (true/false)",
      "multi_error.yaml:11: headers: unknown key 'verdcit' (did you mean 'verdict'?)",
      "multi_error.yaml:13: log.level: unknown value 'loud' (expected debug, info, warn or "
      "error)",
      "multi_error.yaml:15: limits.mime_depth: must be between 1 and 128 (got 1000)",
      "multi_error.yaml:18: dns.budget_ms: the per-message budget_ms (50) must not be less "
      "than one query's timeout_ms (100)",
      "multi_error.yaml:20: dns.retries: duplicate key (first set at line 19)"}},
};

TEST(ConfigFile, EachCaseReportsExactlyItsErrors) {
  for (const FileCase& tc : kFileCases) {
    SCOPED_TRACE(tc.file);
    const LoadResult r = loadFile(dataPath(tc.file));
    const std::vector<std::string> got = described(r.errors);
    EXPECT_EQ(got, tc.want) << "got:\n" << joined(got) << "want:\n" << joined(tc.want);
    EXPECT_EQ(okHere(r), tc.want.empty());
    EXPECT_EQ(r.config.path, dataPath(tc.file));
    for (const Error& e : r.errors) {
      EXPECT_EQ(e.code, Errc::Invalid) << e.describe();
    }
  }
}

TEST(ConfigFile, EveryCaseFileIsInTheTable) {
  std::set<std::string> listed;
  for (const FileCase& tc : kFileCases) {
    listed.insert(tc.file);
  }
  for (const auto& entry : fs::directory_iterator(kData)) {
    if (entry.path().extension() == ".yaml") {
      const std::string name = entry.path().filename().string();
      EXPECT_TRUE(listed.count(name) == 1) << "cases/" << name << " has no row in kFileCases";
    }
  }
}

TEST(ConfigFile, MissingFileIsOneError) {
  struct Case {
    std::string name;
    std::string path;
    std::string want;
  };
  const Case cases[] = {
      {"missing", dataPath("no_such_file.yaml"),
       "no_such_file.yaml: cannot read: No such file or directory"},
      {"directory", dataPath("zones"), "zones: cannot read: Is a directory"},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    const LoadResult r = loadFile(tc.path);
    const std::vector<std::string> got = described(r.errors);
    EXPECT_EQ(got, std::vector<std::string>{tc.want}) << "got:\n" << joined(got);
    EXPECT_EQ(r.config.path, tc.path);
  }
}

TEST(ConfigFile, ValidFullFileFillsEveryField) {
  const LoadResult r = loadFile(dataPath("full.yaml"));
  ASSERT_TRUE(okHere(r)) << joined(described(r.errors));
  Config want = defaults();
  want.path = dataPath("full.yaml");
  want.milter.socket = "inet6:8891@[::1]";
  want.milter.user = "milter";
  want.milter.group = "postfix";
  want.milter.socket_mode = 0640;
  want.milter.timeout_seconds = 600;
  want.milter.backlog = 64;
  want.milter.drain_seconds = 60;
  want.policy.authserv_id = "mx1.example.net";
  want.policy.on_failure = verdict::Action::Accept;
  want.policy.tag_threshold = 4.5;
  want.policy.quarantine_threshold = 8;
  want.policy.reject_threshold = 12.25;
  want.policy.tempfail_reply = {421, "4.3.2", "Try again later"};
  want.policy.reject_reply = {554, "5.7.0", "Go away"};
  want.policy.quarantine_reason = "held for review";
  want.policy.headers = {false, false, false, true, false};
  want.limits.max_header_bytes = 131072;
  want.limits.max_headers = 500;
  want.limits.max_line_length = 4096;
  want.limits.max_mime_depth = 16;
  want.limits.max_mime_parts = 200;
  want.limits.max_decoded_bytes = 1048576;
  want.log = {obs::Sink::Stderr, obs::Level::Debug, "local3", obs::Format::Json};
  want.dns.resolvers = {"192.0.2.53", "2001:db8::53@5353"};
  want.dns.zone_files = {dataPath("zones/example.zone")};  // relative to the file's folder
  want.dns.timeout_ms = 2000;
  want.dns.retries = 0;
  want.dns.budget_ms = 15000;
  want.dns.dnssec = true;
  want.dns.trust_anchor = dataPath("zones/example.zone");
  want.rule_dirs = {dataPath("rules.d"), dataPath("rules.more")};
  want.spf.enabled = false;
  want.spf.check_helo = false;
  want.spf.fail_score = 7.5;
  want.spf.softfail_score = -1;
  want.spf.permerror_score = 0;
  want.spf.reject_on_fail = true;
  want.spf.temperror = {false, 1.5};
  want.dkim.temperror = {true, 0};
  want.dmarc.temperror = {false, -2};
  want.dkim.enabled = false;
  want.dkim.max_signatures = 3;
  want.dkim.fail_score = 2;
  want.dkim.policy_score = 1.5;
  want.dkim.permerror_score = -0.5;
  const std::vector<std::string> diff = differences(r.config, want);
  EXPECT_TRUE(diff.empty()) << joined(diff);
  EXPECT_EQ(r.config.path, want.path);
}

TEST(ConfigFile, ValidButEmptyFilesGiveTheDefaults) {
  for (const char* name : {"empty.yaml", "comments_only.yaml", "empty_sections.yaml"}) {
    SCOPED_TRACE(name);
    const LoadResult r = loadFile(dataPath(name));
    ASSERT_TRUE(okHere(r)) << joined(described(r.errors));
    const std::vector<std::string> diff = differences(r.config, defaults());
    EXPECT_TRUE(diff.empty()) << joined(diff);
  }
}

// The shipped example documents every key with its default value: it must load cleanly
// and change nothing (so the documentation cannot drift from the code).
TEST(ConfigFile, ContribExampleLoadsAndShowsTheDefaults) {
  const std::string path = std::string(MW_CONTRIB_DIR) + "/mailwarden.yaml";
  const LoadResult r = loadFile(path);
  ASSERT_TRUE(okHere(r)) << joined(described(r.errors));
  const std::vector<std::string> diff = differences(r.config, defaults());
  EXPECT_TRUE(diff.empty()) << joined(diff);
  EXPECT_EQ(r.config.path, path);
}

TEST(ConfigDefaults, AreTheStructDefaultsWithThisHostsName) {
  const Config d = defaults();
  EXPECT_EQ(d.path, "");
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  EXPECT_EQ(d.policy.authserv_id, std::string(host));  // test hosts have plain names
  Config plain;
  plain.policy.authserv_id = d.policy.authserv_id;
  const std::vector<std::string> diff = differences(d, plain);
  EXPECT_TRUE(diff.empty()) << joined(diff);
  EXPECT_EQ(d.milter.socket, "unix:/var/spool/postfix/mailwarden/milter.sock");
  EXPECT_EQ(d.policy.on_failure, verdict::Action::TempFail);
  EXPECT_EQ(d.dns.budget_ms, 20000);
  EXPECT_EQ(d.rule_dirs, std::vector<std::string>{"/etc/mailwarden/rules"});
}

struct InlineCase {
  std::string name;
  std::string yaml;
  std::vector<std::string> want;  // errors as "inline.yaml:LINE: ..."
};

// Value syntax, one setting per row.
const std::vector<InlineCase> kInlineCases = {
    // milter.socket
    {"socket unix", "milter: {socket: \"unix:/var/run/mw.sock\"}", {}},
    {"socket local", "milter: {socket: \"local:/var/run/mw.sock\"}", {}},
    {"socket inet", "milter: {socket: \"inet:8890@127.0.0.1\"}", {}},
    {"socket inet any address", "milter: {socket: \"inet:8890\"}", {}},
    {"socket inet host name", "milter: {socket: \"inet:8890@localhost\"}", {}},
    {"socket inet6", "milter: {socket: \"inet6:8890@::1\"}", {}},
    {"socket inet6 bracketed", "milter: {socket: \"inet6:8890@[2001:db8::1]\"}", {}},
    {"socket relative path",
     "milter: {socket: \"unix:run/mw.sock\"}",
     {"inline.yaml:1: milter.socket: socket path must be absolute (got 'run/mw.sock')"}},
    {"socket long path",
     "milter: {socket: \"unix:/" + std::string(107, 'a') + "\"}",
     {"inline.yaml:1: milter.socket: socket path is longer than 107 bytes"}},
    {"socket no kind",
     "milter: {socket: /run/mw.sock}",
     {"inline.yaml:1: milter.socket: must be unix:/PATH, local:/PATH, inet:PORT@HOST or "
      "inet6:PORT@HOST"}},
    {"socket empty",
     "milter: {socket: \"\"}",
     {"inline.yaml:1: milter.socket: must be unix:/PATH, local:/PATH, inet:PORT@HOST or "
      "inet6:PORT@HOST"}},
    {"socket port 0",
     "milter: {socket: \"inet:0@localhost\"}",
     {"inline.yaml:1: milter.socket: port must be between 1 and 65535 (got '0')"}},
    {"socket port text",
     "milter: {socket: \"inet:smtp@localhost\"}",
     {"inline.yaml:1: milter.socket: port must be between 1 and 65535 (got 'smtp')"}},
    {"socket inet with IPv6",
     "milter: {socket: \"inet:8890@::1\"}",
     {"inline.yaml:1: milter.socket: '::1' is an IPv6 address: use inet6:PORT@HOST"}},
    {"socket bad IPv4",
     "milter: {socket: \"inet:8890@300.1.1.1\"}",
     {"inline.yaml:1: milter.socket: '300.1.1.1' is not an IPv4 address or host name"}},
    {"socket inet6 with IPv4",
     "milter: {socket: \"inet6:8890@[127.0.0.1]\"}",
     {"inline.yaml:1: milter.socket: '[127.0.0.1]' is not an IPv6 address or host name"}},
    {"socket bad host",
     "milter: {socket: \"inet:8890@mx_1.example!\"}",
     {"inline.yaml:1: milter.socket: 'mx_1.example!' is not an IPv4 address or host name"}},
    // milter.user / group
    {"user empty means no switch", "milter: {user: \"\", group: \"\"}", {}},
    {"user with dash", "milter: {user: -x}",
     {"inline.yaml:1: milter.user: '-x' is not a valid user or group name"}},
    {"group with colon", "milter: {group: \"a:b\"}",
     {"inline.yaml:1: milter.group: 'a:b' is not a valid user or group name"}},
    // milter.socket_mode
    {"mode octal plain", "milter: {socket_mode: 0660}", {}},
    {"mode octal string", "milter: {socket_mode: \"0o640\"}", {}},
    {"mode nine", "milter: {socket_mode: 0990}",
     {"inline.yaml:1: milter.socket_mode: expected an octal file mode between 0000 and 0777, "
      "such as \"0660\""}},
    {"mode sticky", "milter: {socket_mode: 01777}",
     {"inline.yaml:1: milter.socket_mode: expected an octal file mode between 0000 and 0777, "
      "such as \"0660\""}},
    // integers, numbers, booleans
    {"integer with plus", "milter: {timeout: +30}", {}},
    {"integer null", "milter:\n  timeout:\n  backlog: 5\n",
     {"inline.yaml:2: milter.timeout: expected an integer"}},
    {"integer exponent", "milter: {timeout: 3e2}",
     {"inline.yaml:1: milter.timeout: expected an integer"}},
    {"integer as list", "milter:\n  timeout:\n    - 5\n",
     {"inline.yaml:3: milter.timeout: expected an integer"}},
    {"number exponent", "thresholds: {tag: 1e0, quarantine: 2.5E1, reject: 100}", {}},
    // spf/dkim/dmarc.temperror: tempfail or a score
    {"temperror words and numbers",
     "spf: {temperror: tempfail}\ndkim: {temperror: 0.5}\ndmarc: {temperror: -3}\n", {}},
    {"temperror unknown word", "spf: {temperror: accept}",
     {"inline.yaml:1: spf.temperror: expected tempfail or a number (a score)"}},
    {"temperror quoted word", "dkim: {temperror: \"tempfail\"}",
     {"inline.yaml:1: dkim.temperror: expected tempfail or a number (a score)"}},
    {"temperror out of range", "dmarc:\n  temperror: 1001\n",
     {"inline.yaml:2: dmarc.temperror: must be between -1000 and 1000"}},
    {"temperror as a list", "spf:\n  temperror:\n    - 1\n",
     {"inline.yaml:3: spf.temperror: expected tempfail or a number (a score)"}},
    {"number negative", "thresholds: {tag: -3, quarantine: -2.5, reject: -1}", {}},
    {"number quoted", "thresholds: {tag: \"5\"}",
     {"inline.yaml:1: thresholds.tag: expected a number"}},
    {"number infinity", "thresholds: {reject: .inf}",
     {"inline.yaml:1: thresholds.reject: expected a number"}},
    {"number huge", "thresholds: {reject: 1e300}",
     {"inline.yaml:1: thresholds.reject: must be between -1000000 and 1000000"}},
    {"number equal is ascending", "thresholds: {tag: 10, quarantine: 10, reject: 10}", {}},
    {"bool word case", "headers: {verdict: True, score: FALSE}", {}},
    {"bool y", "dns: {dnssec: y}", {"inline.yaml:1: dns.dnssec: expected a boolean (true/false)"}},
    // authserv_id, texts
    {"authserv plain", "authserv_id: mail-1.example_net.org", {}},
    {"authserv with space", "authserv_id: mx example",
     {"inline.yaml:1: authserv_id: must be a host name such as mx.example.org (letters, "
      "digits, '-', '_' and '.'; no spaces or ';')"}},
    {"authserv empty label", "authserv_id: mx..example",
     {"inline.yaml:1: authserv_id: must be a host name such as mx.example.org (letters, "
      "digits, '-', '_' and '.'; no spaces or ';')"}},
    {"authserv list", "authserv_id: [a]", {"inline.yaml:1: authserv_id: expected a string"}},
    {"reason with tab", "quarantine_reason: \"a\\tb\"",
     {"inline.yaml:1: quarantine_reason: must be one line of printable ASCII (no CR, LF, tab "
      "or other control characters)"}},
    {"reply text too long",
     "replies: {reject: {text: \"" + std::string(401, 'x') + "\"}}",
     {"inline.yaml:1: replies.reject.text: must be at most 400 characters"}},
    {"reply enhanced 2 with 4xx", "replies:\n  tempfail:\n    enhanced: \"2.0.0\"\n",
     {"inline.yaml:3: replies.tempfail.enhanced: class 2 of enhanced code 2.0.0 does not match "
      "reply code 451"}},
    {"reply code only", "replies: {tempfail: {code: 421}, reject: {code: 554}}", {}},
    // dns
    {"resolver IPv6 with port", "dns: {resolvers: [\"2001:db8::1@53\", \"::1\"]}", {}},
    {"resolvers empty list", "dns: {resolvers: []}", {}},
    {"list key without value", "dns:\n  resolvers:\nrules:\n  directories:\n", {}},
    {"resolver element list", "dns:\n  resolvers:\n    - [1.2.3.4]\n",
     {"inline.yaml:3: dns.resolvers[0]: expected a string"}},
    {"budget equal to timeout", "dns: {timeout_ms: 5000, budget_ms: 5000}", {}},
    {"dnssec false ignores anchor", "dns: {dnssec: false, trust_anchor: /no/such/key}", {}},
    {"dnssec true checks anchor", "dns:\n  trust_anchor: /no/such/root.key\n  dnssec: true\n",
     {"inline.yaml:2: dns.trust_anchor: cannot read /no/such/root.key: No such file or "
      "directory (dns.dnssec is true)"}},
    {"forward special zones", "dns: {forward_special_zones: [test., 2.0.192.IN-ADDR.ARPA]}", {}},
    {"forward special zone not a name", "dns:\n  forward_special_zones: [\"a..b\"]\n",
     {"inline.yaml:2: dns.forward_special_zones[0]: not a DNS zone name: \"a..b\""}},
    {"zone file empty path", "dns: {zone_files: [\"\"]}",
     {"inline.yaml:1: dns.zone_files[0]: expected a file or directory path"}},
    // structure
    {"unknown nested key far from all", "log: {colour: red}",
     {"inline.yaml:1: log: unknown key 'colour'"}},
    {"transposed letters", "log: {levle: info}",
     {"inline.yaml:1: log: unknown key 'levle' (did you mean 'level'?)"}},
    {"null top level", "~", {}},
    {"scalar top level", "hello",
     {"inline.yaml:1: expected a mapping of settings (key: value) at the top level"}},
    {"tab indentation", "milter:\n\ttimeout: 5\n",
     {"inline.yaml:2: YAML syntax error: illegal map value"}},
    // yaml-cpp 0.7's LoadAll loops forever (and eats memory) on these: found by fuzzing.
    {"stray comma", ",", {"inline.yaml:1: YAML syntax error: unexpected ','"}},
    {"stray comma after a document", "a: 1\n---\n  ,\n",
     {"inline.yaml:3: YAML syntax error: unexpected ','"}},
    {"content only in the second document", "---\n---\nlog: {level: info}\n",
     {"inline.yaml:3: only one YAML document is allowed (found another)"}},
    {"explicit document markers", "---\nlog: {level: info}\n...\n---\n", {}},
    {"errors sorted across sections",
     "dns:\n  budget_ms: 100\nmilter:\n  timeout: x\ndns:\n  timeout_ms: 200\n",
     // The budget check runs last, on the first dns block (the duplicate is ignored), and
     // its error still lands in line order.
     {"inline.yaml:2: dns.budget_ms: the per-message budget_ms (100) must not be less than "
      "one query's timeout_ms (5000)",
      "inline.yaml:4: milter.timeout: expected an integer",
      "inline.yaml:5: dns: duplicate key (first set at line 1)"}},
};

TEST(ConfigString, ValueSyntax) {
  for (const InlineCase& tc : kInlineCases) {
    SCOPED_TRACE(tc.name);
    const LoadResult r = loadString(tc.yaml, "inline.yaml");
    const std::vector<std::string> got = described(r.errors);
    EXPECT_EQ(got, tc.want) << "yaml:\n" << tc.yaml << "\ngot:\n" << joined(got) << "want:\n"
                            << joined(tc.want);
  }
}

TEST(ConfigString, ValuesLand) {
  const LoadResult r = loadString(
      "milter: {socket_mode: 660, timeout: +30}\n"
      "thresholds: {tag: 1e0, quarantine: 2.5E1, reject: 100}\n"
      "headers: {verdict: False}\n",
      "inline.yaml");
  ASSERT_TRUE(okHere(r)) << joined(described(r.errors));
  EXPECT_EQ(r.config.milter.socket_mode, 0660u);  // octal like chmod, even unquoted
  EXPECT_EQ(r.config.milter.timeout_seconds, 30);
  EXPECT_EQ(r.config.policy.tag_threshold, 1.0);
  EXPECT_EQ(r.config.policy.quarantine_threshold, 25.0);
  EXPECT_FALSE(r.config.policy.headers.verdict);
  EXPECT_EQ(r.config.path, "inline.yaml");
}

// A rule folder that loads nothing is an error at its line (issue 15: rules installed
// elsewhere than the config looked, and "configuration OK" with no rule loaded).
TEST(ConfigRules, EveryFolderMustHoldARuleFile) {
  struct Case {
    std::string dir;
    std::string want;  // "" = no error
  };
  const Case cases[] = {
      {"rules.d", ""},
      {"rules.missing",
       "inline.yaml:3: rules.directories[0]: rule folder rules.missing does not exist (no "
       "rules would be loaded; say `directories: []` for none)"},
      {"rules.empty",
       "inline.yaml:3: rules.directories[0]: rule folder rules.empty holds no *.yaml rule "
       "file (say `directories: []` for none)"},
      {"full.yaml", "inline.yaml:3: rules.directories[0]: rule folder full.yaml is not a folder"},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.dir);
    const LoadResult r = loadString("rules:\n  directories:\n    - " + tc.dir + "\n",
                                    dataPath("inline.yaml"));
    const std::vector<std::string> got = described(r.errors);
    EXPECT_EQ(got, tc.want.empty() ? std::vector<std::string>{} : std::vector<std::string>{tc.want})
        << joined(got);
    if (tc.want.empty()) {
      EXPECT_EQ(r.config.rule_dirs, std::vector<std::string>{dataPath(tc.dir)});
    }
  }
}

TEST(ConfigRules, TheDefaultFolderIsCheckedToo) {
  const LoadResult r = loadString("log: {level: info}\n", "inline.yaml");
  std::error_code ec;
  bool has_rules = false;
  for (const auto& e : fs::directory_iterator("/etc/mailwarden/rules", ec)) {
    has_rules = has_rules || e.path().extension() == ".yaml";
  }
  if (has_rules) {
    EXPECT_TRUE(r.ok()) << joined(described(r.errors));
    return;
  }
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].describe(),
            "inline.yaml: rules.directories (default): rule folder /etc/mailwarden/rules " +
                std::string(fs::exists("/etc/mailwarden/rules") ? "holds no *.yaml rule file (say "
                                                                    "`directories: []` for none)"
                                                                  : "does not exist (no rules would "
                                                                    "be loaded; say `directories: "
                                                                    "[]` for none)"));
}

TEST(ConfigString, ListKeyWithoutValueIsAnEmptyList) {
  // Every entry commented out: the operator wants none (no rule folders), not the default.
  const LoadResult r = loadString("rules:\n  directories:\n#    - /etc/mailwarden/rules\n",
                                  "inline.yaml");
  ASSERT_TRUE(okHere(r)) << joined(described(r.errors));
  EXPECT_TRUE(r.config.rule_dirs.empty());
}

TEST(ConfigString, InvalidValuesKeepTheDefault) {
  const LoadResult r = loadString("milter: {timeout: 0, backlog: 5}\n", "inline.yaml");
  EXPECT_FALSE(okHere(r));
  EXPECT_EQ(r.config.milter.timeout_seconds, MilterOptions{}.timeout_seconds);
  EXPECT_EQ(r.config.milter.backlog, 5);
}

TEST(ConfigString, TooLargeIsRefusedBeforeParsing) {
  const std::string big(kMaxFileBytes + 1, '#');
  const LoadResult r = loadString(big, "big.yaml");
  EXPECT_EQ(described(r.errors),
            std::vector<std::string>{"big.yaml: file too large (over 1048576 bytes)"});
}

TEST(ConfigString, DeepNestingIsASyntaxErrorNotACrash) {
  struct Case {
    std::string name;
    std::string yaml;
  };
  const Case cases[] = {
      {"flow sequences", "a: " + std::string(100000, '[') + "\n"},
      {"flow mappings", [] {
         std::string s = "a: ";
         for (int i = 0; i < 1000; ++i) {
           s += "{a: ";
         }
         return s;
       }()},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    const LoadResult r = loadString(tc.yaml, "deep.yaml");
    const std::vector<std::string> got = described(r.errors);
    ASSERT_EQ(got.size(), 1u) << joined(got);
    EXPECT_NE(got[0].find(": YAML syntax error: nested too deeply"), std::string::npos) << got[0];
  }
}

}  // namespace
}  // namespace mw::config
