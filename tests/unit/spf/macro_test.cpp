// Tests of macro expansion (src/spf/macro.h): the examples of RFC 7208 §7.4, URL
// escaping, truncation to 253 octets, and client addresses.
#include "spf/macro.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mw::spf::detail {
namespace {

std::string expand(const std::string& spec, const IpAddress& ip, std::string_view sender = "strong-bad@email.example.com") {
  const Parsed<MacroString> parsed = parseExplainString(spec);
  EXPECT_TRUE(parsed) << spec;
  const std::size_t at = sender.rfind('@');
  MacroContext ctx;
  ctx.sender = sender;
  ctx.local_part = sender.substr(0, at);
  ctx.sender_domain = sender.substr(at + 1);
  ctx.domain = "email.example.com";
  ctx.ip = &ip;
  ctx.helo = "mx.example.org";
  ctx.receiving_host = "mx.receiver.example";
  ctx.now = 1700000000;
  return expandDomain(*parsed, ctx);
}

TEST(SpfMacro, Rfc7208Section74Examples) {
  const IpAddress v4 = *IpAddress::parse("192.0.2.3");
  const IpAddress v6 = *IpAddress::parse("2001:db8::cb01");
  struct Row {
    const char* spec;
    const char* want;
  };
  const std::vector<Row> rows = {
      {"%{s}", "strong-bad@email.example.com"},
      {"%{o}", "email.example.com"},
      {"%{d}", "email.example.com"},
      {"%{d4}", "email.example.com"},
      {"%{d3}", "email.example.com"},
      {"%{d2}", "example.com"},
      {"%{d1}", "com"},
      {"%{dr}", "com.example.email"},
      {"%{d2r}", "example.email"},
      {"%{l}", "strong-bad"},
      {"%{l-}", "strong.bad"},
      {"%{lr}", "strong-bad"},
      {"%{lr-}", "bad.strong"},
      {"%{l1r-}", "strong"},
      {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
      {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
      {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
      {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
      {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(expand(r.spec, v4), r.want) << r.spec;
  }
  EXPECT_EQ(expand("%{ir}.%{v}._spf.%{d2}", v6),
            "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com");
}

TEST(SpfMacro, ExplanationLettersAndEscapes) {
  const IpAddress v6 = *IpAddress::parse("CAFE:BABE::1");
  const Parsed<MacroString> text = parseExplainString("%{c} %{r} %{t} %% %_ %- %{L}");
  ASSERT_TRUE(text);
  MacroContext ctx;
  ctx.sender = "~jack&jill=up-a_b3.c@example.com";
  ctx.local_part = "~jack&jill=up-a_b3.c";
  ctx.ip = &v6;
  ctx.receiving_host = "mx.example";
  ctx.now = 42;
  EXPECT_EQ(expandExplanation(*text, ctx), "cafe:babe::1 mx.example 42 %   %20 ~jack%26jill%3Dup-a_b3.c");
}

TEST(SpfMacro, TruncatesTheLeftToFit) {
  const IpAddress v4 = *IpAddress::parse("192.0.2.3");
  // 8 x "somewhat.long.exp.example.com" (29 + 1 octets) + "foobar." + ".example.com".
  std::string spec = "foobar";
  for (int i = 0; i < 8; ++i) {
    spec += ".%{o}";
  }
  spec += ".example.com";
  const std::string got = expand(spec, v4, "test@somewhat.long.exp.example.com");
  EXPECT_LE(got.size(), 253u);
  EXPECT_EQ(got.rfind("somewhat.long.exp.example.com.", 0), 0u) << got;
  EXPECT_EQ(got.size(), 8u * 30u + 11u);  // "foobar." went
  // One label longer than 253 octets with nothing after it: nothing fits.
  EXPECT_EQ(expand("%{l}", v4, std::string(300, 'x') + "@example.com"), "");
  // ... with labels after it: the long label goes, the rest stays.
  EXPECT_EQ(expand("%{l}.example.com", v4, std::string(300, 'x') + "@example.com"), "example.com");
  // The trailing dot of a domain is removed.
  EXPECT_EQ(expand("%{d}.", v4), "email.example.com");
}

TEST(SpfMacro, ClientAddresses) {
  const auto mapped = IpAddress::parse("::FFFF:1.2.3.4");
  ASSERT_TRUE(mapped);
  EXPECT_FALSE(mapped->v6);  // RFC 7208 §5: IPv4-mapped is IPv4
  EXPECT_EQ(mapped->text(), "1.2.3.4");
  EXPECT_EQ(mapped->reverseName(), "4.3.2.1.in-addr.arpa");
  const auto v6 = IpAddress::parse("2001:db8::1");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->v6);
  EXPECT_EQ(v6->reverseName(),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6.arpa");
  EXPECT_FALSE(IpAddress::parse("1.2.3"));
  EXPECT_FALSE(IpAddress::parse(""));
  EXPECT_FALSE(IpAddress::parse("example.com"));
  std::array<std::uint8_t, 16> net{192, 0, 2, 0};
  const auto ip = IpAddress::parse("192.0.2.77");
  EXPECT_TRUE(ip->inNetwork(net, 24));
  EXPECT_TRUE(ip->inNetwork(net, 0));
  EXPECT_TRUE(ip->inNetwork(net, 25));
  EXPECT_FALSE(ip->inNetwork(net, 26));
  EXPECT_FALSE(ip->inNetwork(net, 32));
}

TEST(SpfMacro, QueryableNames) {
  EXPECT_TRUE(isQueryable("example.com"));
  EXPECT_TRUE(isQueryable("example.com."));
  EXPECT_TRUE(isQueryable("foo:bar/baz.example.com"));
  EXPECT_FALSE(isQueryable("mail.example...com"));
  EXPECT_FALSE(isQueryable(std::string(64, 'a') + ".example.com"));
  EXPECT_TRUE(isQueryable("macro%percent  space%20url-space.example.com"));
  EXPECT_FALSE(isQueryable(std::string("nul\0.example.com", 16)));
  EXPECT_FALSE(isCheckableDomain("Macro Error.example.com"));
  EXPECT_FALSE(isQueryable(""));
  EXPECT_FALSE(isCheckableDomain("A2345678"));
  EXPECT_FALSE(isCheckableDomain("[1.2.3.5]"));
  EXPECT_TRUE(isCheckableDomain("example.com"));
}

}  // namespace
}  // namespace mw::spf::detail
