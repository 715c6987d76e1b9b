// dkim/verify.cpp — Library and Verifier over libopendkim (see dkim/dkim.h for the
// policy). libopendkim traps handled here (FINDINGS.md §3 and its source):
//  - Key lookup: dkim_set_key_lookup() with our resolver. The callback must return
//    DKIM_CBSTAT_* codes; TRYAGAIN and ERROR abort dkim_eoh() for *every* signature
//    (measured: dkim_eoh returns DKIM_STAT_CBERROR and no signature is evaluated). Only
//    NOTFOUND stays per signature, so every failed lookup returns NOTFOUND and we keep
//    the real outcome in a note that decides that signature's result: the one DNS
//    mapping (dns::classify) makes a Temporary lookup temperror and an Absent one
//    permerror "no key" (RFC 6376 §6.1.2: TEMPFAIL for that key only; RFC 8601 §2.7.1
//    dkim=temperror).
//  - Callbacks are called from C: no exception may cross them. Each catches everything
//    and returns DKIM_CBSTAT_TRYAGAIN, libopendkim's temporary failure, and flags the
//    verifier (noexcept): every signature it could not decide is then temperror.
//  - Time: libopendkim judges t=/x= with time(2) in dkim_siglist_setup(), before any
//    callback, and its future test computes `t - drift` unsigned (a small t wraps
//    around and looks like the future). Neither is our Clock. DKIM_OPTS_CLOCKDRIFT is
//    set to kLibraryDrift (31 years) so it never decides for a signature of this century;
//    the prescreen callback then judges t=/x= against our Clock (`check --now`).
//  - rsa-sha1 passes in libopendkim: we report "policy" (RFC 8301 §3.1).
//  - DKIM_OPTS_MINKEYBITS 1024 is kept, and the key size is checked again on a pass.
//  - Without DKIM_LIBFLAGS_BADSIGHANDLES one bad DKIM-Signature makes dkim_eoh() fail
//    for the whole message.
//  - Signatures beyond max_signatures are marked with dkim_sig_ignore() in the
//    prescreen callback: no DNS query, no hashing.
#include "dkim/opendkim.h"
#include "dkim/key_cache.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mailwarden/base/ascii.h"
#include "mailwarden/base/unique_c.h"
#include "mailwarden/dkim/dkim.h"
#include "mailwarden/dns/idna.h"
#include "mailwarden/message/reader.h"

namespace mw::dkim {
namespace {

using DkimLib = UniqueC<DKIM_LIB, dkim_close>;
using DkimHandle = UniqueC<DKIM, dkim_free>;

// See the file comment: libopendkim's own time checks must never fire for a signature
// made after 2001 (t >= this value) or expiring before 1995 + 31 years from now.
constexpr std::uint64_t kLibraryDrift = 1'000'000'000;

// The longest key record we accept (RFC 6376 §3.6.2.2 allows several strings; a
// 4096-bit RSA key record is ~800 bytes). libopendkim's buffer is BUFRSZ (1024) + 1.
constexpr std::size_t kMaxKeyRecord = 1024;

// What we learned about one signature outside libopendkim.
struct SigNote {
  Status result = Status::PermError;
  std::string reason;
};

}  // namespace

std::string_view toString(Status r) noexcept {
  switch (r) {
    case Status::Pass: return "pass";
    case Status::Fail: return "fail";
    case Status::Neutral: return "neutral";
    case Status::Policy: return "policy";
    case Status::TempError: return "temperror";
    case Status::PermError: return "permerror";
  }
  MW_UNREACHABLE("dkim::Status");
}

struct Library::Impl {
  DkimLib lib;
};

struct Verifier::Impl {
  const Library& library;
  dns::Resolver& resolver;
  const dns::Budget& budget;
  const Clock& clock;
  VerifyOptions options;
  DkimHandle dkim;
  std::string setup_error;    // dkim_verify() failed
  std::string message_error;  // a library call failed for the message as a whole
  bool eoh_done = false;
  bool skip = false;  // no signatures (or nothing left to do): stop feeding
  bool finished = false;
  bool callback_failed = false;  // a callback caught an exception (see the file comment)
  Outcome outcome;
  int not_evaluated = 0;
  std::map<const DKIM_SIGINFO*, SigNote> notes;  // keyed by libopendkim's handle
  std::string field;  // reused buffer for "Name:value"
  std::vector<std::pair<std::string, std::string>> pending;  // header until endOfHeaders()
  std::map<std::size_t, SignatureResult> withheld;  // by index among DKIM-Signature fields

  Impl(const Library& l, dns::Resolver& r, const dns::Budget& b, const Clock& c, VerifyOptions o)
      : library(l), resolver(r), budget(b), clock(c), options(o) {}

  void collect();
  void collectLibrary();
  void withholdOversigned();
};

namespace {

std::string lowerCopy(const unsigned char* s) {
  return s == nullptr ? std::string() : ascii::lower(reinterpret_cast<const char*>(s));
}

// RFC 8616 §5: in internationalized mail d= (and the domain of i=) may be U-labels; the
// key is looked up, and the domain reported and aligned, in A-labels (dns::lookupDomain).
using dns::lookupDomain;

std::string keyNameOf(std::string_view selector, std::string_view domain) {
  std::string name(selector);
  name += "._domainkey.";
  name += domain;
  return name;
}

std::string tag(DKIM_SIGINFO* sig, const char* name) {
  // dkim_sig_gettagvalue() takes a non-const pointer it does not write through.
  unsigned char* v = dkim_sig_gettagvalue(
      sig, false, reinterpret_cast<unsigned char*>(const_cast<char*>(name)));
  return v == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(v));
}

// The i= value decoded as dkim-quoted-printable (RFC 6376 §2.11: "=" and two HEXDIG,
// FWS ignored), or nullopt when it is empty or malformed. Ours, not
// dkim_sig_getidentity(): libopendkim's dkim_qp_decode() reads past the end of a value
// that ends in an incomplete escape ("...=E"), and the stray heap byte reached the
// Authentication-Results field (found by the scan fuzzer, confirmed with valgrind).
std::optional<std::string> decodeQp(std::string_view v) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;  // RFC 6376 says HEXDIG; be lenient on case
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      continue;
    }
    if (c != '=') {
      out += c;
      continue;
    }
    if (i + 2 >= v.size()) {
      return std::nullopt;  // an escape cut short: the value is malformed
    }
    const int hi = hex(v[i + 1]);
    const int lo = hex(v[i + 2]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  if (out.empty()) {
    return std::nullopt;
  }
  return out;
}

// A t=/x= value: 1*12DIGIT (RFC 6376 §3.5 allows 12 digits at most).
std::optional<std::int64_t> timeTag(const std::string& v) {
  if (v.empty() || v.size() > 12) {
    return std::nullopt;
  }
  std::int64_t out = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || end != v.data() + v.size()) {
    return std::nullopt;
  }
  return out;
}

Verifier::Impl* contextOf(DKIM* dkim) {
  return static_cast<Verifier::Impl*>(dkim_get_user_context(dkim));
}

// prescreen - called once in dkim_eoh() with every signature, before any key lookup:
// applies max_signatures and our Clock's view of t=/x=.
DKIM_CBSTAT prescreenImpl(DKIM* dkim, DKIM_SIGINFO** sigs, int nsigs) {
  Verifier::Impl* ctx = contextOf(dkim);
  if (ctx == nullptr) {
    return DKIM_CBSTAT_ERROR;
  }
  const std::int64_t now = ctx->clock.now();
  const std::int64_t drift = ctx->options.clock_drift;
  for (int i = 0; i < nsigs; ++i) {
    DKIM_SIGINFO* sig = sigs[i];
    if (i >= ctx->options.max_signatures) {
      dkim_sig_ignore(sig);
      ++ctx->not_evaluated;
      continue;
    }
    if (dkim_sig_geterror(sig) != DKIM_SIGERROR_UNKNOWN) {
      continue;  // already unusable; libopendkim says why
    }
    // RFC 6376 §3.5 t=: "Verifiers MAY ignore signatures with a timestamp in the future";
    // x=: signatures past it "MAY be considered invalid". We do both, with the drift.
    if (const auto t = timeTag(tag(sig, "t")); t && *t > now + drift) {
      dkim_sig_ignore(sig);
      ctx->notes[sig] = {Status::Policy, "signature timestamp t=" + std::to_string(*t) +
                                             " is in the future, now " + std::to_string(now)};
      continue;
    }
    if (const auto x = timeTag(tag(sig, "x")); x && now > *x + drift) {
      dkim_sig_ignore(sig);
      ctx->notes[sig] = {Status::Policy, "signature expired at x=" + std::to_string(*x) +
                                             ", now " + std::to_string(now)};
      continue;
    }
  }
  return DKIM_CBSTAT_CONTINUE;
}

// keyLookup - TXT selector._domainkey.domain through our resolver (RFC 6376 §3.6.2).
DKIM_CBSTAT keyLookupImpl(DKIM* dkim, DKIM_SIGINFO* sig, unsigned char* buf, size_t buflen) {
  Verifier::Impl* ctx = contextOf(dkim);
  if (ctx == nullptr || buflen == 0) {
    return DKIM_CBSTAT_ERROR;  // cannot happen: every Verifier sets its context
  }
  const unsigned char* sel = dkim_sig_getselector(sig);
  const unsigned char* dom = dkim_sig_getdomain(sig);
  if (sel == nullptr || dom == nullptr) {
    ctx->notes[sig] = {Status::PermError, "no selector or domain"};
    return DKIM_CBSTAT_NOTFOUND;
  }
  const std::optional<std::string> d = lookupDomain(reinterpret_cast<const char*>(dom));
  if (!d) {
    ctx->notes[sig] = {Status::PermError, "d= is not a valid internationalized domain name"};
    return DKIM_CBSTAT_NOTFOUND;
  }
  const std::string name = keyNameOf(reinterpret_cast<const char*>(sel), *d);
  // RFC 6376 §3.5/§6.1.1: d= and s= must form a domain name; one that is not a DNS
  // name is a broken signature (permerror), not a DNS failure (dns::Outcome::BadName).
  const auto bad_name = [&] {
    ctx->notes[sig] = {Status::PermError, "key name " + name + " is not a DNS name"};
    return DKIM_CBSTAT_NOTFOUND;
  };
  if (!dns::isQueryableName(name)) {
    return bad_name();
  }
  const dns::Answer a = ctx->resolver.query(name, dns::Type::TXT, ctx->budget);
  switch (dns::classify(a)) {  // the one DNS mapping (dns/resolver.h)
    case dns::Outcome::Found:
      break;
    case dns::Outcome::Absent:
      // RFC 6376 §6.1.2 step 3: no key record is PERMFAIL (libopendkim: NOKEY).
      return DKIM_CBSTAT_NOTFOUND;
    case dns::Outcome::Temporary:
      // §6.1.2: "If the query for the public key fails to respond, the Verifier MAY seek
      // a later verification attempt by returning TEMPFAIL": SERVFAIL, a timeout,
      // REFUSED, NOTIMP, an answer that does not parse.
      ctx->notes[sig] = {Status::TempError, "key lookup " + name + ": " +
                                                std::string(dns::toString(a.status)) +
                                                (a.why.empty() ? "" : " (" + a.why + ")")};
      return DKIM_CBSTAT_NOTFOUND;
    case dns::Outcome::BadName:
      return bad_name();
  }
  if (a.txt.size() != 1) {
    // RFC 6376 §3.6.2.2: several records "can" be tried or failed; we fail, as
    // libopendkim's own resolver does (DKIM_SIGERROR_MULTIREPLY).
    ctx->notes[sig] = {Status::PermError,
                       "key lookup " + name + ": " + std::to_string(a.txt.size()) + " TXT records"};
    return DKIM_CBSTAT_NOTFOUND;
  }
  const std::string& rec = a.txt.front();
  if (rec.find('\0') != std::string::npos) {
    ctx->notes[sig] = {Status::PermError, "key record " + name + " contains a NUL byte"};
    return DKIM_CBSTAT_NOTFOUND;
  }
  if (rec.size() > kMaxKeyRecord || rec.size() + 1 > buflen) {
    ctx->notes[sig] = {Status::PermError, "key record " + name + " is too long"};
    return DKIM_CBSTAT_NOTFOUND;
  }
  std::memcpy(buf, rec.data(), rec.size());
  buf[rec.size()] = '\0';
  return DKIM_CBSTAT_CONTINUE;
}

// The callbacks libopendkim calls (C): nothing may unwind through it. Whatever escapes
// (std::bad_alloc from a note, an exception from a resolver) becomes libopendkim's
// temporary failure and marks the verifier, whose undecided signatures are then
// temperror (collectLibrary).
DKIM_CBSTAT failedCallback(DKIM* dkim) noexcept {
  if (Verifier::Impl* ctx = contextOf(dkim)) {
    ctx->callback_failed = true;
  }
  return DKIM_CBSTAT_TRYAGAIN;
}

DKIM_CBSTAT prescreen(DKIM* dkim, DKIM_SIGINFO** sigs, int nsigs) noexcept {
  try {
    return prescreenImpl(dkim, sigs, nsigs);
  } catch (...) {
    return failedCallback(dkim);
  }
}

DKIM_CBSTAT keyLookup(DKIM* dkim, DKIM_SIGINFO* sig, unsigned char* buf, size_t buflen) noexcept {
  try {
    return keyLookupImpl(dkim, sig, buf, buflen);
  } catch (...) {
    return failedCallback(dkim);
  }
}

// dkim_getresultstr() returns NULL for codes it has no text for.
std::string resultText(DKIM_STAT st) {
  const char* s = dkim_getresultstr(st);
  return s != nullptr ? std::string(s) : "status " + std::to_string(st);
}

unsigned keyBits(DKIM_SIGINFO* sig) {
  unsigned bits = 0;
  if (dkim_sig_getkeysize(sig, &bits) != DKIM_STAT_OK) {
    return 0;
  }
  return bits;
}

std::string sigErrorText(int err) {
  const char* s = dkim_sig_geterrorstr(err);
  return s != nullptr ? std::string(s) : "error " + std::to_string(err);
}

}  // namespace

Library::Library() : impl_(std::make_unique<Impl>()) {}
Library::~Library() = default;

Result<std::shared_ptr<const Library>> Library::create() {
  std::shared_ptr<Library> lib(new Library());
  lib->impl_->lib.reset(dkim_init(nullptr, nullptr));
  DKIM_LIB* h = lib->impl_->lib.get();
  if (h == nullptr) {
    return fail(Errc::Internal, "dkim_init failed");
  }
  if (!dkim_libfeature(h, DKIM_FEATURE_ED25519)) {
    return fail(Errc::Internal, "libopendkim was built without Ed25519 (RFC 8463)");
  }
  enableKeyCache();  // decoded RSA keys reused across messages (key_cache.cpp)
  unsigned int flags = DKIM_LIBFLAGS_BADSIGHANDLES;
  std::uint64_t drift = kLibraryDrift;
  unsigned int min_bits = 1024;  // RFC 8301 §3.2
  if (dkim_options(h, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags) != DKIM_STAT_OK ||
      dkim_options(h, DKIM_OP_SETOPT, DKIM_OPTS_CLOCKDRIFT, &drift, sizeof drift) != DKIM_STAT_OK ||
      dkim_options(h, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &min_bits, sizeof min_bits) !=
          DKIM_STAT_OK ||
      dkim_set_key_lookup(h, keyLookup) != DKIM_STAT_OK ||
      dkim_set_prescreen(h, prescreen) != DKIM_STAT_OK) {
    return fail(Errc::Internal, "libopendkim refused an option");
  }
  return std::shared_ptr<const Library>(std::move(lib));
}

Verifier::Verifier(const Library& library, dns::Resolver& resolver, const dns::Budget& budget,
                   const Clock& clock, VerifyOptions options)
    : impl_(std::make_unique<Impl>(library, resolver, budget, clock, options)) {
  DKIM_STAT st = DKIM_STAT_OK;
  static const unsigned char kId[] = "mailwarden";
  impl_->dkim.reset(dkim_verify(library.impl_->lib.get(), kId, nullptr, &st));
  if (!impl_->dkim) {
    impl_->setup_error = std::string("dkim_verify: ") + resultText(st);
    impl_->skip = true;
    return;
  }
  dkim_set_user_context(impl_->dkim.get(), impl_.get());
}

Verifier::~Verifier() = default;

void Verifier::header(std::string_view name, std::string_view value) {
  Impl& m = *impl_;
  if (m.skip || m.eoh_done) {
    return;
  }
  // Kept until endOfHeaders(): the overflow guard needs the whole header (libopendkim
  // keeps a copy of every field until dkim_eoh() anyway).
  m.pending.emplace_back(std::string(name), std::string(value));
}

namespace {


// How often h= names DKIM-Signature.
std::size_t signedSignatureFields(std::string_view value) {
  const std::optional<std::string> h = signatureTag(value, "h");
  std::size_t n = 0;
  if (!h) {
    return 0;
  }
  std::size_t pos = 0;
  while (pos <= h->size()) {
    const std::size_t colon = std::min(h->find(':', pos), h->size());
    n += ascii::iequals(std::string_view(*h).substr(pos, colon - pos), "dkim-signature") ? 1 : 0;
    pos = colon + 1;
  }
  return n;
}

}  // namespace

// withholdOversigned - libopendkim 2.11.0~beta2 writes past a heap array in dkim_eoh()
// when a signature's h= names DKIM-Signature more often than the message has such
// fields (found by tests/fuzz/dkim_verify_fuzz.cpp; valgrind: "Invalid write of size
// 8" after a 32-byte block, then a bad free in dkim_free()). The exact condition
// inside libopendkim is not known; we withhold every signature whose h= names
// DKIM-Signature more often than the message has *other* DKIM-Signature fields (RFC
// 6376 §5.4.2 would hash the extra names as empty; signers that over-sign
// DKIM-Signature are rare): permerror with the reason, never given to libopendkim. The
// withheld field is not fed either, so signatures covering it fail.
void Verifier::Impl::withholdOversigned() {
  std::size_t signature_fields = 0;
  for (const auto& [name, value] : pending) {
    signature_fields += ascii::iequals(name, DKIM_SIGNHEADER) ? 1 : 0;
  }
  std::size_t index = 0;  // among DKIM-Signature fields
  for (auto& [name, value] : pending) {
    if (!ascii::iequals(name, DKIM_SIGNHEADER)) {
      continue;
    }
    if (signedSignatureFields(value) > signature_fields - 1) {
      SignatureResult r;
      r.result = Status::PermError;
      r.domain = ascii::lower(signatureTag(value, "d").value_or(""));
      r.selector = signatureTag(value, "s").value_or("");
      r.algorithm = ascii::lower(signatureTag(value, "a").value_or(""));
      r.b_prefix = signatureTag(value, "b").value_or("").substr(0, 8);
      r.reason = "h= names DKIM-Signature more often than the message has other such fields";
      withheld.emplace(index, std::move(r));
      name.clear();  // not fed
    }
    ++index;
  }
}

void Verifier::endOfHeaders() {
  Impl& m = *impl_;
  if (m.eoh_done) {
    return;
  }
  m.eoh_done = true;
  if (m.skip) {
    return;
  }
  m.withholdOversigned();
  for (auto& [name, value] : m.pending) {
    if (name.empty()) {
      continue;
    }
    m.field.assign(name);
    m.field += ':';
    m.field.append(value);
    // A field libopendkim refuses (no colon in its view, too long) is left out of its
    // view; the signatures that cover it then fail, which is the right outcome.
    static_cast<void>(dkim_header(m.dkim.get(), reinterpret_cast<unsigned char*>(m.field.data()),
                                  m.field.size()));
  }
  m.pending.clear();
  m.pending.shrink_to_fit();
  const DKIM_STAT st = dkim_eoh(m.dkim.get());
  switch (st) {
    case DKIM_STAT_OK:
      return;
    case DKIM_STAT_NOSIG:
      // No signature, or every one ignored by prescreen: nothing to hash.
      m.skip = true;
      return;
    default:
      m.message_error = std::string("dkim_eoh: ") + resultText(st);
      if (const char* e = dkim_geterror(m.dkim.get()); e != nullptr && *e != '\0') {
        m.message_error += std::string(" (") + e + ")";
      }
      m.skip = true;
      return;
  }
}

void Verifier::body(std::string_view chunk) {
  Impl& m = *impl_;
  if (!m.eoh_done) {
    endOfHeaders();
  }
  if (m.skip || chunk.empty()) {
    return;
  }
  // dkim_body() takes a non-const pointer but does not write through it.
  const DKIM_STAT st = dkim_body(
      m.dkim.get(), reinterpret_cast<unsigned char*>(const_cast<char*>(chunk.data())), chunk.size());
  if (st != DKIM_STAT_OK) {
    m.message_error = std::string("dkim_body: ") + resultText(st);
    m.skip = true;
  }
}

Outcome Verifier::finish() {
  Impl& m = *impl_;
  if (!m.eoh_done) {
    endOfHeaders();
  }
  if (m.finished) {
    return m.outcome;
  }
  m.finished = true;
  if (!m.setup_error.empty()) {
    m.outcome.error = m.setup_error;
    return m.outcome;
  }
  if (!m.skip) {
    bool testkey = false;
    // The per-signature state tells the story (BADSIG, bh mismatch, ...); the overall
    // status only matters when nothing per signature explains it.
    const DKIM_STAT st = dkim_eom(m.dkim.get(), &testkey);
    if (st == DKIM_STAT_INTERNAL || st == DKIM_STAT_NORESOURCE) {
      m.message_error = std::string("dkim_eom: ") + resultText(st);
    }
  }
  if (m.callback_failed) {
    m.message_error = "key lookup or prescreen failed inside mailwarden" +
                      (m.message_error.empty() ? std::string() : " (" + m.message_error + ")");
  }
  m.collect();
  m.outcome.error = m.message_error;
  m.outcome.temporary = m.callback_failed;
  return m.outcome;
}

void Verifier::Impl::collect() {
  collectLibrary();
  if (withheld.empty()) {
    return;
  }
  // Put the withheld signatures back in header order, then apply max_signatures.
  std::vector<SignatureResult> merged;
  std::size_t next = 0;
  const std::size_t total = outcome.signatures.size() + withheld.size();
  for (std::size_t i = 0; i < total; ++i) {
    if (const auto w = withheld.find(i); w != withheld.end()) {
      merged.push_back(std::move(w->second));
    } else if (next < outcome.signatures.size()) {
      merged.push_back(std::move(outcome.signatures[next++]));
    }
  }
  const auto max = static_cast<std::size_t>(std::max(options.max_signatures, 0));
  if (merged.size() > max) {
    outcome.not_evaluated += static_cast<int>(merged.size() - max);
    merged.resize(max);
  }
  outcome.signatures = std::move(merged);
}

void Verifier::Impl::collectLibrary() {
  outcome.not_evaluated = not_evaluated;
  DKIM_SIGINFO** sigs = nullptr;
  int n = 0;
  if (dkim_getsiglist(dkim.get(), &sigs, &n) != DKIM_STAT_OK || sigs == nullptr) {
    return;
  }
  for (int i = 0; i < n && i < options.max_signatures; ++i) {
    DKIM_SIGINFO* sig = sigs[i];
    SignatureResult r;
    r.domain = lowerCopy(dkim_sig_getdomain(sig));
    if (std::optional<std::string> d = lookupDomain(r.domain)) {
      r.domain = std::move(*d);  // A-labels (RFC 8616 §5); an invalid IDN stays as given
    }
    const unsigned char* sel = dkim_sig_getselector(sig);
    r.selector = sel != nullptr ? reinterpret_cast<const char*>(sel) : "";
    r.algorithm = ascii::lower(tag(sig, "a"));
    if (std::optional<std::string> id = decodeQp(tag(sig, "i"))) {
      r.identity = std::move(*id);
      // The AUID's domain in A-labels too (RFC 8616 §5), for header.i; a UTF-8 local-part
      // stays (verdict/ escapes it).
      const std::size_t at = r.identity.rfind('@');
      if (at != std::string::npos) {
        if (std::optional<std::string> d = lookupDomain(std::string_view(r.identity).substr(at + 1));
            d && dns::hasNonAscii(std::string_view(r.identity).substr(at + 1))) {
          r.identity = r.identity.substr(0, at + 1) + *d;
        }
      }
    }
    for (const char c : tag(sig, "b")) {
      if (r.b_prefix.size() == 8) {
        break;
      }
      if (!ascii::isWsp(c)) {
        r.b_prefix += c;
      }
    }
    const unsigned flags = dkim_sig_getflags(sig);
    const int err = dkim_sig_geterror(sig);
    const bool processed = (flags & DKIM_SIGFLAG_PROCESSED) != 0;
    r.key_bits = processed || err == DKIM_SIGERROR_KEYTOOSMALL ? keyBits(sig) : 0;
    dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
    static_cast<void>(dkim_sig_getsignalg(sig, &alg));
    const auto note = notes.find(sig);
    if (note != notes.end()) {
      r.result = note->second.result;
      r.reason = note->second.reason;
    } else if (processed && (flags & DKIM_SIGFLAG_PASSED) != 0 &&
               dkim_sig_getbh(sig) == DKIM_SIGBH_MATCH) {
      if (alg == DKIM_SIGN_RSASHA1) {
        r.result = Status::Policy;
        r.reason = "rsa-sha1 is not accepted, RFC 8301 section 3.1";
      } else if (alg != DKIM_SIGN_ED25519SHA256 && r.key_bits < 1024) {
        r.result = Status::Policy;
        r.reason = "RSA key of " + std::to_string(r.key_bits) +
                   " bits is under 1024, RFC 8301 section 3.2";
      } else {
        r.result = Status::Pass;
      }
    } else if (err == DKIM_SIGERROR_KEYTOOSMALL) {
      r.result = Status::Policy;
      r.reason = "RSA key of " + std::to_string(r.key_bits) +
                 " bits is under 1024, RFC 8301 section 3.2";
    } else if (err == DKIM_SIGERROR_BADSIG) {
      r.result = Status::Fail;
      r.reason = "signature did not verify";
    } else if (processed && dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH) {
      r.result = Status::Fail;
      r.reason = "body hash did not verify";
    } else if (err == DKIM_SIGERROR_NOKEY) {
      r.result = Status::PermError;
      r.reason = "no key for signature";
    } else if (err == DKIM_SIGERROR_EXPIRED || err == DKIM_SIGERROR_FUTURE) {
      // Only when a time tag is implausible (kLibraryDrift): before 2001.
      r.result = Status::PermError;
      r.reason = "implausible signature time: " + sigErrorText(err);
    } else if (err != DKIM_SIGERROR_UNKNOWN && err != DKIM_SIGERROR_OK) {
      r.result = Status::PermError;
      r.reason = sigErrorText(err);
    } else if (processed) {
      r.result = Status::Fail;
      r.reason = "signature did not verify";
    } else if (callback_failed) {
      // A callback failed inside mailwarden (an exception, caught): the key lookup did
      // not complete; like a DNS failure, asking again later may succeed.
      r.result = Status::TempError;
      r.reason = message_error;
    } else {
      r.result = Status::PermError;
      r.reason = message_error.empty() ? "signature not verified" : message_error;
    }
    outcome.signatures.push_back(std::move(r));
  }
}

Outcome verifyMessage(const Library& library, std::string_view raw, dns::Resolver& resolver,
                      const Clock& clock, VerifyOptions options, std::size_t chunk) {
  const dns::Budget budget = dns::Budget::unlimited();
  Verifier verifier(library, resolver, budget, clock, options);
  message::feedMessage(raw, verifier, chunk);
  return verifier.finish();
}

std::optional<std::string> signatureTag(std::string_view list, std::string_view name) {
  std::size_t pos = 0;
  while (pos <= list.size()) {
    const std::size_t semi = std::min(list.find(';', pos), list.size());
    const std::string_view item = list.substr(pos, semi - pos);
    const std::size_t eq = item.find('=');
    if (eq != std::string_view::npos) {
      std::string tname;
      for (const char c : item.substr(0, eq)) {
        if (!ascii::isWsp(c)) {
          tname += c;
        }
      }
      if (tname == name) {
        std::string v;
        for (const char c : item.substr(eq + 1)) {
          if (!ascii::isWsp(c)) {
            v += c;
          }
        }
        return v;
      }
    }
    pos = semi + 1;
  }
  return std::nullopt;
}

std::optional<std::string> keyRecordName(std::string_view selector, std::string_view domain) {
  const std::optional<std::string> d = lookupDomain(domain);
  if (!d) {
    return std::nullopt;
  }
  std::string name = keyNameOf(selector, *d);
  if (!dns::isQueryableName(name)) {
    return std::nullopt;
  }
  return name;
}

}  // namespace mw::dkim
