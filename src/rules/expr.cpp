// rules/expr.cpp — composite expressions.
//
// Grammar (precedence not > and > or, as in most languages, so "a or b and c" is
// "a or (b and c)"):
//   or   := and ("or" and)*
//   and  := not ("and" not)*
//   not  := "not" not | "(" or ")" | IDENT
// Keywords are lower-case; identifiers are rule ids or published symbols (upper-case,
// LoadOptions::symbols).
#include <cctype>

#include "internal.h"
#include "mailwarden/base/ascii.h"

namespace mw::rules {
namespace {

constexpr int kMaxDepth = 64;     // nesting of parentheses / not
constexpr std::size_t kMaxNodes = 1024;

Expr::Node node(Expr::Kind kind, int a, int b) {
  Expr::Node n;
  n.kind = kind;
  n.a = a;
  n.b = b;
  return n;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<ExprParse> run() {
    next();
    const int root = orExpr(0);
    if (!error_.empty()) return fail(Errc::Invalid, error_);
    if (tok_kind_ != Tok::End) return fail(Errc::Invalid, "unexpected '" + std::string(tok_) + "' at column " + std::to_string(tok_col_));
    out_.expr.root = root;
    return std::move(out_);
  }

 private:
  enum class Tok { End, Ident, And, Or, Not, LParen, RParen, Bad };

  void next() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    tok_col_ = pos_ + 1;
    if (pos_ >= text_.size()) { tok_kind_ = Tok::End; tok_ = "end of expression"; return; }
    const char c = text_[pos_];
    if (c == '(' || c == ')') {
      tok_kind_ = c == '(' ? Tok::LParen : Tok::RParen;
      tok_ = text_.substr(pos_++, 1);
      return;
    }
    const std::size_t start = pos_;
    while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) ++pos_;
    if (pos_ == start) {
      tok_kind_ = Tok::Bad;
      tok_ = text_.substr(pos_++, 1);
      return;
    }
    tok_ = text_.substr(start, pos_ - start);
    tok_kind_ = tok_ == "and" ? Tok::And : tok_ == "or" ? Tok::Or : tok_ == "not" ? Tok::Not : Tok::Ident;
  }

  int add(Expr::Node n) {
    if (out_.expr.nodes.size() >= kMaxNodes) { setError("expression too large"); return -1; }
    out_.expr.nodes.push_back(n);
    return static_cast<int>(out_.expr.nodes.size() - 1);
  }
  void setError(std::string e) { if (error_.empty()) error_ = std::move(e); }
  bool bad() const { return !error_.empty(); }

  int orExpr(int depth) {
    int left = andExpr(depth);
    while (!bad() && tok_kind_ == Tok::Or) {
      next();
      const int right = andExpr(depth);
      left = add(node(Expr::Kind::Or, left, right));
    }
    return left;
  }
  int andExpr(int depth) {
    int left = notExpr(depth);
    while (!bad() && tok_kind_ == Tok::And) {
      next();
      const int right = notExpr(depth);
      left = add(node(Expr::Kind::And, left, right));
    }
    return left;
  }
  int notExpr(int depth) {
    if (bad()) return -1;
    if (depth > kMaxDepth) { setError("expression nested too deeply"); return -1; }
    switch (tok_kind_) {
      case Tok::Not: {
        next();
        const int a = notExpr(depth + 1);
        return add(node(Expr::Kind::Not, a, -1));
      }
      case Tok::LParen: {
        const std::size_t col = tok_col_;
        next();
        const int inner = orExpr(depth + 1);
        if (bad()) return -1;
        if (tok_kind_ != Tok::RParen) { setError("'(' at column " + std::to_string(col) + " is not closed"); return -1; }
        next();
        return inner;
      }
      case Tok::Ident: {
        out_.names.emplace_back(tok_);
        next();
        return add(node(Expr::Kind::Leaf, -1, -1));
      }
      case Tok::End:
        setError("expected a rule id, 'not' or '(' at the end");
        return -1;
      case Tok::And:
      case Tok::Or:
      case Tok::RParen:
      case Tok::Bad:
        setError("expected a rule id, 'not' or '(' at column " + std::to_string(tok_col_) + ", got '" + std::string(tok_) + "'");
        return -1;
    }
    return -1;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  Tok tok_kind_ = Tok::End;
  std::string_view tok_;
  std::size_t tok_col_ = 0;
  std::string error_;
  ExprParse out_;
};

}  // namespace

Result<ExprParse> parseExpression(std::string_view text) { return Parser(text).run(); }

std::string_view toString(Scope s) noexcept {
  switch (s) {
    case Scope::Header: return "header";
    case Scope::Headers: return "headers";
    case Scope::BodyRaw: return "body:raw";
    case Scope::BodyText: return "body:text";
    case Scope::Url: return "url";
    case Scope::AttachmentName: return "attachment:name";
    case Scope::AttachmentType: return "attachment:type";
    case Scope::EnvMailFrom: return "envelope:mail_from";
    case Scope::EnvRcpt: return "envelope:rcpt";
    case Scope::EnvHelo: return "envelope:helo";
    case Scope::EnvClientName: return "envelope:client_name";
  }
  return "?";
}

std::string_view toString(RuleAction a) noexcept {
  switch (a) {
    case RuleAction::Accept: return "accept";
    case RuleAction::Tag: return "tag";
    case RuleAction::Quarantine: return "quarantine";
    case RuleAction::TempFail: return "tempfail";
    case RuleAction::Reject: return "reject";
  }
  return "?";
}

std::optional<RuleAction> parseRuleAction(std::string_view text) noexcept {
  for (const RuleAction a : {RuleAction::Accept, RuleAction::Tag, RuleAction::Quarantine,
                             RuleAction::TempFail, RuleAction::Reject}) {
    if (ascii::iequals(text, toString(a))) return a;
  }
  return std::nullopt;
}

std::uint64_t fnv1a(std::string_view data, std::uint64_t seed) noexcept {
  std::uint64_t h = seed;
  for (const char c : data) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace mw::rules
