// message/header.h — header fields as received (RFC 5322 §2.2).
//
// A field's value is kept byte for byte as it arrived after the colon, leading
// whitespace and folding included (DKIM "simple" and our A-R removal need the original
// bytes). Line breaks inside a folded value are stored as CRLF whatever the source
// used. Input is untrusted: the list applies Limits and records Defects instead of
// failing. Thread-compatible (one message, one thread at a time).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/message/defects.h"
#include "mailwarden/message/limits.h"

namespace mw::message {

struct HeaderField {
  std::string name;   // as received; compare with ascii::iequals
  std::string value;  // as received after the colon, folding preserved (CRLF)
};

// RFC 5322 §2.2.3 unfolding: removes every CRLF (or bare LF) that precedes whitespace,
// then trims leading and trailing whitespace. Never throws except bad_alloc.
std::string unfold(std::string_view raw_value);

class HeaderList {
 public:
  explicit HeaderList(const Limits& limits) : limits_(limits) {}

  // Appends a field. Returns nullptr (and records a Defect) when a Limits bound is
  // crossed; the field is then not kept. Bare LF in the value becomes CRLF; a NUL or
  // raw 8-bit byte is kept and flagged.
  const HeaderField* add(std::string_view name, std::string_view value);

  const std::vector<HeaderField>& fields() const noexcept { return fields_; }
  // First field with this name (case-insensitive), or nullptr.
  const HeaderField* find(std::string_view name) const noexcept;
  std::size_t count(std::string_view name) const noexcept;
  // 1-based occurrence of fields()[i] among the fields of the same name, as milter
  // header indexes count (smfi_chgheader).
  int occurrence(std::size_t i) const noexcept;
  std::size_t bytes() const noexcept { return bytes_; }
  const Defects& defects() const noexcept { return defects_; }

 private:
  Limits limits_;
  std::vector<HeaderField> fields_;
  std::size_t bytes_ = 0;
  Defects defects_;
};

}  // namespace mw::message
