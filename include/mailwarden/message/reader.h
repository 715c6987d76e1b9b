// message/reader.h — splits a raw RFC 5322 message (an .eml file, a fuzz input) into
// header fields and body chunks, push-style, the way an MTA presents them to a milter:
// field values keep their leading whitespace and folding (CRLF), the body has CRLF line
// ends (bare LF is converted, as an MTA does on the wire). Used by `mailwarden check`
// so it feeds Scan exactly what the milter would.
// Memory: one partial header field (bounded by Limits::max_header_bytes) plus a small
// carry; body chunks are passed through. Untrusted input; never throws except bad_alloc.
#pragma once

#include <string>
#include <string_view>

#include "mailwarden/message/limits.h"

namespace mw::message {

class ReaderSink {
 public:
  virtual ~ReaderSink();
  virtual void header(std::string_view name, std::string_view value) = 0;
  virtual void endOfHeaders() = 0;
  virtual void body(std::string_view chunk) = 0;
};

class MessageReader {
 public:
  MessageReader(const Limits& limits, ReaderSink& sink) : limits_(limits), sink_(sink) {}
  void feed(std::string_view chunk);
  // Flushes the last field or body bytes; calls endOfHeaders if the input had no body.
  void finish();

 private:
  void emitField();
  void bodyBytes(std::string_view chunk);

  Limits limits_;
  ReaderSink& sink_;
  bool in_body_ = false;
  std::string line_;    // the header line being assembled
  std::string field_;   // the header field being assembled (with folding)
  bool prev_cr_ = false;  // body: the previous byte was CR
};

}  // namespace mw::message
