// message/text.h: TextExtractor, the one text/URL extraction of a message (issue 17),
// driven through MessageReader and MimeParser as scan/ drives it: the text and URLs of
// plain and HTML parts, their order, the "\n" between parts, the per-part reset of
// HtmlText/UrlFinder, and that each listener gets only what it subscribed for.
#include "mailwarden/message/text.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "testing.h"

namespace mw::message {
namespace {

using testing::crlf;
using testing::escape;

// Records every call, in order: "T:<text>" (chunks of one run merged) and "U:<url>".
class Recorder final : public TextListener {
 public:
  void text(std::string_view t) override {
    EXPECT_FALSE(t.empty()) << "empty text call";
    if (!calls.empty() && calls.back().starts_with("T:")) {
      calls.back() += t;
    } else {
      calls.push_back("T:" + std::string(t));
    }
    all_text += t;
    ++text_calls;
  }
  void url(std::string_view u) override {
    calls.push_back("U:" + std::string(u));
    urls.emplace_back(u);
  }

  std::vector<std::string> calls;
  std::string all_text;
  std::vector<std::string> urls;
  std::size_t text_calls = 0;
};

// `raw` (written with "\n") through MessageReader -> MimeParser -> `x`, in chunks from
// splitSizes(step, seed).
void run(std::string_view raw, TextExtractor& x, std::size_t step = 0, std::uint32_t seed = 1) {
  const std::string msg = crlf(raw);
  Limits limits;
  MimeParser parser(limits, &x);
  testing::ReaderToMime bridge(parser);
  MessageReader reader(limits, bridge);
  std::size_t off = 0;
  for (const std::size_t k : testing::splitSizes(msg.size(), step, seed)) {
    reader.feed(std::string_view(msg).substr(off, k));
    off += k;
  }
  reader.finish();
  parser.finish();
}

std::string show(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += "\n  " + escape(s);
  return out;
}

constexpr std::string_view kPlain =
    "Subject: plain\n"
    "\n"
    "see http://a.example/x, and WWW.B.example/p?q=1.\n"
    "not a URL: xhttp://c.example/ nor awww.d.example\n"
    "again http://a.example/x\n";

constexpr std::string_view kAlternative =
    "Subject: two parts\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=\"b1\"\n"
    "\n"
    "preamble http://pre.example/ is not a part\n"
    "--b1\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "\n"
    "one http://one.example/a\n"
    "--b1\n"
    "Content-Type: text/html; charset=utf-8\n"
    "\n"
    "<p>Two &amp; <a href=\"http://href.example/h\">go http://bare.example/b</a></p>"
    "<img src=\"https://img.example/i.png\">caf&eacute;\n"
    "--b1--\n";

TEST(TextExtractor, PlainTextUrlsAsFoundNotDeduplicated) {
  TextExtractor x;
  Recorder r;
  x.subscribe(r, true, true);
  EXPECT_TRUE(x.wanted());
  run(kPlain, x);
  // Prefixes lower-case (text.h), trailing ".,", the same URL twice, no URL after a word
  // character. The URLs of a chunk come before its text.
  const std::vector<std::string> want_urls = {"http://a.example/x", "www.B.example/p?q=1",
                                              "http://a.example/x"};
  EXPECT_EQ(r.urls, want_urls) << show(r.urls);
  EXPECT_EQ(r.all_text,
            "see http://a.example/x, and WWW.B.example/p?q=1.\r\n"
            "not a URL: xhttp://c.example/ nor awww.d.example\r\n"
            "again http://a.example/x\r\n");
}

TEST(TextExtractor, HtmlHrefsAndTextAndPartsSeparatedByNewline) {
  TextExtractor x;
  Recorder r;
  x.subscribe(r, true, true);
  run(kAlternative, x);
  // Part 1 ends with its URL (the CRLF before a delimiter belongs to the delimiter,
  // RFC 2046 §5.1.1), so UrlFinder reports it at the part's end, after its text. Then
  // "\n"; part 2's href and src values, then the bare URL of its text, then its text
  // (<p> is a line break).
  const std::vector<std::string> want = {
      "T:one http://one.example/a",
      "U:http://one.example/a",
      "T:\n",
      "U:http://href.example/h",
      "U:https://img.example/i.png",
      "U:http://bare.example/b",
      "T:\nTwo & go http://bare.example/b\ncaf\xC3\xA9",
  };
  EXPECT_EQ(r.calls, want) << show(r.calls);
}

TEST(TextExtractor, SameResultForEveryChunking) {
  for (const std::string_view msg : {kPlain, kAlternative}) {
    TextExtractor whole_x;
    Recorder whole;
    whole_x.subscribe(whole, true, true);
    run(msg, whole_x);
    for (const std::size_t step : {1u, 2u, 7u, 64u}) {
      TextExtractor x;
      Recorder r;
      x.subscribe(r, true, true);
      run(msg, x, step, static_cast<std::uint32_t>(step));
      EXPECT_EQ(r.all_text, whole.all_text) << "step " << step;
      EXPECT_EQ(r.urls, whole.urls) << "step " << step;
    }
  }
}

TEST(TextExtractor, UrlsOnlyListenerGetsNoTextButHtmlIsStillDecoded) {
  TextExtractor x;
  Recorder urls_only;
  Recorder text_only;
  x.subscribe(urls_only, false, true);
  x.subscribe(text_only, true, false);
  run(kAlternative, x);
  EXPECT_EQ(urls_only.text_calls, 0u);
  // The bare URL inside the HTML is found in its decoded text, though this listener
  // wants no text.
  const std::vector<std::string> want = {"http://one.example/a", "http://href.example/h",
                                         "https://img.example/i.png", "http://bare.example/b"};
  EXPECT_EQ(urls_only.urls, want) << show(urls_only.urls);
  EXPECT_TRUE(text_only.urls.empty()) << show(text_only.urls);
  EXPECT_EQ(text_only.all_text, "one http://one.example/a\n\nTwo & go http://bare.example/b\ncaf\xC3\xA9");
}

TEST(TextExtractor, NothingSubscribedDoesNothing) {
  TextExtractor x;
  EXPECT_FALSE(x.wanted());
  Recorder r;
  x.subscribe(r, false, false);  // wants nothing: subscribes nothing
  EXPECT_FALSE(x.wanted());
  run(kAlternative, x);
  EXPECT_TRUE(r.calls.empty()) << show(r.calls);
}

TEST(TextExtractor, SubscribingTwiceAddsWhatIsWantedOnce) {
  TextExtractor x;
  Recorder r;
  x.subscribe(r, true, false);
  x.subscribe(r, true, true);
  run(kPlain, x);
  EXPECT_EQ(r.urls.size(), 3u) << show(r.urls);  // not 6
  EXPECT_EQ(r.all_text.size(), crlf(kPlain).size() - crlf("Subject: plain\n\n").size());
}

TEST(TextExtractor, NonTextPartsAndPerPartReset) {
  // A URL that ends a part at its end (no line break: the CRLF before a delimiter belongs
  // to the delimiter) ends there; an attachment between two text parts adds nothing and
  // one "\n" separates them; an attribute value still open at the end of an HTML part
  // ends there (HtmlText::finish reports its URL) and does not swallow the next part.
  constexpr std::string_view kMixed =
      "Subject: mixed\n"
      "MIME-Version: 1.0\n"
      "Content-Type: multipart/mixed; boundary=\"b\"\n"
      "\n"
      "--b\n"
      "Content-Type: text/plain\n"
      "\n"
      "end http://end.example/z\n"
      "--b\n"
      "Content-Type: application/octet-stream\n"
      "Content-Disposition: attachment; filename=\"x.bin\"\n"
      "\n"
      "http://bin.example/ is not text\n"
      "--b\n"
      "Content-Type: text/html\n"
      "\n"
      "<b>bold</b><a href=\"http://cut.example/\n"
      "--b\n"
      "Content-Type: text/plain\n"
      "\n"
      "http://next.example/n\n"
      "--b--\n";
  TextExtractor x;
  Recorder r;
  x.subscribe(r, true, true);
  run(kMixed, x);
  const std::vector<std::string> want_urls = {"http://end.example/z", "http://cut.example/",
                                              "http://next.example/n"};
  EXPECT_EQ(r.urls, want_urls) << show(r.urls);
  EXPECT_EQ(r.all_text, "end http://end.example/z\nbold\nhttp://next.example/n");
}

TEST(MimeFanout, ForwardsEveryEventToEverySinkInOrder) {
  testing::RecordingSink a;
  testing::RecordingSink b;
  MimeFanout fan;
  fan.add(a);
  fan.add(b);
  Limits limits;
  MimeParser parser(limits, &fan);
  testing::ReaderToMime bridge(parser);
  MessageReader reader(limits, bridge);
  reader.feed(crlf(kAlternative));
  reader.finish();
  parser.finish();
  EXPECT_FALSE(a.events.empty());
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.open, 0);
}

}  // namespace
}  // namespace mw::message
