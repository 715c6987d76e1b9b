// tests/unit/report/xml_test.cpp — the report document parses back to what we put in,
// hostile text included (the schema check itself is xml_schema_test.sh).
#include "mailwarden/report/xml.h"

#include <gtest/gtest.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <memory>

#include "samples.h"

namespace mw::report {
namespace {

struct DocFree {
  void operator()(xmlDocPtr d) const noexcept { xmlFreeDoc(d); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocFree>;

DocPtr parse(const std::string& xml) {
  return DocPtr(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "report.xml", nullptr,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
}

// The text of every element named `name` below `n`, in document order.
void collect(xmlNodePtr n, std::string_view name, std::vector<std::string>& out) {
  for (xmlNodePtr c = n; c != nullptr; c = c->next) {
    if (c->type == XML_ELEMENT_NODE) {
      if (name == reinterpret_cast<const char*>(c->name)) {
        xmlChar* t = xmlNodeGetContent(c);
        out.emplace_back(reinterpret_cast<const char*>(t));
        xmlFree(t);
      }
      collect(c->children, name, out);
    }
  }
}

std::vector<std::string> texts(const DocPtr& d, std::string_view name) {
  std::vector<std::string> out;
  collect(xmlDocGetRootElement(d.get()), name, out);
  return out;
}

const testing::Sample& sample(std::string_view name) {
  static const std::vector<testing::Sample> all = testing::samples();
  for (const testing::Sample& s : all) {
    if (s.name == name) {
      return s;
    }
  }
  throw std::runtime_error("no sample");
}

TEST(Xml, RootNamespaceVersionAndCounts) {
  const testing::Sample& s = sample("fail-quarantine");
  const Result<std::string> xml = renderAggregateReport(s.meta, s.rows);
  ASSERT_TRUE(xml.has_value()) << xml.error().message;
  const DocPtr d = parse(*xml);
  ASSERT_TRUE(d);
  xmlNodePtr root = xmlDocGetRootElement(d.get());
  EXPECT_STREQ(reinterpret_cast<const char*>(root->name), "feedback");
  ASSERT_NE(root->ns, nullptr);
  EXPECT_STREQ(reinterpret_cast<const char*>(root->ns->href), "urn:ietf:params:xml:ns:dmarc-2.0");
  EXPECT_EQ(texts(d, "version"), std::vector<std::string>{"1.0"});
  EXPECT_EQ(texts(d, "count"), (std::vector<std::string>{"5", "1", "7"}));
  EXPECT_EQ(texts(d, "source_ip"),
            (std::vector<std::string>{"192.0.2.10", "2001:db8::25", "2001:db8:85a3::8a2e:370:7334"}));
  EXPECT_EQ(texts(d, "testing"), std::vector<std::string>{"y"});
  EXPECT_EQ(texts(d, "begin"), std::vector<std::string>{"1767225600"});
}

TEST(Xml, OverridesAndEverySignatureAreWritten) {
  const testing::Sample& s = sample("overrides");
  const Result<std::string> xml = renderAggregateReport(s.meta, s.rows);
  ASSERT_TRUE(xml.has_value());
  const DocPtr d = parse(*xml);
  ASSERT_TRUE(d);
  EXPECT_EQ(texts(d, "type").size(), 15u);  // 5 reasons x 3 rows
  EXPECT_EQ(texts(d, "selector").size(), 21u);
  EXPECT_EQ(texts(d, "scope").size(), 1u);  // forwarded: mfrom; nospf: none; helo: omitted
  EXPECT_EQ(texts(d, "envelope_to").size(), 2u);
}

TEST(Xml, HostileTextIsEscapedAndCleaned) {
  const testing::Sample& s = sample("hostile");
  const Result<std::string> xml = renderAggregateReport(s.meta, s.rows);
  ASSERT_TRUE(xml.has_value()) << xml.error().message;
  EXPECT_EQ(xml->find("<evil"), std::string::npos);
  EXPECT_EQ(xml->find('\x01'), std::string::npos);
  const DocPtr d = parse(*xml);
  ASSERT_TRUE(d) << "not well-formed:\n" << *xml;
  const std::string want = xmlSafe(testing::kHostile);
  // \r\n in text: written as &#13;\n, read back as \r\n: the text survives byte for byte.
  for (const char* field : {"org_name", "email", "extra_contact_info", "report_id", "header_from",
                            "envelope_from", "envelope_to", "selector", "comment", "source_ip"}) {
    const std::vector<std::string> got = texts(d, field);
    ASSERT_EQ(got.size(), 1u) << field;
    EXPECT_EQ(got[0], want) << field;
  }
}

TEST(Xml, XmlSafeKeepsGoodTextAndReplacesTheRest) {
  EXPECT_EQ(xmlSafe("mail.example.com"), "mail.example.com");
  const std::string good = "b\xC3\xBC" "cher.example \xF0\x9F\x93\xA7\t\n";  // U+1F4E7
  EXPECT_EQ(xmlSafe(good), good);
  EXPECT_EQ(xmlSafe(std::string("a\0b", 3)), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(xmlSafe("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");      // overlong '/'
  EXPECT_EQ(xmlSafe("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(xmlSafe("\xEF\xBF\xBE"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // U+FFFE
  EXPECT_EQ(xmlSafe("ab\xE2\x82"), "ab\xEF\xBF\xBD\xEF\xBF\xBD");  // truncated at the end
}

TEST(Xml, BadInputIsAnError) {
  const testing::Sample& s = sample("pass");
  const Result<std::string> none = renderAggregateReport(s.meta, {});
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, Errc::Invalid);
  ReportMeta m = s.meta;
  m.report_id.clear();
  EXPECT_FALSE(renderAggregateReport(m, s.rows).has_value());
}

}  // namespace
}  // namespace mw::report
