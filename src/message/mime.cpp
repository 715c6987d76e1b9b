#include "mailwarden/message/mime.h"

#include "mailwarden/base/ascii.h"
#include "mailwarden/message/decode.h"
#include "message/utf8.h"

#include <algorithm>
#include <optional>
#include <vector>

namespace mw::message {
namespace {

// Decoded content is handed to the sink in chunks of about this size (and at the end of
// each part): few virtual calls for big attachments, small buffers.
constexpr std::size_t kFlushBytes = 16 * 1024;

constexpr std::string_view kCrLf = "\r\n";
constexpr std::string_view kLf = "\n";

// fieldColon - index of the ':' of a header line "name:" / "name :" (Postfix
// is_header(): name chars are printable ASCII except ':'); npos when not a field.
std::size_t fieldColon(std::string_view text, std::size_t* name_end) noexcept {
  std::size_t i = 0;
  while (i < text.size() && text[i] > 0x20 && text[i] < 0x7F && text[i] != ':') {
    ++i;
  }
  if (i == 0) {
    return std::string_view::npos;
  }
  *name_end = i;
  while (i < text.size() && ascii::isSpace(text[i])) {
    ++i;
  }
  return i < text.size() && text[i] == ':' ? i : std::string_view::npos;
}

// mainValue - the lower-case value of a structured field before its parameters
// ("multipart/mixed", "attachment", "base64"): unfolded, comments and whitespace removed.
std::string mainValue(std::string_view raw) {
  const std::string value = unfold(raw);
  std::string out;
  int comment = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (comment > 0) {
      if (c == '\\') {
        ++i;
      } else if (c == '(') {
        ++comment;
      } else if (c == ')') {
        --comment;
      }
      continue;
    }
    if (c == ';') {
      break;
    }
    if (c == '(') {
      ++comment;
    } else if (!ascii::isWsp(c) && c != '"') {
      out += ascii::toLower(c);
    }
  }
  return out;
}

// isMediaType - RFC 2045 §5.1: type "/" subtype, both non-empty.
bool isMediaType(std::string_view t) noexcept {
  const std::size_t slash = t.find('/');
  return slash != std::string_view::npos && slash > 0 && slash + 1 < t.size() &&
         t.find('/', slash + 1) == std::string_view::npos;
}

const HeaderField* findField(const std::vector<HeaderField>& fields, std::string_view name) {
  for (const HeaderField& f : fields) {
    if (ascii::iequals(f.name, name)) {
      return &f;
    }
  }
  return nullptr;
}

}  // namespace

MimeSink::~MimeSink() = default;

void MimeFanout::partBegin(const PartInfo& part) {
  for (MimeSink* s : sinks_) s->partBegin(part);
}
void MimeFanout::partHeader(const PartInfo& part, const HeaderField& field) {
  for (MimeSink* s : sinks_) s->partHeader(part, field);
}
void MimeFanout::partData(const PartInfo& part, std::string_view data) {
  for (MimeSink* s : sinks_) s->partData(part, data);
}
void MimeFanout::partEnd(const PartInfo& part) {
  for (MimeSink* s : sinks_) s->partEnd(part);
}

struct MimeParser::Impl {
  // What the next body line belongs to.
  enum class Where {
    Header,    // the header of the current part (cur)
    Body,      // the content of the current leaf part (cur)
    Preamble,  // the innermost multipart, before its first delimiter: not delivered
    Epilogue,  // the innermost multipart, after its close delimiter: not delivered
    Skip,      // a part over max_mime_parts: not parsed, not delivered
    Done,      // finish() was called
  };
  enum class Coding { Identity, Base64, QuotedPrintable };
  enum class FieldState { None, Kept, Dropped };

  // One open container: a multipart (with its boundary) or a message/rfc822 part.
  struct Frame {
    PartInfo info;
    std::string boundary;  // empty for message/rfc822
    bool digest = false;   // multipart/digest: children default to message/rfc822
    bool closed = false;   // its close delimiter was seen
  };

  Impl(const Limits& l, MimeSink* s)
      : limits(l), sink(s), cap(std::max<std::size_t>(l.max_line_length, 4)) {
    newPart(0, "text/plain");
  }

  void newPart(std::size_t depth, std::string_view default_type);
  void addField(std::string_view name, std::string_view value);
  void appendToField(std::string_view bytes);
  void endHeader();
  void startLeaf();
  void endLeaf(bool eof);
  void endCurrent(bool eof);
  void popFrame();
  void endOfHeaders();
  void body(std::string_view chunk);
  void appendRun(std::string_view run);
  void processLine(std::string_view text, std::string_view eol);
  bool matchBoundary(std::string_view text);
  bool headerLine(std::string_view text);
  void content(std::string_view text, std::string_view eol);
  void decodeRaw(std::string_view bytes);
  void handleDecoded();
  void flushOut();
  void finish();

  const Limits limits;
  MimeSink* const sink;
  const std::size_t cap;  // line piece size (max_line_length, at least 4)
  Defects defects;
  std::vector<Frame> frames;  // <= max_mime_depth
  Where where = Where::Header;
  std::size_t parts = 0;
  bool top_header_done = false;
  bool finished = false;

  // The current part: a leaf, or a part whose header is still being read.
  PartInfo cur;
  std::vector<HeaderField> fields;  // cur's header, held until it ends (<= max_header_bytes)
  std::size_t field_bytes = 0;
  FieldState field = FieldState::None;

  // Content of the current leaf.
  Coding coding = Coding::Identity;
  Base64Decoder b64;
  QuotedPrintableDecoder qp;
  std::optional<CharsetConverter> conv;
  std::size_t decoded_total = 0;
  bool decoded_capped = false;
  // RFC 2046 §5.1.1: the line break before a delimiter belongs to the delimiter, so a
  // line's break is held until the next line shows it is not a delimiter.
  std::string_view pending_eol;
  std::string decoded;  // transfer-decoded bytes of one line
  std::string out;      // UTF-8 / binary output not yet handed on (< kFlushBytes + a line)

  // Line assembly.
  std::string line;            // <= cap + 2
  bool at_line_start = true;   // line starts a line (not the rest of an over-long one)
  bool discard_rest = false;   // the rest of this line is dropped (an over-long delimiter)
};

// newPart - a new part begins (at the top or after a delimiter); its header follows.
void MimeParser::Impl::newPart(std::size_t depth, std::string_view default_type) {
  if (parts >= limits.max_mime_parts) {
    // Further parts are opaque: not announced, not parsed; only delimiters of the
    // open multiparts are still recognised, so the structure closes correctly.
    defects.set(Defect::TooManyParts);
    where = Where::Skip;
    return;
  }
  cur = PartInfo{};
  cur.index = parts++;
  cur.depth = depth;
  cur.content_type = std::string(default_type);
  cur.transfer_encoding = "7bit";  // RFC 2045 §6.1 default
  fields.clear();
  field_bytes = 0;
  field = FieldState::None;
  where = Where::Header;
}

// addField - a field of the current part's header, bounded like HeaderList.
void MimeParser::Impl::addField(std::string_view name, std::string_view value) {
  if (fields.size() >= limits.max_headers) {
    defects.set(Defect::HeaderCountLimit);
    field = FieldState::Dropped;
    return;
  }
  const std::size_t size = name.size() + value.size();
  if (field_bytes + size > limits.max_header_bytes) {
    defects.set(Defect::HeaderBytesLimit);
    field = FieldState::Dropped;
    return;
  }
  field_bytes += size;
  fields.push_back(HeaderField{std::string(name), std::string(value)});
  field = FieldState::Kept;
}

void MimeParser::Impl::appendToField(std::string_view bytes) {
  if (field != FieldState::Kept) {
    return;
  }
  const std::size_t room =
      field_bytes >= limits.max_header_bytes ? 0 : limits.max_header_bytes - field_bytes;
  if (bytes.size() > room) {
    defects.set(Defect::HeaderBytesLimit);
    bytes = bytes.substr(0, room);
  }
  field_bytes += bytes.size();
  fields.back().value.append(bytes);
}

// endHeader - the current part's header is complete: work out what the part is,
// announce it, and set up what its body needs.
void MimeParser::Impl::endHeader() {
  const HeaderField* ct = findField(fields, "content-type");
  const HeaderField* cte = findField(fields, "content-transfer-encoding");
  const HeaderField* cd = findField(fields, "content-disposition");
  std::string boundary;
  if (ct != nullptr) {
    const std::string type = mainValue(ct->value);
    // RFC 2045 §5.2: a syntactically invalid Content-Type means text/plain.
    cur.content_type = isMediaType(type) ? type : "text/plain";
    const std::string ct_value = unfold(ct->value);
    cur.charset = ascii::lower(ascii::trim(headerParameter(ct_value, "charset")));
    if (cur.content_type.starts_with("multipart/")) {
      boundary = headerParameter(ct_value, "boundary");
    }
  }
  if (cte != nullptr) {
    const std::string enc = mainValue(cte->value);
    if (!enc.empty()) {
      cur.transfer_encoding = enc;
    }
  }
  std::string filename;
  if (cd != nullptr) {
    cur.disposition = mainValue(cd->value);
    filename = headerParameter(unfold(cd->value), "filename");  // RFC 2183 §2.3
  }
  if (filename.empty() && ct != nullptr) {
    filename = headerParameter(unfold(ct->value), "name");  // RFC 1341 legacy, still common
  }
  if (!filename.empty()) {
    cur.filename = decodeHeaderValue(filename, defects);  // RFC 2047 words in quotes: common
  }
  for (const HeaderField& f : fields) {
    if (f.value.find('\0') != std::string::npos) {
      defects.set(Defect::NulByte);
    }
    if (!utf8::isValid(f.value)) {
      defects.set(Defect::EightBitInHeader);
    }
  }

  const bool identity_cte = cur.transfer_encoding == "7bit" ||
                            cur.transfer_encoding == "8bit" || cur.transfer_encoding == "binary";
  cur.is_multipart = cur.content_type.starts_with("multipart/");
  // RFC 2046 §5.2.1: message/rfc822 may not be encoded; an encoded one is a leaf
  // (Postfix does the same: it does not look inside encoded message/* parts).
  cur.is_message = (cur.content_type == "message/rfc822" || cur.content_type == "message/global") &&
                   identity_cte;
  if (cur.is_multipart && boundary.empty()) {
    defects.set(Defect::MissingBoundaryParam);  // RFC 2046 §5.1.1: boundary is required
    cur.is_multipart = false;
  }
  if ((cur.is_multipart || cur.is_message) && cur.depth + 1 > limits.max_mime_depth) {
    defects.set(Defect::NestingTooDeep);  // the container's body becomes opaque data
    cur.is_multipart = false;
    cur.is_message = false;
  }

  if (sink != nullptr) {
    sink->partBegin(cur);
    for (const HeaderField& f : fields) {
      sink->partHeader(cur, f);
    }
  }
  fields.clear();
  field_bytes = 0;
  field = FieldState::None;

  if (cur.is_multipart) {
    const bool digest = cur.content_type == "multipart/digest";
    frames.push_back(Frame{cur, std::move(boundary), digest, false});
    where = Where::Preamble;
    return;
  }
  if (cur.is_message) {
    frames.push_back(Frame{cur, std::string(), false, false});
    newPart(cur.depth + 1, "text/plain");  // the embedded message's header follows at once
    return;
  }
  startLeaf();
}

void MimeParser::Impl::startLeaf() {
  if (cur.transfer_encoding == "base64") {
    coding = Coding::Base64;
  } else if (cur.transfer_encoding == "quoted-printable") {
    coding = Coding::QuotedPrintable;
  } else {
    coding = Coding::Identity;  // 7bit, 8bit, binary; unknown ones are opaque (§6.4)
  }
  b64 = Base64Decoder();
  qp = QuotedPrintableDecoder();
  conv.reset();
  if (cur.content_type.starts_with("text/")) {
    // RFC 2045 §5.2: no charset means us-ascii (validated as UTF-8, see decode.h).
    Result<CharsetConverter> c = CharsetConverter::open(cur.charset);
    if (c) {
      conv.emplace(std::move(*c));
    } else {
      defects.set(Defect::UnknownCharset);  // the bytes go on as they are
    }
  }
  decoded_total = 0;
  decoded_capped = false;
  pending_eol = {};
  where = Where::Body;
}

void MimeParser::Impl::endLeaf(bool eof) {
  if (eof && !pending_eol.empty()) {
    decodeRaw(pending_eol);  // no delimiter followed: the last line break is content
  }
  pending_eol = {};
  if (coding == Coding::Base64) {
    b64.finish(decoded);
    defects.merge(b64.defects());
  } else if (coding == Coding::QuotedPrintable) {
    qp.finish(decoded);
    defects.merge(qp.defects());
  }
  handleDecoded();
  if (conv) {
    if (!decoded_capped) {
      conv->finish(out);  // a capped part may end inside a character: not a defect
    }
    defects.merge(conv->defects());
    conv.reset();
  }
  flushOut();
  if (sink != nullptr) {
    sink->partEnd(cur);
  }
}

// endCurrent - ends the part that is open at the innermost level, if any.
void MimeParser::Impl::endCurrent(bool eof) {
  while (where == Where::Header) {
    endHeader();  // a header cut short: the part exists, with what it had
  }
  if (where == Where::Body) {
    endLeaf(eof);
  }
  where = Where::Done;  // the caller says what comes next
}

void MimeParser::Impl::popFrame() {
  Frame f = std::move(frames.back());
  frames.pop_back();
  if (!f.boundary.empty() && !f.closed) {
    defects.set(Defect::MissingFinalBoundary);
  }
  if (sink != nullptr) {
    sink->partEnd(f.info);
  }
}

void MimeParser::Impl::endOfHeaders() {
  if (top_header_done) {
    return;
  }
  top_header_done = true;
  if (where == Where::Header) {
    endHeader();
  }
}

void MimeParser::Impl::body(std::string_view chunk) {
  endOfHeaders();  // body without endOfHeaders(): the header is over anyway
  while (!chunk.empty()) {
    const std::size_t nl = chunk.find('\n');
    const std::size_t take = nl == std::string_view::npos ? chunk.size() : nl + 1;
    appendRun(chunk.substr(0, take));
    chunk.remove_prefix(take);
  }
}

// appendRun - bytes with at most one '\n', at the end. Lines are cut into pieces at
// fixed offsets, so events never depend on how the body was chunked.
void MimeParser::Impl::appendRun(std::string_view run) {
  while (!run.empty()) {
    const std::size_t n = std::min(run.size(), cap + 2 - line.size());
    line.append(run.substr(0, n));
    run.remove_prefix(n);
    if (line.back() == '\n') {
      std::string_view text = line;
      text.remove_suffix(1);
      std::string_view eol = kLf;
      if (!text.empty() && text.back() == '\r') {
        text.remove_suffix(1);
        eol = kCrLf;
      }
      processLine(text, eol);
      line.clear();
      at_line_start = true;
      discard_rest = false;
      continue;
    }
    if (line.size() == cap + 2) {
      // Over-long line: hand on cap bytes now and keep the last two, which may be the
      // CR of a CRLF whose LF is still to come.
      defects.set(Defect::LineTooLong);
      const char keep[2] = {line[cap], line[cap + 1]};
      processLine(std::string_view(line).substr(0, cap), std::string_view());
      at_line_start = false;
      line.assign(keep, 2);
    }
  }
}

// processLine - one body line without its break (eol), or a piece of an over-long line
// (eol empty; at_line_start says whether it is the first piece).
void MimeParser::Impl::processLine(std::string_view text, std::string_view eol) {
  if (discard_rest) {
    return;
  }
  if (text.find('\0') != std::string_view::npos) {
    defects.set(Defect::NulByte);
  }
  if (at_line_start && text.size() >= 2 && text[0] == '-' && text[1] == '-' && !frames.empty() &&
      matchBoundary(text)) {
    discard_rest = eol.empty();
    return;
  }
  for (;;) {
    switch (where) {
      case Where::Header:
        if (headerLine(text)) {
          return;
        }
        continue;  // the line ended the header and belongs to what follows it
      case Where::Body:
        content(text, eol);
        return;
      case Where::Preamble:  // RFC 2046 §5.1.1: preamble and epilogue are to be ignored
      case Where::Epilogue:
      case Where::Skip:
      case Where::Done:
        return;
    }
    MW_UNREACHABLE("Where out of range");
  }
}

// matchBoundary - a delimiter line of an open multipart, innermost first. Like Postfix
// mime_state (and MUAs), the boundary is compared as a prefix of the line after "--":
// RFC 2046 §5.1.1 allows only trailing whitespace after it, but splitting where the
// recipient's MUA splits matters more than strictness. "--boundary--" closes.
bool MimeParser::Impl::matchBoundary(std::string_view text) {
  const std::string_view rest = text.substr(2);
  for (std::size_t k = frames.size(); k-- > 0;) {
    const std::string& b = frames[k].boundary;
    if (b.empty() || !rest.starts_with(b)) {
      continue;
    }
    const bool close = rest.substr(b.size()).starts_with("--");
    endCurrent(/*eof=*/false);
    while (frames.size() > k + 1) {
      popFrame();  // inner multiparts that never saw their own close delimiter
    }
    Frame& f = frames[k];
    if (close) {
      f.closed = true;
      where = Where::Epilogue;
      return true;
    }
    // RFC 2046 §5.1.5: in multipart/digest the default type is message/rfc822.
    newPart(f.info.depth + 1, f.digest ? "message/rfc822" : "text/plain");
    return true;
  }
  return false;
}

// headerLine - a line of a part header read from the body. Returns false when the line
// is not a header line: the header ends there and the caller re-dispatches the line.
bool MimeParser::Impl::headerLine(std::string_view text) {
  if (!at_line_start) {
    appendToField(text);  // the rest of an over-long field line
    return true;
  }
  if (text.empty()) {
    endHeader();  // RFC 5322 §2.1: the empty line ends the header
    return true;
  }
  if (ascii::isSpace(text[0])) {
    if (field != FieldState::None) {
      appendToField(kCrLf);  // folding, kept in wire form (§2.2.3)
      appendToField(text);
      return true;
    }
  } else {
    std::size_t name_end = 0;
    const std::size_t colon = fieldColon(text, &name_end);
    if (colon != std::string_view::npos) {
      addField(text.substr(0, name_end), text.substr(colon + 1));
      return true;
    }
  }
  // As Postfix does: a line that is no header line ends the header and is content.
  defects.set(Defect::MalformedHeader);
  endHeader();
  return false;
}

void MimeParser::Impl::content(std::string_view text, std::string_view eol) {
  if (decoded_capped) {
    return;  // over max_decoded_bytes: the rest of the part is not even decoded
  }
  if (!pending_eol.empty()) {
    decodeRaw(pending_eol);
  }
  decodeRaw(text);
  pending_eol = eol;
}

void MimeParser::Impl::decodeRaw(std::string_view bytes) {
  switch (coding) {
    case Coding::Identity:
      decoded.append(bytes);
      break;
    case Coding::Base64:
      b64.feed(bytes, decoded);
      break;
    case Coding::QuotedPrintable:
      qp.feed(bytes, decoded);
      break;
  }
  handleDecoded();
}

// handleDecoded - applies max_decoded_bytes, converts the charset, buffers the output.
void MimeParser::Impl::handleDecoded() {
  if (decoded.empty()) {
    return;
  }
  const std::size_t room = limits.max_decoded_bytes - std::min(limits.max_decoded_bytes, decoded_total);
  if (decoded.size() > room) {
    defects.set(Defect::DecodedBytesLimit);
    decoded.resize(room);
    decoded_capped = true;
  }
  decoded_total += decoded.size();
  if (conv) {
    conv->feed(decoded, out);
  } else {
    out.append(decoded);
  }
  decoded.clear();
  if (out.size() >= kFlushBytes) {
    flushOut();
  }
}

void MimeParser::Impl::flushOut() {
  if (out.empty()) {
    return;
  }
  if (sink != nullptr) {
    sink->partData(cur, out);
  }
  out.clear();
}

void MimeParser::Impl::finish() {
  endOfHeaders();
  if (!line.empty()) {
    const std::string last = std::move(line);  // a last line without a line break
    line.clear();
    processLine(last, std::string_view());
  }
  endCurrent(/*eof=*/true);
  while (!frames.empty()) {
    popFrame();
  }
  where = Where::Done;
  finished = true;
}

// ===================================================================================

MimeParser::MimeParser(const Limits& limits, MimeSink* sink)
    : impl_(std::make_unique<Impl>(limits, sink)) {}

MimeParser::~MimeParser() = default;

void MimeParser::header(const HeaderField& field) {
  if (impl_->finished || impl_->top_header_done || impl_->where != Impl::Where::Header) {
    return;
  }
  impl_->addField(field.name, field.value);
}

void MimeParser::endOfHeaders() {
  if (impl_->finished) {
    return;
  }
  impl_->endOfHeaders();
}

void MimeParser::body(std::string_view chunk) {
  if (impl_->finished) {
    return;
  }
  impl_->body(chunk);
}

void MimeParser::finish() {
  if (impl_->finished) {
    return;
  }
  impl_->finish();
}

const Defects& MimeParser::defects() const noexcept { return impl_->defects; }

std::size_t MimeParser::partCount() const noexcept { return impl_->parts; }

}  // namespace mw::message
