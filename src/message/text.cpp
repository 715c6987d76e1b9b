// message/text.cpp — see message/text.h.
#include "mailwarden/message/text.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "utf8.h"

namespace mw::message {
namespace {

constexpr std::size_t kMaxName = 16;
constexpr std::size_t kMaxEntity = 12;
constexpr std::size_t kWindow = 8;

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }
bool isWord(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

void appendUtf8(std::uint32_t cp, std::string& out) {
  // Surrogates, out-of-range and NUL become U+FFFD (HTML 5 §13.2.5.80).
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// "&amp;" (with or without ';') to its text; false when it is not a reference we know,
// and the caller keeps it literally (HTML 5 does too for unknown names).
bool decodeEntity(std::string_view e, std::string& out) {
  if (e.size() < 2 || e[0] != '&') return false;
  std::string_view body = e.substr(1);
  if (!body.empty() && body.back() == ';') body.remove_suffix(1);
  if (body.empty()) return false;
  if (body[0] == '#') {
    std::uint32_t cp = 0;
    std::size_t i = 1;
    const bool hexa = body.size() > 1 && (body[1] == 'x' || body[1] == 'X');
    if (hexa) ++i;
    if (i >= body.size()) return false;
    for (; i < body.size(); ++i) {
      const char c = body[i];
      int d = -1;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (hexa && c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (hexa && c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d < 0) return false;
      cp = cp * (hexa ? 16u : 10u) + static_cast<std::uint32_t>(d);
      if (cp > 0x10FFFF) cp = 0x110000;  // stays out of range, no overflow
    }
    appendUtf8(cp, out);
    return true;
  }
  static const std::pair<std::string_view, std::uint32_t> kNamed[] = {
      {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", 0xA0},
      {"shy", 0xAD}, {"copy", 0xA9}, {"reg", 0xAE}, {"euro", 0x20AC}, {"zwj", 0x200D},
      {"zwnj", 0x200C}, {"ndash", 0x2013}, {"mdash", 0x2014}, {"hellip", 0x2026},
  };
  for (const auto& [name, cp] : kNamed) {
    if (body == name) {
      appendUtf8(cp, out);
      return true;
    }
  }
  return false;
}

std::string decodeEntities(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] == '&') {
      std::size_t j = i + 1;
      while (j < s.size() && j - i < kMaxEntity && s[j] != ';' && s[j] != '&' && !isSpace(s[j])) ++j;
      const std::size_t end = j < s.size() && s[j] == ';' ? j + 1 : j;
      if (decodeEntity(s.substr(i, end - i), out)) {
        i = end;
        continue;
      }
    }
    out.push_back(s[i++]);
  }
  return out;
}

bool isBlock(std::string_view tag) {
  static const std::string_view kBlocks[] = {"p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3",
                                             "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "hr", "title"};
  return std::find(std::begin(kBlocks), std::end(kBlocks), tag) != std::end(kBlocks);
}

void trimUrl(std::string& url) {
  while (!url.empty() && std::string_view(".,;:!?)'").find(url.back()) != std::string_view::npos) url.pop_back();
}

}  // namespace

void Utf8Stream::feed(std::string_view chunk, std::string& out) {
  if (pending_.empty()) {
    const std::size_t keep = utf8::appendSanitized(chunk, out, true, nullptr);
    pending_.assign(chunk.substr(chunk.size() - keep));
    return;
  }
  std::string joined = pending_;
  joined.append(chunk);
  const std::size_t keep = utf8::appendSanitized(joined, out, true, nullptr);
  pending_ = joined.substr(joined.size() - keep);
}

void Utf8Stream::finish(std::string& out) {
  utf8::appendSanitized(pending_, out, false, nullptr);
  pending_.clear();
}

void UrlFinder::emit(std::vector<std::string>& urls) {
  trimUrl(url_);
  // "http://" alone or "www." alone is no URL.
  if (url_.size() > 8 || (url_.starts_with("www.") && url_.size() > 4)) urls.push_back(url_);
  url_.clear();
  in_url_ = false;
}

void UrlFinder::feed(std::string_view text, std::vector<std::string>& urls) {
  for (const char c : text) {
    if (in_url_) {
      if (isSpace(c) || c == '<' || c == '>' || c == '"' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        emit(urls);
      } else {
        if (url_.size() < kMaxUrlBytes) url_.push_back(c);
        continue;
      }
    }
    ring_[seen_ % sizeof ring_] = lower(c);
    ++seen_;
    // Every prefix ends in '/' or '.': other bytes cannot complete one (the common case).
    if (c != '/' && c != '.') continue;
    const std::size_t n = std::min(seen_, kWindow + 1);
    char window[kWindow + 1];
    for (std::size_t k = 0; k < n; ++k) window[k] = ring_[(seen_ - n + k) % sizeof ring_];
    const std::string_view w(window, n);
    for (const std::string_view prefix : {std::string_view("https://"), std::string_view("http://"), std::string_view("www.")}) {
      if (w.ends_with(prefix)) {
        const std::size_t start = w.size() - prefix.size();
        // A word character before the prefix ("xhttp://", "awww.") is not a URL start.
        if (start > 0 && isWord(w[start - 1])) continue;
        in_url_ = true;
        url_.assign(prefix);
        seen_ = 0;
        break;
      }
    }
  }
}

void UrlFinder::finish(std::vector<std::string>& urls) {
  if (in_url_) emit(urls);
  seen_ = 0;
}

void HtmlText::flushEntity(std::string& out) {
  if (!decodeEntity(entity_, out)) out.append(entity_);
  entity_.clear();
}

void HtmlText::endTag(std::string& text) {
  if (isBlock(tag_)) text.push_back('\n');
  if (!closing_ && (tag_ == "script" || tag_ == "style")) {
    raw_end_ = "</" + tag_;
    raw_window_.clear();
    state_ = State::RawText;
  } else {
    state_ = State::Text;
  }
  tag_.clear();
  closing_ = false;
}

void HtmlText::endAttribute(std::vector<std::string>& urls) {
  if ((attr_ == "href" || attr_ == "src") && !value_.empty()) {
    std::string url = decodeEntities(value_);
    const auto b = url.find_first_not_of(" \t\r\n");
    if (b != std::string::npos) {
      url.erase(0, b);
      while (!url.empty() && isSpace(url.back())) url.pop_back();
      if (url.size() > kMaxUrlBytes) url.resize(kMaxUrlBytes);
      urls.push_back(std::move(url));
    }
  }
  attr_.clear();
  value_.clear();
  quote_ = 0;
}

void HtmlText::feed(std::string_view html, std::string& text, std::vector<std::string>& urls) {
  for (std::size_t i = 0; i < html.size(); ++i) {
    const char c = html[i];
    switch (state_) {
      case State::Text:
        if (c == '<') state_ = State::TagOpen;
        else if (c == '&') { entity_ = "&"; state_ = State::Entity; }
        else {
          // Text up to the next markup or entity is copied in one append, not a
          // push_back per byte.
          std::size_t j = i + 1;
          while (j < html.size() && html[j] != '<' && html[j] != '&') ++j;
          text.append(html.data() + i, j - i);
          i = j - 1;
        }
        break;
      case State::Entity:
        if (c == ';' || entity_.size() >= kMaxEntity || !(isWord(c) || c == '#')) {
          if (c == ';') {
            entity_.push_back(c);
            flushEntity(text);
            state_ = State::Text;
          } else {
            flushEntity(text);
            state_ = State::Text;
            if (c == '<') state_ = State::TagOpen;
            else if (c == '&') { entity_ = "&"; state_ = State::Entity; }
            else text.push_back(c);
          }
        } else {
          entity_.push_back(c);
        }
        break;
      case State::TagOpen:
        if (c == '!') { comment_.clear(); state_ = State::Declaration; }
        else if (c == '/') { closing_ = true; state_ = State::TagName; }
        else if (std::isalpha(static_cast<unsigned char>(c))) { tag_.assign(1, lower(c)); state_ = State::TagName; }
        else if (c == '?') { state_ = State::Declaration; }
        else { text.push_back('<'); state_ = State::Text; if (c == '&') { entity_ = "&"; state_ = State::Entity; } else if (c != '<') text.push_back(c); else state_ = State::TagOpen; }
        break;
      case State::TagName:
        if (c == '>') endTag(text);
        else if (isSpace(c) || c == '/') state_ = State::InTag;
        else if (tag_.size() < kMaxName) tag_.push_back(lower(c));
        break;
      case State::InTag:
        if (c == '>') endTag(text);
        else if (!isSpace(c) && c != '/') { attr_.assign(1, lower(c)); state_ = State::AttrName; }
        break;
      case State::AttrName:
        if (c == '=') state_ = State::BeforeValue;
        else if (c == '>') { endAttribute(urls); endTag(text); }
        else if (isSpace(c)) state_ = State::AfterAttrName;
        else if (attr_.size() < kMaxName) attr_.push_back(lower(c));
        break;
      case State::AfterAttrName:
        if (c == '=') state_ = State::BeforeValue;
        else if (c == '>') { endAttribute(urls); endTag(text); }
        else if (!isSpace(c)) { endAttribute(urls); attr_.assign(1, lower(c)); state_ = State::AttrName; }
        break;
      case State::BeforeValue:
        if (isSpace(c)) break;
        if (c == '>') { endAttribute(urls); endTag(text); break; }
        quote_ = (c == '"' || c == '\'') ? c : 0;
        if (quote_ == 0) value_.push_back(c);
        state_ = State::Value;
        break;
      case State::Value:
        if ((quote_ != 0 && c == quote_) || (quote_ == 0 && isSpace(c))) {
          endAttribute(urls);
          state_ = State::InTag;
        } else if (quote_ == 0 && c == '>') {
          endAttribute(urls);
          endTag(text);
        } else if (value_.size() < kMaxUrlBytes) {
          value_.push_back(c);
        }
        break;
      case State::Declaration:
        // "<!--" starts a comment that ends at "-->"; other declarations end at '>'.
        comment_.push_back(c);
        if (comment_ == "--") { comment_.clear(); state_ = State::Comment; }
        else if (c == '>') { comment_.clear(); state_ = State::Text; }
        else if (comment_.size() > 2) comment_.erase(0, comment_.size() - 2);
        break;
      case State::Comment:
        comment_.push_back(c);
        if (comment_.size() > 3) comment_.erase(0, comment_.size() - 3);
        if (comment_ == "-->" || comment_ == "--!") { comment_.clear(); state_ = State::Text; }
        break;
      case State::RawText:
        raw_window_.push_back(lower(c));
        if (raw_window_.size() > raw_end_.size()) raw_window_.erase(0, raw_window_.size() - raw_end_.size());
        if (raw_window_ == raw_end_) {
          raw_window_.clear();
          tag_ = raw_end_.substr(2);
          closing_ = true;
          state_ = State::TagName;
        }
        break;
    }
  }
}

void HtmlText::finish(std::string& text, std::vector<std::string>& urls) {
  if (state_ == State::Entity) flushEntity(text);
  if (state_ == State::Value || state_ == State::AttrName || state_ == State::AfterAttrName) endAttribute(urls);
  state_ = State::Text;
}

}  // namespace mw::message
