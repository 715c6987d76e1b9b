// reputation/lists.cpp — RFC 5782 keys, answer classes, the pause after error answers,
// and the §5 test points. The contract is in include/mailwarden/reputation/lists.h.
#include "mailwarden/reputation/lists.h"

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <utility>

#include <openssl/evp.h>

#include "mailwarden/base/ascii.h"
#include "mailwarden/base/unique_c.h"
#include "mailwarden/dns/idna.h"
#include "mailwarden/obs/counters.h"
#include "mailwarden/obs/log.h"

namespace mw::reputation {

struct Lists::State {
  // Seconds since the epoch (the Clock's) until which the list is not asked.
  std::atomic<std::int64_t> paused_until{std::numeric_limits<std::int64_t>::min()};
  // When the last blocked answer was logged (rate limit of the warning).
  std::atomic<std::int64_t> last_log{std::numeric_limits<std::int64_t>::min()};
};

namespace {

constexpr char kHex[] = "0123456789abcdef";

// A parsed client address: 4 octets (IPv4, also from ::ffff:a.b.c.d) or 16.
struct Address {
  bool v6 = false;
  unsigned char bytes[16] = {};
};

std::optional<Address> parseAddress(std::string_view ip) {
  if (ip.empty() || ip.size() >= INET6_ADDRSTRLEN) {
    return std::nullopt;
  }
  const std::string text(ip);
  Address a;
  if (::inet_pton(AF_INET, text.c_str(), a.bytes) == 1) {
    return a;
  }
  unsigned char six[16];
  if (::inet_pton(AF_INET6, text.c_str(), six) != 1) {
    return std::nullopt;
  }
  // RFC 4291 §2.5.5.2: ::ffff:0:0/96 is an IPv4 address carried in IPv6; lists hold it
  // under its IPv4 key (the same client, whatever socket family it arrived on).
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(six, kMapped, sizeof kMapped) == 0) {
    std::memcpy(a.bytes, six + 12, 4);
    return a;
  }
  a.v6 = true;
  std::memcpy(a.bytes, six, 16);
  return a;
}

std::uint32_t toUint(const std::array<std::uint8_t, 4>& a) noexcept {
  return (std::uint32_t{a[0]} << 24) | (std::uint32_t{a[1]} << 16) | (std::uint32_t{a[2]} << 8) |
         std::uint32_t{a[3]};
}

std::string dotted(std::uint32_t v) {
  return std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 0xff) + "." +
         std::to_string((v >> 8) & 0xff) + "." + std::to_string(v & 0xff);
}

bool isDomainKey(Key k) noexcept { return k != Key::ClientIp; }

}  // namespace

std::string_view toString(ListResult r) noexcept {
  switch (r) {
    case ListResult::Listed: return "listed";
    case ListResult::Blocked: return "blocked";
    case ListResult::TempError: return "temperror";
  }
  MW_UNREACHABLE("reputation::ListResult out of range");
}

std::optional<std::string> reversedAddress(std::string_view ip) {
  const std::optional<Address> a = parseAddress(ip);
  if (!a) {
    return std::nullopt;
  }
  std::string out;
  if (!a->v6) {
    // RFC 5782 §2.1: the octets in reverse order.
    for (int i = 3; i >= 0; --i) {
      out += std::to_string(a->bytes[i]);
      if (i > 0) {
        out += '.';
      }
    }
    return out;
  }
  // RFC 5782 §2.4: all 32 nibbles, least significant first, as with ip6.arpa.
  out.reserve(63);
  for (int i = 15; i >= 0; --i) {
    out += kHex[a->bytes[i] & 0x0f];
    out += '.';
    out += kHex[a->bytes[i] >> 4];
    if (i > 0) {
      out += '.';
    }
  }
  return out;
}

std::optional<std::string> canonicalAddress(std::string_view ip) {
  const std::optional<Address> a = parseAddress(ip);
  if (!a) {
    return std::nullopt;
  }
  char buf[INET6_ADDRSTRLEN] = {};
  if (::inet_ntop(a->v6 ? AF_INET6 : AF_INET, a->bytes, buf, sizeof buf) == nullptr) {
    return std::nullopt;
  }
  return std::string(buf);
}

std::optional<std::string> normalizeDomain(std::string_view domain) {
  // An address literal is not a domain (a HELO "[192.0.2.1]", a URL http://192.0.2.1/,
  // http://[2001:db8::1]/): domain lists (RFC 5782 §3) hold names only.
  if (domain.empty() || domain.front() == '[' || domain.find(':') != std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view bare = domain;
  if (bare.back() == '.') {
    bare.remove_suffix(1);
  }
  if (parseAddress(bare)) {
    return std::nullopt;
  }
  auto a_labels = dns::toALabels(domain);
  if (!a_labels) {
    return std::nullopt;
  }
  // A host name: LDH labels ('_' tolerated), at least two of them. A single label
  // ("localhost", a bare HELO word) names nothing a public list could hold.
  const std::string& name = *a_labels;
  if (name.find('.') == std::string::npos || name.front() == '.' || name.back() == '.') {
    return std::nullopt;
  }
  for (char c : name) {
    if (!(ascii::isAlpha(c) || ascii::isDigit(c) || c == '-' || c == '_' || c == '.')) {
      return std::nullopt;
    }
  }
  return name;
}

std::string hashKey(Hash h, std::string_view text) {
  const EVP_MD* md = nullptr;
  switch (h) {
    case Hash::None: return std::string(text);
    case Hash::Md5: md = EVP_md5(); break;
    case Hash::Sha1: md = EVP_sha1(); break;
    case Hash::Sha256: md = EVP_sha256(); break;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  // EVP_Digest fails only without memory or with a provider that lacks the algorithm
  // (a FIPS-only OpenSSL has no MD5): then nothing is hashed and the caller skips the key.
  if (md == nullptr || EVP_Digest(text.data(), text.size(), digest, &size, md, nullptr) != 1) {
    return std::string();
  }
  std::string out;
  out.reserve(2 * size);
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0x0f];
  }
  return out;
}

Classified classifyCodes(const ListOptions& list, const std::vector<std::uint32_t>& records) {
  Classified out;
  if (records.empty()) {
    out.why = "an answer without A records";
    return out;
  }
  std::vector<const AnswerClass*> hit;
  for (std::uint32_t r : records) {
    // RFC 5782 §2.3: list answers are in 127.0.0.0/8. Anything else (a resolver that
    // redirects NXDOMAIN to a web server, a hijacked zone) must not count as a listing.
    if ((r >> 24) != 127) {
      out.why = "answer " + dotted(r) + " is outside 127.0.0.0/8";
      return out;
    }
    // Spamhaus' error codes (query refused, public or unregistered resolver, over the
    // limit): listing every sender on them is the trap many filters fell into.
    if (r >= 0x7ffffffcU) {
      out.why = "answer " + dotted(r) +
                " is an error code (query refused, public resolver or over the limit)";
      return out;
    }
    bool matched = false;
    for (const AnswerClass& c : list.answers) {
      bool in = c.bits != 0 ? (r & c.bits) != 0 : false;
      for (const CodePattern& p : c.codes) {
        in = in || p.matches(r);
      }
      if (in) {
        matched = true;
        if (std::find(hit.begin(), hit.end(), &c) == hit.end()) {
          hit.push_back(&c);
        }
      }
    }
    if (!matched) {
      out.why = "answer " + dotted(r) + " matches no configured class";
      return out;
    }
  }
  // Configuration order, whatever the order of the records.
  for (const AnswerClass& c : list.answers) {
    if (std::find(hit.begin(), hit.end(), &c) != hit.end()) {
      out.classes.push_back(&c);
    }
  }
  out.result = ListResult::Listed;
  return out;
}

// --- Lists -------------------------------------------------------------------------

Lists::Lists(Options options, ClockConstSharedPtr clock)
    : options_(std::move(options)),
      clock_(std::move(clock)),
      state_(std::make_unique<State[]>(options_.lists.size())) {}

Lists::~Lists() = default;

Result<std::shared_ptr<const Lists>> Lists::create(const Options& options,
                                                   ClockConstSharedPtr clock) {
  std::vector<Error> problems = validate(options);
  if (!problems.empty()) {
    return fail(std::move(problems.front()));
  }
  if (!clock) {
    clock = std::make_shared<SystemClock>();
  }
  return std::shared_ptr<const Lists>(new Lists(options, std::move(clock)));
}

bool Lists::paused(std::size_t index) const noexcept {
  return clock_->now() < state_[index].paused_until.load(std::memory_order_relaxed);
}

void Lists::blocked(std::size_t index, const std::string& query, const std::string& why) const {
  const ListOptions& l = options_.lists[index];
  State& s = state_[index];
  obs::counters().list_errors.add();
  const std::int64_t now = clock_->now();
  const std::int64_t until = now + l.pause_seconds;
  std::int64_t seen = s.paused_until.load(std::memory_order_relaxed);
  while (seen < until &&
         !s.paused_until.compare_exchange_weak(seen, until, std::memory_order_relaxed)) {
  }
  // One warning per list per interval, whichever thread gets there first: a list that
  // answers errors to every query must not flood the log (messages still in flight
  // when it was paused bring their own error answers).
  const std::int64_t interval = std::max<std::int64_t>(l.pause_seconds, 60);
  std::int64_t last = s.last_log.load(std::memory_order_relaxed);
  if ((last == std::numeric_limits<std::int64_t>::min() || now >= last + interval) &&
      s.last_log.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    obs::log(obs::Level::Warn, "", "reputation",
             "{}: error answer for {}: {}; the list is not asked for {} s", l.zone, query, why,
             l.pause_seconds);
  }
}

Lists::Message Lists::start(dns::Resolver& resolver, const dns::Budget& budget) const {
  return Message(shared_from_this(), resolver, budget);
}

Lists::Message::Message(std::shared_ptr<const Lists> lists, dns::Resolver& resolver,
                        dns::Budget budget)
    : lists_(std::move(lists)), resolver_(&resolver), budget_(budget) {}

void Lists::Message::startKey(Key key, const std::string& lookup, const std::string& label) {
  const std::vector<ListOptions>& all = lists_->options_.lists;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const ListOptions& l = all[i];
    if (std::find(l.lookups.begin(), l.lookups.end(), key) == l.lookups.end()) {
      continue;
    }
    if (lists_->paused(i)) {
      continue;  // paused after an error answer: not asked, not reported
    }
    const std::string hashed = hashKey(l.hash, label);
    if (hashed.empty()) {
      continue;
    }
    std::string query = hashed + "." + l.zone;
    if (!dns::isQueryableName(query)) {
      continue;  // too long for the DNS: skipped, not an error
    }
    if (!asked_.emplace(i, query).second) {
      continue;  // the same name on the same list: asked once per message
    }
    dns::LookupPtr answer = resolver_->start(query, dns::Type::A, budget_);
    pending_.push_back(Pending{i, key, lookup, std::move(query), std::move(answer)});
    ++started_;
  }
}

void Lists::Message::startDomain(Key key, std::string_view domain) {
  if (std::optional<std::string> d = normalizeDomain(domain)) {
    startKey(key, *d, *d);
  }
}

void Lists::Message::clientIp(std::string_view ip) {
  const std::optional<std::string> reversed = reversedAddress(ip);
  const std::optional<std::string> canonical = canonicalAddress(ip);
  if (reversed && canonical) {
    startKey(Key::ClientIp, *canonical, *reversed);
  }
}

void Lists::Message::helo(std::string_view name) { startDomain(Key::Helo, name); }
void Lists::Message::mailFrom(std::string_view domain) { startDomain(Key::MailFrom, domain); }
void Lists::Message::from(std::string_view domain) { startDomain(Key::From, domain); }
void Lists::Message::dkimDomain(std::string_view domain) { startDomain(Key::Dkim, domain); }

void Lists::Message::urlHost(std::string_view host) {
  // A port is not part of the host ("example.org:8080"); any other ':' is an IPv6 literal.
  if (const std::size_t colon = host.find(':'); colon != std::string_view::npos &&
      host.find(':', colon + 1) == std::string_view::npos && colon + 1 < host.size() &&
      std::all_of(host.begin() + static_cast<std::ptrdiff_t>(colon) + 1, host.end(),
                  [](char c) { return ascii::isDigit(c); })) {
    host = host.substr(0, colon);
  }
  std::optional<std::string> d = normalizeDomain(host);
  if (!d) {
    return;
  }
  if (url_hosts_.count(*d) == 0) {
    if (url_hosts_.size() >= static_cast<std::size_t>(lists_->options_.max_url_hosts)) {
      return;  // the per-message bound: a message with 10,000 links costs 20 lookups per list
    }
    url_hosts_.insert(*d);
  }
  startKey(Key::Url, *d, *d);
}

std::vector<ListHit> Lists::Message::collect() {
  std::vector<ListHit> hits;
  std::vector<Pending> pending = std::move(pending_);
  pending_.clear();
  for (Pending& p : pending) {
    const dns::Answer& answer = p.answer->wait();
    const ListOptions& l = lists_->options_.lists[p.list];
    ListHit hit;
    hit.zone = l.zone;
    hit.key = p.key;
    hit.lookup = p.lookup;
    hit.query = p.query;
    switch (dns::classify(answer)) {
      case dns::Outcome::Absent:
      case dns::Outcome::BadName:  // not asked: the name was checked before
        continue;
      case dns::Outcome::Temporary:
        hit.result = ListResult::TempError;
        hit.why = answer.why.empty() ? std::string(dns::toString(answer.status)) : answer.why;
        hits.push_back(std::move(hit));
        continue;
      case dns::Outcome::Found: break;
    }
    std::vector<std::uint32_t> records;
    for (const auto& a : answer.a) {
      records.push_back(toUint(a));
      hit.codes.push_back(dotted(records.back()));
    }
    if (records.empty()) {
      continue;  // Ok without A records (a CNAME to nothing): not listed
    }
    Classified c = classifyCodes(l, records);
    hit.result = c.result;
    if (c.result == ListResult::Blocked) {
      hit.why = c.why;
      lists_->blocked(p.list, p.query, c.why);
    } else {
      for (const AnswerClass* ac : c.classes) {
        hit.classes.push_back(Listing{ac->symbol, ac->score, ac->action, ac->reply});
      }
    }
    hits.push_back(std::move(hit));
  }
  return hits;
}

// --- RFC 5782 §5 test points ---------------------------------------------------------

namespace {

// One test point: what the list answers for `label`.
struct Probe {
  dns::Outcome outcome = dns::Outcome::Absent;
  std::vector<std::uint32_t> records;
  std::string why;  // Temporary
};

Probe probe(const ListOptions& list, const std::string& label, dns::Resolver& resolver,
            const dns::Budget& budget) {
  Probe p;
  const std::string key = hashKey(list.hash, label);
  const std::string query = key + "." + list.zone;
  if (key.empty() || !dns::isQueryableName(query)) {
    p.outcome = dns::Outcome::BadName;
    p.why = "the name " + query + " cannot be asked";
    return p;
  }
  const dns::Answer a = resolver.query(query, dns::Type::A, budget);
  p.outcome = dns::classify(a);
  p.why = a.why.empty() ? std::string(dns::toString(a.status)) : a.why;
  for (const auto& r : a.a) {
    p.records.push_back(toUint(r));
  }
  return p;
}

std::string joinedCodes(const std::vector<std::uint32_t>& records) {
  std::string out;
  for (std::uint32_t r : records) {
    out += (out.empty() ? "" : ", ") + dotted(r);
  }
  return out;
}

// The problem with one pair of test points, or "" when the list passes them.
std::string testPair(const ListOptions& list, const std::string& listed_name,
                     const std::string& listed_label, const std::string& unlisted_name,
                     const std::string& unlisted_label, dns::Resolver& resolver,
                     const dns::Budget& budget) {
  const Probe yes = probe(list, listed_label, resolver, budget);
  if (yes.outcome == dns::Outcome::Temporary || yes.outcome == dns::Outcome::BadName) {
    return "the test point " + listed_name + " could not be looked up (" + yes.why + ")";
  }
  if (yes.outcome == dns::Outcome::Absent || yes.records.empty()) {
    return "the test point " + listed_name +
           " is not listed — wrong zone or blocked resolver (no answer: " + yes.why + ")";
  }
  const Classified c = classifyCodes(list, yes.records);
  if (c.result != ListResult::Listed) {
    return "the test point " + listed_name + " is not listed — wrong zone or blocked resolver (" +
           c.why + ")";
  }
  const Probe no = probe(list, unlisted_label, resolver, budget);
  if (no.outcome == dns::Outcome::Temporary || no.outcome == dns::Outcome::BadName) {
    return "the test point " + unlisted_name + " could not be looked up (" + no.why + ")";
  }
  if (no.outcome == dns::Outcome::Found && !no.records.empty()) {
    const bool all_errors = std::all_of(no.records.begin(), no.records.end(),
                                        [](std::uint32_t r) { return r >= 0x7ffffffcU; });
    if (all_errors) {
      return "the test point " + unlisted_name + " gets an error answer — blocked resolver (" +
             joinedCodes(no.records) + ")";
    }
    return unlisted_name + " is listed (" + joinedCodes(no.records) +
           "): the zone answers for everything — do not use it";
  }
  return "";
}

}  // namespace

ListTest testList(const ListOptions& list, dns::Resolver& resolver, const dns::Budget& budget) {
  const bool by_address =
      std::find(list.lookups.begin(), list.lookups.end(), Key::ClientIp) != list.lookups.end();
  const bool by_name = std::any_of(list.lookups.begin(), list.lookups.end(), isDomainKey);
  std::vector<std::string> problems;
  if (by_address) {
    std::string p = testPair(list, "127.0.0.2", "2.0.0.127", "127.0.0.1", "1.0.0.127", resolver,
                             budget);
    if (!p.empty()) {
      problems.push_back(std::move(p));
    }
  }
  if (by_name) {
    std::string p = testPair(list, "TEST", "test", "INVALID", "invalid", resolver, budget);
    if (!p.empty()) {
      problems.push_back(std::move(p));
    }
  }
  ListTest out;
  out.ok = problems.empty();
  out.line = list.zone + ": ";
  if (out.ok) {
    out.line += "ok";
  }
  for (std::size_t i = 0; i < problems.size(); ++i) {
    out.line += (i > 0 ? "; " : "") + problems[i];
  }
  return out;
}

}  // namespace mw::reputation
