// report/record.cpp — enum names (RFC 9990 Appendix A enumerations), the tuple key.
#include "mailwarden/report/record.h"

#include <array>
#include <cstddef>
#include <exception>

#include <nlohmann/json.hpp>

namespace mw::report {
namespace {

// One table per enum, indexed by the enumerator: the schema's spelling of each value.
constexpr std::array<std::string_view, 3> kPolicy{"none", "quarantine", "reject"};
constexpr std::array<std::string_view, 4> kDisposition{"none", "pass", "quarantine", "reject"};
constexpr std::array<std::string_view, 2> kAlignment{"r", "s"};
constexpr std::array<std::string_view, 2> kDiscovery{"psl", "treewalk"};
constexpr std::array<std::string_view, 2> kAligned{"pass", "fail"};
constexpr std::array<std::string_view, 5> kOverride{"local_policy", "mailing_list", "other",
                                                    "policy_test_mode", "trusted_forwarder"};
constexpr std::array<std::string_view, 7> kDkim{"none",    "pass",      "fail",     "policy",
                                                "neutral", "temperror", "permerror"};
constexpr std::array<std::string_view, 8> kSpf{"none",    "pass",      "fail",     "softfail",
                                               "policy",  "neutral",   "temperror", "permerror"};
constexpr std::array<std::string_view, 2> kScope{"mfrom", "helo"};

template <typename E, std::size_t N>
std::string_view name(const std::array<std::string_view, N>& table, E v) noexcept {
  const auto i = static_cast<std::size_t>(v);
  return i < N ? table[i] : std::string_view("?");
}

// Thrown inside recordFromKey only, and caught there: the JSON walk stays readable.
struct BadKey : std::exception {
  const char* what() const noexcept override { return "bad tuple key"; }
};

template <typename E, std::size_t N>
E parse(const std::array<std::string_view, N>& table, const nlohmann::json& j) {
  const std::string& s = j.get_ref<const std::string&>();  // throws type_error if not a string
  for (std::size_t i = 0; i < N; ++i) {
    if (table[i] == s) {
      return static_cast<E>(i);
    }
  }
  throw BadKey{};
}

}  // namespace

std::string_view toString(Policy v) noexcept { return name(kPolicy, v); }
std::string_view toString(Disposition v) noexcept { return name(kDisposition, v); }
std::string_view toString(Alignment v) noexcept { return name(kAlignment, v); }
std::string_view toString(Discovery v) noexcept { return name(kDiscovery, v); }
std::string_view toString(Aligned v) noexcept { return name(kAligned, v); }
std::string_view toString(OverrideType v) noexcept { return name(kOverride, v); }
std::string_view toString(DkimResult v) noexcept { return name(kDkim, v); }
std::string_view toString(SpfResult v) noexcept { return name(kSpf, v); }
std::string_view toString(SpfScope v) noexcept { return name(kScope, v); }

// The key is JSON because nlohmann::json (already a dependency) gives us a canonical form
// for free: object keys sorted, no whitespace, strings escaped. Short member names keep
// the key (a UNIQUE column in the SQLite store) small. "v" versions the layout.
std::string tupleKey(const Record& r) {
  nlohmann::json pol = {{"d", r.policy.domain},
                        {"p", toString(r.policy.p)},
                        {"adkim", toString(r.policy.adkim)},
                        {"aspf", toString(r.policy.aspf)},
                        {"t", r.policy.testing},
                        {"m", toString(r.policy.discovery)}};
  if (r.policy.sp) {
    pol["sp"] = toString(*r.policy.sp);
  }
  if (r.policy.np) {
    pol["np"] = toString(*r.policy.np);
  }
  nlohmann::json reasons = nlohmann::json::array();
  for (const Override& o : r.overrides) {
    reasons.push_back({{"t", toString(o.type)}, {"c", o.comment}});
  }
  nlohmann::json dkim = nlohmann::json::array();
  for (const DkimAuth& d : r.dkim) {
    dkim.push_back({{"d", d.domain}, {"s", d.selector}, {"r", toString(d.result)}});
  }
  nlohmann::json j = {{"v", 1},
                      {"hf", r.header_from},
                      {"ip", r.source_ip},
                      {"pol", std::move(pol)},
                      {"disp", toString(r.disposition)},
                      {"ad", toString(r.dkim_aligned)},
                      {"as", toString(r.spf_aligned)},
                      {"why", std::move(reasons)},
                      {"dkim", std::move(dkim)},
                      {"ef", r.envelope_from},
                      {"et", r.envelope_to}};
  if (r.spf) {
    j["spf"] = {{"d", r.spf->domain}, {"sc", toString(r.spf->scope)}, {"r", toString(r.spf->result)}};
  }
  // replace: bytes that are not UTF-8 become U+FFFD instead of an exception (hostile mail).
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<Record> recordFromKey(std::string_view key) {
  const nlohmann::json j = nlohmann::json::parse(key, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(Errc::Invalid, "tuple key is not a JSON object");
  }
  try {
    if (j.at("v").get<int>() != 1) {
      return fail(Errc::Invalid, "tuple key has an unknown layout version");
    }
    auto str = [](const nlohmann::json& v) { return v.get<std::string>(); };
    Record r;
    r.header_from = str(j.at("hf"));
    r.source_ip = str(j.at("ip"));
    const nlohmann::json& pol = j.at("pol");
    r.policy.domain = str(pol.at("d"));
    r.policy.p = parse<Policy>(kPolicy, pol.at("p"));
    if (pol.contains("sp")) {
      r.policy.sp = parse<Policy>(kPolicy, pol.at("sp"));
    }
    if (pol.contains("np")) {
      r.policy.np = parse<Policy>(kPolicy, pol.at("np"));
    }
    r.policy.adkim = parse<Alignment>(kAlignment, pol.at("adkim"));
    r.policy.aspf = parse<Alignment>(kAlignment, pol.at("aspf"));
    r.policy.testing = pol.at("t").get<bool>();
    r.policy.discovery = parse<Discovery>(kDiscovery, pol.at("m"));
    r.disposition = parse<Disposition>(kDisposition, j.at("disp"));
    r.dkim_aligned = parse<Aligned>(kAligned, j.at("ad"));
    r.spf_aligned = parse<Aligned>(kAligned, j.at("as"));
    for (const nlohmann::json& o : j.at("why")) {
      r.overrides.push_back({parse<OverrideType>(kOverride, o.at("t")), str(o.at("c"))});
    }
    for (const nlohmann::json& d : j.at("dkim")) {
      r.dkim.push_back({str(d.at("d")), str(d.at("s")), parse<DkimResult>(kDkim, d.at("r"))});
    }
    if (j.contains("spf")) {
      const nlohmann::json& s = j.at("spf");
      r.spf = SpfAuth{str(s.at("d")), parse<SpfScope>(kScope, s.at("sc")),
                      parse<SpfResult>(kSpf, s.at("r"))};
    }
    r.envelope_from = str(j.at("ef"));
    r.envelope_to = str(j.at("et"));
    return r;
  } catch (const BadKey&) {
    return fail(Errc::Invalid, "tuple key has a value outside RFC 9990's enumerations");
  } catch (const nlohmann::json::exception& e) {
    return fail(Errc::Invalid, std::string("tuple key is malformed: ") + e.what());
  }
}

Period Period::of(std::chrono::sys_seconds t) noexcept {
  const std::int64_t s = t.time_since_epoch().count();
  // floor division: a time before the epoch falls in day -1, not day 0
  return Period{s >= 0 ? s / 86400 : -((-s + 86399) / 86400)};
}

bool excludedDomain(const std::vector<std::string>& list, std::string_view domain) {
  for (const std::string& x : list) {
    const bool sub = !x.empty() && x.front() == '.';
    const std::string_view base = sub ? std::string_view(x).substr(1) : std::string_view(x);
    if (domain == base || (sub && domain.size() > x.size() && domain.ends_with(x))) {
      return true;
    }
  }
  return false;
}

}  // namespace mw::report
