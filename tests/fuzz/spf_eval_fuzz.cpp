// fuzz target of spf/: check_host() over a ZoneResolver built from the fuzz input, so
// records include and redirect to each other, use macros, long names, failing lookups.
//
// Input: lines. "ip ADDR", "from ADDR", "helo NAME" set the check; "NAME TYPE VALUE"
// adds a record (TYPE: TXT, A, AAAA, MX "PREF HOST", PTR, CNAME, TIMEOUT, SERVFAIL,
// EMPTY). Anything else is ignored. Seeds: tests/fuzz/corpus/spf_eval/ (the OpenSPF
// rfc7208 scenarios, one test per file).
//
// Properties: no crash; the number of DNS queries of one check stays within what the
// RFC 7208 §4.6.4 limits allow; an explanation only comes with fail.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/dns/zone.h"
#include "mailwarden/spf/spf.h"

namespace {

using mw::dns::Type;

// Queries one check may make: the first TXT, 10 terms each costing at most 1 + 10
// (mx and its hosts), the PTR validation done once (1 + 10), one exp TXT.
constexpr unsigned kMaxQueries = 1 + 10 * 11 + 11 + 1;
constexpr std::size_t kMaxLines = 512;

class CountingResolver final : public mw::dns::Resolver {
 public:
  explicit CountingResolver(mw::dns::Resolver& inner) : inner_(inner) {}
  mw::dns::Answer query(std::string_view name, Type type, const mw::dns::Budget& b) override {
    ++queries;
    return inner_.query(name, type, b);
  }
  unsigned queries = 0;

 private:
  mw::dns::Resolver& inner_;
};

std::optional<Type> typeOf(std::string_view t) {
  if (t == "TXT") return Type::TXT;
  if (t == "A") return Type::A;
  if (t == "AAAA") return Type::AAAA;
  if (t == "MX") return Type::MX;
  if (t == "PTR") return Type::PTR;
  return std::nullopt;
}

std::string_view nextWord(std::string_view& s) {
  const std::size_t sp = s.find(' ');
  const std::string_view w = s.substr(0, sp);
  s = sp == std::string_view::npos ? std::string_view() : s.substr(sp + 1);
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  mw::dns::ZoneResolver zone;
  std::string ip = "192.0.2.1";
  std::string from = "user@example.com";
  std::string helo = "mail.example.com";
  for (std::size_t lines = 0; !input.empty() && lines < kMaxLines; ++lines) {
    const std::size_t nl = input.find('\n');
    std::string_view line = input.substr(0, nl);
    input = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
    const std::string_view name = nextWord(line);
    if (name == "ip") {
      ip = std::string(line);
      continue;
    }
    if (name == "from") {
      from = std::string(line);
      continue;
    }
    if (name == "helo") {
      helo = std::string(line);
      continue;
    }
    const std::string_view type = nextWord(line);
    if (type == "TXT") {
      zone.addTxt(name, std::string(line));
    } else if (type == "A") {
      static_cast<void>(zone.addA(name, line));  // a bad address is just not added
    } else if (type == "AAAA") {
      static_cast<void>(zone.addAaaa(name, line));
    } else if (type == "MX") {
      const std::string_view pref = nextWord(line);
      zone.addMx(name, static_cast<std::uint16_t>(std::atoi(std::string(pref).c_str())), line);
    } else if (type == "PTR") {
      zone.addPtr(name, line);
    } else if (type == "CNAME") {
      zone.addCname(name, line);
    } else if (type == "EMPTY") {
      zone.addEmpty(name);
    } else if (type == "TIMEOUT" || type == "SERVFAIL") {
      std::vector<Type> types;
      while (!line.empty()) {
        if (const auto t = typeOf(nextWord(line))) {
          types.push_back(*t);
        }
      }
      if (type == "TIMEOUT") {
        zone.setTimeout(name, types);
      } else {
        zone.setServfail(name, types);
      }
    }
  }
  CountingResolver counting(zone);
  mw::spf::Options options;
  options.default_explanation = "denied by %{d} for %{i}";
  options.clock = std::make_shared<mw::FixedClock>(1400000000);
  mw::spf::Checker checker(counting, options);
  for (int identity = 0; identity < 2; ++identity) {
    counting.queries = 0;
    const mw::spf::CheckResult r =
        identity == 0 ? checker.checkMailFrom(ip, helo, from, mw::dns::Budget::unlimited())
                      : checker.checkHelo(ip, helo, mw::dns::Budget::unlimited());
    if (counting.queries > kMaxQueries) {
      std::abort();
    }
    if (!r.explanation.empty() && r.result != mw::spf::Result::Fail) {
      std::abort();
    }
  }
  return 0;
}
