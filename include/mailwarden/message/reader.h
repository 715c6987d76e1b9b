// message/reader.h — splits a raw RFC 5322 message (an .eml file, a fuzz input) into
// header fields and body chunks, push-style, the way an MTA presents them to a milter:
// field values keep their leading whitespace and folding (CRLF), the body has CRLF line
// ends (bare LF is converted, as an MTA does on the wire). Used by `mailwarden check`
// so it feeds Scan exactly what the milter would.
//
// What it does with odd input, and why (the model is Postfix cleanup/mime_state):
//  - Field value = the bytes after the colon, leading whitespace and folding included,
//    line breaks as CRLF, without the CRLF that ends the field. The name is the bytes
//    before the colon; whitespace between name and colon (RFC 5322 §4.5 obs-optional)
//    is dropped from the name.
//  - The header ends at the first empty line (RFC 5322 §2.1), which is not part of the
//    body. A line that is neither a field ("name:" with printable ASCII name chars) nor
//    a continuation (leading WSP after a field) also ends the header, as Postfix does
//    (is_header() fails -> body): that line becomes the first body line and
//    MalformedHeader is flagged. No empty line is invented.
//  - A leading mbox "From " line (an .eml saved from a mailbox) is skipped, as Postfix
//    sendmail(1) skips it.
//  - Body: bare LF -> CRLF; CRLF split across chunks stays one CRLF; a bare CR is kept.
//    If the body does not end with a line break one is added at finish(): over SMTP the
//    DATA terminator always follows a CRLF, so that is what the MTA would hand on.
//  - A header field longer than Limits::max_header_bytes is truncated there
//    (HeaderBytesLimit), like Postfix header_size_limit; header lines are assembled in
//    pieces of Limits::max_line_length (LineTooLong when a line is longer).
// Memory: one partial line (<= max_line_length + 2) plus one field (<= max_header_bytes);
// body chunks are converted and passed on at once. Untrusted input; never throws except
// bad_alloc. Thread-compatible: one reader per message.
#pragma once

#include "mailwarden/message/defects.h"
#include "mailwarden/message/limits.h"

#include <cstddef>
#include <string>
#include <string_view>

namespace mw::message {

class ReaderSink {
 public:
  virtual ~ReaderSink();
  virtual void header(std::string_view name, std::string_view value) = 0;
  virtual void endOfHeaders() = 0;
  // Any number of calls with chunks of any size (never empty).
  virtual void body(std::string_view chunk) = 0;
};

class MessageReader {
 public:
  MessageReader(const Limits& limits, ReaderSink& sink) : limits_(limits), sink_(sink) {}
  // Chunks of any size, including 0 and 1 byte; the result does not depend on the split.
  void feed(std::string_view chunk);
  // Flushes the last field or body bytes; calls endOfHeaders if the input had no body.
  // Further feed()/finish() calls are ignored.
  void finish();
  // MalformedHeader, HeaderBytesLimit, LineTooLong as described above.
  const Defects& defects() const noexcept { return defects_; }

 private:
  void emitField();
  void bodyBytes(std::string_view chunk);
  void headerRun(std::string_view run);
  void headerLine(std::string_view text, bool complete);
  void startBody(std::string_view first, bool add_crlf);
  void appendField(std::string_view bytes);

  Limits limits_;
  ReaderSink& sink_;
  bool in_body_ = false;
  bool finished_ = false;
  std::string line_;    // the header line being assembled (<= max_line_length + 2)
  std::string name_;    // the header field being assembled
  std::string field_;   // its value so far (with folding, CRLF)
  bool have_field_ = false;
  bool at_line_start_ = true;  // line_ starts a line (not the rest of an over-long one)
  bool skip_line_ = false;     // the rest of this line is dropped (a leading "From ")
  bool first_line_ = true;
  bool prev_cr_ = false;       // body: the previous byte was CR
  bool body_ends_lf_ = true;   // body: nothing yet, or the last byte was LF
  std::string body_buf_;       // converted body chunk, reused
  Defects defects_;
};

// Feeds the whole raw message `raw` to `target` — anything with header(name, value),
// endOfHeaders() and body(chunk), such as dkim::Verifier or arc::Verifier — as an MTA
// presents it to a milter (MessageReader, default Limits), the body in pieces of `chunk`
// bytes (0: as read). For tests, tools, fuzzing and benchmarks.
template <typename Target>
void feedMessage(std::string_view raw, Target& target, std::size_t chunk = 0) {
  struct Feed final : ReaderSink {
    Target& t;
    std::size_t chunk;
    Feed(Target& x, std::size_t c) : t(x), chunk(c) {}
    void header(std::string_view n, std::string_view value) override { t.header(n, value); }
    void endOfHeaders() override { t.endOfHeaders(); }
    void body(std::string_view b) override {
      if (chunk == 0) {
        t.body(b);
        return;
      }
      for (std::size_t i = 0; i < b.size(); i += chunk) {
        t.body(b.substr(i, chunk));
      }
    }
  } feed(target, chunk);
  const Limits limits;
  MessageReader reader(limits, feed);
  reader.feed(raw);
  reader.finish();
}

}  // namespace mw::message
