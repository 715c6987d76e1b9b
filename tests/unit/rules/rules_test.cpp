// rules/ — loading, every scope, composites with auth symbols, thresholds through the
// whole pipeline, the compiled-database cache, and one error fixture per error kind.
#include "mailwarden/rules/rules.h"

#include <gtest/gtest.h>
#include <hs/hs.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "mailwarden/config/config.h"
#include "mailwarden/dns/zone.h"
#include "mailwarden/rules/testcases.h"
#include "mailwarden/scan/scan.h"
#include "mailwarden/scan/symbols.h"

namespace mw::rules {
namespace {

namespace fs = std::filesystem;

// The names the pipeline publishes (scan/symbols.h), as Snapshot::build loads rules.
const std::vector<std::string>& symbols() {
  static const std::vector<std::string> names = scan::knownSymbols(config::defaults());
  return names;
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "mw-rules-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name, std::ios::binary) << text;
  }
};

RuleSetConstSharedPtr mustLoad(const std::string& yaml, const std::string& cache = "") {
  LoadReport r = loadText(yaml, "/tmp/test.yaml", symbols(), cache);
  for (const Error& e : r.errors) ADD_FAILURE() << e.describe();
  return r.rules;
}

std::vector<std::string> hits(const RuleSetConstSharedPtr& rs, const std::string& msg,
                              std::vector<std::string> auth = {}, message::Envelope env = {}) {
  return matchMessage(rs, message::Limits{}, msg, env, auth);
}

bool hit(const RuleSetConstSharedPtr& rs, const std::string& id, const std::string& msg,
         std::vector<std::string> auth = {}, message::Envelope env = {}) {
  const auto h = hits(rs, msg, std::move(auth), std::move(env));
  return std::find(h.begin(), h.end(), id) != h.end();
}

std::string rule(const std::string& id, const std::string& scope, const std::string& pattern,
                 const std::string& extra = "") {
  return "  - id: " + id + "\n    description: test\n    scope: " + scope + "\n    pattern: '" + pattern +
         "'\n    score: 1.0\n" + extra;
}

const char* kHead = "From: a@b.example\r\nTo: c@d.example\r\nSubject: hello\r\n";

TEST(RulesScopes, HeaderSubjectFromAndDecodedWords) {
  auto rs = mustLoad("rules:\n" + rule("S", "subject", "^café$", "    flags: [utf8]\n") +
                     rule("F", "from", "evil\\.example") + rule("X", "header:X-Mailer", "^BulkMailer") +
                     rule("H", "headers", "X-Mailer: Bulk"));
  EXPECT_TRUE(hit(rs, "S", "Subject: =?ISO-8859-1?Q?caf=E9?=\r\n\r\nx\r\n"));
  EXPECT_TRUE(hit(rs, "S", "Subject: =?UTF-8?B?Y2Fmw6k=?=\r\n\r\nx\r\n"));
  EXPECT_FALSE(hit(rs, "S", "Subject: cafe\r\n\r\nx\r\n"));
  EXPECT_TRUE(hit(rs, "F", "From: x@evil.example\r\n\r\nx\r\n"));
  // header:NAME rules only count for their own field, though all share one database.
  EXPECT_FALSE(hit(rs, "F", "Subject: x@evil.example\r\n\r\nx\r\n"));
  EXPECT_TRUE(hit(rs, "X", "x-mailer: BulkMailer 2\r\n\r\nx\r\n"));
  EXPECT_FALSE(hit(rs, "X", "Subject: BulkMailer\r\n\r\nx\r\n"));
  EXPECT_TRUE(hit(rs, "H", "X-Mailer: Bulk\r\n\r\nx\r\n"));
  // Folding undone (RFC 5322 §2.2.3) for header:NAME.
  EXPECT_TRUE(hit(rs, "X", "X-Mailer:\r\n BulkMailer\r\n\r\nx\r\n"));
}

TEST(RulesScopes, BodyRawAndTextAcrossChunksAndBase64Breaks) {
  auto rs = mustLoad("rules:\n" + rule("RAW", "body:raw", "aGVsbG8g") + rule("TXT", "body:text", "hello world"));
  const std::string b64 = std::string(kHead) + "Content-Transfer-Encoding: base64\r\n\r\naGVsbG8g\r\nd29ybGQ=\r\n";
  EXPECT_TRUE(hit(rs, "TXT", b64));  // "hello " | "world" split by the base64 line break
  EXPECT_TRUE(hit(rs, "RAW", b64));
  EXPECT_FALSE(hit(rs, "TXT", std::string(kHead) + "\r\nhello there world\r\n"));

  // Across body chunks: feed a Matcher the body one byte at a time.
  Matcher m(rs, message::Limits{});
  const std::string body = "say hello world";
  for (char c : body) m.body(std::string_view(&c, 1));
  static_cast<void>(m.conclude({}));
  EXPECT_FALSE(m.hit("TXT"));  // nothing went through a MIME parser
  Matcher raw(mustLoad("rules:\n" + rule("R", "body:raw", "hello world")), message::Limits{});
  for (char c : body) raw.body(std::string_view(&c, 1));
  static_cast<void>(raw.conclude({}));
  EXPECT_TRUE(raw.hit("R"));
}

TEST(RulesScopes, LongBodyChunksSpanParserOutput) {
  // The MIME parser hands on ~16 KiB chunks: put the phrase across that boundary.
  auto rs = mustLoad("rules:\n" + rule("TXT", "body:text", "needle in haystack"));
  std::string body(16384 - 7, 'a');
  body += " needle in haystack\r\n";
  EXPECT_TRUE(hit(rs, "TXT", std::string(kHead) + "\r\n" + body));
}

TEST(RulesScopes, NestedMultipartAttachmentsAndHtml) {
  auto rs = mustLoad("rules:\n" + rule("EXE", "attachment:name", "\\.exe$", "    flags: [caseless]\n") +
                     rule("PDF", "attachment:type", "^application/pdf$") +
                     rule("TXT", "body:text", "Viagra") + rule("SCRIPT", "body:text", "alert") +
                     rule("URL", "url", "^http://evil\\.example/") + rule("WWW", "url", "^www\\.bad\\.example$"));
  const std::string msg = std::string(kHead) +
      "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
      "--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"
      "--inner\r\nContent-Type: text/plain\r\n\r\nsee www.bad.example\r\n"
      "--inner\r\nContent-Type: text/html\r\n\r\n<p><b>V</b>iagra &amp; <a href=\"http://evil.example/x\">x</a>"
      "<script>alert(1)</script></p>\r\n"
      "--inner--\r\n"
      "--outer\r\nContent-Type: application/pdf\r\n"
      "Content-Disposition: attachment; filename*=utf-8''invoice%2EEXE\r\n\r\nJVBERi0=\r\n"
      "--outer--\r\n";
  const auto h = hits(rs, msg);
  auto has = [&](const char* id) { return std::find(h.begin(), h.end(), id) != h.end(); };
  EXPECT_TRUE(has("EXE"));
  EXPECT_TRUE(has("PDF"));
  EXPECT_TRUE(has("TXT"));
  EXPECT_FALSE(has("SCRIPT"));  // script contents are not text
  EXPECT_TRUE(has("URL"));
  EXPECT_TRUE(has("WWW"));
}

TEST(RulesScopes, Envelope) {
  auto rs = mustLoad("rules:\n" + rule("MF", "envelope:mail_from", "^bad@") + rule("RC", "envelope:rcpt", "^abuse@") +
                     rule("HE", "envelope:helo", "^localhost$") + rule("CN", "envelope:client_name", "^unknown$"));
  message::Envelope env;
  env.mail_from = "bad@x.example";
  env.rcpts = {"ok@y.example", "abuse@y.example"};
  env.helo = "localhost";
  env.client_name = "unknown";
  const auto h = hits(rs, std::string(kHead) + "\r\nx\r\n", {}, env);
  EXPECT_EQ(h, (std::vector<std::string>{"MF", "RC", "HE", "CN"}));
}

TEST(RulesComposites, AuthSymbolsAndPrecedence) {
  auto rs = mustLoad("rules:\n" + rule("A", "body:raw", "aaa") +
                     "  - id: C\n    description: c\n    expression: 'SPF_FAIL and (A or not DKIM_PASS)'\n    score: 4\n"
                     "  - id: D\n    description: d\n    expression: 'not C or A and DMARC_REJECT'\n    score: 1\n");
  const std::string m = std::string(kHead) + "\r\nzzz\r\n";
  EXPECT_TRUE(hit(rs, "C", m, {"SPF_FAIL"}));
  EXPECT_FALSE(hit(rs, "C", m, {"SPF_FAIL", "DKIM_PASS"}));
  EXPECT_TRUE(hit(rs, "C", std::string(kHead) + "\r\naaa\r\n", {"SPF_FAIL", "DKIM_PASS"}));
  EXPECT_FALSE(hit(rs, "D", m, {"SPF_FAIL"}));   // C hit, A missed
  EXPECT_TRUE(hit(rs, "D", m, {}));              // C missed
}

TEST(RulesActions, WordsRoundTrip) {
  for (const RuleAction a : {RuleAction::Accept, RuleAction::Tag, RuleAction::Quarantine,
                             RuleAction::TempFail, RuleAction::Reject}) {
    SCOPED_TRACE(std::string(toString(a)));
    EXPECT_EQ(parseRuleAction(toString(a)), a);
  }
  EXPECT_EQ(parseRuleAction("REJECT"), RuleAction::Reject);
  EXPECT_EQ(parseRuleAction("discard"), std::nullopt);
  EXPECT_EQ(parseRuleAction(""), std::nullopt);
  EXPECT_LT(RuleAction::Quarantine, RuleAction::Reject);  // severity order, as the stage maps it
}

// The loader knows no symbol of its own: the names it is given are the names composites
// may use (a colleague's RBL_ symbol works like SPF_PASS), and nothing else.
TEST(RulesComposites, SymbolsAreWhatTheLoaderIsGiven) {
  const std::string yaml = "rules:\n" + rule("A", "body:raw", "aaa") +
                           "  - id: C\n    description: c\n    expression: 'RBL_TEST and A'\n    score: 1\n";
  LoadReport with = loadText(yaml, "/tmp/t.yaml", {"RBL_TEST"});
  ASSERT_TRUE(with.ok());
  const std::string m = std::string(kHead) + "\r\naaa\r\n";
  const std::vector<std::string> truth = {"RBL_TEST"};
  auto h = matchMessage(with.rules, message::Limits{}, m, {}, truth);
  EXPECT_NE(std::find(h.begin(), h.end(), "C"), h.end());
  h = matchMessage(with.rules, message::Limits{}, m, {}, {"SPF_PASS"});  // not loaded: false
  EXPECT_EQ(std::find(h.begin(), h.end(), "C"), h.end());

  LoadReport without = loadText(yaml, "/tmp/t.yaml", symbols());
  ASSERT_EQ(without.errors.size(), 1u);
  EXPECT_EQ(without.errors[0].describe(), "/tmp/t.yaml:7: rule C: expression: unknown rule or symbol 'RBL_TEST'");
  LoadReport clash = loadText("rules:\n" + rule("RBL_TEST", "body:raw", "x"), "/tmp/t.yaml", {"RBL_TEST"});
  ASSERT_EQ(clash.errors.size(), 1u);
  EXPECT_EQ(clash.errors[0].describe(), "/tmp/t.yaml:2: rule RBL_TEST: id is an authentication symbol");
}

// The rules stage in the pipeline: scores against thresholds, actions, headers.
scan::SnapshotConstSharedPtr pipeline(const TempDir& dir) {
  config::Config cfg = config::defaults();
  cfg.policy.authserv_id = "mx.test.example";
  cfg.iprev.enabled = false;  // iprev has its own tests (tests/unit/scan/reputation_stage_test.cpp)
  cfg.spf.enabled = false;
  cfg.rule_dirs = {dir.path.string()};
  cfg.rules_cache_dir.clear();
  auto s = scan::Snapshot::build(std::move(cfg), std::make_shared<FixedClock>(1700000000),
                                 std::make_shared<dns::ZoneResolver>());
  EXPECT_TRUE(s) << s.error().describe();
  return s ? *s : nullptr;
}

verdict::Verdict run(const scan::SnapshotConstSharedPtr& snap, const std::string& body) {
  scan::Scan scan(snap);
  scan.connect("192.0.2.1", "mx.b.example");
  scan.helo("mx.b.example");
  scan.mailFrom("a@b.example");
  scan.rcpt("c@d.example");
  scan.header("From", " a@b.example");
  scan.header("Subject", " test");
  scan.endOfHeaders();
  scan.body(body);
  return scan.finish();
}

TEST(RulesPipeline, Thresholds) {
  TempDir dir;
  dir.write("10.yaml", "rules:\n" + rule("SIX", "body:raw", "six") +
                           "    \n  - id: TEN\n    description: t\n    scope: body:raw\n    pattern: ten\n    score: 10\n"
                           "  - id: HOLD\n    description: h\n    scope: body:raw\n    pattern: hold\n    action: quarantine\n"
                           "  - id: NO\n    description: n\n    scope: body:raw\n    pattern: nope\n    action: reject\n    reply: \"not here\"\n");
  auto snap = pipeline(dir);
  ASSERT_TRUE(snap);
  EXPECT_EQ(run(snap, "nothing\r\n").action, verdict::Action::Accept);
  const verdict::Verdict ten = run(snap, "ten\r\n");
  EXPECT_EQ(ten.action, verdict::Action::Quarantine);  // 10 >= quarantine (10)
  ASSERT_EQ(ten.contributions.size(), 1u);
  EXPECT_EQ(ten.contributions[0].rule_id, "TEN");
  const verdict::Verdict both = run(snap, "ten six\r\n");
  EXPECT_DOUBLE_EQ(both.score, 11.0);
  EXPECT_EQ(both.contributions.size(), 2u);
  EXPECT_EQ(run(snap, "hold\r\n").action, verdict::Action::Quarantine);
  const verdict::Verdict no = run(snap, "nope hold\r\n");
  EXPECT_EQ(no.action, verdict::Action::Reject);
  ASSERT_TRUE(no.reply);
  EXPECT_EQ(no.reply->text, "not here");
}

TEST(RulesPipeline, BuildingBlocksFeedCompositesButAreNotListed) {
  TempDir dir;
  dir.write("10.yaml", "rules:\n"
                       "  - id: BLOCK\n    description: b\n    scope: body:raw\n    pattern: blk\n    score: 0\n"
                       "  - id: NOBLOCK\n    description: c\n    expression: 'not BLOCK'\n    score: 1.5\n"
                       "  - id: HELD\n    description: h\n    scope: body:raw\n    pattern: held\n    action: quarantine\n");
  auto snap = pipeline(dir);
  ASSERT_TRUE(snap);
  const verdict::Verdict with = run(snap, "blk\r\n");
  EXPECT_TRUE(with.contributions.empty());  // BLOCK hit, score 0, no action: not listed
  const verdict::Verdict without = run(snap, "nothing\r\n");
  ASSERT_EQ(without.contributions.size(), 1u);
  EXPECT_EQ(without.contributions[0].rule_id, "NOBLOCK");
  const verdict::Verdict held = run(snap, "blk held\r\n");
  ASSERT_EQ(held.contributions.size(), 1u);  // an action-only rule is listed
  EXPECT_EQ(held.contributions[0].rule_id, "HELD");
}

TEST(RulesPipeline, BadRuleKeepsOldSnapshotOnReload) {
  TempDir dir;
  dir.write("10.yaml", "rules:\n" + rule("OK", "body:raw", "x"));
  auto first = pipeline(dir);
  ASSERT_TRUE(first);
  scan::SnapshotHolder holder(first);
  dir.write("20.yaml", "rules:\n" + rule("BAD", "body:raw", "a(b"));
  config::Config cfg = first->config();
  auto next = scan::Snapshot::build(cfg, std::make_shared<FixedClock>(1), std::make_shared<dns::ZoneResolver>());
  ASSERT_FALSE(next);
  EXPECT_NE(next.error().message.find("20.yaml:"), std::string::npos) << next.error().message;
  EXPECT_NE(next.error().message.find("rule BAD: pattern rejected by Hyperscan"), std::string::npos);
  EXPECT_EQ(holder.get(), first);  // what milter's reload() does on failure: keep it
}

TEST(RulesCache, ReusedAndRejectedWhenCorruptForeignOrStale) {
  TempDir cache;
  const std::string yaml = "rules:\n" + rule("A", "body:raw", "abc");
  LoadReport r1 = loadText(yaml, "/tmp/t.yaml", symbols(), cache.path.string());
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1.stats.from_cache, 0u);
  LoadReport r2 = loadText(yaml, "/tmp/t.yaml", symbols(), cache.path.string());
  EXPECT_EQ(r2.stats.from_cache, 1u);
  EXPECT_TRUE(hit(r2.rules, "A", std::string(kHead) + "\r\nxabcx\r\n"));

  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(cache.path)) files.push_back(e.path());
  ASSERT_EQ(files.size(), 1u);
  auto slurp = [](const fs::path& p) { std::ifstream in(p, std::ios::binary); std::stringstream s; s << in.rdbuf(); return s.str(); };
  const std::string good = slurp(files[0]);
  auto expectRebuilt = [&](const std::string& bytes, const char* what) {
    std::ofstream(files[0], std::ios::binary | std::ios::trunc) << bytes;
    LoadReport r = loadText(yaml, "/tmp/t.yaml", symbols(), cache.path.string());
    ASSERT_TRUE(r.ok()) << what;
    EXPECT_EQ(r.stats.from_cache, 0u) << what;
    EXPECT_TRUE(hit(r.rules, "A", std::string(kHead) + "\r\nabc\r\n")) << what;
    EXPECT_EQ(slurp(files[0]), good) << what << ": rewritten";
  };
  std::string corrupt = good;
  corrupt[corrupt.size() - 10] ^= 0x5a;
  expectRebuilt(corrupt, "corrupted database bytes");
  std::string foreign = good;
  const auto at = foreign.find("hyperscan=");
  ASSERT_NE(at, std::string::npos);
  foreign[at + 10] = foreign[at + 10] == '9' ? '8' : '9';  // another Hyperscan version
  expectRebuilt(foreign, "foreign version");
  expectRebuilt(good.substr(0, good.size() / 2), "truncated");
  expectRebuilt("garbage", "not a cache file");

  // Different rule content under this file's name: the key inside does not match.
  const std::string other = "rules:\n" + rule("A", "body:raw", "abd");
  LoadReport r3 = loadText(other, "/tmp/t.yaml", symbols(), cache.path.string());
  ASSERT_TRUE(r3.ok());
  for (const auto& e : fs::directory_iterator(cache.path)) {
    if (e.path() != files[0]) fs::copy_file(files[0], e.path(), fs::copy_options::overwrite_existing);
  }
  LoadReport r4 = loadText(other, "/tmp/t.yaml", symbols(), cache.path.string());
  ASSERT_TRUE(r4.ok());
  EXPECT_EQ(r4.stats.from_cache, 0u);
  EXPECT_TRUE(hit(r4.rules, "A", std::string(kHead) + "\r\nabd\r\n"));
  EXPECT_FALSE(hit(r4.rules, "A", std::string(kHead) + "\r\nabc\r\n"));
}

// Per-item scopes are block-mode databases, whole-message scopes streaming ones
// (rules/internal.h isPerItem): both come back from the cache and still anchor, and a
// file holding the other mode's database is refused even under the right key.
TEST(RulesCache, BlockAndStreamDatabasesRoundTripAndModesAreChecked) {
  TempDir cache;
  const std::string yaml = "rules:\n" + rule("U", "url", "^http://evil\\.example/$") + rule("B", "body:raw", "abc");
  ASSERT_TRUE(loadText(yaml, "/tmp/t.yaml", symbols(), cache.path.string()).ok());
  LoadReport again = loadText(yaml, "/tmp/t.yaml", symbols(), cache.path.string());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.stats.from_cache, 2u);
  const std::string msg = std::string(kHead) + "\r\nsee http://evil.example/ now\r\nabc";
  EXPECT_TRUE(hit(again.rules, "U", msg));
  EXPECT_TRUE(hit(again.rules, "B", msg));
  EXPECT_FALSE(hit(again.rules, "U", std::string(kHead) + "\r\nsee http://evil.example/x\r\n"));

  // Put the streaming database's bytes under the block file's key: Hyperscan would load
  // it, but scanning it with hs_scan fails; the loader must rebuild instead.
  fs::path url_file, raw_file;
  for (const auto& e : fs::directory_iterator(cache.path)) {
    (e.path().filename().string().find("url") != std::string::npos ? url_file : raw_file) = e.path();
  }
  ASSERT_FALSE(url_file.empty());
  ASSERT_FALSE(raw_file.empty());
  auto slurp = [](const fs::path& p) { std::ifstream in(p, std::ios::binary); std::stringstream s; s << in.rdbuf(); return s.str(); };
  const std::string url_bytes = slurp(url_file), raw_bytes = slurp(raw_file);
  // Layout (compile.cpp writeCache): magic 8, key hash 8, key length 8, key, db length 8,
  // db checksum 8, db. Keep the url file's head, take the body:raw file's database part.
  auto dbStart = [](const std::string& f) {
    std::uint64_t klen = 0;
    for (int i = 0; i < 8; ++i) klen |= static_cast<std::uint64_t>(static_cast<unsigned char>(f[16 + static_cast<std::size_t>(i)])) << (8 * i);
    return 24 + static_cast<std::size_t>(klen);
  };
  const std::string forged = url_bytes.substr(0, dbStart(url_bytes)) + raw_bytes.substr(dbStart(raw_bytes));
  std::ofstream(url_file, std::ios::binary | std::ios::trunc) << forged;
  LoadReport rebuilt = loadText(yaml, "/tmp/t.yaml", symbols(), cache.path.string());
  ASSERT_TRUE(rebuilt.ok());
  EXPECT_EQ(rebuilt.stats.from_cache, 1u);  // body:raw still from the cache, url rebuilt
  EXPECT_TRUE(hit(rebuilt.rules, "U", msg));
  EXPECT_EQ(slurp(url_file), url_bytes);
}

// errors/*.yaml: the first line is "# expect: LINE: MESSAGE"; the loader must report
// exactly "FILE:LINE: MESSAGE" among its errors.
TEST(RulesErrors, OneFilePerKind) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(MW_RULES_ERRORS)) {
    if (e.path().extension() != ".yaml") continue;
    ++n;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    const std::string text = s.str();
    const std::string prefix = "# expect: ";
    ASSERT_TRUE(text.starts_with(prefix)) << e.path();
    std::string expect = e.path().string() + ":" + text.substr(prefix.size(), text.find('\n') - prefix.size());
    if (auto at = expect.find("FILE"); at != std::string::npos) expect.replace(at, 4, e.path().string());
    LoadReport r = loadText(text, e.path().string(), symbols());
    ASSERT_FALSE(r.ok()) << e.path();
    bool found = false;
    std::string all;
    for (const Error& err : r.errors) {
      found |= err.describe() == expect;
      all += err.describe() + "\n";
    }
    EXPECT_TRUE(found) << "expected: " << expect << "\ngot:\n" << all;
  }
  EXPECT_GE(n, 8u);
}

TEST(RulesTestCases, RunnerCountsPassAndFail) {
  auto rs = mustLoad("rules:\n" + rule("A", "subject", "^win") +
                     "    tests:\n      - header: \"Subject: win big\"\n        expect: hit\n"
                     "      - header: \"Subject: lose\"\n        expect: hit\n");
  const TestSummary s = runTests(rs, message::Limits{});
  EXPECT_EQ(s.passed, 1u);
  EXPECT_EQ(s.failed, 1u);
  ASSERT_EQ(s.failures.size(), 1u);
  EXPECT_EQ(s.failures[0].where.line, 10);  // the "lose" case
}

// libmilter's pool may run one message's callbacks on different threads, and many
// messages at once: scratch is per thread and grown for each RuleSet a thread meets.
TEST(RulesThreads, MatcherMovesBetweenThreadsAndRunsConcurrently) {
  auto rs = mustLoad("rules:\n" + rule("A", "body:raw", "needle") + rule("S", "subject", "^hi$"));
  auto rs2 = mustLoad("rules:\n" + rule("B", "body:raw", "other"));
  Matcher m(rs, message::Limits{});
  std::thread([&] { m.body("nee"); }).join();
  std::thread([&] { m.body("dle"); }).join();
  std::vector<Hit> concluded;
  std::thread([&] { concluded = m.conclude({}); }).join();
  EXPECT_TRUE(m.hit("A"));
  ASSERT_EQ(concluded.size(), 1u);

  std::vector<std::thread> pool;
  std::vector<int> found(8, 0);
  for (int t = 0; t < 8; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const auto& set = (i % 2 == 0) ? rs : rs2;  // both rule sets on every thread
        const auto h = matchMessage(set, message::Limits{}, "Subject: hi\r\n\r\nneedle other\r\n", {}, {});
        found[static_cast<std::size_t>(t)] += static_cast<int>(h.size());
      }
    });
  }
  for (std::thread& th : pool) th.join();
  for (int n : found) EXPECT_EQ(n, 25 * 2 + 25 * 1);
}

TEST(RulesConfig, CacheDirSetting) {
  config::LoadResult off = config::loadString("rules:\n  directories: []\n  cache_dir: \"\"\n", "/etc/mw/mw.yaml");
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off.config.rules_cache_dir, "");
  config::LoadResult rel = config::loadString("rules:\n  directories: []\n  cache_dir: cache\n", "/etc/mw/mw.yaml");
  ASSERT_TRUE(rel.ok());
  EXPECT_EQ(rel.config.rules_cache_dir, "/etc/mw/cache");
  EXPECT_EQ(config::loadString("", "/etc/mw/mw.yaml").config.rules_cache_dir, "/var/cache/mailwarden");
  config::LoadResult bad = config::loadString("rules:\n  directories: []\n  cache_dir: [a]\n", "/etc/mw/mw.yaml");
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0].where->line, 3);
}

TEST(RulesMatcher, AbortedMessageClosesStreams) {
  // Streams open on every whole-message scope, then the message is dropped mid-body;
  // ASan's leak check (sanitizer build) fails this test if a stream is not closed.
  auto rs = mustLoad("rules:\n" + rule("A", "body:raw", "x") + rule("H", "headers", "y") +
                     rule("T", "body:text", "z"));
  Matcher m(rs, message::Limits{});
  m.header(message::HeaderField{"Subject", " y"});
  m.body("partial body");
  message::PartInfo p;
  p.content_type = "text/plain";
  m.mimeSink().partBegin(p);
  m.mimeSink().partData(p, "some text");
}

TEST(RulesMatcher, AbortedMessageClosesTextStream) {
  // The body:text stream opens with the first text from the message's TextExtractor;
  // dropped mid-part, it must still be closed (ASan's leak check, sanitizer build).
  auto rs = mustLoad("rules:\n" + rule("T", "body:text", "z"));
  Matcher m(rs, message::Limits{});
  m.textListener().text("some text");
}

// What the Matcher asks of the message's TextExtractor follows its rule set, and each
// distinct URL is matched once: the extractor reports every URL as found.
TEST(RulesMatcher, TextListenerWantsWhatTheRulesNeed) {
  Matcher none(mustLoad("rules:\n" + rule("A", "body:raw", "x")), message::Limits{});
  EXPECT_FALSE(none.wantsText());
  EXPECT_FALSE(none.wantsUrls());
  Matcher text(mustLoad("rules:\n" + rule("T", "body:text", "x")), message::Limits{});
  EXPECT_TRUE(text.wantsText());
  EXPECT_FALSE(text.wantsUrls());
  auto both = mustLoad("rules:\n" + rule("T", "body:text", "z") + rule("U", "url", "^http://u\\.example/$") +
                       rule("N", "url", "^http://n\\.example/"));
  Matcher m(both, message::Limits{});
  EXPECT_TRUE(m.wantsText());
  EXPECT_TRUE(m.wantsUrls());
  m.textListener().url("http://u.example/");
  m.textListener().url("http://u.example/");  // again: no second item, no effect
  m.textListener().text("no match here");
  const std::vector<Hit> h = m.conclude({});
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].id, "U");
}

// Hyperscan's scratch allocator (hs_set_scratch_allocator, public API), told to fail:
// the next g_scratch_fail scratch allocations return NULL.
std::atomic<int> g_scratch_fail{0};
std::atomic<int> g_scratch_failed{0};
void* failingScratchAlloc(std::size_t n) {
  if (g_scratch_fail.load() > 0) {
    g_scratch_fail.fetch_sub(1);
    g_scratch_failed.fetch_add(1);
    return nullptr;
  }
  return std::malloc(n);
}

// Issue 16: a failed scratch allocation fails that message, and the next message tries
// again (before, the pool remembered the failure until a SIGHUP built a new RuleSet).
TEST(RulesScratch, FailedAllocationFailsOnlyThatMessage) {
  auto rs = mustLoad("rules:\n" + rule("R", "body:raw", "hello") + rule("S", "subject", "^hi$"));
  ASSERT_EQ(hs_set_scratch_allocator(failingScratchAlloc, std::free), HS_SUCCESS);
  auto one = [&rs](const char* label) {
    SCOPED_TRACE(label);
    auto m = std::make_unique<Matcher>(rs, message::Limits{});
    m->header(message::HeaderField{"Subject", " hi"});
    m->body("hello");
    static_cast<void>(m->conclude({}));
    std::optional<std::string> failure = m->failure();
    return std::make_pair(std::move(m), failure);
  };
  // The prototype (hs_alloc_scratch) cannot be grown: this message fails.
  g_scratch_fail = 1;
  g_scratch_failed = 0;
  {
    auto [m, failure] = one("prototype fails");
    EXPECT_EQ(g_scratch_failed.load(), 1);  // the fault fired
    ASSERT_TRUE(failure.has_value());
    EXPECT_NE(failure->find("scratch"), std::string::npos) << *failure;
    EXPECT_FALSE(m->hit("S"));  // the header field that met the failure went unscanned
  }
  // The next message, same RuleSet (no reload): grown now, matched.
  auto [held, ok] = one("next message");
  EXPECT_FALSE(ok.has_value()) << *ok;
  EXPECT_TRUE(held->hit("R"));
  EXPECT_TRUE(held->hit("S"));
  // `held` keeps its scratch: the next message needs a clone (hs_clone_scratch). Fail it.
  g_scratch_fail = 1;
  g_scratch_failed = 0;
  {
    auto [m, failure] = one("clone fails");
    EXPECT_EQ(g_scratch_failed.load(), 1);
    EXPECT_TRUE(failure.has_value());
  }
  {
    auto [m, failure] = one("clone again");
    EXPECT_FALSE(failure.has_value());
    EXPECT_TRUE(m->hit("R"));
  }
  ASSERT_EQ(hs_set_scratch_allocator(nullptr, nullptr), HS_SUCCESS);
}

}  // namespace
}  // namespace mw::rules

namespace mw::rules {
namespace {

// configtest must show every error at once: a bad pattern is reported even when another
// file has a duplicate id or a YAML error.
TEST(RulesErrors, AllKindsReportedTogether) {
  TempDir dir;
  dir.write("10.yaml", "rules:\n" + rule("A", "body:raw", "a(") + rule("A", "body:raw", "x"));
  dir.write("20.yaml", "rules: [\n");
  LoadReport r = load(LoadOptions{{dir.path.string()}, "", symbols()});
  ASSERT_EQ(r.errors.size(), 3u);
  const std::string f10 = (dir.path / "10.yaml").string(), f20 = (dir.path / "20.yaml").string();
  EXPECT_EQ(r.errors[0].describe().substr(0, f10.size() + 31), f10 + ":2: rule A: pattern rejected by");
  EXPECT_EQ(r.errors[1].describe().substr(0, f10.size() + 25), f10 + ":7: rule A: duplicate id ");
  EXPECT_EQ(r.errors[2].describe().substr(0, f20.size() + 3), f20 + ":2:");
}

}  // namespace
}  // namespace mw::rules
