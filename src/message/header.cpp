#include "mailwarden/message/header.h"

#include "mailwarden/base/ascii.h"

namespace mw::message {
namespace {

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
  if (name.empty()) {
    defects_.set(Defect::MalformedHeader);
  }
  for (const char c : value) {
    if (c == '\0') {
      defects_.set(Defect::NulByte);
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      defects_.set(Defect::EightBitInHeader);
    }
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
