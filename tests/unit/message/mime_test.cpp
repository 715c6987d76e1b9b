// Unit tests of message/mime.h, through MessageReader as `mailwarden check` uses it.
// Messages are written with "\n" and converted with crlf() unless the case is about LF.
#include "mailwarden/message/mime.h"

#include "testing.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mw::message {
namespace {

using testing::crlf;
using testing::escape;
using testing::Parsed;
using testing::RecordingSink;

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) {
    out += "\n  " + s;
  }
  return out;
}

std::vector<Defect> allDefects() {
  std::vector<Defect> all;
  for (std::uint32_t b = 1; b != 0 && b <= static_cast<std::uint32_t>(Defect::NulByte); b <<= 1) {
    all.push_back(static_cast<Defect>(b));
  }
  return all;
}

std::string describe(std::uint32_t bits) {
  Defects d;
  for (const Defect x : allDefects()) {
    if ((bits & static_cast<std::uint32_t>(x)) != 0) {
      d.set(x);
    }
  }
  return d.describe();
}

constexpr std::uint32_t bit(Defect d) { return static_cast<std::uint32_t>(d); }

// ---- the messages -------------------------------------------------------------

const std::string kSimple = crlf(
    "From: a@example.org\n"
    "Subject: hi\n"
    "\n"
    "Hello\n"
    "World\n");

const std::string kNested = crlf(
    "From: a@example.org\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\n"
    "\n"
    "This is the preamble, not shown.\n"
    "--outer\n"
    "Content-Type: multipart/alternative;\n"
    " boundary=inner\n"
    "\n"
    "--inner\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Caf=C3=A9 cr=\n"
    "=C3=A8me\n"
    "--inner\n"
    "Content-Type: text/html; charset=\"iso-8859-1\"\n"
    "\n"
    "<p>Andr\xE9</p>\n"
    "--inner--\n"
    "inner epilogue\n"
    "--outer\n"
    "Content-Type: application/pdf; name=\"ignored.pdf\"\n"
    "Content-Disposition: attachment; filename=\"=?UTF-8?B?R3LDvMOfZQ==?=.pdf\"\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "JVBERi0x\n"
    "LjQK\n"
    "--outer--\n"
    "epilogue\n");

const std::vector<std::string> kNestedWant = {
    "begin #0 d0 multipart/mixed multipart",
    "begin #1 d1 multipart/alternative multipart",
    "begin #2 d2 text/plain cs=utf-8 cte=quoted-printable",
    "data #2 Café crème",
    "end #2",
    "begin #3 d2 text/html cs=iso-8859-1",
    "data #3 <p>André</p>",
    "end #3",
    "end #1",
    "begin #4 d1 application/pdf cte=base64 disp=attachment fn=Grüße.pdf",
    "data #4 %PDF-1.4\\n",
    "end #4",
    "end #0",
};

const std::string kMissingFinal = crlf(
    "Content-Type: multipart/mixed; boundary=b1\n"
    "\n"
    "--b1\n"
    "\n"
    "first\n"
    "--b1\n"
    "Content-Type: text/plain\n"
    "\n"
    "second, then the message just ends\n");

const std::string kRfc822 = crlf(
    "Content-Type: multipart/mixed; boundary=\"x\"\n"
    "\n"
    "--x\n"
    "\n"
    "see attached\n"
    "--x\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: inner@example.org\n"
    "Subject: =?iso-8859-1?q?Re=3A_caf=E9?=\n"
    "Content-Type: multipart/alternative; boundary=y\n"
    "\n"
    "--y\n"
    "Content-Type: text/plain\n"
    "\n"
    "inner text\n"
    "--y--\n"
    "--x--\n");

const std::string kBadBase64 = crlf(
    "Content-Type: text/plain; charset=us-ascii\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "SGVs!bG8g\n"
    "V29y*bGQ\n");

const std::string kCharsets = crlf(
    "Content-Type: multipart/mixed; boundary=cs\n"
    "\n"
    "--cs\n"
    "Content-Type: text/plain; charset=windows-1252\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "=80 5 =93quoted=94\n"
    "--cs\n"
    "Content-Type: text/plain; charset=koi8-r\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "8NLJ18XU\n"
    "--cs\n"
    "Content-Type: text/plain; charset=iso-2022-jp\n"
    "Content-Transfer-Encoding: 7bit\n"
    "\n"
    "\x1B$BF|K\\8l\x1B(B\n"
    "--cs\n"
    "Content-Type: text/plain; charset=x-unknown-charset\n"
    "\n"
    "raw \xE9\n"
    "--cs--\n");

const std::string kGarbage = crlf(
    std::string("Content-Type: multipart/mixed; boundary=g\n"
                "\n"
                "--g\n"
                "Content-Type: text/plain\n"
                "X-Junk: \xFF\xFE\n"
                "\n"
                "8-bit \x80\x81 garbage in us-ascii\n"
                "--g\n"
                "Content-Type: application/octet-stream\n"
                "\n") +
    std::string("\xFF\x00\x01\n", 4) + "--g--\n");

// depth: multipart inside multipart inside ... (n levels), a leaf at the bottom.
std::string nestedMultiparts(int n) {
  std::string head;
  std::string tail;
  for (int i = 0; i < n; ++i) {
    head += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" +
            std::to_string(i) + "\n";
    tail = "--b" + std::to_string(i) + "--\n" + tail;
  }
  return crlf(head + "\nleaf\n" + tail);
}

std::string manyParts(int n) {
  std::string m = "Content-Type: multipart/mixed; boundary=p\n\n";
  for (int i = 0; i < n; ++i) {
    m += "--p\nContent-Type: text/plain\n\npart " + std::to_string(i) + "\n";
  }
  return crlf(m + "--p--\n");
}

struct Case {
  const char* name;
  std::string raw;
  std::vector<std::string> want;  // collapsed events, headers left out
  std::uint32_t want_defects;
  Limits limits = Limits{};
};

std::vector<Case> cases() {
  Limits depth3;
  depth3.max_mime_depth = 3;
  Limits parts3;
  parts3.max_mime_parts = 3;
  Limits decoded10;
  decoded10.max_decoded_bytes = 10;
  Limits line20;
  line20.max_line_length = 20;
  Limits headers2;
  headers2.max_headers = 2;
  Limits header_bytes40;
  header_bytes40.max_header_bytes = 40;
  return {
      {"simple text", kSimple, {"begin #0 d0 text/plain", "data #0 Hello\\r\\nWorld\\r\\n", "end #0"}, 0},
      {"nested multipart", kNested, kNestedWant, 0},
      {"missing final boundary",
       kMissingFinal,
       {"begin #0 d0 multipart/mixed multipart", "begin #1 d1 text/plain", "data #1 first",
        "end #1", "begin #2 d1 text/plain", "data #2 second, then the message just ends\\r\\n",
        "end #2", "end #0"},
       bit(Defect::MissingFinalBoundary)},
      {"missing boundary parameter",
       crlf("Content-Type: multipart/mixed\n\n--x\n\ntext\n--x--\n"),
       {"begin #0 d0 multipart/mixed", "data #0 --x\\r\\n\\r\\ntext\\r\\n--x--\\r\\n", "end #0"},
       bit(Defect::MissingBoundaryParam)},
      {"boundary with trailing whitespace, lf input",
       "Content-Type: multipart/mixed; boundary=w\n\npre\n--w \t\n\nA\n--w-- \nepi\n",
       {"begin #0 d0 multipart/mixed multipart", "begin #1 d1 text/plain", "data #1 A", "end #1",
        "end #0"},
       0},
      {"empty parts and delimiter right after header",
       crlf("Content-Type: multipart/mixed; boundary=e\n\n--e\n--e\nContent-Type: text/html\n--e--\n"),
       {"begin #0 d0 multipart/mixed multipart", "begin #1 d1 text/plain", "end #1",
        "begin #2 d1 text/html", "end #2", "end #0"},
       0},
      {"message/rfc822 child",
       kRfc822,
       {"begin #0 d0 multipart/mixed multipart", "begin #1 d1 text/plain",
        "data #1 see attached", "end #1", "begin #2 d1 message/rfc822 message",
        "begin #3 d2 multipart/alternative multipart", "begin #4 d3 text/plain",
        "data #4 inner text", "end #4", "end #3", "end #2", "end #0"},
       0},
      {"bad base64",
       kBadBase64,
       {"begin #0 d0 text/plain cs=us-ascii cte=base64", "data #0 Hello World", "end #0"},
       bit(Defect::InvalidBase64)},
      {"charsets in bodies",
       kCharsets,
       {"begin #0 d0 multipart/mixed multipart",
        "begin #1 d1 text/plain cs=windows-1252 cte=quoted-printable", "data #1 € 5 “quoted”",
        "end #1", "begin #2 d1 text/plain cs=koi8-r cte=base64", "data #2 Привет", "end #2",
        "begin #3 d1 text/plain cs=iso-2022-jp", "data #3 日本語", "end #3",
        "begin #4 d1 text/plain cs=x-unknown-charset", "data #4 raw \xE9", "end #4", "end #0"},
       bit(Defect::UnknownCharset)},
      {"8-bit garbage",
       kGarbage,
       {"begin #0 d0 multipart/mixed multipart", "begin #1 d1 text/plain",
        "data #1 8-bit \xEF\xBF\xBD\xEF\xBF\xBD garbage in us-ascii", "end #1",
        "begin #2 d1 application/octet-stream", "data #2 \xFF\\x00\\x01", "end #2", "end #0"},
       bit(Defect::InvalidCharset) | bit(Defect::EightBitInHeader) | bit(Defect::NulByte)},
      {"depth within limit", nestedMultiparts(3),
       {"begin #0 d0 multipart/mixed multipart", "begin #1 d1 multipart/mixed multipart",
        "begin #2 d2 multipart/mixed multipart", "begin #3 d3 text/plain", "data #3 leaf",
        "end #3", "end #2", "end #1", "end #0"},
       0, depth3},
      {"depth over limit: opaque",
       nestedMultiparts(4),
       {"begin #0 d0 multipart/mixed multipart", "begin #1 d1 multipart/mixed multipart",
        "begin #2 d2 multipart/mixed multipart", "begin #3 d3 multipart/mixed",
        "data #3 --b3\\r\\n\\r\\nleaf\\r\\n--b3--", "end #3", "end #2", "end #1", "end #0"},
       bit(Defect::NestingTooDeep), depth3},
      {"parts within limit", manyParts(2),
       {"begin #0 d0 multipart/mixed multipart", "begin #1 d1 text/plain", "data #1 part 0",
        "end #1", "begin #2 d1 text/plain", "data #2 part 1", "end #2", "end #0"},
       0, parts3},
      {"parts over limit: further parts opaque",
       manyParts(4),
       {"begin #0 d0 multipart/mixed multipart", "begin #1 d1 text/plain", "data #1 part 0",
        "end #1", "begin #2 d1 text/plain", "data #2 part 1", "end #2", "end #0"},
       bit(Defect::TooManyParts), parts3},
      {"decoded bytes limit",
       crlf("Content-Transfer-Encoding: base64\n\nMDEyMzQ1Njc4OWFiY2RlZg==\n"),
       {"begin #0 d0 text/plain cte=base64", "data #0 0123456789", "end #0"},
       bit(Defect::DecodedBytesLimit), decoded10},
      {"decoded bytes exactly at limit",
       crlf("Content-Transfer-Encoding: base64\n\nMDEyMzQ1Njc4OQ==\n"),
       {"begin #0 d0 text/plain cte=base64", "data #0 0123456789", "end #0"}, 0, decoded10},
      {"long line in pieces, content intact",
       crlf("Content-Type: multipart/mixed; boundary=l\n\n--l\n\n"
            "0123456789012345678901234567890123456789\n--l--\n"),
       {"begin #0 d0 multipart/mixed multipart", "begin #1 d1 text/plain",
        "data #1 0123456789012345678901234567890123456789", "end #1", "end #0"},
       bit(Defect::LineTooLong), line20},
      {"part header count limit",
       crlf("Content-Type: multipart/mixed; boundary=h\n\n--h\nX-A: 1\nX-B: 2\n"
            "Content-Type: text/html\n\nx\n--h--\n"),
       {"begin #0 d0 multipart/mixed multipart", "begin #1 d1 text/plain", "data #1 x", "end #1",
        "end #0"},
       bit(Defect::HeaderCountLimit), headers2},
      {"part header bytes limit",
       crlf("Content-Type: multipart/mixed; boundary=h\n\n--h\nX-Long: 0123456789012345678901234567890123456789\n"
            " folded\nContent-Type: text/html\n\nx\n--h--\n"),
       {"begin #0 d0 multipart/mixed multipart", "begin #1 d1 text/html", "data #1 x", "end #1",
        "end #0"},
       bit(Defect::HeaderBytesLimit), header_bytes40},
      {"non-header line ends part header (Postfix)",
       crlf("Content-Type: multipart/mixed; boundary=n\n\n--n\nContent-Type: text/html\n"
            "no colon here\nbody\n--n--\n"),
       {"begin #0 d0 multipart/mixed multipart", "begin #1 d1 text/html",
        "data #1 no colon here\\r\\nbody", "end #1", "end #0"},
       bit(Defect::MalformedHeader)},
      {"digest children default to message/rfc822",
       crlf("Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nbody one\n--d--\n"),
       {"begin #0 d0 multipart/digest multipart", "begin #1 d1 message/rfc822 message",
        "begin #2 d2 text/plain", "data #2 body one", "end #2", "end #1", "end #0"},
       0},
      {"encoded message/rfc822 is a leaf",
       crlf("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeA0KDQp5\n"),
       {"begin #0 d0 message/rfc822 cte=base64", "data #0 Subject: x\\r\\n\\r\\ny", "end #0"}, 0},
      {"filename from rfc 2231 continuations",
       crlf("Content-Type: application/octet-stream; name=fallback\n"
            "Content-Disposition: attachment;\n filename*0*=utf-8''%E2%82%AC;\n filename*1=\".txt\"\n\nx\n"),
       {"begin #0 d0 application/octet-stream disp=attachment fn=€.txt", "data #0 x\\r\\n",
        "end #0"},
       0},
      {"filename from content-type name, rfc 2047",
       crlf("Content-Type: application/zip; name=\"=?iso-8859-1?Q?r=E9sum=E9?=.zip\"\n\nx\n"),
       {"begin #0 d0 application/zip fn=résumé.zip", "data #0 x\\r\\n", "end #0"}, 0},
      {"invalid content-type is text/plain",
       crlf("Content-Type: garbage\nContent-Transfer-Encoding: Quoted-Printable\n\na=3Db\n"),
       {"begin #0 d0 text/plain cte=quoted-printable", "data #0 a=b\\r\\n", "end #0"}, 0},
      {"closing outer boundary closes inner (missing inner final)",
       crlf("Content-Type: multipart/mixed; boundary=o\n\n--o\n"
            "Content-Type: multipart/alternative; boundary=i\n\n--i\n\ninner\n--o--\n"),
       {"begin #0 d0 multipart/mixed multipart", "begin #1 d1 multipart/alternative multipart",
        "begin #2 d2 text/plain", "data #2 inner", "end #2", "end #1", "end #0"},
       bit(Defect::MissingFinalBoundary)},
      {"no body at all", crlf("Subject: x\n"), {"begin #0 d0 text/plain", "end #0"}, 0},
  };
}

TEST(MimeParser, Table) {
  for (const Case& tc : cases()) {
    SCOPED_TRACE(tc.name);
    Parsed p;
    testing::parse(tc.raw, tc.limits, p);
    const std::vector<std::string> got = p.sink.collapsed();
    EXPECT_EQ(got, tc.want) << "got" << join(got) << "\nwant" << join(tc.want);
    EXPECT_EQ(p.defects.bits(), tc.want_defects)
        << "got '" << p.defects.describe() << "' want '" << describe(tc.want_defects) << "'";
    EXPECT_EQ(p.sink.open, 0) << "every partBegin has its partEnd";
    EXPECT_EQ(p.part_count, p.sink.parts.size());
  }
}

// Feeding one byte at a time (and random splits) must give exactly the same sink
// event sequence as feeding the message whole: same events, same data chunks.
TEST(MimeParser, ChunkingGivesIdenticalEvents) {
  std::vector<Case> all = cases();
  all.push_back({"big base64", crlf("Content-Transfer-Encoding: base64\n\n" +
                                    [] {
                                      std::string s;
                                      for (int i = 0; i < 2000; ++i) {
                                        s += "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlq\n";
                                      }
                                      return s;
                                    }()),
                 {}, 0});
  for (const Case& tc : all) {
    Parsed whole;
    testing::parse(tc.raw, tc.limits, whole);
    for (const std::size_t step : {1, 2, 5, 64}) {
      for (std::uint32_t seed = 1; seed <= 3; ++seed) {
        SCOPED_TRACE(std::string(tc.name) + " step " + std::to_string(step) + " seed " +
                     std::to_string(seed));
        Parsed got;
        testing::parse(tc.raw, tc.limits, got, step, seed);
        EXPECT_EQ(got.sink.events, whole.sink.events)
            << "got" << join(got.sink.events) << "\nwant" << join(whole.sink.events);
        EXPECT_EQ(got.defects.bits(), whole.defects.bits());
        if (step == 1) {
          break;
        }
      }
    }
  }
}

// Part headers are handed on as received (folding kept) after partBegin.
TEST(MimeParser, PartHeadersAsReceived) {
  Parsed p;
  testing::parse(kNested, Limits{}, p);
  const std::vector<std::string> want_prefix = {
      "begin #0 d0 multipart/mixed multipart",
      "header #0 From: a@example.org",
      "header #0 Content-Type: multipart/mixed; boundary=\"outer\"",
      "begin #1 d1 multipart/alternative multipart",
      "header #1 Content-Type: multipart/alternative;\\r\\n boundary=inner",
  };
  ASSERT_GE(p.sink.events.size(), want_prefix.size());
  const std::vector<std::string> got(p.sink.events.begin(),
                                     p.sink.events.begin() + static_cast<long>(want_prefix.size()));
  EXPECT_EQ(got, want_prefix) << "got" << join(got) << "\nwant" << join(want_prefix);
}

TEST(MimeParser, LfAndCrlfGiveSameContentForMultipart) {
  std::string lf = kNested;
  std::string::size_type pos = 0;
  while ((pos = lf.find("\r\n", pos)) != std::string::npos) {
    lf.erase(pos, 1);
  }
  // Without the reader (which would make it CRLF again), LF reaches the parser as is.
  auto run = [](const std::string& raw, std::string_view eoh_mark, RecordingSink& sink) {
    MimeParser parser(Limits{}, &sink);
    const std::size_t eoh = raw.find(eoh_mark);
    parser.header(HeaderField{"Content-Type", " multipart/mixed; boundary=\"outer\""});
    parser.endOfHeaders();
    parser.body(std::string_view(raw).substr(eoh + eoh_mark.size()));
    parser.finish();
  };
  RecordingSink a;
  RecordingSink b;
  run(lf, "\n\n", a);
  run(kNested, "\r\n\r\n", b);
  // Identity-coded content keeps its line ends; decoded QP text is CRLF either way.
  EXPECT_EQ(a.data(2), b.data(2));
  EXPECT_EQ(a.data(4), b.data(4));
  EXPECT_EQ(a.parts.size(), b.parts.size());
}

TEST(MimeParser, NullSinkAndRepeatedFinish) {
  MimeParser parser(Limits{}, nullptr);
  parser.header(HeaderField{"Content-Type", " multipart/mixed; boundary=z"});
  parser.endOfHeaders();
  parser.body("--z\r\n\r\nx\r\n");
  parser.finish();
  parser.finish();
  parser.body("--z--\r\n");
  EXPECT_TRUE(parser.defects().has(Defect::MissingFinalBoundary));
  EXPECT_EQ(parser.partCount(), 2u);
}

TEST(MimeParser, BodyWithoutEndOfHeaders) {
  RecordingSink sink;
  MimeParser parser(Limits{}, &sink);
  parser.header(HeaderField{"Subject", " x"});
  parser.body("text\r\n");
  parser.finish();
  EXPECT_EQ(sink.collapsed(), (std::vector<std::string>{"begin #0 d0 text/plain",
                                                        "data #0 text\\r\\n", "end #0"}));
}

}  // namespace
}  // namespace mw::message
