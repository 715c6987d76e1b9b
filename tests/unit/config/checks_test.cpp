// Unit tests of config/checks.h: the value checks as pure functions, table-driven.
#include "config/checks.h"

#include <array>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace mw::config::detail {
namespace {

TEST(Checks, EditDistance) {
  struct Case {
    std::string_view a, b;
    std::size_t want;
  };
  const Case cases[] = {
      {"", "", 0},          {"timeout", "timeout", 0}, {"timout", "timeout", 1},
      {"levle", "level", 1}, {"Retries", "retries", 0}, {"abc", "", 3},
      {"tag", "log", 2},    {"kitten", "sitting", 3},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(std::string(tc.a) + " / " + std::string(tc.b));
    EXPECT_EQ(editDistance(tc.a, tc.b), tc.want);
    EXPECT_EQ(editDistance(tc.b, tc.a), tc.want);
  }
}

TEST(Checks, ClosestKey) {
  const std::array<std::string_view, 4> keys = {"tag", "quarantine", "reject", "timeout"};
  struct Case {
    std::string_view word;
    std::optional<std::string_view> want;
  };
  const Case cases[] = {
      {"tga", "tag"},          {"quarantaine", "quarantine"}, {"rejct", "reject"},
      {"tab", "tag"},          {"log", std::nullopt},         {"colour", std::nullopt},
      {"TIMEOUT", "timeout"},  {"", std::nullopt},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.word);
    EXPECT_EQ(closestKey(tc.word, keys), tc.want);
  }
}

TEST(Checks, ParseInteger) {
  struct Case {
    std::string_view text;
    IntParse want;
    long long value;
  };
  const Case cases[] = {
      {"0", IntParse::Ok, 0},
      {"42", IntParse::Ok, 42},
      {"+7", IntParse::Ok, 7},
      {"-7", IntParse::Ok, -7},
      {"007", IntParse::Ok, 7},
      {"9223372036854775807", IntParse::Ok, 9223372036854775807LL},
      {"9223372036854775808", IntParse::OutOfRange, 0},
      {"-99999999999999999999", IntParse::OutOfRange, 0},
      {"", IntParse::NotAnInteger, 0},
      {"+", IntParse::NotAnInteger, 0},
      {"5.5", IntParse::NotAnInteger, 0},
      {"12abc", IntParse::NotAnInteger, 0},
      {"0x10", IntParse::NotAnInteger, 0},
      {" 5", IntParse::NotAnInteger, 0},
      {"1_000", IntParse::NotAnInteger, 0},
      {"+-1", IntParse::NotAnInteger, 0},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.text);
    long long got = 0;
    EXPECT_EQ(parseInteger(tc.text, got), tc.want);
    if (tc.want == IntParse::Ok) {
      EXPECT_EQ(got, tc.value);
    }
  }
}

TEST(Checks, ParseNumber) {
  struct Case {
    std::string_view text;
    bool ok;
    double value;
  };
  const Case cases[] = {
      {"5", true, 5.0},      {"5.5", true, 5.5},  {"-1.25", true, -1.25}, {"+3", true, 3.0},
      {".5", true, 0.5},     {"5.", true, 5.0},   {"1e3", true, 1000.0},  {"2.5E-1", true, 0.25},
      {"", false, 0},        {".", false, 0},     {"e3", false, 0},       {"1e", false, 0},
      {"inf", false, 0},     {"nan", false, 0},   {".inf", false, 0},     {"1e999", false, 0},
      {"0x1p3", false, 0},   {"5 ", false, 0},    {"1,5", false, 0},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.text);
    double got = 0;
    EXPECT_EQ(parseNumber(tc.text, got), tc.ok);
    if (tc.ok) {
      EXPECT_EQ(got, tc.value);
    }
  }
}

TEST(Checks, ParseOctalMode) {
  struct Case {
    std::string_view text;
    bool ok;
    unsigned value;
  };
  const Case cases[] = {
      {"0660", true, 0660}, {"660", true, 0660}, {"0o640", true, 0640}, {"0", true, 0},
      {"0777", true, 0777}, {"1000", false, 0},  {"0999", false, 0},    {"", false, 0},
      {"0o", false, 0},     {"rw-", false, 0},   {"-660", false, 0},    {"00660", false, 0},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.text);
    unsigned got = 0;
    EXPECT_EQ(parseOctalMode(tc.text, got), tc.ok);
    if (tc.ok) {
      EXPECT_EQ(got, tc.value);
    }
  }
}

// Each check: the text, and whether it is accepted.
struct AcceptCase {
  std::string_view text;
  bool ok;
};

void expectAccepts(Problem (*check)(std::string_view), std::initializer_list<AcceptCase> cases) {
  for (const AcceptCase& tc : cases) {
    SCOPED_TRACE(tc.text);
    const Problem got = check(tc.text);
    EXPECT_EQ(!got.has_value(), tc.ok) << "got " << got.value_or("(accepted)");
  }
}

TEST(Checks, Resolver) {
  expectAccepts(checkResolver, {{"127.0.0.1", true},
                                {"127.0.0.1@5353", true},
                                {"::1", true},
                                {"2001:db8::1@53", true},
                                {"::ffff:192.0.2.1", true},
                                {"", false},
                                {"@53", false},
                                {"127.0.0.1@", false},
                                {"127.0.0.1@65536", false},
                                {"[::1]", false},
                                {"localhost", false},
                                {"1.2.3", false}});
}

TEST(Checks, EnhancedCode) {
  expectAccepts(checkEnhancedCode, {{"5.7.1", true},
                                    {"4.7.0", true},
                                    {"2.0.0", true},
                                    {"5.123.456", true},
                                    {"3.0.0", false},
                                    {"5.7", false},
                                    {"5.7.1.2", false},
                                    {"5.7.1234", false},
                                    {"5..1", false},
                                    {"55.7.1", false},
                                    {"", false}});
}

TEST(Checks, ReplyText) {
  auto text400 = [](std::string_view s) { return checkReplyText(s, 400); };
  for (const AcceptCase& tc : std::initializer_list<AcceptCase>{
           {"Message rejected by policy", true},
           {"100% sure: {}[]~", true},
           {"", false},
           {"a\r\nb", false},
           {"a\nb", false},
           {"tab\there", false},
           {"caf\xc3\xa9", false},
           {std::string_view("nul\0x", 5), false}}) {
    SCOPED_TRACE(tc.text);
    EXPECT_EQ(!text400(tc.text).has_value(), tc.ok);
  }
  EXPECT_TRUE(checkReplyText(std::string(401, 'x'), 400).has_value());
  EXPECT_FALSE(checkReplyText(std::string(400, 'x'), 400).has_value());
}

TEST(Checks, AuthservIdAndAccounts) {
  expectAccepts(checkAuthservId, {{"mx.example.org", true},
                                  {"localhost", true},
                                  {"mx_1-a.example", true},
                                  {"", false},
                                  {".example", false},
                                  {"example.", false},
                                  {"a;b", false},
                                  {"a b", false},
                                  {"\"quoted\"", false}});
  expectAccepts(checkAccountName, {{"", true},
                                   {"mailwarden", true},
                                   {"_mw-1.x", true},
                                   {"-x", false},
                                   {"a b", false},
                                   {"a:b", false},
                                   {std::string_view("0123456789012345678901234567890123"),
                                    false}});
}

}  // namespace
}  // namespace mw::config::detail
