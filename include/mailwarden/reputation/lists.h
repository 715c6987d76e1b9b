// reputation/lists.h — DNS block and allow lists (RFC 5782): what a message's client
// address and domains are listed as.
//
// Lists is built once per configuration snapshot from reputation::Options and shared by
// every message (std::shared_ptr<const Lists>): it holds the lists, their answer classes
// and, per list, the pause state. A message makes a Lists::Message (start()), hands it
// each key as soon as it is known — the client address at connect, HELO, MAIL FROM,
// the From domain and verified DKIM d= domains at end of headers, URL hosts as the body
// is parsed — and collects at end of message. Every lookup is started at once
// (dns::Resolver::start) and waited for only in collect(), so the lists of one message
// are in flight together and alongside the other checks.
//
// Keys (RFC 5782):
//   * an IPv4 address 1.2.3.4 is asked as 4.3.2.1.ZONE (§2.1); IPv6 as its 32 nibbles
//     in reverse order, lower-case hex, dot-separated (§2.4); an IPv4-mapped IPv6
//     address (::ffff:1.2.3.4) as the IPv4 address. Anything else is not asked.
//   * a domain as DOMAIN.ZONE (§3): lower-case A-labels (dns::toALabels), no trailing
//     dot. An address literal ("[192.0.2.1]", "192.0.2.1", anything with ':'), an
//     invalid IDN or an empty string is not asked.
//   * URL hosts (Key::Url) are normalised the same way, IP literals are skipped (domain
//     lists only), and at most Options::max_url_hosts distinct hosts per message are
//     asked; later hosts are dropped.
//   * with `hash:`, the key (the reversed address, or the domain) is replaced by the
//     lower-case hex digest of its text.
//   * a query name that would be too long (dns::isQueryableName) is skipped, not an error.
//   * one query name is asked once per list and message: the first key that needs it
//     is reported (HELO and MAIL FROM of the same domain give one lookup).
//
// Answers (one ListHit per lookup that answered or failed):
//   * NXDOMAIN / NODATA: not listed — no ListHit.
//   * A records, each checked: outside 127.0.0.0/8 (RFC 5782 §2.3), in
//     127.255.255.252..127.255.255.255 (Spamhaus: query refused, public resolver, over
//     the limit), or matching no class of the list: the whole lookup is Blocked — never
//     a listing. Otherwise Listed, with every class some record matches (one answer may
//     hit several classes: bit lists), in configuration order, each once.
//   * a Temporary DNS outcome (dns::classify: timeout, SERVFAIL, REFUSED, a broken
//     answer, the budget spent): TempError.
//   * Blocked also counts obs::counters().list_errors, logs a warning at most once per
//     list per max(pause, 60 s), and pauses the list for its `pause` seconds (by the
//     Clock given to create()): lookups that would start while it is paused are not made
//     and not reported. The pause is shared by all messages and threads (an atomic
//     deadline per list).
//
// Thread-safety: Lists is immutable apart from the atomic pause state; any number of
// threads may start() messages. A Message is used by one thread at a time.
// Never throws except std::bad_alloc.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/base/clock.h"
#include "mailwarden/base/result.h"
#include "mailwarden/dns/resolver.h"
#include "mailwarden/reputation/options.h"

namespace mw::reputation {

enum class ListResult { Listed, Blocked, TempError };

std::string_view toString(ListResult r) noexcept;  // "listed", "blocked", "temperror"

// What one answer class says when hit (a copy of the AnswerClass's meaning).
struct Listing {
  std::string symbol;
  double score = 0.0;
  std::optional<Action> action;
  std::string reply;  // "" = the stage's default text
};

// One lookup that answered with A records or failed.
struct ListHit {
  std::string zone;
  Key key = Key::ClientIp;
  std::string lookup;               // what was looked up, normalised: "192.0.2.1",
                                    // "2001:db8::1", "example.org" (before reversing/hashing)
  std::string query;                // the name asked: "1.2.0.192.zen.spamhaus.org"
  std::vector<std::string> codes;   // the A records, dotted quads, in answer order
  ListResult result = ListResult::TempError;
  std::vector<Listing> classes;     // Listed: the classes hit; otherwise empty
  std::string why;                  // Blocked/TempError: for logs ("127.255.255.254 is
                                    // an error code", "timeout", ...)
};

// The key part of a query name (without the zone), or nullopt when `ip` is not an IPv4
// or IPv6 address: "4.3.2.1", or 32 dot-separated nibbles.
std::optional<std::string> reversedAddress(std::string_view ip);

// The address in canonical text ("1.2.3.4" for ::ffff:1.2.3.4, RFC 5952 for IPv6), or
// nullopt when `ip` is not an address.
std::optional<std::string> canonicalAddress(std::string_view ip);

// The domain as it is looked up (lower-case A-labels, no trailing dot), or nullopt when it
// is empty, an address literal, or not a valid (IDN) domain name.
std::optional<std::string> normalizeDomain(std::string_view domain);

// Lower-case hex digest of `text`; `Hash::None` returns it unchanged.
std::string hashKey(Hash h, std::string_view text);

// How a list classifies one answer's A records (exposed for `lists test` and tests).
struct Classified {
  ListResult result = ListResult::Blocked;  // Listed or Blocked (never TempError)
  std::vector<const AnswerClass*> classes;  // Listed: the classes hit, each once
  std::string why;                          // Blocked: which record and why
};
Classified classifyCodes(const ListOptions& list, const std::vector<std::uint32_t>& records);

class Lists : public std::enable_shared_from_this<Lists> {
 public:
  // Validates `options` (validate(): the first problem is the error, at its file:line)
  // and builds the lists. `clock` drives the pauses (nullptr: the system clock).
  [[nodiscard]] static Result<std::shared_ptr<const Lists>> create(const Options& options,
                                                                  ClockConstSharedPtr clock);

  // The lookups of one message. Keeps its Lists alive. One thread at a time.
  class Message {
   public:
    // Each call starts, at once, that key's lookups on every list that asks for it
    // (unless paused); bad or empty input starts nothing. Never blocks.
    void clientIp(std::string_view ip);
    void helo(std::string_view name);
    void mailFrom(std::string_view domain);  // the domain part of MAIL FROM ("" = <>)
    void from(std::string_view domain);      // the author domain
    void dkimDomain(std::string_view domain);  // a d= whose signature verified
    void urlHost(std::string_view host);     // a host name as found in a URL
    // Waits for every lookup started and not yet collected, in start order, and returns
    // one ListHit per lookup that was listed, blocked or failed. Blocked answers pause
    // their list here. A second call returns only lookups started since the first.
    std::vector<ListHit> collect();
    // Lookups started so far (tests, logs).
    std::size_t started() const noexcept { return started_; }

   private:
    friend class Lists;
    struct Pending {
      std::size_t list;
      Key key;
      std::string lookup;
      std::string query;
      dns::LookupPtr answer;
    };
    Message(std::shared_ptr<const Lists> lists, dns::Resolver& resolver, dns::Budget budget);
    void startDomain(Key key, std::string_view domain);
    void startKey(Key key, const std::string& lookup, const std::string& label);

    std::shared_ptr<const Lists> lists_;
    dns::Resolver* resolver_;
    dns::Budget budget_;
    std::vector<Pending> pending_;
    std::set<std::pair<std::size_t, std::string>> asked_;  // (list, query): once each
    std::set<std::string> url_hosts_;                      // distinct URL hosts taken
    std::size_t started_ = 0;
  };

  // A Message over `resolver` (which must outlive it) and the message's DNS budget.
  Message start(dns::Resolver& resolver, const dns::Budget& budget) const;

  const Options& options() const noexcept { return options_; }
  // True while list `index` (of options().lists) is paused at the clock's now.
  bool paused(std::size_t index) const noexcept;

  ~Lists();
  Lists(const Lists&) = delete;
  Lists& operator=(const Lists&) = delete;

 private:
  struct State;
  Lists(Options options, ClockConstSharedPtr clock);
  // A blocked answer on list `index`: count, log (rate-limited) and pause.
  void blocked(std::size_t index, const std::string& query, const std::string& why) const;

  Options options_;
  ClockConstSharedPtr clock_;
  std::unique_ptr<State[]> state_;  // one per list: atomic pause deadline, last log time
};

using ListsConstSharedPtr = std::shared_ptr<const Lists>;

// RFC 5782 §5 test points of one list: an address list must list 127.0.0.2 and must not
// list 127.0.0.1; a domain list must list "test" and must not list "invalid" (both when
// the list asks for both). `ok` and one line for the operator:
//   "zen.spamhaus.org: ok"
//   "x.example: 127.0.0.1 is listed (127.0.0.2): the zone answers for everything — do not use it"
//   "x.example: the test point 127.0.0.2 is not listed — wrong zone or blocked resolver
//    (answer 127.255.255.254)"
struct ListTest {
  bool ok = false;
  std::string line;
};
ListTest testList(const ListOptions& list, dns::Resolver& resolver, const dns::Budget& budget);

}  // namespace mw::reputation
