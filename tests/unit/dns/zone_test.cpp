// Tests of dns/zone.h: every Status a ZoneResolver can give, records added in code, and
// RFC 1035 master files with the ;@timeout / ;@servfail pragmas.
#include "mailwarden/dns/zone.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing.h"

namespace mw::dns {
namespace {

using testing::render;

struct QueryCase {
  const char* name;
  std::string qname;
  Type type;
  std::string want;  // render() of the answer
};

void runCases(ZoneResolver& z, const std::vector<QueryCase>& cases,
              const Budget& budget = Budget::unlimited()) {
  for (const QueryCase& tc : cases) {
    SCOPED_TRACE(tc.name);
    const std::string got = render(z.query(tc.qname, tc.type, budget));
    EXPECT_EQ(got, tc.want) << "query " << tc.qname << " " << toString(tc.type) << ": got "
                            << got << " want " << tc.want;
  }
}

// The records the in-memory cases share: what the SPF suite's zonedata turns into.
void fillInMemory(ZoneResolver& z) {
  z.addTxt("example.com", "v=spf1 mx -all");
  z.addTxt("Example.COM.", "second record");
  z.addTxt("example.com", "v=spf1 mx -all");  // a duplicate: one RRset member (RFC 2181 §5)
  ASSERT_TRUE(z.addA("example.com", "192.0.2.1"));
  ASSERT_TRUE(z.addA("example.com", "192.0.2.2"));
  ASSERT_TRUE(z.addAaaa("example.com", "2001:db8::1"));
  z.addMx("example.com", 10, "Mail.Example.com.");
  z.addMx("example.com", 20, "backup.example.net");
  z.addPtr("1.2.0.192.in-addr.arpa", "Mail.Example.COM");
  z.addTxt(std::string("nul.example.com"), std::string("a\0b", 3));
  z.addTxt("empty-txt.example.com", "");
  // a.b.c.deep.example.com exists, so b.c.deep..., c.deep..., deep... are empty non-terminals.
  z.addTxt("a.b.c.deep.example.com", "deep");
  z.addEmpty("exists.example.com");
  // CNAME chain alias1 -> alias2 -> example.com; a loop; a self-loop; a dangling alias.
  z.addCname("alias1.example.com", "Alias2.example.com.");
  z.addCname("alias2.example.com", "example.com");
  z.addCname("loop1.example.com", "loop2.example.com");
  z.addCname("loop2.example.com", "LOOP1.example.com");
  z.addCname("self.example.com", "self.example.com.");
  z.addCname("dangling.example.com", "nowhere.example.com");
  // eight1 -> ... -> eight8 -> example.com: 8 CNAMEs, the most followed; nine1..nine9: 9.
  for (int i = 1; i < 8; ++i) {
    z.addCname("eight" + std::to_string(i) + ".example.com",
               "eight" + std::to_string(i + 1) + ".example.com");
  }
  z.addCname("eight8.example.com", "example.com");
  for (int i = 1; i < 9; ++i) {
    z.addCname("nine" + std::to_string(i) + ".example.com",
               "nine" + std::to_string(i + 1) + ".example.com");
  }
  z.addCname("nine9.example.com", "example.com");
  // Failure injection: every type, only some types, a name that has no records at all,
  // and the target of an alias.
  z.setTimeout("slow.example.com");
  z.setTimeout("txtslow.example.com", {Type::TXT, Type::MX});
  ASSERT_TRUE(z.addA("txtslow.example.com", "192.0.2.9"));
  z.setServfail("broken.example.com.");
  z.setServfail("aaaabroken.example.com", {Type::AAAA});
  ASSERT_TRUE(z.addA("aaaabroken.example.com", "192.0.2.10"));
  z.addCname("to-slow.example.com", "slow.example.com");
  z.setTimeout("both.example.com");
  z.setServfail("both.example.com");
}

TEST(ZoneResolver, InMemoryAnswers) {
  ZoneResolver z;
  fillInMemory(z);
  runCases(z, {
      {"TXT, duplicates collapsed, name case-insensitive", "EXAMPLE.com", Type::TXT,
       "ok TXT \"v=spf1 mx -all\" TXT \"second record\""},
      {"trailing dot in the query", "example.com.", Type::A, "ok A 192.0.2.1 A 192.0.2.2"},
      {"AAAA", "example.com", Type::AAAA, "ok AAAA 2001:db8::1"},
      {"MX in order added, exchange lower-cased", "example.com", Type::MX,
       "ok MX 10 mail.example.com MX 20 backup.example.net"},
      {"PTR target lower-cased", "1.2.0.192.in-addr.arpa", Type::PTR, "ok PTR mail.example.com"},
      {"TXT with NUL", "nul.example.com", Type::TXT, "ok TXT \"a\\000b\""},
      {"empty TXT string is a record", "empty-txt.example.com", Type::TXT, "ok TXT \"\""},
      {"NXDOMAIN", "nowhere.example.com", Type::TXT, "nxdomain"},
      {"NXDOMAIN below an existing name", "x.example.com.example.com", Type::A, "nxdomain"},
      {"NXDOMAIN below a leaf", "z.a.b.c.deep.example.com", Type::TXT, "nxdomain"},
      {"NODATA: name has other types", "1.2.0.192.in-addr.arpa", Type::TXT, "nodata"},
      {"NODATA: addEmpty", "exists.example.com", Type::A, "nodata"},
      {"NODATA: empty non-terminal", "b.c.deep.example.com", Type::TXT, "nodata"},
      {"NODATA: empty non-terminal, higher", "deep.example.com", Type::A, "nodata"},
      {"NODATA: parent of everything", "com", Type::MX, "nodata"},
      {"leaf of the empty non-terminals", "a.b.c.deep.example.com", Type::TXT,
       "ok TXT \"deep\""},
  });
}

TEST(ZoneResolver, CnameChains) {
  ZoneResolver z;
  fillInMemory(z);
  runCases(z, {
      {"two hops", "alias1.example.com", Type::A, "ok A 192.0.2.1 A 192.0.2.2"},
      {"two hops, NODATA at the end", "alias1.example.com", Type::PTR, "nodata"},
      {"dangling alias: NXDOMAIN of the target (RFC 6604)", "dangling.example.com", Type::TXT,
       "nxdomain"},
      {"8 CNAMEs are followed", "eight1.example.com", Type::AAAA, "ok AAAA 2001:db8::1"},
      {"the 9th is not", "nine1.example.com", Type::A,
       "malformed (CNAME chain longer than 8 at nine9.example.com)"},
      {"loop", "loop1.example.com", Type::TXT, "malformed (CNAME loop at loop1.example.com)"},
      {"loop entered from its other end", "LOOP2.example.com", Type::TXT,
       "malformed (CNAME loop at loop2.example.com)"},
      {"self loop", "self.example.com", Type::MX, "malformed (CNAME loop at self.example.com)"},
      {"alias of a timing-out name", "to-slow.example.com", Type::A, "tempfail (timeout)"},
  });
}

TEST(ZoneResolver, InjectedFailures) {
  ZoneResolver z;
  fillInMemory(z);
  runCases(z, {
      {"timeout, every type", "slow.example.com", Type::A, "tempfail (timeout)"},
      {"timeout, every type (PTR)", "SLOW.example.com.", Type::PTR, "tempfail (timeout)"},
      {"timeout for TXT", "txtslow.example.com", Type::TXT, "tempfail (timeout)"},
      {"timeout for MX", "txtslow.example.com", Type::MX, "tempfail (timeout)"},
      {"no timeout for A", "txtslow.example.com", Type::A, "ok A 192.0.2.9"},
      {"servfail, every type", "broken.example.com", Type::TXT, "tempfail (SERVFAIL)"},
      {"servfail for AAAA", "aaaabroken.example.com", Type::AAAA, "tempfail (SERVFAIL)"},
      {"no servfail for A", "aaaabroken.example.com", Type::A, "ok A 192.0.2.10"},
      {"timeout wins over servfail", "both.example.com", Type::A, "tempfail (timeout)"},
  });
}

TEST(ZoneResolver, InvalidNamesArePermFailWithoutLookingUp) {
  ZoneResolver z;
  fillInMemory(z);
  z.setTimeout("a..b");  // must not be reached: the name check comes first
  runCases(z, {
      {"empty", "", Type::TXT, "permfail (not a DNS name)"},
      {"empty label", "a..b", Type::TXT, "permfail (not a DNS name)"},
      {"label of 64", std::string(64, 'x') + ".example.com", Type::A,
       "permfail (not a DNS name)"},
      {"name of 254", std::string(50, 'x') + "." + std::string(50, 'x') + "." +
                          std::string(50, 'x') + "." + std::string(50, 'x') + "." +
                          std::string(50, 'x') + "." + "abcd",
       Type::A, "permfail (not a DNS name)"},
  });
}

TEST(ZoneResolver, ExhaustedBudgetIsTempFailWithoutAnswer) {
  ZoneResolver z;
  fillInMemory(z);
  const Budget spent(std::chrono::milliseconds(0));
  runCases(z,
           {
               {"existing name", "example.com", Type::TXT, "tempfail (DNS budget exhausted)"},
               {"missing name", "nowhere.example.com", Type::A, "tempfail (DNS budget exhausted)"},
               {"bad name is still permfail", "a..b", Type::A, "permfail (not a DNS name)"},
           },
           spent);
}

TEST(ZoneResolver, BadAddressesAreErrors) {
  ZoneResolver z;
  struct Case {
    const char* name;
    bool v6;
    const char* address;
  };
  const Case cases[] = {
      {"v4 with v6 text", false, "2001:db8::1"}, {"v4 out of range", false, "192.0.2.256"},
      {"v4 short", false, "192.0.2"},           {"v6 with v4 text", true, "192.0.2.1"},
      {"v6 garbage", true, "2001:db8:::1"},      {"empty", true, ""},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    const Result<void> r = tc.v6 ? z.addAaaa("x.example", tc.address) : z.addA("x.example", tc.address);
    ASSERT_FALSE(r) << "got success want an error";
    EXPECT_EQ(r.error().code, Errc::Invalid);
  }
  // Nothing was added: the name does not exist.
  EXPECT_EQ(render(z.query("x.example", Type::A, Budget::unlimited())), "nxdomain");
}

}  // namespace
}  // namespace mw::dns
