// libspf2 behind our parser and our SPF_dns_server_t layer (see libspf2_engine.h).
// The only translation unit that includes spf2/spf.h.
#include "libspf2_engine.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
extern "C" {  // libspf2's headers do not declare C linkage themselves
#include <spf2/spf.h>
}

#include <cstring>
#include <optional>
#include <string>

#include "macro.h"
#include "mailwarden/base/unique_c.h"
#include "mailwarden/spf/record.h"

namespace mw::spf::detail {
namespace {

using SpfServer = UniqueC<SPF_server_t, SPF_server_free>;
using SpfRequest = UniqueC<SPF_request_t, SPF_request_free>;
using SpfResponse = UniqueC<SPF_response_t, SPF_response_free>;

// Queries one check may make (as in the spf_eval fuzz target): the layer refuses more.
constexpr unsigned kMaxQueries = 1 + 10 * 11 + 11 + 1;

// Per-check state of the layer; libspf2 calls back synchronously, so a pointer in the
// layer's hook is enough (one layer per check).
struct CheckContext {
  dns::Resolver* resolver = nullptr;
  const dns::Budget* budget = nullptr;
  const Options* options = nullptr;
  unsigned queries = 0;
  unsigned voids = 0;
  bool first_txt = true;          // the <domain> TXT lookup is not a void lookup
  bool dns_failed = false;        // a TXT lookup failed: INVALID then means temperror
  std::optional<Result> decided;  // our layer decided: libspf2's answer is overruled
  std::string problem;
};

std::optional<dns::Type> typeOf(ns_type t) noexcept {
  switch (t) {
    case ns_t_a: return dns::Type::A;
    case ns_t_aaaa: return dns::Type::AAAA;
    case ns_t_txt: return dns::Type::TXT;
    case ns_t_mx: return dns::Type::MX;
    case ns_t_ptr: return dns::Type::PTR;
    default: return std::nullopt;  // ns_t_spf (99): RFC 7208 §3.1 queries TXT only
  }
}

SPF_dns_rr_t* emptyAnswer(SPF_dns_server_t* layer, const char* domain, ns_type t,
                          SPF_dns_stat_t herrno) noexcept {
  return SPF_dns_rr_new_init(layer, domain, t, 0, herrno);
}

// decide - our layer ends the check: libspf2 gets a DNS failure so that it stops, and
// the result is ours (any error reached ends check_host(), RFC 7208 §4.6.4, §5).
SPF_dns_rr_t* decide(CheckContext& ctx, SPF_dns_server_t* layer, const char* domain, ns_type t,
                     Result r, std::string problem) {
  if (!ctx.decided) {
    ctx.decided = r;
    ctx.problem = std::move(problem);
  }
  return emptyAnswer(layer, domain, t, TRY_AGAIN);
}

bool addRr(SPF_dns_rr_t* rr, const void* data, std::size_t len) noexcept {
  const int i = rr->num_rr;
  if (SPF_dns_rr_buf_realloc(rr, i, len) != SPF_E_SUCCESS) {
    return false;
  }
  std::memcpy(rr->rr[i], data, len);
  rr->num_rr = i + 1;
  return true;
}

bool addName(SPF_dns_rr_t* rr, const std::string& s) noexcept {
  return addRr(rr, s.c_str(), s.size() + 1);
}

SPF_dns_rr_t* lookupImpl(SPF_dns_server_t* layer, const char* domain, ns_type t) {
  CheckContext& ctx = *static_cast<CheckContext*>(layer->hook);
  if (ctx.decided) {
    return emptyAnswer(layer, domain, t, TRY_AGAIN);
  }
  const std::optional<dns::Type> type = typeOf(t);
  if (!type) {
    return emptyAnswer(layer, domain, t, NO_DATA);
  }
  if (++ctx.queries > kMaxQueries) {
    return decide(ctx, layer, domain, t, Result::PermError, "too many DNS queries");
  }
  if (!isQueryable(domain)) {
    // A name that cannot be queried (an empty or long label, an empty MX exchange)
    // does not exist, as our evaluator treats it; not a DNS failure.
    return emptyAnswer(layer, domain, t, HOST_NOT_FOUND);
  }
  const dns::Answer a = ctx.resolver->query(domain, *type, *ctx.budget);
  const bool first_txt = *type == dns::Type::TXT && ctx.first_txt;
  if (*type == dns::Type::TXT) {
    ctx.first_txt = false;
  }
  switch (dns::classify(a)) {  // the one DNS mapping (dns/resolver.h)
    case dns::Outcome::Found:
      break;
    case dns::Outcome::Absent:
      // RFC 7208 §4.6.4 void lookups. The layer sees queries, not terms: it also counts
      // the address lookups of mx and ptr (doc/CONFORMANCE.md).
      if (!first_txt && *type != dns::Type::TXT && ++ctx.voids > ctx.options->max_void_lookups) {
        return decide(ctx, layer, domain, t, Result::PermError, "too many void lookups");
      }
      return emptyAnswer(layer, domain, t, a.status == dns::Status::NxDomain ? HOST_NOT_FOUND : NO_DATA);
    case dns::Outcome::BadName:
      // Not reached (isQueryable above is stricter); as there: the name does not exist.
      return emptyAnswer(layer, domain, t, HOST_NOT_FOUND);
    case dns::Outcome::Temporary:
      ctx.dns_failed = ctx.dns_failed || *type == dns::Type::TXT;
      return emptyAnswer(layer, domain, t, TRY_AGAIN);
  }
  SPF_dns_rr_t* rr = emptyAnswer(layer, domain, t, NETDB_SUCCESS);
  if (rr == nullptr) {
    return nullptr;
  }
  bool ok = true;
  switch (*type) {
    case dns::Type::A:
      for (const auto& v4 : a.a) {
        ok = ok && addRr(rr, v4.data(), sizeof(struct in_addr));
      }
      break;
    case dns::Type::AAAA:
      for (const auto& v6 : a.aaaa) {
        ok = ok && addRr(rr, v6.data(), sizeof(struct in6_addr));
      }
      break;
    case dns::Type::MX:
      for (const dns::Mx& mx : a.mx) {
        ok = ok && addName(rr, mx.exchange);
      }
      break;
    case dns::Type::PTR:
      for (const std::string& p : a.ptr) {
        ok = ok && addName(rr, p);
      }
      break;
    case dns::Type::TXT:
      for (const std::string& txt : a.txt) {
        // The gate: libspf2 compiles no SPF record our parser rejects (CVE-2023-42118
        // lives in its macro compiler). A rejected record is permerror (§4.6).
        if (isSpfRecord(txt)) {
          Parsed<Record> parsed = parseRecord(txt);
          if (!parsed) {
            SPF_dns_rr_free(rr);
            return decide(ctx, layer, domain, t, Result::PermError,
                          std::string(domain) + ": " + parsed.error().describe());
          }
        }
        if (txt.find('\0') == std::string::npos) {
          ok = ok && addName(rr, txt);
        }
      }
      break;
  }
  if (!ok) {
    SPF_dns_rr_free(rr);
    return emptyAnswer(layer, domain, t, TRY_AGAIN);
  }
  return rr;
}

// lookup - the SPF_dns_lookup_t of our layer. No exception may unwind into libspf2.
SPF_dns_rr_t* lookup(SPF_dns_server_t* layer, const char* domain, ns_type t,
                     int /*should_cache*/) noexcept {
  try {
    return lookupImpl(layer, domain, t);
  } catch (...) {
    return emptyAnswer(layer, domain, t, TRY_AGAIN);
  }
}

Result fromLibspf2(SPF_result_t r, SPF_errcode_t e, bool txt_failed) noexcept {
  switch (r) {
    case SPF_RESULT_NEUTRAL: return Result::Neutral;
    case SPF_RESULT_PASS: return Result::Pass;
    case SPF_RESULT_FAIL: return Result::Fail;
    case SPF_RESULT_SOFTFAIL: return Result::SoftFail;
    case SPF_RESULT_NONE: return Result::None;
    case SPF_RESULT_TEMPERROR: return Result::TempError;
    case SPF_RESULT_PERMERROR: return Result::PermError;
    case SPF_RESULT_INVALID:
      // FINDINGS.md §1: INVALID with a DNS error is a failed lookup, every other
      // INVALID is a record libspf2 would not compile.
      // libspf2 1.2.10 reports a failed TXT lookup as INVALID with no error code at
      // all, so the layer's own note of the failure decides.
      return e == SPF_E_DNS_ERROR || txt_failed ? Result::TempError : Result::PermError;
  }
  return Result::PermError;
}

}  // namespace

CheckResult checkWithLibspf2(dns::Resolver& resolver, const Options& options,
                             std::string_view client_ip, std::string_view helo,
                             std::string_view sender, const dns::Budget& budget) {
  CheckResult out;
  const std::string from = sender.empty() ? "postmaster@" + std::string(helo) : std::string(sender);
  const std::size_t at = from.rfind('@');
  out.domain = at == std::string::npos ? from : from.substr(at + 1);
  const std::optional<IpAddress> ip = IpAddress::parse(client_ip);
  if (!ip) {
    out.result = Result::PermError;
    out.problem = "client address does not parse";
    return out;
  }
  if (!isCheckableDomain(out.domain)) {  // RFC 7208 §4.3, before libspf2 sees it
    out.result = Result::None;
    out.problem = "not a multi-label domain name";
    return out;
  }
  CheckContext ctx;
  ctx.resolver = &resolver;
  ctx.budget = &budget;
  ctx.options = &options;
  SPF_dns_server_t layer{};
  layer.destroy = nullptr;  // ours: libspf2 must not free it
  layer.lookup = lookup;
  layer.name = "mailwarden";
  layer.hook = &ctx;
  SpfServer server(SPF_server_new_dns(&layer, 0));
  if (!server) {
    out.result = Result::TempError;
    out.problem = "libspf2: SPF_server_new_dns failed";
    return out;
  }
  SPF_server_set_max_dns_mech(server.get(), static_cast<int>(options.max_dns_terms));
  SPF_server_set_max_dns_mx(server.get(), static_cast<int>(options.max_mx_ptr_names));
  SPF_server_set_max_dns_ptr(server.get(), static_cast<int>(options.max_mx_ptr_names));
  SpfRequest request(SPF_request_new(server.get()));
  if (!request) {
    out.result = Result::TempError;
    out.problem = "libspf2: SPF_request_new failed";
    return out;
  }
  // RFC 7208 §5: an IPv4-mapped client is IPv4 (libspf2 would treat it as IPv6).
  if (ip->v6) {
    struct in6_addr a6;
    std::memcpy(&a6, ip->bytes.data(), sizeof a6);
    SPF_request_set_ipv6(request.get(), a6);
  } else {
    struct in_addr a4;
    std::memcpy(&a4, ip->bytes.data(), sizeof a4);
    SPF_request_set_ipv4(request.get(), a4);
  }
  const std::string helo_text(helo);
  SPF_request_set_helo_dom(request.get(), helo_text.c_str());
  SPF_request_set_env_from(request.get(), from.c_str());
  SPF_response_t* raw = nullptr;
  SPF_request_query_mailfrom(request.get(), &raw);
  SpfResponse response(raw);
  if (ctx.decided) {
    out.result = *ctx.decided;
    out.problem = ctx.problem;
    return out;
  }
  if (!response) {
    out.result = Result::TempError;
    out.problem = "libspf2: no response";
    return out;
  }
  out.result = fromLibspf2(SPF_response_result(response.get()),
                           SPF_response_errcode(response.get()), ctx.dns_failed);
  if (out.result == Result::PermError || out.result == Result::TempError) {
    out.problem = std::string("libspf2: ") + SPF_strerror(SPF_response_errcode(response.get()));
  }
  return out;
}

}  // namespace mw::spf::detail
