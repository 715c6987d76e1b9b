// fuzz target of spf/: arbitrary bytes as an SPF record, an explanation and a domain-spec.
// Properties: the parser never crashes or reads out of bounds; whatever it accepts has
// only the macro letters RFC 7208 §7.1 allows where they are allowed, CIDR lengths in
// range, and expands (with hostile macro inputs) to a domain of at most 253 octets.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mailwarden/spf/record.h"
#include "spf/macro.h"

namespace {

using namespace mw::spf;

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

void checkMacroString(const MacroString& s, bool explanation) {
  for (const MacroItem& item : s.items) {
    if (item.kind != MacroItem::Kind::Macro) {
      continue;
    }
    check(std::string_view(explanation ? "slodiphvcrt" : "slodiphv").find(item.letter) !=
          std::string_view::npos);
    check(item.digits <= kMaxMacroDigits);
  }
}

void expandAll(const Record& r) {
  const auto ip = detail::IpAddress::parse("2001:db8::1");
  // Long, delimiter-rich inputs so truncation and splitting do real work.
  const std::string local(200, '-');
  const std::string sender = local + "@a.b.c.d.e.f.example.com";
  detail::MacroContext ctx;
  ctx.sender = sender;
  ctx.local_part = local;
  ctx.sender_domain = "a.b.c.d.e.f.example.com";
  ctx.domain = "x.example.com";
  ctx.ip = &*ip;
  ctx.helo = "helo.example.org";
  ctx.receiving_host = "mx.example.net";
  ctx.validated_name = [] { return std::string("validated.example.com"); };
  const auto one = [&](const MacroString& s) {
    check(detail::expandDomain(s, ctx).size() <= detail::kMaxDomainBytes);
  };
  for (const Mechanism& m : r.mechanisms) {
    if (m.domain) {
      checkMacroString(*m.domain, false);
      one(*m.domain);
    }
    check(m.cidr4 <= 32 && m.cidr6 <= 128);
  }
  if (r.redirect) {
    one(*r.redirect);
  }
  if (r.exp) {
    one(*r.exp);
  }
  for (const UnknownModifier& u : r.unknown) {
    checkMacroString(u.value, false);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Parsed<Record> record = parseRecord(input);
  if (record) {
    check(isSpfRecord(input) && input.size() <= kMaxRecordBytes);
    expandAll(*record);
  } else {
    static_cast<void>(record.error().describe());
  }
  if (const Parsed<MacroString> exp = parseExplainString(input)) {
    checkMacroString(*exp, true);
  }
  if (const Parsed<MacroString> spec = parseDomainSpec(input)) {
    checkMacroString(*spec, false);
  }
  return 0;
}
