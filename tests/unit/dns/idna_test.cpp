// dns::toALabels (dns/idna.h): U-labels to A-labels for SPF, DKIM and DMARC (RFC 8616).
#include "mailwarden/dns/idna.h"

#include <string>

#include <gtest/gtest.h>

namespace mw::dns {
namespace {

std::string ok(std::string_view in) {
  auto r = toALabels(in);
  EXPECT_TRUE(r) << "refused: " << in << ": " << (r ? "" : r.error());
  return r ? *r : std::string("<error>");
}

void bad(std::string_view in) {
  auto r = toALabels(in);
  EXPECT_FALSE(r) << "accepted: " << in << " -> " << (r ? *r : "");
}

TEST(Idna, ULabelsBecomeALabels) {
  EXPECT_EQ(ok("b\xc3\xbc" "cher.example"), "xn--bcher-kva.example");           // bücher
  EXPECT_EQ(ok("m\xc3\xbcnchen.example.de."), "xn--mnchen-3ya.example.de");     // one dot dropped
  EXPECT_EQ(ok("\xe4\xbe\x8b\xe3\x81\x88.\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88"),  // 例え.テスト
            "xn--r8jz45g.xn--zckzah");
}

TEST(Idna, MixedCaseIsFolded) {
  EXPECT_EQ(ok("B\xc3\xbc" "cher.Example"), "xn--bcher-kva.example");            // Bücher.Example
  EXPECT_EQ(ok("B\xc3\x9c" "CHER.EXAMPLE"), "xn--bcher-kva.example");            // BÜCHER.EXAMPLE
}

TEST(Idna, NonTransitional) {
  // ß stays ß (transitional processing would give fass.de, another domain).
  EXPECT_EQ(ok("fa\xc3\x9f.de"), "xn--fa-hia.de");
  EXPECT_NE(ok("fa\xc3\x9f.de"), "fass.de");
  // Final sigma ς stays final (transitional: xn--nxasmq6b, the name with σ).
  EXPECT_EQ(ok("\xce\xb2\xcf\x8c\xce\xbb\xce\xbf\xcf\x82.com"), "xn--nxasmm1c.com");  // βόλος
  // Capital Σ folds to σ (UTS #46 case mapping), which is the other name.
  EXPECT_EQ(ok("\xce\x92\xce\x8c\xce\x9b\xce\x9f\xce\xa3.com"), "xn--nxasmq6b.com");  // ΒΌΛΟΣ
}

TEST(Idna, NfcInput) {
  EXPECT_EQ(ok("a\xcc\x88.example"), ok("\xc3\xa4.example"));  // a + U+0308 = ä
  EXPECT_EQ(ok("\xc3\xa4.example"), "xn--4ca.example");
}

TEST(Idna, ALabelsPassThroughLowerCased) {
  EXPECT_EQ(ok("xn--bcher-kva.example"), "xn--bcher-kva.example");
  EXPECT_EQ(ok("XN--BCHER-KVA.Example"), "xn--bcher-kva.example");
  EXPECT_EQ(ok("Xn--Fa-Hia.DE."), "xn--fa-hia.de");
  // A-label and U-label spellings meet.
  EXPECT_EQ(ok("XN--BCHER-KVA.example"), ok("B\xc3\xbc" "cher.example"));
}

TEST(Idna, AsciiNamesUnchangedButLowerCased) {
  EXPECT_EQ(ok("Mail.Example.COM"), "mail.example.com");
  EXPECT_EQ(ok("_dmarc.example.com"), "_dmarc.example.com");  // the callers' rules decide
  EXPECT_EQ(ok("ab--cd.example"), "ab--cd.example");          // not an IDN: libidn2 not asked
  // An ASCII label beside a U-label is not judged by IDNA either.
  EXPECT_EQ(ok("ab--cd.b\xc3\xbc" "cher.example"), "ab--cd.xn--bcher-kva.example");
}

TEST(Idna, DisallowedCodePoints) {
  bad("a\xe2\x98\x83.example");       // U+2603 SNOWMAN: UTS #46 valid, IDNA2008 DISALLOWED
  bad("\xef\xbf\xbd.example");        // U+FFFD
  bad("\xe2\x80\x8d.example");        // U+200D ZWJ outside its CONTEXTJ rule
  bad("b_\xc3\xbc.example");          // '_' in a U-label (libidn2's STD3 rules would drop it)
  bad("b/\xc3\xbc.example");
  bad("b\xef\xbc\x8f\xc3\xbc.example");  // full-width solidus, mapped to '/'
  bad("b\xc3\xbc cher.example");
}

TEST(Idna, IllFormedUtf8) {
  bad("b\xc3.example");
  bad("b\xff\xfe.example");
  bad("\xd8\xa7\xd9\x84\x61\xe0.example");
  bad(std::string_view("b\xc3\xbc\0x.example", 13));
}

TEST(Idna, BadPunycode) {
  bad("xn--zz.example");
  bad("xn--.example");
  bad("xn--bcher-kva-.example");
  bad("xn--a.example");               // decodes to U+0080: not a valid U-label
  bad("XN--ZZ.example");
}

TEST(Idna, LengthsAndEmptyLabels) {
  const std::string l63(63, 'a');
  EXPECT_EQ(ok(l63 + ".example"), l63 + ".example");
  bad(std::string(64, 'a') + ".example");
  // 60 ASCII letters and "üüü": its A-label is longer than 63 octets.
  bad(std::string(60, 'a') + "\xc3\xbc\xc3\xbc\xc3\xbc.example");
  bad("b\xc3\xbc" "cher..example");
  bad(".b\xc3\xbc" "cher.example");
  bad("");
  bad(".");
  std::string long_name;
  for (int i = 0; i < 30; ++i) {
    long_name += "b\xc3\xbc" "cher.";  // 30 x 14 octets of A-labels
  }
  bad(long_name + "example");
  bad(std::string(kMaxIdnInput + 1, 'a'));
}

TEST(Idna, IdeographicFullStopSeparates) {
  // UTS #46 maps U+3002 to '.': the same name as with ASCII dots.
  EXPECT_EQ(ok("b\xc3\xbc" "cher\xe3\x80\x82" "example"), "xn--bcher-kva.example");
  bad("b\xc3\xbc" "cher\xe3\x80\x82\xe3\x80\x82" "example");
}

TEST(Idna, HasNonAscii) {
  EXPECT_FALSE(hasNonAscii("example.com"));
  EXPECT_TRUE(hasNonAscii("b\xc3\xbc" "cher.example"));
}

}  // namespace
}  // namespace mw::dns
