// fuzz target of dmarc/: arbitrary bytes as a DMARC TXT record.
// Properties: the parser never crashes or reads out of bounds; Ok only for text that
// starts with the version tag; a downgraded record is p=none everywhere; an Invalid
// record is a DMARC record (a non-DMARC text is NotDmarc, never Invalid); every kept
// report URI is a mailto: URI; parsing is deterministic.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mailwarden/dmarc/record.h"

namespace {

using namespace mw::dmarc;

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const ParseResult r = parseRecord(input);
  const bool dmarc = isDmarcRecord(input);
  switch (r.status) {
    case ParseStatus::Ok:
      check(dmarc && input.size() <= kMaxRecordBytes);
      if (r.record.downgraded) {
        check(r.record.p == Policy::None && r.record.subdomainPolicy() == Policy::None &&
              r.record.nonExistentPolicy() == Policy::None && !r.record.rua.empty());
      }
      for (const auto& uri : r.record.rua) {
        check(isValidReportUri(uri));
      }
      for (const auto& uri : r.record.ruf) {
        check(isValidReportUri(uri));
      }
      break;
    case ParseStatus::Invalid:
      check(dmarc && !r.problem.empty());
      break;
    case ParseStatus::NotDmarc:
      check(!dmarc || input.size() > kMaxRecordBytes);
      break;
  }
  const ParseResult again = parseRecord(input);
  check(again.status == r.status && again.record.p == r.record.p &&
        again.record.ignored == r.record.ignored);
  return 0;
}
