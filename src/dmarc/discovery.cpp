// dmarc/discovery.cpp — the DNS Tree Walk (RFC 9989 §4.10), policy discovery
// (§4.10.1), organizational domains (§4.10.2), non-existence, alignment, evaluation.
#include <algorithm>

#include "mailwarden/base/ascii.h"
#include "mailwarden/dmarc/dmarc.h"
#include "mailwarden/dns/idna.h"

namespace mw::dmarc {
namespace {

std::vector<std::string_view> labelsOf(std::string_view domain) {
  std::vector<std::string_view> out;
  while (true) {
    const std::size_t dot = domain.find('.');
    out.push_back(domain.substr(0, dot));
    if (dot == std::string_view::npos) {
      return out;
    }
    domain.remove_prefix(dot + 1);
  }
}

// The last `n` labels of `domain`.
std::string lastLabels(std::string_view domain, std::size_t n) {
  const std::vector<std::string_view> l = labelsOf(domain);
  std::string out;
  for (std::size_t i = l.size() > n ? l.size() - n : 0; i < l.size(); ++i) {
    if (!out.empty()) {
      out += '.';
    }
    out += l[i];
  }
  return out;
}

std::size_t labelCount(std::string_view domain) {
  return static_cast<std::size_t>(std::count(domain.begin(), domain.end(), '.')) + 1;
}

bool isSubdomainOrSame(std::string_view name, std::string_view parent) {
  if (name == parent) {
    return true;
  }
  return name.size() > parent.size() && name.substr(name.size() - parent.size()) == parent &&
         name[name.size() - parent.size() - 1] == '.';
}

}  // namespace

std::optional<std::string> normalizeDomain(std::string_view domain) {
  // RFC 8616: a U-label author domain (or DKIM d=) is looked up and aligned in A-labels.
  // The one conversion (dns/idna.h); an invalid IDN is no usable name.
  tl::expected<std::string, std::string> alabels = dns::toALabels(domain);
  if (!alabels) {
    return std::nullopt;
  }
  domain = *alabels;
  if (domain.empty() || domain.size() > 253) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(domain.size());
  std::size_t label = 0;
  for (char c : domain) {
    if (c == '.') {
      if (label == 0) {
        return std::nullopt;
      }
      label = 0;
      out += c;
      continue;
    }
    if (!ascii::isAlpha(c) && !ascii::isDigit(c) && c != '-' && c != '_') {
      return std::nullopt;
    }
    if (++label > 63) {
      return std::nullopt;
    }
    out += ascii::toLower(c);
  }
  if (label == 0) {
    return std::nullopt;
  }
  return out;
}

std::vector<std::string> treeWalkNames(std::string_view domain) {
  std::vector<std::string> out;
  if (domain.empty()) {
    return out;
  }
  out.emplace_back(domain);
  std::size_t n = labelCount(domain);
  if (n > static_cast<std::size_t>(kLongNameLabels)) {
    n = kShortenedLabels + 1;  // the next name has 7 labels
  }
  while (n > 1 && out.size() < static_cast<std::size_t>(kMaxWalkQueries)) {
    --n;
    out.push_back(lastLabels(domain, n));
  }
  return out;
}

namespace {

std::string recordName(std::string_view domain) {
  std::string qname = "_dmarc.";
  qname += domain;
  return qname;
}

}  // namespace

void startTreeWalk(dns::Resolver& resolver, const dns::Budget& budget, std::string_view domain) {
  for (const std::string& name : treeWalkNames(domain)) {
    const std::string qname = recordName(name);
    if (dns::isQueryableName(qname)) {
      resolver.start(qname, dns::Type::TXT, budget);
    }
  }
}

const RecordLookup& Discovery::lookup(const std::string& domain) {
  if (auto it = cache_.find(domain); it != cache_.end()) {
    return it->second;
  }
  RecordLookup r;
  r.domain = domain;
  const std::string qname = recordName(domain);
  if (!dns::isQueryableName(qname)) {
    // Not a DNS failure (dns::Outcome::BadName): a name that cannot exist holds no
    // record, and the walk goes on to shorter names (§4.10).
    r.problem = "_dmarc name too long";
    return cache_.emplace(domain, std::move(r)).first->second;
  }
  ++queries_;
  const dns::Answer a = resolver_.query(qname, dns::Type::TXT, budget_);
  switch (dns::classify(a)) {  // the one DNS mapping (dns/resolver.h)
    case dns::Outcome::Found: {
      std::vector<const std::string*> dmarc;
      for (const std::string& txt : a.txt) {
        if (isDmarcRecord(txt)) {
          dmarc.push_back(&txt);
        }
      }
      if (dmarc.size() > 1) {
        // §4.10 step 2: several DMARC records at one name are all discarded.
        r.problem = std::to_string(dmarc.size()) + " DMARC records at " + qname + " discarded";
      } else if (dmarc.size() == 1) {
        ParseResult p = parseRecord(*dmarc.front());
        if (p.status == ParseStatus::Ok) {
          r.status = LookupStatus::Found;
          r.record = std::move(p.record);
        } else {
          r.status = LookupStatus::Invalid;
          r.record = std::move(p.record);  // its psd still shapes the walk (§4.10 step 6)
          r.problem = "invalid DMARC record at " + qname + ": " + p.problem;
        }
      }
      break;
    }
    case dns::Outcome::Absent:
      break;
    case dns::Outcome::Temporary:
      // SERVFAIL, a timeout, REFUSED, NOTIMP, FORMERR, an answer that does not parse: the
      // lookup failed, which says nothing about the record. "No record" here would let a
      // resolver that starts refusing switch DMARC off (fail open).
      r.status = LookupStatus::TempError;
      r.problem = "DNS failure at " + qname + ": " + std::string(dns::toString(a.status)) +
                  (a.why.empty() ? "" : " (" + a.why + ")");
      break;
    case dns::Outcome::BadName:
      r.problem = "_dmarc name is not a DNS name";  // not reached: checked above
      break;
  }
  return cache_.emplace(domain, std::move(r)).first->second;
}

RecordLookup Discovery::policyRecord(const std::string& author_domain) {
  // §4.10.1: the Author Domain's own record is applied whenever there is one (its p).
  const RecordLookup& own = lookup(author_domain);
  if (own.status != LookupStatus::None) {
    return own;
  }
  // Else the record of the Organizational Domain of the Author Domain (§4.10.2), else
  // that of its Public Suffix Domain. Not the first record the walk meets: a
  // department's record below the organizational domain does not apply to the names
  // below the department (RFC 9989 Appendix B.4.2: the policy domain is the highest
  // element of the tree with a record).
  const OrgDomain org = organizationalDomain(author_domain);
  if (org.temperror) {
    RecordLookup t;
    t.status = LookupStatus::TempError;
    t.domain = author_domain;
    t.problem = org.problem;
    return t;
  }
  if (org.domain != author_domain) {
    const RecordLookup& r = lookup(org.domain);  // on the walk: cached
    if (r.status != LookupStatus::None) {
      return r;
    }
  }
  if (!org.psd_domain.empty()) {
    return lookup(org.psd_domain);
  }
  std::string note;  // the first discarded answer on the walk (several records, ...)
  for (const std::string& name : treeWalkNames(author_domain)) {
    const auto it = cache_.find(name);
    if (it == cache_.end()) {
      break;  // the walk stopped before this name
    }
    if (note.empty()) {
      note = it->second.problem;
    }
  }
  RecordLookup none;
  none.domain = author_domain;
  none.problem = note.empty() ? "no DMARC record" : "no DMARC record: " + note;
  return none;
}

OrgDomain Discovery::organizationalDomain(const std::string& domain) {
  if (auto it = org_cache_.find(domain); it != org_cache_.end()) {
    return it->second;
  }
  OrgDomain out;
  out.domain = domain;
  std::string fewest;  // the record found with the fewest labels
  const std::vector<std::string> names = treeWalkNames(domain);
  for (std::size_t i = 0; i < names.size(); ++i) {
    const RecordLookup& r = lookup(names[i]);
    if (r.status == LookupStatus::TempError) {
      out.temperror = true;
      out.problem = r.problem;
      return out;  // not cached: a temporary state
    }
    if (r.status == LookupStatus::None) {
      continue;
    }
    // §4.10 steps 2 and 6: one DMARC record remains at this name. An invalid p/sp/np
    // does not remove it (§4.10.1 judges that only for the record applied).
    if (r.record.psd == Psd::No) {
      out.domain = names[i];  // §4.10.2 step 1
      return org_cache_.emplace(domain, out).first->second;
    }
    if (r.record.psd == Psd::Yes) {
      if (i == 0) {
        // psd=y at the start: the walk stops (§4.10 step 2), step 2 of §4.10.2 does not
        // apply to it, step 3 picks the only record: the domain itself.
        out.domain = domain;
      } else {
        // §4.10.2 step 2: one label below the PSD, towards `domain`.
        out.domain = lastLabels(domain, labelCount(names[i]) + 1);
        out.psd_domain = names[i];
      }
      return org_cache_.emplace(domain, out).first->second;
    }
    fewest = names[i];
  }
  if (!fewest.empty()) {
    out.domain = fewest;  // §4.10.2 step 3
  }
  return org_cache_.emplace(domain, out).first->second;
}

Existence Discovery::existence(const std::string& domain) {
  // RFC 9989 §3.2.13: non-existent means NXDOMAIN (RFC 8020: nothing at or below the
  // name). Appendix A.4: no record type is required; a NODATA answer means the name
  // exists (an empty non-terminal, a name with only TXT records). NXDOMAIN is an answer
  // about the name, so one query of any type decides; A is asked.
  // A failed lookup (dns::Outcome::Temporary: REFUSED, a broken answer as well as a
  // timeout) decides nothing: temperror. A name that is not a DNS name (not reached:
  // author domains are normalized) is not an NXDOMAIN answer, so it "exists" (p/sp).
  ++queries_;
  const dns::Answer a = resolver_.query(domain, dns::Type::A, budget_);
  switch (dns::classify(a)) {
    case dns::Outcome::Absent:
      return a.status == dns::Status::NxDomain ? Existence::NonExistent : Existence::Exists;
    case dns::Outcome::Temporary:
      return Existence::TempError;
    case dns::Outcome::Found:
    case dns::Outcome::BadName:
      break;
  }
  return Existence::Exists;
}

Aligned aligned(Discovery& d, const std::string& author_domain, const std::string& other,
                Alignment mode) {
  if (author_domain == other) {
    return Aligned::Yes;  // identical: aligned in both modes, no lookup needed
  }
  if (mode == Alignment::Strict || other.empty()) {
    return Aligned::No;
  }
  // Relaxed: only names in the same tree can share an organizational domain; skip the
  // walks for unrelated names (a common case: a mailing list's signature).
  const OrgDomain a = d.organizationalDomain(author_domain);
  if (a.temperror) {
    return Aligned::TempError;
  }
  if (!isSubdomainOrSame(other, a.domain)) {
    return Aligned::No;
  }
  const OrgDomain b = d.organizationalDomain(other);
  if (b.temperror) {
    return Aligned::TempError;
  }
  return a.domain == b.domain ? Aligned::Yes : Aligned::No;
}

std::string_view toString(Result r) noexcept {
  switch (r) {
    case Result::None: return "none";
    case Result::Pass: return "pass";
    case Result::Fail: return "fail";
    case Result::TempError: return "temperror";
    case Result::PermError: return "permerror";
  }
  return "none";
}

Evaluation evaluate(Discovery& d, const std::string& from_domain, const AuthIdentifier& spf,
                    const std::vector<AuthIdentifier>& dkim) {
  Evaluation e;
  e.from_domain = from_domain;
  const RecordLookup policy = d.policyRecord(from_domain);
  switch (policy.status) {
    case LookupStatus::None:
      e.result = Result::None;
      e.problem = policy.problem.empty() ? "no DMARC record" : policy.problem;
      return e;
    case LookupStatus::TempError:
      e.result = Result::TempError;
      e.problem = policy.problem;
      return e;
    case LookupStatus::Invalid:
      e.result = Result::PermError;
      e.problem = policy.problem;
      e.record_domain = policy.domain;
      return e;
    case LookupStatus::Found:
      break;
  }
  e.record = policy.record;
  e.record_domain = policy.domain;
  const Record& rec = *e.record;

  // §4.10.1, §4.7 (p, sp, np): p when the record is the author domain's own; a record of
  // its organizational domain or PSD gives sp, or np when the author domain does not
  // exist, each falling back to sp, then p.
  Policy applied = rec.p;
  if (from_domain != policy.domain) {
    applied = rec.subdomainPolicy();
    if (rec.np && *rec.np != applied) {
      switch (d.existence(from_domain)) {
        case Existence::NonExistent:
          applied = *rec.np;
          break;
        case Existence::TempError:
          e.result = Result::TempError;
          e.problem = "DNS failure checking whether " + from_domain + " exists";
          return e;
        case Existence::Exists:
          break;
      }
    }
  }
  if (rec.testing) {  // §4.7 t=y: the owner is testing; apply one level less
    applied = applied == Policy::Reject ? Policy::Quarantine : Policy::None;
  }
  e.applied = applied;
  e.policy_decided = true;

  bool temp = false;
  auto consider = [&](const AuthIdentifier& id, Alignment mode, const char* method) {
    if (id.domain.empty()) {
      return false;
    }
    const std::optional<std::string> dom = normalizeDomain(id.domain);
    if (!dom) {
      return false;
    }
    const bool is_pass = id.result == IdentifierResult::Pass;
    const bool is_temp = id.result == IdentifierResult::TempError;
    if (!is_pass && !is_temp) {
      return false;
    }
    switch (aligned(d, from_domain, *dom, mode)) {
      case Aligned::Yes:
        if (is_pass) {
          e.aligned_by = method;
          return true;
        }
        temp = true;  // it might have passed: the result is not final
        return false;
      case Aligned::TempError:
        temp = true;
        return false;
      case Aligned::No:
        return false;
    }
    return false;
  };
  bool pass = false;
  for (const AuthIdentifier& k : dkim) {
    if (consider(k, rec.adkim, "dkim")) {
      pass = true;
      break;
    }
  }
  if (!pass) {
    pass = consider(spf, rec.aspf, "spf");
  }
  if (pass) {
    e.result = Result::Pass;
    return e;
  }
  if (temp) {
    e.result = Result::TempError;
    e.problem = "an aligned identifier had a temporary error";
    return e;
  }
  e.result = Result::Fail;
  e.disposition = applied;
  return e;
}

std::string summary(const Evaluation& e) {
  if (!e.record) {
    return e.problem;
  }
  std::string s = "p=" + std::string(toString(e.record->p)) +
                  " sp=" + std::string(toString(e.record->subdomainPolicy())) +
                  " dis=" + std::string(toString(e.disposition));
  if (e.result == Result::TempError && !e.problem.empty()) {
    s += "; " + e.problem;
  }
  return s;
}

}  // namespace mw::dmarc
