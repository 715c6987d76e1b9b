// Tests of the reputation: section of config/ — defaults, every key, the commented
// example of contrib/mailwarden.yaml uncommented, and file:line errors.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mailwarden/config/config.h"
#include "testing.h"

namespace mw::config {
namespace {

using testing::errors;
using testing::loadNoRules;

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) {
    out += "  " + l + "\n";
  }
  return out;
}

TEST(ReputationConfig, Defaults) {
  const LoadResult r = loadNoRules("", "r.yaml");
  ASSERT_TRUE(r.ok()) << joined(errors(r));
  EXPECT_EQ(r.config.reputation.max_url_hosts, 20);
  EXPECT_TRUE(r.config.reputation.lists.empty());
  EXPECT_TRUE(r.config.iprev.enabled);
  EXPECT_DOUBLE_EQ(r.config.iprev.pass_score, 0);
  EXPECT_DOUBLE_EQ(r.config.iprev.fail_score, 1);
  EXPECT_DOUBLE_EQ(r.config.iprev.permerror_score, 1);
  // A missing reverse DNS never defers mail by default.
  EXPECT_FALSE(r.config.iprev.temperror.tempfail);
  EXPECT_DOUBLE_EQ(r.config.iprev.temperror.score, 0);
}

TEST(ReputationConfig, EveryKey) {
  const LoadResult r = loadNoRules(
      "reputation:\n"
      "  max_url_hosts: 5\n"
      "  lists:\n"
      "    - zone: ZEN.Spamhaus.org\n"
      "      lookup: [client_ip]\n"
      "      pause: 60\n"
      "      answers:\n"
      "        - codes: [\"127.0.0.2\", \"127.0.0.4..127.0.0.7\", \"127.0.0.[10..11;20]\"]\n"
      "          symbol: RBL_ZEN\n"
      "          score: 6.5\n"
      "          action: reject\n"
      "          reply: \"Listed at zen.spamhaus.org\"\n"
      "    - zone: multi.surbl.org\n"
      "      lookup: url\n"
      "      hash: sha256\n"
      "      answers:\n"
      "        - bits: 0x08\n"
      "          symbol: SURBL_PH\n"
      "        - bits: 16\n"
      "          symbol: SURBL_MW\n"
      "          score: -2\n"
      "          action: tag\n"
      "  iprev:\n"
      "    enabled: false\n"
      "    pass_score: -0.5\n"
      "    fail_score: 2\n"
      "    permerror_score: 1.5\n"
      "    temperror: tempfail\n",
      "r.yaml");
  ASSERT_TRUE(r.ok()) << joined(errors(r));
  const reputation::Options& o = r.config.reputation;
  EXPECT_EQ(o.max_url_hosts, 5);
  ASSERT_EQ(o.lists.size(), 2u);
  const reputation::ListOptions& zen = o.lists[0];
  EXPECT_EQ(zen.zone, "zen.spamhaus.org");
  EXPECT_EQ(zen.lookups, std::vector<reputation::Key>{reputation::Key::ClientIp});
  EXPECT_EQ(zen.hash, reputation::Hash::None);
  EXPECT_EQ(zen.pause_seconds, 60);
  EXPECT_EQ(zen.where.line, 4);
  ASSERT_EQ(zen.answers.size(), 1u);
  const reputation::AnswerClass& c = zen.answers[0];
  EXPECT_EQ(c.where.line, 8);
  ASSERT_EQ(c.codes.size(), 3u);
  EXPECT_TRUE(c.codes[1].matches(0x7f000005));
  EXPECT_TRUE(c.codes[2].matches(0x7f000014));
  EXPECT_EQ(c.symbol, "RBL_ZEN");
  EXPECT_DOUBLE_EQ(c.score, 6.5);
  ASSERT_TRUE(c.action);
  EXPECT_EQ(*c.action, reputation::Action::Reject);
  EXPECT_EQ(c.reply, "Listed at zen.spamhaus.org");
  const reputation::ListOptions& surbl = o.lists[1];
  EXPECT_EQ(surbl.lookups, std::vector<reputation::Key>{reputation::Key::Url});
  EXPECT_EQ(surbl.hash, reputation::Hash::Sha256);
  EXPECT_EQ(surbl.pause_seconds, 300);
  ASSERT_EQ(surbl.answers.size(), 2u);
  EXPECT_EQ(surbl.answers[0].bits, 8);
  EXPECT_EQ(surbl.answers[1].bits, 16);
  EXPECT_DOUBLE_EQ(surbl.answers[1].score, -2);
  EXPECT_FALSE(r.config.iprev.enabled);
  EXPECT_DOUBLE_EQ(r.config.iprev.pass_score, -0.5);
  EXPECT_DOUBLE_EQ(r.config.iprev.fail_score, 2);
  EXPECT_DOUBLE_EQ(r.config.iprev.permerror_score, 1.5);
  EXPECT_TRUE(r.config.iprev.temperror.tempfail);
}

TEST(ReputationConfig, ErrorsWithFileAndLine) {
  const LoadResult r = loadNoRules(
      "reputation:\n"                                   // 1
      "  max_url_hosts: 101\n"                          // 2
      "  lists:\n"                                      // 3
      "    - zone: zen.example\n"                       // 4
      "      lookup: [client_ip, envelope]\n"           // 5
      "      hash: crc32\n"                             // 6
      "      pause: -1\n"                               // 7
      "      answers:\n"                                // 8
      "        - codes: [\"127.0.0.300\"]\n"            // 9
      "          symbol: ZEN\n"                         // 10
      "    - zone: \"bad zone\"\n"                      // 11
      "      lookup: [helo]\n"                          // 12
      "      answers:\n"                                // 13
      "        - bits: 256\n"                           // 14
      "          symbol: B1\n"                          // 15
      "        - codes: [\"127.0.0.2\"]\n"              // 16
      "          symbol: DKIM_LISTED\n"                 // 17
      "          reply: \"no\"\n"                       // 18
      "          action: quarantine\n"                  // 19
      "          scor: 1\n"                             // 20
      "    - zone: ok.example\n"                        // 21
      "      lookup: [url]\n"                           // 22
      "      answers: []\n"                             // 23
      "    - zone: dup.example\n"                       // 24
      "      lookup: [from]\n"                          // 25
      "      answers:\n"                                // 26
      "        - codes: [\"127.0.0.2\"]\n"              // 27
      "          symbol: SAME\n"                        // 28
      "        - codes: [\"127.0.0.3\"]\n"              // 29
      "          bits: 2\n"                             // 30
      "          symbol: SAME\n"                        // 31
      "        - codes: [\"127.0.0.4\"]\n"              // 32
      "  iprev:\n"                                      // 33
      "    temperror: defer\n",                         // 34
      "r.yaml");
  const std::vector<std::string> want = {
      "r.yaml:2: reputation.max_url_hosts: must be between 0 and 100 (got 101)",
      "r.yaml:5: reputation.lists[0].lookup[1]: unknown value 'envelope' (expected client_ip, "
      "helo, mail_from, from, dkim or url)",
      "r.yaml:6: reputation.lists[0].hash: unknown value 'crc32' (expected none, md5, sha1 or "
      "sha256)",
      "r.yaml:7: reputation.lists[0].pause: must be between 0 and 86400 (got -1)",
      "r.yaml:9: reputation.lists[0].answers[0].codes[0]: '127.0.0.300' is not an IPv4 address "
      "(or A..B, or a pattern such as 127.0.0.[2..11;20])",
      "r.yaml:14: reputation.lists[1].answers[0].bits: expected a mask between 1 and 255 "
      "(decimal or 0x hex)",
      "r.yaml:20: reputation.lists[1].answers[1]: unknown key 'scor' (did you mean 'score'?)",
      "r.yaml:21: reputation.lists[2].answers: no answer class: say which answers count (codes: "
      "or bits:) and their symbol",
      "r.yaml:29: reputation.lists[3].answers[1]: has both codes: and bits: (give one)",
      "r.yaml:29: reputation.lists[3].answers[1].symbol: 'SAME' is already defined by "
      "reputation.lists[3].answers[0]",
      "r.yaml:32: reputation.lists[3].answers[2].symbol: is missing (a name such as RBL_ZEN_SBL)",
      "r.yaml:34: reputation.iprev.temperror: expected tempfail or a number (a score)",
  };
  EXPECT_EQ(errors(r), want) << joined(errors(r));
}

// (An empty answers: is reported at the line of its list.)
// A list with only cross-field problems gets each at its line: the zone, a built-in
// symbol, a reply without reject/tempfail.
TEST(ReputationConfig, CrossFieldErrorsOfACleanList) {
  const LoadResult r = loadNoRules(
      "reputation:\n"
      "  lists:\n"
      "    - zone: \"bad zone\"\n"
      "      lookup: [helo]\n"
      "      answers:\n"
      "        - codes: [\"127.0.0.2\"]\n"
      "          symbol: DKIM_LISTED\n"
      "          reply: \"no\"\n"
      "          action: quarantine\n",
      "r.yaml");
  const std::vector<std::string> want = {
      "r.yaml:3: reputation.lists[0].zone: 'bad zone' is not a DNS zone name such as "
      "zen.spamhaus.org",
      "r.yaml:6: reputation.lists[0].answers[0].symbol: 'DKIM_LISTED' is a built-in name "
      "(SPF_*, DKIM_*, DMARC_*, IPREV_*)",
      "r.yaml:6: reputation.lists[0].answers[0].reply: is only for action reject or tempfail",
  };
  EXPECT_EQ(errors(r), want) << joined(errors(r));
}

// contrib/mailwarden.yaml ships the public lists commented out ("#    - zone: ..."):
// uncommented, they must load as they are.
TEST(ReputationConfig, ShippedExampleListsLoadWhenUncommented) {
  std::ifstream in(std::string(MW_CONTRIB_DIR) + "/mailwarden.yaml");
  ASSERT_TRUE(in);
  std::stringstream whole;
  whole << in.rdbuf();
  std::string text = whole.str();
  // The example lines start with "#  " under "  lists:"; turn "  #" + rest into "  " + rest
  // for the block between the markers.
  const std::string begin = "# --- example lists (uncomment) ---\n";
  const std::string end = "# --- end of example lists ---\n";
  const std::size_t b = text.find(begin);
  const std::size_t e = text.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  std::istringstream block(text.substr(b + begin.size(), e - b - begin.size()));
  std::string out;
  std::size_t lists = 0;
  for (std::string line; std::getline(block, line);) {
    // "  #    - zone: x" -> "      - zone: x"; "  ## comment" stays a comment.
    const std::size_t hash = line.find('#');
    if (hash != std::string::npos && line.compare(hash, 2, "##") != 0 &&
        line.find_first_not_of(' ') == hash) {
      line[hash] = ' ';
      lists += line.find("- zone:") != std::string::npos ? 1 : 0;
    }
    out += line + "\n";
  }
  text.replace(b + begin.size(), e - b - begin.size(), out);
  // The shipped rule folder may not exist here: no rules.
  const std::size_t rules = text.find("\nrules:\n");
  ASSERT_NE(rules, std::string::npos);
  text = text.substr(0, rules + 1) + "rules: {directories: []}\n";
  const LoadResult r = loadString(text, "mailwarden.yaml");
  ASSERT_TRUE(r.ok()) << joined(errors(r));
  EXPECT_EQ(r.config.reputation.lists.size(), lists);
  EXPECT_GE(lists, 5u);  // ZEN, DBL, DNSWL, SURBL, URIBL
}

}  // namespace
}  // namespace mw::config
