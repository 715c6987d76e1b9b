// bench/milter_load — a load generator for milters: C concurrent MTA connections send N
// messages through the milter protocol (version 6) the way Postfix does, and report
// throughput, latency, the milter's CPU and memory, and what the milter answered.
//
//   milter_load --socket SPEC --message FILE [--message FILE]... [options]
//
// The protocol itself (option negotiation, Postfix's macros, SMFIP_NO* / SMFIP_NR_*
// honoured, body chunks of at most 65535 bytes, modifications read after end of message,
// SMFIC_ABORT after each transaction) is tests/tools/milter_protocol.h, shared with
// milter_client; this file only schedules it and measures.
//
// Scheduling. C worker threads, one MTA connection each at a time. A worker opens a
// connection (OPTNEG, CONNECT, HELO), sends K messages on it one after another (a claim
// on a shared counter per message, so exactly N are attempted in all), then QUITs and
// opens the next, as a Postfix smtpd with K messages per SMTP session would. Messages
// are the --message files, round-robin over the global message number.
//
// Latency of a message: from queueing its MAIL command (the first command of the
// transaction; envelope events are buffered until a reply is due, as Postfix's stream
// does) to reading the final reply to SMFIC_BODYEOB. It therefore includes sending the
// whole message, not just the milter's end-of-message work; eob_to_reply_ms (from the
// write that carried BODYEOB to the final reply) is reported too. Connection set-up
// (OPTNEG/CONNECT/HELO) is outside both; connect_to_reply_ms covers it: from just before
// the socket is opened (an SMTP client connecting: Postfix opens its milter connections
// then) to the final reply to BODYEOB, for each message that opened its own connection
// (all of them with K = 1).
//
// Throughput: completed messages / wall time of the measured phase (threads started to
// threads joined). A --warmup phase with the same concurrency runs first and is not
// counted.
//
// Milter process (--pid PID or --proc-name NAME, read from /proc): CPU = utime + stime of
// the whole process (all threads) over the measured phase, in ms per completed message;
// VmRSS sampled every --sample-ms during the phase (its maximum is "peak RSS of the
// phase"), and VmHWM (the kernel's high-water mark since the process started) at the end.
//
// Bounds: N messages at most; no new message starts after --duration-limit seconds
// (warmup included); every packet read or write waits at most --timeout-ms. A milter
// that misbehaves (refuses, closes, sends garbage) costs a counted error, never a crash;
// the worker then starts a new connection.
//
// Plan (--plan FILE, for latency benchmarks that must not be answered from a DNS cache):
// one line per message, "MESSAGE_FILE CLIENT_IP HELO MAIL_FROM" (blank lines and lines
// starting with # ignored, at most 1,000,000 lines); message number n (warmup first) uses
// line n mod lines, with its own connection (K must be 1), so every message can come from
// a new client with a new sender domain. --per-message FILE writes one JSON object per
// measured message (JSON Lines, in message-number order): its plan fields, the three
// latencies, the final reply and the header fields the milter added or changed, so that
// a caller can check every verdict and add up the latencies of milters in sequence.
//
// Open loop (--rate R, for latency under load): message n of a phase is due at phase
// start + n / R seconds; the worker that claims it waits until then, so messages start at
// a fixed rate spread over the C connections whatever the milter's answers take (closed
// loop, the default, starts the next message when a connection is free). A message that
// finds every connection busy starts late; its sched_to_reply_ms (due time -> final
// reply, connection set-up included) counts that wait, so a milter that cannot keep up
// shows it in those percentiles rather than in a lower rate (no coordinated omission).
// R must leave the connections enough room: C connections at p50 latency L serve at most
// C / L messages a second.
//
// --dump-mods FILE writes the first --dump-count (default 5) measured messages as
// --per-message lines do (reply and every modification, values in full), without
// keeping every message's: what a caller greps to check the milter's verdicts
// (Authentication-Results: ... dkim=pass) while measuring thousands.
//
// Output: a human-readable table on stdout, and with --json FILE ("-" for stdout, then
// the table goes to stderr) one JSON object. Exit status: 0 if every message got a final
// reply and there were no errors, 1 otherwise, 2 bad usage or unreadable messages.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/tools/milter_protocol.h"

namespace mw::bench {
namespace {

using namespace mw::testtools;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string socket;
  std::vector<std::string> message_files;
  long connections = 10;
  long messages = 1000;
  long per_connection = 1;
  long warmup = 0;
  long duration_limit_s = 300;
  long sample_ms = 20;
  long chunk = static_cast<long>(kChunkSize);
  std::optional<long> pid;
  std::string proc_name;
  std::string json_path;
  std::string label;
  std::string plan_path;
  std::string per_message_path;
  std::string dump_mods_path;
  long dump_count = 5;
  double rate = 0;  // messages per second, open loop; 0 = closed loop
  std::optional<std::string> mail_from;
  std::vector<std::string> rcpts;
  SmtpClient client;
  SessionOptions session;
};

void usage() {
  std::fputs(
      "usage: milter_load --socket SPEC --message FILE [--message FILE]...\n"
      "         [--connections C] [--messages N] [--per-connection K] [--warmup W]\n"
      "         [--duration-limit SECONDS] [--pid PID | --proc-name NAME] [--sample-ms MS]\n"
      "         [--json FILE|-] [--label TEXT] [--chunk BYTES] [--timeout-ms MS]\n"
      "         [--mail-from ADDR] [--rcpt ADDR]... [--client-ip IPV4] [--helo NAME]\n"
      "         [--plan FILE] [--per-message FILE] [--dump-mods FILE [--dump-count N]]\n"
      "         [--rate MSG_PER_S]\n"
      "  plan lines: MESSAGE_FILE CLIENT_IP HELO MAIL_FROM (one message each, K = 1)\n"
      "  SPEC: unix:/path | inet:PORT@HOST | inet6:PORT@HOST | inet:HOST:PORT\n",
      stderr);
}

bool toLong(const char* text, long min, long max, long& out) {
  errno = 0;
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (errno != 0 || *text == '\0' || *end != '\0' || v < min || v > max) {
    return false;
  }
  out = v;
  return true;
}

// Command line -> Options, or nullopt after a message on stderr.
std::optional<Options> parseOptions(int argc, char** argv) {
  Options o;
  // Numeric options: name -> (target, min, max).
  struct Numeric {
    long* target;
    long min;
    long max;
  };
  long timeout_ms = o.session.timeout_ms;
  long pid = 0;
  const std::map<std::string, Numeric> numeric{
      {"--connections", {&o.connections, 1, 1000}},
      {"--messages", {&o.messages, 1, 100000000}},
      {"--per-connection", {&o.per_connection, 1, 100000000}},
      {"--warmup", {&o.warmup, 0, 100000000}},
      {"--duration-limit", {&o.duration_limit_s, 1, 7 * 24 * 3600}},
      {"--sample-ms", {&o.sample_ms, 1, 60000}},
      {"--chunk", {&o.chunk, 1, static_cast<long>(kChunkSize)}},
      {"--timeout-ms", {&timeout_ms, 1, 3600 * 1000}},
      {"--pid", {&pid, 1, 1L << 30}},
      {"--dump-count", {&o.dump_count, 1, 100000}},
  };
  // Text options: name -> target (repeatable ones are handled below).
  std::string mail_from;
  const std::map<std::string, std::string*> text{
      {"--socket", &o.socket},      {"--proc-name", &o.proc_name},
      {"--json", &o.json_path},     {"--label", &o.label},
      {"--mail-from", &mail_from},  {"--client-ip", &o.client.address},
      {"--helo", &o.client.helo},   {"--plan", &o.plan_path},
      {"--per-message", &o.per_message_path}, {"--dump-mods", &o.dump_mods_path},
  };
  bool have_mail_from = false;
  for (int i = 1; i < argc; ++i) {
    const std::string name = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "milter_load: %s needs a value\n", name.c_str());
      return std::nullopt;
    }
    const char* value = argv[++i];
    if (auto n = numeric.find(name); n != numeric.end()) {
      if (!toLong(value, n->second.min, n->second.max, *n->second.target)) {
        std::fprintf(stderr, "milter_load: %s needs a number in %ld..%ld\n", name.c_str(),
                     n->second.min, n->second.max);
        return std::nullopt;
      }
    } else if (auto t = text.find(name); t != text.end()) {
      *t->second = value;
      have_mail_from = have_mail_from || name == "--mail-from";
    } else if (name == "--rate") {
      char* end = nullptr;
      errno = 0;
      const double r = std::strtod(value, &end);
      if (errno != 0 || end == value || *end != '\0' || !(r > 0 && r <= 1e7)) {
        std::fprintf(stderr, "milter_load: --rate needs messages per second in (0, 1e7]\n");
        return std::nullopt;
      }
      o.rate = r;
    } else if (name == "--message") {
      o.message_files.emplace_back(value);
    } else if (name == "--rcpt") {
      o.rcpts.emplace_back(value);
    } else {
      std::fprintf(stderr, "milter_load: unknown option %s\n", name.c_str());
      return std::nullopt;
    }
  }
  if (o.socket.empty() || (o.message_files.empty() == o.plan_path.empty())) {
    std::fputs("milter_load: --socket and either --message (repeatable) or --plan are required\n",
               stderr);
    return std::nullopt;
  }
  if (!o.plan_path.empty() && o.per_connection != 1) {
    std::fputs("milter_load: --plan gives each message its own client: --per-connection 1\n",
               stderr);
    return std::nullopt;
  }
  if (pid != 0 && !o.proc_name.empty()) {
    std::fputs("milter_load: --pid and --proc-name exclude each other\n", stderr);
    return std::nullopt;
  }
  if (pid != 0) {
    o.pid = pid;
  }
  if (have_mail_from) {
    o.mail_from = mail_from;
  }
  o.session.timeout_ms = static_cast<int>(timeout_ms);
  o.client.helo = o.client.helo.empty() ? "mail.example.net" : o.client.helo;
  return o;
}

// ---- /proc ---------------------------------------------------------------------------

// The one process whose comm is `name`, or an Error if none or several.
Result<long> findProcess(const std::string& name) {
  std::vector<long> found;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) {
    return fail(Errc::Invalid, "cannot read /proc");
  }
  while (const dirent* e = ::readdir(d)) {
    long pid = 0;
    if (!toLong(e->d_name, 1, 1L << 30, pid)) {
      continue;
    }
    std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
    std::string c;
    if (std::getline(comm, c) && c == name) {
      found.push_back(pid);
    }
  }
  ::closedir(d);
  if (found.size() != 1) {
    return fail(Errc::Invalid, std::to_string(found.size()) + " processes are named " + name +
                                   " (give --pid)");
  }
  return found.front();
}

struct ProcSample {
  bool ok = false;
  long cpu_ticks = 0;  // utime + stime, all threads
  long rss_kib = 0;    // VmRSS
  long hwm_kib = 0;    // VmHWM
  long threads = 0;
};

// One reading of /proc/PID/stat and /proc/PID/status; ok = false if the process is gone.
ProcSample readProc(long pid) {
  ProcSample s;
  const std::string dir = "/proc/" + std::to_string(pid);
  std::ifstream stat(dir + "/stat");
  std::string line;
  if (!std::getline(stat, line)) {
    return s;
  }
  // comm may contain spaces and ')': the fields start after the last ')'. Then state is
  // field 3, utime field 14, stime field 15 (proc(5)).
  const std::size_t close = line.rfind(')');
  if (close == std::string::npos) {
    return s;
  }
  std::istringstream fields(line.substr(close + 1));
  std::string f;
  long utime = 0;
  long stime = 0;
  for (int field = 3; field <= 15 && fields >> f; ++field) {
    if (field == 14) {
      utime = std::atol(f.c_str());
    } else if (field == 15) {
      stime = std::atol(f.c_str());
    }
  }
  s.cpu_ticks = utime + stime;
  std::ifstream status(dir + "/status");
  while (std::getline(status, line)) {
    const auto value = [&](const char* key) {
      return std::atol(line.c_str() + std::strlen(key));
    };
    if (line.rfind("VmRSS:", 0) == 0) {
      s.rss_kib = value("VmRSS:");
    } else if (line.rfind("VmHWM:", 0) == 0) {
      s.hwm_kib = value("VmHWM:");
    } else if (line.rfind("Threads:", 0) == 0) {
      s.threads = value("Threads:");
    }
  }
  s.ok = true;
  return s;
}

// Samples VmRSS of pid every interval on its own thread, from construction to stop().
class RssSampler {
 public:
  RssSampler(long pid, long interval_ms) : pid_(pid), interval_(interval_ms) {
    thread_ = std::thread([this] { loop(); });
  }
  RssSampler(const RssSampler&) = delete;
  RssSampler& operator=(const RssSampler&) = delete;
  ~RssSampler() { stop(); }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  long maxRssKib() const { return max_rss_; }
  long maxThreads() const { return max_threads_; }
  long samples() const { return samples_; }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      const ProcSample s = readProc(pid_);
      if (s.ok) {
        max_rss_ = std::max(max_rss_, s.rss_kib);
        max_threads_ = std::max(max_threads_, s.threads);
        ++samples_;
      }
      cv_.wait_for(lock, std::chrono::milliseconds(interval_), [this] { return stopping_; });
    }
  }

  long pid_;
  long interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  long max_rss_ = 0;
  long max_threads_ = 0;
  long samples_ = 0;
  std::thread thread_;
};

// ---- one phase -----------------------------------------------------------------------

// One line of --plan: which message, from which client, with which envelope.
struct PlanEntry {
  std::string file;
  std::size_t message = 0;  // index into the loaded messages
  std::string client_ip;
  std::string helo;
  std::string mail_from;
};

std::string jsonString(const std::string& s);
std::string jsonNumber(double v);

// What one worker saw; merged after the phase.
struct Tally {
  std::vector<double> message_ms;
  std::vector<double> eob_ms;
  std::vector<double> connect_ms;  // connect -> final reply, messages that opened a session
  std::vector<double> sched_ms;    // --rate: due time -> final reply
  std::vector<std::pair<long, std::string>> per_message;  // (number, JSON line), --per-message
  std::map<std::string, long> replies;        // "accept", "replycode 550", ...
  std::map<std::string, long> modifications;  // "insheader", "chgheader(delete)", ...
  std::map<std::string, long> headers_added;  // header name of insheader/addheader
  long completed = 0;   // a final reply was read (whatever it was)
  long errors = 0;      // protocol or connection errors (message lost to the measurement)
  long connections = 0;
  std::string first_error;
  std::string negotiated;
  // The modifications of this worker's first completed message, described: shows what
  // the milter concluded (e.g. Authentication-Results: spf=pass) without a second tool.
  std::vector<std::string> sample;
  bool leadspc = false;

  void merge(Tally&& o) {
    message_ms.insert(message_ms.end(), o.message_ms.begin(), o.message_ms.end());
    eob_ms.insert(eob_ms.end(), o.eob_ms.begin(), o.eob_ms.end());
    connect_ms.insert(connect_ms.end(), o.connect_ms.begin(), o.connect_ms.end());
    sched_ms.insert(sched_ms.end(), o.sched_ms.begin(), o.sched_ms.end());
    per_message.insert(per_message.end(), std::make_move_iterator(o.per_message.begin()),
                       std::make_move_iterator(o.per_message.end()));
    for (const auto& [k, v] : o.replies) replies[k] += v;
    for (const auto& [k, v] : o.modifications) modifications[k] += v;
    for (const auto& [k, v] : o.headers_added) headers_added[k] += v;
    completed += o.completed;
    errors += o.errors;
    connections += o.connections;
    if (first_error.empty()) first_error = o.first_error;
    if (negotiated.empty()) negotiated = o.negotiated;
    if (sample.empty()) sample = std::move(o.sample);
  }
  void error(const std::string& what) {
    ++errors;
    if (first_error.empty()) first_error = what;
  }
};

std::string replyKind(const FinalReply& r) {
  switch (r.code) {
    case smfir::kAccept: return "accept";
    case smfir::kContinue: return "continue";
    case smfir::kReject: return "reject";
    case smfir::kTempFail: return "tempfail";
    case smfir::kDiscard: return "discard";
    case smfir::kShutdown: return "shutdown";
    case smfir::kConnFail: return "conn_fail";
    case smfir::kSkip: return "skip";
    case smfir::kReplyCode: return "replycode " + r.text.substr(0, 3);
    default: return std::string("code '") + r.code + "'";
  }
}

std::string modificationKind(const Modification& m) {
  switch (m.code) {
    case smfir::kAddHeader: return "addheader";
    case smfir::kInsHeader: return "insheader";
    case smfir::kChgHeader: return m.value.empty() ? "chgheader(delete)" : "chgheader";
    case smfir::kQuarantine: return "quarantine";
    case smfir::kAddRcpt: return "addrcpt";
    case smfir::kAddRcptPar: return "addrcpt_par";
    case smfir::kDelRcpt: return "delrcpt";
    case smfir::kChgFrom: return "chgfrom";
    case smfir::kReplBody: return "replbody";
    default: return std::string("code '") + m.code + "'";
  }
}

// One --per-message line: the plan fields (if any), the latencies (null where not
// measured), the final reply and every modification the milter asked for.
std::string perMessageJson(long number, const PlanEntry* step, const TransactionResult& r,
                           std::optional<double> connect_ms) {
  std::string j = "{\"number\": " + std::to_string(number);
  if (step != nullptr) {
    j += ", \"file\": " + jsonString(step->file) + ", \"client_ip\": " +
         jsonString(step->client_ip) + ", \"helo\": " + jsonString(step->helo) +
         ", \"mail_from\": " + jsonString(step->mail_from);
  }
  j += ", \"connect_to_reply_ms\": " + (connect_ms ? jsonNumber(*connect_ms) : "null");
  j += ", \"mail_to_reply_ms\": " + jsonNumber(r.total_ms);
  j += ", \"eob_to_reply_ms\": " +
       (r.reply && r.stopped_at.empty() ? jsonNumber(r.eob_to_reply_ms) : "null");
  j += ", \"reply\": " + (r.reply ? jsonString(replyKind(*r.reply)) : "null");
  j += ", \"reply_text\": " + (r.reply ? jsonString(r.reply->text) : "null");
  j += ", \"stopped_at\": " + jsonString(r.stopped_at) + ", \"modifications\": [";
  for (std::size_t i = 0; i < r.modifications.size(); ++i) {
    const Modification& m = r.modifications[i];
    j += (i ? ", " : "") + std::string("{\"op\": ") + jsonString(modificationKind(m)) +
         ", \"index\": " + std::to_string(m.index) + ", \"name\": " + jsonString(m.name) +
         ", \"value\": " + jsonString(m.value) + "}";
  }
  return j + "]}";
}

void record(Tally& t, const TransactionResult& r) {
  if (!r.reply) {
    t.error("no final reply");
    return;
  }
  ++t.completed;
  t.replies[replyKind(*r.reply) + (r.stopped_at.empty() ? "" : " at " + r.stopped_at)] += 1;
  for (const Modification& m : r.modifications) {
    t.modifications[modificationKind(m)] += 1;
    if (m.code == smfir::kAddHeader || m.code == smfir::kInsHeader) {
      t.headers_added[m.name] += 1;
    }
  }
  if (t.sample.empty()) {
    for (const Modification& m : r.modifications) {
      t.sample.push_back(m.describe(t.leadspc));
    }
    t.sample.push_back("reply " + r.reply->describe());
  }
  t.message_ms.push_back(r.total_ms);
  if (r.stopped_at.empty()) {
    t.eob_ms.push_back(r.eob_to_reply_ms);
  }
}

struct PhaseResult {
  Tally tally;
  long attempted = 0;
  bool hit_duration_limit = false;
  double wall_s = 0;
};

// Sends `count` messages (numbers first..first+count-1) with the options' concurrency.
// With a plan, message number n is plan[n % plan.size()] (its own connection, K = 1).
PhaseResult runPhase(const Options& o, const Endpoint& where, const std::vector<Message>& msgs,
                     const std::vector<PlanEntry>& plan, long first, long count,
                     Clock::time_point deadline) {
  std::atomic<long> next{0};
  std::atomic<bool> late{false};
  std::vector<Tally> tallies(static_cast<std::size_t>(o.connections));
  // Phase start: the due times of --rate count from here (set before any worker runs).
  const Clock::time_point t0 = Clock::now();
  const auto worker = [&](std::size_t w) {
    Tally& t = tallies[w];
    std::optional<Session> session;
    long on_session = 0;
    SmtpClient client = o.client;
    for (;;) {
      if (next.load() >= count) {
        break;  // all claimed: not "late", even if the deadline has passed meanwhile
      }
      if (Clock::now() >= deadline) {
        late = true;
        break;
      }
      const long n = next.fetch_add(1);
      if (n >= count) {
        break;
      }
      const long number = first + n;
      std::optional<Clock::time_point> due;
      if (o.rate > 0) {
        due = t0 + std::chrono::duration_cast<Clock::duration>(
                       std::chrono::duration<double>(static_cast<double>(n) / o.rate));
        if (*due >= deadline) {
          late = true;
          break;
        }
        std::this_thread::sleep_until(*due);
      }
      const PlanEntry* step =
          plan.empty() ? nullptr : &plan[static_cast<std::size_t>(number) % plan.size()];
      std::optional<Message> planned;  // the plan's message with its MAIL FROM
      if (step != nullptr) {
        planned = msgs[step->message];
        planned->mail_from = step->mail_from;
        client.address = step->client_ip;
        client.helo = step->helo;
        // What Postfix reports when the client has no verified name; the milters do
        // their own reverse lookups.
        client.hostname = "unknown";
      }
      std::optional<Clock::time_point> connected_at;
      if (!session) {
        // Each connection its own client port, as distinct SMTP sessions have.
        client.port = static_cast<std::uint16_t>(1024 + (number % 60000));
        connected_at = Clock::now();
        Result<Session> s = openGreeted(where, o.session, client);
        if (!s) {
          t.error("connect/negotiate/greet: " + s.error().describe());
          continue;
        }
        ++t.connections;
        if (t.negotiated.empty()) {
          t.negotiated = s->negotiated().describe();
          t.leadspc = s->leadingSpace();
        }
        session.emplace(std::move(*s));
        on_session = 0;
      }
      const Message& m =
          planned ? *planned : msgs[static_cast<std::size_t>(number) % msgs.size()];
      TransactionOptions topt;
      topt.queue_id = queueIdFor(number + 1);
      topt.chunk = static_cast<std::size_t>(o.chunk);
      const Clock::time_point mail_at = Clock::now();
      Result<TransactionResult> r = sendMessage(*session, m, topt);
      if (!r) {
        t.error("message " + std::to_string(number + 1) + ": " + r.error().describe());
        session.reset();  // the stream is in an unknown state: start over
        continue;
      }
      record(t, *r);
      // connect -> final reply = connection set-up + MAIL -> final reply (sendMessage's
      // own clock), so both figures end at the same instant.
      std::optional<double> connect_ms;
      if (connected_at && r->reply) {
        connect_ms =
            std::chrono::duration<double, std::milli>(mail_at - *connected_at).count() + r->total_ms;
        t.connect_ms.push_back(*connect_ms);
      }
      if (due && r->reply) {
        t.sched_ms.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - *due).count());
      }
      if (!o.per_message_path.empty() || (!o.dump_mods_path.empty() && n < o.dump_count)) {
        t.per_message.emplace_back(number, perMessageJson(number, step, *r, connect_ms));
      }
      if (++on_session >= o.per_connection) {
        if (Result<void> q = session->quit(); !q) {
          t.error("quit: " + q.error().describe());
        }
        session.reset();
      }
    }
    if (session) {
      if (Result<void> q = session->quit(); !q) {
        t.error("quit: " + q.error().describe());
      }
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t w = 0; w < tallies.size(); ++w) {
    threads.emplace_back(worker, w);
  }
  for (std::thread& th : threads) {
    th.join();
  }
  PhaseResult out;
  out.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  out.attempted = std::min(next.load(), count);
  out.hit_duration_limit = late.load();
  for (Tally& t : tallies) {
    out.tally.merge(std::move(t));
  }
  return out;
}

// ---- output --------------------------------------------------------------------------

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string jsonNumber(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string jsonCounts(const std::map<std::string, long>& m) {
  std::string out = "{";
  for (const auto& [k, v] : m) {
    out += (out.size() > 1 ? ", " : "") + jsonString(k) + ": " + std::to_string(v);
  }
  return out + "}";
}

struct Stats {
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};
Stats statsOf(const std::vector<double>& v) {
  Stats s;
  if (v.empty()) {
    return s;
  }
  s.p50 = percentile(v, 50);
  s.p90 = percentile(v, 90);
  s.p99 = percentile(v, 99);
  s.max = percentile(v, 100);
  double sum = 0;
  for (const double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  return s;
}
std::string jsonStats(const Stats& s) {
  return "{\"p50\": " + jsonNumber(s.p50) + ", \"p90\": " + jsonNumber(s.p90) +
         ", \"p99\": " + jsonNumber(s.p99) + ", \"max\": " + jsonNumber(s.max) +
         ", \"mean\": " + jsonNumber(s.mean) + "}";
}

struct Report {
  const Options* options = nullptr;
  std::vector<std::string> files;
  std::vector<std::size_t> message_sizes;
  PhaseResult phase;
  std::optional<long> pid;
  ProcSample proc_before;
  ProcSample proc_after;
  long rss_max_kib = 0;
  long threads_max = 0;
  double gen_cpu_ms = 0;

  double msgPerS() const {
    return phase.wall_s > 0 ? static_cast<double>(phase.tally.completed) / phase.wall_s : 0;
  }
  double milterCpuMs() const {
    return static_cast<double>(proc_after.cpu_ticks - proc_before.cpu_ticks) * 1000.0 /
           static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  bool ok() const {
    return phase.tally.errors == 0 && phase.tally.completed == options->messages &&
           !phase.hit_duration_limit && (!pid || proc_after.ok);
  }
};

std::string toJson(const Report& r) {
  const Options& o = *r.options;
  const Tally& t = r.phase.tally;
  std::ostringstream j;
  j << "{\n  \"tool\": \"milter_load\", \"label\": " << jsonString(o.label)
    << ",\n  \"socket\": " << jsonString(o.socket) << ", \"connections\": " << o.connections
    << ", \"messages\": " << o.messages << ", \"per_connection\": " << o.per_connection
    << ", \"warmup\": " << o.warmup << ",\n  \"message_files\": [";
  for (std::size_t i = 0; i < r.files.size(); ++i) {
    j << (i ? ", " : "") << "{\"path\": " << jsonString(r.files[i])
      << ", \"bytes\": " << r.message_sizes[i] << "}";
  }
  j << "],\n  \"negotiated\": " << jsonString(t.negotiated) << ",\n  \"attempted\": "
    << r.phase.attempted << ", \"completed\": " << t.completed << ", \"errors\": " << t.errors
    << ", \"first_error\": " << jsonString(t.first_error)
    << ", \"hit_duration_limit\": " << (r.phase.hit_duration_limit ? "true" : "false")
    << ", \"connections_opened\": " << t.connections << ",\n  \"wall_s\": "
    << jsonNumber(r.phase.wall_s) << ", \"msg_per_s\": " << jsonNumber(r.msgPerS())
    << ",\n  \"latency_ms\": " << jsonStats(statsOf(t.message_ms))
    << ",\n  \"eob_to_reply_ms\": " << jsonStats(statsOf(t.eob_ms))
    << ",\n  \"connect_to_reply_ms\": " << jsonStats(statsOf(t.connect_ms))
    << ", \"connect_to_reply_samples\": " << t.connect_ms.size()
    << ",\n  \"rate\": " << jsonNumber(o.rate)
    << ", \"sched_to_reply_ms\": " << jsonStats(statsOf(t.sched_ms))
    << ",\n  \"replies\": " << jsonCounts(t.replies)
    << ",\n  \"modifications\": " << jsonCounts(t.modifications)
    << ",\n  \"headers_added\": " << jsonCounts(t.headers_added) << ",\n  \"sample\": [";
  for (std::size_t i = 0; i < t.sample.size(); ++i) {
    j << (i ? ", " : "") << jsonString(t.sample[i]);
  }
  j << "]"
    << ",\n  \"generator_cpu_ms\": " << jsonNumber(r.gen_cpu_ms);
  if (r.pid) {
    const double cpu = r.milterCpuMs();
    j << ",\n  \"milter\": {\"pid\": " << *r.pid << ", \"alive_at_end\": "
      << (r.proc_after.ok ? "true" : "false") << ", \"cpu_ms\": " << jsonNumber(cpu)
      << ", \"cpu_ms_per_msg\": "
      << jsonNumber(t.completed ? cpu / static_cast<double>(t.completed) : 0)
      << ", \"cpu_utilisation\": " << jsonNumber(r.phase.wall_s > 0 ? cpu / 1000.0 / r.phase.wall_s : 0)
      << ", \"rss_kib_start\": " << r.proc_before.rss_kib << ", \"rss_kib_max\": "
      << r.rss_max_kib << ", \"rss_kib_end\": " << r.proc_after.rss_kib
      << ", \"hwm_kib_end\": " << r.proc_after.hwm_kib << ", \"threads_max\": " << r.threads_max
      << "}";
  }
  j << ",\n  \"ok\": " << (r.ok() ? "true" : "false") << "\n}\n";
  return j.str();
}

void printTable(std::FILE* out, const Report& r) {
  const Options& o = *r.options;
  const Tally& t = r.phase.tally;
  std::fprintf(out, "milter_load%s%s: socket %s, c=%ld, k=%ld, N=%ld (+%ld warmup)\n",
               o.label.empty() ? "" : " ", o.label.c_str(), o.socket.c_str(), o.connections,
               o.per_connection, o.messages, o.warmup);
  for (std::size_t i = 0; i < r.files.size() && i < 5; ++i) {
    std::fprintf(out, "  message %s (%zu bytes)\n", r.files[i].c_str(), r.message_sizes[i]);
  }
  if (r.files.size() > 5) {
    std::fprintf(out, "  ... %zu message files in all\n", r.files.size());
  }
  std::fprintf(out, "  negotiated      %s\n", t.negotiated.c_str());
  std::fprintf(out, "  completed       %ld of %ld (attempted %ld), errors %ld%s, connections %ld\n",
               t.completed, o.messages, r.phase.attempted, t.errors,
               r.phase.hit_duration_limit ? ", STOPPED BY --duration-limit" : "", t.connections);
  if (!t.first_error.empty()) {
    std::fprintf(out, "  first error     %s\n", t.first_error.c_str());
  }
  std::fprintf(out, "  throughput      %.1f msg/s (%.3f s wall)\n", r.msgPerS(), r.phase.wall_s);
  const Stats lat = statsOf(t.message_ms);
  const Stats eob = statsOf(t.eob_ms);
  const Stats con = statsOf(t.connect_ms);
  std::fprintf(out, "  latency ms      %-8s %-8s %-8s %-8s %-8s\n", "p50", "p90", "p99", "max", "mean");
  std::fprintf(out, "    message       %-8.3f %-8.3f %-8.3f %-8.3f %-8.3f\n", lat.p50, lat.p90, lat.p99,
               lat.max, lat.mean);
  std::fprintf(out, "    eob->reply    %-8.3f %-8.3f %-8.3f %-8.3f %-8.3f\n", eob.p50, eob.p90, eob.p99,
               eob.max, eob.mean);
  if (!t.connect_ms.empty()) {
    std::fprintf(out, "    connect->reply %-7.3f %-8.3f %-8.3f %-8.3f %-8.3f (%zu messages)\n", con.p50,
                 con.p90, con.p99, con.max, con.mean, t.connect_ms.size());
  }
  if (!t.sched_ms.empty()) {
    const Stats sch = statsOf(t.sched_ms);
    std::fprintf(out, "    due->reply    %-8.3f %-8.3f %-8.3f %-8.3f %-8.3f (open loop, %.1f msg/s offered)\n",
                 sch.p50, sch.p90, sch.p99, sch.max, sch.mean, o.rate);
  }
  if (r.pid) {
    const double cpu = r.milterCpuMs();
    std::fprintf(out, "  milter pid %ld%s: cpu %.0f ms = %.3f ms/msg (%.0f %% of one CPU); "
                 "VmRSS start %ld KiB, max %ld KiB, end %ld KiB; VmHWM %ld KiB; threads max %ld\n",
                 *r.pid, r.proc_after.ok ? "" : " (GONE at end)", cpu,
                 t.completed ? cpu / static_cast<double>(t.completed) : 0.0,
                 r.phase.wall_s > 0 ? cpu / 10.0 / r.phase.wall_s : 0.0, r.proc_before.rss_kib,
                 r.rss_max_kib, r.proc_after.rss_kib, r.proc_after.hwm_kib, r.threads_max);
  }
  std::fprintf(out, "  generator cpu   %.0f ms\n", r.gen_cpu_ms);
  const auto counts = [&](const char* what, const std::map<std::string, long>& m) {
    std::fprintf(out, "  %-15s", what);
    if (m.empty()) std::fprintf(out, " (none)");
    for (const auto& [k, v] : m) std::fprintf(out, " %s=%ld", k.c_str(), v);
    std::fprintf(out, "\n");
  };
  counts("replies", t.replies);
  counts("modifications", t.modifications);
  counts("headers added", t.headers_added);
  for (const std::string& line : t.sample) {
    std::fprintf(out, "  first message   %s\n", line.c_str());
  }
  std::fprintf(out, "  result          %s\n", r.ok() ? "OK" : "NOT OK");
}

double selfCpuMs() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  const auto ms = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) * 1000.0 + static_cast<double>(tv.tv_usec) / 1000.0;
  };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

// Reads --plan: one "FILE CLIENT_IP HELO MAIL_FROM" per line; the files go to `files`
// (each once), the entries point into it. An Error names the file and line.
Result<std::vector<PlanEntry>> loadPlan(const std::string& path, std::vector<std::string>& files) {
  constexpr long kMaxLines = 1000000;
  std::ifstream in(path);
  if (!in) {
    return fail(Errc::Invalid, "cannot read plan " + path);
  }
  std::vector<PlanEntry> plan;
  std::map<std::string, std::size_t> index;
  std::string line;
  long number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (number > kMaxLines) {
      return fail(Errc::Invalid, path + ": more than " + std::to_string(kMaxLines) + " lines");
    }
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::istringstream fields(line);
    PlanEntry e;
    std::string extra;
    if (!(fields >> e.file >> e.client_ip >> e.helo >> e.mail_from) || (fields >> extra)) {
      return fail(Errc::Invalid, path + ":" + std::to_string(number) +
                                     ": want FILE CLIENT_IP HELO MAIL_FROM");
    }
    auto [it, added] = index.emplace(e.file, files.size());
    if (added) {
      files.push_back(e.file);
    }
    e.message = it->second;
    plan.push_back(std::move(e));
  }
  if (plan.empty()) {
    return fail(Errc::Invalid, path + ": no plan lines");
  }
  return plan;
}

int run(const Options& o) {
  Result<Endpoint> where = parseEndpoint(o.socket);
  if (!where) {
    std::fprintf(stderr, "milter_load: %s\n", where.error().describe().c_str());
    return 2;
  }
  Report r;
  r.options = &o;
  std::vector<Message> msgs;
  std::vector<PlanEntry> plan;
  std::vector<std::string> files = o.message_files;
  if (!o.plan_path.empty()) {
    Result<std::vector<PlanEntry>> p = loadPlan(o.plan_path, files);
    if (!p) {
      std::fprintf(stderr, "milter_load: %s\n", p.error().describe().c_str());
      return 2;
    }
    plan = std::move(*p);
  }
  for (const std::string& path : files) {
    Result<Message> m = loadEml(path);
    if (!m) {
      std::fprintf(stderr, "milter_load: %s\n", m.error().describe().c_str());
      return 2;
    }
    if (o.mail_from) m->mail_from = *o.mail_from;
    if (!o.rcpts.empty()) m->rcpts = o.rcpts;
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    r.message_sizes.push_back(static_cast<std::size_t>(in.tellg()));
    msgs.push_back(std::move(*m));
  }
  if (!o.proc_name.empty()) {
    Result<long> pid = findProcess(o.proc_name);
    if (!pid) {
      std::fprintf(stderr, "milter_load: %s\n", pid.error().describe().c_str());
      return 2;
    }
    r.pid = *pid;
  } else {
    r.pid = o.pid;
  }
  if (r.pid && !readProc(*r.pid).ok) {
    std::fprintf(stderr, "milter_load: no process %ld\n", *r.pid);
    return 2;
  }

  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(o.duration_limit_s);
  if (o.warmup > 0) {
    const PhaseResult w = runPhase(o, *where, msgs, plan, 0, o.warmup, deadline);
    if (w.tally.errors > 0) {
      std::fprintf(stderr, "milter_load: warmup: %ld errors, first: %s\n", w.tally.errors,
                   w.tally.first_error.c_str());
    }
  }
  std::optional<RssSampler> sampler;
  if (r.pid) {
    r.proc_before = readProc(*r.pid);
    sampler.emplace(*r.pid, o.sample_ms);
  }
  const double cpu0 = selfCpuMs();
  r.phase = runPhase(o, *where, msgs, plan, o.warmup, o.messages, deadline);
  r.gen_cpu_ms = selfCpuMs() - cpu0;
  if (r.pid) {
    r.proc_after = readProc(*r.pid);
    sampler->stop();
    r.rss_max_kib = std::max(sampler->maxRssKib(), r.proc_after.rss_kib);
    r.threads_max = sampler->maxThreads();
  }

  r.files = files;
  std::vector<std::pair<long, std::string>> lines = r.phase.tally.per_message;
  std::sort(lines.begin(), lines.end());
  // Both files take the sorted lines: all of them (--per-message), the first
  // --dump-count (--dump-mods; only those were kept unless --per-message is given too).
  for (const auto& [path, limit] :
       {std::pair{o.per_message_path, lines.size()},
        std::pair{o.dump_mods_path,
                  std::min(lines.size(), static_cast<std::size_t>(o.dump_count))}}) {
    if (path.empty()) {
      continue;
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    for (std::size_t i = 0; i < limit; ++i) {
      out << lines[i].second << '\n';
    }
    if (!out) {
      std::fprintf(stderr, "milter_load: cannot write %s\n", path.c_str());
      return 1;
    }
  }
  std::FILE* table = stdout;
  if (!o.json_path.empty()) {
    const std::string json = toJson(r);
    if (o.json_path == "-") {
      std::fputs(json.c_str(), stdout);
      table = stderr;
    } else {
      std::ofstream out(o.json_path, std::ios::binary | std::ios::trunc);
      out << json;
      if (!out) {
        std::fprintf(stderr, "milter_load: cannot write %s\n", o.json_path.c_str());
        return 1;
      }
    }
  }
  printTable(table, r);
  return r.ok() ? 0 : 1;
}

}  // namespace
}  // namespace mw::bench

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a milter closing on us is an error result, not a death
  const std::optional<mw::bench::Options> o = mw::bench::parseOptions(argc, argv);
  if (!o) {
    mw::bench::usage();
    return 2;
  }
  try {
    return mw::bench::run(*o);
  } catch (const std::exception& e) {  // std::bad_alloc, std::system_error (threads)
    std::fprintf(stderr, "milter_load: %s\n", e.what());
    return 1;
  }
}
