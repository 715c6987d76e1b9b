// Fuzz target: the stream decoders and header decoders of message/decode.h.
// Byte 0 picks the decoder, byte 1 the split point (and, for charsets, the charset);
// the rest is the input. Invariants checked (a violation traps):
//  - a stream decoder gives the same output and defects fed whole or split in two;
//  - charset conversion and decodeHeaderValue() always produce valid UTF-8.
#include "mailwarden/message/decode.h"
#include "message/utf8.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using namespace mw::message;

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

constexpr const char* kCharsets[] = {
    "utf-8",      "us-ascii", "iso-8859-1", "windows-1252", "koi8-r", "gb2312",
    "iso-2022-jp", "shift_jis", "euc-kr",   "big5",         "utf-16", "utf-7",
    "euc-jp",     "iso-8859-15", "utf-32",  "x-unknown",
};

template <typename Make>
void differential(std::string_view in, std::size_t cut, Make make, bool want_utf8) {
  auto a = make();
  auto b = make();
  if (!a || !b) {
    return;  // unknown charset
  }
  std::string out_a;
  a->feed(in, out_a);
  a->finish(out_a);
  std::string out_b;
  b->feed(in.substr(0, cut), out_b);
  b->feed(in.substr(cut), out_b);
  b->finish(out_b);
  check(out_a == out_b);
  check(a->defects().bits() == b->defects().bits());
  if (want_utf8) {
    check(utf8::isValid(out_a));
  }
}

// Wraps a plain decoder so it looks like Result<CharsetConverter> to differential().
template <typename D>
struct Boxed {
  D d;
  explicit operator bool() const { return true; }
  D* operator->() { return &d; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) {
    return 0;
  }
  const std::uint8_t mode = data[0] % 5;
  const std::uint8_t knob = data[1];
  const std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  const std::size_t cut = in.empty() ? 0 : knob % (in.size() + 1);
  switch (mode) {
    case 0:
      differential(in, cut, [] { return Boxed<Base64Decoder>{}; }, false);
      break;
    case 1:
      differential(in, cut, [] { return Boxed<QuotedPrintableDecoder>{}; }, false);
      break;
    case 2: {
      const char* cs = kCharsets[knob % (sizeof(kCharsets) / sizeof(kCharsets[0]))];
      differential(in, cut, [cs] { return CharsetConverter::open(cs); }, true);
      break;
    }
    case 3: {
      Defects d;
      check(utf8::isValid(decodeHeaderValue(in, d)));
      break;
    }
    case 4:
      for (const char* p : {"filename", "name", "boundary", "charset"}) {
        static_cast<void>(headerParameter(in, p));
      }
      break;
  }
  return 0;
}
