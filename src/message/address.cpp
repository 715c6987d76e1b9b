// message/address.cpp — RFC 5322 §3.4 address-list, recursive descent over the value.
// Every loop advances the position or returns, so the work is linear in the input (which
// is bounded by kMaxAddressListBytes).
#include "mailwarden/message/address.h"

#include <optional>

#include "mailwarden/base/ascii.h"
#include "message/utf8.h"

namespace mw::message {
namespace {

using Failure = tl::unexpected<std::string>;

// RFC 5322 §3.2.3 atext, plus UTF8-non-ascii (RFC 6532 §3.2) handled by the caller.
bool isAtextAscii(char c) noexcept {
  if (ascii::isAlpha(c) || ascii::isDigit(c)) {
    return true;
  }
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool isVchar(char c) noexcept { return c >= 0x21 && c <= 0x7e; }

struct Token {
  enum class Kind { Word, Dot };
  Kind kind = Kind::Word;
  std::string text;     // decoded (quotes and quoted-pairs removed)
  std::string raw;      // as written
  bool quoted = false;
};

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  tl::expected<std::vector<Mailbox>, std::string> run() {
    std::vector<Mailbox> out;
    bool any_element = false;
    while (true) {
      if (auto e = cfws()) {
        return Failure(*e);
      }
      if (atEnd()) {
        break;
      }
      if (peek() == ',') {  // obs-mbox-list / obs-addr-list: empty element
        ++i_;
        continue;
      }
      any_element = true;
      if (auto e = address(out, /*in_group=*/false)) {
        return Failure(*e);
      }
      if (out.size() > kMaxMailboxes) {
        return Failure("more than " + std::to_string(kMaxMailboxes) + " addresses");
      }
      if (auto e = cfws()) {
        return Failure(*e);
      }
      if (atEnd()) {
        break;
      }
      if (peek() != ',') {
        return Failure(at("expected ',' between addresses"));
      }
      ++i_;
    }
    if (!any_element) {
      return Failure("no address");
    }
    return out;
  }

 private:
  bool atEnd() const noexcept { return i_ >= s_.size(); }
  char peek() const noexcept { return s_[i_]; }
  std::string at(std::string_view what) const {
    return std::string(what) + " at offset " + std::to_string(i_);
  }

  // CFWS (RFC 5322 §3.2.2): whitespace, line breaks left over from folding, and nested
  // comments with quoted-pairs. Returns an error text, or nullopt.
  std::optional<std::string> cfws() {
    while (!atEnd()) {
      const char c = peek();
      if (ascii::isWsp(c)) {
        ++i_;
        continue;
      }
      if (c != '(') {
        return std::nullopt;
      }
      int depth = 0;
      while (true) {
        if (atEnd()) {
          return std::string("unterminated comment");
        }
        const char d = peek();
        if (d == '\\') {
          if (i_ + 1 >= s_.size()) {
            return std::string("unterminated comment");
          }
          i_ += 2;
          continue;
        }
        if (d == '(') {
          if (++depth > kMaxCommentDepth) {
            return at("comments nested too deeply");
          }
          ++i_;
          continue;
        }
        if (d == ')') {
          ++i_;
          if (--depth == 0) {
            break;
          }
          continue;
        }
        if (auto e = textOctet(/*allow_wsp=*/true)) {
          return e;
        }
      }
    }
    return std::nullopt;
  }

  // One octet (or UTF-8 sequence) of ctext/qtext: no controls except WSP, no NUL, UTF-8
  // well-formed (RFC 6532 §3.2). Advances.
  std::optional<std::string> textOctet(bool allow_wsp) {
    const char c = peek();
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      const int n = utf8::sequenceLength(s_, i_);
      if (n <= 0) {
        return at("ill-formed UTF-8");
      }
      i_ += static_cast<std::size_t>(n);
      return std::nullopt;
    }
    if (isVchar(c) || (allow_wsp && ascii::isWsp(c))) {
      ++i_;
      return std::nullopt;
    }
    return at("control character");
  }

  // atom body: 1*atext. Returns false when there is none at the position.
  std::optional<std::string> atom(std::string& out, bool& got) {
    got = false;
    const std::size_t start = i_;
    while (!atEnd()) {
      const char c = peek();
      const auto u = static_cast<unsigned char>(c);
      if (u >= 0x80) {
        const int n = utf8::sequenceLength(s_, i_);
        if (n <= 0) {
          return at("ill-formed UTF-8");
        }
        i_ += static_cast<std::size_t>(n);
        continue;
      }
      if (!isAtextAscii(c)) {
        break;
      }
      ++i_;
    }
    got = i_ > start;
    out.assign(s_.substr(start, i_ - start));
    return std::nullopt;
  }

  // quoted-string (RFC 5322 §3.2.4), the opening quote at the position.
  std::optional<std::string> quotedString(Token& t) {
    const std::size_t start = i_;
    ++i_;
    while (true) {
      if (atEnd()) {
        return std::string("unterminated quoted-string");
      }
      const char c = peek();
      if (c == '"') {
        ++i_;
        break;
      }
      if (c == '\\') {
        if (i_ + 1 >= s_.size()) {
          return std::string("unterminated quoted-string");
        }
        const char q = s_[i_ + 1];
        if (!isVchar(q) && !ascii::isSpace(q) && static_cast<unsigned char>(q) < 0x80) {
          return at("bad quoted-pair");
        }
        if (static_cast<unsigned char>(q) >= 0x80) {
          ++i_;  // the sequence itself is checked by textOctet
          const std::size_t before = i_;
          if (auto e = textOctet(false)) {
            return e;
          }
          t.text.append(s_.substr(before, i_ - before));
          continue;
        }
        t.text += q;
        i_ += 2;
        continue;
      }
      if (c == '\r' || c == '\n') {  // leftover folding inside quotes: FWS
        ++i_;
        continue;
      }
      const std::size_t before = i_;
      if (auto e = textOctet(/*allow_wsp=*/true)) {
        return e;
      }
      t.text.append(s_.substr(before, i_ - before));
    }
    t.raw.assign(s_.substr(start, i_ - start));
    t.quoted = true;
    return std::nullopt;
  }

  // A run of words and dots, separated by CFWS: a phrase, an obs-local-part or a
  // dot-atom, decided by what follows it.
  std::optional<std::string> words(std::vector<Token>& out) {
    while (true) {
      if (auto e = cfws()) {
        return e;
      }
      if (atEnd()) {
        return std::nullopt;
      }
      const char c = peek();
      if (c == '"') {
        Token t;
        if (auto e = quotedString(t)) {
          return e;
        }
        out.push_back(std::move(t));
        continue;
      }
      if (c == '.') {
        ++i_;
        out.push_back(Token{Token::Kind::Dot, ".", ".", false});
        continue;
      }
      std::string a;
      bool got = false;
      if (auto e = atom(a, got)) {
        return e;
      }
      if (!got) {
        return std::nullopt;
      }
      out.push_back(Token{Token::Kind::Word, a, a, false});
      if (out.size() > 1000) {
        return at("too many words");
      }
    }
  }

  // word *("." word) (RFC 5322 §3.4.1 local-part incl. obs-local-part).
  static std::optional<std::string> localPart(const std::vector<Token>& t) {
    if (t.empty()) {
      return std::nullopt;
    }
    std::string out;
    for (std::size_t k = 0; k < t.size(); ++k) {
      const bool want_word = k % 2 == 0;
      if ((t[k].kind == Token::Kind::Word) != want_word) {
        return std::nullopt;
      }
      out += t[k].raw;
    }
    if (t.back().kind != Token::Kind::Word) {
      return std::nullopt;
    }
    return out;
  }

  // phrase / obs-phrase (RFC 5322 §3.2.5, §4.1): a word first, then words and dots.
  static std::optional<std::string> phrase(const std::vector<Token>& t) {
    if (t.empty() || t.front().kind != Token::Kind::Word) {
      return std::nullopt;
    }
    std::string out;
    for (const Token& k : t) {
      if (!out.empty() && k.kind == Token::Kind::Word) {
        out += ' ';
      }
      out += k.text;
    }
    return out;
  }

  // domain after '@': dot-atom / obs-domain (atoms separated by dots, CFWS around).
  std::optional<std::string> domain(Mailbox& m) {
    if (auto e = cfws()) {
      return e;
    }
    if (!atEnd() && peek() == '[') {
      return at("domain literal (no domain name)");
    }
    std::string d;
    bool want_atom = true;
    while (true) {
      if (auto e = cfws()) {
        return e;
      }
      if (atEnd()) {
        break;
      }
      if (want_atom) {
        std::string a;
        bool got = false;
        if (auto e = atom(a, got)) {
          return e;
        }
        if (!got) {
          return at(d.empty() ? "missing domain" : "empty domain label");
        }
        d += a;
        want_atom = false;
        continue;
      }
      if (peek() != '.') {
        break;
      }
      ++i_;
      // A single trailing dot (absolute name) is tolerated: nothing follows it.
      const std::size_t save = i_;
      if (auto e = cfws()) {
        return e;
      }
      if (atEnd() || peek() == '>' || peek() == ',' || peek() == ';') {
        break;
      }
      i_ = save;
      d += '.';
      want_atom = true;
    }
    if (d.empty()) {
      return at("missing domain");
    }
    m.international = false;
    for (char& c : d) {
      if (static_cast<unsigned char>(c) >= 0x80) {
        m.international = true;
      }
      c = ascii::toLower(c);
    }
    m.domain = std::move(d);
    return std::nullopt;
  }

  // addr-spec after its local-part tokens, the '@' at the position.
  std::optional<std::string> addrSpec(const std::vector<Token>& local, Mailbox& m) {
    std::optional<std::string> lp = localPart(local);
    if (!lp) {
      return at(local.empty() ? "missing local-part" : "malformed local-part");
    }
    m.local_part = std::move(*lp);
    ++i_;  // '@'
    return domain(m);
  }

  // angle-addr (RFC 5322 §3.4), the '<' at the position.
  std::optional<std::string> angleAddr(Mailbox& m) {
    ++i_;
    if (auto e = cfws()) {
      return e;
    }
    if (!atEnd() && peek() == '@') {
      return at("source route (obs-route) refused");
    }
    std::vector<Token> local;
    if (auto e = words(local)) {
      return e;
    }
    if (atEnd() || peek() != '@') {
      return at("expected '@' in angle-addr");
    }
    if (auto e = addrSpec(local, m)) {
      return e;
    }
    if (auto e = cfws()) {
      return e;
    }
    if (atEnd() || peek() != '>') {
      return at("expected '>'");
    }
    ++i_;
    return std::nullopt;
  }

  // address = mailbox / group. Appends the mailboxes found.
  std::optional<std::string> address(std::vector<Mailbox>& out, bool in_group) {
    std::vector<Token> toks;
    if (auto e = words(toks)) {
      return e;
    }
    if (atEnd()) {
      return std::string(toks.empty() ? "no address" : "no address (only a display name)");
    }
    const char c = peek();
    Mailbox m;
    if (c == '<') {
      if (!toks.empty()) {
        std::optional<std::string> name = phrase(toks);
        if (!name) {
          return at("malformed display name");
        }
        m.display_name = std::move(*name);
      }
      if (auto e = angleAddr(m)) {
        return e;
      }
      out.push_back(std::move(m));
      return std::nullopt;
    }
    if (c == '@') {
      if (auto e = addrSpec(toks, m)) {
        return e;
      }
      out.push_back(std::move(m));
      return std::nullopt;
    }
    if (c == ':') {
      if (in_group) {
        return at("group inside a group");
      }
      if (!phrase(toks)) {
        return at("group without a display name");
      }
      ++i_;
      return groupList(out);
    }
    if (c == ',' || c == ';') {
      return at(toks.empty() ? "empty address" : "no address (only a display name)");
    }
    return at(std::string("unexpected '") + c + "'");
  }

  // group-list up to and including ';' (RFC 5322 §3.4); may be empty or all CFWS.
  std::optional<std::string> groupList(std::vector<Mailbox>& out) {
    while (true) {
      if (auto e = cfws()) {
        return e;
      }
      if (atEnd()) {
        return std::string("unterminated group (missing ';')");
      }
      if (peek() == ';') {
        ++i_;
        return std::nullopt;
      }
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (auto e = address(out, /*in_group=*/true)) {
        return e;
      }
      if (out.size() > kMaxMailboxes) {
        return "more than " + std::to_string(kMaxMailboxes) + " addresses";
      }
      if (auto e = cfws()) {
        return e;
      }
      if (!atEnd() && peek() != ',' && peek() != ';') {
        return at("expected ',' or ';' in group");
      }
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace

tl::expected<std::vector<Mailbox>, std::string> parseAddressList(std::string_view value) {
  if (value.size() > kMaxAddressListBytes) {
    return Failure("address list longer than " + std::to_string(kMaxAddressListBytes) + " bytes");
  }
  if (value.find('\0') != std::string_view::npos) {
    return Failure("NUL in address list");
  }
  return Parser(value).run();
}

}  // namespace mw::message
