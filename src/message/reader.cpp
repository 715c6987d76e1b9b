#include "mailwarden/message/reader.h"

#include "mailwarden/base/ascii.h"

#include <algorithm>
#include <optional>

namespace mw::message {
namespace {

struct FieldStart {
  std::size_t name_end;  // the name is text[0, name_end)
  std::size_t colon;     // text[colon] == ':'
};

// fieldStart - Postfix is_header(): a name of printable ASCII other than ':' (RFC 5322
// §3.6.8 ftext), optional SP/HT (obs syntax, §4.5), then ':'. nullopt otherwise.
std::optional<FieldStart> fieldStart(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size() && text[i] > 0x20 && text[i] < 0x7F && text[i] != ':') {
    ++i;
  }
  if (i == 0) {
    return std::nullopt;
  }
  const std::size_t name_end = i;
  while (i < text.size() && ascii::isSpace(text[i])) {
    ++i;
  }
  if (i >= text.size() || text[i] != ':') {
    return std::nullopt;
  }
  return FieldStart{name_end, i};
}

// The reader's line pieces need room for at least a CRLF and a byte of text.
std::size_t lineCap(const Limits& limits) noexcept {
  return std::max<std::size_t>(limits.max_line_length, 4);
}

}  // namespace

ReaderSink::~ReaderSink() = default;

void MessageReader::feed(std::string_view chunk) {
  if (finished_) {
    return;
  }
  while (!chunk.empty()) {
    if (in_body_) {
      bodyBytes(chunk);
      return;
    }
    const std::size_t nl = chunk.find('\n');
    const std::size_t take = nl == std::string_view::npos ? chunk.size() : nl + 1;
    headerRun(chunk.substr(0, take));
    chunk.remove_prefix(take);
  }
}

// headerRun - header-section bytes with at most one '\n', at the end of run. Lines are
// cut into pieces at fixed offsets (cap bytes each) so the result never depends on how
// the input was chunked.
void MessageReader::headerRun(std::string_view run) {
  const std::size_t cap = lineCap(limits_);
  while (!run.empty()) {
    if (in_body_) {
      bodyBytes(run);  // the rest of the line that ended the header
      return;
    }
    const std::size_t n = std::min(run.size(), cap + 2 - line_.size());
    line_.append(run.substr(0, n));
    run.remove_prefix(n);
    if (line_.back() == '\n') {
      std::string_view text = line_;
      text.remove_suffix(1);
      if (!text.empty() && text.back() == '\r') {
        text.remove_suffix(1);
      }
      headerLine(text, /*complete=*/true);
      line_.clear();
      at_line_start_ = true;
      continue;
    }
    if (line_.size() == cap + 2) {
      // Over-long line: hand on cap bytes now and keep the last two, which may be the
      // CR of a CRLF whose LF has not arrived yet.
      defects_.set(Defect::LineTooLong);
      const char keep[2] = {line_[cap], line_[cap + 1]};
      headerLine(std::string_view(line_).substr(0, cap), /*complete=*/false);
      at_line_start_ = false;
      line_.assign(keep, 2);
      if (in_body_) {
        bodyBytes(line_);
        line_.clear();
      }
    }
  }
}

// headerLine - one header line (without its line break), or a piece of an over-long
// line (complete == false); at_line_start_ says whether text starts the line.
void MessageReader::headerLine(std::string_view text, bool complete) {
  if (skip_line_) {
    skip_line_ = !complete;
    return;
  }
  if (!at_line_start_) {
    if (have_field_) {
      appendField(text);  // the rest of an over-long field line
    }
    return;
  }
  const bool first = first_line_;
  first_line_ = false;
  if (first && text.substr(0, 5) == "From ") {
    skip_line_ = !complete;  // mbox envelope line, not part of the message
    return;
  }
  if (text.empty()) {
    // RFC 5322 §2.1: the empty line separates header and body; it belongs to neither.
    emitField();
    in_body_ = true;
    sink_.endOfHeaders();
    return;
  }
  if (ascii::isSpace(text[0]) && have_field_) {
    appendField("\r\n");  // folding (§2.2.3), kept in wire form
    appendField(text);
    return;
  }
  if (!ascii::isSpace(text[0])) {
    if (const std::optional<FieldStart> fs = fieldStart(text)) {
      emitField();
      name_.assign(text.substr(0, fs->name_end));
      field_.clear();
      have_field_ = true;
      appendField(text.substr(fs->colon + 1));
      return;
    }
  }
  // Neither a field nor a continuation: Postfix ends the header here and treats the
  // line as the first body line.
  defects_.set(Defect::MalformedHeader);
  startBody(text, complete);
}

void MessageReader::startBody(std::string_view first, bool add_crlf) {
  emitField();
  in_body_ = true;
  sink_.endOfHeaders();
  bodyBytes(first);
  if (add_crlf) {
    bodyBytes("\r\n");
  }
}

// appendField - bounded by max_header_bytes per field (name + value), like Postfix
// header_size_limit: the excess is dropped and flagged, the field is still passed on.
void MessageReader::appendField(std::string_view bytes) {
  const std::size_t used = name_.size() + field_.size();
  const std::size_t room = used >= limits_.max_header_bytes ? 0 : limits_.max_header_bytes - used;
  if (bytes.size() > room) {
    defects_.set(Defect::HeaderBytesLimit);
    bytes = bytes.substr(0, room);
  }
  field_.append(bytes);
}

void MessageReader::emitField() {
  if (!have_field_) {
    return;
  }
  have_field_ = false;
  sink_.header(name_, field_);
  name_.clear();
  field_.clear();
}

// bodyBytes - bare LF becomes CRLF (RFC 5321 §2.3.8: lines end in CRLF on the wire). A
// CR at the end of one chunk pairs with an LF at the start of the next.
void MessageReader::bodyBytes(std::string_view chunk) {
  if (chunk.empty()) {
    return;
  }
  body_buf_.clear();
  std::size_t start = 0;
  for (std::size_t i = chunk.find('\n'); i != std::string_view::npos; i = chunk.find('\n', i + 1)) {
    const bool cr_before = i > 0 ? chunk[i - 1] == '\r' : prev_cr_;
    if (!cr_before) {
      body_buf_.append(chunk.substr(start, i - start));
      body_buf_ += "\r\n";
      start = i + 1;
    }
  }
  prev_cr_ = chunk.back() == '\r';
  body_ends_lf_ = chunk.back() == '\n';
  if (start == 0) {
    sink_.body(chunk);  // no bare LF: pass the bytes through without a copy
    return;
  }
  body_buf_.append(chunk.substr(start));
  sink_.body(body_buf_);
}

void MessageReader::finish() {
  if (finished_) {
    return;
  }
  if (!in_body_ && !line_.empty()) {
    // The input ended inside a header line: it is complete as it is.
    const std::string last = std::move(line_);
    line_.clear();
    headerLine(last, /*complete=*/true);
  }
  finished_ = true;
  if (!in_body_) {
    emitField();
    in_body_ = true;
    sink_.endOfHeaders();
    return;
  }
  if (!body_ends_lf_) {
    sink_.body(prev_cr_ ? std::string_view("\n") : std::string_view("\r\n"));
  }
}

}  // namespace mw::message
