// message/mime.h — a streaming, push-style MIME parser (RFC 2045/2046), after Postfix's
// mime_state: the caller pushes header fields and body chunks in; the parser calls a
// MimeSink back with part boundaries, part headers and decoded part content.
//
// Memory is bounded by Limits, never by message size: the parser keeps at most one
// partial line (<= max_line_length) and the stack of open multiparts (<= max_mime_depth),
// and hands decoded content on as it goes. Input is untrusted: every problem becomes a
// Defect and parsing continues. Thread-compatible: one parser per message.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "mailwarden/message/defects.h"
#include "mailwarden/message/header.h"
#include "mailwarden/message/limits.h"

namespace mw::message {

struct PartInfo {
  std::size_t index = 0;          // 0 for the message itself, then in order of appearance
  std::size_t depth = 0;          // 0 for the message itself
  std::string content_type;       // lower-case "type/subtype"; "text/plain" by default
  std::string charset;            // lower-case; empty when not given
  std::string transfer_encoding;  // lower-case; "7bit" by default
  std::string disposition;        // lower-case "attachment" / "inline" / empty
  std::string filename;           // from Content-Disposition filename or Content-Type name, decoded
  bool is_multipart = false;      // content arrives as child parts, not as data
  bool is_message = false;        // message/rfc822: the child is an embedded message
};

class MimeSink {
 public:
  virtual ~MimeSink();
  virtual void partBegin(const PartInfo& part) = 0;
  virtual void partHeader(const PartInfo& part, const HeaderField& field) = 0;
  // Content of a leaf part after transfer decoding; text/* parts are converted to UTF-8.
  // Called any number of times with chunks of any size.
  virtual void partData(const PartInfo& part, std::string_view data) = 0;
  virtual void partEnd(const PartInfo& part) = 0;
};

class MimeParser {
 public:
  // sink must outlive the parser; it may be nullptr (defects only).
  MimeParser(const Limits& limits, MimeSink* sink);
  ~MimeParser();
  MimeParser(const MimeParser&) = delete;
  MimeParser& operator=(const MimeParser&) = delete;

  // The top-level message header, field by field, then the end of the header.
  void header(const HeaderField& field);
  void endOfHeaders();
  // Body bytes as received (CRLF or LF line ends), in chunks of any size.
  void body(std::string_view chunk);
  // End of message: flushes partial lines and decoders, closes open parts (flagging
  // MissingFinalBoundary), calls partEnd for each.
  void finish();

  const Defects& defects() const noexcept;
  std::size_t partCount() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mw::message
