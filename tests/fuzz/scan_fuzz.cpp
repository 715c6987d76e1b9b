// Fuzz target of scan/: one whole message through scan::Scan, the pipeline the milter
// and `mailwarden check` drive, with everything on that runs offline: header guard,
// MIME, SPF (MAIL FROM and HELO), DKIM, iprev, DNS lists of every key (their reject
// path too), ARC (lists.example.org trusted, so the override path runs; and our own
// seal on every delivered message), DMARC (enforce mode, so its reject path runs too)
// and the shipped rules of rules/, over a ZoneResolver holding tests/keys/keys.zone,
// the ARC zones of tests/integration (the keys of mw_arcchain.py's chains; the corpus
// has its chains signed before the fixed clock) and the small zone below (SPF and DMARC
// records, a timeout and a SERVFAIL).
//
// Input: ENVELOPE '\0' MESSAGE, or MESSAGE alone (the default envelope). ENVELOPE is
// '\n'-separated: client IP, HELO name, MAIL FROM, then up to 4 RCPT; missing lines keep
// the defaults. MESSAGE is a raw message (header, empty line, body), LF or CRLF, split
// the way an MTA hands it to a milter by message::MessageReader.
//
// Properties: no crash, leak, UB or exception; a verdict whose reply is set exactly for
// tempfail/reject; and the same verdict (action, score, reply, rules, header edits)
// whether the message is fed whole or in small pieces (chunking never changes a result).
//
// Input is capped at 128 KiB: limits and rules work per chunk and per part; longer
// inputs only cost time.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/base/clock.h"
#include "mailwarden/config/config.h"
#include "mailwarden/dns/zone.h"
#include "mailwarden/message/reader.h"
#include "mailwarden/obs/log.h"
#include "mailwarden/scan/scan.h"
#include "mailwarden/scan/snapshot.h"

#ifndef MW_FUZZ_SRCDIR
#error "MW_FUZZ_SRCDIR: the source tree (for rules/ and tests/keys/keys.zone)"
#endif

namespace {

using namespace mw;

constexpr std::string_view kZone =
    "$ORIGIN fuzz.test.\n"
    "$TTL 300\n"
    "@        TXT \"v=spf1 ip4:192.0.2.0/24 a mx include:inc.fuzz.test ~all\"\n"
    "@        A   192.0.2.1\n"
    "@        MX  10 mx\n"
    "mx       A   192.0.2.25\n"
    "inc      TXT \"v=spf1 ip6:2001:db8::/32 exists:%{i}.ex.fuzz.test -all\"\n"
    "_dmarc   TXT \"v=DMARC1; p=reject; sp=quarantine; adkim=s; aspf=r\"\n"
    "sub      TXT \"v=spf1 -all\"\n"
    "perm     TXT \"v=spf1 ip4:300.0.0.1 -all\"\n"
    "loop     TXT \"v=spf1 include:loop.fuzz.test -all\"\n"
    "helo     TXT \"v=spf1 a -all\"\n"
    "helo     A   192.0.2.10\n"
    ";@timeout slow.fuzz.test.\n"
    ";@servfail bad.fuzz.test.\n"
    "slow     TXT \"v=spf1 -all\"\n"
    "bad      TXT \"v=spf1 -all\"\n"
    "_dmarc.slow TXT \"v=DMARC1; p=none\"\n"
    // DNS lists: the default client listed, an error code, a domain list for names and URLs
    "10.2.0.192.bl    A 127.0.0.2\n"
    "11.2.0.192.bl    A 127.255.255.254\n"
    "12.2.0.192.bl    A 127.0.0.2\n"
    "12.2.0.192.bl    A 127.0.0.9\n"
    "fuzz.test.dbl    A 127.0.1.2\n"
    "example.com.dbl  A 127.0.1.4\n"
    // iprev of the default client: confirmed by helo.fuzz.test's A record
    "$ORIGIN 2.0.192.in-addr.arpa.\n"
    "10 PTR helo.fuzz.test.\n"
    "11 PTR nowhere.fuzz.test.\n"
    "11 PTR helo.fuzz.test.\n";

// Every key of the lists is fed from the message: client address, HELO, MAIL FROM,
// From, DKIM d= and URL hosts (pause 0: a paused list would make two runs of the same
// input differ).
constexpr std::string_view kReputation =
    "rules:\n"
    "  directories: []\n"
    "reputation:\n"
    "  max_url_hosts: 5\n"
    "  lists:\n"
    "    - zone: bl.fuzz.test\n"
    "      lookup: [client_ip]\n"
    "      pause: 0\n"
    "      answers:\n"
    "        - codes: [\"127.0.0.2\"]\n"
    "          symbol: FUZZ_BL\n"
    "          score: 3.0\n"
    "          action: reject\n"
    "    - zone: dbl.fuzz.test\n"
    "      lookup: [helo, mail_from, from, dkim, url]\n"
    "      pause: 0\n"
    "      answers:\n"
    "        - bits: 0x06\n"
    "          symbol: FUZZ_DBL\n"
    "          score: 2.0\n"
    "    - zone: hashed.fuzz.test\n"
    "      lookup: [from, url]\n"
    "      hash: sha256\n"
    "      pause: 0\n"
    "      answers:\n"
    "        - codes: [\"127.0.0.2\"]\n"
    "          symbol: FUZZ_HASHED\n"
    "          score: 1.0\n";

struct Fixture {
  scan::SnapshotConstSharedPtr snapshot;
  Fixture() {
    obs::configure(obs::Sink::Stderr, obs::Level::Error);
    auto zone = std::make_shared<dns::ZoneResolver>();
    if (!zone->loadFile(MW_FUZZ_SRCDIR "/tests/keys/keys.zone") || !zone->loadText(kZone, "scan_fuzz.zone") ||
        !zone->loadFile(MW_FUZZ_SRCDIR "/tests/integration/arc.example.zone") ||
        !zone->loadFile(MW_FUZZ_SRCDIR "/tests/integration/arc.example.org.zone")) {
      std::abort();
    }
    zone->addTxt("_dmarc.dkim.test", "v=DMARC1; p=quarantine; adkim=r");
    config::Config cfg = config::defaults();
    cfg.policy.authserv_id = "mx.fuzz.test";
    cfg.rule_dirs = {MW_FUZZ_SRCDIR "/rules"};
    cfg.rules_cache_dir.clear();
    cfg.dmarc.mode = config::DmarcMode::Enforce;
    cfg.arc.trusted_sealers = {"lists.example.org"};
    cfg.arc.seal = config::ArcSealOptions{"fuzz.test", "sel", MW_FUZZ_SRCDIR "/tests/keys/rsa2048.pem"};
    cfg.log.sink = obs::Sink::Stderr;
    config::LoadResult rep = config::loadString(kReputation, "scan_fuzz.yaml");
    if (!rep.ok()) {
      std::abort();
    }
    cfg.reputation = rep.config.reputation;
    Result<scan::SnapshotConstSharedPtr> s =
        scan::Snapshot::build(std::move(cfg), std::make_shared<FixedClock>(1'700'000'000), zone);
    if (!s) {
      std::abort();
    }
    snapshot = *s;
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

struct Envelope {
  std::string client_ip = "192.0.2.10";
  std::string helo = "helo.fuzz.test";
  std::string mail_from = "sender@fuzz.test";
  std::vector<std::string> rcpts{"user@mx.fuzz.test"};
};

Envelope parseEnvelope(std::string_view s) {
  Envelope e;
  std::vector<std::string_view> lines;
  while (!s.empty() && lines.size() < 7) {
    const std::size_t nl = s.find('\n');
    lines.push_back(s.substr(0, nl));
    s = nl == std::string_view::npos ? std::string_view() : s.substr(nl + 1);
  }
  if (lines.size() > 0) e.client_ip = lines[0];
  if (lines.size() > 1) e.helo = lines[1];
  if (lines.size() > 2) e.mail_from = lines[2];
  if (lines.size() > 3) e.rcpts.assign(lines.begin() + 3, lines.end());
  return e;
}

verdict::Verdict run(const Envelope& env, std::string_view message, std::size_t chunk) {
  Fixture& f = fixture();
  scan::Scan scan(f.snapshot);
  scan.connect(env.client_ip, "");
  scan.helo(env.helo);
  scan.queueId("FUZZ");
  scan.mailFrom(env.mail_from);
  for (const std::string& r : env.rcpts) scan.rcpt(r);
  scan::ReaderFeed feed(scan);
  message::MessageReader reader(f.snapshot->limits(), feed);
  for (std::size_t i = 0; i < message.size(); i += chunk) reader.feed(message.substr(i, chunk));
  reader.finish();
  return scan.finish();
}

bool sameVerdict(const verdict::Verdict& a, const verdict::Verdict& b) {
  if (a.action != b.action || a.score != b.score || a.failed != b.failed ||
      a.quarantine_reason != b.quarantine_reason || a.reply.has_value() != b.reply.has_value() ||
      a.edits.size() != b.edits.size() || a.contributions.size() != b.contributions.size()) {
    return false;
  }
  if (a.reply && (a.reply->code != b.reply->code || a.reply->enhanced != b.reply->enhanced ||
                  a.reply->text != b.reply->text)) {
    return false;
  }
  for (std::size_t i = 0; i < a.edits.size(); ++i) {
    const verdict::HeaderEdit& x = a.edits[i];
    const verdict::HeaderEdit& y = b.edits[i];
    if (x.kind != y.kind || x.name != y.name || x.value != y.value || x.index != y.index) return false;
  }
  for (std::size_t i = 0; i < a.contributions.size(); ++i) {
    if (a.contributions[i].rule_id != b.contributions[i].rule_id || a.contributions[i].score != b.contributions[i].score) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 128 * 1024) {
    return 0;
  }
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  Envelope env;
  std::string_view message = in;
  if (const std::size_t nul = in.find('\0'); nul != std::string_view::npos) {
    env = parseEnvelope(in.substr(0, nul));
    message = in.substr(nul + 1);
  }
  const verdict::Verdict whole = run(env, message, message.size() + 1);
  const bool replies = whole.action == verdict::Action::TempFail || whole.action == verdict::Action::Reject;
  if (whole.reply.has_value() != replies) {
    std::abort();
  }
  const verdict::Verdict pieces = run(env, message, 1 + size % 13);
  if (!sameVerdict(whole, pieces)) {
    std::abort();
  }
  return 0;
}
