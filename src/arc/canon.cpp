// arc/canon.cpp — RFC 6376 §3.4 canonicalization (header simple/relaxed, body
// simple/relaxed) and the streaming SHA-256 of the canonical body. libopendkim does
// this inside itself for DKIM and offers no entry point for ARC, hence our own.
#include <openssl/evp.h>

#include "mailwarden/arc/arc.h"
#include "mailwarden/base/ascii.h"
#include "mailwarden/base/unique_c.h"

namespace mw::arc {

std::string canonHeaderSimple(std::string_view name, std::string_view value) {
  std::string out;
  out.reserve(name.size() + value.size() + 3);
  out += name;
  out += ':';
  out += value;
  out += "\r\n";
  return out;
}

std::string canonHeaderRelaxed(std::string_view name, std::string_view value) {
  // §3.4.2: lower-case the name, strip WSP before the colon; unfold (drop CRLF), reduce
  // each WSP run to one SP, drop WSP at both ends of the value.
  std::string out = ascii::lower(ascii::trim(name));
  out += ':';
  bool pending_space = false;
  bool any = false;
  for (const char c : value) {
    if (c == '\r' || c == '\n') {
      continue;  // unfolding: the WSP that follows is what remains of the fold
    }
    if (c == ' ' || c == '\t') {
      pending_space = true;
      continue;
    }
    if (pending_space && any) {
      out += ' ';
    }
    pending_space = false;
    any = true;
    out += c;
  }
  out += "\r\n";
  return out;
}

namespace {

// The body canonicalizer as a state machine over bytes, so chunk borders do not matter.
// Empty lines are held back (a count) until a non-empty line follows: §3.4.3/§3.4.4
// remove all empty lines at the end of the body.
template <typename Out>
class BodyCanon {
 public:
  BodyCanon(bool relaxed, Out out) : relaxed_(relaxed), out_(std::move(out)) {}

  void update(std::string_view chunk) {
    for (const char c : chunk) {
      step(c);
    }
  }

  void finish() {
    if (saw_cr_) {
      saw_cr_ = false;
      content('\r');  // a bare CR at the very end is content
    }
    if (line_has_content_) {
      emit("\r\n");  // §3.4.3: a missing final CRLF is added
    }
    if (!relaxed_ && !emitted_) {
      emit("\r\n");  // §3.4.3: an empty simple body is one CRLF; relaxed stays empty
    }
  }

 private:
  void step(char c) {
    if (saw_cr_) {
      saw_cr_ = false;
      if (c == '\n') {
        endLine();
        return;
      }
      content('\r');
    }
    if (c == '\r') {
      saw_cr_ = true;
      return;
    }
    if (relaxed_ && (c == ' ' || c == '\t')) {
      pending_wsp_ = true;  // §3.4.4: runs become one SP; at the line end none
      return;
    }
    content(c);
  }

  void content(char c) {
    if (!line_has_content_) {
      for (; pending_lines_ > 0; --pending_lines_) {
        emit("\r\n");
      }
      line_has_content_ = true;
    }
    if (pending_wsp_) {
      pending_wsp_ = false;
      emit(" ");
    }
    emit(std::string_view(&c, 1));
  }

  void endLine() {
    pending_wsp_ = false;
    if (line_has_content_) {
      emit("\r\n");
      line_has_content_ = false;
    } else {
      ++pending_lines_;
    }
  }

  void emit(std::string_view s) {
    emitted_ = true;
    out_(s);
  }

  bool relaxed_;
  Out out_;
  bool saw_cr_ = false;
  bool pending_wsp_ = false;
  bool line_has_content_ = false;
  bool emitted_ = false;
  std::uint64_t pending_lines_ = 0;
};

using MdCtx = UniqueC<EVP_MD_CTX, EVP_MD_CTX_free>;

struct HashOut {
  EVP_MD_CTX* ctx;
  std::optional<std::uint64_t> limit;
  std::uint64_t* taken;
  bool* ok;
  void operator()(std::string_view s) const {
    std::size_t n = s.size();
    if (limit) {
      const std::uint64_t room = *limit > *taken ? *limit - *taken : 0;
      n = static_cast<std::size_t>(std::min<std::uint64_t>(n, room));
    }
    if (n == 0) {
      return;
    }
    *taken += n;
    if (EVP_DigestUpdate(ctx, s.data(), n) != 1) {
      *ok = false;
    }
  }
};

}  // namespace

struct BodyHasher::Impl {
  MdCtx ctx{EVP_MD_CTX_new()};
  std::uint64_t taken = 0;
  bool ok = true;
  bool done = false;
  std::string digest;
  BodyCanon<HashOut> canon;
  Impl(bool relaxed, std::optional<std::uint64_t> limit)
      : canon(relaxed, HashOut{ctx.get(), limit, &taken, &ok}) {
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
      ok = false;
    }
  }
};

BodyHasher::BodyHasher(bool relaxed, std::optional<std::uint64_t> limit)
    : impl_(std::make_unique<Impl>(relaxed, limit)) {}

BodyHasher::~BodyHasher() = default;

void BodyHasher::update(std::string_view chunk) {
  if (impl_->ok && !impl_->done) {
    impl_->canon.update(chunk);
  }
}

std::string BodyHasher::digest() {
  if (impl_->done) {
    return impl_->digest;
  }
  impl_->done = true;
  if (!impl_->ok) {
    return {};
  }
  impl_->canon.finish();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!impl_->ok || EVP_DigestFinal_ex(impl_->ctx.get(), md, &len) != 1) {
    return {};
  }
  impl_->digest.assign(reinterpret_cast<const char*>(md), len);
  return impl_->digest;
}

std::string canonBody(std::string_view body, bool relaxed) {
  std::string out;
  BodyCanon canon(relaxed, [&out](std::string_view s) { out += s; });
  canon.update(body);
  canon.finish();
  return out;
}

}  // namespace mw::arc
