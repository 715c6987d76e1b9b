// Unit tests of arc/: RFC 6376 §3.4.6 canonicalization examples, chunking, structure
// errors (RFC 8617 §5.2 step 2), and chains sealed here with keys made at run time
// (RSA 2048, Ed25519, RSA 512) over a ZoneResolver: pass, a changed body, a temporary
// DNS failure, a revoked key, a key under 1024 bits (RFC 8301 §3.2).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>
#include <utility>
#include <vector>

#include "mailwarden/arc/arc.h"
#include "mailwarden/base/clock.h"
#include "mailwarden/base/unique_c.h"
#include "mailwarden/dns/zone.h"

namespace {

using mw::arc::ChainResult;
using PKey = mw::UniqueC<EVP_PKEY, EVP_PKEY_free>;
using MdCtx = mw::UniqueC<EVP_MD_CTX, EVP_MD_CTX_free>;

const mw::FixedClock kClock(1700000000);

// --- canonicalization --------------------------------------------------------------

TEST(ArcCanon, Rfc6376Section346HeaderExamples) {
  // §3.4.6: "A: X" and "B : Y<TAB><CRLF><TAB>Z  ".
  EXPECT_EQ(mw::arc::canonHeaderRelaxed("A", " X"), "a:X\r\n");
  EXPECT_EQ(mw::arc::canonHeaderRelaxed("B ", " Y\t\r\n\tZ  "), "b:Y Z\r\n");
  EXPECT_EQ(mw::arc::canonHeaderSimple("A", " X"), "A: X\r\n");
  EXPECT_EQ(mw::arc::canonHeaderSimple("B ", " Y\t\r\n\tZ  "), "B : Y\t\r\n\tZ  \r\n");
}

TEST(ArcCanon, Rfc6376Section346BodyExamples) {
  const std::string body = " C \r\nD \t E\r\n\r\n\r\n";
  EXPECT_EQ(mw::arc::canonBody(body, true), " C\r\nD E\r\n");
  EXPECT_EQ(mw::arc::canonBody(body, false), " C \r\nD \t E\r\n");
}

TEST(ArcCanon, EmptyAndUnterminatedBodies) {
  EXPECT_EQ(mw::arc::canonBody("", false), "\r\n");  // §3.4.3
  EXPECT_EQ(mw::arc::canonBody("", true), "");       // §3.4.4
  EXPECT_EQ(mw::arc::canonBody("\r\n\r\n", true), "");
  EXPECT_EQ(mw::arc::canonBody("\r\n\r\n", false), "\r\n");
  EXPECT_EQ(mw::arc::canonBody("x", false), "x\r\n");
  EXPECT_EQ(mw::arc::canonBody("a  \r\n \t\r\nb", true), "a\r\n\r\nb\r\n");
  EXPECT_EQ(mw::arc::canonBody("bare\rcr\r\n", true), "bare\rcr\r\n");
}

TEST(ArcCanon, ChunkingDoesNotChangeTheDigest) {
  const std::string body = "Hello  \t world \r\n\r\n line\r\n\r\n\r\n";
  for (const bool relaxed : {false, true}) {
    mw::arc::BodyHasher whole(relaxed);
    whole.update(body);
    mw::arc::BodyHasher bytes(relaxed);
    for (const char c : body) {
      bytes.update(std::string_view(&c, 1));
    }
    const std::string d = whole.digest();
    EXPECT_EQ(d.size(), 32U);
    EXPECT_EQ(d, bytes.digest());
  }
  mw::arc::BodyHasher limited(true, 3);
  limited.update("abcdef\r\n");
  // l=3 (RFC 6376 §3.5): only the first 3 canonical bytes are hashed.
  unsigned char md[32];
  unsigned int len = 0;
  EVP_Digest("abc", 3, md, &len, EVP_sha256(), nullptr);
  EXPECT_EQ(limited.digest(), std::string(reinterpret_cast<char*>(md), len));
}

// --- a small sealer for the tests (RFC 8617 §5.1, instance 1 only) ------------------

std::string b64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

struct TestKey {
  PKey key;
  bool ed = false;
  std::string txt;  // the DNS record
};

TestKey rsaKey(unsigned bits) {
  TestKey k;
  k.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(k.key.get(), &der);
  k.txt = "v=DKIM1; k=rsa; p=" + b64(std::string(reinterpret_cast<char*>(der), static_cast<std::size_t>(n)));
  OPENSSL_free(der);
  return k;
}

TestKey edKey() {
  TestKey k;
  k.ed = true;
  k.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  std::string raw(32, '\0');
  std::size_t len = raw.size();
  EVP_PKEY_get_raw_public_key(k.key.get(), reinterpret_cast<unsigned char*>(raw.data()), &len);
  k.txt = "v=DKIM1; k=ed25519; p=" + b64(raw);
  return k;
}

std::string sign(const TestKey& k, const std::string& data) {
  MdCtx ctx(EVP_MD_CTX_new());
  std::string in = data;
  if (k.ed) {  // RFC 8463: Ed25519 over the SHA-256 of the data
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    in.assign(reinterpret_cast<char*>(md), len);
    EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, k.key.get());
  } else {
    EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, k.key.get());
  }
  std::size_t len = 0;
  EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(in.data()), in.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(in.data()), in.size());
  sig.resize(len);
  return b64(sig);
}

std::string noCrlf(std::string s) {
  s.resize(s.size() - 2);
  return s;
}

const std::vector<std::pair<std::string, std::string>> kHeaders = {
    {"From", " Alice <alice@example.com>"},
    {"To", " bob@example.net"},
    {"Subject", " Hello  there"},
};
const std::string kBody = "Hi Bob,\r\n  how are you?\r\n\r\n";

// The message with ARC set 1 sealed by `k` as sel._domainkey.example.org.
std::string sealed(const TestKey& k) {
  const std::string a = k.ed ? "ed25519-sha256" : "rsa-sha256";
  mw::arc::BodyHasher bh(true);
  bh.update(kBody);
  const std::string aar = " i=1; lists.example.org; spf=pass smtp.mailfrom=example.com";
  std::string ams = " i=1; a=" + a + "; c=relaxed/relaxed; d=example.org; s=sel;\r\n\th=from:to:subject; bh=" +
                    b64(bh.digest()) + "; b=";
  std::string data;
  for (const auto& [n, v] : kHeaders) {
    data += mw::arc::canonHeaderRelaxed(n, v);
  }
  data += noCrlf(mw::arc::canonHeaderRelaxed("ARC-Message-Signature", ams));
  ams += sign(k, data);
  std::string as = " i=1; a=" + a + "; cv=none; d=example.org; s=sel; t=1690000000; b=";
  data = mw::arc::canonHeaderRelaxed("ARC-Authentication-Results", aar) +
         mw::arc::canonHeaderRelaxed("ARC-Message-Signature", ams) +
         noCrlf(mw::arc::canonHeaderRelaxed("ARC-Seal", as));
  as += sign(k, data);
  std::string msg = "ARC-Seal:" + as + "\r\nARC-Message-Signature:" + ams +
                    "\r\nARC-Authentication-Results:" + aar + "\r\n";
  for (const auto& [n, v] : kHeaders) {
    msg += n + ":" + v + "\r\n";
  }
  return msg + "\r\n" + kBody;
}

const char* kKeyName = "sel._domainkey.example.org";

TEST(ArcVerify, NoArcHeadersIsNone) {
  mw::dns::ZoneResolver zone;
  const auto v = mw::arc::verifyMessage("From: a@b.example\r\n\r\nbody\r\n", zone, kClock);
  EXPECT_EQ(v.cv, ChainResult::None);
  EXPECT_EQ(v.instances, 0);
}

TEST(ArcVerify, RsaChainPassesInAnyChunking) {
  const TestKey k = rsaKey(2048);
  mw::dns::ZoneResolver zone;
  zone.addTxt(kKeyName, k.txt);
  const std::string msg = sealed(k);
  for (const std::size_t chunk : {0U, 1U, 7U}) {
    const auto v = mw::arc::verifyMessage(msg, zone, kClock, {}, chunk);
    EXPECT_EQ(v.cv, ChainResult::Pass) << v.reason;
    EXPECT_EQ(v.instances, 1);
    ASSERT_TRUE(v.oldest_pass.has_value());
    EXPECT_EQ(*v.oldest_pass, 1);
    ASSERT_EQ(v.sealers.size(), 1U);
    EXPECT_EQ(v.sealers[0], "example.org");
  }
}

TEST(ArcVerify, Ed25519ChainPasses) {
  const TestKey k = edKey();
  mw::dns::ZoneResolver zone;
  zone.addTxt(kKeyName, k.txt);
  const auto v = mw::arc::verifyMessage(sealed(k), zone, kClock);
  EXPECT_EQ(v.cv, ChainResult::Pass) << v.reason;
}

TEST(ArcVerify, ChangedBodyOrHeaderFails) {
  const TestKey k = edKey();
  mw::dns::ZoneResolver zone;
  zone.addTxt(kKeyName, k.txt);
  std::string msg = sealed(k);
  const auto body_changed = mw::arc::verifyMessage(msg + "P.S.\r\n", zone, kClock);
  EXPECT_EQ(body_changed.cv, ChainResult::Fail);
  EXPECT_NE(body_changed.reason.find("body hash"), std::string::npos) << body_changed.reason;
  const std::size_t at = msg.find("Hello");
  msg[at] = 'J';
  const auto header_changed = mw::arc::verifyMessage(msg, zone, kClock);
  EXPECT_EQ(header_changed.cv, ChainResult::Fail);
}

TEST(ArcVerify, TemporaryKeyFailureIsFailWithTemperror) {
  const TestKey k = edKey();
  mw::dns::ZoneResolver zone;
  zone.setServfail(kKeyName);
  const auto v = mw::arc::verifyMessage(sealed(k), zone, kClock);
  EXPECT_EQ(v.cv, ChainResult::Fail);
  EXPECT_TRUE(v.temporary);
  EXPECT_EQ(v.reason.find("temperror"), v.reason.find("AMS i=1: ") + 9) << v.reason;
}

TEST(ArcVerify, MissingKeyIsPermanentFail) {
  const TestKey k = edKey();
  mw::dns::ZoneResolver zone;
  const auto v = mw::arc::verifyMessage(sealed(k), zone, kClock);
  EXPECT_EQ(v.cv, ChainResult::Fail);
  EXPECT_FALSE(v.temporary);
}

TEST(ArcVerify, RevokedKeyFails) {
  const TestKey k = rsaKey(2048);
  mw::dns::ZoneResolver zone;
  zone.addTxt(kKeyName, "v=DKIM1; k=rsa; p=");
  const auto v = mw::arc::verifyMessage(sealed(k), zone, kClock);
  EXPECT_EQ(v.cv, ChainResult::Fail);
  EXPECT_NE(v.reason.find("revoked"), std::string::npos) << v.reason;
}

TEST(ArcVerify, RsaKeyUnder1024BitsNeverPasses) {
  const TestKey k = rsaKey(512);
  mw::dns::ZoneResolver zone;
  zone.addTxt(kKeyName, k.txt);
  const auto v = mw::arc::verifyMessage(sealed(k), zone, kClock);
  EXPECT_EQ(v.cv, ChainResult::Fail);
  EXPECT_NE(v.reason.find("1024"), std::string::npos) << v.reason;
}

// --- structure (RFC 8617 §5.2 step 2) -------------------------------------------------

struct StructCase {
  const char* what;
  std::string headers;
  const char* reason;
};

TEST(ArcVerify, StructureErrorsFailWithAReason) {
  const std::string as1 = "ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.org; s=sel; b=AAAA\r\n";
  const std::string ams1 =
      "ARC-Message-Signature: i=1; a=rsa-sha256; d=example.org; s=sel; h=from; bh=AAAA; b=AAAA\r\n";
  const std::string aar1 = "ARC-Authentication-Results: i=1; example.org; none\r\n";
  const std::vector<StructCase> cases = {
      {"seal only", as1, "incomplete"},
      {"no AAR", as1 + ams1, "incomplete"},
      {"two AMS", as1 + ams1 + ams1 + aar1, "two ARC-Message-Signature"},
      {"gap", as1 + ams1 + aar1 +
                  "ARC-Seal: i=3; a=rsa-sha256; cv=pass; d=e.org; s=s; b=AAAA\r\n"
                  "ARC-Message-Signature: i=3; a=rsa-sha256; d=e.org; s=s; h=from; bh=AAAA; b=AAAA\r\n"
                  "ARC-Authentication-Results: i=3; e.org; none\r\n",
       "i=2 is missing"},
      {"i=51", "ARC-Seal: i=51; a=rsa-sha256; cv=pass; d=e.org; s=s; b=AAAA\r\n", "instance"},
      {"i=0", "ARC-Authentication-Results: i=0; e.org; none\r\n", "instance"},
      {"newest cv=fail", "ARC-Seal: i=1; a=rsa-sha256; cv=fail; d=example.org; s=sel; b=AAAA\r\n" + ams1 + aar1,
       "cv=fail"},
      {"i=1 cv=pass", "ARC-Seal: i=1; a=rsa-sha256; cv=pass; d=example.org; s=sel; b=AAAA\r\n" + ams1 + aar1,
       "cv=pass"},
      {"AS with h=", "ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.org; s=sel; h=from; b=AAAA\r\n" + ams1 + aar1,
       "h="},
      {"duplicate tag", "ARC-Seal: i=1; i=1; a=rsa-sha256; cv=none; d=example.org; s=sel; b=AAAA\r\n" + ams1 + aar1,
       "duplicate tag"},
      {"empty tag-spec", "ARC-Seal: i=1;; a=rsa-sha256; cv=none; d=example.org; s=sel; b=AAAA\r\n" + ams1 + aar1,
       "empty tag-spec"},
      {"AAR without i=", as1 + ams1 + "ARC-Authentication-Results: example.org; none\r\n", "instance"},
      {"garbage", "ARC-Seal: \x01\xff;;==\r\n", "ARC-Seal"},
  };
  mw::dns::ZoneResolver zone;
  for (const StructCase& c : cases) {
    const auto v = mw::arc::verifyMessage(c.headers + "From: a@b.example\r\n\r\nbody\r\n", zone, kClock);
    EXPECT_EQ(v.cv, ChainResult::Fail) << c.what;
    EXPECT_NE(v.reason.find(c.reason), std::string::npos) << c.what << ": " << v.reason;
    EXPECT_FALSE(v.oldest_pass.has_value()) << c.what;
    EXPECT_TRUE(v.sealers.empty()) << c.what;
  }
}

TEST(ArcVerify, TooManyArcFieldsFail) {
  std::string msg;
  for (int i = 0; i < 200; ++i) {
    msg += "ARC-Authentication-Results: i=1; e.org; none\r\n";
  }
  mw::dns::ZoneResolver zone;
  const auto v = mw::arc::verifyMessage(msg + "\r\n", zone, kClock);
  EXPECT_EQ(v.cv, ChainResult::Fail);
  EXPECT_NE(v.reason.find("more than"), std::string::npos) << v.reason;
}

}  // namespace
