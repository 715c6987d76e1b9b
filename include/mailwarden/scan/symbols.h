// scan/symbols.h — the symbols stages publish into verdict::Findings::symbols, and the
// list of every name that may appear there.
//
// A symbol is a name that is true for one message (SPF_PASS, DKIM_FAIL, DMARC_REJECT;
// later IPREV_PASS, RBL_...). The stage that knows a result publishes its symbols by the
// end of its endOfMessage; rule composites read Findings::symbols in conclude, and the
// rule loader checks every name a composite (or a `rules test` case's `auth:`) uses
// against knownSymbols(), so a typo is a load error with file:line, not a rule that
// never fires. rules/ knows no symbol of its own.
// Pure functions of their arguments: thread-safe; nothing here throws except
// std::bad_alloc.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mailwarden/config/config.h"
#include "mailwarden/verdict/verdict.h"

namespace mw::scan {

// Every symbol name a stage of a snapshot built from `config` may publish: the
// authentication names always (a rule file that names SPF_PASS stays valid while SPF is
// turned off; the symbol is then simply never true).
std::vector<std::string> knownSymbols(const config::Config& config);

// SPF: the symbol of the first SPF result, MAIL FROM's (HELO's for the null sender):
// SPF_<RESULT> for the seven RFC 7208 §2.6 results; nothing for a code SPF never has.
std::vector<std::string> spfSymbols(verdict::Code mail_from);

// DKIM, over the results of every evaluated signature (one None result when the message
// is not signed): DKIM_PASS when one passed; DKIM_FAIL when one failed and none passed;
// DKIM_NONE when every result is None (RFC 8601 §2.7.1: not signed); DKIM_TEMPERROR and
// DKIM_PERMERROR when any signature had one.
std::vector<std::string> dkimSymbols(const std::vector<verdict::Code>& results);

// DMARC: DMARC_<RESULT> (pass, fail, none, temperror, permerror), and DMARC_REJECT or
// DMARC_QUARANTINE for a fail under that policy (the one applied to the author domain,
// after t=y and sp/np; RFC 9989 §4.7).
// iprev (RFC 8601 §3): IPREV_<RESULT> for pass, fail, permerror and temperror.
std::vector<std::string> iprevSymbols(verdict::Code result);

std::vector<std::string> dmarcSymbols(verdict::Code result,
                                      std::optional<verdict::DmarcPolicy> policy);

// ARC (RFC 8617 cv): ARC_PASS, ARC_FAIL (a temporary failure included: the A-R says
// fail), ARC_NONE; and ARC_TRUSTED with ARC_PASS when the newest sealer is trusted
// (`trusted_pass`: ignored unless the result is a pass).
std::vector<std::string> arcSymbols(verdict::Code result, bool trusted_pass);

}  // namespace mw::scan
