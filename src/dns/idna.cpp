// dns/idna.cpp — toALabels() over libidn2 (the only file that includes idn2.h).
//
// Flags, and why (IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT, with libidn2's default A-label
// round-trip check; IDN2_USE_STD3_ASCII_RULES deliberately not):
//   * IDNA2008 (RFC 5891), not IDNA2003: what registries register and resolvers hold.
//   * UTS #46 *non-transitional* processing. Transitional processing maps ß to "ss", final
//     sigma ς to σ and drops ZWJ/ZWNJ: "faß.de" would be looked up as "fass.de", another
//     registered domain with another owner, so SPF, DKIM keys and the DMARC policy of the
//     wrong domain would be read and could align. Non-transitional keeps ß and ς (PVALID in
//     IDNA2008) and gives the name the DNS actually has (xn--fa-hia.de), as browsers and
//     the registries of .de and .gr do; UTS #46 itself deprecates transitional processing.
//   * UTS #46 mapping (not IDN2_NO_TR46): mail may carry "Bücher.example"; pure IDNA2008
//     refuses upper case, while SPF and DMARC compare ASCII names case-insensitively. The
//     mapping is that case fold for every script, and it folds compatibility forms
//     (full-width letters) onto the name a UTS #46 client would resolve, so a look-alike
//     author domain is judged by the policy of the domain it stands for.
//   * IDN2_NFC_INPUT: decomposed input (a + U+0308) is the same name as "ä" (RFC 6532 §3.1
//     recommends NFC, does not require it); UTS #46 normalises too, this makes it explicit.
//   * Not IDN2_USE_STD3_ASCII_RULES: in a label that has non-ASCII characters only LDH
//     ASCII is valid (RFC 5892: '_', '/', ' ' are DISALLOWED), but libidn2 2.3.3 with that
//     flag *deletes* such characters ("b/ü" and "b_ü" both become "xn--b-eha", the A-label
//     of "bü": one domain standing for another). Without it they stay, and our own check
//     that the result is LDH (letters, digits, '-', '.') refuses them. Pure-ASCII labels
//     never reach libidn2 (they keep the caller's rules, "_dmarc" and all).
//   * UTS #46 "ignored" code points (U+200B, U+00AD) are removed, as UTS #46 says and every
//     UTS #46 resolver does: the name is the one such a client would look up.
//   * Default round trip (IDN2_ALABEL_ROUNDTRIP): an "xn--" label must decode and encode
//     back to itself, so bad punycode and non-canonical A-labels are errors.
// Labels are converted one at a time: libidn2 judges a whole name, and an ASCII label it
// would refuse (hyphens in positions 3-4, "ab--cd") must not make a U-label domain invalid.
#include "mailwarden/dns/idna.h"

#include <cstdlib>
#include <memory>

#include <idn2.h>

#include "mailwarden/base/ascii.h"

namespace mw::dns {
namespace {

constexpr std::size_t kMaxLabel = 63;   // RFC 1035 §2.3.4
constexpr std::size_t kMaxName = 253;   // without the trailing dot

constexpr int kFlags = IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT;

struct FreeDeleter {
  void operator()(char* p) const noexcept { idn2_free(p); }
};

bool isALabelPrefix(std::string_view label) noexcept {
  return label.size() >= 4 && ascii::iequals(label.substr(0, 4), "xn--");
}

tl::expected<std::string, std::string> convertLabel(std::string_view label) {
  const std::string z(label);  // libidn2 wants a NUL-terminated string
  if (z.find('\0') != std::string::npos) {
    return tl::unexpected(std::string("NUL octet in domain"));
  }
  char* raw = nullptr;
  const int rc = idn2_lookup_u8(reinterpret_cast<const uint8_t*>(z.c_str()),
                                reinterpret_cast<uint8_t**>(&raw), kFlags);
  std::unique_ptr<char, FreeDeleter> out(raw);
  if (rc != IDN2_OK || out == nullptr) {
    return tl::unexpected("invalid IDN label: " + std::string(idn2_strerror(rc)));
  }
  std::string a = ascii::lower(out.get());
  for (const char c : a) {
    if (!ascii::isAlpha(c) && !ascii::isDigit(c) && c != '-' && c != '.') {
      return tl::unexpected(std::string("invalid IDN label: disallowed character"));
    }
  }
  return a;
}

}  // namespace

std::optional<std::string> lookupDomain(std::string_view domain) {
  if (!hasNonAscii(domain)) {
    return ascii::lower(domain);
  }
  tl::expected<std::string, std::string> a = toALabels(domain);
  if (!a) {
    return std::nullopt;
  }
  return std::move(*a);
}

bool hasNonAscii(std::string_view s) noexcept {
  for (const char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      return true;
    }
  }
  return false;
}

tl::expected<std::string, std::string> toALabels(std::string_view domain) {
  if (domain.size() > kMaxIdnInput) {
    return tl::unexpected(std::string("domain too long"));
  }
  if (!domain.empty() && domain.back() == '.') {
    domain.remove_suffix(1);
  }
  if (domain.empty()) {
    return tl::unexpected(std::string("empty domain"));
  }
  std::string out;
  out.reserve(domain.size());
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = domain.find('.', start);
    const std::string_view label =
        domain.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty()) {
      return tl::unexpected(std::string("empty label in domain"));
    }
    std::string converted;
    if (hasNonAscii(label) || isALabelPrefix(label)) {
      auto c = convertLabel(label);
      if (!c) {
        return c;
      }
      converted = std::move(*c);
      // UTS #46 maps the ideographic and full-width full stops onto '.': the label was
      // several labels; each must still be a label.
      std::size_t s = 0;
      while (true) {
        const std::size_t d = converted.find('.', s);
        const std::size_t len = (d == std::string::npos ? converted.size() : d) - s;
        if (len == 0) {
          return tl::unexpected(std::string("empty label in domain"));
        }
        if (len > kMaxLabel) {
          return tl::unexpected(std::string("label longer than 63 octets"));
        }
        if (d == std::string::npos) {
          break;
        }
        s = d + 1;
      }
    } else {
      if (label.size() > kMaxLabel) {
        return tl::unexpected(std::string("label longer than 63 octets"));
      }
      converted = ascii::lower(label);
    }
    if (!out.empty()) {
      out += '.';
    }
    out += converted;
    if (out.size() > kMaxName) {
      return tl::unexpected(std::string("domain longer than 253 octets"));
    }
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  return out;
}

}  // namespace mw::dns
