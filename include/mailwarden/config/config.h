// config/config.h — the one YAML configuration file (/etc/mailwarden/mailwarden.yaml)
// turned into each module's Options.
//
// The file is operator input: every problem is an Error with file:line ("unknown key",
// "expected a boolean", "must be between 1 and 64"), and loading goes on after an error
// so `mailwarden configtest` can print all of them at once. yaml-cpp is used here and
// nowhere else outside rules/. Thread-safety: load functions are reentrant; Config is
// a plain value.
//
// How values are read (contrib/mailwarden.yaml documents every key):
// * Every key is optional; an empty file, or an empty section ("milter:" with nothing
//   under it), means the defaults below. A list key with nothing under it
//   ("directories:" with every entry commented out) is an empty list.
// * Unknown keys, repeated keys, wrong types and out-of-range values are errors at the
//   line of the offending node ("unknown key 'timout' (did you mean 'timeout'?)").
// * Integers and numbers are plain decimal scalars: 5.5 is not an integer, and a quoted
//   "12" is a string. Booleans are true/false only: YAML 1.1's yes/no/on/off are errors,
//   not guesses. socket_mode is octal however written (0660, 660, "0660").
// * Relative paths (dns.zone_files, dns.trust_anchor, rules.directories) are taken
//   against the configuration file's folder and stored absolute. Zone files must be
//   readable now; the trust anchor only when dns.dnssec is true; rule folders are
//   checked by the rule loader.
// * Errors are in file order (by line). A YAML syntax error is a single error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/base/network.h"
#include "mailwarden/base/result.h"
#include "mailwarden/message/limits.h"
#include "mailwarden/obs/log.h"
#include "mailwarden/reputation/options.h"
#include "mailwarden/verdict/verdict.h"

namespace mw::config {

inline constexpr const char* kDefaultPath = "/etc/mailwarden/mailwarden.yaml";
// Larger input is refused before yaml-cpp sees it (one error): a configuration is a few
// kilobytes, and yaml-cpp's memory and time grow with hostile input.
inline constexpr std::size_t kMaxFileBytes = 1024 * 1024;

struct MilterOptions {
  // "unix:/path", "local:/path", "inet:PORT@HOST", "inet6:PORT@HOST" (libmilter syntax).
  // Inside Postfix's chroot (/var/spool/postfix on Debian): smtpd reaches it as
  // unix:/mailwarden/milter.sock. The Debian package creates the folder.
  std::string socket = "unix:/var/spool/postfix/mailwarden/milter.sock";
  std::string user = "mailwarden";  // empty: do not change user (when not started as root)
  std::string group;                // empty: the user's primary group
  unsigned socket_mode = 0660;      // unix socket permissions
  int timeout_seconds = 7210;       // libmilter's I/O timeout towards the MTA
  int backlog = 128;
  int drain_seconds = 300;          // SIGTERM: how long open messages may take to finish
};

struct LogOptions {
  obs::Sink sink = obs::Sink::Syslog;
  obs::Level level = obs::Level::Info;
  std::string facility = "mail";
  // The per-message line (scan/message_log.h): "text" (key=value) or "json" (one object
  // per line, without the "mailwarden: info: QUEUEID: scan:" prefix on stderr).
  obs::Format format = obs::Format::Text;
};

struct DnsOptions {
  std::vector<std::string> resolvers;   // forwarders; empty: /etc/resolv.conf
  std::vector<std::string> zone_files;  // RFC 1035 master files answered offline
  int timeout_ms = 5000;                // one query
  int retries = 2;
  int budget_ms = 20000;                // all lookups of one message together
  // Special-use zones (RFC 6761/6303: test., RFC 1918 and TEST-NET reverse zones, ...)
  // asked from the resolvers anyway instead of answered NXDOMAIN by libunbound itself:
  // for a site whose DNS serves them (reverse DNS of its private networks, for iprev).
  std::vector<std::string> forward_special_zones;
  bool dnssec = false;
  std::string trust_anchor = "/usr/share/dns/root.key";

  bool operator==(const DnsOptions&) const = default;  // a reload keeps the resolver
};

// What a check's temperror (a DNS failure: dns::Outcome::Temporary, or a DMARC result
// that depends on one) does to the message (spf.temperror, dkim.temperror,
// dmarc.temperror): `tempfail` hands it to the failure policy (failure_policy, 451 by
// default: the sender retries); a number is added to the score instead, as
// SPF_TEMPERROR / DKIM_TEMPERROR / DMARC_TEMPERROR (0 adds nothing), so mail from a
// zone that stays broken is judged instead of deferred until it bounces. Either way the
// Authentication-Results say temperror.
struct OnTemperror {
  bool tempfail = true;
  double score = 0.0;  // when !tempfail
};

// SPF (RFC 7208) as a policy: what the results do to a message. The evaluation limits
// are RFC 7208's (§4.6.4) and not configurable.
struct SpfOptions {
  bool enabled = true;
  bool check_helo = true;        // also check the HELO identity (RFC 7208 §2.3)
  double fail_score = 5.0;       // added on "fail"
  double softfail_score = 2.0;   // added on "softfail"
  double permerror_score = 1.0;  // added on "permerror" (a broken record is a weak signal)
  // Reject (550 5.7.23, RFC 7372) on "fail". Off by default: forwarding breaks SPF.
  bool reject_on_fail = false;
  OnTemperror temperror;         // "temperror" (RFC 7208 §2.6.6): the failure policy
};

// DKIM (RFC 6376) verification and what its results do to a message. RFC 8301 (no
// rsa-sha1, no RSA key under 1024 bits) is not configurable. A signature that does not
// pass is, by itself, like no signature (RFC 6376 §6.1): the scores are small, added
// once per message and only when no signature passed; DMARC judges alignment.
struct DkimOptions {
  bool enabled = true;
  int max_signatures = 5;        // evaluated per message (the first ones in the header)
  double fail_score = 1.0;       // "fail": a signature did not verify
  double policy_score = 0.5;     // "policy": rsa-sha1, weak key, t= future, x= expired
  double permerror_score = 0.5;  // "permerror": broken signature or key record
  // "temperror" (a key lookup failed, RFC 6376 §6.1.2: the verifier MAY try again
  // later), once per message and only when no signature passed: the failure policy by
  // default, like SPF's and DMARC's (one rule for every check); a score instead (0:
  // nothing, DMARC alone decides, an aligned signature's temperror making it temperror).
  OnTemperror temperror;
};

// DMARC (RFC 9989) as a policy. `monitor` records the result and never acts on it;
// `enforce` rejects on p=reject and applies `quarantine_action` on p=quarantine (after
// sp/np/t). Exceptions (a domain or a client network: a known forwarder, a mailing list)
// still get the result recorded, never the enforcement. README.md says why monitor is
// the default.
enum class DmarcMode { Monitor, Enforce };

// dmarc.reports (issue 20): record every message DMARC evaluated with a policy record,
// for aggregate reports (RFC 9990). Checked as text here; scan::Snapshot::build opens the
// store, and its errors point at `where`.
struct DmarcReportOptions {
  bool enabled = false;
  // "sqlite:ABSOLUTE_PATH", or a Redis store shared by several hosts:
  // "redis://[:PASSWORD@]HOST[:PORT][/DB]" / "redis+unix://[:PASSWORD@]/SOCKET[?db=N]"
  // (report::parseRedisUrl checks the syntax here).
  std::string store = "sqlite:/var/lib/mailwarden/dmarc.sqlite";
  std::string org_name;            // report_metadata/org_name: required when enabled
  std::string email;               // report_metadata/email: required when enabled
  std::string extra_contact_info;  // optional
  // Policy or author domains not recorded, lower-case A-labels; a leading "." also
  // matches subdomains (as dmarc.exceptions.domains).
  std::vector<std::string> exclude_domains = {};
  std::uint64_t max_report_bytes = 10 * 1024 * 1024;  // for `dmarc-report` (to come)
  SourceLoc where = {};  // the `reports:` line
};

struct DmarcOptions {
  bool enabled = true;
  DmarcMode mode = DmarcMode::Monitor;
  verdict::Action quarantine_action = verdict::Action::Quarantine;  // tag|quarantine|reject
  // The reply on p=reject; the text gets " (policy of DOMAIN: reject)" appended (RFC 7372 has
  // no DMARC-specific code; 5.7.1 is "delivery not authorized").
  verdict::SmtpReply reject_reply{550, "5.7.1", "Message rejected by DMARC policy"};
  std::vector<std::string> exception_domains = {};   // author domains, lower-case; a
                                                     // leading "." also matches subdomains
  std::vector<std::string> exception_networks = {};  // "192.0.2.0/24", "2001:db8::/32"
  double reject_score = 3.0;      // fail with the policy reject (after t=y)
  double quarantine_score = 2.0;  // fail with the policy quarantine
  double none_score = 0.5;        // fail with the policy none
  double bad_from_score = 3.0;    // permerror from the From field (none or several authors)
  OnTemperror temperror;          // "temperror" (RFC 9989): the failure policy
  DmarcReportOptions reports;
};

// iprev (RFC 8601 §3, reputation.iprev): does the client's reverse DNS name resolve back
// to it. Scores per result; a missing or broken reverse DNS is common for legitimate
// small senders, so the scores are small and temperror defaults to a score of 0, never
// to the failure policy: reverse DNS must not defer mail by default.
struct IprevOptions {
  bool enabled = true;
  double pass_score = 0.0;       // "pass"
  double fail_score = 1.0;       // "fail": the PTR names do not resolve back
  double permerror_score = 1.0;  // "permerror": no PTR record
  OnTemperror temperror{false, 0.0};
};

// arc.seal (issue 18, point 4): the identity we seal delivered mail with. Only read and
// checked as text here (a domain, a selector, an absolute path); scan::Snapshot::build
// reads and checks the key (arc::loadSealKey), and its errors point at `where`.
// Absent: no sealing.
struct ArcSealOptions {
  std::string domain;    // d= of our ARC-Seal, A-labels, lower-case
  std::string selector;  // s=
  std::string key_file;  // absolute (relative paths are taken against the config's folder)
  SourceLoc where = {};  // the `seal:` line, for key and DNS errors found later
};

// ARC (RFC 8617) verification and the trusted-forwarder override of a DMARC failure.
// A sealer is trusted when the d= of the newest ARC-Seal is listed in trusted_sealers
// (exactly that domain, no subdomains) or when <d>.<trusted_zone> has an A record in
// 127.0.0.0/8 (an operator's allowlist zone; other answers count as not listed). Only a
// chain that validates (cv=pass, no temporary failure) and whose newest sealer is trusted
// can keep the published DMARC policy from being applied (dmarc_stage.cpp says when).
// Scores are added once per message: ARC_PASS / ARC_FAIL (cv), ARC_TRUSTED (pass and a
// trusted newest sealer, in addition to ARC_PASS); 0 adds nothing. An ARC failure alone
// is weak evidence (a list that alters mail after sealing breaks the chain), hence small.
struct ArcOptions {
  bool enabled = true;
  std::vector<std::string> trusted_sealers = {};  // A-labels, lower-case, no trailing dot
  std::string trusted_zone = {};                  // "" = none
  std::optional<ArcSealOptions> seal = std::nullopt;
  double pass_score = 0.0;
  double fail_score = 0.5;
  double trusted_score = 0.0;
};

// metrics: the Prometheus endpoint (metrics/server.h, issue 19). Off unless `listen` is
// set. `listen` is "ADDRESS:PORT" with an IP address literal, IPv6 in brackets
// ("127.0.0.1:9128", "[::1]:9128", "0.0.0.0:9128"); no host names, so starting never
// waits for DNS. The socket is bound as root, before the privilege drop (a port below
// 1024 works at start; on a SIGHUP that changes it, only an unprivileged port can be
// bound).
struct MetricsOptions {
  std::string listen;   // as written; "" = off
  std::string address;  // the literal, without brackets
  int port = 0;  // 0 when off
};

// bypass: our own users are not judged like strangers (issue 19, point 3). A client in
// `trusted_networks` (our own hosts relaying through the MX) and, as `authenticated`
// says, a client that authenticated with SMTP AUTH (the MTA's {auth_authen} macro, on
// the submission port) are spared the checks in `skip` (verdict::Bypass: what Skip and
// Score mean exactly). `authenticated`:
//   skip   (default) the checks in `skip` do not run: a roaming user's mail from our own
//          domain through a hotel's network is neither SPF-failed nor DMARC-rejected,
//          and no DNS is spent on it. DKIM, ARC and the rules still run.
//   score  every check runs and is reported and scored; the checks in `skip` force no
//          action (DMARC enforcement, spf.reject_on_fail, a list's `action:`).
//   check  no bypass: authenticated clients are judged like anyone.
// A trusted network is always `skip`. Empty trusted_networks and authenticated: check
// is the behaviour before issue 19.
enum class AuthenticatedMode { Skip, Score, Check };

struct BypassOptions {
  std::vector<std::string> trusted_networks = {};  // as written ("192.0.2.0/24")
  std::vector<net::Network> networks = {};         // the same, parsed, in the same order
  AuthenticatedMode authenticated = AuthenticatedMode::Skip;
  // What a bypass spares; each at most once, in enum order.
  std::vector<verdict::BypassCheck> skip = {verdict::BypassCheck::Spf, verdict::BypassCheck::Iprev,
                                            verdict::BypassCheck::Lists,
                                            verdict::BypassCheck::Dmarc};
};

struct Config {
  std::string path;  // the file it came from ("" when built from defaults)
  MilterOptions milter;
  verdict::Policy policy;
  message::Limits limits;
  LogOptions log;
  DnsOptions dns;
  SpfOptions spf;
  DkimOptions dkim;
  DmarcOptions dmarc;
  ArcOptions arc;
  // reputation: the DNS lists (validated by reputation::validate(); every list and answer
  // class carries its file:line) and reputation.iprev.
  reputation::Options reputation;
  IprevOptions iprev;
  std::vector<std::string> rule_dirs{"/etc/mailwarden/rules"};
  // rules.cache_dir: compiled rule databases are kept here so a restart with unchanged
  // rules does not recompile; empty = no cache. Not writable: warned, not an error.
  std::string rules_cache_dir = "/var/cache/mailwarden";
  MetricsOptions metrics;
  BypassOptions bypass;
};

struct LoadResult {
  Config config;
  std::vector<Error> errors;  // in file order; empty when the file is valid
  bool ok() const noexcept { return errors.empty(); }
};

// Reads and validates a configuration file. A missing or unreadable file is one error
// "FILE: cannot read: <strerror>". Config::path is `path` as given. The returned config
// holds every valid setting even when there are errors (invalid ones keep the default);
// use it only when ok(). Never throws except std::bad_alloc.
LoadResult loadFile(const std::string& path);
// The same from text; `file` is the name used in error locations, Config::path, and the
// folder relative paths are taken against (its parent; the current folder if none).
LoadResult loadString(std::string_view yaml, const std::string& file);

// The defaults with authserv_id set to this host's name.
Config defaults();

}  // namespace mw::config
