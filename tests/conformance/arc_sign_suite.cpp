// arc_sign_suite — the ValiMail ARC signing suite (../shared/conformance/arc/valimail/
// arc-draft-sign-tests.yml) and Mail::DKIM's copy (mail-dkim-variant/: A-R fields with
// comments and an unparsable one, its input chains re-signed) through arc::Sealer.
//
// Each test gives a message, the scenario's key, domain and selector, a fixed t=, the
// header names to sign (sig-headers), the authserv-id (srv-id) whose
// Authentication-Results become the AAR, and the expected AS, AMS and AAR values. A test
// passes when
//   - the suite expects no seal (empty AS/AMS/AAR: the newest AS says cv=fail) and we
//     sealed nothing; or
//   - every tag of the expected AS and AMS has our value (FWS removed; b= included:
//     RSA PKCS#1 v1.5 signatures are deterministic, so b= equal means the same bytes
//     were signed), our AAR equals the expected one after relaxed canonicalization, AND
//     arc::verifyMessage over the sealed message gives pass (or, for a seal that records
//     cv=fail, fails only because of that cv=fail: RFC 8617 §5.2 step 2).
// A test without a message cannot be run: counted as skipped.
//
// The AAR payload is what mailwarden would record: srv-id, then the results of every
// Authentication-Results field whose authserv-id is srv-id, in order, joined with "; "
// (the suite's ar_merged cases); comments before and after the authserv-id are dropped.
//
// Prints "N passed, N failed" per corpus; fails below the floor in
// tests/conformance/arc-sign-floor.txt. Without the suite: skipped (exit 77).
// MW_ARC_VERBOSE=1 prints every test.
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "suite_support.h"
#include "mailwarden/arc/arc.h"
#include "mailwarden/arc/seal.h"
#include "mailwarden/base/ascii.h"
#include "mailwarden/base/clock.h"
#include "mailwarden/dns/zone.h"

namespace fs = std::filesystem;

namespace {

using mw::conformance::Counts;
using mw::conformance::toCrlf;

constexpr std::int64_t kSuiteTime = 1496275200;  // 2017-06-01T00:00:00Z

bool isWsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string noWsp(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (!isWsp(c)) {
      out += c;
    }
  }
  return out;
}

// Relaxed canonicalization of a value (RFC 6376 §3.4.2), without a trailing ";".
std::string relaxed(std::string_view s) {
  std::string out;
  bool space = false;
  for (const char c : s) {
    if (isWsp(c)) {
      space = true;
      continue;
    }
    if (space && !out.empty()) {
      out += ' ';
    }
    space = false;
    out += c;
  }
  while (!out.empty() && out.back() == ';') {
    out.pop_back();
  }
  return out;
}

// "a=x; b=y" -> {a: x, b: y}, FWS removed from values.
std::map<std::string, std::string> tags(std::string_view list) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while (pos < list.size()) {
    std::size_t semi = list.find(';', pos);
    if (semi == std::string_view::npos) {
      semi = list.size();
    }
    const std::string_view spec = list.substr(pos, semi - pos);
    const std::size_t eq = spec.find('=');
    if (eq != std::string_view::npos) {
      out[noWsp(spec.substr(0, eq))] = noWsp(spec.substr(eq + 1));
    }
    pos = semi + 1;
  }
  return out;
}

// Skips CFWS (whitespace and nested comments) from `pos`.
std::size_t skipCfws(std::string_view s, std::size_t pos) {
  int depth = 0;
  for (; pos < s.size(); ++pos) {
    const char c = s[pos];
    if (c == '(') {
      ++depth;
    } else if (c == ')' && depth > 0) {
      --depth;
    } else if (depth == 0 && !isWsp(c)) {
      break;
    }
  }
  return pos;
}

// The AAR payload from the message's Authentication-Results fields for `srv_id`.
std::string payloadFor(const std::string& message, const std::string& srv_id) {
  std::vector<std::string> results;
  // Header section only: unfold field by field.
  const std::size_t end = message.find("\r\n\r\n");
  const std::string head = message.substr(0, end == std::string::npos ? message.size() : end + 2);
  std::vector<std::string> fields;
  std::size_t pos = 0;
  while (pos < head.size()) {
    const std::size_t eol = head.find("\r\n", pos);
    const std::string line = head.substr(pos, eol - pos);
    pos = eol + 2;
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t') && !fields.empty()) {
      fields.back() += " " + line;
    } else {
      fields.push_back(line);
    }
  }
  for (const std::string& f : fields) {
    const std::size_t colon = f.find(':');
    if (colon == std::string::npos ||
        !mw::ascii::iequals(mw::ascii::trim(std::string_view(f).substr(0, colon)),
                            "Authentication-Results")) {
      continue;
    }
    const std::string_view v = std::string_view(f).substr(colon + 1);
    std::size_t p = skipCfws(v, 0);
    std::size_t q = p;
    while (q < v.size() && !isWsp(v[q]) && v[q] != ';' && v[q] != '(') {
      ++q;
    }
    if (!mw::ascii::iequals(v.substr(p, q - p), srv_id)) {
      continue;
    }
    q = skipCfws(v, q);
    if (q >= v.size() || v[q] != ';') {
      continue;  // "authserv-id; none" or unparsable
    }
    const std::string rest = relaxed(v.substr(q + 1));
    if (!rest.empty()) {
      results.push_back(rest);
    }
  }
  std::string out = srv_id;
  for (const std::string& r : results) {
    out += "; " + r;
  }
  return out;
}

std::string scalar(const YAML::Node& n) {
  return n && n.IsScalar() ? n.as<std::string>() : std::string();
}

std::vector<std::string> splitColon(const std::string& s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    std::size_t c = s.find(':', pos);
    if (c == std::string::npos) {
      c = s.size();
    }
    const std::string name = std::string(mw::ascii::trim(std::string_view(s).substr(pos, c - pos)));
    if (!name.empty()) {
      out.push_back(name);
    }
    pos = c + 1;
  }
  return out;
}

// "" when our field has every tag of `want` with the same value, else what differs.
std::string compareTags(const std::string& ours, const std::string& want) {
  const auto o = tags(ours);
  std::string diff;
  for (const auto& [k, v] : tags(want)) {
    const auto it = o.find(k);
    if (it == o.end()) {
      diff += " " + k + "= missing;";
    } else if (it->second != v) {
      diff += " " + k + "=" + it->second.substr(0, 16) + "... want " + v.substr(0, 16) + "...;";
    }
  }
  return diff;
}

bool runFile(const fs::path& file, Counts& counts) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAllFromFile(file.string());
  } catch (const YAML::Exception& e) {
    std::printf("%s: %s\n", file.c_str(), e.what());
    return false;
  }
  const bool verbose = std::getenv("MW_ARC_VERBOSE") != nullptr;
  const mw::FixedClock clock(kSuiteTime);
  for (const YAML::Node& doc : docs) {
    if (!doc.IsMap() || !doc["tests"]) {
      continue;
    }
    mw::dns::ZoneResolver zone;
    if (const YAML::Node txt = doc["txt-records"]; txt && txt.IsMap()) {
      for (const auto& kv : txt) {
        zone.addTxt(kv.first.as<std::string>(), kv.second.as<std::string>());
      }
    }
    mw::Result<mw::arc::SealKey> key = mw::arc::parseSealKey(scalar(doc["privatekey"]));
    if (!key) {
      std::printf("%s: scenario key: %s\n", file.c_str(), key.error().describe().c_str());
      return false;
    }
    auto shared_key = std::make_shared<const mw::arc::SealKey>(*key);
    for (const auto& kv : doc["tests"]) {
      const std::string name = kv.first.as<std::string>();
      const YAML::Node t = kv.second;
      const std::string raw = scalar(t["message"]);
      if (raw.empty()) {
        ++counts.skipped;
        std::printf("  skip %s (no message)\n", name.c_str());
        continue;
      }
      const std::string message = toCrlf(raw);
      mw::arc::SealOptions o;
      o.domain = scalar(doc["domain"]);
      o.selector = scalar(doc["sel"]);
      o.key = shared_key;
      o.headers = splitColon(scalar(t["sig-headers"]));
      o.timestamp = std::stoll(scalar(t["t"]));
      const std::string payload = payloadFor(message, std::string(mw::ascii::trim(scalar(t["srv-id"]))));
      mw::arc::Sealed detail;
      const mw::Result<std::string> sealed =
          mw::arc::sealMessage(message, o, payload, zone, clock, &detail);
      const std::string want_as = relaxed(scalar(t["AS"]));
      const std::string want_ams = relaxed(scalar(t["AMS"]));
      const std::string want_aar = relaxed(scalar(t["AAR"]));
      std::string why;
      if (!sealed) {
        why = "error: " + sealed.error().describe();
      } else if (want_as.empty() && want_ams.empty() && want_aar.empty()) {
        if (detail.fields.empty()) {
          why.clear();
        } else {
          why = "sealed, the suite expects no seal";
        }
      } else if (detail.fields.size() != 3) {
        why = "not sealed: " + detail.skipped;
      } else {
        why += compareTags(detail.fields[0].value, want_as);
        if (!why.empty()) {
          why = "AS:" + why;
        }
        const std::string ams_diff = compareTags(detail.fields[1].value, want_ams);
        if (!ams_diff.empty()) {
          why += " AMS:" + ams_diff;
        }
        if (relaxed(detail.fields[2].value) != want_aar) {
          why += " AAR: " + relaxed(detail.fields[2].value) + " want " + want_aar;
        }
        const mw::arc::Validation v = mw::arc::verifyMessage(*sealed, zone, clock);
        const bool ok = detail.cv == mw::arc::ChainResult::Fail
                            ? v.cv == mw::arc::ChainResult::Fail &&
                                  v.reason == "the newest ARC-Seal says cv=fail"
                            : v.cv == mw::arc::ChainResult::Pass;
        if (!ok) {
          why += " our verifier: " + std::string(mw::arc::toString(v.cv)) + " " + v.reason;
        }
      }
      if (why.empty()) {
        ++counts.passed;
        if (verbose) {
          std::printf("  ok %s (%s)\n", name.c_str(),
                      detail.fields.empty() ? detail.skipped.c_str() : "sealed");
        }
      } else {
        ++counts.failed;
        std::printf("  FAIL %s:%s\n", name.c_str(), why.c_str());
      }
    }
  }
  return true;
}

}  // namespace

int main() {
  return mw::conformance::runArcCorpora(MW_CONFORMANCE_DEFAULT_DIR, "arc-draft-sign-tests.yml", MW_ARC_SIGN_FLOOR_FILE, "no message", runFile);
}
