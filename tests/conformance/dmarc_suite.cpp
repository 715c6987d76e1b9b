// Conformance driver: runs the vectors of ../shared/conformance/dmarc/dmarc-vectors.yaml
// (OpenDMARC's and Mail::DMARC's test expectations, transcribed as data) through
// mailwarden's dmarc/ module and message/ From parser.
//
// The vectors were written against RFC 7489 implementations. Where RFC 9989 changed the
// expectation (removed tags, a missing p=, the Public Suffix List replaced by the DNS
// Tree Walk) or where the expectation is one implementation's leniency that RFC 9989
// does not share, the vector is listed in kChanged below with the section, reported and
// not scored (doc/CONFORMANCE.md repeats the list). Every other vector is scored.
//
// Alignment vectors were written for a Public Suffix List; under RFC 9989 the
// organizational domain comes from DMARC records in the DNS, so the driver publishes a
// record at each vector's registrable domain (bcx.com, foo.com, b.com, example.com), as
// the owner of such a domain would; no record is published at any public suffix.
//
// It also runs our own vectors, tests/conformance/dmarc-policy-vectors.yaml (written by
// tests/conformance/dmarc_policy_vectors.py, whose docstring describes them): RFC 9989
// policy discovery (§4.10.1: the Author Domain's record, else its Organizational
// Domain's, else its PSD's; p/sp/np, §4.7) over a zone per scenario, sections
// rfc9989_appendix_b4 and policy_discovery. Every one of them is scored.
//
// MW_CONFORMANCE_DIR overrides the place (that dmarc/ folder or the conformance folder
// above it); without the file the public sections are skipped, ours still run, and the
// exit status is 77 unless one of ours fails. Prints per section "N passed, N failed,
// N not scored", every failure (every vector with MW_DMARC_VERBOSE=1), and fails when a
// section is below tests/conformance/dmarc-floor.txt.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "suite_support.h"
#include "mailwarden/base/ascii.h"
#include "mailwarden/dmarc/dmarc.h"
#include "mailwarden/dns/zone.h"

namespace {

namespace fs = std::filesystem;
using namespace mw::dmarc;

// Vector key ("section:id-or-text") -> why RFC 9989 (or the vector's leniency) differs.
const std::map<std::string, std::string> kChanged = {
    {"record_parse:5", "p=n: OpenDMARC leniency; RFC 9989 §4.7 p is none/quarantine/reject "
                       "(invalid p, no rua: no DMARC processing)"},
    {"record_parse:10", "adkim=bob: RFC 9989 §4.7, syntax errors in other tags fall back to "
                        "the default (adkim=r); the record stays usable"},
    {"record_parse:11", "aspf=bob: RFC 9989 §4.7, as adkim"},
    {"record_parse:12", "rf=bob: RFC 9989 removed rf (§4.7: unknown tags are ignored)"},
    {"record_parse:13", "ri=bob: RFC 9989 removed ri (§4.7: unknown tags are ignored)"},
    {"record_parse:14", "pct=500: RFC 9989 removed pct (§4.7: unknown tags are ignored)"},
    {"record_parse:15", "no p=: RFC 9989 §4.7, a record without p is p=none"},
    {"record_parse:19", "rf=000...: RFC 9989 removed rf (§4.7: unknown tags are ignored)"},
    {"alignment:5", "'.mac.com.': OpenDMARC strips leading dots; a name with an empty label "
                    "is not a domain name (RFC 1035 §2.3.1), so it aligns with nothing"},
    {"alignment:6", "'....mac.com....': as alignment:5"},
    {"policy_tag_values:good:v=dmarc1", "RFC 9989 §4.8 ABNF: the version is %s\"DMARC1\" "
                                        "(case-sensitive, as RFC 7489 §6.4)"},
    {"policy_tag_values:good:rua=http://example.com/pub/dmarc!30m",
     "RFC 9989 §4.7 rua: reports are sent by mail (the DMARC reporting RFCs define "
     "mailto: only); an http URI is unusable"},
    {"policy_tag_values:good:ruf=https://example.com/dmarc?report!1m",
     "RFC 9989 §4.7 ruf: as rua, only mailto: URIs are usable"},
    {"policy_tag_values:bad:rf", "RFC 9989 removed rf: any value is ignored (§4.7)"},
    {"policy_tag_values:bad:ri", "RFC 9989 removed ri: any value is ignored (§4.7)"},
    {"policy_tag_values:bad:pct", "RFC 9989 removed pct: any value is ignored (§4.7)"},
    {"organizational_domain", "PSL-based (RFC 7489 §3.2); RFC 9989 §4.10.2 determines the "
                              "organizational domain by the DNS Tree Walk, no PSL"},
};

struct Section {
  int passed = 0;
  int failed = 0;
  int changed = 0;
};

struct Report {
  std::map<std::string, Section> sections;
  std::vector<std::string> lines;
  bool verbose = std::getenv("MW_DMARC_VERBOSE") != nullptr;

  // score - one vector; `changed_key` names a kChanged entry to consult.
  void score(const std::string& section, const std::string& key, bool ok, const std::string& what) {
    Section& s = sections[section];
    if (auto it = kChanged.find(key); it != kChanged.end()) {
      ++s.changed;
      lines.push_back("  not scored " + key + " [" + what + "] (" + (ok ? "agrees" : "differs") +
                      "): " + it->second);
      return;
    }
    if (ok) {
      ++s.passed;
      if (verbose) {
        lines.push_back("  ok   " + key + ": " + what);
      }
    } else {
      ++s.failed;
      lines.push_back("  FAIL " + key + ": " + what);
    }
  }
};

std::string scalar(const YAML::Node& n) { return n && n.IsScalar() ? n.Scalar() : std::string(); }

const char* statusName(ParseStatus s) {
  switch (s) {
    case ParseStatus::Ok: return "Ok";
    case ParseStatus::NotDmarc: return "NotDmarc";
    case ParseStatus::Invalid: return "Invalid";
  }
  return "?";
}

// OpenDMARC's status -> what RFC 9989 parsing gives.
ParseStatus expectedStatus(const std::string& outcome) {
  if (outcome == "OKAY") {
    return ParseStatus::Ok;
  }
  if (outcome == "ERROR_EMPTY" || outcome == "ERROR_BAD_VERSION") {
    return ParseStatus::NotDmarc;
  }
  return ParseStatus::Invalid;
}

void recordParse(const YAML::Node& sec, Report& r) {
  for (const YAML::Node& v : sec["vectors"]) {
    const std::string id = scalar(v["id"]);
    const std::string rec = scalar(v["record"]);
    const ParseStatus want = expectedStatus(scalar(v["outcome"]));
    const ParseStatus got = parseRecord(rec).status;
    r.score("record_parse", "record_parse:" + id, got == want,
            "'" + rec + "' -> " + statusName(got) + ", want " + statusName(want));
  }
}

// A zone in which the registrable domains of the vectors publish a DMARC record.
void orgZone(mw::dns::ZoneResolver& zone) {
  for (const char* d : {"bcx.com", "foo.com", "b.com", "example.com", "mac.com", "a.b.de"}) {
    zone.addTxt(std::string("_dmarc.") + d, "v=DMARC1; p=none");
  }
}

bool alignedText(Discovery& d, const std::string& a, const std::string& b, Alignment mode) {
  const std::optional<std::string> na = normalizeDomain(a);
  const std::optional<std::string> nb = normalizeDomain(b);
  if (!na || !nb) {
    return false;
  }
  return aligned(d, *na, *nb, mode) == Aligned::Yes;
}

void alignment(const YAML::Node& sec, Report& r) {
  mw::dns::ZoneResolver zone;
  orgZone(zone);
  const mw::dns::Budget budget = mw::dns::Budget::unlimited();
  Discovery d(zone, budget);
  for (const YAML::Node& v : sec["vectors"]) {
    const std::string id = scalar(v["id"]);
    const std::string a = scalar(v["domain"]);
    const std::string b = scalar(v["other"]);
    const Alignment mode = scalar(v["mode"]) == "strict" ? Alignment::Strict : Alignment::Relaxed;
    const bool want = scalar(v["aligned"]) == "true";
    const bool got = alignedText(d, a, b, mode);
    r.score("alignment", "alignment:" + id, got == want,
            a + " / " + b + " " + scalar(v["mode"]) + " -> " + (got ? "aligned" : "not aligned"));
  }
}

void spfAlignment(const YAML::Node& sec, Report& r) {
  mw::dns::ZoneResolver zone;
  orgZone(zone);
  const mw::dns::Budget budget = mw::dns::Budget::unlimited();
  Discovery d(zone, budget);
  int n = 0;
  for (const YAML::Node& v : sec["vectors"]) {
    const std::string from = scalar(v["header_from"]);
    const std::string spf = scalar(v["spf_domain"]);
    const std::string want = scalar(v["aligned"]);  // strict | relaxed | false
    const bool strict = alignedText(d, from, spf, Alignment::Strict);
    const bool relaxed = alignedText(d, from, spf, Alignment::Relaxed);
    const std::string got = strict ? "strict" : relaxed ? "relaxed" : "false";
    r.score("spf_alignment", "spf_alignment:" + std::to_string(++n), got == want,
            from + " / " + spf + " -> " + got + ", want " + want);
  }
}

// accepted - does our parser take `value` for `tag` as a valid value?
bool accepted(const std::string& tag, const std::string& value) {
  if (tag == "v") {
    return parseRecord("v=" + value + "; p=none").status == ParseStatus::Ok;
  }
  const std::string rec = tag == "p" ? "v=DMARC1; p=" + value : "v=DMARC1; p=none; " + tag + "=" + value;
  const ParseResult p = parseRecord(rec);
  if (p.status != ParseStatus::Ok) {
    return false;
  }
  if (tag == "rua" || tag == "ruf") {
    return !(tag == "rua" ? p.record.rua : p.record.ruf).empty();
  }
  for (const std::string& why : p.record.ignored) {
    if (why.rfind(tag + "=", 0) == 0) {
      return false;
    }
  }
  return !p.record.downgraded;
}

void tagValues(const YAML::Node& sec, Report& r) {
  for (const char* kind : {"good", "bad"}) {
    const bool want = std::string(kind) == "good";
    for (const auto& tag : sec[kind]) {
      const std::string name = tag.first.Scalar();
      for (const YAML::Node& v : tag.second) {
        const std::string value = scalar(v);
        const bool got = accepted(name, value);
        std::string key = "policy_tag_values:" + std::string(kind) + ":" + name + "=" + value;
        if (kChanged.count(key) == 0 && kChanged.count("policy_tag_values:" + std::string(kind) + ":" + name) != 0) {
          key = "policy_tag_values:" + std::string(kind) + ":" + name;
        }
        r.score("policy_tag_values", key, got == want,
                name + "=" + value + (got ? " accepted" : " refused"));
      }
    }
  }
}

void fromHeader(const YAML::Node& sec, Report& r) {
  int n = 0;
  for (const YAML::Node& v : sec["vectors"]) {
    std::string from = scalar(v["from"]);
    if (from.size() >= 5 && mw::ascii::iequals(std::string_view(from).substr(0, 5), "From:")) {
      from = from.substr(5);
    }
    const std::string want = scalar(v["domain"]);
    const Authors a = authorDomains({from});
    const std::string got = a.single() ? a.domains.front() : "";
    r.score("from_header_domain", "from_header_domain:" + std::to_string(++n), got == want,
            "'" + from + "' -> '" + got + "' (" + a.problem + "), want '" + want + "'");
  }
}

// Listed, not scored (the whole section is in kChanged). For information the driver
// runs the tree walk in a zone where the PSL's registrable domains publish a record and
// says whether the answer agrees.
void orgDomain(const YAML::Node& sec, Report& r) {
  mw::dns::ZoneResolver zone;
  zone.addTxt("_dmarc.tnpi.net", "v=DMARC1; p=none");
  zone.addTxt("_dmarc.bbc.co.uk", "v=DMARC1; p=none");
  const mw::dns::Budget budget = mw::dns::Budget::unlimited();
  Discovery d(zone, budget);
  for (const YAML::Node& v : sec["vectors"]) {
    const std::string domain = scalar(v["domain"]);
    const std::string got = d.organizationalDomain(domain).domain;
    r.score("organizational_domain", "organizational_domain", got == scalar(v["org"]),
            domain + " -> " + got + ", PSL " + scalar(v["org"]));
  }
}

// dmarc-policy-vectors.yaml: one ZoneResolver per scenario, one fresh Discovery per test.
class RecordingResolver final : public mw::dns::Resolver {
 public:
  explicit RecordingResolver(mw::dns::Resolver& inner) : inner_(inner) {}
  mw::dns::Answer query(std::string_view name, mw::dns::Type type,
                        const mw::dns::Budget& b) override {
    if (type == mw::dns::Type::TXT && name.rfind("_dmarc.", 0) == 0) {
      txt.emplace_back(name.substr(7));
    }
    return inner_.query(name, type, b);
  }
  std::vector<std::string> txt;  // the _dmarc names asked, without "_dmarc."

 private:
  mw::dns::Resolver& inner_;
};

// An RFC 8601 result token as DMARC reads it (dmarc.h IdentifierResult): any result that
// is neither pass nor temperror (fail, softfail, permerror, ...) cannot align.
IdentifierResult identifierResult(const std::string& token) {
  if (token.empty() || token == "none") {
    return IdentifierResult::None;
  }
  if (token == "pass") {
    return IdentifierResult::Pass;
  }
  return token == "temperror" ? IdentifierResult::TempError : IdentifierResult::Fail;
}

// "pass example.com" -> {Pass, example.com}
AuthIdentifier identifier(const std::string& s) {
  const std::size_t sp = s.find(' ');
  if (sp == std::string::npos) {
    return {identifierResult(s), ""};
  }
  return {identifierResult(s.substr(0, sp)), s.substr(sp + 1)};
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& x : v) {
    out += (out.empty() ? "" : " ") + x;
  }
  return out;
}

void policyVectors(const YAML::Node& doc, Report& r, std::vector<std::string>& sections) {
  const mw::dns::Budget budget = mw::dns::Budget::unlimited();
  for (const YAML::Node& s : doc["scenarios"]) {
    const std::string section = scalar(s["section"]);
    const std::string id = scalar(s["id"]);
    if (std::find(sections.begin(), sections.end(), section) == sections.end()) {
      sections.push_back(section);
    }
    mw::dns::ZoneResolver zone;
    if (auto loaded = zone.loadText("$TTL 300\n" + scalar(s["zone"]), id); !loaded) {
      r.score(section, section + ":" + id, false, "zone: " + loaded.error().message);
      continue;
    }
    for (const auto& o : s["orgs"]) {
      Discovery d(zone, budget);
      const OrgDomain got = d.organizationalDomain(o.first.Scalar());
      const std::string g = got.temperror ? "temperror" : got.domain;
      r.score(section, section + ":" + id + ":org:" + o.first.Scalar(), g == o.second.Scalar(),
              "organizational domain of " + o.first.Scalar() + " -> " + g + ", want " +
                  o.second.Scalar());
    }
    int n = 0;
    for (const YAML::Node& t : s["tests"]) {
      const std::string from = scalar(t["from"]);
      RecordingResolver rec(zone);
      Discovery d(rec, budget);
      std::vector<AuthIdentifier> dkim;
      for (const YAML::Node& k : t["dkim"]) {
        dkim.push_back(identifier(scalar(k)));
      }
      const Evaluation e = evaluate(d, from, identifier(scalar(t["spf"])), dkim);
      const std::vector<std::string> asked = rec.txt;
      const OrgDomain org = d.organizationalDomain(from);
      const std::string got_result(toString(e.result));
      const std::string got_domain = e.record_domain.empty() ? "-" : e.record_domain;
      const std::string got_policy = e.record ? std::string(toString(e.applied)) : "-";
      const std::string got_org = org.temperror ? "temperror" : org.domain;
      std::string got = "result=" + got_result + " policy_domain=" + got_domain +
                        " policy=" + got_policy + " org=" + got_org;
      std::string want = "result=" + scalar(t["result"]) + " policy_domain=" +
                         scalar(t["policy_domain"]) + " policy=" + scalar(t["policy"]) +
                         " org=" + scalar(t["org_domain"]);
      if (t["aligned_by"]) {
        got += " aligned_by=" + e.aligned_by;
        want += " aligned_by=" + scalar(t["aligned_by"]);
      }
      if (t["txt_queries"]) {
        std::vector<std::string> q;
        for (const YAML::Node& x : t["txt_queries"]) {
          q.push_back(scalar(x));
        }
        got += " txt_queries=[" + joined(asked) + "]";
        want += " txt_queries=[" + joined(q) + "]";
      }
      r.score(section, section + ":" + id + ":" + std::to_string(++n) + ":" + from, got == want,
              got == want ? got : got + ", want " + want + (e.problem.empty() ? "" : " (" + e.problem + ")"));
    }
  }
}

fs::path suiteFile() {
  if (const char* env = std::getenv("MW_CONFORMANCE_DIR"); env != nullptr && *env != '\0') {
    const fs::path p(env);
    return fs::exists(p / "dmarc-vectors.yaml") ? p / "dmarc-vectors.yaml"
                                                : p / "dmarc" / "dmarc-vectors.yaml";
  }
  return fs::path(MW_CONFORMANCE_DEFAULT_DIR) / "dmarc-vectors.yaml";
}

}  // namespace

int main() {
  Report report;
  std::vector<std::string> ours;  // the sections of dmarc-policy-vectors.yaml
  try {
    policyVectors(YAML::LoadFile(MW_DMARC_POLICY_VECTORS), report, ours);
  } catch (const YAML::Exception& e) {
    std::printf("%s: %s\n", MW_DMARC_POLICY_VECTORS, e.what());
    return 1;
  }
  const fs::path file = suiteFile();
  const bool have_public = fs::exists(file);
  if (!have_public) {
    std::printf("SKIP: no %s (set MW_CONFORMANCE_DIR); only our vectors run\n", file.c_str());
  } else {
    YAML::Node doc;
    try {
      doc = YAML::LoadFile(file.string());
    } catch (const YAML::Exception& e) {
      std::printf("%s: %s\n", file.c_str(), e.what());
      return 1;
    }
    recordParse(doc["record_parse"], report);
    alignment(doc["alignment"], report);
    spfAlignment(doc["spf_alignment"], report);
    tagValues(doc["policy_tag_values"], report);
    fromHeader(doc["from_header_domain"], report);
    orgDomain(doc["organizational_domain"], report);
  }
  for (const std::string& l : report.lines) {
    std::printf("%s\n", l.c_str());
  }
  const std::map<std::string, int> floor = mw::conformance::readFloor(MW_DMARC_FLOOR_FILE);
  bool ok = true;
  bool ours_ok = true;
  Section totals[2];  // [0] dmarc-vectors.yaml, [1] dmarc-policy-vectors.yaml
  for (const auto& [name, s] : report.sections) {
    std::printf("%s: %d passed, %d failed, %d not scored\n", name.c_str(), s.passed, s.failed,
                s.changed);
    const bool mine = std::find(ours.begin(), ours.end(), name) != ours.end();
    Section& t = totals[mine ? 1 : 0];
    t.passed += s.passed;
    t.failed += s.failed;
    t.changed += s.changed;
    const auto it = floor.find(name);
    const int want = it == floor.end() ? 0 : it->second;
    if (s.passed < want) {
      std::printf("%s: %d passed is below the floor of %d\n", name.c_str(), s.passed, want);
      ok = false;
      ours_ok = ours_ok && !mine;
    }
  }
  if (have_public) {
    std::printf("dmarc-vectors.yaml: %d passed, %d failed, %d not scored\n", totals[0].passed,
                totals[0].failed, totals[0].changed);
  }
  std::printf("dmarc-policy-vectors.yaml: %d passed, %d failed\n", totals[1].passed,
              totals[1].failed);
  if (floor.empty()) {
    std::printf("no floor in %s\n", MW_DMARC_FLOOR_FILE);
    ok = false;
  }
  if (!have_public) {
    return ours_ok && !floor.empty() ? 77 : 1;
  }
  return ok ? 0 : 1;
}
