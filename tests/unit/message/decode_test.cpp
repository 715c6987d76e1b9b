// Unit tests of message/decode.h: base64, quoted-printable, charsets, RFC 2047 words,
// RFC 2045/2231 parameters. Narrow literals with non-ASCII text are UTF-8 (gcc's
// default execution charset).
#include "mailwarden/message/decode.h"

#include "testing.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mw::message {
namespace {

using testing::escape;

template <typename Decoder>
std::string decodeAll(std::string_view in, Decoder& d, std::size_t step = 0) {
  std::string out;
  std::size_t off = 0;
  for (const std::size_t k : testing::splitSizes(in.size(), step, 7)) {
    d.feed(in.substr(off, k), out);
    off += k;
  }
  d.finish(out);
  return out;
}

struct CodecCase {
  const char* name;
  std::string in;
  std::string want;
  bool want_flag;
};

TEST(Base64Decoder, Table) {
  const std::vector<CodecCase> cases = {
      {"plain", "SGVsbG8sIFdvcmxkIQ==", "Hello, World!", false},
      {"one pad", "YWI=", "ab", false},
      {"no pad needed", "YWJj", "abc", false},
      {"crlf and spaces ignored", "SGVs\r\nbG8s\r\n IFdv cmxk\tIQ==\r\n", "Hello, World!", false},
      {"empty", "", "", false},
      {"only whitespace", "\r\n \r\n", "", false},
      {"junk ignored and flagged", "SGVs!bG8*", "Hello", true},
      {"missing padding flagged", "YWI", "ab", true},
      {"single trailing char flagged", "YWJjZ", "abc", true},
      {"pad too early flagged", "Y===", "", true},
      {"half padding flagged", "YQ=", "a", true},
      {"data after padding decoded and flagged", "YQ==YWI=", "aab", true},
      {"8-bit garbage flagged", "YW\xC3\xA9Jj", "abc", true},
      {"binary output", "AP8A/w==", std::string("\0\xFF\0\xFF", 4), false},
  };
  for (const CodecCase& tc : cases) {
    for (const std::size_t step : {0, 1, 3}) {
      SCOPED_TRACE(std::string(tc.name) + " step " + std::to_string(step));
      Base64Decoder d;
      const std::string got = decodeAll(tc.in, d, step);
      EXPECT_EQ(got, tc.want) << "got '" << escape(got) << "' want '" << escape(tc.want) << "'";
      EXPECT_EQ(d.defects().has(Defect::InvalidBase64), tc.want_flag)
          << "got '" << d.defects().describe() << "'";
    }
  }
}

// feed() decodes whole quanta four characters at a time and falls back to a byte-wise
// loop at anything else: fed in one piece or in pieces of every size, and with line
// breaks, padding and junk at every position, it must give the byte-wise result (one
// character per call never reaches the four-character path) and the same defects.
TEST(Base64Decoder, QuantumPathMatchesByteWise) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::string others = "\r\n \t=!*\xC3";
  std::uint64_t seed = 0x5eed;
  auto next = [&seed] {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::size_t>(seed >> 33);
  };
  for (int round = 0; round < 400; ++round) {
    std::string in;
    const std::size_t n = next() % 300;
    const std::size_t rare = 2 + next() % 40;  // how often a non-alphabet character comes
    for (std::size_t i = 0; i < n; ++i) {
      in += next() % rare == 0 ? others[next() % others.size()] : alphabet[next() % alphabet.size()];
    }
    Base64Decoder ref;
    const std::string want = decodeAll(in, ref, 1);
    for (const std::size_t step : {std::size_t{0}, std::size_t{2}, std::size_t{5}, std::size_t{64}}) {
      SCOPED_TRACE("round " + std::to_string(round) + " step " + std::to_string(step) + " in '" + escape(in) + "'");
      Base64Decoder d;
      const std::string got = decodeAll(in, d, step);
      EXPECT_EQ(got, want);
      EXPECT_EQ(d.defects().describe(), ref.defects().describe());
    }
  }
}

// feed() copies runs of literal characters in one append: in one piece or in pieces of
// every size it must give what one character per call gives (runs of length one, the
// state machine alone), defects included.
TEST(QuotedPrintableDecoder, RunsMatchByteWise) {
  const std::string chars = "abcXYZ019.,<>\"=  \t\t\r\n\r\n=3D=C3=A9=\r\n=G";
  std::uint64_t seed = 0x9e11;
  auto next = [&seed] {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::size_t>(seed >> 33);
  };
  for (int round = 0; round < 400; ++round) {
    std::string in;
    const std::size_t n = next() % 200;
    for (std::size_t i = 0; i < n; ++i) in += chars[next() % chars.size()];
    QuotedPrintableDecoder ref;
    const std::string want = decodeAll(in, ref, 1);
    for (const std::size_t step : {std::size_t{0}, std::size_t{3}, std::size_t{17}}) {
      SCOPED_TRACE("round " + std::to_string(round) + " step " + std::to_string(step) + " in '" + escape(in) + "'");
      QuotedPrintableDecoder d;
      const std::string got = decodeAll(in, d, step);
      EXPECT_EQ(got, want);
      EXPECT_EQ(d.defects().describe(), ref.defects().describe());
    }
  }
}

TEST(QuotedPrintableDecoder, Table) {
  const std::vector<CodecCase> cases = {
      {"plain", "hello", "hello", false},
      {"escape", "caf=C3=A9", "café", false},
      {"lower-case hex accepted", "caf=c3=a9", "café", false},
      {"soft break crlf", "long=\r\nline", "longline", false},
      {"soft break lf", "long=\nline", "longline", false},
      {"soft break after whitespace", "long =\r\nline", "long line", false},
      {"whitespace after = is still a soft break (rule 3)", "long= \t\r\nline", "longline", false},
      {"hard break crlf kept", "a\r\nb", "a\r\nb", false},
      {"hard break lf becomes crlf", "a\nb", "a\r\nb", false},
      {"trailing whitespace stripped (rule 3)", "a  \r\nb\t\nc", "a\r\nb\r\nc", false},
      {"trailing whitespace at end of data stripped", "a \t", "a", false},
      {"inner whitespace kept", "a  b\tc", "a  b\tc", false},
      {"encoded trailing space kept", "a=20\r\n", "a \r\n", false},
      {"dangling = at end is a soft break", "abc=", "abc", false},
      {"bad escape kept literally", "a=G1b", "a=G1b", true},
      {"half escape kept literally", "a=4xb", "a=4xb", true},
      {"half escape at end", "a=4", "a=4", true},
      {"= then bare cr", "a=\rb", "a=\rb", true},
      {"= space then text", "a= b", "a= b", true},
      {"bare cr kept", "a\rb", "a\rb", false},
      {"8-bit passed through", "\xE9t\xE9", "\xE9t\xE9", false},
      {"equals escape", "1+1=3D2", "1+1=2", false},
  };
  for (const CodecCase& tc : cases) {
    for (const std::size_t step : {0, 1, 2}) {
      SCOPED_TRACE(std::string(tc.name) + " step " + std::to_string(step));
      QuotedPrintableDecoder d;
      const std::string got = decodeAll(tc.in, d, step);
      EXPECT_EQ(got, tc.want) << "got '" << escape(got) << "' want '" << escape(tc.want) << "'";
      EXPECT_EQ(d.defects().has(Defect::InvalidQuotedPrintable), tc.want_flag)
          << "got '" << d.defects().describe() << "'";
    }
  }
}

TEST(QuotedPrintableDecoder, HeldWhitespaceIsBounded) {
  QuotedPrintableDecoder d;
  std::string out;
  d.feed(std::string(100000, ' '), out);
  EXPECT_GT(out.size(), 99000u) << "long whitespace runs are let go, not held";
  d.feed("x", out);
  d.finish(out);
  EXPECT_EQ(out.size(), 100001u);
  EXPECT_TRUE(d.defects().has(Defect::InvalidQuotedPrintable));
}

struct CharsetCase {
  const char* name;
  const char* charset;
  std::string in;
  std::string want;
  bool want_invalid;
};

TEST(CharsetConverter, Table) {
  const std::vector<CharsetCase> cases = {
      {"iso-8859-1", "ISO-8859-1", "Andr\xE9", "André", false},
      {"latin1 alias", "latin1", "Andr\xE9", "André", false},
      {"quoted, spaced name", " \"iso-8859-1\" ", "\xE9", "é", false},
      {"windows-1252 euro and quotes", "windows-1252", "\x80 \x93q\x94", "€ “q”", false},
      {"cp1252 alias", "cp1252", "\x80", "€", false},
      {"utf-8 identity", "UTF-8", "Grüße", "Grüße", false},
      {"utf8 alias", "utf8", "Grüße", "Grüße", false},
      {"utf-8 garbage replaced", "utf-8", "a\xFF" "b\xC3", "a\xEF\xBF\xBD" "b\xEF\xBF\xBD", true},
      {"utf-8 overlong replaced", "utf-8", "\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD", true},
      {"utf-8 surrogate replaced", "utf-8", "\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", true},
      {"us-ascii with 8-bit garbage", "us-ascii", "ok\x80\xFE", "ok\xEF\xBF\xBD\xEF\xBF\xBD", true},
      {"empty charset is us-ascii", "", "plain", "plain", false},
      {"gb2312 (as GB18030)", "gb2312", "\xD6\xD0\xCE\xC4", "中文", false},
      {"koi8-r", "KOI8-R", "\xF0\xD2\xC9\xD7\xC5\xD4", "Привет", false},
      {"iso-2022-jp (stateful)", "iso-2022-jp", "\x1B$BF|K\\8l\x1B(B", "日本語", false},
      {"invalid in gb18030", "gb2312", "a\xFF" "b", "a\xEF\xBF\xBD" "b", true},
  };
  for (const CharsetCase& tc : cases) {
    for (const std::size_t step : {0, 1, 2}) {
      SCOPED_TRACE(std::string(tc.name) + " step " + std::to_string(step));
      Result<CharsetConverter> conv = CharsetConverter::open(tc.charset);
      ASSERT_TRUE(conv.has_value()) << conv.error().describe();
      const std::string got = decodeAll(tc.in, *conv, step);
      EXPECT_EQ(got, tc.want) << "got '" << escape(got) << "' want '" << escape(tc.want) << "'";
      EXPECT_EQ(conv->defects().has(Defect::InvalidCharset), tc.want_invalid)
          << "got '" << conv->defects().describe() << "'";
    }
  }
}

TEST(CharsetConverter, IdentityFor8And7Bit) {
  for (const char* cs : {"utf-8", "UTF8", "us-ascii", ""}) {
    SCOPED_TRACE(cs);
    Result<CharsetConverter> c = CharsetConverter::open(cs);
    ASSERT_TRUE(c.has_value());
    EXPECT_TRUE(c->identity());
  }
  Result<CharsetConverter> c = CharsetConverter::open("koi8-r");
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->identity());
}

TEST(CharsetConverter, UnknownAndUnsafeNamesRejected) {
  for (const char* cs : {"x-no-such-charset", "utf-8//TRANSLIT", "latin1//IGNORE", "a b",
                         "../../etc/passwd"}) {
    SCOPED_TRACE(cs);
    EXPECT_FALSE(CharsetConverter::open(cs).has_value()) << "got a converter, want an error";
  }
}

TEST(CharsetConverter, IncompleteSequenceCarriedAndFlushed) {
  Result<CharsetConverter> c = CharsetConverter::open("utf-8");
  ASSERT_TRUE(c.has_value());
  std::string out;
  c->feed("a\xE2\x82", out);
  EXPECT_EQ(out, "a") << "the incomplete euro sign is carried";
  c->feed("\xAC", out);
  EXPECT_EQ(out, "a€");
  c->feed("\xE2", out);
  c->finish(out);
  EXPECT_EQ(out, "a€\xEF\xBF\xBD") << "input ending inside a sequence";
  EXPECT_TRUE(c->defects().has(Defect::InvalidCharset));
}

// The UTF-8 check skips ASCII eight bytes at a time: a bad, multi-byte or cut sequence
// right before, at or after each word boundary must come out as byte by byte.
TEST(CharsetConverter, Utf8AroundEightByteWords) {
  const std::string rep = "\xEF\xBF\xBD";
  for (std::size_t n = 0; n <= 18; ++n) {
    for (std::size_t m : {std::size_t{0}, std::size_t{1}, std::size_t{9}}) {
      const std::string a(n, 'a'), b(m, 'b');
      const std::vector<std::pair<std::string, std::string>> cases = {
          {a + "\xC3\xA9" + b, a + "\xC3\xA9" + b},      // é: valid, kept
          {a + "\xFF" + b, a + rep + b},                  // never valid in UTF-8
          {a + "\xE2\x82" + b, a + (m > 0 ? rep + rep : rep) + b},  // € cut short (by ASCII: two bytes
                                                                  // replaced; by the end: the cut sequence)
          {a + "\xF0\x9F\x98\x80" + b, a + "\xF0\x9F\x98\x80" + b},
          {a + "\xE2\x82", a + rep},                      // cut by the end: carried, then flushed
      };
      for (const auto& [in, want] : cases) {
        for (const std::size_t step : {0, 1, 7}) {
          SCOPED_TRACE("n " + std::to_string(n) + " m " + std::to_string(m) + " step " + std::to_string(step) + " in '" + escape(in) + "'");
          Result<CharsetConverter> c = CharsetConverter::open("utf-8");
          ASSERT_TRUE(c.has_value());
          EXPECT_EQ(escape(decodeAll(in, *c, step)), escape(want));
          EXPECT_EQ(c->defects().has(Defect::InvalidCharset), in != want);
        }
      }
    }
  }
}

TEST(CharsetConverter, MoveKeepsState) {
  Result<CharsetConverter> c = CharsetConverter::open("gb2312");
  ASSERT_TRUE(c.has_value());
  std::string out;
  c->feed("\xD6", out);
  CharsetConverter moved(std::move(*c));
  moved.feed("\xD0", out);
  CharsetConverter assigned = std::move(moved);
  assigned.finish(out);
  EXPECT_EQ(out, "中");
}

TEST(DecodeHeaderValue, Table) {
  struct Case {
    const char* name;
    std::string in;
    std::string want;
    std::uint32_t want_defects;
  };
  constexpr auto bad = static_cast<std::uint32_t>(Defect::BadEncodedWord);
  const std::vector<Case> cases = {
      {"plain ascii", "Hello world", "Hello world", 0},
      {"iso-8859-1 Q", "=?ISO-8859-1?Q?Andr=E9?= Dupont", "André Dupont", 0},
      {"utf-8 B", "=?UTF-8?B?R3LDvMOfZQ==?=", "Grüße", 0},
      {"lower-case b and q", "=?utf-8?b?R3LDvMOfZQ==?= =?utf-8?q?x?=", "Grüßex", 0},
      {"windows-1252 Q with underscore", "=?windows-1252?Q?=80_100?=", "€ 100", 0},
      {"koi8-r B", "=?KOI8-R?B?8NLJ18XU?=", "Привет", 0},
      {"iso-2022-jp B", "=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=", "日本語", 0},
      {"gb2312 B", "=?gb2312?B?1tDOxA==?=", "中文", 0},
      {"whitespace between words dropped (§6.2)", "=?utf-8?Q?a?= \r\n =?utf-8?Q?b?=", "ab", 0},
      {"whitespace between word and text kept", "=?utf-8?Q?a?= b =?utf-8?Q?c?=", "a b c", 0},
      {"character split across words", "=?utf-8?B?5pel5g==?= =?utf-8?B?nKzoqp7jga7jg4bjgrnjg4g=?=",
       "日本語のテスト", 0},
      {"different charsets adjacent", "=?iso-8859-1?Q?=E9?= =?koi8-r?B?8A==?=", "éП", 0},
      {"unpadded B accepted", "=?utf-8?B?R3LDvMOfZQ?=", "Grüße", 0},
      {"bad base64 kept verbatim", "x =?utf-8?B?#$%!?= y", "x =?utf-8?B?#$%!?= y", bad},
      {"bad Q escape kept verbatim", "=?utf-8?Q?a=ZZ?=", "=?utf-8?Q?a=ZZ?=", bad},
      {"unknown encoding kept verbatim", "=?utf-8?X?abc?=", "=?utf-8?X?abc?=", bad},
      {"unknown charset kept verbatim", "=?x-unknown?Q?abc?=", "=?x-unknown?Q?abc?=",
       bad | static_cast<std::uint32_t>(Defect::UnknownCharset)},
      {"rfc 2231 language suffix", "=?utf-8*en?Q?Hi_there?=", "Hi there", 0},
      {"not a word", "a =? b ?= c", "a =? b ?= c", 0},
      {"word glued to text still decoded", "Re:=?utf-8?Q?Caf=C3=A9?=!", "Re:Café!", 0},
      {"raw utf-8 kept (RFC 6532)", "Grüße", "Grüße", 0},
      {"raw latin-1 replaced", "caf\xE9", "caf\xEF\xBF\xBD",
       static_cast<std::uint32_t>(Defect::EightBitInHeader)},
      {"invalid bytes inside word", "=?utf-8?Q?a=FFb?=", "a\xEF\xBF\xBD" "b",
       static_cast<std::uint32_t>(Defect::InvalidCharset)},
      {"empty word", "=?utf-8?Q?" "?=x", "x", 0},
      {"nested marker", "=?=?utf-8?Q?a?=", "=?a", 0},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    Defects d;
    const std::string got = decodeHeaderValue(tc.in, d);
    EXPECT_EQ(got, tc.want) << "got '" << escape(got) << "' want '" << escape(tc.want) << "'";
    EXPECT_EQ(d.bits(), tc.want_defects) << "got '" << d.describe() << "'";
  }
}

TEST(HeaderParameter, Table) {
  struct Case {
    const char* name;
    std::string value;
    std::string param;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"token", "text/plain; charset=utf-8", "charset", "utf-8"},
      {"quoted", "multipart/mixed; boundary=\"=_a b;c\"", "boundary", "=_a b;c"},
      {"quoted pair", R"(attachment; filename="a\"b\\c.txt")", "filename", R"(a"b\c.txt)"},
      {"case-insensitive name", "text/plain; CharSet=\"UTF-8\"", "charset", "UTF-8"},
      {"absent", "text/plain", "charset", ""},
      {"second of several", "text/plain; format=flowed; charset=koi8-r; delsp=yes", "charset",
       "koi8-r"},
      {"name vs filename", "attachment; filename=a.pdf; name=b.pdf", "name", "b.pdf"},
      {"spaces around =", "text/plain ; charset = us-ascii ", "charset", "us-ascii"},
      {"comments skipped", "text/plain (c;x=1); (c) charset=utf-8 (comment)", "charset", "utf-8"},
      {"unquoted with spaces (lenient)", "attachment; filename=my file.pdf", "filename",
       "my file.pdf"},
      {"folded", "multipart/mixed;\r\n\tboundary=\"xyz\"", "boundary", "xyz"},
      {"first wins", "text/plain; charset=a; charset=b", "charset", "a"},
      {"rfc 2231 extended", "attachment; filename*=utf-8''%E2%82%AC%20rates.pdf", "filename",
       "€ rates.pdf"},
      {"rfc 2231 with language", "attachment; filename*=iso-8859-1'fr'caf%E9.txt", "filename",
       "café.txt"},
      {"rfc 2231 continuations", "attachment; filename*0=\"long\"; filename*1=\"name.txt\"",
       "filename", "longname.txt"},
      {"rfc 2231 continuations out of order", "x; name*1=b; name*0=a; name*2=c", "name", "abc"},
      {"rfc 2231 gap stops", "x; name*0=a; name*2=c", "name", "a"},
      {"rfc 2231 extended continuations",
       "attachment; filename*0*=utf-8''%E6%97%A5; filename*1*=%E6%9C%AC; filename*2=.txt",
       "filename", "日本.txt"},
      {"rfc 2231 wins over plain", "attachment; filename=\"fallback.txt\"; filename*=utf-8''real.txt",
       "filename", "real.txt"},
      {"rfc 2231 koi8-r", "x; name*=koi8-r''%F0%D2%C9%D7%C5%D4", "name", "Привет"},
      {"rfc 2231 bad percent kept", "x; name*=utf-8''100%zz", "name", "100%zz"},
      {"rfc 2231 no charset", "x; name*=''a%20b", "name", "a b"},
      {"rfc 2231 unknown charset sanitised", "x; name*=x-bogus''%FFa", "name", "\xEF\xBF\xBD" "a"},
      {"unterminated quote", "x; name=\"abc", "name", "abc"},
      {"semicolon in main value quoted", "x\";\"; name=v", "name", "v"},
      {"encoded word left as is", "x; name=\"=?utf-8?Q?a?=\"", "name", "=?utf-8?Q?a?="},
      {"param without value skipped", "x; foo; name=v", "name", "v"},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    const std::string got = headerParameter(tc.value, tc.param);
    EXPECT_EQ(got, tc.want) << "got '" << escape(got) << "' want '" << escape(tc.want) << "'";
  }
}

}  // namespace
}  // namespace mw::message
