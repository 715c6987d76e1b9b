// Tests of dns/zone.h: every Status a ZoneResolver can give, records added in code, and
// RFC 1035 master files with the failure pragmas (;@timeout, ;@servfail, ;@refused,
// ;@notimp, ;@formerr, ;@malformed).
#include "mailwarden/dns/zone.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing.h"

namespace mw::dns {
namespace {

using testing::QueryCase;
using testing::render;

void runCases(ZoneResolver& z, const std::vector<QueryCase>& cases,
              const Budget& budget = Budget::unlimited(), bool sorted = false) {
  for (const QueryCase& tc : cases) {
    SCOPED_TRACE(tc.name);
    const std::string got = render(z.query(tc.qname, tc.type, budget), true, sorted);
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
       "tempfail (CNAME chain longer than 8 at nine9.example.com)"},
      {"loop", "loop1.example.com", Type::TXT, "tempfail (CNAME loop at loop1.example.com)"},
      {"loop entered from its other end", "LOOP2.example.com", Type::TXT,
       "tempfail (CNAME loop at loop2.example.com)"},
      {"self loop", "self.example.com", Type::MX, "tempfail (CNAME loop at self.example.com)"},
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

TEST(ZoneResolver, InvalidNamesAreBadNameWithoutLookingUp) {
  ZoneResolver z;
  fillInMemory(z);
  z.setTimeout("a..b");  // must not be reached: the name check comes first
  runCases(z, {
      {"empty", "", Type::TXT, "badname (not a DNS name)"},
      {"empty label", "a..b", Type::TXT, "badname (not a DNS name)"},
      {"label of 64", std::string(64, 'x') + ".example.com", Type::A,
       "badname (not a DNS name)"},
      {"name of 254", std::string(50, 'x') + "." + std::string(50, 'x') + "." +
                          std::string(50, 'x') + "." + std::string(50, 'x') + "." +
                          std::string(50, 'x') + "." + "abcd",
       Type::A, "badname (not a DNS name)"},
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
               {"bad name is still badname", "a..b", Type::A, "badname (not a DNS name)"},
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

namespace mw::dns {
namespace {

using testing::render;

// The sample zone's answers (the table the UnboundResolver test checks against nsd too),
// then what only ZoneResolver answers: the pragmas, a name above the zone.
TEST(ZoneResolverFile, SampleZone) {
  ZoneResolver z;
  const Result<void> r = z.loadFile(MW_TEST_ZONES "/example.zone");
  ASSERT_TRUE(r) << r.error().describe();
  runCases(z, testing::sampleZoneCases(), Budget::unlimited(), /*sorted=*/true);
  runCases(z, {
      {"NODATA: the parent of the zone", "test", Type::TXT, "nodata"},
      {"pragma: timeout, relative name", "slow.example.test", Type::A, "tempfail (timeout)"},
      {"pragma: timeout for TXT", "txtslow.example.test", Type::TXT, "tempfail (timeout)"},
      {"pragma: timeout for MX", "txtslow.example.test", Type::MX, "tempfail (timeout)"},
      {"pragma: not for A (and the name does not exist)", "txtslow.example.test", Type::A,
       "nxdomain"},
      {"pragma: servfail", "broken.example.test", Type::PTR, "tempfail (SERVFAIL)"},
      {"pragma: servfail for AAAA, absolute name", "aaaabroken.example.test", Type::AAAA,
       "tempfail (SERVFAIL)"},
      {"pragma: not for TXT", "aaaabroken.example.test", Type::TXT, "nxdomain"},
  });
}

TEST(ZoneResolverFile, TextDirectivesAndOrigin) {
  ZoneResolver z;
  const std::string text =
      "; no $ORIGIN: relative names use the origin argument\n"
      "www 60 IN A 192.0.2.1\n"
      "$TTL 1h\n"
      "@ TXT \"at origin\"\n"
      "$ORIGIN sub.example.org.\n"
      "x TXT \"in sub\"\n"
      "y CNAME x\n"
      ";@timeout t A\n"
      "  ;@servfail s.other.example.\n"
      "$ORIGIN example.net.\n"
      "z MX 5 @\n"
      "abs.example.com. IN AAAA ::1\n";
  const Result<void> r = z.loadText(text, "inline", "example.org.");
  ASSERT_TRUE(r) << r.error().describe();
  runCases(z, {
      {"relative to the argument", "www.example.org", Type::A, "ok A 192.0.2.1"},
      {"@ is the origin", "example.org", Type::TXT, "ok TXT \"at origin\""},
      {"relative to $ORIGIN", "x.sub.example.org", Type::TXT, "ok TXT \"in sub\""},
      {"relative CNAME target", "y.sub.example.org", Type::TXT, "ok TXT \"in sub\""},
      {"pragma relative to the $ORIGIN of its line", "t.sub.example.org", Type::A,
       "tempfail (timeout)"},
      {"indented pragma, absolute", "s.other.example", Type::MX, "tempfail (SERVFAIL)"},
      {"MX exchange @", "z.example.net", Type::MX, "ok MX 5 example.net"},
      {"absolute owner", "abs.example.com", Type::AAAA, "ok AAAA ::1"},
  });
}

TEST(ZoneResolverFile, RecordsAccumulateAcrossLoads) {
  ZoneResolver z;
  ASSERT_TRUE(z.loadText("a.example. TXT \"one\"\n", "first"));
  ASSERT_TRUE(z.loadText("a.example. TXT \"two\"\nb.example. A 192.0.2.7\n", "second"));
  z.addTxt("a.example", "three");
  runCases(z, {
      {"both files and code", "a.example", Type::TXT, "ok TXT \"one\" TXT \"two\" TXT \"three\""},
      {"second file", "b.example", Type::A, "ok A 192.0.2.7"},
  });
}

TEST(ZoneResolverFile, EmptyTextLoadsNothing) {
  ZoneResolver z;
  ASSERT_TRUE(z.loadText("", "empty"));
  ASSERT_TRUE(z.loadText("; only a comment\n\n", "comment"));
  runCases(z, {{"nothing", "example.com", Type::A, "nxdomain"}});
}

TEST(ZoneResolverFile, ErrorsCarryFileAndLine) {
  struct Case {
    const char* name;
    std::string text;
    std::string origin;
    std::string want;  // Error::describe()
  };
  const Case cases[] = {
      {"bad A address", "a.example. A 192.0.2.1\nb.example. A 300.1.1.1\n", "",
       "zone:2: Syntax error, could not parse the RR's rdata: file not loaded"},
      {"unknown type, after blank and comment lines",
       "\n; comment\n\na.example. A 192.0.2.1\nb.example. BOGUS x\n", "",
       "zone:5: Syntax error, could not parse the RR's rdata: file not loaded"},
      {"last line without newline", "a.example. A 192.0.2.1\nb.example. MX x y", "",
       "zone:2: Syntax error, could not parse the RR's rdata: file not loaded"},
      {"unclosed parenthesis", "a.example. A 192.0.2.1\nb.example. TXT ( \"x\"\n\"y\"\n", "",
       "zone:2: '(' or '\"' not closed: file not loaded"},
      {"stray parenthesis", "a.example. TXT \"(\" ) \"x\"\n", "",
       "zone:1: ')' without '(': file not loaded"},
      {"multi-line entry: the line it starts on", "a.example. A 192.0.2.1\n\nb.example. MX (\n 10\n bad..name. )\n", "",
       "zone:3: Syntax error, could not parse the RR's rdata: file not loaded"},
      {"relative owner and no origin", "www A 192.0.2.1\n", "",
       "zone:1: relative owner name and no $ORIGIN: file not loaded"},
      {"relative CNAME target and no origin", "www.example. CNAME other\n", "",
       "zone:1: bad CNAME target (a relative name needs $ORIGIN): file not loaded"},
      {"relative $ORIGIN", "$ORIGIN example\n", "",
       "zone:1: $ORIGIN must be an absolute name (ending in '.'): file not loaded"},
      {"$INCLUDE", "a.example. A 192.0.2.1\n$INCLUDE /etc/passwd\n", "",
       "zone:2: $INCLUDE is not supported: file not loaded"},
      {"class other than IN", "a.example. CH TXT \"x\"\n", "",
       "zone:1: class other than IN: file not loaded"},
      {"CNAME and other data", "a.example. A 192.0.2.1\na.example. CNAME b.example.\n", "",
       "zone:2: CNAME and other data at a.example: file not loaded"},
      {"other data after CNAME", "a.example. CNAME b.example.\na.example. TXT \"x\"\n", "",
       "zone:2: CNAME and other data at a.example: file not loaded"},
      {"pragma without name", "a.example. A 192.0.2.1\n;@timeout\n", "",
       "zone:2: ;@timeout needs a NAME: file not loaded"},
      {"pragma with unknown type", ";@servfail a.example. A SPF\n", "",
       "zone:1: ;@servfail: unknown type \"SPF\" (A, AAAA, TXT, MX or PTR): file not loaded"},
      {"pragma relative without origin", "\n\n;@timeout slow\n", "",
       "zone:3: ;@timeout slow: relative name and no $ORIGIN: file not loaded"},
      {";@refused without name", ";@refused\n", "", "zone:1: ;@refused needs a NAME: file not loaded"},
      {";@malformed with unknown type", ";@malformed a.example. NS\n", "",
       "zone:1: ;@malformed: unknown type \"NS\" (A, AAAA, TXT, MX or PTR): file not loaded"},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    ZoneResolver z;
    const Result<void> r = z.loadText(tc.text, "zone", tc.origin);
    ASSERT_FALSE(r) << "got success want " << tc.want;
    const std::string got = r.error().describe();
    EXPECT_EQ(got, tc.want) << "got " << got << " want " << tc.want;
    EXPECT_EQ(r.error().code, Errc::Invalid);
    // A failed load adds nothing, not even the records before the error.
    EXPECT_EQ(render(z.query("a.example", Type::A, Budget::unlimited())), "nxdomain");
  }
}

TEST(ZoneResolverFile, MissingFile) {
  ZoneResolver z;
  const Result<void> r = z.loadFile(MW_TEST_ZONES "/does-not-exist.zone");
  ASSERT_FALSE(r);
  const std::string got = r.error().describe();
  const std::string want =
      MW_TEST_ZONES "/does-not-exist.zone: cannot open: No such file or directory";
  EXPECT_EQ(got, want) << "got " << got << " want " << want;
}

// Issue 16: every failure a test can inject, from a master file and from code, and the
// one class each falls in (the same as UnboundResolver's, rdata_test.cpp).
TEST(ZoneResolverInjected, EveryPragmaAndItsClass) {
  ZoneResolver z;
  const std::string text =
      "$ORIGIN example.org.\n"
      "ok TXT \"v=spf1 -all\"\n"
      ";@timeout t\n"
      ";@servfail s\n"
      ";@refused r\n"
      ";@notimp n TXT\n"
      ";@formerr f\n"
      ";@malformed m\n"
      ";@refused ok MX\n"
      ";@malformed both\n"
      ";@refused both\n"
      "loop1 CNAME loop2\n"
      "loop2 CNAME loop1\n"
      "to-refused CNAME r\n";
  const Result<void> r = z.loadText(text, "inline");
  ASSERT_TRUE(r) << r.error().describe();
  z.inject(Injected::NotImp, "code.example.org", {Type::A});
  struct Case {
    const char* qname;
    Type type;
    const char* want;
    Outcome outcome;
  };
  const std::vector<Case> cases = {
      {"ok.example.org", Type::TXT, "ok TXT \"v=spf1 -all\"", Outcome::Found},
      {"ok.example.org", Type::A, "nodata", Outcome::Absent},
      {"none.example.org", Type::A, "nxdomain", Outcome::Absent},
      {"t.example.org", Type::TXT, "tempfail (timeout)", Outcome::Temporary},
      {"s.example.org", Type::TXT, "tempfail (SERVFAIL)", Outcome::Temporary},
      {"r.example.org", Type::TXT, "refused (REFUSED)", Outcome::Temporary},
      {"n.example.org", Type::TXT, "refused (NOTIMP)", Outcome::Temporary},
      {"n.example.org", Type::A, "nxdomain", Outcome::Absent},
      {"f.example.org", Type::PTR, "refused (FORMERR)", Outcome::Temporary},
      {"m.example.org", Type::MX, "malformed (malformed answer)", Outcome::Temporary},
      {"ok.example.org", Type::MX, "refused (REFUSED)", Outcome::Temporary},
      {"both: the first in zone.h's list wins", Type::A, "", Outcome::Temporary},
      {"loop1.example.org", Type::TXT, "tempfail (CNAME loop at loop1.example.org)",
       Outcome::Temporary},
      {"to-refused.example.org", Type::TXT, "refused (REFUSED)", Outcome::Temporary},
      {"code.example.org", Type::A, "refused (NOTIMP)", Outcome::Temporary},
      {"code.example.org", Type::TXT, "nxdomain", Outcome::Absent},
      {"a..b", Type::TXT, "badname (not a DNS name)", Outcome::BadName},
  };
  for (const Case& tc : cases) {
    const std::string qname = std::string(tc.qname).find(':') != std::string::npos
                                  ? std::string("both.example.org")
                                  : std::string(tc.qname);
    SCOPED_TRACE(std::string(tc.qname) + " " + std::string(toString(tc.type)));
    const Answer a = z.query(qname, tc.type, Budget::unlimited());
    const std::string want = *tc.want != '\0' ? tc.want : "refused (REFUSED)";
    EXPECT_EQ(render(a), want) << "got " << render(a) << " want " << want;
    EXPECT_EQ(classify(a), tc.outcome) << "got " << toString(classify(a)) << " want "
                                       << toString(tc.outcome);
  }
}

}  // namespace
}  // namespace mw::dns
