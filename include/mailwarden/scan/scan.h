// scan/scan.h — one message through the pipeline. The milter glue and `mailwarden
// check` both drive a Scan with the same events, so they produce the same Verdict.
//
// Events must come in protocol order: connect, helo, mailFrom, rcpt..., header...,
// endOfHeaders, body..., finish. Out-of-order calls are tolerated (libmilter may skip
// events that were negotiated away) but never crash. Input is untrusted.
// Thread-compatible: one Scan per message, driven by one thread at a time.
// An exception from a stage hook is caught here, per stage (stage.h): logged, counted,
// Findings::failure set, that stage stopped. Scan's own methods throw nothing except
// std::bad_alloc; callers at the edges turn that into the failure policy.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/dns/session.h"
#include "mailwarden/message/envelope.h"
#include "mailwarden/message/header.h"
#include "mailwarden/message/reader.h"
#include "mailwarden/scan/metrics.h"
#include "mailwarden/scan/snapshot.h"
#include "mailwarden/scan/stage.h"
#include "mailwarden/verdict/verdict.h"

namespace mw::scan {

// The lookups of an SMTP connection that depend only on the client address — iprev's
// PTR and the client_ip DNS lists — started at connect, before HELO and MAIL FROM
// arrive, and joined by every message of the connection that runs on the same snapshot
// (DESIGN.md: a lookup starts as soon as its input is known). Shared, immutable once
// made; its Session is thread-safe.
struct ClientLookups {
  SnapshotConstSharedPtr snapshot;    // the snapshot current at connect
  std::shared_ptr<dns::Session> dns;  // its lookups, with a Budget of dns.budget_ms
};

// Starts them for `client_ip` (nothing for an empty or invalid address, or when
// neither iprev nor a client_ip list is configured, or when a trusted network skips
// them: bypassFor). Never throws except bad_alloc.
std::shared_ptr<const ClientLookups> startClientLookups(SnapshotConstSharedPtr snapshot,
                                                        std::string_view client_ip);

// Whether a message from `client_ip`, authenticated as `authenticated_user` ("" when
// not), is spared the checks that judge strangers under `snapshot`'s bypass options
// (config.h BypassOptions, verdict::Bypass): a trusted network first (always Skip),
// then SMTP AUTH as bypass.authenticated says (Check: nullopt). The checks listed are
// bypass.skip minus those this configuration does not run. Never throws except
// bad_alloc.
std::optional<verdict::Bypass> bypassFor(const Snapshot& snapshot, std::string_view client_ip,
                                         std::string_view authenticated_user);

class Scan {
 public:
  // `client`: the connection's lookups (milter/); joined when they were started on
  // `snapshot` (a reload in between: not used).
  explicit Scan(SnapshotConstSharedPtr snapshot,
                std::shared_ptr<const ClientLookups> client = nullptr);
  Scan(const Scan&) = delete;
  Scan& operator=(const Scan&) = delete;

  void connect(std::string_view client_ip, std::string_view client_name);
  void helo(std::string_view name);
  void queueId(std::string_view id);
  // The SMTP AUTH login ({auth_authen}); "" or never called: not authenticated. Call
  // before mailFrom: the bypass is decided as the stages start (MAIL FROM), and a later
  // call only changes the envelope. Kept through message::sanitizeAuthUser.
  void authenticated(std::string_view user);
  void mailFrom(std::string_view addr);
  void rcpt(std::string_view addr);
  void header(std::string_view name, std::string_view value);
  void endOfHeaders();
  void body(std::string_view chunk);
  // Concludes every stage and decides. Call once.
  verdict::Verdict finish();

  const message::Envelope& envelope() const noexcept { return envelope_; }
  const message::HeaderList& headers() const noexcept { return headers_; }
  const verdict::Findings& findings() const noexcept { return findings_; }
  // The first Message-ID field's value, trimmed, at most kMaxMessageId bytes; "" if none.
  const std::string& messageId() const noexcept { return message_id_; }
  const Snapshot& snapshot() const noexcept { return *snapshot_; }
  // Time spent so far (complete after finish()): for the metrics and the log line.
  const MessageTimings& timings() const noexcept { return timings_; }

 private:
  void startStages();
  // Runs one hook of stages_[i]; an exception stops that stage and fails the message.
  template <typename Hook>
  void runHook(std::size_t i, const char* hook, Hook&& call);
  void stageFailed(std::size_t i, const char* hook, const char* what) noexcept;
  // Stage::delivered threw: logged and counted; the verdict stands.
  void deliveredFailed(std::size_t i, const char* what) noexcept;
  // dmarc.reports: records Findings::dmarc_report after decide() (scan.cpp says when).
  // Bounded (report::Recorder); never changes `v`.
  void recordDmarcReport(const verdict::Verdict& v) noexcept;

  SnapshotConstSharedPtr snapshot_;
  std::shared_ptr<const ClientLookups> client_;
  // The message's DNS (its budget, every lookup shared): declared before stages_, so it
  // outlives them.
  std::unique_ptr<dns::Session> dns_;
  message::Envelope envelope_;
  message::HeaderList headers_;
  verdict::Findings findings_;
  std::vector<StagePtr> stages_;
  std::vector<bool> done_;
  std::vector<bool> failed_;  // threw: no more events, no endOfMessage, no conclude
  std::map<std::string, int> occurrences_;  // lower-case field name -> fields seen
  std::uint64_t body_bytes_ = 0;
  std::string message_id_;  // the first Message-ID field, for the log line
  // Wall time (scan/metrics.h): from construction; per stage, summed over its hooks.
  std::chrono::steady_clock::time_point created_ = std::chrono::steady_clock::now();
  MessageTimings timings_;
  std::chrono::steady_clock::time_point tick_;  // runHook: when the next hook starts
  bool started_ = false;
  bool headers_ended_ = false;
  bool finished_ = false;
};

// Feeds a message::MessageReader's header fields and body to a Scan (`mailwarden check`,
// bench/scan_bench): the reader splits a message file as the MTA splits it for the milter.
class ReaderFeed final : public message::ReaderSink {
 public:
  explicit ReaderFeed(Scan& scan) : scan_(scan) {}
  void header(std::string_view name, std::string_view value) override { scan_.header(name, value); }
  void endOfHeaders() override { scan_.endOfHeaders(); }
  void body(std::string_view chunk) override { scan_.body(chunk); }

 private:
  Scan& scan_;
};

}  // namespace mw::scan
