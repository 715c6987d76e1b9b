// message/text.cpp — see message/text.h.
#include "mailwarden/message/text.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <iterator>
#include <string_view>

#include "utf8.h"

namespace mw::message {
namespace {

constexpr std::size_t kMaxName = 16;
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

bool isAlnum(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

struct Entity {
  std::string_view name;  // as written after '&', with its ';' if it has one
  std::string_view text;  // UTF-8
};

// HTML 5's named character references, sorted by byte value (gen_html_entities.py).
constexpr Entity kEntities[] = {
#include "html_entities.inc"
};
constexpr std::size_t kEntityCount = std::size(kEntities);
static_assert(kEntityCount == 2231);
static_assert(kEntityCount <= 0x7FFF);  // CharRef keeps indices in 16 bits
static_assert(std::is_sorted(std::begin(kEntities), std::end(kEntities),
                             [](const Entity& a, const Entity& b) { return a.name < b.name; }));
static_assert(std::all_of(std::begin(kEntities), std::end(kEntities),
                          [](const Entity& e) { return e.name.size() >= 2 && e.name.size() <= 32; }));

// For each first byte, the range of kEntities whose names start with it (the first
// step of a lookup is then an index, not a search through 2,231 names).
struct Range {
  std::uint16_t lo = 0;
  std::uint16_t hi = 0;
};
constexpr std::array<Range, 128> kByFirst = [] {
  std::array<Range, 128> r{};
  for (std::size_t i = kEntityCount; i-- > 0;) {
    Range& x = r[static_cast<unsigned char>(kEntities[i].name[0])];
    if (x.hi == 0) x.hi = static_cast<std::uint16_t>(i + 1);
    x.lo = static_cast<std::uint16_t>(i);
  }
  return r;
}();

// HTML 5 §13.2.5.80: numeric references 0x80-0x9F name the Windows-1252 character at that
// byte (0 where windows-1252 has none: 0x81, 0x8D, 0x8F, 0x90, 0x9D stay as they are).
constexpr std::uint16_t kWindows1252[32] = {
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
};

// An attribute value with its character references decoded (HTML 5 attribute rules).
std::string decodeEntities(std::string_view s) {
  std::string out;
  CharRef ref;
  bool in_ref = false;
  for (std::size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (in_ref) {
      const CharRef::Step step = ref.feed(c, out, true);
      if (step == CharRef::Step::More) {
        ++i;
      } else {
        in_ref = false;
        if (step == CharRef::Step::Done) ++i;  // else c is processed below, next round
      }
      continue;
    }
    if (c == '&') {
      ref.begin();
      in_ref = true;
      ++i;
    } else {
      const std::size_t amp = std::min(s.find('&', i), s.size());  // a run without references
      out.append(s.data() + i, amp - i);
      i = amp;
    }
  }
  if (in_ref) ref.finish(out, true);
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

void CharRef::begin() {
  kind_ = Kind::Start;
  len_ = 0;
  best_ = -1;
  value_ = 0;
}

void CharRef::flushLiteral(std::string& out) const {
  out.push_back('&');
  out.append(buf_, len_);
}

CharRef::Step CharRef::feed(char c, std::string& out, bool attribute) {
  switch (kind_) {
    case Kind::Start:
      if (c == '#') {
        buf_[len_++] = '#';
        kind_ = Kind::NumStart;
        return Step::More;
      }
      if (isAlnum(c)) {
        kind_ = Kind::Named;
        const Range r = kByFirst[static_cast<unsigned char>(c)];
        if (r.lo == r.hi) {
          flushLiteral(out);  // no name starts with c ("&1")
          return Step::Reprocess;
        }
        lo_ = r.lo;
        hi_ = r.hi;
        buf_[len_++] = c;
        return Step::More;  // a name is never one byte long
      }
      flushLiteral(out);  // "&" alone
      return Step::Reprocess;
    case Kind::Named:
      return named(c, out, attribute);
    case Kind::NumStart:
      if (c == 'x' || c == 'X') {
        buf_[len_++] = c;
        kind_ = Kind::HexStart;
        return Step::More;
      }
      if (c >= '0' && c <= '9') {
        value_ = static_cast<std::uint32_t>(c - '0');
        kind_ = Kind::Dec;
        return Step::More;
      }
      flushLiteral(out);  // "&#" without digits stays as written
      return Step::Reprocess;
    case Kind::HexStart:
      if (hexValue(c) >= 0) {
        value_ = static_cast<std::uint32_t>(hexValue(c));
        kind_ = Kind::Hex;
        return Step::More;
      }
      flushLiteral(out);  // "&#x" without digits
      return Step::Reprocess;
    case Kind::Dec:
    case Kind::Hex: {
      const bool hex = kind_ == Kind::Hex;
      const int d = hex ? hexValue(c) : (c >= '0' && c <= '9' ? c - '0' : -1);
      if (d >= 0) {
        // Any number of digits; past U+10FFFF the value only has to stay out of range.
        value_ = std::min<std::uint32_t>(value_ * (hex ? 16u : 10u) + static_cast<std::uint32_t>(d), 0x110000);
        return Step::More;
      }
      endNumeric(out);
      return c == ';' ? Step::Done : Step::Reprocess;  // ';' is optional
    }
  }
  return Step::Reprocess;
}

CharRef::Step CharRef::named(char c, std::string& out, bool attribute) {
  // Names are alphanumerics with an optional final ';'. [lo_, hi_) holds the entries
  // that start with buf_; sorted, so those continuing with c are a sub-range, the one
  // equal to buf_ + c (if any) first in it.
  if (isAlnum(c) || c == ';') {
    const std::size_t k = len_;
    const int uc = static_cast<unsigned char>(c);
    const auto at = [k](const Entity& e) { return e.name.size() > k ? static_cast<unsigned char>(e.name[k]) : -1; };
    const Entity* first = kEntities + lo_;
    const Entity* end = kEntities + hi_;
    const Entity* last = nullptr;
    if (end - first <= 16) {
      // Few candidates left (the common case after two bytes): a linear scan.
      while (first != end && at(*first) < uc) ++first;
      last = first;
      while (last != end && at(*last) == uc) ++last;
    } else {
      first = std::partition_point(first, end, [&](const Entity& e) { return at(e) < uc; });
      last = std::partition_point(first, end, [&](const Entity& e) { return at(e) == uc; });
    }
    if (first != last) {
      lo_ = static_cast<std::uint16_t>(first - kEntities);
      hi_ = static_cast<std::uint16_t>(last - kEntities);
      buf_[len_++] = c;
      if (first->name.size() == len_) best_ = static_cast<std::int16_t>(lo_);
      if (c != ';') return Step::More;
      out.append(first->text);  // a name ends at its ';'
      return Step::Done;
    }
  }
  endNamed(static_cast<unsigned char>(c), out, attribute);
  return Step::Reprocess;
}

void CharRef::endNamed(int next, std::string& out, bool attribute) {
  if (best_ < 0) {
    flushLiteral(out);  // no name matches: the text stays as written
    return;
  }
  const Entity& e = kEntities[best_];
  const std::size_t m = e.name.size();
  if (attribute && e.name.back() != ';') {
    // A legacy name without ';' in an attribute value followed by '=' or an
    // alphanumeric stays as written (HTML 5 §13.2.5.73, "for historical reasons").
    const int after = m < len_ ? static_cast<unsigned char>(buf_[m]) : next;
    if (after == '=' || isAlnum(after)) {
      flushLiteral(out);
      return;
    }
  }
  out.append(e.text);
  out.append(buf_ + m, len_ - m);  // read past the name while a longer one was possible
}

void CharRef::endNumeric(std::string& out) const {
  std::uint32_t cp = value_;
  if (cp >= 0x80 && cp <= 0x9F && kWindows1252[cp - 0x80] != 0) cp = kWindows1252[cp - 0x80];
  appendUtf8(cp, out);  // 0, surrogates, > U+10FFFF: U+FFFD
}

void CharRef::finish(std::string& out, bool attribute) {
  switch (kind_) {
    case Kind::Start:
    case Kind::NumStart:
    case Kind::HexStart:
      flushLiteral(out);
      break;
    case Kind::Named:
      endNamed(-1, out, attribute);
      break;
    case Kind::Dec:
    case Kind::Hex:
      endNumeric(out);
      break;
  }
  begin();
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
        else if (c == '&') { ref_.begin(); state_ = State::CharRef; }
        else {
          // Text up to the next markup or reference is copied in one append, not a
          // push_back per byte.
          std::size_t j = i + 1;
          while (j < html.size() && html[j] != '<' && html[j] != '&') ++j;
          text.append(html.data() + i, j - i);
          i = j - 1;
        }
        break;
      case State::CharRef:
        switch (ref_.feed(c, text, false)) {
          case CharRef::Step::More: break;
          case CharRef::Step::Done: state_ = State::Text; break;
          case CharRef::Step::Reprocess:
            // c follows the reference: read it again as text ('<', '&' or a character).
            state_ = State::Text;
            --i;  // unsigned: wraps at 0 and the loop's ++i brings it back
            break;
        }
        break;
      case State::TagOpen:
        if (c == '!') { comment_.clear(); state_ = State::Declaration; }
        else if (c == '/') { closing_ = true; state_ = State::TagName; }
        else if (std::isalpha(static_cast<unsigned char>(c))) { tag_.assign(1, lower(c)); state_ = State::TagName; }
        else if (c == '?') { state_ = State::Declaration; }
        else { text.push_back('<'); state_ = State::Text; if (c == '&') { ref_.begin(); state_ = State::CharRef; } else if (c != '<') text.push_back(c); else state_ = State::TagOpen; }
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
  if (state_ == State::CharRef) ref_.finish(text, false);
  if (state_ == State::Value || state_ == State::AttrName || state_ == State::AfterAttrName) endAttribute(urls);
  state_ = State::Text;
}

}  // namespace mw::message
