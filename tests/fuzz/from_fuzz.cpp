// fuzz target of message/address.h and dmarc::authorDomains: arbitrary bytes as a From
// value (and, split at the first NUL, as two From fields).
// Properties: no crash or out-of-bounds read; every accepted mailbox has a non-empty
// local-part and a domain without ASCII upper case and without a trailing dot; the
// mailbox count respects kMaxMailboxes; a single author domain is reported only for one
// field with one mailbox, and it is a usable DNS name.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/dmarc/dmarc.h"
#include "mailwarden/message/address.h"

namespace {

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto r = mw::message::parseAddressList(input)) {
    check(r->size() <= mw::message::kMaxMailboxes);
    for (const mw::message::Mailbox& m : *r) {
      check(!m.local_part.empty() && !m.domain.empty() && m.domain.back() != '.');
      for (char c : m.domain) {
        check(!(c >= 'A' && c <= 'Z'));
      }
    }
  } else {
    check(!r.error().empty());
  }
  std::vector<std::string> fields;
  const std::size_t nul = input.find('\0');
  fields.emplace_back(input.substr(0, nul));
  if (nul != std::string_view::npos) {
    fields.emplace_back(input.substr(nul + 1));
  }
  const mw::dmarc::Authors a = mw::dmarc::authorDomains(fields);
  if (a.single()) {
    check(a.fields == 1 && a.mailboxes == 1 && a.domains.size() == 1);
    check(mw::dmarc::normalizeDomain(a.domains.front()) == a.domains.front());
  } else {
    check(!a.problem.empty());
  }
  return 0;
}
