// reputation/options.h — what the DNS lists of `reputation.lists` are, as plain data.
//
// config/ fills an Options from the YAML file (`reputation:` in contrib/mailwarden.yaml);
// reputation::Lists::create() builds the lookups from it. This header owns the data and
// the pure checks both of them use, so the file and a hand-built Options are judged by
// the same rules:
//   * parseCode()  — one entry of `codes:` (operator text), to a CodePattern;
//   * validate()   — everything else: zone names, symbols (syntax, unique, not built-in),
//                    classes with codes xor bits, reply only with reject/tempfail, ...
// Errors carry the SourceLoc stored in the Options (file:line when it came from a file).
//
// Input is operator text (the configuration), never mail. Thread-safety: plain values
// and pure functions. Never throws except std::bad_alloc.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "mailwarden/base/result.h"

namespace mw::reputation {

// What a list is asked about (`lookup:`): the client's address, or a domain of the
// message. Each is looked up as RFC 5782 §2.1 (addresses) or §3 (names) says.
enum class Key {
  ClientIp,  // client_ip: the connecting address, reversed octets / nibbles
  Helo,      // helo: the HELO/EHLO name
  MailFrom,  // mail_from: the domain of MAIL FROM
  From,      // from: the author domain (From field)
  Dkim,      // dkim: each d= domain whose signature verified
  Url,       // url: host names of URLs in the message (at most max_url_hosts)
};

std::string_view toString(Key k) noexcept;  // the config word: "client_ip", ...

// `hash:`: the lookup key is replaced by the lower-case hex digest of itself before the
// zone is appended (hashed lists; OpenSSL EVP).
enum class Hash { None, Md5, Sha1, Sha256 };

std::string_view toString(Hash h) noexcept;  // "none", "md5", ...

// `action:` of an answer class, in rising severity. The stage maps it onto
// verdict::Action (reputation/ sits below verdict/ and does not include it).
enum class Action { Tag, Quarantine, TempFail, Reject };

std::string_view toString(Action a) noexcept;  // "tag", "quarantine", ...

// One entry of `codes:`. Three written forms:
//   "127.0.0.2"            one address (per_octet false, lo == hi)
//   "127.0.0.4..127.0.0.7" an inclusive range of addresses (per_octet false)
//   "127.0.0.[2..11;20]"   postscreen's form: each octet is a number or a bracketed list
//                          of numbers and N..M ranges separated by ';' (per_octet true)
// Addresses are host-order uint32 (127.0.0.2 == 0x7f000002).
struct CodePattern {
  std::string text;  // as written, for messages
  bool per_octet = false;
  std::uint32_t lo = 0;
  std::uint32_t hi = 0;
  // per_octet: inclusive ranges each octet (first = most significant) must fall in one of.
  std::array<std::vector<std::pair<std::uint8_t, std::uint8_t>>, 4> octets{};

  bool matches(std::uint32_t address) const noexcept;
};

// The CodePattern of `text`, or why it is not one ("'127.0.0.300' is not an IPv4
// address", "range 127.0.0.9..127.0.0.2 is backwards", ...).
tl::expected<CodePattern, std::string> parseCode(std::string_view text);

// One element of `answers:`: which A answers count for it, and what a hit means.
struct AnswerClass {
  std::vector<CodePattern> codes;  // an answer matching one of them is in this class
  std::uint8_t bits = 0;           // or (when non-zero, and codes empty): the answer's last
                                   // octet ANDed with bits is non-zero (rspamd returnbits)
  std::string symbol;              // [A-Z][A-Z0-9_]{0,63}: a rule/composite symbol
  double score = 0.0;              // negative: an allowlist
  std::optional<Action> action;    // forces at least this action when hit
  std::string reply;               // SMTP reply text, only with action Reject or TempFail
  SourceLoc where;                 // the class in the file (errors)
};

// One element of `lists:`.
struct ListOptions {
  std::string zone;                // the list's DNS zone, lower-case, no trailing dot
  std::vector<Key> lookups;        // what is looked up on it (at least one, no repeats)
  Hash hash = Hash::None;
  int pause_seconds = 300;         // after an error answer, the list is not asked (0..86400)
  std::vector<AnswerClass> answers;
  SourceLoc where;                 // the list in the file (errors)
};

inline constexpr int kMaxUrlHosts = 100;
inline constexpr int kMaxPauseSeconds = 86400;

struct Options {
  int max_url_hosts = 20;          // distinct URL host names looked up per message, 0..100
  std::vector<ListOptions> lists;  // empty: no list is asked
};

// True for [A-Z][A-Z0-9_]{0,63}.
bool isSymbolName(std::string_view s) noexcept;

// True when `s` is a name an operator may not give a list class: the built-in result
// symbols (SPF_*, DKIM_*, DMARC_*, IPREV_*) that the stages add themselves.
bool isBuiltinSymbol(std::string_view s) noexcept;

// Every problem of `o`, each an Errc::Invalid Error at the SourceLoc of the list or
// class concerned, message "reputation.lists[I]...: what". Empty when valid.
// (parseCode's problems are not repeated: codes are CodePatterns already.)
std::vector<Error> validate(const Options& o);

}  // namespace mw::reputation
