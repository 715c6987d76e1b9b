// message/text.h as the rules use it: HTML to text, URL extraction, UTF-8 repair, with
// every input split at every byte (the result must not depend on chunking).
#include "mailwarden/message/text.h"

#include <gtest/gtest.h>

namespace mw::message {
namespace {

std::pair<std::string, std::vector<std::string>> html(std::string_view in, std::size_t step) {
  HtmlText h;
  std::string text;
  std::vector<std::string> urls;
  for (std::size_t i = 0; i < in.size(); i += step) h.feed(in.substr(i, step), text, urls);
  h.finish(text, urls);
  return {text, urls};
}

std::vector<std::string> urls(std::string_view in, std::size_t step) {
  UrlFinder f;
  std::vector<std::string> out;
  for (std::size_t i = 0; i < in.size(); i += step) f.feed(in.substr(i, step), out);
  f.finish(out);
  return out;
}

TEST(HtmlText, TagsCommentsScriptsEntities) {
  const std::string in =
      "<html><head><style>p{color:red}</style><title>T</title></head><body>"
      "<p>V<b>ia</b>gra &amp; caf&eacute; &#233;&#x41;&nbsp;x</p><!-- hidden -- text -->"
      "<script type=\"text/javascript\">var a = '<p>scriptword</p>';</script>"
      "<a href='http://a.example/?x=1&amp;y=2' title=x>link</a><img src=http://b.example/i.png>"
      "<br/>a &lt; b &unknown; 3 < 4</body></html>";
  for (std::size_t step = 1; step <= in.size(); step += (step < 8 ? 1 : 37)) {
    const auto [text, found] = html(in, step);
    EXPECT_NE(text.find("Viagra & caf\xC3\xA9 \xC3\xA9" "A\xC2\xA0x"), std::string::npos) << step << ": " << text;
    EXPECT_EQ(text.find("hidden"), std::string::npos);
    EXPECT_EQ(text.find("color"), std::string::npos);
    EXPECT_EQ(text.find("scriptword"), std::string::npos) << text;
    EXPECT_NE(text.find("a < b &unknown; 3 < 4"), std::string::npos) << text;
    EXPECT_EQ(found, (std::vector<std::string>{"http://a.example/?x=1&y=2", "http://b.example/i.png"})) << step;
  }
}

TEST(HtmlText, HostileInputStaysBounded) {
  std::string in = "<a href=\"" + std::string(100000, 'x') + "\">" + std::string(1000, '&') + "&#99999999999;";
  const auto [text, found] = html(in, 4096);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].size(), kMaxUrlBytes);
  EXPECT_NE(text.find("\xEF\xBF\xBD"), std::string::npos);  // out-of-range reference -> U+FFFD
}

TEST(UrlFinder, BareUrls) {
  const std::string in = "See http://a.example/x, (https://b.example/y?q=1) and www.c.example. "
                         "Not xhttp://d.example or awww.e.example; HTTP://F.example/Z\r\nwww. alone";
  for (std::size_t step = 1; step <= 9; ++step) {
    EXPECT_EQ(urls(in, step), (std::vector<std::string>{"http://a.example/x", "https://b.example/y?q=1",
                                                         "www.c.example", "http://F.example/Z"}))
        << step;
  }
}

TEST(Utf8Stream, RepairsAndKeepsSplitSequences) {
  const std::string in = "caf\xC3\xA9 \xFF ok \xE2\x82\xAC end \xE2\x82";
  for (std::size_t step = 1; step <= 4; ++step) {
    Utf8Stream u;
    std::string out;
    for (std::size_t i = 0; i < in.size(); i += step) u.feed(std::string_view(in).substr(i, step), out);
    u.finish(out);
    EXPECT_EQ(out, "caf\xC3\xA9 \xEF\xBF\xBD ok \xE2\x82\xAC end \xEF\xBF\xBD\xEF\xBF\xBD") << step;
  }
}

}  // namespace
}  // namespace mw::message
