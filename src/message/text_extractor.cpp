// message/text_extractor.cpp — TextExtractor and TextListener (see message/text.h): the
// one place where a message's text/* parts become text and URLs, for the content rules
// and the DNS lists alike (issue 17), so no consumer decodes HTML a second time.
#include "mailwarden/message/text.h"

#include <algorithm>

namespace mw::message {

TextListener::~TextListener() = default;

TextExtractor::~TextExtractor() = default;

void TextExtractor::subscribe(TextListener& listener, bool text, bool urls) {
  // Once per list, so a listener subscribed twice still gets each text/URL once.
  auto join = [&listener](std::vector<TextListener*>& list) {
    if (std::find(list.begin(), list.end(), &listener) == list.end()) list.push_back(&listener);
  };
  if (text) join(text_listeners_);
  if (urls) join(url_listeners_);
}

void TextExtractor::emitText(std::string_view text) {
  if (text.empty()) return;
  for (TextListener* l : text_listeners_) l->text(text);
}

void TextExtractor::emitUrls() {
  for (const std::string& u : urls_) {
    for (TextListener* l : url_listeners_) l->url(u);
  }
  urls_.clear();
}

void TextExtractor::partText(std::string_view text) {
  if (!url_listeners_.empty()) {
    url_finder_.feed(text, urls_);
    emitUrls();
  }
  emitText(text);
}

void TextExtractor::partBegin(const PartInfo& part) {
  if (!wanted() || part.is_multipart) return;
  part_text_ = part.content_type.starts_with("text/");
  part_html_ = part.content_type == "text/html";
  // The separator is text only: UrlFinder starts afresh below, and a line break can
  // neither start nor continue a URL, so it could add none.
  if (part_text_ && text_started_) emitText("\n");
  text_started_ |= part_text_;
  html_ = HtmlText();
  url_finder_ = UrlFinder();
}

void TextExtractor::partHeader(const PartInfo&, const HeaderField&) {}

void TextExtractor::partData(const PartInfo&, std::string_view data) {
  if (!wanted() || !part_text_) return;
  if (!part_html_) {
    partText(data);
    return;
  }
  text_.clear();
  html_.feed(data, text_, urls_);
  emitUrls();  // the chunk's href=/src= values come before the bare URLs of its text
  partText(text_);
}

void TextExtractor::partEnd(const PartInfo& part) {
  if (!wanted() || part.is_multipart || !part_text_) return;
  if (part_html_) {
    text_.clear();
    html_.finish(text_, urls_);
    emitUrls();
    partText(text_);
  }
  if (!url_listeners_.empty()) {
    url_finder_.finish(urls_);
    emitUrls();
  }
  part_text_ = false;
}

}  // namespace mw::message
