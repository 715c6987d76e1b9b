// Fuzz target: the header side of message/ — MessageReader splitting, HeaderList
// limits, unfolding, RFC 2047 decoding and RFC 2045/2231 parameters.
// Invariants checked (a violation traps, so libFuzzer and the replay both report it):
//  - the reader gives the same fields whether fed whole or in chunks (size from byte 0);
//  - kept fields respect the limits; names are non-empty and have no ':';
//  - decodeHeaderValue() always returns valid UTF-8.
#include "mailwarden/message/decode.h"
#include "mailwarden/message/header.h"
#include "mailwarden/message/reader.h"
#include "message/utf8.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace mw::message;

struct Collect : ReaderSink {
  void header(std::string_view name, std::string_view value) override {
    fields.emplace_back(std::string(name) + '\0' + std::string(value));
  }
  void endOfHeaders() override { ++eoh; }
  void body(std::string_view chunk) override { body_bytes += chunk.size(); }
  std::vector<std::string> fields;
  int eoh = 0;
  std::size_t body_bytes = 0;
};

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  Limits limits;
  limits.max_header_bytes = 2048;
  limits.max_headers = 32;
  limits.max_line_length = 128;

  Collect whole;
  MessageReader r1(limits, whole);
  r1.feed(in);
  r1.finish();

  Collect split;
  MessageReader r2(limits, split);
  const std::size_t step = size == 0 ? 1 : (data[0] % 13) + 1;
  for (std::size_t off = 0; off < in.size(); off += step) {
    r2.feed(in.substr(off, step));
  }
  r2.finish();
  check(whole.fields == split.fields);
  check(whole.eoh == 1 && split.eoh == 1);
  check(whole.body_bytes == split.body_bytes);
  check(r1.defects().bits() == r2.defects().bits());

  HeaderList list(limits);
  for (const std::string& f : whole.fields) {
    const std::size_t nul = f.find('\0');
    const std::string_view name(f.data(), nul);
    const std::string_view value = std::string_view(f).substr(nul + 1);
    check(!name.empty() && name.find(':') == std::string_view::npos);
    check(name.size() + value.size() <= limits.max_header_bytes);
    list.add(name, value);
  }
  check(list.fields().size() <= limits.max_headers);
  check(list.bytes() <= limits.max_header_bytes);

  for (const HeaderField& f : list.fields()) {
    const std::string u = unfold(f.value);
    Defects d;
    const std::string decoded = decodeHeaderValue(u, d);
    check(utf8::isValid(decoded));
    for (const char* p : {"boundary", "filename", "name", "charset"}) {
      static_cast<void>(headerParameter(u, p));  // must not crash; any value is fine
    }
  }
  // The raw input as one header value, too: the decoders see arbitrary bytes.
  Defects d;
  check(utf8::isValid(decodeHeaderValue(in, d)));
  static_cast<void>(headerParameter(in, "filename"));
  return 0;
}
