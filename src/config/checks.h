// config/checks.h — private to config/: the value checks behind the schema, as pure
// functions of a string so they can be tested without YAML.
//
// Each check* returns std::nullopt when the text is acceptable, or what is wrong with it
// (without the key path or the location: the caller adds "file:line: key: ").
// Input is operator text and may be anything. Thread-safety: pure functions. Never throw
// except std::bad_alloc.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace mw::config::detail {

using Problem = std::optional<std::string>;

// Optimal string alignment distance (edits, transpositions count 1), ASCII case folded.
std::size_t editDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` if it is close enough to be a likely typo.
std::optional<std::string_view> closestKey(std::string_view word,
                                           std::span<const std::string_view> candidates);

// libmilter connection spec: unix:/abs/path | local:/abs/path | inet:PORT[@HOST] |
// inet6:PORT[@HOST]. HOST is an address literal of the family (IPv6 may be in [ ]) or a
// host name.
Problem checkSocket(std::string_view spec);

// metrics.listen: "IPV4:PORT" or "[IPV6]:PORT", an address literal (no host name) and
// a port 1..65535. On success `address` is the literal without brackets.
Problem checkListen(std::string_view spec, std::string& address, int& port);

// A DNS forwarder: an IPv4 or IPv6 address (inet_pton), optionally "@PORT" (unbound's
// forward-addr syntax).
Problem checkResolver(std::string_view spec);

// A client network: an IPv4 or IPv6 address, optionally "/PREFIX" in range.
Problem checkNetwork(std::string_view spec);

// A domain name as written in the configuration: LDH labels (and '_'), 1..63 octets,
// at most 253 in all, ASCII; one leading '.' allowed when `allow_leading_dot`.
Problem checkDomainName(std::string_view name, bool allow_leading_dot);

// RFC 8601 authserv-id as we accept it: a host-name-like token (letters, digits, '-',
// '_' and '.' separated labels), no spaces and no ';'.
Problem checkAuthservId(std::string_view id);

// RFC 3463 status code "class.subject.detail", class 2, 4 or 5.
Problem checkEnhancedCode(std::string_view code);

// One line of printable US-ASCII (RFC 5321 §4.2 reply text), 1..max_length characters.
Problem checkReplyText(std::string_view text, std::size_t max_length);

// A user or group name in the portable set ([A-Za-z0-9._-], not starting with '-'),
// at most 32 characters; "" is accepted (the caller gives it its meaning).
Problem checkAccountName(std::string_view name);

// Strict decimal integer: optional sign, then digits only ("5.5", "12abc", "0x10" fail).
enum class IntParse { Ok, NotAnInteger, OutOfRange };
IntParse parseInteger(std::string_view text, long long& out);

// Strict decimal number: [+-]digits[.digits][e[+-]digits] (also ".5"), finite.
bool parseNumber(std::string_view text, double& out);

// A file mode in octal digits ("0660", "660", "0o660"), as chmod reads it; <= 0777.
bool parseOctalMode(std::string_view text, unsigned& out);

}  // namespace mw::config::detail
