// scan/symbols.cpp — see scan/symbols.h. The names are spelled out here once, so the
// list the loader checks against and what the stages publish cannot drift apart
// (tests/unit/scan/symbols_test.cpp checks every published name is listed).
#include "mailwarden/scan/symbols.h"

namespace mw::scan {
namespace {

// "SPF_" + "softfail" -> "SPF_SOFTFAIL".
std::string symbol(std::string_view prefix, verdict::Code code) {
  std::string out(prefix);
  for (const char c : verdict::toString(code)) {
    out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;  // tokens are ASCII
  }
  return out;
}

}  // namespace

std::vector<std::string> knownSymbols(const config::Config& config) {
  std::vector<std::string> names = {
      // spfSymbols
      "SPF_PASS", "SPF_FAIL", "SPF_SOFTFAIL", "SPF_NEUTRAL", "SPF_NONE", "SPF_TEMPERROR",
      "SPF_PERMERROR",
      // dkimSymbols
      "DKIM_PASS", "DKIM_FAIL", "DKIM_NONE", "DKIM_TEMPERROR", "DKIM_PERMERROR",
      // dmarcSymbols
      "DMARC_PASS", "DMARC_FAIL", "DMARC_NONE", "DMARC_TEMPERROR", "DMARC_PERMERROR",
      "DMARC_REJECT", "DMARC_QUARANTINE",
      // iprevSymbols
      "IPREV_PASS", "IPREV_FAIL", "IPREV_PERMERROR", "IPREV_TEMPERROR",
      // arcSymbols
      "ARC_PASS", "ARC_FAIL", "ARC_NONE", "ARC_TRUSTED",
  };
  // reputation_stage.cpp: the symbol of every answer class of every DNS list
  for (const reputation::ListOptions& list : config.reputation.lists) {
    for (const reputation::AnswerClass& c : list.answers) {
      names.push_back(c.symbol);
    }
  }
  return names;
}

std::vector<std::string> spfSymbols(verdict::Code mail_from) {
  switch (mail_from) {
    case verdict::Code::Pass:
    case verdict::Code::Fail:
    case verdict::Code::SoftFail:
    case verdict::Code::Neutral:
    case verdict::Code::None:
    case verdict::Code::TempError:
    case verdict::Code::PermError:
      return {symbol("SPF_", mail_from)};
    case verdict::Code::Policy:
      return {};  // not an RFC 7208 result
  }
  return {};
}

std::vector<std::string> dkimSymbols(const std::vector<verdict::Code>& results) {
  bool signed_ = false, pass = false, fail = false, temp = false, perm = false;
  for (const verdict::Code c : results) {
    signed_ |= c != verdict::Code::None;
    pass |= c == verdict::Code::Pass;
    fail |= c == verdict::Code::Fail;
    temp |= c == verdict::Code::TempError;
    perm |= c == verdict::Code::PermError;
  }
  std::vector<std::string> out;
  if (pass) out.emplace_back("DKIM_PASS");
  if (fail && !pass) out.emplace_back("DKIM_FAIL");
  if (!signed_) out.emplace_back("DKIM_NONE");
  if (temp) out.emplace_back("DKIM_TEMPERROR");
  if (perm) out.emplace_back("DKIM_PERMERROR");
  return out;
}

std::vector<std::string> iprevSymbols(verdict::Code result) {
  switch (result) {
    case verdict::Code::Pass:
    case verdict::Code::Fail:
    case verdict::Code::TempError:
    case verdict::Code::PermError:
      return {symbol("IPREV_", result)};
    case verdict::Code::None:
    case verdict::Code::SoftFail:
    case verdict::Code::Neutral:
    case verdict::Code::Policy:
      return {};  // not RFC 8601 §2.7.3 iprev results
  }
  return {};
}

std::vector<std::string> dmarcSymbols(verdict::Code result,
                                      std::optional<verdict::DmarcPolicy> policy) {
  std::vector<std::string> out;
  switch (result) {
    case verdict::Code::Pass:
    case verdict::Code::Fail:
    case verdict::Code::None:
    case verdict::Code::TempError:
    case verdict::Code::PermError:
      out.push_back(symbol("DMARC_", result));
      break;
    case verdict::Code::SoftFail:
    case verdict::Code::Neutral:
    case verdict::Code::Policy:
      return out;  // not RFC 9989 results
  }
  if (result == verdict::Code::Fail && policy == verdict::DmarcPolicy::Reject) {
    out.emplace_back("DMARC_REJECT");
  }
  if (result == verdict::Code::Fail && policy == verdict::DmarcPolicy::Quarantine) {
    out.emplace_back("DMARC_QUARANTINE");
  }
  return out;
}

std::vector<std::string> arcSymbols(verdict::Code result, bool trusted_pass) {
  switch (result) {
    case verdict::Code::Pass:
      if (trusted_pass) {
        return {"ARC_PASS", "ARC_TRUSTED"};
      }
      return {"ARC_PASS"};
    case verdict::Code::Fail:
    case verdict::Code::None:
      return {symbol("ARC_", result)};
    case verdict::Code::SoftFail:
    case verdict::Code::Neutral:
    case verdict::Code::Policy:
    case verdict::Code::TempError:
    case verdict::Code::PermError:
      return {};  // not cv values (RFC 8617 §4.4)
  }
  return {};
}

}  // namespace mw::scan
