// Tests of message/address.h: the strict RFC 5322 address-list parser that gives DMARC
// its author domain — display-name tricks, groups, comments, obs- forms, refusals.
#include "mailwarden/message/address.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mw::message {
namespace {

// domains - the domains of the mailboxes, or "ERR: why".
std::vector<std::string> domains(std::string_view v) {
  auto r = parseAddressList(v);
  if (!r) {
    return {"ERR: " + r.error()};
  }
  std::vector<std::string> out;
  for (const Mailbox& m : *r) {
    out.push_back(m.domain);
  }
  return out;
}

using V = std::vector<std::string>;

TEST(Address, PlainForms) {
  EXPECT_EQ(domains("user@example.com"), V{"example.com"});
  EXPECT_EQ(domains("<user@example.com>"), V{"example.com"});
  EXPECT_EQ(domains(" <user@example.com > "), V{"example.com"});
  EXPECT_EQ(domains("Sample User <user@EXAMPLE.Com>"), V{"example.com"});
  EXPECT_EQ(domains("\"Sample User\" <user@example.com>"), V{"example.com"});
  EXPECT_EQ(domains("user@example.com (Sample User)"), V{"example.com"});
  EXPECT_EQ(domains("J. Smith <j@example.com>"), V{"example.com"});  // obs-phrase
  EXPECT_EQ(domains("\"john smith\"@example.com"), V{"example.com"});
  EXPECT_EQ(domains("first.last@sub.example.com."), V{"sub.example.com"});
  EXPECT_EQ(domains("user@example (c) . com"), V{"example.com"});  // obs-domain
}

TEST(Address, DisplayNameTricks) {
  // The quoted '@' and ',' are text: the only address is the one in angle brackets.
  EXPECT_EQ(domains("\"user@paypal.com\" <evil@attacker.example>"), V{"attacker.example"});
  EXPECT_EQ(domains("\"paypal.com, Inc\" <evil@attacker.example>"), V{"attacker.example"});
  EXPECT_EQ(domains("(user@paypal.com) evil@attacker.example"), V{"attacker.example"});
  EXPECT_EQ(domains("\"a\\\"b@paypal.com\" <e@attacker.example>"), V{"attacker.example"});
  // An unquoted '@' in a display name is not a mailbox: refused, never guessed.
  EXPECT_EQ(domains("user@paypal.com <evil@attacker.example>").front().substr(0, 4), "ERR:");
  EXPECT_EQ(domains("paypal.com <evil@attacker.example>"), V{"attacker.example"});
}

TEST(Address, SeveralAndGroups) {
  EXPECT_EQ(domains("a@x.example, Sample2 <b@y.example>"), (V{"x.example", "y.example"}));
  EXPECT_EQ(domains("Team: a@x.example, b@y.example;"), (V{"x.example", "y.example"}));
  EXPECT_EQ(domains("undisclosed-recipients:;"), V{});
  EXPECT_EQ(domains(", a@x.example,,"), V{"x.example"});  // obs-mbox-list
}

TEST(Address, Refusals) {
  for (std::string_view bad : {
           "", "   ", "(only a comment)", "\"Test 1.1.5\"", "Sample User",
           "<@relay.example:user@example.com>",  // obs-route
           "user@[192.0.2.1]", "user@", "@example.com", "user@example..com",
           "<user@example.com", "\"unterminated <a@b.example>", "a@b.example (open",
           "a@b.example b@c.example", "G: a@x.example", "G: H: a@x.example;;",
           "user@exa\x01mple.com", "us\xffr@example.com", "a.@example.com"}) {
    auto r = parseAddressList(bad);
    EXPECT_FALSE(r) << "accepted: " << bad;
  }
}

TEST(Address, Utf8Rfc6532) {
  auto r = parseAddressList("J\xc3\xb6rg <j\xc3\xb6rg@B\xc3\xbc\x63her.example>");
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].domain, "b\xc3\xbc\x63her.example");
  EXPECT_TRUE((*r)[0].international);
  EXPECT_EQ((*r)[0].display_name, "J\xc3\xb6rg");
}

TEST(Address, Bounds) {
  std::string many;
  for (int i = 0; i < 150; ++i) {
    many += "a@x.example,";
  }
  EXPECT_FALSE(parseAddressList(many));
  EXPECT_FALSE(parseAddressList(std::string(20000, 'a') + "@x.example"));
  std::string deep = std::string(100, '(') + std::string(100, ')') + "a@x.example";
  EXPECT_FALSE(parseAddressList(deep));
}

}  // namespace
}  // namespace mw::message
