// Fuzz target of dns/: any bytes as an RFC 1035 master file for ZoneResolver::loadText
// (libldns underneath, plus our pragma and parenthesis scan), then queries of every type
// for a few names. Loading must return (records or an error), never crash, hang, leak or
// throw; an error must carry the label and a line inside the input; a query must give
// one of the Status values and, for a name that did not load, never Ok.
//
// Input is capped at 64 KiB: zone syntax is line-local, longer inputs find nothing new.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mailwarden/dns/zone.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kMaxInput = 64 * 1024;
  if (size > kMaxInput) {
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  mw::dns::ZoneResolver z;
  const mw::Result<void> r = z.loadText(text, "fuzz.zone", "fuzz.example.");
  std::size_t lines = 1;
  for (char c : text) {
    lines += c == '\n' ? 1 : 0;
  }
  if (!r) {
    const mw::Error& e = r.error();
    if (!e.where || e.where->file != "fuzz.zone" || e.where->line < 0 ||
        static_cast<std::size_t>(e.where->line) > lines || e.message.empty()) {
      std::abort();
    }
  }
  const mw::dns::Budget budget = mw::dns::Budget::unlimited();
  for (std::string_view name : {"fuzz.example", "www.fuzz.example.", "a.b.fuzz.example",
                                "example", "."}) {
    for (mw::dns::Type t : {mw::dns::Type::A, mw::dns::Type::AAAA, mw::dns::Type::TXT,
                            mw::dns::Type::MX, mw::dns::Type::PTR}) {
      const mw::dns::Answer a = z.query(name, t, budget);
      if (!r && a.status == mw::dns::Status::Ok) {
        std::abort();  // a failed load added records
      }
    }
  }
  return 0;
}
