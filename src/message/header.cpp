#include "mailwarden/message/header.h"

#include "mailwarden/base/ascii.h"
#include "message/utf8.h"

#include <algorithm>

namespace mw::message {
namespace {

// isFieldName - RFC 5322 §3.6.8 ftext: printable US-ASCII except ':'. A name with
// spaces or controls is kept (a filter must still see it) but flagged.
bool isFieldName(std::string_view name) noexcept {
  if (name.empty()) {
    return false;
  }
  for (const char c : name) {
    if (c <= 0x20 || c >= 0x7F || c == ':') {
      return false;
    }
  }
  return true;
}

// longestLine - the longest line of a field as it is on the wire: the first line is
// "name:" plus the value up to the first break, later lines are the folded pieces.
std::size_t longestLine(std::string_view name, std::string_view value) noexcept {
  std::size_t longest = 0;
  std::size_t start = 0;
  std::size_t prefix = name.size() + 1;
  while (start <= value.size()) {
    std::size_t nl = value.find('\n', start);
    if (nl == std::string_view::npos) {
      nl = value.size();
    }
    std::size_t len = nl - start;
    if (len > 0 && value[nl - 1] == '\r') {
      --len;
    }
    longest = std::max(longest, prefix + len);
    prefix = 0;
    start = nl + 1;
  }
  return longest;
}

// Bare LF in a folded value becomes CRLF, so every consumer sees wire form.
std::string toWireLineEnds(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 8);
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '\n' && (i == 0 || value[i - 1] != '\r')) {
      out += '\r';
    }
    out += c;
  }
  return out;
}

}  // namespace

std::string unfold(std::string_view raw_value) {
  std::string out;
  out.reserve(raw_value.size());
  for (std::size_t i = 0; i < raw_value.size(); ++i) {
    const char c = raw_value[i];
    // RFC 5322 §2.2.3: unfolding removes a CRLF that is immediately followed by WSP.
    // Inside one field's value every line break is such a fold (a break not followed
    // by WSP would have started a new field), so every CRLF / bare LF goes.
    if (c == '\r' && i + 1 < raw_value.size() && raw_value[i + 1] == '\n') {
      continue;
    }
    if (c == '\n') {
      continue;
    }
    out += c;
  }
  const std::string_view trimmed = ascii::trim(out);
  return std::string(trimmed);
}

const HeaderField* HeaderList::add(std::string_view name, std::string_view value) {
  if (fields_.size() >= limits_.max_headers) {
    defects_.set(Defect::HeaderCountLimit);
    return nullptr;
  }
  const std::size_t size = name.size() + value.size();
  if (bytes_ + size > limits_.max_header_bytes) {
    defects_.set(Defect::HeaderBytesLimit);
    return nullptr;
  }
  if (!isFieldName(name)) {
    defects_.set(Defect::MalformedHeader);
  }
  if (value.find('\0') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
    defects_.set(Defect::NulByte);
  }
  // RFC 6532 §3.2 allows UTF-8 in header values; other 8-bit bytes are a defect.
  if (!utf8::isValid(value)) {
    defects_.set(Defect::EightBitInHeader);
  }
  // RFC 5322 §2.1.1: a line is at most 998 characters; we flag only past our own bound.
  if (longestLine(name, value) > limits_.max_line_length) {
    defects_.set(Defect::LineTooLong);
  }
  bytes_ += size;
  fields_.push_back(HeaderField{std::string(name), toWireLineEnds(value)});
  return &fields_.back();
}

const HeaderField* HeaderList::find(std::string_view name) const noexcept {
  for (const HeaderField& f : fields_) {
    if (ascii::iequals(f.name, name)) {
      return &f;
    }
  }
  return nullptr;
}

std::size_t HeaderList::count(std::string_view name) const noexcept {
  std::size_t n = 0;
  for (const HeaderField& f : fields_) {
    if (ascii::iequals(f.name, name)) {
      ++n;
    }
  }
  return n;
}

int HeaderList::occurrence(std::size_t i) const noexcept {
  if (i >= fields_.size()) {
    return 0;
  }
  int n = 0;
  for (std::size_t j = 0; j <= i; ++j) {
    if (ascii::iequals(fields_[j].name, fields_[i].name)) {
      ++n;
    }
  }
  return n;
}

}  // namespace mw::message
