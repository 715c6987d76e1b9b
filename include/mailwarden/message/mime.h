// message/mime.h — a streaming, push-style MIME parser (RFC 2045/2046), after Postfix's
// mime_state: the caller pushes header fields and body chunks in; the parser calls a
// MimeSink back with part boundaries, part headers and decoded part content.
//
// Memory is bounded by Limits, never by message size: the parser keeps at most one
// partial line (<= max_line_length + 2), the header of the current part (<=
// max_header_bytes, until it ends), the stack of open multiparts (<= max_mime_depth, each
// with its boundary and PartInfo), a few bytes of decoder state and < 16 KiB + one line
// of output; decoded content is handed on as it goes. Input is untrusted: every problem
// becomes a Defect and parsing continues. Thread-compatible: one parser per message.
// Never throws except bad_alloc.
//
// Event order: partBegin(part) once the part's header is complete (so PartInfo is
// final), then partHeader for each of its fields as received, then partData (leaves
// only) or the child parts (containers), then partEnd. Parts nest: a container's
// partEnd follows all of its children's. Every partBegin gets its partEnd by finish().
// The events, data chunk boundaries included, do not depend on how body() was chunked.
//
// Choices, and why:
//  - Delimiters ("--" boundary) are matched as a prefix of the line, innermost open
//    multipart first; "--" right after the boundary closes it. RFC 2046 §5.1.1 allows only
//    whitespace after the boundary, but Postfix mime_state and MUAs compare the prefix,
//    and a filter must split where the reader's MUA does. The line break before a
//    delimiter belongs to the delimiter (§5.1.1), so it is not part data.
//  - Preamble and epilogue are not delivered (§5.1.1: to be ignored).
//  - A delimiter of an outer multipart closes the inner ones (MissingFinalBoundary);
//    at finish() every open part is closed, unclosed multiparts flag it too.
//  - A part header ends at the empty line, or (as Postfix does) at a line that is
//    neither "name:" nor a continuation: MalformedHeader, and that line is content.
//  - Content-Type that does not parse is text/plain (RFC 2045 §5.2); in
//    multipart/digest the default is message/rfc822 (RFC 2046 §5.1.5).
//  - multipart/* without a boundary parameter is a leaf whose raw content is data
//    (MissingBoundaryParam). message/rfc822 (and message/global) with base64 or
//    quoted-printable encoding is a leaf too (RFC 2046 §5.2.1 forbids it; decoded, not
//    parsed, like Postfix).
//  - A container that would open children deeper than max_mime_depth is a leaf whose
//    raw content, inner delimiters included, is data (NestingTooDeep).
//  - Parts after max_mime_parts are opaque: not announced, not parsed, not delivered
//    (TooManyParts); delimiters of the open multiparts are still recognised so the
//    structure closes correctly.
//  - Transfer encodings: base64 and quoted-printable are decoded; 7bit/8bit/binary and
//    unknown ones (RFC 2045 §6.4: treat as opaque) are passed as they are.
//  - text/* content is converted to UTF-8 from its charset (none: us-ascii, validated
//    as UTF-8); an unknown charset flags UnknownCharset and passes bytes as they are.
//  - max_decoded_bytes counts transfer-decoded bytes per part; past it the part gets
//    no more data and is not decoded further (DecodedBytesLimit).
//  - Lines longer than max_line_length are processed in pieces (LineTooLong); content
//    is not altered by the cut.
#pragma once

#include "mailwarden/message/defects.h"
#include "mailwarden/message/header.h"
#include "mailwarden/message/limits.h"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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
  // Called any number of times with non-empty chunks (about 16 KiB each, the last one
  // of a part shorter). `data` is valid only during the call.
  virtual void partData(const PartInfo& part, std::string_view data) = 0;
  virtual void partEnd(const PartInfo& part) = 0;
};

// One parser, several consumers: forwards every event to each added sink, in the order
// added (MimeParser takes one sink). Sinks are not owned and must outlive the events.
// Thread-compatible; never throws except what a sink throws (and bad_alloc in add()).
class MimeFanout final : public MimeSink {
 public:
  void add(MimeSink& sink) { sinks_.push_back(&sink); }
  void partBegin(const PartInfo& part) override;
  void partHeader(const PartInfo& part, const HeaderField& field) override;
  void partData(const PartInfo& part, std::string_view data) override;
  void partEnd(const PartInfo& part) override;

 private:
  std::vector<MimeSink*> sinks_;
};

class MimeParser {
 public:
  // sink must outlive the parser; it may be nullptr (defects only).
  MimeParser(const Limits& limits, MimeSink* sink);
  ~MimeParser();
  MimeParser(const MimeParser&) = delete;
  MimeParser& operator=(const MimeParser&) = delete;

  // The top-level message header, field by field (values as received, folding kept),
  // then the end of the header. Fields after endOfHeaders() are ignored.
  void header(const HeaderField& field);
  void endOfHeaders();
  // Body bytes as received (CRLF or LF line ends), in chunks of any size. A body()
  // before endOfHeaders() ends the header first.
  void body(std::string_view chunk);
  // End of message: flushes partial lines and decoders, closes open parts (flagging
  // MissingFinalBoundary), calls partEnd for each. Calls after finish() are ignored.
  void finish();

  const Defects& defects() const noexcept;
  // Parts announced so far (partBegin calls), the message itself included.
  std::size_t partCount() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mw::message
