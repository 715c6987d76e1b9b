#include "mailwarden/dns/zone.h"

#include <arpa/inet.h>

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "dns/names.h"
#include "dns/zone_parse.h"

namespace mw::dns {

// In mw::dns (not the anonymous namespace) so that std::find finds it by ADL.
static bool operator==(const Mx& x, const Mx& y) {
  return x.preference == y.preference && x.exchange == y.exchange;
}

namespace {

// RFC 1034 §3.6.2 asks resolvers to follow CNAME chains and to signal loops; 8 hops is
// what Postfix's dns_lookup allows (enough for any sane CDN chain).
constexpr int kMaxCnameHops = 8;

struct Node {
  std::vector<std::string> txt;
  std::vector<std::array<std::uint8_t, 4>> a;
  std::vector<std::array<std::uint8_t, 16>> aaaa;
  std::vector<Mx> mx;
  std::vector<std::string> ptr;
  std::optional<std::string> cname;  // normalized target
};

// RFC 2181 §5: an RRset holds no duplicate records, so adding one twice adds it once
// (nsd serves the same file that way).
template <typename T>
void pushUnique(std::vector<T>& v, T item) {
  if (std::find(v.begin(), v.end(), item) == v.end()) {
    v.push_back(std::move(item));
  }
}

// Which types of one name fail; `all` when the pragma or call named no type.
struct Failure {
  bool all = false;
  std::vector<Type> types;

  bool matches(Type t) const {
    return all || std::find(types.begin(), types.end(), t) != types.end();
  }
  void add(const std::vector<Type>& more) {
    if (more.empty()) {
      all = true;
      return;
    }
    for (Type t : more) {
      pushUnique(types, t);
    }
  }
};

}  // namespace

// Everything a query reads. A plain value so a load can work on a copy and commit it
// only when the whole file parsed (a half-loaded file would answer wrongly).
struct ZoneResolver::Impl {
  std::unordered_map<std::string, Node> nodes;
  // Every proper ancestor of a name in `nodes` (the root is ""): such a name exists even
  // without records of its own, an empty non-terminal (RFC 8020 §2, RFC 4592 §2.2.2).
  std::unordered_set<std::string> ancestors;
  // Injected failures by kind (the index is the Injected value), then by name.
  std::array<std::unordered_map<std::string, Failure>, kInjectedKinds> injected;

  Node& node(std::string_view name) {
    std::string key = detail::normalizeName(name);
    for (std::size_t dot = key.find('.'); dot != std::string::npos;
         dot = key.find('.', dot + 1)) {
      ancestors.insert(key.substr(dot + 1));
    }
    if (!key.empty()) {
      ancestors.insert("");
    }
    return nodes[std::move(key)];
  }
};

ZoneResolver::ZoneResolver() : impl_(std::make_unique<Impl>()) {}
ZoneResolver::~ZoneResolver() = default;

void ZoneResolver::addTxt(std::string_view name, std::string txt) {
  pushUnique(impl_->node(name).txt, std::move(txt));
}

Result<void> ZoneResolver::addA(std::string_view name, std::string_view address) {
  std::array<std::uint8_t, 4> bytes{};
  const std::string text(address);
  if (inet_pton(AF_INET, text.c_str(), bytes.data()) != 1) {
    return fail(Errc::Invalid, "not an IPv4 address: \"" + text + "\"");
  }
  pushUnique(impl_->node(name).a, bytes);
  return {};
}

Result<void> ZoneResolver::addAaaa(std::string_view name, std::string_view address) {
  std::array<std::uint8_t, 16> bytes{};
  const std::string text(address);
  if (inet_pton(AF_INET6, text.c_str(), bytes.data()) != 1) {
    return fail(Errc::Invalid, "not an IPv6 address: \"" + text + "\"");
  }
  pushUnique(impl_->node(name).aaaa, bytes);
  return {};
}

void ZoneResolver::addMx(std::string_view name, std::uint16_t preference,
                         std::string_view exchange) {
  pushUnique(impl_->node(name).mx, Mx{preference, detail::normalizeName(exchange)});
}

void ZoneResolver::addPtr(std::string_view name, std::string_view target) {
  pushUnique(impl_->node(name).ptr, detail::normalizeName(target));
}

// A name has at most one CNAME (RFC 1034 §3.6.2); a second call replaces the target.
void ZoneResolver::addCname(std::string_view name, std::string_view target) {
  impl_->node(name).cname = detail::normalizeName(target);
}

void ZoneResolver::addEmpty(std::string_view name) { static_cast<void>(impl_->node(name)); }

void ZoneResolver::inject(Injected what, std::string_view name, std::vector<Type> types) {
  impl_->injected[static_cast<std::size_t>(what)][detail::normalizeName(name)].add(types);
}

namespace {

Answer failed(Status s, std::string why) {
  Answer a;
  a.status = s;
  a.why = std::move(why);
  return a;
}

// The answer an injected failure stands for: what UnboundResolver reports for it.
Answer injectedAnswer(Injected what) {
  switch (what) {
    case Injected::Timeout: return failed(Status::TempFail, "timeout");
    case Injected::Servfail: return failed(Status::TempFail, "SERVFAIL");
    case Injected::Refused: return failed(Status::Refused, "REFUSED");
    case Injected::NotImp: return failed(Status::Refused, "NOTIMP");
    case Injected::FormErr: return failed(Status::Refused, "FORMERR");
    case Injected::Malformed: return failed(Status::Malformed, "malformed answer");
  }
  MW_UNREACHABLE("dns::Injected out of range");
}

// Copies the records of `type` from `n`; Ok when there is at least one.
Answer recordsOf(const Node& n, Type type) {
  Answer out;
  switch (type) {
    case Type::A: out.a = n.a; break;
    case Type::AAAA: out.aaaa = n.aaaa; break;
    case Type::TXT: out.txt = n.txt; break;
    case Type::MX: out.mx = n.mx; break;
    case Type::PTR: out.ptr = n.ptr; break;
  }
  const bool any = !out.a.empty() || !out.aaaa.empty() || !out.txt.empty() ||
                   !out.mx.empty() || !out.ptr.empty();
  out.status = any ? Status::Ok : Status::NoData;
  return out;
}

}  // namespace

// Walks the CNAME chain name by name, as a recursive resolver would; failure injection
// applies to every name on the chain, so a test can make the target of an alias time out.
// A chain that loops or runs longer than kMaxCnameHops is TempFail, as from
// UnboundResolver: a recursive server answers such a chain with SERVFAIL (RFC 1034
// §3.6.2 calls a loop an error), and a fake that answered otherwise would let a test
// pass that production fails. Both classify() as Temporary.
Answer ZoneResolver::query(std::string_view name, Type type, const Budget& budget) {
  if (!isQueryableName(name)) {
    return failed(Status::BadName, "not a DNS name");
  }
  if (budget.exhausted()) {
    return failed(Status::TempFail, "DNS budget exhausted");
  }
  std::string key = detail::normalizeName(name);
  std::unordered_set<std::string> seen;
  for (int hops = 0;; ++hops) {
    for (int kind = 0; kind < kInjectedKinds; ++kind) {
      const auto& by_name = impl_->injected[static_cast<std::size_t>(kind)];
      if (auto f = by_name.find(key); f != by_name.end() && f->second.matches(type)) {
        return injectedAnswer(static_cast<Injected>(kind));
      }
    }
    const auto it = impl_->nodes.find(key);
    if (it == impl_->nodes.end()) {
      // RFC 8020: NXDOMAIN means nothing exists at or below the name.
      return impl_->ancestors.count(key) != 0 ? failed(Status::NoData, "")
                                              : failed(Status::NxDomain, "");
    }
    const Node& n = it->second;
    if (!n.cname) {
      return recordsOf(n, type);
    }
    seen.insert(key);
    if (seen.count(*n.cname) != 0) {
      return failed(Status::TempFail, "CNAME loop at " + *n.cname);
    }
    if (hops == kMaxCnameHops) {
      return failed(Status::TempFail, "CNAME chain longer than 8 at " + key);
    }
    key = *n.cname;
  }
}

// Master files: parsed by zone_parse.cpp into records, applied to a copy of the store,
// committed only when the whole text parsed.
Result<void> ZoneResolver::loadText(std::string_view text, const std::string& label,
                                    std::string_view origin) {
  Result<detail::ParsedZone> parsed = detail::parseMasterText(text, label, origin);
  if (!parsed) {
    return fail(std::move(parsed.error()));
  }
  ZoneResolver staging;
  *staging.impl_ = *impl_;
  for (detail::ParsedRecord& r : parsed->records) {
    switch (r.kind) {
      case detail::ParsedRecord::Kind::Txt: staging.addTxt(r.name, std::move(r.text)); break;
      case detail::ParsedRecord::Kind::A: {
        std::array<std::uint8_t, 4> b{};
        std::copy_n(r.text.begin(), 4, b.begin());
        pushUnique(staging.impl_->node(r.name).a, b);
        break;
      }
      case detail::ParsedRecord::Kind::Aaaa: {
        std::array<std::uint8_t, 16> b{};
        std::copy_n(r.text.begin(), 16, b.begin());
        pushUnique(staging.impl_->node(r.name).aaaa, b);
        break;
      }
      case detail::ParsedRecord::Kind::Mx: staging.addMx(r.name, r.preference, r.text); break;
      case detail::ParsedRecord::Kind::Ptr: staging.addPtr(r.name, r.text); break;
      case detail::ParsedRecord::Kind::Cname: {
        // RFC 1034 §3.6.2 / RFC 2181 §10.1: a CNAME is alone at its name; nsd refuses
        // such a zone, so do we (with the line, so the file can be fixed).
        Node& n = staging.impl_->node(r.name);
        const bool other = !n.txt.empty() || !n.a.empty() || !n.aaaa.empty() ||
                           !n.mx.empty() || !n.ptr.empty() ||
                           (n.cname && *n.cname != detail::normalizeName(r.text));
        if (other) {
          return fail(Error::at({label, r.line}, Errc::Invalid,
                                "CNAME and other data at " + r.name + ": file not loaded"));
        }
        n.cname = detail::normalizeName(r.text);
        break;
      }
      case detail::ParsedRecord::Kind::Other: staging.addEmpty(r.name); break;
    }
    if (r.kind != detail::ParsedRecord::Kind::Cname &&
        r.kind != detail::ParsedRecord::Kind::Other &&
        staging.impl_->nodes[detail::normalizeName(r.name)].cname) {
      return fail(Error::at({label, r.line}, Errc::Invalid,
                            "CNAME and other data at " + r.name + ": file not loaded"));
    }
  }
  for (const detail::ParsedPragma& p : parsed->pragmas) {
    staging.inject(p.kind, p.name, p.types);
  }
  std::swap(impl_, staging.impl_);
  return {};
}

Result<void> ZoneResolver::loadFile(const std::string& path) {
  Result<std::string> text = detail::readZoneFile(path);
  if (!text) {
    return fail(std::move(text.error()));
  }
  return loadText(*text, path);
}

}  // namespace mw::dns
