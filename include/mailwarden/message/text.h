// message/text.h — streaming text helpers for content rules, bounded by their own
// limits (never by message size). Thread-compatible; never throw except bad_alloc.
//
//   Utf8Stream  — passes text through with ill-formed UTF-8 replaced by U+FFFD (RFC
//                 3629 §3: never interpret ill-formed sequences); a sequence split
//                 across chunks is kept whole. Hyperscan's UTF-8 mode requires valid
//                 input (hs_compile.h, HS_FLAG_UTF8).
//   HtmlText    — HTML (a text/html part, chunk by chunk) to its text: tags, comments,
//                 <script>/<style> contents removed, character references decoded
//                 (CharRef below: every HTML 5 named and numeric one), block
//                 elements (p, div, br, li, tr, h1-6, td) become a line break, other
//                 tags nothing (so "<b>V</b>iagra" reads "Viagra", as the reader sees
//                 it). href= and src= attribute values are collected as URLs.
//   UrlFinder   — bare URLs in text: "http://", "https://" and "www." after a
//                 non-word character, up to whitespace, '<', '>', '"' or a control
//                 character; trailing ".,;:!?)'" is not part of the URL. The prefix
//                 is given lower-case (schemes and host names are case-insensitive,
//                 RFC 3986 §3.1/§3.2.2), so a rule can anchor on "^http://".
//   CharRef     — one HTML 5 character reference (§13.2.5.72-80), fed byte by byte
//                 after its '&'. Named: HTML 5's 2,231 names (src/message/html_entities.inc,
//                 generated), the longest name that matches, the 106 legacy names (&amp,
//                 &copy, &eacute, ...) also without ';' ("&notit;" reads "\u00ACit;"), in
//                 an attribute value not when '=' or an alphanumeric follows ("?a=1&copy=2"
//                 stays); an unknown name stays as written. Numeric: &#N; and &#xH; (';'
//                 optional, any number of digits); 0, surrogates and values above
//                 U+10FFFF become U+FFFD, 0x80-0x9F the Windows-1252 character HTML 5's
//                 table names. Byte-driven, so a reference split across chunks decodes
//                 as it does whole.
//   TextExtractor — a MimeSink that runs HtmlText/UrlFinder once per message for every
//                 consumer of the message's text and URLs (TextListener): the rules'
//                 body:text and url scopes, the DNS lists' URL host names (issue 17).
// Every URL is at most kMaxUrlBytes (longer ones are cut there).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/message/mime.h"

namespace mw::message {

inline constexpr std::size_t kMaxUrlBytes = 4096;

class Utf8Stream {
 public:
  // Appends the valid prefix of pending + chunk to out (ill-formed bytes as U+FFFD);
  // keeps an incomplete trailing sequence (<= 3 bytes) for the next call.
  void feed(std::string_view chunk, std::string& out);
  // The kept bytes, replaced (the text ended inside a sequence).
  void finish(std::string& out);

 private:
  std::string pending_;
};

class UrlFinder {
 public:
  // Appends the URLs complete within the text so far to `urls`.
  void feed(std::string_view text, std::vector<std::string>& urls);
  void finish(std::vector<std::string>& urls);

 private:
  void emit(std::vector<std::string>& urls);
  // The last 16 bytes, lower-case, as a ring (no copying per byte), to recognise a prefix.
  char ring_[16] = {};
  std::size_t seen_ = 0;  // bytes pushed into ring_ since the last URL (or the start)
  std::string url_;
  bool in_url_ = false;
};

class CharRef {
 public:
  enum class Step {
    More,       // the byte belongs to the reference, which goes on
    Done,       // the byte ended the reference (its ';'); its text is in out
    Reprocess,  // the reference ended before the byte: its text is in out, the byte is
                // the caller's to process
  };
  // The '&' was read.
  void begin();
  // `attribute`: inside an attribute value (the legacy-name rule above).
  Step feed(char c, std::string& out, bool attribute);
  // The input ended inside the reference.
  void finish(std::string& out, bool attribute);

 private:
  enum class Kind : std::uint8_t { Start, Named, NumStart, HexStart, Dec, Hex };
  Step named(char c, std::string& out, bool attribute);
  // `next`: the byte after the reference, -1 at the end of input.
  void endNamed(int next, std::string& out, bool attribute);
  void endNumeric(std::string& out) const;
  void flushLiteral(std::string& out) const;

  Kind kind_ = Kind::Start;
  std::uint8_t len_ = 0;      // bytes in buf_
  char buf_[32] = {};         // what followed '&': a name (never longer than 32), or "#x"
  std::uint16_t lo_ = 0;      // [lo_, hi_): the table entries that start with buf_
  std::uint16_t hi_ = 0;
  std::int16_t best_ = -1;    // the longest entry equal to a prefix of buf_, or -1
  std::uint32_t value_ = 0;   // a numeric reference's value, saturated at 0x110000
};

class HtmlText {
 public:
  // Appends the text of `html` to `text` and attribute URLs to `urls`.
  void feed(std::string_view html, std::string& text, std::vector<std::string>& urls);
  void finish(std::string& text, std::vector<std::string>& urls);

 private:
  enum class State { Text, CharRef, TagOpen, TagName, InTag, AttrName, AfterAttrName, BeforeValue, Value,
                     Comment, Declaration, RawText };
  void endTag(std::string& text);
  void endAttribute(std::vector<std::string>& urls);

  State state_ = State::Text;
  std::string tag_;        // lower-case name of the tag being read (<= 16 bytes kept)
  bool closing_ = false;   // </tag>
  std::string attr_;       // lower-case attribute name (<= 16 bytes kept)
  std::string value_;      // its value so far (<= kMaxUrlBytes)
  char quote_ = 0;         // the value's quote, or 0 for an unquoted value
  CharRef ref_;            // the character reference being read (State::CharRef)
  std::string raw_end_;    // "script" / "style" while in their raw text
  std::string raw_window_; // recent raw text, lower-case, to find "</script"
  std::string comment_;    // the last bytes of a comment, to find "-->"
};

// What a consumer of a message's text implements. Calls come from the TextExtractor it
// subscribed to, during that extractor's MimeSink events (so on the thread feeding the
// MIME parser); `text`/`url` are valid only during the call. A call may throw (bad_alloc):
// the exception leaves the MIME parser's caller, as any MimeSink's does.
class TextListener {
 public:
  virtual ~TextListener();
  // Decoded text of the text/* leaf parts, in order, in chunks of any size (never
  // empty): text/plain (any text/* but text/html) as the parser delivers it (UTF-8),
  // text/html through HtmlText. Parts are separated by one "\n".
  virtual void text(std::string_view /*text*/) {}
  // Each URL found in those parts, in the order found, not deduplicated: per chunk of a
  // text/html part first its href=/src= values, then the bare URLs (UrlFinder) of its
  // text; in other text/* parts the bare URLs. At most kMaxUrlBytes each.
  virtual void url(std::string_view /*url*/) {}
};

// One per message: the message's MIME parser (or a fan-out of it) calls this sink, which
// turns the text/* leaf parts into text and URLs once, for every subscribed listener.
// HtmlText and UrlFinder start afresh with each part (a tag or URL never runs from one
// part into the next). Work is only what some listener wants: no listener wanting
// anything (wanted() false) -> every event returns at once; text wanted, no URLs -> no
// UrlFinder, href values dropped; URLs wanted -> HTML is decoded (bare URLs are found in
// its text) even if nobody wants the text. Memory: HtmlText's and UrlFinder's bounded
// state, and one chunk of text and its URLs at a time. Thread-compatible; never throws
// except what a listener throws (bad_alloc).
class TextExtractor final : public MimeSink {
 public:
  TextExtractor() = default;
  ~TextExtractor() override;
  TextExtractor(const TextExtractor&) = delete;
  TextExtractor& operator=(const TextExtractor&) = delete;

  // Before the first event (a later subscriber sees only what follows). `text`/`urls`:
  // what this listener wants; both false subscribes nothing. Subscribing the same
  // listener again adds to what it wants (it is still called once per text/URL).
  // Listeners are called in subscription order, are not owned, and must outlive the
  // extractor's events. Never throws except bad_alloc.
  void subscribe(TextListener& listener, bool text, bool urls);
  // Some listener wants text or URLs: only then need the extractor see MIME events.
  bool wanted() const noexcept { return !text_listeners_.empty() || !url_listeners_.empty(); }

  void partBegin(const PartInfo& part) override;
  void partHeader(const PartInfo& part, const HeaderField& field) override;
  void partData(const PartInfo& part, std::string_view data) override;
  void partEnd(const PartInfo& part) override;

 private:
  void emitText(std::string_view text);
  void emitUrls();  // urls_ to the URL listeners, then cleared
  // Plain text of the current part (decoded HTML, or the part's data) to UrlFinder and
  // then to the text listeners.
  void partText(std::string_view text);

  std::vector<TextListener*> text_listeners_;
  std::vector<TextListener*> url_listeners_;
  bool part_text_ = false;     // the current leaf is text/*
  bool part_html_ = false;     // ... and text/html
  bool text_started_ = false;  // a text/* leaf was seen: the next one is preceded by "\n"
  HtmlText html_;
  UrlFinder url_finder_;
  std::string text_;                // the current chunk's decoded HTML text
  std::vector<std::string> urls_;   // URLs found in the current chunk
};

}  // namespace mw::message
