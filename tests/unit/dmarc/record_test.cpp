// Tests of dmarc/record.h: RFC 9989 §4.7 tags — p anywhere after v, unknown and removed
// tags ignored, bad values as the RFC says, the rua fallback to p=none.
#include "mailwarden/dmarc/record.h"

#include <gtest/gtest.h>

namespace mw::dmarc {
namespace {

TEST(Record, VersionFirstAndCaseSensitive) {
  EXPECT_TRUE(isDmarcRecord("v=DMARC1; p=none"));
  EXPECT_TRUE(isDmarcRecord("v = DMARC1"));
  EXPECT_TRUE(isDmarcRecord("V=DMARC1;"));
  EXPECT_FALSE(isDmarcRecord("v=dmarc1; p=none"));
  EXPECT_FALSE(isDmarcRecord("p=none; v=DMARC1"));
  EXPECT_FALSE(isDmarcRecord("v=DMARC10; p=none"));
  EXPECT_FALSE(isDmarcRecord("v=spf1 -all"));
  EXPECT_EQ(parseRecord("").status, ParseStatus::NotDmarc);
}

TEST(Record, Tags) {
  ParseResult r = parseRecord("v=DMARC1; adkim=S; aspf=s; P=Reject; sp=quarantine; np=none; "
                              "psd=n; t=y; fo=0:d; rua=mailto:a@example.com,ftp://x; foo=bar");
  ASSERT_EQ(r.status, ParseStatus::Ok);
  EXPECT_EQ(r.record.p, Policy::Reject);
  EXPECT_EQ(r.record.sp, Policy::Quarantine);
  EXPECT_EQ(r.record.np, Policy::None);
  EXPECT_EQ(r.record.adkim, Alignment::Strict);
  EXPECT_EQ(r.record.aspf, Alignment::Strict);
  EXPECT_EQ(r.record.psd, Psd::No);
  EXPECT_TRUE(r.record.testing);
  EXPECT_EQ(r.record.fo, "0:d");
  EXPECT_EQ(r.record.rua, std::vector<std::string>{"mailto:a@example.com"});
  EXPECT_EQ(r.record.ignored.size(), 1u);  // the ftp URI
}

TEST(Record, DefaultsAndMissingP) {
  ParseResult r = parseRecord("v=DMARC1");
  ASSERT_EQ(r.status, ParseStatus::Ok);  // §4.7: no p is p=none
  EXPECT_EQ(r.record.p, Policy::None);
  EXPECT_FALSE(r.record.p_present);
  EXPECT_EQ(r.record.subdomainPolicy(), Policy::None);
  r = parseRecord("v=DMARC1; p=reject; sp=none");
  EXPECT_EQ(r.record.subdomainPolicy(), Policy::None);
  EXPECT_EQ(r.record.nonExistentPolicy(), Policy::None);
  r = parseRecord("v=DMARC1; p=reject");
  EXPECT_EQ(r.record.nonExistentPolicy(), Policy::Reject);
}

TEST(Record, RemovedTagsIgnored) {
  for (const char* rec : {"v=DMARC1; p=reject; pct=500", "v=DMARC1; p=reject; pct=0",
                          "v=DMARC1; p=reject; rf=bob", "v=DMARC1; p=reject; ri=-1"}) {
    ParseResult r = parseRecord(rec);
    ASSERT_EQ(r.status, ParseStatus::Ok) << rec;
    EXPECT_EQ(r.record.p, Policy::Reject) << rec;
    EXPECT_TRUE(r.record.ignored.empty()) << rec;
  }
}

TEST(Record, BadValues) {
  EXPECT_EQ(parseRecord("v=DMARC1; p=bob").status, ParseStatus::Invalid);
  EXPECT_EQ(parseRecord("v=DMARC1; p=none; sp=bob").status, ParseStatus::Invalid);
  EXPECT_EQ(parseRecord("v=DMARC1; p=none; np=rejected").status, ParseStatus::Invalid);
  EXPECT_EQ(parseRecord("v=DMARC1; p=none; p=reject").status, ParseStatus::Invalid);
  // With a valid rua the record reads as p=none.
  ParseResult r = parseRecord("v=DMARC1; p=rejectt; sp=reject; rua=mailto:d@example.com");
  ASSERT_EQ(r.status, ParseStatus::Ok);
  EXPECT_TRUE(r.record.downgraded);
  EXPECT_EQ(r.record.p, Policy::None);
  EXPECT_EQ(r.record.subdomainPolicy(), Policy::None);
  // Other tags: the bad value is dropped for the default.
  r = parseRecord("v=DMARC1; p=reject; adkim=bob; aspf=relaxed; t=yes; psd=maybe");
  ASSERT_EQ(r.status, ParseStatus::Ok);
  EXPECT_EQ(r.record.adkim, Alignment::Relaxed);
  EXPECT_FALSE(r.record.testing);
  EXPECT_EQ(r.record.psd, Psd::Unset);
  EXPECT_EQ(r.record.ignored.size(), 4u);
}

TEST(Record, ReportUris) {
  EXPECT_TRUE(isValidReportUri("mailto:dmarc@example.com"));
  EXPECT_TRUE(isValidReportUri("mailto:dmarc@example.com!10m"));
  EXPECT_FALSE(isValidReportUri("mailto://abuse.com"));
  EXPECT_FALSE(isValidReportUri("ftp://example.com/pub"));
  EXPECT_FALSE(isValidReportUri("mail:a@b.example"));
  EXPECT_FALSE(isValidReportUri("mailto:"));
}

TEST(Record, TooLong) {
  EXPECT_EQ(parseRecord("v=DMARC1; p=none; x=" + std::string(5000, 'a')).status,
            ParseStatus::NotDmarc);
}

}  // namespace
}  // namespace mw::dmarc
