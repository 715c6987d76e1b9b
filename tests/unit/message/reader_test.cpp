// Unit tests of message/reader.h: fields and body as a milter would get them, and the
// same result whatever the chunking.
#include "mailwarden/message/reader.h"

#include "testing.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mw::message {
namespace {

using testing::escape;
using testing::splitSizes;

struct Captured : ReaderSink {
  void header(std::string_view name, std::string_view value) override {
    EXPECT_FALSE(eoh) << "header after endOfHeaders";
    fields.push_back(std::string(name) + ":" + std::string(value));
  }
  void endOfHeaders() override {
    EXPECT_FALSE(eoh) << "endOfHeaders twice";
    eoh = true;
  }
  void body(std::string_view chunk) override {
    EXPECT_TRUE(eoh) << "body before endOfHeaders";
    EXPECT_FALSE(chunk.empty()) << "empty body chunk";
    body_bytes.append(chunk);
  }
  std::vector<std::string> fields;
  std::string body_bytes;
  bool eoh = false;
};

struct ReadResult {
  std::vector<std::string> fields;
  std::string body;
  std::uint32_t defects = 0;
};

ReadResult read(std::string_view raw, const Limits& limits, std::size_t step, std::uint32_t seed) {
  Captured sink;
  MessageReader reader(limits, sink);
  std::size_t off = 0;
  for (const std::size_t k : splitSizes(raw.size(), step, seed)) {
    reader.feed(raw.substr(off, k));
    off += k;
  }
  reader.finish();
  reader.finish();  // idempotent
  EXPECT_TRUE(sink.eoh) << "no endOfHeaders";
  return ReadResult{sink.fields, sink.body_bytes, reader.defects().bits()};
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) {
    out += "[" + escape(s) + "]";
  }
  return out;
}

constexpr std::uint32_t bit(Defect d) { return static_cast<std::uint32_t>(d); }

struct Case {
  const char* name;
  std::string raw;
  std::vector<std::string> want_fields;  // "Name:value"
  std::string want_body;
  std::uint32_t want_defects = 0;
  Limits limits = Limits{};
};

std::vector<Case> cases() {
  Limits field30;
  field30.max_header_bytes = 30;
  Limits line8;
  line8.max_line_length = 8;
  return {
      {"crlf", "From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n",
       {"From: a@example.org", "Subject: hi"}, "body\r\n"},
      {"lf becomes crlf in the body", "From: a@example.org\nSubject: hi\n\nline1\nline2\n",
       {"From: a@example.org", "Subject: hi"}, "line1\r\nline2\r\n"},
      {"folding kept, lf folds as crlf", "Subject: a\n b\n\tc\nTo: x\n\nB\n",
       {"Subject: a\r\n b\r\n\tc", "To: x"}, "B\r\n"},
      {"crlf folding kept", "Subject: a\r\n  b\r\n\r\n", {"Subject: a\r\n  b"}, ""},
      {"no space after colon", "X-A:1\r\nX-B:\r\n\r\n", {"X-A:1", "X-B:"}, ""},
      {"colons in value", "Date: Mon, 1 Jan 2024 10:00:00 +0000\n\n",
       {"Date: Mon, 1 Jan 2024 10:00:00 +0000"}, ""},
      {"obsolete space before colon", "Subject : hi\n\n", {"Subject: hi"}, ""},
      {"line without colon ends header (Postfix)", "Subject: hi\nthis is not a header\nmore\n",
       {"Subject: hi"}, "this is not a header\r\nmore\r\n", bit(Defect::MalformedHeader)},
      {"empty name is not a field", ": x\nSubject: y\n\n", {}, ": x\r\nSubject: y\r\n\r\n",
       bit(Defect::MalformedHeader)},
      {"continuation first is body", " leading\nSubject: y\n\n", {},
       " leading\r\nSubject: y\r\n\r\n", bit(Defect::MalformedHeader)},
      {"mbox From line skipped", "From sender@example.org Mon Jan  1 00:00:00 2024\nSubject: s\n\nb\n",
       {"Subject: s"}, "b\r\n"},
      {"header only, no empty line", "Subject: s\nTo: t\n", {"Subject: s", "To: t"}, ""},
      {"header only, no final newline", "Subject: s", {"Subject: s"}, ""},
      {"empty input", "", {}, ""},
      {"empty header", "\r\nbody\r\n", {}, "body\r\n"},
      {"body without final newline gets crlf", "S: x\n\nlast", {"S: x"}, "last\r\n"},
      {"body ending in bare cr gets lf", "S: x\n\nlast\r", {"S: x"}, "last\r\n"},
      {"bare cr kept in body", "S: x\n\na\rb\r\n", {"S: x"}, "a\rb\r\n"},
      {"mixed line ends", "S: x\r\n\r\na\nb\r\nc\n", {"S: x"}, "a\r\nb\r\nc\r\n"},
      {"empty body line kept", "S: x\n\n\n\nend\n", {"S: x"}, "\r\n\r\nend\r\n"},
      {"8-bit passes through", "Subject: caf\xE9\n\n\xFF\xFE\n", {"Subject: caf\xE9"},
       "\xFF\xFE\r\n"},
      {"field truncated at max_header_bytes (Postfix header_size_limit)",
       "Subject: 0123456789012345678901234567890123456789\nTo: t\n\n",
       {"Subject: 0123456789012345678901", "To: t"}, "", bit(Defect::HeaderBytesLimit), field30},
      {"folded field truncated", "Subject: 0123456789\n 0123456789\n 0123456789\n\n",
       {"Subject: 0123456789\r\n 012345678"}, "", bit(Defect::HeaderBytesLimit), field30},
      {"long header line read in pieces", "Subject: 0123456789abcdef\nTo: t\n\nb\n",
       {"Subject: 0123456789abcdef", "To: t"}, "b\r\n", bit(Defect::LineTooLong), line8},
      {"long non-header line goes to body whole", "S: x\nnot-a-header-line-at-all\nmore\n",
       {"S: x"}, "not-a-header-line-at-all\r\nmore\r\n",
       bit(Defect::MalformedHeader) | bit(Defect::LineTooLong), line8},
      {"long body line is not cut", "S: x\n\n0123456789012345678901234567890\n", {"S: x"},
       "0123456789012345678901234567890\r\n", 0, line8},
  };
}

TEST(MessageReader, Table) {
  for (const Case& tc : cases()) {
    SCOPED_TRACE(tc.name);
    const ReadResult got = read(tc.raw, tc.limits, 0, 0);
    EXPECT_EQ(got.fields, tc.want_fields)
        << "got " << join(got.fields) << " want " << join(tc.want_fields);
    EXPECT_EQ(got.body, tc.want_body)
        << "got '" << escape(got.body) << "' want '" << escape(tc.want_body) << "'";
    EXPECT_EQ(got.defects, tc.want_defects) << "got defects bits " << got.defects;
  }
}

// LF and CRLF input give the same fields and body.
TEST(MessageReader, LfAndCrlfInputAgree) {
  for (const Case& tc : cases()) {
    SCOPED_TRACE(tc.name);
    if (tc.raw.find('\r') != std::string::npos) {
      continue;  // the case itself is about CR handling
    }
    const ReadResult lf = read(tc.raw, tc.limits, 0, 0);
    const ReadResult crlf = read(testing::crlf(tc.raw), tc.limits, 0, 0);
    EXPECT_EQ(lf.fields, crlf.fields) << "got " << join(crlf.fields) << " want " << join(lf.fields);
    EXPECT_EQ(lf.body, crlf.body)
        << "got '" << escape(crlf.body) << "' want '" << escape(lf.body) << "'";
  }
}

// One byte at a time and random splits give exactly what one whole chunk gives; this
// covers a CRLF split across chunks in every position.
TEST(MessageReader, ChunkingDoesNotMatter) {
  for (const Case& tc : cases()) {
    for (const std::string& raw : {tc.raw, testing::crlf(tc.raw)}) {
      const ReadResult whole = read(raw, tc.limits, 0, 0);
      for (const std::size_t step : {1, 2, 3, 7}) {
        for (std::uint32_t seed = 1; seed <= 5; ++seed) {
          SCOPED_TRACE(std::string(tc.name) + " step " + std::to_string(step) + " seed " +
                       std::to_string(seed));
          const ReadResult got = read(raw, tc.limits, step, seed);
          EXPECT_EQ(got.fields, whole.fields)
              << "got " << join(got.fields) << " want " << join(whole.fields);
          EXPECT_EQ(got.body, whole.body)
              << "got '" << escape(got.body) << "' want '" << escape(whole.body) << "'";
          EXPECT_EQ(got.defects, whole.defects);
          if (step == 1) {
            break;  // the seed does not matter for 1-byte chunks
          }
        }
      }
    }
  }
}

TEST(MessageReader, IgnoresInputAfterFinish) {
  Captured sink;
  MessageReader reader(Limits{}, sink);
  reader.feed("S: x\n\nbody\n");
  reader.finish();
  reader.feed("more\n");
  reader.finish();
  EXPECT_EQ(sink.body_bytes, "body\r\n");
}

}  // namespace
}  // namespace mw::message
