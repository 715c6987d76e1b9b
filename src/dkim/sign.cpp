// dkim/sign.cpp — Signer over libopendkim (rsa-sha256, ed25519-sha256; relaxed/relaxed)
// and signMessage() for tests, tools and benchmarks.
//
// Each Signer has its own DKIM_LIB: t= comes from DKIM_OPTS_FIXEDTIME (a library
// option) and x= from DKIM_OPTS_SIGNATURETTL, so signers with different times must not
// share one. libopendkim reads PEM keys (PKCS#8 included) but its base64-DER path does
// not read PKCS#8, which is the only DER form of an Ed25519 key: the 32-byte seed form
// (RFC 8463 A.1, dkimpy) is therefore wrapped into a PEM PKCS#8 key here.
#include "dkim/opendkim.h"

#include <array>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>

#include "mailwarden/base/unique_c.h"
#include "mailwarden/dkim/dkim.h"
#include "mailwarden/message/reader.h"

namespace mw::dkim {
namespace {

using DkimLib = UniqueC<DKIM_LIB, dkim_close>;
using DkimHandle = UniqueC<DKIM, dkim_free>;

// dkim_getresultstr() returns NULL for codes it has no text for.
std::string resultText(DKIM_STAT st) {
  const char* s = dkim_getresultstr(st);
  return s != nullptr ? std::string(s) : "status " + std::to_string(st);
}

constexpr std::string_view kB64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(std::string_view in) {
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> unbase64(std::string_view in) {
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (const char c : in) {
    if (c == '=' || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      continue;
    }
    const std::size_t v = kB64.find(c);
    if (v == std::string_view::npos) {
      return std::nullopt;
    }
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

// The key text libopendkim's dkim_sign() takes: PEM as is; an Ed25519 seed (base64 of
// 32 bytes) as base64 DER PKCS#8 (RFC 8410 §7: 16 fixed bytes, then the seed).
Result<std::string> keyText(const SignOptions& o) {
  if (o.private_key.find("-----BEGIN") != std::string::npos) {
    return o.private_key;
  }
  if (o.algorithm == Algorithm::Ed25519Sha256) {
    const auto seed = unbase64(o.private_key);
    if (!seed || seed->size() != 32) {
      return fail(Errc::Invalid, "Ed25519 key: not PEM and not the base64 of a 32-byte seed");
    }
    static constexpr std::array<unsigned char, 16> kPrefix = {
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
    std::string der(reinterpret_cast<const char*>(kPrefix.data()), kPrefix.size());
    der += *seed;
    // As PEM: libopendkim's DER path (d2i_PrivateKey_bio) does not read PKCS#8.
    const std::string b64 = base64(der);
    std::string pem = "-----BEGIN PRIVATE KEY-----\n";
    for (std::size_t i = 0; i < b64.size(); i += 64) {
      pem += b64.substr(i, 64) + "\n";
    }
    return pem + "-----END PRIVATE KEY-----\n";
  }
  return fail(Errc::Invalid, "RSA key: not PEM");
}

dkim_alg_t signAlg(Algorithm a) {
  switch (a) {
    case Algorithm::RsaSha256: return DKIM_SIGN_RSASHA256;
    case Algorithm::Ed25519Sha256: return DKIM_SIGN_ED25519SHA256;
    case Algorithm::RsaSha1: return DKIM_SIGN_RSASHA1;
  }
  MW_UNREACHABLE("dkim::Algorithm");
}

}  // namespace

struct Signer::Impl {
  DkimLib lib;
  std::string key;  // dkim_sign() keeps a pointer to it
  DkimHandle dkim;
  std::string field;
  bool eoh = false;
  std::string error;
};

Signer::Signer() : impl_(std::make_unique<Impl>()) {}
Signer::~Signer() = default;

Result<std::unique_ptr<Signer>> Signer::create(const SignOptions& o) {
  if (o.domain.empty() || o.selector.empty()) {
    return fail(Errc::Invalid, "signing needs a domain and a selector");
  }
  Result<std::string> key = keyText(o);
  if (!key) {
    return fail(key.error());
  }
  std::unique_ptr<Signer> s(new Signer());
  Impl& m = *s->impl_;
  m.key = std::move(*key);
  m.lib.reset(dkim_init(nullptr, nullptr));
  if (!m.lib) {
    return fail(Errc::Internal, "dkim_init failed");
  }
  if (o.allow_weak_key) {
    unsigned int bits = 512;
    if (dkim_options(m.lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &bits, sizeof bits) !=
        DKIM_STAT_OK) {
      return fail(Errc::Internal, "libopendkim refused DKIM_OPTS_MINKEYBITS");
    }
  }
  if (o.timestamp > 0) {
    std::uint64_t t = static_cast<std::uint64_t>(o.timestamp);
    if (dkim_options(m.lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME, &t, sizeof t) != DKIM_STAT_OK) {
      return fail(Errc::Internal, "libopendkim refused DKIM_OPTS_FIXEDTIME");
    }
  }
  if (o.expiration > 0) {
    const std::int64_t base = o.timestamp > 0 ? o.timestamp : static_cast<std::int64_t>(time(nullptr));
    if (o.expiration <= base) {
      return fail(Errc::Invalid, "x= must be after t=");
    }
    std::uint64_t ttl = static_cast<std::uint64_t>(o.expiration - base);
    if (dkim_options(m.lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_SIGNATURETTL, &ttl, sizeof ttl) !=
        DKIM_STAT_OK) {
      return fail(Errc::Internal, "libopendkim refused DKIM_OPTS_SIGNATURETTL");
    }
  }
  DKIM_STAT st = DKIM_STAT_OK;
  static const unsigned char kId[] = "mailwarden";
  m.dkim.reset(dkim_sign(m.lib.get(), kId, nullptr,
                         reinterpret_cast<unsigned char*>(m.key.data()),
                         reinterpret_cast<const unsigned char*>(o.selector.c_str()),
                         reinterpret_cast<const unsigned char*>(o.domain.c_str()),
                         o.simple ? DKIM_CANON_SIMPLE : DKIM_CANON_RELAXED,
                         o.simple ? DKIM_CANON_SIMPLE : DKIM_CANON_RELAXED, signAlg(o.algorithm),
                         -1, &st));
  if (!m.dkim) {
    return fail(Errc::Invalid, std::string("dkim_sign: ") + resultText(st));
  }
  if (!o.identity.empty() &&
      dkim_set_signer(m.dkim.get(), reinterpret_cast<const unsigned char*>(o.identity.c_str())) !=
          DKIM_STAT_OK) {
    return fail(Errc::Invalid, "dkim_set_signer refused the identity " + o.identity);
  }
  return s;
}

void Signer::header(std::string_view name, std::string_view value) {
  Impl& m = *impl_;
  if (m.eoh || !m.error.empty()) {
    return;
  }
  m.field.assign(name);
  m.field += ':';
  m.field.append(value);
  const DKIM_STAT st =
      dkim_header(m.dkim.get(), reinterpret_cast<unsigned char*>(m.field.data()), m.field.size());
  if (st != DKIM_STAT_OK) {
    m.error = std::string("dkim_header: ") + resultText(st);
  }
}

void Signer::body(std::string_view chunk) {
  Impl& m = *impl_;
  if (!m.error.empty() || chunk.empty()) {
    return;
  }
  if (!m.eoh) {
    m.eoh = true;
    if (const DKIM_STAT st = dkim_eoh(m.dkim.get()); st != DKIM_STAT_OK) {
      m.error = std::string("dkim_eoh: ") + resultText(st);
      return;
    }
  }
  const DKIM_STAT st = dkim_body(
      m.dkim.get(), reinterpret_cast<unsigned char*>(const_cast<char*>(chunk.data())), chunk.size());
  if (st != DKIM_STAT_OK) {
    m.error = std::string("dkim_body: ") + resultText(st);
  }
}

Result<std::string> Signer::signatureField() {
  Impl& m = *impl_;
  if (!m.eoh && m.error.empty()) {
    m.eoh = true;
    if (const DKIM_STAT st = dkim_eoh(m.dkim.get()); st != DKIM_STAT_OK) {
      m.error = std::string("dkim_eoh: ") + resultText(st);
    }
  }
  if (!m.error.empty()) {
    return fail(Errc::Invalid, m.error);
  }
  if (const DKIM_STAT st = dkim_eom(m.dkim.get(), nullptr); st != DKIM_STAT_OK) {
    std::string why = std::string("dkim_eom: ") + resultText(st);
    if (const char* e = dkim_geterror(m.dkim.get()); e != nullptr && *e != '\0') {
      why += std::string(" (") + e + ")";
    }
    return fail(Errc::Invalid, why);
  }
  unsigned char* buf = nullptr;
  std::size_t len = 0;
  if (dkim_getsighdr_d(m.dkim.get(), std::strlen(DKIM_SIGNHEADER) + 2, &buf, &len) != DKIM_STAT_OK ||
      buf == nullptr) {
    return fail(Errc::Internal, "dkim_getsighdr_d failed");
  }
  // libopendkim folds with a bare LF; a header field's line breaks are CRLF.
  std::string out;
  out.reserve(len + 16);
  for (std::size_t i = 0; i < len; ++i) {
    const char c = static_cast<char>(buf[i]);
    if (c == '\n' && (i == 0 || buf[i - 1] != '\r')) {
      out += '\r';
    }
    out += c;
  }
  return " " + out;
}

Result<std::string> signMessage(std::string_view raw, const SignOptions& options) {
  Result<std::unique_ptr<Signer>> made = Signer::create(options);
  if (!made) {
    return fail(made.error());
  }
  Signer& signer = **made;
  // The reader gives what an MTA gives a milter: values as received, CRLF body.
  struct Collect final : message::ReaderSink {
    Signer& s;
    std::string out;
    std::string body_bytes;
    explicit Collect(Signer& x) : s(x) {}
    void header(std::string_view n, std::string_view v) override {
      s.header(n, v);
      out.append(n).append(":").append(v).append("\r\n");
    }
    void endOfHeaders() override {}
    void body(std::string_view chunk) override {
      s.body(chunk);
      body_bytes.append(chunk);
    }
  } sink(signer);
  message::Limits limits;
  message::MessageReader reader(limits, sink);
  reader.feed(raw);
  reader.finish();
  Result<std::string> sig = signer.signatureField();
  if (!sig) {
    return fail(sig.error());
  }
  return std::string(DKIM_SIGNHEADER) + ":" + *sig + "\r\n" + sink.out + "\r\n" + sink.body_bytes;
}

}  // namespace mw::dkim
