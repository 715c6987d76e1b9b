// dmarc/author.cpp — the Author Domain from the From field(s), strictly (mox#459,
// OpenDMARC#243, CVE-2019-16378: several From addresses must not let a message pass).
#include <algorithm>

#include "mailwarden/dmarc/dmarc.h"
#include "mailwarden/dns/idna.h"
#include "mailwarden/message/address.h"

namespace mw::dmarc {

Authors authorDomains(const std::vector<std::string>& fields) {
  Authors out;
  out.fields = fields.size();
  if (fields.empty()) {
    out.kind = Authors::Kind::NoFrom;
    out.problem = "no From field";
    return out;
  }
  std::string first_problem;
  Authors::Kind first_kind = Authors::Kind::Single;
  for (const std::string& value : fields) {
    auto parsed = message::parseAddressList(value);
    if (!parsed) {
      if (first_problem.empty()) {
        first_problem = "unparsable From: " + parsed.error();
        first_kind = Authors::Kind::Unparsable;
      }
      continue;
    }
    for (const message::Mailbox& m : *parsed) {
      ++out.mailboxes;
      std::optional<std::string> d = normalizeDomain(m.domain);
      if (!d) {
        if (first_problem.empty()) {
          // RFC 8616 §6 (RFC 9989 keeps it): a U-label author domain is used in A-labels;
          // one that is not a valid IDN (IDNA2008) is no domain: permerror, as before.
          if (m.international) {
            auto why = dns::toALabels(m.domain);
            first_problem = "From domain is not a valid IDN" +
                            (why ? std::string() : ": " + why.error());
          } else {
            first_problem = "From domain is not a DNS name";
          }
          first_kind = Authors::Kind::BadDomain;
        }
        continue;
      }
      if (std::find(out.domains.begin(), out.domains.end(), *d) == out.domains.end()) {
        out.domains.push_back(std::move(*d));
      }
    }
  }
  if (!first_problem.empty()) {
    out.kind = first_kind;
    out.problem = first_problem;
  } else if (out.mailboxes == 0) {
    out.kind = Authors::Kind::NoAddress;
    out.problem = "From has no address";
  } else if (out.fields > 1) {
    out.kind = Authors::Kind::Several;
    out.problem = std::to_string(out.fields) + " From fields";
  } else if (out.mailboxes > 1) {
    out.kind = Authors::Kind::Several;
    out.problem = std::to_string(out.mailboxes) + " From addresses";
  }
  return out;
}

}  // namespace mw::dmarc
