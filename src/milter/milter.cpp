// milter/milter.cpp — libmilter callbacks <-> scan::Scan. Each callback is a few lines
// that forward to the Connection; the Verdict is applied in one place (applyVerdict),
// at end of message, because header edits are only allowed there (mfapi.h).
#include "mailwarden/milter/milter.h"

#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "mailwarden/config/config.h"
#include "mailwarden/metrics/server.h"
#include "mailwarden/obs/counters.h"
#include "mailwarden/obs/log.h"
#include "mailwarden/scan/metrics.h"
#include "mailwarden/scan/scan.h"
#include "mailwarden/scan/snapshot.h"
#include "privileges.h"
#include "reply.h"
#include "signals.h"
#include "socket.h"

namespace mw::milter {
namespace {

// Process-wide state of the running milter. Set once in run() before smfi_main, then
// read by libmilter's threads; the holder itself is thread-safe.
struct Runtime {
  std::unique_ptr<scan::SnapshotHolder> snapshots;
  std::string config_path;
  std::atomic<int> open_messages{0};  // between MAIL FROM and end of message or abort
  std::atomic<bool> stopping{false};  // SIGTERM seen: messages that start now are refused
  // The Prometheus endpoint (metrics.listen) and the options it was started with;
  // replaced only by a reload that changes them. Touched by run() and reload() only
  // (libmilter's signal thread, one at a time).
  std::unique_ptr<metrics::Server> metrics;
  config::MetricsOptions metrics_options;
};

Runtime& runtime() noexcept {
  static Runtime r;
  return r;
}

// Events whose answer never changes the outcome: the MTA need not wait for a reply
// (SMFIP_NR_*). All decisions are made at end of message.
constexpr unsigned long kNoReplyWanted =
    SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_HDR | SMFIP_NR_EOH |
    SMFIP_NR_BODY;
// Events we do not use at all.
constexpr unsigned long kNotWanted = SMFIP_NOUNKNOWN | SMFIP_NODATA;

std::string clientAddress(const _SOCK_ADDR* addr) {
  if (addr == nullptr) {
    return "";
  }
  char buf[INET6_ADDRSTRLEN] = {0};
  if (addr->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    if (inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf) != nullptr) {
      return buf;
    }
  } else if (addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    if (inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf) != nullptr) {
      return buf;
    }
  }
  return "";
}

// mfapi.h takes char* everywhere; this is the one place that casts const away.
char* cstr(const std::string& s) { return const_cast<char*>(s.c_str()); }

// One SMTP connection. Lives from xxfi_connect to xxfi_close in libmilter's private
// slot; callbacks of one connection run one after another.
class Connection {
 public:
  Connection(std::string ip, std::string name) : ip_(std::move(ip)), name_(std::move(name)) {}

  unsigned long no_reply = 0;  // the SMFIP_NR_* bits the MTA agreed to
  bool leading_space = false;  // SMFIP_HDR_LEADSPC agreed: values carry their own space
  bool broken = false;  // connect, HELO or negotiation failed: every message gets the policy

  ~Connection() { endMessage(); }

  void helo(std::string_view host) { helo_ = std::string(host); }

  // At connect: the client address is known, so its lookups start now (iprev's PTR, the
  // client_ip lists) while the client says HELO and MAIL FROM; every message of the
  // connection joins them (scan::ClientLookups). Without memory they are simply not
  // started early: each message starts its own.
  void startLookups() noexcept {
    try {
      client_ = scan::startClientLookups(runtime().snapshots->get(), ip_);
    } catch (...) {
      client_ = nullptr;
    }
  }

  // MAIL FROM starts a message on the snapshot current at that moment.
  void startMessage(SMFICTX* ctx, std::string_view from) {
    endMessage();
    if (runtime().stopping.load()) {
      refused_ = true;  // not counted: the drain waits only for messages already open
      return;
    }
    runtime().open_messages.fetch_add(1);
    obs::counters().in_flight.add(1);
    in_message_ = true;
    scan_ = std::make_unique<scan::Scan>(runtime().snapshots->get(), client_);
    scan_->connect(ip_, name_);
    scan_->helo(helo_);
    refreshQueueId(ctx);
    // SMTP AUTH succeeded when the MTA sets {auth_authen} (Postfix: milter_mail_macros;
    // Sendmail sends it at MAIL FROM by default, confMILTER_MACROS_ENVFROM). Before
    // mailFrom: the bypass is decided as the stages start.
    if (const char* user = smfi_getsymval(ctx, cstr("{auth_authen}")); user != nullptr) {
      scan_->authenticated(user);
    }
    scan_->mailFrom(from);
  }

  scan::Scan* scan() noexcept {
    return (failure_ || broken || refused_) ? nullptr : scan_.get();
  }

  void refreshQueueId(SMFICTX* ctx) {
    if (scan_ && scan_->envelope().queue_id.empty()) {
      if (const char* id = smfi_getsymval(ctx, cstr("i")); id != nullptr) {
        scan_->queueId(id);
      }
    }
  }

  // A view, so that it can be logged where nothing may allocate (a catch handler).
  std::string_view queueId() const noexcept {
    if (scan_ && !scan_->envelope().queue_id.empty()) {
      return scan_->envelope().queue_id;
    }
    return "NOQUEUE";
  }

  // The failure policy of this message's snapshot (or the current one).
  verdict::Verdict failurePolicy(std::string_view why) const {
    const scan::SnapshotConstSharedPtr snap = scan_ ? nullptr : runtime().snapshots->get();
    return verdict::failureVerdict(scan_ ? scan_->snapshot().policy() : snap->policy(), why);
  }

  // An event failed: the message is finished by the failure policy at end of message.
  // Outside a message (HELO) what failed belongs to the connection (the HELO name every
  // later message would be checked with): every message of it gets the policy.
  void markFailed(std::string why) {
    if (!in_message_) {
      broken = true;
    } else if (!failure_) {
      failure_ = std::move(why);
    }
  }

  verdict::Verdict finishMessage() {
    if (refused_) {
      // Whatever the failure policy: the sender retries and the next mailwarden (or the
      // MTA's milter_default_action, while none runs) takes the message.
      verdict::Verdict v;
      v.action = verdict::Action::TempFail;
      v.reply = verdict::SmtpReply{451, "4.3.2", "Mail filter restarting, try again later"};
      scan::recordUnscanned(v, obs::TempfailReason::Shutdown);
      return v;
    }
    if (broken && !failure_) {
      failure_ = "connection setup failed";
    }
    if (failure_ || !scan_) {
      verdict::Verdict v = failurePolicy(failure_ ? *failure_ : "no MAIL FROM seen");
      scan::recordUnscanned(v, obs::TempfailReason::Internal);
      return v;
    }
    return scan_->finish();
  }

  void endMessage() noexcept {
    scan_.reset();
    failure_.reset();
    refused_ = false;
    if (in_message_) {
      in_message_ = false;
      runtime().open_messages.fetch_sub(1);
      obs::counters().in_flight.add(-1);
    }
  }

 private:
  std::string ip_;
  std::string name_;
  std::string helo_;
  std::shared_ptr<const scan::ClientLookups> client_;  // declared before scan_: outlives it
  std::unique_ptr<scan::Scan> scan_;
  std::optional<std::string> failure_;
  bool in_message_ = false;
  bool refused_ = false;  // started after SIGTERM
};

// What onNegotiate leaves in the private slot when it could not allocate the placeholder:
// onConnect then marks the connection broken, so each of its messages gets the failure
// policy (the flags it agreed were not recorded).
char g_negotiate_failed;
void* const kNegotiateFailed = &g_negotiate_failed;

Connection* connection(SMFICTX* ctx) noexcept {
  void* priv = smfi_getpriv(ctx);
  return priv == kNegotiateFailed ? nullptr : static_cast<Connection*>(priv);
}

// An exception reached a libmilter callback: logged and counted, without allocating.
void caught(std::string_view qid, const char* where) noexcept {
  obs::counters().internal_errors.add();
  try {
    throw;
  } catch (const std::exception& e) {
    obs::log(obs::Level::Error, qid, "milter", "{}: {}", where, e.what());
  } catch (...) {
    obs::log(obs::Level::Error, qid, "milter", "{}: unknown exception", where);
  }
}

// The answer for an event the MTA agreed not to wait for.
sfsistat noReply(const Connection* conn, unsigned long bit) noexcept {
  return (conn != nullptr && (conn->no_reply & bit) != 0) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

// libmilter is C: an exception unwinding into it is undefined behaviour. Every event
// body runs here; an escape marks the message failed, and end of message answers with
// the failure policy.
template <typename Body>
sfsistat guarded(SMFICTX* ctx, const char* where, unsigned long nr_bit, Body&& body) noexcept {
  Connection* conn = connection(ctx);
  try {
    if (conn != nullptr) {
      body(*conn);
    }
    return noReply(conn, nr_bit);
  } catch (...) {
    caught(conn ? conn->queueId() : "NOQUEUE", where);
  }
  if (conn != nullptr) {
    try {
      conn->markFailed(std::string(where) + " failed");
    } catch (...) {
      return SMFIS_TEMPFAIL;  // cannot even record it: refuse now
    }
  }
  return noReply(conn, nr_bit);
}

sfsistat onNegotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long, unsigned long,
                     unsigned long* pf0, unsigned long* pf1, unsigned long* pf2,
                     unsigned long* pf3) noexcept {
  *pf0 = (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE) & f0;
  *pf1 = (kNoReplyWanted | kNotWanted | SMFIP_HDR_LEADSPC) & f1;
  *pf2 = 0;
  *pf3 = 0;
  if ((f1 & SMFIP_HDR_LEADSPC) == 0) {
    obs::log(obs::Level::Warn, "", "milter",
             "the MTA does not offer SMFIP_HDR_LEADSPC: header values lose their leading space");
  }
  try {
    // Remember what was agreed on a placeholder; onConnect takes it over.
    auto conn = std::make_unique<Connection>("", "");
    conn->no_reply = *pf1 & kNoReplyWanted;
    conn->leading_space = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
    smfi_setpriv(ctx, conn.release());
  } catch (...) {
    caught("", "negotiate");
    // Nothing records the agreement: ask for replies to every event (so that
    // SMFIS_CONTINUE is always a right answer), values without their leading space (what
    // a Connection assumes by default), and mark the session (onConnect).
    *pf1 = kNotWanted & f1;
    smfi_setpriv(ctx, kNegotiateFailed);
  }
  return SMFIS_CONTINUE;
}

sfsistat onConnect(SMFICTX* ctx, char* hostname, _SOCK_ADDR* hostaddr) noexcept {
  Connection* placeholder = connection(ctx);
  const bool negotiate_failed = smfi_getpriv(ctx) == kNegotiateFailed;
  try {
    auto conn = std::make_unique<Connection>(clientAddress(hostaddr), hostname ? hostname : "unknown");
    if (placeholder != nullptr) {
      conn->no_reply = placeholder->no_reply;
      conn->leading_space = placeholder->leading_space;
    }
    conn->broken = negotiate_failed;  // its messages get the failure policy
    if (!conn->broken) {
      conn->startLookups();
    }
    smfi_setpriv(ctx, conn.release());
    delete placeholder;  // only once the slot no longer points at it
    obs::counters().connections.add();
    return noReply(connection(ctx), SMFIP_NR_CONN);
  } catch (...) {
    // The placeholder stays in the slot: onClose frees it. Its Connection has no scan,
    // so end of message answers with the failure policy; with no Connection at all
    // (no placeholder), end of message answers SMFIS_TEMPFAIL.
    caught("", "connect");
    if (placeholder != nullptr) {
      placeholder->broken = true;
    }
    return noReply(placeholder, SMFIP_NR_CONN);
  }
}

sfsistat onHelo(SMFICTX* ctx, char* helohost) noexcept {
  return guarded(ctx, "helo", SMFIP_NR_HELO,
                 [&](Connection& c) { c.helo(helohost ? helohost : ""); });
}

sfsistat onEnvFrom(SMFICTX* ctx, char** argv) noexcept {
  return guarded(ctx, "mail", SMFIP_NR_MAIL,
                 [&](Connection& c) { c.startMessage(ctx, argv && argv[0] ? argv[0] : ""); });
}

sfsistat onEnvRcpt(SMFICTX* ctx, char** argv) noexcept {
  return guarded(ctx, "rcpt", SMFIP_NR_RCPT, [&](Connection& c) {
    if (scan::Scan* s = c.scan(); s != nullptr && argv && argv[0]) {
      s->rcpt(argv[0]);
    }
  });
}

sfsistat onHeader(SMFICTX* ctx, char* name, char* value) noexcept {
  return guarded(ctx, "header", SMFIP_NR_HDR, [&](Connection& c) {
    if (scan::Scan* s = c.scan(); s != nullptr) {
      s->header(name ? name : "", value ? value : "");
    }
  });
}

sfsistat onEoh(SMFICTX* ctx) noexcept {
  return guarded(ctx, "eoh", SMFIP_NR_EOH, [&](Connection& c) {
    c.refreshQueueId(ctx);
    if (scan::Scan* s = c.scan(); s != nullptr) {
      s->endOfHeaders();
    }
  });
}

sfsistat onBody(SMFICTX* ctx, unsigned char* data, size_t len) noexcept {
  return guarded(ctx, "body", SMFIP_NR_BODY, [&](Connection& c) {
    if (scan::Scan* s = c.scan(); s != nullptr) {
      s->body(std::string_view(reinterpret_cast<const char*>(data), len));
    }
  });
}

// Header values go to the MTA with LF line breaks (the MTA writes CRLF) and, when
// SMFIP_HDR_LEADSPC was agreed, with their leading space (otherwise the MTA adds it).
std::string milterValue(const std::string& value, bool leading_space) {
  std::string out = leading_space ? " " : "";
  for (const char c : value) {
    if (c != '\r') {
      out += c;
    }
  }
  return out;
}

// smfi_setreply with a text libmilter accepts (reply.h); false when it still refused.
bool setReply(SMFICTX* ctx, const verdict::SmtpReply& reply) {
  if (!acceptableReplyCode(reply.code) || !acceptableEnhancedCode(reply.enhanced, reply.code)) {
    return false;
  }
  const std::string code = std::to_string(reply.code);
  const std::string text = fitReplyText(reply.text);
  return smfi_setreply(ctx, cstr(code), cstr(reply.enhanced), cstr(text)) == MI_SUCCESS;
}

// The one place that turns a Verdict into smfi_* calls.
sfsistat applyVerdict(SMFICTX* ctx, const verdict::Verdict& v, std::string_view qid,
                      bool leading_space) {
  bool edits_ok = true;
  for (const verdict::HeaderEdit& e : v.edits) {
    if (e.kind == verdict::HeaderEdit::Kind::Remove &&
        smfi_chgheader(ctx, cstr(e.name), e.index, nullptr) != MI_SUCCESS) {
      edits_ok = false;
    }
  }
  // Prepends go in reverse at index 0, so the block reads in list order at the top.
  for (auto it = v.edits.rbegin(); it != v.edits.rend(); ++it) {
    if (it->kind == verdict::HeaderEdit::Kind::Prepend) {
      const std::string value = milterValue(it->value, leading_space);
      if (smfi_insheader(ctx, 0, cstr(it->name), cstr(value)) != MI_SUCCESS) {
        edits_ok = false;
      }
    }
  }
  if (v.action == verdict::Action::Quarantine &&
      smfi_quarantine(ctx, cstr(v.quarantine_reason)) != MI_SUCCESS) {
    edits_ok = false;
  }
  if (!edits_ok) {
    obs::log(obs::Level::Error, qid, "milter", "the MTA refused a header edit or quarantine");
    obs::counters().internal_errors.add();
    return SMFIS_TEMPFAIL;
  }
  if (v.reply && !setReply(ctx, *v.reply)) {
    // The plain code (the MTA's own text for it) rather than a silent default: logged.
    obs::log(obs::Level::Error, qid, "milter",
             "libmilter refused the reply {} {} ({} bytes of text); answering with the bare code",
             v.reply->code, v.reply->enhanced, v.reply->text.size());
    obs::counters().internal_errors.add();
  }
  switch (v.action) {
    case verdict::Action::Accept:
    case verdict::Action::Tag:
    case verdict::Action::Quarantine:
      return SMFIS_CONTINUE;
    case verdict::Action::TempFail: return SMFIS_TEMPFAIL;
    case verdict::Action::Reject: return SMFIS_REJECT;
  }
  return SMFIS_TEMPFAIL;
}

sfsistat onEom(SMFICTX* ctx) noexcept {
  Connection* conn = connection(ctx);
  if (conn == nullptr) {
    return SMFIS_TEMPFAIL;
  }
  bool applying = false;  // edits may have reached the MTA: no second verdict
  try {
    conn->refreshQueueId(ctx);
    const std::string qid(conn->queueId());
    const verdict::Verdict v = conn->finishMessage();
    applying = true;
    const sfsistat status = applyVerdict(ctx, v, qid, conn->leading_space);
    conn->endMessage();
    return status;
  } catch (...) {
    caught(conn->queueId(), "eom");
  }
  sfsistat status = SMFIS_TEMPFAIL;  // the MTA's own 451 if even the fallback fails
  if (!applying) {
    try {
      status = applyVerdict(ctx, conn->failurePolicy("eom failed"), conn->queueId(),
                            conn->leading_space);
    } catch (...) {
      caught(conn->queueId(), "eom (failure policy)");
    }
  }
  conn->endMessage();
  return status;
}

sfsistat onAbort(SMFICTX* ctx) noexcept {
  if (Connection* conn = connection(ctx); conn != nullptr) {
    conn->endMessage();  // the MTA ended the transaction: free the message now
  }
  return SMFIS_CONTINUE;
}

sfsistat onClose(SMFICTX* ctx) noexcept {
  // xxfi_close can come without xxfi_connect: the slot may hold only the placeholder
  // from negotiation, or nothing.
  std::unique_ptr<Connection> conn(connection(ctx));
  smfi_setpriv(ctx, nullptr);
  return SMFIS_CONTINUE;
}

// Builds a snapshot from the configuration file, or explains why not. `running` (a
// reload): its libunbound resolver is kept when the DNS settings did not change, so the
// cache of answers survives the reload (one context per process; issue 17). Zone files
// are always read anew.
Result<scan::SnapshotConstSharedPtr> loadSnapshot(const std::string& path,
                                                  const scan::SnapshotConstSharedPtr& running = nullptr) {
  config::LoadResult loaded = config::loadFile(path);
  if (!loaded.ok()) {
    std::string all;
    for (const Error& e : loaded.errors) {
      all += (all.empty() ? "" : "; ") + e.describe();
    }
    return fail(Errc::Invalid, all);
  }
  dns::ResolverSharedPtr resolver;
  if (running && loaded.config.dns.zone_files.empty() && loaded.config.dns == running->config().dns) {
    resolver = running->resolverPtr();
  }
  // arc.seal: at start (as root) the key is read by Snapshot::build; a reload runs as
  // milter.user and keeps the running key when the same file cannot be read any more.
  Result<scan::SealKeyChoice> key = scan::sealKeyFor(loaded.config, running.get());
  if (!key) {
    return fail(key.error());
  }
  if (!key->warning.empty()) {
    obs::log(obs::Level::Warn, "", "milter", "{}", key->warning);
  }
  // dmarc.reports: the running store when dmarc.reports.store is unchanged (one
  // connection and one spool across reloads); a changed store is opened as milter.user.
  Result<std::shared_ptr<report::Recorder>> reports = scan::reportsFor(loaded.config, running.get());
  if (!reports) {
    return fail(reports.error());
  }
  return scan::Snapshot::build(std::move(loaded.config), std::make_shared<SystemClock>(),
                               std::move(resolver), std::move(key->key), std::move(*reports));
}

// The metrics endpoint for `next`: unchanged options keep the running one (its socket
// and any scrape in progress); changed ones bind the new endpoint first, so a failure
// (a port below 1024 after the privilege drop, a port in use) leaves the running one.
Result<void> rebindMetrics(const config::MetricsOptions& next) {
  Runtime& rt = runtime();
  // By address and port, not the text: "127.0.0.1:09128" is the endpoint already bound.
  if (next.address == rt.metrics_options.address && next.port == rt.metrics_options.port) {
    rt.metrics_options = next;
    return {};
  }
  std::unique_ptr<metrics::Server> server;
  if (!next.listen.empty()) {
    Result<std::unique_ptr<metrics::Server>> started = metrics::Server::start(next.address, next.port);
    if (!started) {
      return fail(started.error());
    }
    server = std::move(*started);
  }
  rt.metrics = std::move(server);  // the old endpoint stops here
  rt.metrics_options = next;
  obs::log(obs::Level::Info, "", "milter", "metrics {}",
           rt.metrics ? "served on http://" + rt.metrics->endpoint() + "/metrics" : std::string("off"));
  return {};
}

// SIGHUP: a new snapshot off to the side; mail keeps flowing on the old one meanwhile,
// and keeps flowing on it if the new configuration is bad.
void reload() noexcept {
  try {
    Result<scan::SnapshotConstSharedPtr> next =
        loadSnapshot(runtime().config_path, runtime().snapshots->get());
    if (!next) {
      obs::counters().reloads_rejected.add();
      obs::log(obs::Level::Error, "", "milter", "reload rejected, keeping the running configuration: {}",
               next.error().describe());
      return;
    }
    if (Result<void> m = rebindMetrics((*next)->config().metrics); !m) {
      obs::counters().reloads_rejected.add();
      obs::log(obs::Level::Error, "", "milter",
               "reload rejected, keeping the running configuration: {}", m.error().describe());
      return;
    }
    const config::LogOptions& log = (*next)->config().log;
    obs::configure(log.sink, log.level, log.facility);
    const scan::SnapshotConstSharedPtr previous = runtime().snapshots->get();
    runtime().snapshots->set(*next);
    obs::counters().reloads.add();
    obs::counters().config_generation.set(static_cast<std::int64_t>((*next)->generation()));
    obs::log(obs::Level::Info, "", "milter", "configuration reloaded from {} (generation {}{})",
             runtime().config_path, (*next)->generation(),
             (*next)->resolverPtr() == previous->resolverPtr() ? ", DNS cache kept" : "");
  } catch (const std::exception& e) {
    obs::counters().reloads_rejected.add();
    obs::log(obs::Level::Error, "", "milter", "reload failed: {}", e.what());
  }
}

smfiDesc makeDescription() {
  smfiDesc d{};
  static char name[] = "mailwarden";  // libmilter keeps the pointer for the process lifetime
  d.xxfi_name = name;
  d.xxfi_version = SMFI_VERSION;
  d.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE;
  d.xxfi_connect = onConnect;
  d.xxfi_helo = onHelo;
  d.xxfi_envfrom = onEnvFrom;
  d.xxfi_envrcpt = onEnvRcpt;
  d.xxfi_header = onHeader;
  d.xxfi_eoh = onEoh;
  d.xxfi_body = onBody;
  d.xxfi_eom = onEom;
  d.xxfi_abort = onAbort;
  d.xxfi_close = onClose;
  d.xxfi_unknown = nullptr;
  d.xxfi_data = nullptr;
  d.xxfi_negotiate = onNegotiate;
  return d;
}

// SIGTERM: lets messages in flight reach their end (the MTA gets its verdict) before
// libmilter is told to stop. This must happen before libmilter sees the signal: with
// Debian's libmilter (built with its worker pool) a stopped libmilter no longer serves
// any session, so a message half-way through would never get an answer. Messages that
// start meanwhile are answered 451 4.3.2; after the stop, the MTA's
// milter_default_action (tempfail) does the same. Nothing is lost either way.
void drain(int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (runtime().open_messages.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const int left = runtime().open_messages.load();
  if (left > 0) {
    obs::log(obs::Level::Warn, "", "milter", "{} message(s) still open after {} s; exiting",
             left, seconds);
  }
}

// The end of the process, from the stop hook or after smfi_main returned: the socket
// file goes only if it is still ours, the counters are logged.
void finish(const SocketFile& socket) noexcept {
  try {
    static_cast<void>(removeIfOurs(socket));
    setReloadHook(nullptr);
    // The DMARC report spool lives in memory and the stop hook ends with _exit (no
    // destructors): write what the recorder still holds now (bounded by the store's
    // wait; a store that is down keeps it, and it was counted as spooled).
    if (runtime().snapshots) {
      const scan::SnapshotConstSharedPtr snap = runtime().snapshots->get();
      if (snap && snap->reports() != nullptr) {
        const report::Recorder::Tally t = snap->reports()->flush();
        if (snap->reports()->spooled() != 0) {
          obs::log(obs::Level::Warn, "", "report",
                   "stopping with {} DMARC report record(s) the store did not take (lost)",
                   snap->reports()->spooled());
        } else if (t.stored != 0) {
          obs::log(obs::Level::Info, "", "report", "{} DMARC report record(s) written at stop",
                   t.stored);
        }
      }
    }
    std::string totals = obs::renderCounters();
    for (char& c : totals) {
      c = c == '\n' ? ' ' : c;
    }
    obs::log(obs::Level::Info, "", "milter", "stopped; counters: {}", totals);
  } catch (...) {
    // Logging failed: nothing else is left to do.
  }
}

// A start-up failure: on stderr (the terminal, or systemd's journal) and, when logging
// goes to syslog, in the mail log too.
int startFailure(const config::LogOptions& log, const std::string& what) {
  std::fprintf(stderr, "mailwarden: %s\n", what.c_str());
  if (log.sink == obs::Sink::Syslog) {
    obs::log(obs::Level::Error, "", "milter", "not started: {}", what);
  }
  return 1;
}

}  // namespace

int run(const std::string& config_path) {
  // Large blocks (Hyperscan databases, rule tables: hundreds of KB each, rebuilt on
  // every SIGHUP) always straight from mmap, so a retired snapshot's memory goes back to
  // the system. glibc otherwise raises its mmap threshold after the first such block is
  // freed and serves the next ones from the heap, where reloads fragment it: a 30-minute
  // soak with a SIGHUP a minute grew RSS by 5.6 %; 120 idle reloads by 2.2 MB, and by
  // none with the fixed threshold (doc/PERFORMANCE.md, soak).
  static_cast<void>(mallopt(M_MMAP_THRESHOLD, 128 * 1024));
  // SIGHUP, SIGTERM and SIGINT are for libmilter's sigwait() thread alone (signals.h).
  // libmilter blocks them in the main thread only when smfi_main() starts, but the
  // snapshot below already starts threads (libunbound's dispatcher, the DMARC report
  // writer) that would inherit an open mask: the kernel then hands a SIGTERM to one of
  // them, whose default action ends the process at once — no drain, no report flush.
  // Blocked here, every thread inherits the block; a signal sent during start-up waits
  // for the sigwait() thread.
  {
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGHUP);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  }
  config::LoadResult loaded = config::loadFile(config_path);
  if (!loaded.ok()) {
    for (const Error& e : loaded.errors) {
      std::fprintf(stderr, "mailwarden: %s\n", e.describe().c_str());
    }
    return 2;
  }
  const config::Config cfg = loaded.config;
  obs::configure(cfg.log.sink, cfg.log.level, cfg.log.facility);

  Result<scan::SnapshotConstSharedPtr> snap =
      scan::Snapshot::build(loaded.config, std::make_shared<SystemClock>());
  if (!snap) {
    std::fprintf(stderr, "mailwarden: %s\n", snap.error().describe().c_str());
    return 2;
  }
  Result<Identity> who = lookupIdentity(cfg.milter.user, cfg.milter.group);
  if (!who) {
    std::fprintf(stderr, "mailwarden: %s\n", who.error().describe().c_str());
    return 2;
  }
  // dmarc.reports: the store was opened (created when missing) by Snapshot::build as
  // whoever started us. Started as root, the files are root's: after the privilege drop
  // milter.user must still write them (and SQLite its -wal and -shm beside them), so
  // they become its own now. The Debian package makes /var/lib/mailwarden
  // mailwarden-owned, so files SQLite creates there later are the milter user's anyway.
  if (geteuid() == 0 && !who->user.empty()) {
    for (const std::string& file : scan::reportStoreFiles(cfg)) {
      if (::chown(file.c_str(), who->uid, who->gid) != 0 && errno != ENOENT) {
        std::fprintf(stderr, "mailwarden: dmarc.reports: cannot chown %s to %s: %s\n", file.c_str(),
                     who->user.c_str(), std::strerror(errno));
        return 2;
      }
    }
  }

  Runtime& rt = runtime();
  rt.config_path = config_path;
  rt.snapshots = std::make_unique<scan::SnapshotHolder>(*snap);
  obs::counters().config_generation.set(static_cast<std::int64_t>((*snap)->generation()));
  metrics::recordBuildInfo();

  // One instance per socket, and a reason for every failure (socket.h).
  const std::string& spec = cfg.milter.socket;
  const std::optional<std::string> path = unixSocketPath(spec);
  if (Result<void> r = checkNotInUse(spec); !r) {
    return startFailure(cfg.log, r.error().message);
  }
  std::string bind_spec = spec;
  std::string staging;
  if (path) {
    Result<std::string> s = stagingPath(*path);
    if (!s) {
      return startFailure(cfg.log, s.error().message);
    }
    staging = *s;
    bind_spec = "unix:" + staging;
  }
  const std::string owner = who->user.empty() ? "" : who->user;
  if (Result<void> r = probe(bind_spec, spec, owner); !r) {
    return startFailure(cfg.log, r.error().message);
  }

  static smfiDesc desc = makeDescription();  // libmilter keeps the pointer
  if (smfi_register(desc) != MI_SUCCESS) {
    return startFailure(cfg.log, "smfi_register failed");
  }
  if (smfi_setconn(cstr(bind_spec)) != MI_SUCCESS ||
      smfi_settimeout(cfg.milter.timeout_seconds) != MI_SUCCESS ||
      smfi_setbacklog(cfg.milter.backlog) != MI_SUCCESS) {
    return startFailure(cfg.log, "cannot configure libmilter for " + spec);
  }
  // The socket gets its mode from the umask at bind time: no chmod of a path afterwards.
  const mode_t saved_umask = ::umask(static_cast<mode_t>(~cfg.milter.socket_mode & 0777));
  const int opened = smfi_opensocket(false);
  ::umask(saved_umask);
  if (opened != MI_SUCCESS) {
    // The probe bound it a moment ago; libmilter logged its own reason to syslog.
    return startFailure(cfg.log, "cannot open socket " + spec + " (libmilter failed after a successful "
                        "probe; see the mail log)");
  }
  SocketFile published;
  if (path) {
    if (Result<void> r = handOverSocket(staging, *who); !r) {
      static_cast<void>(::unlink(staging.c_str()));
      return startFailure(cfg.log, r.error().message);
    }
    Result<SocketFile> f = publish(staging, *path);
    if (!f) {
      return startFailure(cfg.log, f.error().message);
    }
    published = *f;
  } else if (setNoDelayOnListeners() == 0) {
    obs::log(obs::Level::Warn, "", "milter", "could not set TCP_NODELAY on {}", spec);
  }
  // Bound as root, like the milter socket, so a port below 1024 works (metrics/server.h).
  if (!cfg.metrics.listen.empty()) {
    Result<std::unique_ptr<metrics::Server>> m =
        metrics::Server::start(cfg.metrics.address, cfg.metrics.port);
    if (!m) {
      static_cast<void>(removeIfOurs(published));
      return startFailure(cfg.log, m.error().message);
    }
    rt.metrics = std::move(*m);
    rt.metrics_options = cfg.metrics;
    obs::log(obs::Level::Info, "", "milter", "metrics served on http://{}/metrics",
             rt.metrics->endpoint());
  }
  if (Result<void> r = dropTo(*who); !r) {
    static_cast<void>(removeIfOurs(published));
    return startFailure(cfg.log, r.error().message);
  }

  setReloadHook([] { reload(); });
  const int drain_seconds = cfg.milter.drain_seconds;
  setStopHook([drain_seconds, published](int sig) {
    runtime().stopping.store(true);
    obs::log(obs::Level::Info, "", "milter",
             "signal {}: finishing {} open message(s), refusing new ones (451 4.3.2)", sig,
             runtime().open_messages.load());
    drain(drain_seconds);
    // Nothing is open any more. libmilter would now stop on its own, but its listener
    // looks at the stop flag only between 5-second polls (MI_CHK_TIME) and has no way to
    // be woken: a restart would tempfail mail for up to 7 s. The verdicts are all given,
    // so the process ends here; the MTA sees the idle connections close.
    finish(published);
    std::fflush(nullptr);
    ::_exit(0);
  });
  obs::log(obs::Level::Info, "", "milter", "listening on {} as uid {} (config {}, generation {})",
           spec, static_cast<unsigned>(getuid()), config_path, (*snap)->generation());
  const int status = smfi_main();
  // Only when libmilter gave up on its own (the stop hook exits).
  setStopHook(nullptr);
  finish(published);
  return status == MI_SUCCESS ? 0 : 1;
}

}  // namespace mw::milter

