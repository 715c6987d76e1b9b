// Tests of spf/record.h: a table of records the strict RFC 7208 parser must accept and
// a table it must reject, each with the reason (the RFC 7208 section or ABNF rule).
#include "mailwarden/spf/record.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mw::spf {
namespace {

struct Case {
  std::string record;
  const char* why;  // RFC 7208 section or the ABNF rule that decides
};

TEST(SpfRecord, AcceptsValidRecords) {
  const std::vector<Case> valid = {
      {"v=spf1", "§4.5: the version alone is an empty record"},
      {"V=SpF1 -ALL", "§4.5, §4.6.1: version and names are case-insensitive"},
      {"v=spf1 a  -all", "§4.6.1: terms are separated by one or more SP"},
      {"v=spf1 a -all ", "§12: record = version terms *SP"},
      {"v=spf1 +all ?all ~all -all all", "§4.6.2: all four qualifiers and none"},
      {"v=spf1 include:_spf.example.com", "§5.2"},
      {"v=spf1 include:o.spf.example.com.", "§12 domain-end: \".\" toplabel [\".\"]"},
      {"v=spf1 a mx ptr", "§5.3-5.5: no domain-spec means <domain>"},
      {"v=spf1 a:mail.example.com/24//64", "§12 dual-cidr-length"},
      {"v=spf1 a/0 a//0 mx/0 mx//0", "§5.3/3: /0 is a valid CIDR length"},
      {"v=spf1 a//64 mx:example.com//128", "§12: ip6-cidr-length alone"},
      {"v=spf1 a//33 mx//33 -all", "§5.6: /33 is a valid IPv6 length"},
      {"v=spf1 a:foo:bar/baz.example.com", "§7.1: macro-literal includes ':' and '/'"},
      {"v=spf1 a:foo.example.xn--zckzah", "§12 toplabel may contain dashes"},
      {"v=spf1 a:example.1-2", "§12 toplabel: 1*alphanum \"-\" ... alphanum"},
      {"v=spf1 ptr:example.com", "§5.5"},
      {"v=spf1 ip4:192.0.2.0/24 ip4:1.1.1.1/0 ip4:192.0.2.1/32", "§5.6 CIDR 0..32"},
      {"v=spf1 ip6:2001:db8::/32 ip6:::1.1.1.1/0 ip6:::1/128", "§5.6 CIDR 0..128"},
      {"v=spf1 ip6:Cafe:Babe:8000::/33", "§5.6: hex digits in either case"},
      {"v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d}", "§5.7 with §7.1 macros"},
      {"v=spf1 exists:%{i}.%{L2R-}.user.%{D2}", "§7.1: upper-case letters URL-escape"},
      {"v=spf1 a:macro%%percent%_%_space%-url-space.example.com", "§7.1 escapes"},
      {"v=spf1 exists:%{d}", "§12 domain-end: a final macro-expand"},
      {"v=spf1 exists:%{d}%-", "§12 domain-end: \"%-\" is a macro-expand"},
      {"v=spf1 redirect=_spf.example.com", "§6.1"},
      {"v=spf1 -all exp=explain.%{d}", "§6.2"},
      {"v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all",
       "§12 name = ALPHA *( ALPHA / DIGIT / \"-\" / \"_\" / \".\" )"},
      {"v=spf1 default=pass", "§6: unknown modifiers are ignored"},
      {"v=spf1 default=+ foo=", "§12: an unknown-modifier value may be empty"},
      {"v=spf1 exists:%{d128}.example.com", "§7.3: DIGIT up to 128 (capped above)"},
      {"v=spf1 exists:%{d999}.example.com", "§7.3: larger DIGITs mean all parts"},
      {"v=spf1 exists:%{l.-+,/_=}.example.com", "§7.1: every delimiter"},
  };
  for (const Case& c : valid) {
    const Parsed<Record> r = parseRecord(c.record);
    EXPECT_TRUE(r.has_value()) << "record '" << c.record << "' (" << c.why
                               << "): got error: " << (r ? "" : r.error().describe());
  }
}

TEST(SpfRecord, RejectsInvalidRecords) {
  const std::vector<Case> invalid = {
      {"v=spf10", "§4.5: version must end in SP or end of record"},
      {"spf1 -all", "§4.5: no version"},
      {"v=spf1 ip4:1.2.3.4 -all moo", "§4.6: a syntax error anywhere"},
      {"v=spf1 a:\xEF\xBB\xBFgarbage.example.net -all", "§3.1: 7-bit ASCII only"},
      {"v=spf1 \x80" "a:example.net -all", "§3.1: 7-bit ASCII only"},
      {"v=spf1 a:ctrl.example.com\rptr -all", "§4.6.1: terms separated by SP only"},
      {"v=spf1 ip4:192.0.2.5\n include:example.com", "§4.6.1: no control characters"},
      {"v=spf1\ta", "§4.6.1: TAB is not a separator"},
      {std::string("v=spf1 a:foo.example.com\0", 26), "§7.1: NUL is not a macro-literal"},
      {"v=spf1 moo.cow/far_out=man:dog/cat", "§4.6.1: '=' after a ':' or '/' is no modifier"},
      {"v=spf1 moo.cow:far_out=man:dog/cat", "§4.6.1: unknown mechanism"},
      {"v=spf1 1up=foo", "§12: a modifier name starts with ALPHA"},
      {"v=spf1 =all", "§12: a modifier name is not empty"},
      {"v=spf1 redirect:t2.example.com", "§6.1: redirect is a modifier"},
      {"v=spf1 -all.", "§5.1: all = \"all\""},
      {"v=spf1 -all:foobar", "§5.1: all takes no argument"},
      {"v=spf1 -all/8", "§5.1: all takes no CIDR"},
      {"v=spf1 ptr/0 -all", "§5.5: ptr takes no CIDR"},
      {"v=spf1 ptr:", "§5.5: an empty domain-spec"},
      {"v=spf1 a:", "§5.3: an empty domain-spec"},
      {"v=spf1 a/33 -all", "§5.6: ip4-cidr-length at most 32"},
      {"v=spf1 a//129 -all", "§5.6: ip6-cidr-length at most 128"},
      {"v=spf1 a/24/64 -all", "§12: the IPv6 length needs \"//\""},
      {"v=spf1 a:foo-bar -all", "§7.1: domain-end needs \".\" toplabel"},
      {"v=spf1 a:111.222.33.44", "§12: an all-numeric toplabel"},
      {"v=spf1 a:abc.123", "§12: an all-numeric toplabel"},
      {"v=spf1 a:museum", "§12: a toplabel alone is no domain-spec"},
      {"v=spf1 a:museum.", "§12: a trailing dot does not help"},
      {"v=spf1 a:example.-com", "§12: a toplabel does not start with '-'"},
      {"v=spf1 a:example.com-", "§12: a toplabel does not end with '-'"},
      {"v=spf1 a:example.com:8080", "§12: ':' in the toplabel"},
      {"v=spf1 include", "§5.2: include needs ':' domain-spec"},
      {"v=spf1 include: -all", "§5.2: an empty domain-spec"},
      {"v=spf1 include:ip5.example.com/24", "§5.2: include takes no CIDR"},
      {"v=spf1 exists", "§5.7: exists needs ':' domain-spec"},
      {"v=spf1 exists:", "§5.7: an empty domain-spec"},
      {"v=spf1 exists:mail.example.com/24", "§5.7: exists takes no CIDR"},
      {"v=spf1 mx:abc.123", "§12: an all-numeric toplabel"},
      {"v=spf1 mx/33", "§5.6: ip4-cidr-length at most 32"},
      {"v=spf1 ip4", "§5.6: ip4 needs ':' ip4-network"},
      {"v=spf1 ip4:1.2.3.4/33", "§5.6: ip4-cidr-length at most 32"},
      {"v=spf1 ip4:1.2.3.4/032", "§12: no leading zeros in a CIDR length"},
      {"v=spf1 ip4:1.2.3.4//32", "§5.6: no dual-cidr on ip4"},
      {"v=spf1 ip4:1.2.3.4:8080", "§12 ip4-network"},
      {"v=spf1 ip4:1.2.3", "§5.6/4: no omitted octets"},
      {"v=spf1 ip4:01.2.3.4", "§12 qnum: no leading zeros"},
      {"v=spf1 ip4:256.2.3.4", "§12 qnum: at most 255"},
      {"v=spf1 ip4:1.2.3.4/", "§12: a CIDR length needs digits"},
      {"v=spf1 -all ip6", "§5.6: ip6 needs ':' ip6-network"},
      {"v=spf1 ip6:::1.1.1.1/129", "§5.6: ip6-cidr-length at most 128"},
      {"v=spf1 ip6:::1.1.1.1//33", "§5.6: no dual-cidr on ip6"},
      {"v=spf1 ip6::CAFE::BABE", "RFC 4291 §2.2: one '::' at most"},
      {"v=spf1 ip6:2001:db8::g", "RFC 4291 §2.2: hex digits only"},
      {"v=spf1 exp=e13msg.example.com -all exp=e11msg.example.com", "§6: exp= twice"},
      {"v=spf1 redirect=a.example.com -all redirect=a.example.com", "§6: redirect= twice"},
      {"v=spf1 exp= -all", "§6.2: exp needs a domain-spec"},
      {"v=spf1 exp=-all", "§6.2: '-all' is no domain-spec"},
      {"v=spf1 redirect=-all ?all", "§6.1: '-all' is no domain-spec"},
      {"v=spf1 ?all redirect=", "§6.1: redirect needs a domain-spec"},
      {"v=spf1 -all foo=%abc", "§7.1: '%' must start a macro in unknown modifiers too"},
      {"v=spf1 -exists:%(ir).sbl.example.com ?all", "§7.1/9: '%(' is no macro"},
      {"v=spf1 exists:foo%(ir).sbl.example.com", "§7.1/9"},
      {"v=spf1 exists:foo%.sbl.example.com", "§7.1/9: '%.'"},
      {"v=spf1 exists:foo.example.com%", "§7.1/9: a trailing '%'"},
      {"v=spf1 -all exp=%{r}.example.com", "§7.1/8: r only in explanation text"},
      {"v=spf1 a:%{c}.example.com", "§7.1/8: c only in explanation text"},
      {"v=spf1 a:%{t}.example.com", "§7.1/8: t only in explanation text"},
      {"v=spf1 a:%{a}.example.com", "§7.1/6: 'a' is no macro letter"},
      {"v=spf1 a:%{d0}.example.com", "§7.3: a DIGIT transformer is non-zero"},
      {"v=spf1 a:%{d}.example.com%{", "§7.1: an unterminated macro"},
      {"v=spf1 a:%{d2r!}.example.com", "§7.1: '!' is no delimiter"},
      {"v=spf1 a:%{}.example.com", "§7.1: a macro needs a letter"},
      {std::string("v=spf1 ") + std::string(5000, 'a'), "a bound: record over 4096 octets"},
  };
  for (const Case& c : invalid) {
    const Parsed<Record> r = parseRecord(c.record);
    EXPECT_FALSE(r.has_value()) << "record '" << c.record << "' must fail (" << c.why << ")";
  }
}

TEST(SpfRecord, SyntaxTree) {
  const Parsed<Record> r =
      parseRecord("v=spf1 -a:mail.%{d2}/24//64 ~mx ?ip4:192.0.2.0/25 ip6:2001:db8::/48 "
                  "include:_spf.example.com exp=why.%{d} foo=bar");
  ASSERT_TRUE(r) << r.error().describe();
  ASSERT_EQ(r->mechanisms.size(), 5u);
  const Mechanism& a = r->mechanisms[0];
  EXPECT_EQ(a.kind, MechanismKind::A);
  EXPECT_EQ(a.qualifier, Qualifier::Fail);
  EXPECT_EQ(a.cidr4, 24u);
  EXPECT_EQ(a.cidr6, 64u);
  ASSERT_TRUE(a.domain);
  EXPECT_EQ(a.domain->text, "mail.%{d2}");
  ASSERT_EQ(a.domain->items.size(), 2u);
  EXPECT_EQ(a.domain->items[1].letter, 'd');
  EXPECT_EQ(a.domain->items[1].digits, 2u);
  EXPECT_EQ(r->mechanisms[1].kind, MechanismKind::Mx);
  EXPECT_EQ(r->mechanisms[1].qualifier, Qualifier::SoftFail);
  EXPECT_FALSE(r->mechanisms[1].domain);
  EXPECT_EQ(r->mechanisms[2].cidr4, 25u);
  EXPECT_EQ(r->mechanisms[2].network[0], 192);
  EXPECT_EQ(r->mechanisms[3].cidr6, 48u);
  EXPECT_EQ(r->mechanisms[3].network[1], 0x01);
  EXPECT_TRUE(r->mechanisms[4].queriesDns());
  EXPECT_FALSE(r->redirect);
  ASSERT_TRUE(r->exp);
  ASSERT_EQ(r->unknown.size(), 1u);
  EXPECT_EQ(r->unknown[0].name, "foo");
  EXPECT_FALSE(r->hasAll());
}

TEST(SpfRecord, ErrorsNameTheTerm) {
  const Parsed<Record> r = parseRecord("v=spf1 ip4:1.2.3.4 a:ctrl.example.com\rptr -all");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().term, "a:ctrl.example.com\\x0Dptr");
  EXPECT_EQ(r.error().offset, 19u);
  EXPECT_EQ(r.error().describe(), "control character in record in 'a:ctrl.example.com\\x0Dptr'");
}

TEST(SpfRecord, SelectsVersionOne) {
  EXPECT_TRUE(isSpfRecord("v=spf1"));
  EXPECT_TRUE(isSpfRecord("V=SPF1 a"));
  EXPECT_FALSE(isSpfRecord("v=spf10"));
  EXPECT_FALSE(isSpfRecord("v=spf1\ta"));
  EXPECT_FALSE(isSpfRecord(" v=spf1"));
  EXPECT_FALSE(isSpfRecord("v=spf3 a"));
}

TEST(SpfRecord, ExplainString) {
  EXPECT_TRUE(parseExplainString("Connections from %{c} not authorized."));
  EXPECT_TRUE(parseExplainString("%{r} at %{t}: %{i}"));
  EXPECT_TRUE(parseExplainString(""));
  EXPECT_FALSE(parseExplainString("The %{x}-files."));
  EXPECT_FALSE(parseExplainString("\xEF\xBB\xBF" "Explanation"));
  EXPECT_FALSE(parseExplainString("100%"));
}

TEST(SpfRecord, DomainSpec) {
  EXPECT_TRUE(parseDomainSpec("%{d}.d.spf.example.com."));
  EXPECT_FALSE(parseDomainSpec(""));
  EXPECT_FALSE(parseDomainSpec("%{c}.example.com"));
}

}  // namespace
}  // namespace mw::spf
