// base/ — Error rendering, ASCII helpers, client networks.
#include <gtest/gtest.h>

#include "mailwarden/base/ascii.h"
#include "mailwarden/base/clock.h"
#include "mailwarden/base/network.h"
#include "mailwarden/base/result.h"

namespace mw {
namespace {

TEST(Error, DescribeShapes) {
  EXPECT_EQ(Error::at({"a.yaml", 12}, Errc::Invalid, "bad").describe(), "a.yaml:12: bad");
  EXPECT_EQ(Error::at({"a.yaml", 0}, Errc::Invalid, "unreadable").describe(), "a.yaml: unreadable");
  EXPECT_EQ((Error{Errc::Internal, "plain"}).describe(), "plain");
}

TEST(Result, CarriesErrorOrValue) {
  auto half = [](int x) -> Result<int> {
    if (x % 2 != 0) {
      return fail(Errc::Invalid, "odd");
    }
    return x / 2;
  };
  ASSERT_TRUE(half(4));
  EXPECT_EQ(*half(4), 2);
  ASSERT_FALSE(half(3));
  EXPECT_EQ(half(3).error().message, "odd");
}

TEST(Ascii, Table) {
  EXPECT_TRUE(ascii::iequals("Authentication-Results", "authentication-RESULTS"));
  EXPECT_FALSE(ascii::iequals("abc", "abcd"));
  // Bytes above 0x7f are not letters: no locale folding.
  EXPECT_FALSE(ascii::iequals("\xc3\x89", "\xc3\xa9"));
  EXPECT_EQ(ascii::lower("MiXeD-1"), "mixed-1");
  EXPECT_EQ(ascii::trim(" \t\r\nx y\r\n"), "x y");
  EXPECT_EQ(ascii::trim("   "), "");
}

TEST(Ascii, EscapeUnprintable) {
  EXPECT_EQ(ascii::escapeUnprintable("plain text <a@b>"), "plain text <a@b>");
  EXPECT_EQ(ascii::escapeUnprintable("a\r\nb\tc\x7F\x80\xFF%"), "a%0D%0Ab%09c%7F%80%FF%25");
  EXPECT_EQ(ascii::escapeUnprintable(std::string("n\0l", 3)), "n%00l");
  EXPECT_EQ(ascii::escapeUnprintable("j\xC3\xB6rg"), "j%C3%B6rg");
  EXPECT_EQ(ascii::escapeUnprintable("abcdef", 3), "abc...");
  EXPECT_EQ(ascii::escapeUnprintable("abc", 3), "abc");
  EXPECT_EQ(ascii::escapeUnprintable(std::string(10000, '\n'), 256).size(), 256u * 3 + 3);
}

TEST(Clock, FixedIsFixed) {
  FixedClock c(1700000000);
  EXPECT_EQ(c.now(), 1700000000);
  SystemClock s;
  EXPECT_GT(s.now(), 1600000000);
}

// dmarc.exceptions.networks and bypass.trusted_networks share this parser.
TEST(Network, Cidr) {
  using net::contains;
  using net::parseNetwork;
  auto n = parseNetwork("192.0.2.0/24");
  ASSERT_TRUE(n);
  EXPECT_TRUE(contains(*n, "192.0.2.77"));
  EXPECT_TRUE(contains(*n, "::ffff:192.0.2.1"));  // IPv4-mapped: the v4 network
  EXPECT_FALSE(contains(*n, "192.0.3.1"));
  EXPECT_FALSE(contains(*n, "2001:db8::1"));
  auto m = parseNetwork("2001:db8::/33");
  ASSERT_TRUE(m);
  EXPECT_TRUE(contains(*m, "2001:db8:7fff::1"));
  EXPECT_FALSE(contains(*m, "2001:db8:8000::1"));
  EXPECT_FALSE(contains(*m, "192.0.2.1"));
  EXPECT_FALSE(parseNetwork("192.0.2.0/33"));
  EXPECT_FALSE(parseNetwork("2001:db8::/129"));
  EXPECT_FALSE(parseNetwork("192.0.2.0/"));
  EXPECT_FALSE(parseNetwork("192.0.2.0/2a"));
  EXPECT_FALSE(parseNetwork("example.com"));
  EXPECT_FALSE(parseNetwork(""));
  EXPECT_TRUE(contains(*parseNetwork("0.0.0.0/0"), "203.0.113.5"));
  EXPECT_TRUE(contains(*parseNetwork("::/0"), "2001:db8::5"));
  EXPECT_FALSE(contains(*parseNetwork("::/0"), "203.0.113.5"));
  // A single address is a /32 or a /128; host bits of a network are ignored.
  EXPECT_TRUE(contains(*parseNetwork("198.51.100.7"), "198.51.100.7"));
  EXPECT_FALSE(contains(*parseNetwork("198.51.100.7"), "198.51.100.8"));
  EXPECT_TRUE(contains(*parseNetwork("198.51.100.7/29"), "198.51.100.1"));
  EXPECT_TRUE(contains(*parseNetwork("2001:db8::1"), "2001:DB8:0::1"));
  EXPECT_FALSE(contains(*n, "not an address"));
  EXPECT_FALSE(contains(*n, ""));
}

TEST(Network, FirstContaining) {
  std::vector<net::Network> nets = {*net::parseNetwork("2001:db8::/32"),
                                    *net::parseNetwork("192.0.2.0/24"),
                                    *net::parseNetwork("192.0.2.128/25")};
  EXPECT_EQ(net::firstContaining(nets, "192.0.2.200"), std::optional<std::size_t>(1));
  EXPECT_EQ(net::firstContaining(nets, "2001:db8:1::25"), std::optional<std::size_t>(0));
  EXPECT_EQ(net::firstContaining(nets, "203.0.113.1"), std::nullopt);
  EXPECT_EQ(net::firstContaining(nets, ""), std::nullopt);
  EXPECT_EQ(net::firstContaining(nets, "garbage"), std::nullopt);
  EXPECT_EQ(net::firstContaining({}, "192.0.2.1"), std::nullopt);
}

}  // namespace
}  // namespace mw
