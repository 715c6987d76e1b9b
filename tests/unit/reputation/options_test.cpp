// Tests of reputation/options.h: the code syntax (exact, A..B, postscreen's per-octet
// form) and validate().
#include "mailwarden/reputation/options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mw::reputation {
namespace {

std::uint32_t ip(int a, int b, int c, int d) {
  return (static_cast<std::uint32_t>(a) << 24) | (static_cast<std::uint32_t>(b) << 16) |
         (static_cast<std::uint32_t>(c) << 8) | static_cast<std::uint32_t>(d);
}

TEST(ParseCode, ExactRangeAndPerOctet) {
  struct Case {
    const char* name;
    const char* text;
    std::vector<std::uint32_t> in;
    std::vector<std::uint32_t> out;
  };
  const std::vector<Case> cases = {
      {"exact", "127.0.0.2", {ip(127, 0, 0, 2)}, {ip(127, 0, 0, 3), ip(127, 0, 0, 1)}},
      {"range", "127.0.0.4..127.0.0.7", {ip(127, 0, 0, 4), ip(127, 0, 0, 5), ip(127, 0, 0, 7)},
       {ip(127, 0, 0, 3), ip(127, 0, 0, 8)}},
      {"range across octets", "127.0.0.250..127.0.1.3", {ip(127, 0, 0, 255), ip(127, 0, 1, 0)},
       {ip(127, 0, 1, 4)}},
      {"postscreen form", "127.0.0.[2..11;20]",
       {ip(127, 0, 0, 2), ip(127, 0, 0, 11), ip(127, 0, 0, 20)},
       {ip(127, 0, 0, 1), ip(127, 0, 0, 12), ip(127, 0, 0, 19), ip(127, 0, 1, 2)}},
      {"postscreen form in two octets", "127.0.[1;3].[0..3]",
       {ip(127, 0, 1, 0), ip(127, 0, 3, 3)}, {ip(127, 0, 2, 0), ip(127, 0, 1, 4)}},
      {"single element in brackets", "127.[0].0.[2]", {ip(127, 0, 0, 2)}, {ip(127, 0, 0, 3)}},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto p = parseCode(tc.text);
    ASSERT_TRUE(p) << p.error();
    EXPECT_EQ(p->text, tc.text);
    for (std::uint32_t a : tc.in) {
      EXPECT_TRUE(p->matches(a)) << "want match for " << a;
    }
    for (std::uint32_t a : tc.out) {
      EXPECT_FALSE(p->matches(a)) << "want no match for " << a;
    }
  }
}

TEST(ParseCode, BadSyntaxSaysWhy) {
  struct Case {
    const char* text;
    const char* want;
  };
  const std::vector<Case> cases = {
      {"127.0.0.300", "'127.0.0.300' is not an IPv4 address (or A..B, or a pattern such as "
                      "127.0.0.[2..11;20])"},
      {"127.0.0", "'127.0.0' is not an IPv4 address (or A..B, or a pattern such as "
                  "127.0.0.[2..11;20])"},
      {"", "'' is not an IPv4 address (or A..B, or a pattern such as 127.0.0.[2..11;20])"},
      {"127.0.0.02x", "'127.0.0.02x' is not an IPv4 address (or A..B, or a pattern such as "
                      "127.0.0.[2..11;20])"},
      {"127.0.0.7..127.0.0.4", "range '127.0.0.7..127.0.0.4' is backwards"},
      {"127.0.0.4..", "'127.0.0.4..' is not a range of IPv4 addresses such as "
                      "127.0.0.4..127.0.0.7"},
      {"127.0.0.[11..2]", "range 11..2 in '127.0.0.[11..2]' is backwards"},
      {"127.0.0.[2;", "'127.0.0.[2;' is not an address pattern such as 127.0.0.[2..11;20]"},
      {"127.0.0.[]", "'127.0.0.[]' is not an address pattern such as 127.0.0.[2..11;20]"},
      {"127.0.0.[2].1", "'127.0.0.[2].1' is not an address pattern such as 127.0.0.[2..11;20]"},
      {"127.0.0.[256]", "'127.0.0.[256]' is not an address pattern such as 127.0.0.[2..11;20]"},
  };
  for (const Case& tc : cases) {
    auto p = parseCode(tc.text);
    ASSERT_FALSE(p) << tc.text << ": parsed, want an error";
    EXPECT_EQ(p.error(), tc.want);
  }
}

TEST(Symbols, SyntaxAndBuiltins) {
  EXPECT_TRUE(isSymbolName("RBL_ZEN_SBL"));
  EXPECT_TRUE(isSymbolName("X"));
  EXPECT_TRUE(isSymbolName(std::string(64, 'A')));
  EXPECT_FALSE(isSymbolName(std::string(65, 'A')));
  EXPECT_FALSE(isSymbolName("rbl_zen"));
  EXPECT_FALSE(isSymbolName("_X"));
  EXPECT_FALSE(isSymbolName("1X"));
  EXPECT_FALSE(isSymbolName("X-Y"));
  EXPECT_FALSE(isSymbolName(""));
  EXPECT_TRUE(isBuiltinSymbol("SPF_FAIL"));
  EXPECT_TRUE(isBuiltinSymbol("IPREV_PASS"));
  EXPECT_TRUE(isBuiltinSymbol("DMARC_X"));
  EXPECT_FALSE(isBuiltinSymbol("SPFX"));
  EXPECT_FALSE(isBuiltinSymbol("RBL_SPF"));
}

AnswerClass cls(std::string symbol, std::vector<std::string> codes, int line) {
  AnswerClass c;
  c.symbol = std::move(symbol);
  for (const std::string& t : codes) {
    c.codes.push_back(*parseCode(t));
  }
  c.where = SourceLoc{"r.yaml", line};
  return c;
}

ListOptions list(std::string zone, int line) {
  ListOptions l;
  l.zone = std::move(zone);
  l.lookups = {Key::ClientIp};
  l.where = SourceLoc{"r.yaml", line};
  return l;
}

TEST(Validate, AValidOptionsHasNoProblem) {
  Options o;
  ListOptions l = list("zen.spamhaus.org", 3);
  l.answers.push_back(cls("RBL_ZEN_SBL", {"127.0.0.2"}, 4));
  AnswerClass bits = cls("DNSWL_X", {}, 5);
  bits.bits = 0x04;
  bits.score = -1;
  l.answers.push_back(bits);
  o.lists.push_back(l);
  EXPECT_TRUE(validate(o).empty());
  EXPECT_TRUE(validate(Options{}).empty());
}

TEST(Validate, EveryProblemAtItsPlace) {
  Options o;
  o.max_url_hosts = 101;
  ListOptions a = list("bad zone.example", 2);
  a.lookups = {};
  a.pause_seconds = 86401;
  o.lists.push_back(a);  // no answers either
  ListOptions b = list("ok.example", 10);
  b.lookups = {Key::Helo, Key::Helo};
  b.answers.push_back(cls("lower", {"127.0.0.2"}, 11));
  b.answers.push_back(cls("SPF_X", {"127.0.0.3"}, 12));
  b.answers.push_back(cls("DUP", {"127.0.0.4"}, 13));
  b.answers.push_back(cls("DUP", {"127.0.0.5"}, 14));
  AnswerClass neither = cls("NEITHER", {}, 15);
  b.answers.push_back(neither);
  AnswerClass both = cls("BOTH", {"127.0.0.6"}, 16);
  both.bits = 2;
  b.answers.push_back(both);
  AnswerClass reply = cls("REPLY", {"127.0.0.7"}, 17);
  reply.reply = "listed";
  reply.action = Action::Quarantine;
  b.answers.push_back(reply);
  AnswerClass bad_reply = cls("BADREPLY", {"127.0.0.8"}, 18);
  bad_reply.reply = "two\nlines";
  bad_reply.action = Action::Reject;
  bad_reply.score = 1001;
  b.answers.push_back(bad_reply);
  o.lists.push_back(b);
  std::vector<std::string> got;
  for (const Error& e : validate(o)) {
    EXPECT_EQ(e.code, Errc::Invalid);
    got.push_back(e.describe());
  }
  const std::vector<std::string> want = {
      "reputation.max_url_hosts: must be between 0 and 100",
      "r.yaml:2: reputation.lists[0].zone: 'bad zone.example' is not a DNS zone name such as "
      "zen.spamhaus.org",
      "r.yaml:2: reputation.lists[0].lookup: names nothing to look up",
      "r.yaml:2: reputation.lists[0].pause: must be between 0 and 86400",
      "r.yaml:2: reputation.lists[0].answers: no answer class: say which answers count (codes: "
      "or bits:) and their symbol",
      "r.yaml:10: reputation.lists[1].lookup: helo is named twice",
      "r.yaml:11: reputation.lists[1].answers[0].symbol: 'lower' is not a symbol "
      "([A-Z][A-Z0-9_]*, at most 64 characters)",
      "r.yaml:12: reputation.lists[1].answers[1].symbol: 'SPF_X' is a built-in name (SPF_*, "
      "DKIM_*, DMARC_*, IPREV_*)",
      "r.yaml:14: reputation.lists[1].answers[3].symbol: 'DUP' is already defined by "
      "reputation.lists[1].answers[2]",
      "r.yaml:15: reputation.lists[1].answers[4]: needs codes: (answer addresses) or bits: (a "
      "mask, 1..255)",
      "r.yaml:16: reputation.lists[1].answers[5]: has both codes: and bits: (give one)",
      "r.yaml:17: reputation.lists[1].answers[6].reply: is only for action reject or tempfail",
      "r.yaml:18: reputation.lists[1].answers[7].score: must be between -1000 and 1000",
      "r.yaml:18: reputation.lists[1].answers[7].reply: must be one line of printable ASCII, at "
      "most 400 characters",
  };
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace mw::reputation
