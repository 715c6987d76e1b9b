// tests/unit/report/delivery_test.cpp — report names, rua mailto: URIs, gzip (inflated
// back with zlib), the size split and the MIME mail (RFC 9990 "Report Delivery", "Email").
#include "mailwarden/report/delivery.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <set>
#include <sstream>

namespace mw::report {
namespace {

const Period kDay{20513};  // 2026-03-01

std::string gunzip(const std::string& gz) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buf[16384];
  int rc = Z_OK;
  for (int i = 0; i < 100000 && rc == Z_OK; ++i) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
  }
  EXPECT_EQ(rc, Z_STREAM_END);
  inflateEnd(&zs);
  return out;
}

std::string unbase64(const std::string& text) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const std::size_t v = kAlphabet.find(c);
    if (v == std::string::npos) {
      continue;  // newlines and padding
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

Row row(const std::string& ip, std::int64_t count, Policy p = Policy::Reject) {
  Row r;
  r.record.header_from = "example.com";
  r.record.source_ip = ip;
  r.record.policy.domain = "example.com";
  r.record.policy.p = p;
  r.record.disposition = Disposition::Pass;
  r.record.dkim_aligned = Aligned::Pass;
  r.record.dkim.push_back({"example.com", "sel", DkimResult::Pass});
  r.record.spf = SpfAuth{"example.com", SpfScope::MailFrom, SpfResult::Pass};
  r.count = count;
  return r;
}

ReportMeta meta() {
  ReportMeta m;
  m.org_name = "Test Receiver";
  m.email = "dmarc@mx.test.example";
  m.generator = "mailwarden test";
  return m;
}

TEST(ReportNames, FollowRfc9990Formats) {
  const ReportNames one = reportNames("mx.test.example", "example.com", kDay, 0);
  EXPECT_EQ(one.report_id, "2026-03-01.example.com@mx.test.example");
  EXPECT_EQ(one.filename, "mx.test.example!example.com!1772323200!1772409599.xml.gz");
  EXPECT_EQ(one.subject,
            "Report Domain: example.com\n Submitter: mx.test.example\n Report-ID: "
            "<2026-03-01.example.com@mx.test.example>");
  const ReportNames two = reportNames("mx.test.example", "example.com", kDay, 2);
  EXPECT_EQ(two.report_id, "2026-03-01.example.com.2@mx.test.example");
  EXPECT_EQ(two.filename, "mx.test.example!example.com!1772323200!1772409599!2.xml.gz");
  // Short enough for one line: not folded.
  EXPECT_EQ(reportNames("m.ex", "a.ex", kDay, 0).subject,
            "Report Domain: a.ex Submitter: m.ex Report-ID: <2026-03-01.a.ex@m.ex>");
  EXPECT_EQ(submitterDomain("DMARC@MX.Test.Example"), "mx.test.example");
  EXPECT_EQ(submitterDomain("nodomain"), "");
  EXPECT_EQ(periodDate(Period{0}), "1970-01-01");
  EXPECT_EQ(rfc5322Date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(rfc5322Date(1772409599), "Sun, 01 Mar 2026 23:59:59 +0000");
  EXPECT_EQ(messageIdFor("2026-03-01.example.com@mx.test.example", 0),
            "2026-03-01.example.com@mx.test.example");
  EXPECT_EQ(messageIdFor("2026-03-01.example.com@mx.test.example", 1),
            "2026-03-01.example.com.d2@mx.test.example");
}

TEST(ParseMailto, Table) {
  struct Case {
    const char* name;
    const char* uri;
    bool ok;
    const char* address;
    std::uint64_t max_bytes;
  };
  const Case cases[] = {
      {"plain", "mailto:dmarc@example.com", true, "dmarc@example.com", 0},
      {"scheme case, host case, dot", " MAILTO:Agg@Example.COM. ", true, "Agg@example.com", 0},
      {"size in m", "mailto:a@b.example!10m", true, "a@b.example", 10ull << 20},
      {"size in k", "mailto:a@b.example!5K", true, "a@b.example", 5ull << 10},
      {"size in bytes", "mailto:a@b.example!100", true, "a@b.example", 100},
      {"size in t", "mailto:a@b.example!1t", true, "a@b.example", 1ull << 40},
      {"bad unit", "mailto:a@b.example!10x", false, "", 0},
      {"empty size", "mailto:a@b.example!", false, "", 0},
      {"size overflow", "mailto:a@b.example!99999999999999t", false, "", 0},
      {"encoded bang", "mailto:a%21b@c.example", true, "a!b@c.example", 0},
      {"encoded at: two @", "mailto:a%40b@c.example", false, "", 0},
      {"bad escape", "mailto:a%4@c.example", false, "", 0},
      {"other scheme", "https://reports.example/dmarc", false, "", 0},
      {"hfields", "mailto:a@b.example?subject=x", false, "", 0},
      {"header injection", "mailto:a@b.example%0d%0aBcc:%20x@y.example", false, "", 0},
      {"space", "mailto:a b@c.example", false, "", 0},
      {"no local part", "mailto:@b.example", false, "", 0},
      {"no host", "mailto:a@", false, "", 0},
      {"address literal", "mailto:a@[192.0.2.1]", false, "", 0},
      {"quote", "mailto:\"a\"@b.example", false, "", 0},
      {"empty label", "mailto:a@b..example", false, "", 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::optional<MailtoUri> got = parseMailto(c.uri);
    ASSERT_EQ(got.has_value(), c.ok) << c.uri;
    if (got) {
      EXPECT_EQ(got->address, c.address);
      EXPECT_EQ(got->max_bytes, c.max_bytes);
      EXPECT_EQ(got->host, got->address.substr(got->address.find('@') + 1));
    }
  }
}

TEST(Gzip, RoundTrips) {
  std::string text;
  for (int i = 0; i < 5000; ++i) {
    text += "<record>" + std::to_string(i * 7919) + "</record>\n";
  }
  const Result<std::string> gz = gzipCompress(text);
  ASSERT_TRUE(gz.has_value());
  ASSERT_GT(gz->size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>((*gz)[0]), 0x1f);  // RFC 1952 ID1, ID2
  EXPECT_EQ(static_cast<unsigned char>((*gz)[1]), 0x8b);
  EXPECT_LT(gz->size(), text.size() / 2);
  EXPECT_EQ(gunzip(*gz), text);
  const Result<std::string> empty = gzipCompress("");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(gunzip(*empty), "");
}

TEST(BuildReports, OneReportWhenItFits) {
  const std::vector<Row> rows = {row("192.0.2.1", 60), row("192.0.2.2", 40)};
  const Result<BuildOutcome> b =
      buildReports(meta(), "mx.test.example", "example.com", kDay, rows, 1 << 20);
  ASSERT_TRUE(b.has_value()) << b.error().describe();
  ASSERT_EQ(b->reports.size(), 1u);
  EXPECT_EQ(b->rows_too_large, 0u);
  const BuiltReport& r = b->reports[0];
  EXPECT_EQ(r.names.report_id, "2026-03-01.example.com@mx.test.example");
  EXPECT_EQ(r.rows, 2u);
  EXPECT_EQ(r.messages, 100);
  const std::string xml = gunzip(r.gzip);
  EXPECT_NE(xml.find("<report_id>2026-03-01.example.com@mx.test.example</report_id>"),
            std::string::npos);
  EXPECT_NE(xml.find("<begin>1772323200</begin>"), std::string::npos);
  EXPECT_NE(xml.find("<end>1772409599</end>"), std::string::npos);
  EXPECT_NE(xml.find("<generator>mailwarden test</generator>"), std::string::npos);
}

TEST(BuildReports, OnePerPolicyConfiguration) {
  const std::vector<Row> rows = {row("192.0.2.1", 1, Policy::None), row("192.0.2.2", 2),
                                 row("192.0.2.3", 3, Policy::None)};
  const std::vector<std::vector<Row>> groups = splitByPolicy(rows);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].size(), 2u);
  EXPECT_EQ(groups[1].size(), 1u);
  const Result<BuildOutcome> b =
      buildReports(meta(), "mx.test.example", "example.com", kDay, rows, 0);
  ASSERT_TRUE(b.has_value());
  ASSERT_EQ(b->reports.size(), 2u);
  EXPECT_EQ(b->reports[0].names.report_id, "2026-03-01.example.com.1@mx.test.example");
  EXPECT_EQ(b->reports[1].names.report_id, "2026-03-01.example.com.2@mx.test.example");
  EXPECT_EQ(b->reports[0].messages, 4);
  EXPECT_NE(gunzip(b->reports[0].gzip).find("<p>none</p>"), std::string::npos);
  EXPECT_NE(gunzip(b->reports[1].gzip).find("<p>reject</p>"), std::string::npos);
}

TEST(BuildReports, SplitsBySizeUntilEachFits) {
  std::vector<Row> rows;
  std::int64_t total = 0;
  for (int i = 0; i < 400; ++i) {
    // Distinct, poorly compressible rows: IPv6 addresses from a multiplicative sequence.
    std::ostringstream ip;
    ip << "2001:db8:" << std::hex << (i * 40503 % 65536) << ":" << (i * 7919 % 65536) << "::"
       << (i * 104729 % 65536);
    rows.push_back(row(ip.str(), i + 1));
    total += i + 1;
  }
  const Result<BuildOutcome> whole =
      buildReports(meta(), "mx.test.example", "example.com", kDay, rows, 0);
  ASSERT_TRUE(whole.has_value());
  ASSERT_EQ(whole->reports.size(), 1u);
  const std::uint64_t limit = whole->reports[0].gzip.size() / 3;
  const Result<BuildOutcome> b =
      buildReports(meta(), "mx.test.example", "example.com", kDay, rows, limit);
  ASSERT_TRUE(b.has_value());
  ASSERT_GE(b->reports.size(), 3u);
  EXPECT_EQ(b->rows_too_large, 0u);
  std::int64_t messages = 0;
  std::size_t n_rows = 0;
  std::set<std::string> ids;
  for (std::size_t i = 0; i < b->reports.size(); ++i) {
    const BuiltReport& r = b->reports[i];
    SCOPED_TRACE(r.names.report_id);
    EXPECT_LE(r.gzip.size(), limit);
    EXPECT_EQ(r.names.report_id,
              "2026-03-01.example.com." + std::to_string(i + 1) + "@mx.test.example");
    EXPECT_NE(gunzip(r.gzip).find(r.names.report_id), std::string::npos);
    ids.insert(r.names.filename);
    messages += r.messages;
    n_rows += r.rows;
  }
  EXPECT_EQ(ids.size(), b->reports.size());
  EXPECT_EQ(messages, total);
  EXPECT_EQ(n_rows, rows.size());
  // The same input gives the same reports, byte for byte (a re-send is identical).
  const Result<BuildOutcome> again =
      buildReports(meta(), "mx.test.example", "example.com", kDay, rows, limit);
  ASSERT_TRUE(again.has_value());
  ASSERT_EQ(again->reports.size(), b->reports.size());
  EXPECT_EQ(again->reports.back().gzip, b->reports.back().gzip);
}

TEST(BuildReports, ARowThatCannotFitIsSkippedAndCounted) {
  const std::vector<Row> rows = {row("192.0.2.1", 1), row("192.0.2.2", 2)};
  const Result<BuildOutcome> b =
      buildReports(meta(), "mx.test.example", "example.com", kDay, rows, 100);
  ASSERT_TRUE(b.has_value());
  EXPECT_TRUE(b->reports.empty());
  EXPECT_EQ(b->rows_too_large, 2u);
}

TEST(ComposeMail, Rfc9990EmailLayout) {
  ReportMail m;
  m.from = "dmarc@mx.test.example";
  m.to = "agg@example.com";
  m.subject = reportNames("mx.test.example", "example.com", kDay, 0).subject;
  m.message_id = "2026-03-01.example.com@mx.test.example";
  m.date = 1772409600 + 3600;
  m.filename = "mx.test.example!example.com!1772323200!1772409599.xml.gz";
  m.summary = "Records: 2";
  std::string gz;
  for (int i = 0; i < 1000; ++i) {
    gz.push_back(static_cast<char>(i * 37 % 256));
  }
  m.gzip = gz;
  const std::string mail = composeMail(m);
  const std::size_t body = mail.find("\n\n");
  ASSERT_NE(body, std::string::npos);
  const std::string head = mail.substr(0, body + 1);
  EXPECT_EQ(head.find("From: dmarc@mx.test.example\n"), 0u);
  EXPECT_NE(head.find("\nTo: agg@example.com\n"), std::string::npos);
  EXPECT_NE(head.find("\nSubject: Report Domain: example.com\n Submitter: mx.test.example\n "
                      "Report-ID: <2026-03-01.example.com@mx.test.example>\n"),
            std::string::npos);
  EXPECT_NE(head.find("\nDate: Mon, 02 Mar 2026 01:00:00 +0000\n"), std::string::npos);
  EXPECT_NE(head.find("\nMessage-ID: <2026-03-01.example.com@mx.test.example>\n"),
            std::string::npos);
  EXPECT_NE(head.find("\nMIME-Version: 1.0\n"), std::string::npos);
  EXPECT_NE(head.find("\nContent-Type: multipart/mixed; boundary="), std::string::npos);
  EXPECT_NE(mail.find("Content-Type: text/plain"), std::string::npos);
  EXPECT_NE(mail.find("Records: 2\n"), std::string::npos);
  const std::string disp =
      "Content-Disposition: attachment; filename=\"" + m.filename + "\"\n\n";
  const std::size_t att = mail.find(disp);
  ASSERT_NE(att, std::string::npos);
  EXPECT_NE(mail.find("Content-Type: application/gzip"), std::string::npos);
  EXPECT_NE(mail.find("Content-Transfer-Encoding: base64"), std::string::npos);
  const std::size_t end = mail.find("\n--", att);
  ASSERT_NE(end, std::string::npos);
  const std::string b64 = mail.substr(att + disp.size(), end - att - disp.size());
  std::istringstream lines(b64);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    EXPECT_LE(line.size(), 76u);
    ++n;
  }
  EXPECT_GT(n, 10);
  EXPECT_EQ(unbase64(b64), gz);
  EXPECT_EQ(mail.substr(mail.size() - 3), "--\n");
  EXPECT_EQ(mail.find('\r'), std::string::npos);
}

}  // namespace
}  // namespace mw::report
