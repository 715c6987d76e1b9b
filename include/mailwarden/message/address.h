// message/address.h — a strict RFC 5322 §3.4 address-list parser, for the author
// address of a From field (the Author Domain of RFC 9989).
//
// Input is an unfolded field value (message::unfold) from untrusted mail. Accepted:
//   * name-addr and addr-spec mailboxes, phrases with quoted-strings (commas and '@'
//     inside quotes are text), obs-phrase dots ("J. Smith"), nested comments and
//     quoted-pairs anywhere CFWS may appear (RFC 5322 §3.2.2);
//   * group syntax ("team: a@x, b@y;", RFC 6854 allows it in From); a group's members
//     are mailboxes of the list, an empty group adds none;
//   * obs-local-part (words separated by dots) and empty list elements (obs-mbox-list);
//   * UTF-8 in atoms, quoted-strings and comments (RFC 6532 §3.2), checked well-formed.
// Refused with a reason (never guessed): obs-route ("<@relay:a@b>"), a domain literal,
// an '@' or '<' in an unquoted display name, unbalanced quotes, comments or brackets,
// control characters, ill-formed UTF-8, a missing local-part or domain.
// The domain comes back with ASCII letters lower-cased and without a trailing dot; a
// non-ASCII (U-label) domain is returned as is (`international` is set): IDNA mapping is
// not done here. Pure functions; thread-safe; never throw except std::bad_alloc.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace mw::message {

struct Mailbox {
  std::string display_name;  // decoded phrase (quotes and quoted-pairs removed), may be empty
  std::string local_part;    // as written (quoted form kept)
  std::string domain;        // ASCII lower-cased, no trailing dot
  bool international = false;  // the domain has non-ASCII octets (RFC 6532)
};

// Bounds: more is refused, whatever the syntax (a From field is short).
inline constexpr std::size_t kMaxAddressListBytes = 16 * 1024;
inline constexpr std::size_t kMaxMailboxes = 100;
inline constexpr int kMaxCommentDepth = 32;

// The mailboxes of an address-list in order, or why it does not parse. An empty or
// all-CFWS value is an error ("no address").
tl::expected<std::vector<Mailbox>, std::string> parseAddressList(std::string_view value);

}  // namespace mw::message
