// base/ — Error rendering and ASCII helpers.
#include <gtest/gtest.h>

#include "mailwarden/base/ascii.h"
#include "mailwarden/base/clock.h"
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

}  // namespace
}  // namespace mw
