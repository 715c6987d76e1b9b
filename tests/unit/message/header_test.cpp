// Unit tests of message/header.h, defects.h and envelope.h.
#include "mailwarden/message/header.h"

#include "mailwarden/message/defects.h"
#include "mailwarden/message/envelope.h"
#include "testing.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mw::message {
namespace {

using testing::escape;

TEST(Unfold, Table) {
  struct Case {
    const char* name;
    std::string raw;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"plain", " hello", "hello"},
      {"crlf fold", " hello\r\n world", "hello world"},
      {"lf fold", " hello\n\tworld", "hello\tworld"},
      {"several folds", " a\r\n b\r\n  c", "a b  c"},
      {"trailing ws", " a \t", "a"},
      {"empty", "", ""},
      {"only folding", "\r\n ", ""},
      {"no leading space", "x", "x"},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    const std::string got = unfold(tc.raw);
    EXPECT_EQ(got, tc.want) << "got '" << escape(got) << "' want '" << escape(tc.want) << "'";
  }
}

TEST(HeaderList, KeepsValueAsReceivedWithCrlfFolding) {
  struct Case {
    const char* name;
    std::string field_name;
    std::string value;
    std::string want_value;
    std::uint32_t want_defects;
  };
  const std::vector<Case> cases = {
      {"leading space kept", "Subject", " hi", " hi", 0},
      {"no leading space", "Subject", "hi", "hi", 0},
      {"crlf folding kept", "Subject", " a\r\n b", " a\r\n b", 0},
      {"lf folding to crlf", "Subject", " a\n\tb\n c", " a\r\n\tb\r\n c", 0},
      {"utf-8 is fine (RFC 6532)", "Subject", " caf\xC3\xA9", " caf\xC3\xA9", 0},
      {"latin-1 byte flagged", "Subject", " caf\xE9", " caf\xE9",
       static_cast<std::uint32_t>(Defect::EightBitInHeader)},
      {"nul flagged", "Subject", std::string(" a\0b", 4), std::string(" a\0b", 4),
       static_cast<std::uint32_t>(Defect::NulByte)},
      {"empty name flagged", "", " x", " x", static_cast<std::uint32_t>(Defect::MalformedHeader)},
      {"space in name flagged", "Sub ject", " x", " x",
       static_cast<std::uint32_t>(Defect::MalformedHeader)},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    HeaderList list{Limits{}};
    const HeaderField* f = list.add(tc.field_name, tc.value);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->name, tc.field_name);
    EXPECT_EQ(f->value, tc.want_value)
        << "got '" << escape(f->value) << "' want '" << escape(tc.want_value) << "'";
    EXPECT_EQ(list.defects().bits(), tc.want_defects)
        << "got '" << list.defects().describe() << "'";
  }
}

TEST(HeaderList, FindCountOccurrence) {
  HeaderList list{Limits{}};
  list.add("Received", " a");
  list.add("From", " x@example.org");
  list.add("received", " b");
  list.add("RECEIVED", " c");
  ASSERT_NE(list.find("FROM"), nullptr);
  EXPECT_EQ(list.find("from")->value, " x@example.org");
  EXPECT_EQ(list.find("Subject"), nullptr);
  EXPECT_EQ(list.count("Received"), 3u);
  EXPECT_EQ(list.count("Subject"), 0u);
  EXPECT_EQ(list.occurrence(0), 1);
  EXPECT_EQ(list.occurrence(1), 1);
  EXPECT_EQ(list.occurrence(2), 2);
  EXPECT_EQ(list.occurrence(3), 3);
  EXPECT_EQ(list.occurrence(4), 0) << "out of range";
  EXPECT_EQ(list.bytes(), 8u + 2 + 4 + 14 + 8 + 2 + 8 + 2);
}

// Each Limits bound that HeaderList applies, crossed by one byte or one field.
TEST(HeaderList, LimitsCrossed) {
  struct Case {
    const char* name;
    Limits limits;
    std::vector<std::pair<std::string, std::string>> fields;
    std::size_t want_kept;
    Defect want;
  };
  Limits count2;
  count2.max_headers = 2;
  Limits bytes20;
  bytes20.max_header_bytes = 20;
  Limits line10;
  line10.max_line_length = 10;
  const std::vector<Case> cases = {
      {"max_headers: third field dropped", count2, {{"A", " 1"}, {"B", " 2"}, {"C", " 3"}}, 2,
       Defect::HeaderCountLimit},
      {"max_header_bytes: exactly at bound kept, next dropped",
       bytes20,
       {{"Subject", " 0123456789"}, {"X", " y"}},  // 7 + 11 = 18, then 18 + 3 = 21 > 20
       1,
       Defect::HeaderBytesLimit},
      {"max_line_length: long line kept and flagged", line10, {{"Subject", " 0123456789"}}, 1,
       Defect::LineTooLong},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    HeaderList list(tc.limits);
    std::size_t kept = 0;
    for (const auto& [n, v] : tc.fields) {
      kept += list.add(n, v) != nullptr ? 1 : 0;
    }
    EXPECT_EQ(kept, tc.want_kept) << "got " << kept << " want " << tc.want_kept;
    EXPECT_EQ(list.fields().size(), tc.want_kept);
    EXPECT_TRUE(list.defects().has(tc.want)) << "got '" << list.defects().describe() << "'";
  }
}

TEST(HeaderList, LimitsNotCrossedAtTheBound) {
  Limits l;
  l.max_headers = 2;
  l.max_header_bytes = 6;  // "A"+" 1" + "B"+" 2" = 6
  l.max_line_length = 4;   // "A: 1" is 4
  HeaderList list(l);
  EXPECT_NE(list.add("A", " 1"), nullptr);
  EXPECT_NE(list.add("B", " 2"), nullptr);
  EXPECT_FALSE(list.defects().any()) << "got '" << list.defects().describe() << "'";

  // Folded: each wire line is measured on its own, only the first carries "name:".
  Limits lines;
  lines.max_line_length = 10;
  HeaderList folded(lines);
  EXPECT_NE(folded.add("S", " abc\r\n 012345678"), nullptr);  // "S: abc", " 012345678"
  EXPECT_FALSE(folded.defects().any()) << "got '" << folded.defects().describe() << "'";
  EXPECT_NE(folded.add("S", " abc\r\n 0123456789"), nullptr);
  EXPECT_TRUE(folded.defects().has(Defect::LineTooLong));
}

TEST(Defects, DescribeInBitOrderOnce) {
  Defects d;
  EXPECT_EQ(d.describe(), "");
  EXPECT_FALSE(d.any());
  d.set(Defect::InvalidBase64);
  d.set(Defect::MissingFinalBoundary);
  d.set(Defect::InvalidBase64);
  EXPECT_EQ(d.describe(), "missing_final_boundary invalid_base64");
  Defects e;
  e.set(Defect::NulByte);
  d.merge(e);
  EXPECT_TRUE(d.has(Defect::NulByte));
  EXPECT_EQ(d.describe(), "missing_final_boundary invalid_base64 nul_byte");
}

TEST(Envelope, StripAngleBrackets) {
  struct Case {
    const char* name;
    const char* in;
    const char* want;
  };
  const std::vector<Case> cases = {
      {"brackets", "<a@b.example>", "a@b.example"},
      {"spaces", "  <a@b.example> ", "a@b.example"},
      {"none", "a@b.example", "a@b.example"},
      {"null sender", "<>", ""},
      {"one bracket kept", "<a@b", "<a@b"},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    EXPECT_EQ(stripAngleBrackets(tc.in), tc.want);
  }
}

}  // namespace
}  // namespace mw::message
