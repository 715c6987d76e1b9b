// message/text.h: HTML 5 character references in HtmlText (issue 16 point 4): every
// named reference of the generated table, the legacy names without ';', numeric
// references with their repairs, the attribute-value rule, and chunking: every input
// split at every byte (and into every pair of pieces) decodes as it does byte by byte.
#include "mailwarden/message/text.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "testing.h"

namespace mw::message {
namespace {

using testing::escape;

struct Out {
  std::string text;
  std::vector<std::string> urls;
  bool operator==(const Out&) const = default;
};

// Fed in pieces of `step` bytes.
Out html(std::string_view in, std::size_t step) {
  HtmlText h;
  Out o;
  for (std::size_t i = 0; i < in.size(); i += step) h.feed(in.substr(i, step), o.text, o.urls);
  h.finish(o.text, o.urls);
  return o;
}

// Fed as in[0, cut) and in[cut, end).
Out htmlCut(std::string_view in, std::size_t cut) {
  HtmlText h;
  Out o;
  h.feed(in.substr(0, cut), o.text, o.urls);
  h.feed(in.substr(cut), o.text, o.urls);
  h.finish(o.text, o.urls);
  return o;
}

std::string text(std::string_view in) { return html(in, in.size() + 1).text; }

// The decoded text of `in`, checked to be the same for every way of cutting it.
std::string textEverySplit(std::string_view in) {
  const Out whole = html(in, in.size() + 1);
  EXPECT_EQ(html(in, 1), whole) << escape(in) << " byte by byte";
  for (std::size_t cut = 0; cut <= in.size(); ++cut) {
    EXPECT_EQ(htmlCut(in, cut), whole) << escape(in) << " cut at " << cut;
  }
  return whole.text;
}

std::string href(std::string_view value) {
  const Out o = html("<a href=\"" + std::string(value) + "\">x</a>", 1);
  return o.urls.size() == 1 ? o.urls[0] : "<" + std::to_string(o.urls.size()) + " urls>";
}

struct Named {
  std::string_view name;
  std::string_view text;
};
constexpr Named kTable[] = {
#include "message/html_entities.inc"
};

TEST(CharRef, EveryNamedReferenceOfTheTable) {
  ASSERT_EQ(std::size(kTable), 2231u);
  std::size_t legacy = 0;
  for (const Named& e : kTable) {
    const std::string ref = "&" + std::string(e.name);
    // Followed by a space (ends a name without ';') and by a letter that continues no
    // name ("&amp;" + "Q"): the reference alone is replaced.
    EXPECT_EQ(text("a" + ref + " b"), "a" + std::string(e.text) + " b") << ref;
    if (e.name.ends_with(';')) {
      EXPECT_EQ(text(ref + "Q"), std::string(e.text) + "Q") << ref;
      // Without its ';' the name is no reference, but the longest legacy name that
      // starts it is ("&notin" reads "\u00ACin"); found here by a plain scan.
      const std::string_view bare = e.name.substr(0, e.name.size() - 1);
      const Named* longest = nullptr;
      for (const Named& f : kTable) {
        if (!f.name.ends_with(';') && bare.starts_with(f.name) && (!longest || f.name.size() > longest->name.size())) {
          longest = &f;
        }
      }
      const std::string want = longest ? std::string(longest->text) + std::string(bare.substr(longest->name.size()))
                                       : "&" + std::string(bare);
      EXPECT_EQ(text("&" + std::string(bare) + " "), want + " ") << bare;
    } else {
      ++legacy;
    }
  }
  EXPECT_EQ(legacy, 106u);
}

TEST(CharRef, NamesFromAcrossTheTable) {
  EXPECT_EQ(textEverySplit("&AElig;&Oacute;&fnof;&period;&zwnj;"), "\xC3\x86\xC3\x93\xC6\x92.\xE2\x80\x8C");
  EXPECT_EQ(textEverySplit("&CounterClockwiseContourIntegral;"), "\xE2\x88\xB3");  // the longest name
  EXPECT_EQ(textEverySplit("&NotEqualTilde;&nvlt;"),                                 // two code points
            "\xE2\x89\x82\xCC\xB8<\xE2\x83\x92");
  EXPECT_EQ(textEverySplit("&Vopf;&iacute;&ascr;&gopf;&rscr;&aacute;"),
            "\xF0\x9D\x95\x8D\xC3\xAD\xF0\x9D\x92\xB6\xF0\x9D\x95\x98\xF0\x9D\x93\x87\xC3\xA1");
  EXPECT_EQ(text("&AMP;&amp;&Amp;"), "&&&Amp;");  // names are case-sensitive; "Amp" is none
}

TEST(CharRef, LegacyNamesWithoutSemicolonInText) {
  EXPECT_EQ(textEverySplit("&copy 2024 &amp&lt;b&gt"), "\xC2\xA9 2024 &<b>");
  EXPECT_EQ(textEverySplit("&copy2024"), "\xC2\xA9" "2024");
  EXPECT_EQ(textEverySplit("&notit; &notin; &notin"), "\xC2\xACit; \xE2\x88\x89 \xC2\xACin");  // longest match
  EXPECT_EQ(textEverySplit("&ampx &eacutex"), "&x \xC3\xA9x");
  EXPECT_EQ(textEverySplit("&fnof &period &Vopf"), "&fnof &period &Vopf");  // not legacy: need ';'
  EXPECT_EQ(textEverySplit("&Oacute<b>"), "\xC3\x93");
  EXPECT_EQ(textEverySplit("caf&eacute"), "caf\xC3\xA9");  // at the end of the input
}

TEST(CharRef, UnknownAndIncompleteStayAsWritten) {
  EXPECT_EQ(textEverySplit("&unknown; & &; &&amp; &#; &#x; &#xg; &#a &x"), "&unknown; & &; && &#; &#x; &#xg; &#a &x");
  EXPECT_EQ(textEverySplit("a&"), "a&");
  EXPECT_EQ(textEverySplit("a&#"), "a&#");
  EXPECT_EQ(textEverySplit("a&#X"), "a&#X");
  EXPECT_EQ(textEverySplit("&am<b>p;"), "&amp;");  // a tag ends the reference
}

TEST(CharRef, Numeric) {
  EXPECT_EQ(textEverySplit("&#65;&#x42;&#X43&#0000000000068;&#x0000045 &#70"), "ABCDE F");
  EXPECT_EQ(textEverySplit("&#233;&#xE9;&#x1F600;"), "\xC3\xA9\xC3\xA9\xF0\x9F\x98\x80");
  // 0, surrogates, beyond U+10FFFF (however many digits): U+FFFD.
  std::string six_fffd;
  for (int k = 0; k < 6; ++k) six_fffd += "\xEF\xBF\xBD";
  EXPECT_EQ(textEverySplit("&#0;&#xD800;&#xDFFF;&#x110000;&#1114112;&#99999999999999999999999;"), six_fffd);
  EXPECT_EQ(textEverySplit("&#x10FFFF;"), "\xF4\x8F\xBF\xBF");
  // 0x80-0x9F: the Windows-1252 character; the five bytes windows-1252 leaves undefined stay.
  EXPECT_EQ(textEverySplit("&#x80;&#150;&#x9f;&#x99;&#x8A;"), "\xE2\x82\xAC\xE2\x80\x93\xC5\xB8\xE2\x84\xA2\xC5\xA0");
  EXPECT_EQ(text("&#x81;&#x8D;&#x8F;&#x90;&#x9D;"), "\xC2\x81\xC2\x8D\xC2\x8F\xC2\x90\xC2\x9D");
  EXPECT_EQ(text("&#x7F;&#xA0;"), "\x7F\xC2\xA0");
}

TEST(CharRef, AttributeValues) {
  EXPECT_EQ(href("http://a.example/?x=1&copy=2&amp;y=3&copy;&not;z&notx&amp"),
            "http://a.example/?x=1&copy=2&y=3\xC2\xA9\xC2\xAC" "z&notx&");
  EXPECT_EQ(href("http://a.example/?q=&fnof;&#x2F;&#47&period;"), "http://a.example/?q=\xC6\x92//.");
  EXPECT_EQ(href("http://a.example/&lt/x"), "http://a.example/</x");  // '/' is neither '=' nor alphanumeric
}

TEST(CharRef, ChunkingNeverChangesTheResult) {
  const std::string in =
      "<p>V&iacute;&#x61;gra &amp&amp; &CounterClockwiseContourIntegral; &notit; &#150;&#x1F600;"
      "&#99999999999999; &unknown; &#x; &AElig&zwnj;</p><a href='http://a.example/?a=1&copy=2&amp;b'>l</a>"
      "<script>&amp;</script>&Oacute;&period";
  const std::string whole = textEverySplit(in);
  EXPECT_NE(whole.find("V\xC3\xAD" "agra &&"), std::string::npos) << whole;
  EXPECT_EQ(whole.find("&amp;</"), std::string::npos) << whole;  // script contents dropped
  for (std::size_t step = 2; step <= 40; ++step) EXPECT_EQ(html(in, step), html(in, 1)) << step;
}

}  // namespace
}  // namespace mw::message
