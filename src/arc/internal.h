// arc/internal.h — private to arc/: the parsers and helpers the Verifier (verify.cpp) and
// the Sealer (seal.cpp) share, so both read tag-lists, instances and key records the
// same way. Pure functions over untrusted text: bad input gives std::nullopt or an error
// string, never a crash. Nothing here throws except std::bad_alloc.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/arc/arc.h"
#include "mailwarden/base/ascii.h"
#include "mailwarden/base/unique_c.h"

namespace mw::arc::detail {

using PKey = UniqueC<EVP_PKEY, EVP_PKEY_free>;
using MdCtx = UniqueC<EVP_MD_CTX, EVP_MD_CTX_free>;

bool isFws(char c);
std::string_view trimFws(std::string_view s);
std::string stripFws(std::string_view s);

// RFC 6376 §3.2 tag-list: tag names case-sensitive (ALPHA *(ALPHA / DIGIT / "_")),
// values of %x21-3A / %x3C-7E with FWS inside, a trailing ";" allowed, an empty tag-spec
// elsewhere or a duplicate tag name is an error. Values are kept trimmed.
using Tags = std::map<std::string, std::string, std::less<>>;
std::optional<std::string> parseTags(std::string_view list, Tags& out);  // why not, or nullopt
const std::string* tag(const Tags& t, std::string_view name);

// i= of an AS or AMS: 1..kMaxInstances (RFC 8617 §4.2.1).
std::optional<int> parseInstance(std::string_view v);
// The instance of an ARC-Authentication-Results: "i=N;" first (RFC 8617 §4.1.1).
std::optional<int> aarInstance(std::string_view v);
// t=, x=, l=: digits, at most 12 (RFC 6376 §3.5).
std::optional<std::int64_t> parseTime(std::string_view v);

// base64 with FWS anywhere (RFC 6376 §2.4); nullopt when not base64.
std::optional<std::string> decodeBase64(std::string_view text);
std::string encodeBase64(std::string_view bytes);

// The field value with the b= tag's value removed (RFC 6376 §3.7, RFC 8617 §4.1.2/
// §4.1.3): everything else, whitespace included, stays as it is.
std::string withoutB(std::string_view value);


// A public key from a key record.
struct Key {
  bool done = false;
  PKey pkey;
  std::string error;  // "" when pkey is usable
  bool temporary = false;
  int type = 0;  // EVP_PKEY_RSA or EVP_PKEY_ED25519
};
// RFC 6376 §3.6.1 key record (v=, h=, s=, k=rsa|ed25519, p=; RFC 8301 §3.2 size): fills
// `key` and returns "", or returns why not.
std::string parseKey(std::string_view txt, Key& key);

// The header hash input of a signature (RFC 6376 §5.4.2): each name of `names` picks the
// last field of that name not picked yet, bottom up; a name with none left contributes
// nothing. `Fields` is any sequence of {name, value} (value as received, leading space
// and folding kept).
template <typename Fields>
std::string canonSignedHeaders(const Fields& headers, const std::vector<std::string>& names,
                               bool relaxed) {
  std::string data;
  std::map<std::string, std::size_t, std::less<>> used;  // lower name -> fields used
  for (const std::string& name : names) {
    std::size_t& skip = used[name];
    std::size_t seen = 0;
    for (std::size_t k = headers.size(); k-- > 0;) {
      if (!ascii::iequals(headers[k].name, name)) {
        continue;
      }
      if (seen++ == skip) {
        data += relaxed ? canonHeaderRelaxed(headers[k].name, headers[k].value)
                        : canonHeaderSimple(headers[k].name, headers[k].value);
        break;
      }
    }
    ++skip;
  }
  return data;
}

}  // namespace mw::arc::detail
