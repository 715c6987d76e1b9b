// Unit tests of arc/seal.h: key loading and its errors, the published key record and
// checkPublishedKey over tests/keys/keys.zone, and seals checked by our own Verifier:
// first hop (cv=none), hops over an existing 1- and 2-instance chain (cv=pass), a broken
// chain (cv=fail), the newest AS saying cv=fail (no seal), N = 50 (no seal), a body
// changed after the seal (fail), and the errors of seal().
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "mailwarden/arc/arc.h"
#include "mailwarden/arc/seal.h"
#include "mailwarden/base/clock.h"
#include "mailwarden/dns/zone.h"

namespace {

using mw::arc::ChainResult;

const mw::FixedClock kClock(1700000000);
const std::string kKeys = MW_TEST_KEYS_DIR;

std::shared_ptr<const mw::arc::SealKey> key(const std::string& file) {
  mw::Result<mw::arc::SealKey> k = mw::arc::loadSealKey(kKeys + "/" + file);
  EXPECT_TRUE(k.has_value()) << (k ? "" : k.error().describe());
  return std::make_shared<const mw::arc::SealKey>(*k);
}

std::unique_ptr<mw::dns::ZoneResolver> keysZone() {
  auto zone = std::make_unique<mw::dns::ZoneResolver>();
  EXPECT_TRUE(zone->loadFile(kKeys + "/keys.zone").has_value());
  return zone;
}

mw::arc::SealOptions options(const std::string& file, const std::string& selector) {
  mw::arc::SealOptions o;
  o.domain = "dkim.test";
  o.selector = selector;
  o.key = key(file);
  return o;
}

const std::string kMessage =
    "From: Alice <alice@example.com>\r\n"
    "To: list@lists.example.org\r\n"
    "Subject: [list] hello  there\r\n"
    "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    "Message-ID: <1@example.com>\r\n"
    "\r\n"
    "Hi all,\r\nhow are you?\r\n";

const std::string kPayload = "lists.example.org; spf=pass smtp.mailfrom=example.com;\r\n\tdmarc=pass header.from=example.com";

std::string seal(const std::string& msg, const mw::arc::SealOptions& o, mw::dns::Resolver& zone,
                 mw::arc::Sealed* detail = nullptr) {
  const mw::Result<std::string> out = mw::arc::sealMessage(msg, o, kPayload, zone, kClock, detail);
  EXPECT_TRUE(out.has_value()) << (out ? "" : out.error().describe());
  return out ? *out : std::string();
}

// --- keys ---------------------------------------------------------------------------

TEST(SealKey, LoadsRsaAndEd25519) {
  const auto rsa = key("rsa2048.pem");
  EXPECT_EQ(rsa->algorithm(), mw::arc::SealAlgorithm::RsaSha256);
  EXPECT_EQ(rsa->bits(), 2048);
  const auto ed = key("ed25519.pem");
  EXPECT_EQ(ed->algorithm(), mw::arc::SealAlgorithm::Ed25519Sha256);
  EXPECT_EQ(mw::arc::toString(ed->algorithm()), "ed25519-sha256");
}

TEST(SealKey, LoadErrorsSayWhat) {
  const auto missing = mw::arc::loadSealKey(kKeys + "/no-such-key.pem");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, mw::Errc::Invalid);
  EXPECT_NE(missing.error().message.find("no-such-key.pem: cannot open"), std::string::npos)
      << missing.error().message;

  const auto garbage = mw::arc::parseSealKey("this is not a key\n");
  ASSERT_FALSE(garbage.has_value());
  EXPECT_NE(garbage.error().message.find("not a PEM private key"), std::string::npos);

  const auto small = mw::arc::loadSealKey(kKeys + "/rsa512.pem");
  ASSERT_FALSE(small.has_value());
  EXPECT_NE(small.error().message.find("512 bits"), std::string::npos) << small.error().message;
  EXPECT_NE(small.error().message.find("rsa512.pem: "), std::string::npos);

  const auto ec = mw::arc::loadSealKey(kKeys + "/ec-p256.pem");
  ASSERT_FALSE(ec.has_value());
  EXPECT_NE(ec.error().message.find("unsupported key type"), std::string::npos)
      << ec.error().message;

  const auto pub = mw::arc::parseSealKey(
      "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAgzkyTmNplt1Ut1xcbmTKnKx7DJ4REsHnNGPnNp2UP/w=\n"
      "-----END PUBLIC KEY-----\n");
  EXPECT_FALSE(pub.has_value());  // a public key is not a private key
}

TEST(SealKey, PublicKeyRecordIsWhatKeysZonePublishes) {
  // keys.zone was written with openssl (tests/keys/README); ours must be the same record.
  EXPECT_EQ(mw::arc::publicKeyRecord(*key("ed25519.pem")),
            "v=DKIM1; k=ed25519; p=gzkyTmNplt1Ut1xcbmTKnKx7DJ4REsHnNGPnNp2UP/w=");
  const std::string rsa = mw::arc::publicKeyRecord(*key("rsa1024.pem"));
  EXPECT_EQ(rsa.rfind("v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCu9tCkT6TdSiBITurJu", 0), 0U)
      << rsa;
  // Round trip through the parser of the Verifier: a record we publish is accepted.
  mw::dns::ZoneResolver zone;
  zone.addTxt("x._domainkey.example.org", rsa);
  EXPECT_TRUE(mw::arc::checkPublishedKey(*key("rsa1024.pem"), "example.org", "x", zone).has_value());
}

TEST(SealKey, CheckPublishedKey) {
  const auto zone = keysZone();
  EXPECT_TRUE(mw::arc::checkPublishedKey(*key("rsa2048.pem"), "dkim.test", "rsa2048", *zone).has_value());
  EXPECT_TRUE(mw::arc::checkPublishedKey(*key("ed25519.pem"), "dkim.test", "ed25519", *zone).has_value());

  const auto other = mw::arc::checkPublishedKey(*key("rsa2048.pem"), "dkim.test", "rsa1024", *zone);
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().code, mw::Errc::Invalid);
  EXPECT_NE(other.error().message.find("not the public half"), std::string::npos)
      << other.error().message;

  const auto none = mw::arc::checkPublishedKey(*key("rsa2048.pem"), "dkim.test", "nosuch", *zone);
  ASSERT_FALSE(none.has_value());
  EXPECT_NE(none.error().message.find("no key record is published; publish \"v=DKIM1; k=rsa; p="),
            std::string::npos)
      << none.error().message;

  const auto revoked = mw::arc::checkPublishedKey(*key("rsa2048.pem"), "dkim.test", "revoked", *zone);
  ASSERT_FALSE(revoked.has_value());
  EXPECT_NE(revoked.error().message.find("revoked"), std::string::npos);

  const auto timeout = mw::arc::checkPublishedKey(*key("ed25519.pem"), "dkim.test", "timeout", *zone);
  ASSERT_FALSE(timeout.has_value());
  EXPECT_EQ(timeout.error().code, mw::Errc::TempFail);
}

// --- sealing ------------------------------------------------------------------------

TEST(Sealer, FirstHopVerifiesRsaAndEd25519) {
  const auto zone = keysZone();
  for (const auto& [file, selector] : {std::pair<std::string, std::string>{"rsa2048.pem", "rsa2048"},
                                      {"ed25519.pem", "ed25519"}}) {
    mw::arc::Sealed detail;
    const std::string sealed = seal(kMessage, options(file, selector), *zone, &detail);
    ASSERT_EQ(detail.fields.size(), 3U) << detail.skipped;
    EXPECT_EQ(detail.fields[0].name, "ARC-Seal");
    EXPECT_EQ(detail.fields[1].name, "ARC-Message-Signature");
    EXPECT_EQ(detail.fields[2].name, "ARC-Authentication-Results");
    EXPECT_EQ(detail.instance, 1);
    EXPECT_EQ(detail.cv, ChainResult::None);
    EXPECT_NE(detail.fields[0].value.find("cv=none; d=dkim.test; i=1; s=" + selector + "; t=1700000000"),
              std::string::npos)
        << detail.fields[0].value;
    EXPECT_EQ(detail.fields[2].value.rfind("i=1; lists.example.org; spf=pass", 0), 0U);
    // The default h=: the RFC 6376 §5.4.1 fields the message has.
    EXPECT_NE(detail.fields[1].value.find("h=from:subject:date:to:message-id;"), std::string::npos)
        << detail.fields[1].value;
    for (const mw::arc::Field& f : detail.fields) {
      EXPECT_NE(f.value.front(), ' ');
    }
    // AS and AMS are folded only as CRLF SP (fold()); the AAR keeps the payload's folding.
    for (std::size_t k = 0; k < 2; ++k) {
      EXPECT_EQ(detail.fields[k].value.find("\r\n\t"), std::string::npos);
    }
    for (const std::size_t chunk : {0U, 3U}) {
      const mw::arc::Validation v = mw::arc::verifyMessage(sealed, *zone, kClock, {}, chunk);
      EXPECT_EQ(v.cv, ChainResult::Pass) << file << ": " << v.reason;
      EXPECT_EQ(v.instances, 1);
      ASSERT_EQ(v.sealers.size(), 1U);
      EXPECT_EQ(v.sealers[0], "dkim.test");
    }
  }
}

TEST(Sealer, SecondAndThirdHopOverAnExistingChain) {
  const auto zone = keysZone();
  const std::string one = seal(kMessage, options("ed25519.pem", "ed25519"), *zone);
  mw::arc::Sealed detail;
  const std::string two = seal(one, options("rsa2048.pem", "rsa2048"), *zone, &detail);
  EXPECT_EQ(detail.instance, 2);
  EXPECT_EQ(detail.cv, ChainResult::Pass);
  mw::arc::Validation v = mw::arc::verifyMessage(two, *zone, kClock);
  EXPECT_EQ(v.cv, ChainResult::Pass) << v.reason;
  EXPECT_EQ(v.instances, 2);
  EXPECT_EQ(v.oldest_pass, 1);

  const std::string three = seal(two, options("ed25519.pem", "ed25519"), *zone, &detail);
  EXPECT_EQ(detail.instance, 3);
  v = mw::arc::verifyMessage(three, *zone, kClock);
  EXPECT_EQ(v.cv, ChainResult::Pass) << v.reason;
  EXPECT_EQ(v.instances, 3);
  EXPECT_EQ(v.sealers, (std::vector<std::string>{"dkim.test", "dkim.test", "dkim.test"}));
}

TEST(Sealer, ABodyChangedAfterTheSealFails) {
  const auto zone = keysZone();
  const std::string sealed = seal(kMessage, options("rsa2048.pem", "rsa2048"), *zone);
  std::string changed = sealed;
  changed.replace(changed.find("how are you"), 3, "who");
  const mw::arc::Validation v = mw::arc::verifyMessage(changed, *zone, kClock);
  EXPECT_EQ(v.cv, ChainResult::Fail);
  EXPECT_NE(v.reason.find("body hash mismatch"), std::string::npos) << v.reason;
}

TEST(Sealer, ABrokenChainIsSealedWithCvFailThenNeverAgain) {
  const auto zone = keysZone();
  std::string one = seal(kMessage, options("ed25519.pem", "ed25519"), *zone);
  one.replace(one.find("how are you"), 3, "who");  // a forwarder that does not seal
  mw::arc::Sealed detail;
  const std::string two = seal(one, options("rsa2048.pem", "rsa2048"), *zone, &detail);
  ASSERT_EQ(detail.fields.size(), 3U) << detail.skipped;
  EXPECT_EQ(detail.instance, 2);
  EXPECT_EQ(detail.cv, ChainResult::Fail);
  EXPECT_NE(detail.fields[0].value.find("cv=fail"), std::string::npos);
  const mw::arc::Validation v = mw::arc::verifyMessage(two, *zone, kClock);
  EXPECT_EQ(v.cv, ChainResult::Fail);
  EXPECT_EQ(v.reason, "the newest ARC-Seal says cv=fail");
  // §5.1 step 1: nothing more is added.
  const std::string three = seal(two, options("rsa2048.pem", "rsa2048"), *zone, &detail);
  EXPECT_TRUE(detail.fields.empty());
  EXPECT_NE(detail.skipped.find("cv=fail"), std::string::npos);
  EXPECT_EQ(three, two);
}

TEST(Sealer, NoSealPastFiftyInstances) {
  const auto zone = keysZone();
  const auto o = options("ed25519.pem", "ed25519");
  std::string msg = kMessage;
  mw::arc::Sealed detail;
  for (int i = 1; i <= mw::arc::kMaxInstances; ++i) {
    msg = seal(msg, o, *zone, &detail);
    ASSERT_EQ(detail.instance, i) << detail.skipped;
  }
  EXPECT_EQ(mw::arc::verifyMessage(msg, *zone, kClock).cv, ChainResult::Pass);
  const std::string more = seal(msg, o, *zone, &detail);
  EXPECT_TRUE(detail.fields.empty());
  EXPECT_NE(detail.skipped.find("50 instances"), std::string::npos) << detail.skipped;
  EXPECT_EQ(more, msg);
}

TEST(Sealer, ATemporaryFailureIsNotSealedAsFail) {
  const auto zone = keysZone();
  const std::string one = seal(kMessage, options("ed25519.pem", "timeout"), *zone);
  mw::arc::Sealed detail;
  seal(one, options("rsa2048.pem", "rsa2048"), *zone, &detail);
  EXPECT_TRUE(detail.fields.empty());
  EXPECT_NE(detail.skipped.find("temporary"), std::string::npos) << detail.skipped;
}

TEST(Sealer, ExplicitHeadersAndErrors) {
  const auto zone = keysZone();
  auto o = options("rsa2048.pem", "rsa2048");
  o.headers = {"From", "Subject", "ARC-Authentication-Results", "X-Absent"};
  o.timestamp = 1600000000;
  mw::arc::Sealed detail;
  const std::string sealed = seal(kMessage, o, *zone, &detail);
  ASSERT_EQ(detail.fields.size(), 3U);
  EXPECT_NE(detail.fields[1].value.find("h=from:subject:arc-authentication-results:x-absent;"),
            std::string::npos);
  EXPECT_NE(detail.fields[1].value.find("t=1600000000"), std::string::npos);
  EXPECT_EQ(mw::arc::verifyMessage(sealed, *zone, kClock).cv, ChainResult::Pass);

  o.headers = {"from", "arc-seal"};
  EXPECT_FALSE(mw::arc::checkSealOptions(o).has_value());
  o.headers.clear();
  o.selector = "bad selector";
  EXPECT_FALSE(mw::arc::checkSealOptions(o).has_value());
  o.selector = "rsa2048";
  o.key.reset();
  EXPECT_FALSE(mw::arc::checkSealOptions(o).has_value());

  mw::arc::Sealer sealer(options("rsa2048.pem", "rsa2048"), kClock);
  sealer.header("From", " a@example.com");
  sealer.body("x\r\n");
  const auto bad = sealer.seal(mw::arc::Validation{}, "a; spf=pass\nInjected: yes");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, mw::Errc::Invalid);
  EXPECT_FALSE(sealer.seal(mw::arc::Validation{}, "a; spf=pass").has_value());  // twice
}

}  // namespace
