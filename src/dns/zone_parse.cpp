#include "dns/zone_parse.h"

#include <ldns/ldns.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "dns/names.h"
#include "mailwarden/base/ascii.h"
#include "mailwarden/base/unique_c.h"

namespace mw::dns::detail {

namespace {

using LdnsRdf = UniqueC<ldns_rdf, ldns_rdf_deep_free>;
using LdnsRr = UniqueC<ldns_rr, ldns_rr_free>;
using CFile = UniqueC<FILE, std::fclose>;

Error errorAt(const std::string& label, int line, std::string what) {
  return Error::at({label, line}, Errc::Invalid, std::move(what) + ": file not loaded");
}

std::vector<std::string_view> splitWords(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && ascii::isWsp(s[i])) {
      ++i;
    }
    const std::size_t start = i;
    while (i < s.size() && !ascii::isWsp(s[i])) {
      ++i;
    }
    if (i > start) {
      out.push_back(s.substr(start, i - start));
    }
  }
  return out;
}

bool typeByName(std::string_view word, Type* out) {
  for (Type t : {Type::A, Type::AAAA, Type::TXT, Type::MX, Type::PTR}) {
    if (ascii::iequals(word, toString(t))) {
      *out = t;
      return true;
    }
  }
  return false;
}

// `name` as written in the file, made absolute against `origin` (RFC 1035 §5.1: a name
// not ending in '.' is relative; "@" is the origin). Pragma names are plain: no escapes.
bool absoluteName(std::string_view name, std::string_view origin, std::string* out) {
  if (name == "@") {
    if (origin.empty()) {
      return false;
    }
    *out = std::string(origin);
    return true;
  }
  if (!name.empty() && name.back() == '.') {
    *out = normalizeName(name);
    return true;
  }
  if (origin.empty()) {
    return false;
  }
  *out = normalizeName(std::string(name) + "." + std::string(origin));
  return true;
}

// Tracks quotes, comments and parentheses across lines (RFC 1035 §5.1). libldns takes
// an unclosed '(' at the end of the text as closed, so a record missing its ')' would
// swallow the rest of the file without a word; nsd refuses such a file, and so do we.
class ParenScanner {
 public:
  // Feeds one line (without its newline); false with *why set on a stray ')'.
  bool feed(std::string_view s, int line, std::string* why) {
    for (std::size_t i = 0; i < s.size(); ++i) {
      const char c = s[i];
      if (c == '\\') {
        ++i;  // an escaped character is never syntax, in or out of quotes
        continue;
      }
      if (in_quote_) {
        in_quote_ = c != '"';
        continue;
      }
      if (c == ';') {
        return true;  // the rest of the line is a comment
      }
      if (c == '"') {
        in_quote_ = true;
      } else if (c == '(') {
        if (depth_++ == 0) {
          open_line_ = line;
        }
      } else if (c == ')') {
        if (depth_ == 0) {
          *why = "')' without '('";
          return false;
        }
        --depth_;
      }
    }
    return true;
  }
  // At the start of a line: outside any record's parentheses and quotes.
  bool atTopLevel() const { return depth_ == 0 && !in_quote_; }
  int openLine() const { return open_line_; }

 private:
  int depth_ = 0;
  int open_line_ = 0;
  bool in_quote_ = false;
};

// The failure pragmas (zone.h); each word is NUL-terminated for the error messages.
constexpr std::pair<std::string_view, Injected> kPragmas[] = {
    {";@timeout", Injected::Timeout},   {";@servfail", Injected::Servfail},
    {";@refused", Injected::Refused},   {";@notimp", Injected::NotImp},
    {";@formerr", Injected::FormErr},   {";@malformed", Injected::Malformed},
};

// Our own pass over the lines: the pragmas are comments, which libldns drops before we
// could see them, and their relative names need the $ORIGIN in force at their line, so
// $ORIGIN is tracked here too (libldns tracks it again for the records).
Result<std::vector<ParsedPragma>> scanPragmas(std::string_view text, const std::string& label,
                                              std::string origin) {
  std::vector<ParsedPragma> out;
  ParenScanner parens;
  int line = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    ++line;
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    const std::string_view raw = text.substr(pos, end - pos);
    pos = end + 1;
    const bool top = parens.atTopLevel();
    std::string why;
    if (!parens.feed(raw, line, &why)) {
      return fail(errorAt(label, line, why));
    }
    if (!top) {
      continue;
    }
    if (raw.substr(0, 7) == "$ORIGIN" && (raw.size() == 7 || ascii::isWsp(raw[7]))) {
      const std::vector<std::string_view> w = splitWords(raw.substr(7));
      // libldns keeps a relative $ORIGIN relative, so every name after it would be
      // relative; refuse it here, with its line, instead of at the first record.
      if (w.empty() || w[0].back() != '.') {
        return fail(errorAt(label, line, "$ORIGIN must be an absolute name (ending in '.')"));
      }
      origin = normalizeName(w[0]);
      continue;
    }
    std::string_view s = raw;
    while (!s.empty() && ascii::isSpace(s.front())) {
      s.remove_prefix(1);
    }
    ParsedPragma p;
    const char* what = nullptr;
    for (const auto& [word, kind] : kPragmas) {
      const std::size_t n = word.size();
      if (s.substr(0, n) == word && (s.size() == n || ascii::isWsp(s[n]))) {
        what = word.data();
        p.kind = kind;
        s.remove_prefix(n);
        break;
      }
    }
    if (what == nullptr) {
      continue;
    }
    const std::vector<std::string_view> w = splitWords(s);
    if (w.empty()) {
      return fail(errorAt(label, line, std::string(what) + " needs a NAME"));
    }
    if (!absoluteName(w[0], origin, &p.name)) {
      return fail(errorAt(label, line, std::string(what) + " " + std::string(w[0]) +
                                           ": relative name and no $ORIGIN"));
    }
    for (std::size_t i = 1; i < w.size(); ++i) {
      Type t{};
      if (!typeByName(w[i], &t)) {
        return fail(errorAt(label, line, std::string(what) + ": unknown type \"" +
                                             std::string(w[i]) +
                                             "\" (A, AAAA, TXT, MX or PTR)"));
      }
      p.types.push_back(t);
    }
    p.line = line;
    out.push_back(std::move(p));
  }
  if (!parens.atTopLevel()) {
    return fail(errorAt(label, parens.openLine() > 0 ? parens.openLine() : line,
                        "'(' or '\"' not closed"));
  }
  return out;
}

// Line numbers from text offsets. libldns counts lines itself, but one past the entry
// when it ends in a newline and not otherwise; counting here gives the line an entry
// starts on (what an operator looks for) however the text ends.
class LineCounter {
 public:
  explicit LineCounter(std::string_view text) : text_(text) {}
  // The 1-based line of offset `pos`; calls must not go backwards.
  int lineAt(std::size_t pos) {
    pos = std::min(pos, text_.size());
    for (; done_ < pos; ++done_) {
      line_ += text_[done_] == '\n' ? 1 : 0;
    }
    return line_;
  }
  // The first offset at or after `pos` that is neither blank nor inside a comment: where
  // the next entry starts.
  std::size_t skipBlank(std::size_t pos) const {
    while (pos < text_.size()) {
      const char c = text_[pos];
      if (c == ';') {
        const std::size_t nl = text_.find('\n', pos);
        pos = nl == std::string_view::npos ? text_.size() : nl;
      } else if (ascii::isWsp(c)) {
        ++pos;
      } else {
        break;
      }
    }
    return pos;
  }

 private:
  std::string_view text_;
  std::size_t done_ = 0;
  int line_ = 1;
};

// libldns makes every name absolute: with no origin, "www" becomes "www." silently. So
// when the caller gives no origin we give libldns this one, whose first label (a NUL
// and a name) no real zone has, and refuse every name that ends in it: a relative name
// with no $ORIGIN is an operator's mistake to report, not a top-level name to invent.
constexpr char kNoOriginLabel[] = "\\000mailwarden-no-origin";
constexpr std::string_view kNoOriginSuffix("\0mailwarden-no-origin",
                                           sizeof("\0mailwarden-no-origin") - 1);

bool isUnderNoOrigin(const std::string& name) {
  return name.size() >= kNoOriginSuffix.size() &&
         name.compare(name.size() - kNoOriginSuffix.size(), kNoOriginSuffix.size(),
                      kNoOriginSuffix) == 0;
}

// A name field of a record, decoded into our spelling; false for a relative name that
// had no origin to complete it.
bool dnameOf(const ldns_rdf* rdf, std::string* out) {
  if (rdf == nullptr || ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME) {
    return false;
  }
  std::optional<std::string> n = nameFromWire(ldns_rdf_data(rdf), ldns_rdf_size(rdf), nullptr);
  if (!n || isUnderNoOrigin(*n)) {
    return false;
  }
  *out = std::move(*n);
  return true;
}

// One parsed RR into a ParsedRecord; false with *why set when it cannot be used.
bool convert(const ldns_rr* rr, ParsedRecord* r, std::string* why) {
  if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
    *why = "class other than IN";
    return false;
  }
  if (!dnameOf(ldns_rr_owner(rr), &r->name)) {
    *why = "relative owner name and no $ORIGIN";
    return false;
  }
  const std::size_t n = ldns_rr_rd_count(rr);
  switch (ldns_rr_get_type(rr)) {
    case LDNS_RR_TYPE_TXT:
      // RFC 7208 §3.3: the character-strings of one record are concatenated with no
      // separator. Each rdf is <length octet><octets>, escapes already decoded.
      r->kind = ParsedRecord::Kind::Txt;
      for (std::size_t i = 0; i < n; ++i) {
        const ldns_rdf* f = ldns_rr_rdf(rr, i);
        const std::size_t size = ldns_rdf_size(f);
        const std::uint8_t* d = ldns_rdf_data(f);
        if (ldns_rdf_get_type(f) != LDNS_RDF_TYPE_STR || size == 0 || d[0] + 1u != size) {
          *why = "bad TXT string";
          return false;
        }
        r->text.append(reinterpret_cast<const char*>(d + 1), size - 1);
      }
      return true;
    case LDNS_RR_TYPE_A:
    case LDNS_RR_TYPE_AAAA: {
      const bool v4 = ldns_rr_get_type(rr) == LDNS_RR_TYPE_A;
      const ldns_rdf* f = n == 1 ? ldns_rr_rdf(rr, 0) : nullptr;
      if (f == nullptr || ldns_rdf_size(f) != (v4 ? 4u : 16u)) {
        *why = v4 ? "bad A address" : "bad AAAA address";
        return false;
      }
      r->kind = v4 ? ParsedRecord::Kind::A : ParsedRecord::Kind::Aaaa;
      r->text.assign(reinterpret_cast<const char*>(ldns_rdf_data(f)), ldns_rdf_size(f));
      return true;
    }
    case LDNS_RR_TYPE_MX:
      if (n != 2 || ldns_rdf_get_type(ldns_rr_rdf(rr, 0)) != LDNS_RDF_TYPE_INT16 ||
          !dnameOf(ldns_rr_rdf(rr, 1), &r->text)) {
        *why = "bad MX (a relative exchange needs $ORIGIN)";
        return false;
      }
      r->kind = ParsedRecord::Kind::Mx;
      r->preference = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
      return true;
    case LDNS_RR_TYPE_PTR:
    case LDNS_RR_TYPE_CNAME: {
      const bool ptr = ldns_rr_get_type(rr) == LDNS_RR_TYPE_PTR;
      if (n != 1 || !dnameOf(ldns_rr_rdf(rr, 0), &r->text)) {
        *why = ptr ? "bad PTR target (a relative name needs $ORIGIN)"
                   : "bad CNAME target (a relative name needs $ORIGIN)";
        return false;
      }
      r->kind = ptr ? ParsedRecord::Kind::Ptr : ParsedRecord::Kind::Cname;
      return true;
    }
    default:
      // SOA, NS, SPF (type 99), DNSSEC records...: not answered, but the name exists.
      r->kind = ParsedRecord::Kind::Other;
      return true;
  }
}

}  // namespace

Result<ParsedZone> parseMasterText(std::string_view text, const std::string& label,
                                   std::string_view origin) {
  ParsedZone zone;
  std::string start_origin;
  if (!origin.empty()) {
    start_origin = normalizeName(origin);
  }
  Result<std::vector<ParsedPragma>> pragmas = scanPragmas(text, label, start_origin);
  if (!pragmas) {
    return fail(std::move(pragmas.error()));
  }
  zone.pragmas = std::move(*pragmas);
  if (text.empty()) {
    return zone;  // fmemopen refuses a zero-sized buffer on older C libraries
  }
  // libldns reads a FILE*; fmemopen serves the text without a copy (read-only mode, so
  // the cast away from const is never acted on) and, unlike a C string, keeps NUL bytes.
  CFile fp(fmemopen(const_cast<char*>(text.data()), text.size(), "r"));
  if (!fp) {
    return fail(Error::at({label, 0}, Errc::Internal,
                          std::string("fmemopen: ") + std::strerror(errno)));
  }
  const std::string ldns_origin = origin.empty() ? std::string(kNoOriginLabel) + "."
                                                  : presentationName(start_origin);
  LdnsRdf cur_origin(ldns_dname_new_frm_str(ldns_origin.c_str()));
  if (!cur_origin) {
    return fail(errorAt(label, 0, "bad origin \"" + std::string(origin) + "\""));
  }
  LdnsRdf prev;
  std::uint32_t default_ttl = 3600;
  LineCounter lines(text);
  int ldns_line = 1;  // libldns wants one; ours come from LineCounter
  while (std::feof(fp.get()) == 0) {
    const long before = std::ftell(fp.get());
    const int at = lines.lineAt(lines.skipBlank(before < 0 ? 0 : static_cast<std::size_t>(before)));
    ldns_rr* raw = nullptr;
    ldns_rdf* raw_origin = cur_origin.release();
    ldns_rdf* raw_prev = prev.release();
    const ldns_status s =
        ldns_rr_new_frm_fp_l(&raw, fp.get(), &default_ttl, &raw_origin, &raw_prev, &ldns_line);
    cur_origin.reset(raw_origin);
    prev.reset(raw_prev);
    LdnsRr rr(s == LDNS_STATUS_OK ? raw : nullptr);
    switch (s) {
      case LDNS_STATUS_OK: break;
      case LDNS_STATUS_SYNTAX_EMPTY:
      case LDNS_STATUS_SYNTAX_TTL:
      case LDNS_STATUS_SYNTAX_ORIGIN: continue;
      case LDNS_STATUS_SYNTAX_INCLUDE:
        // A zone file must not make us read other files (a fuzzer, or a careless
        // operator, could name /etc/shadow); list every file in dns.zone_files instead.
        return fail(errorAt(label, at, "$INCLUDE is not supported"));
      default:
        return fail(errorAt(label, at, ldns_get_errorstr_by_id(s)));
    }
    ParsedRecord r;
    std::string why;
    if (!convert(rr.get(), &r, &why)) {
      return fail(errorAt(label, at, why));
    }
    r.line = at;
    zone.records.push_back(std::move(r));
  }
  return zone;
}

Result<std::string> readZoneFile(const std::string& path) {
  CFile fp(std::fopen(path.c_str(), "rb"));
  if (!fp) {
    return fail(Error::at({path, 0}, Errc::Invalid,
                          std::string("cannot open: ") + std::strerror(errno)));
  }
  std::string text;
  char buf[65536];
  while (true) {
    const std::size_t got = std::fread(buf, 1, sizeof buf, fp.get());
    text.append(buf, got);
    if (text.size() > kMaxZoneFileBytes) {
      return fail(Error::at({path, 0}, Errc::Limit,
                            "larger than " + std::to_string(kMaxZoneFileBytes) +
                                " bytes: file not loaded"));
    }
    if (got < sizeof buf) {
      break;
    }
  }
  if (std::ferror(fp.get()) != 0) {
    return fail(Error::at({path, 0}, Errc::Invalid,
                          std::string("read error: ") + std::strerror(errno)));
  }
  return text;
}

}  // namespace mw::dns::detail
