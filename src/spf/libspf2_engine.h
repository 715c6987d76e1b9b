// spf/libspf2_engine.h (private) — check_host() evaluated by libspf2 1.2.10 behind our
// strict parser and our SPF_dns_server_t layer over dns::Resolver.
//
// Not used by Checker. It exists so the conformance driver can measure, on every run
// that asks for it (MW_SPF_COMPARE_LIBSPF2=1), what libspf2 as the engine would give,
// and doc/CONFORMANCE.md can say why our evaluator decides instead. It is the layer the
// design asked for: every v=spf1 record passes our parser before libspf2 compiles it
// (a rejected record is permerror and libspf2 never sees it), failures map to
// temperror, lookups and void lookups are counted per check, IPv4-mapped clients become
// IPv4, SPF_RESULT_INVALID is mapped by its cause. Explanations are not produced.
#pragma once

#include <string_view>

#include "mailwarden/dns/resolver.h"
#include "mailwarden/spf/spf.h"

namespace mw::spf::detail {

// MAIL FROM check (`sender` empty: postmaster@helo). Thread-compatible; one libspf2
// server per call. Never throws except std::bad_alloc.
CheckResult checkWithLibspf2(dns::Resolver& resolver, const Options& options,
                             std::string_view client_ip, std::string_view helo,
                             std::string_view sender, const dns::Budget& budget);

}  // namespace mw::spf::detail
