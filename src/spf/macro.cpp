// Client addresses and RFC 7208 §7 macro expansion.
#include "macro.h"

#include <arpa/inet.h>

#include <algorithm>
#include <vector>

#include "mailwarden/base/ascii.h"

namespace mw::spf::detail {
namespace {

constexpr char kHexUpper[] = "0123456789ABCDEF";

// isUnreserved - RFC 3986 unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~" (§7.3).
bool isUnreserved(char c) noexcept {
  return ascii::isAlpha(c) || ascii::isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// macroValue - the raw value of one macro letter (§7.3).
std::string macroValue(char letter, const MacroContext& ctx) {
  switch (letter) {
    case 's': return std::string(ctx.sender);
    case 'l': return std::string(ctx.local_part);
    case 'o': return std::string(ctx.sender_domain);
    case 'd': return std::string(ctx.domain);
    case 'i': return ctx.ip->dotted();
    case 'p': return ctx.validated_name ? ctx.validated_name() : std::string("unknown");
    case 'v': return ctx.ip->v6 ? "ip6" : "in-addr";
    case 'h': return std::string(ctx.helo);
    case 'c': return ctx.ip->text();
    case 'r': return std::string(ctx.receiving_host);
    case 't': return std::to_string(ctx.now);
    default: return std::string();  // the parser admits no other letter
  }
}

// transform - split on the delimiters, optionally reverse, keep the rightmost N parts,
// join with "." (§7.3), then URL-escape for an upper-case letter.
std::string transform(const MacroItem& item, const std::string& value) {
  std::string out;
  if (item.digits == 0 && !item.reverse && (item.delimiters.empty() || item.delimiters == ".")) {
    out = value;
  } else {
    const std::string_view delims = item.delimiters.empty() ? std::string_view(".") : item.delimiters;
    std::vector<std::string_view> parts;
    std::string_view rest = value;
    while (true) {
      const std::size_t cut = rest.find_first_of(delims);
      parts.push_back(rest.substr(0, cut));
      if (cut == std::string_view::npos) {
        break;
      }
      rest.remove_prefix(cut + 1);
    }
    if (item.reverse) {
      std::reverse(parts.begin(), parts.end());
    }
    std::size_t first = 0;
    if (item.digits != 0 && item.digits < parts.size()) {
      first = parts.size() - item.digits;
    }
    for (std::size_t i = first; i < parts.size(); ++i) {
      if (i != first) {
        out.push_back('.');
      }
      out.append(parts[i]);
    }
  }
  if (!item.url_escape) {
    return out;
  }
  std::string escaped;
  for (const char c : out) {
    if (isUnreserved(c)) {
      escaped.push_back(c);
    } else {
      const auto u = static_cast<unsigned char>(c);
      escaped.push_back('%');
      escaped.push_back(kHexUpper[u >> 4]);
      escaped.push_back(kHexUpper[u & 0xf]);
    }
  }
  return escaped;
}

// LeftTruncated - accumulates an expanded name, dropping whole labels from the left
// whenever it grows past `limit` (§7.3: "the left side is truncated to fit, by removing
// successive domain labels (and their following dots)"). Removing labels early gives
// the same result as removing them at the end, since appending only lengthens every
// suffix; memory stays bounded by the limit plus one item.
class LeftTruncated {
 public:
  explicit LeftTruncated(std::size_t limit) : limit_(limit) {}
  void append(std::string_view s) {
    buf_.append(s);
    trim();
  }
  std::string take() && { return std::move(buf_); }

 private:
  void trim() {
    while (true) {
      if (dropping_) {  // inside a label that is being removed
        const std::size_t dot = buf_.find('.');
        if (dot == std::string::npos) {
          buf_.clear();
          return;
        }
        buf_.erase(0, dot + 1);
        dropping_ = false;
      }
      if (buf_.size() <= limit_) {
        return;
      }
      const std::size_t dot = buf_.find('.');
      if (dot == std::string::npos) {
        buf_.clear();
        dropping_ = true;
        return;
      }
      buf_.erase(0, dot + 1);
    }
  }

  std::size_t limit_;
  std::string buf_;
  bool dropping_ = false;
};

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  char buf[64];
  if (text.empty() || text.size() >= sizeof buf) {
    return std::nullopt;
  }
  text.copy(buf, text.size());
  buf[text.size()] = '\0';
  IpAddress ip;
  if (inet_pton(AF_INET, buf, ip.bytes.data()) == 1) {
    return ip;
  }
  if (inet_pton(AF_INET6, buf, ip.bytes.data()) != 1) {
    return std::nullopt;
  }
  static constexpr std::array<std::uint8_t, 12> kMapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped.begin(), kMapped.end(), ip.bytes.begin())) {
    std::array<std::uint8_t, 16> v4{};
    std::copy(ip.bytes.begin() + 12, ip.bytes.end(), v4.begin());
    ip.bytes = v4;
    return ip;
  }
  ip.v6 = true;
  return ip;
}

bool IpAddress::inNetwork(const std::array<std::uint8_t, 16>& network, unsigned bits) const noexcept {
  const unsigned max = v6 ? 128 : 32;
  bits = std::min(bits, max);
  std::size_t i = 0;
  for (; bits >= 8; bits -= 8, ++i) {
    if (bytes[i] != network[i]) {
      return false;
    }
  }
  if (bits == 0) {
    return true;
  }
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - bits));
  return (bytes[i] & mask) == (network[i] & mask);
}

std::string IpAddress::text() const {
  char buf[INET6_ADDRSTRLEN];
  if (inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf) == nullptr) {
    return std::string();
  }
  return buf;
}

std::string IpAddress::dotted() const {
  if (!v6) {
    return text();
  }
  // §7.3: "the "i" macro expands to ... 32 hex nibbles" separated by dots; upper-case
  // as in the RFC's own example (§7.4).
  std::string out;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i != 0) {
      out.push_back('.');
    }
    out.push_back(kHexUpper[bytes[i] >> 4]);
    out.push_back('.');
    out.push_back(kHexUpper[bytes[i] & 0xf]);
  }
  return out;
}

std::string IpAddress::reverseName() const {
  std::string out;
  if (!v6) {
    for (int i = 3; i >= 0; --i) {
      out += std::to_string(bytes[static_cast<std::size_t>(i)]);
      out.push_back('.');
    }
    return out + "in-addr.arpa";
  }
  for (int i = 15; i >= 0; --i) {
    const std::uint8_t b = bytes[static_cast<std::size_t>(i)];
    out.push_back(kHexUpper[b & 0xf]);
    out.push_back('.');
    out.push_back(kHexUpper[b >> 4]);
    out.push_back('.');
  }
  return out + "ip6.arpa";
}

std::string expandDomain(const MacroString& spec, const MacroContext& ctx) {
  // Accumulate with room for a trailing dot; the exact limit applies after it is gone.
  LeftTruncated name(kMaxDomainBytes + 1);
  for (const MacroItem& item : spec.items) {
    switch (item.kind) {
      case MacroItem::Kind::Literal:
        name.append(item.literal);
        break;
      case MacroItem::Kind::Macro:
        name.append(transform(item, macroValue(item.letter, ctx)));
        break;
    }
  }
  std::string out = std::move(name).take();
  if (!out.empty() && out.back() == '.') {  // "trailing dot is ignored for domains"
    out.pop_back();
  }
  LeftTruncated exact(kMaxDomainBytes);
  exact.append(out);
  return std::move(exact).take();
}

std::string expandExplanation(const MacroString& text, const MacroContext& ctx) {
  std::string out;
  for (const MacroItem& item : text.items) {
    switch (item.kind) {
      case MacroItem::Kind::Literal:
        out.append(item.literal);
        break;
      case MacroItem::Kind::Macro:
        out.append(transform(item, macroValue(item.letter, ctx)));
        break;
    }
    if (out.size() >= kMaxExplanationBytes) {
      out.resize(kMaxExplanationBytes);
      break;
    }
  }
  return out;
}

bool isQueryable(std::string_view name) noexcept {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  if (name.empty() || name.size() > kMaxDomainBytes) {
    return false;
  }
  std::size_t label = 0;
  for (const char c : name) {
    // A DNS label may hold any octet (RFC 2181 §11), and macros put sender text into
    // names ("%_" is a space). Control characters (NUL above all) are refused: they
    // cannot pass through the text form of a resolver API unchanged.
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return false;
    }
    if (c == '.') {
      if (label == 0) {
        return false;
      }
      label = 0;
      continue;
    }
    if (++label > 63) {
      return false;
    }
  }
  return label > 0;
}

bool isCheckableDomain(std::string_view name) noexcept {
  if (!isQueryable(name) || name.front() == '[' || name.find(' ') != std::string_view::npos) {
    return false;
  }
  if (name.back() == '.') {
    name.remove_suffix(1);
  }
  return name.find('.') != std::string_view::npos;
}

}  // namespace mw::spf::detail
