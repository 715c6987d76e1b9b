// milter_client — drives a milter the way Postfix does (milter protocol version 6), for
// mailwarden's integration tests and latency measurements. See milter_protocol.h for
// what is sent when.
//
//   milter_client send --socket SPEC [--eml FILE]... [--count N] [--per-connection K]
//                      [--chunk BYTES] [--latency] [--warmup N] [options]
//   milter_client edge NAME --socket SPEC [--eml FILE] [--header-limit N] [options]
//
// SPEC: unix:/path, inet:PORT@HOST (libmilter form) or inet:HOST:PORT (Postfix form).
// Edge cases: close-without-connect, abort-mid-body, many-messages, one-byte-chunks,
// header-at-limit (needs --header-limit, the milter's configured header byte limit),
// quit-nc (Sendmail's SMFIC_QUIT_NC connection reuse; Postfix never sends it).
//
// Output, one line each: "negotiated version 6 actions 0x31 protocol 0x1f33f0",
// "msg 3 insheader 0 Authentication-Results: ...", "msg 3 reply continue",
// "latency eob_to_reply_ms n=500 p50=0.210 p90=0.260 p99=0.400 max=1.100",
// "edge NAME: PASS" or "edge NAME: FAIL: why".
// Exit status: 0 success, 1 a protocol error or a failed edge case, 2 bad usage.
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "milter_protocol.h"

namespace mw::testtools {
namespace {

struct Args {
  std::string mode;
  std::string edge;
  std::string socket;
  std::vector<std::string> emls;
  long count = 1;
  long per_connection = 1;
  long chunk = static_cast<long>(kChunkSize);
  bool latency = false;
  long warmup = 20;
  long body_bytes = 2048;
  std::optional<std::string> mail_from;
  std::vector<std::string> rcpts;
  long header_limit = 0;
  bool quiet = false;
  bool abort_after = true;
  long pause_before_eom_ms = 0;
  SessionOptions session;
  SmtpClient client;  // --client-name, --helo
};

void usage() {
  std::fputs(
      "usage: milter_client send --socket SPEC [--eml FILE]... [--count N] [--per-connection K]\n"
      "                          [--chunk BYTES] [--latency] [--warmup N] [--body-bytes N]\n"
      "                          [--mail-from ADDR] [--rcpt ADDR]... [--quiet]\n"
      "       milter_client edge NAME --socket SPEC [--eml FILE] [--header-limit N]\n"
      "options: --timeout-ms MS  --client-nodelay  --unbuffered  --no-abort\n"
      "         --client-name NAME  --helo NAME  --client-addr IP   (what CONNECT and HELO report)\n"
      "edge NAMEs: close-without-connect abort-mid-body many-messages one-byte-chunks "
      "header-at-limit quit-nc\n",
      stderr);
}

bool parseLong(const char* text, long min, long max, long& out) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || v < min || v > max) {
    return false;
  }
  out = v;
  return true;
}

std::optional<Args> parseArgs(int argc, char** argv) {
  Args a;
  int i = 1;
  if (i < argc) {
    a.mode = argv[i++];
  }
  if (a.mode == "edge" && i < argc) {
    a.edge = argv[i++];
  }
  if (a.mode != "send" && (a.mode != "edge" || a.edge.empty())) {
    return std::nullopt;
  }
  for (; i < argc; ++i) {
    const std::string opt = argv[i];
    const char* val = i + 1 < argc ? argv[i + 1] : nullptr;
    const auto number = [&](long min, long max, long& out) {
      if (val == nullptr || !parseLong(val, min, max, out)) {
        std::fprintf(stderr, "milter_client: %s needs a number in %ld..%ld\n", opt.c_str(), min, max);
        return false;
      }
      ++i;
      return true;
    };
    const auto text = [&](std::string& out) {
      if (val == nullptr) {
        std::fprintf(stderr, "milter_client: %s needs a value\n", opt.c_str());
        return false;
      }
      out = val;
      ++i;
      return true;
    };
    long timeout = 0;
    std::string s;
    bool ok = true;
    if (opt == "--socket") {
      ok = text(a.socket);
    } else if (opt == "--eml") {
      ok = text(s);
      a.emls.push_back(s);
    } else if (opt == "--count") {
      ok = number(1, 10000000, a.count);
    } else if (opt == "--per-connection") {
      ok = number(1, 10000000, a.per_connection);
    } else if (opt == "--chunk") {
      ok = number(1, static_cast<long>(kChunkSize), a.chunk);
    } else if (opt == "--latency") {
      a.latency = true;
    } else if (opt == "--warmup") {
      ok = number(0, 1000000, a.warmup);
    } else if (opt == "--body-bytes") {
      ok = number(0, 100 * 1024 * 1024, a.body_bytes);
    } else if (opt == "--mail-from") {
      ok = text(s);
      a.mail_from = s;
    } else if (opt == "--rcpt") {
      ok = text(s);
      a.rcpts.push_back(s);
    } else if (opt == "--header-limit") {
      ok = number(64, 100 * 1024 * 1024, a.header_limit);
    } else if (opt == "--timeout-ms") {
      ok = number(1, 3600 * 1000, timeout);
      a.session.timeout_ms = static_cast<int>(timeout);
    } else if (opt == "--client-nodelay") {
      a.session.tcp_nodelay = true;
    } else if (opt == "--unbuffered") {
      a.session.buffered = false;
    } else if (opt == "--pause-before-eom-ms") {
      ok = number(0, 600000, a.pause_before_eom_ms);
    } else if (opt == "--no-abort") {
      a.abort_after = false;
    } else if (opt == "--quiet") {
      a.quiet = true;
    } else if (opt == "--client-name") {
      ok = text(a.client.hostname);
    } else if (opt == "--helo") {
      ok = text(a.client.helo);
    } else if (opt == "--client-addr") {
      // The connecting address CONNECT reports (IPv6 when it has a ':').
      ok = text(a.client.address);
      a.client.family = a.client.address.find(':') != std::string::npos ? '6' : '4';
    } else {
      std::fprintf(stderr, "milter_client: unknown option %s\n", opt.c_str());
      ok = false;
    }
    if (!ok) {
      return std::nullopt;
    }
  }
  if (a.socket.empty()) {
    std::fputs("milter_client: --socket is required\n", stderr);
    return std::nullopt;
  }
  return a;
}

// A plain test message, n makes Subject and Message-ID unique.
Message generated(long n, long body_bytes) {
  Message m;
  const std::string id = std::to_string(n);
  m.headers = {{"From", " Sender <sender@example.org>"},
               {"To", " User <user@mx.test.example>"},
               {"Subject", " mailwarden protocol test " + id},
               {"Date", " Thu, 01 Jan 2026 00:00:00 +0000"},
               {"Message-ID", " <" + id + ".test@example.org>"},
               {"MIME-Version", " 1.0"},
               {"Content-Type", " text/plain; charset=us-ascii"}};
  const std::string line = "The quick brown fox jumps over the lazy dog, message " + id + ".\r\n";
  while (m.body.size() + line.size() <= static_cast<std::size_t>(body_bytes)) {
    m.body += line;
  }
  return m;
}

// The messages to send, with the envelope from the command line.
Result<std::vector<Message>> messages(const Args& a) {
  std::vector<Message> out;
  for (const std::string& path : a.emls) {
    Result<Message> m = loadEml(path);
    if (!m) {
      return fail(m.error());
    }
    out.push_back(std::move(*m));
  }
  if (out.empty()) {
    out.push_back(generated(1, a.body_bytes));
  }
  for (Message& m : out) {
    if (a.mail_from) {
      m.mail_from = *a.mail_from;
    }
    if (!a.rcpts.empty()) {
      m.rcpts = a.rcpts;
    }
  }
  return out;
}

// A connected, negotiated, greeted session.
Result<Session> openSession(const Args& a, bool print_negotiation) {
  Result<Endpoint> where = parseEndpoint(a.socket);
  if (!where) {
    return fail(where.error());
  }
  Result<Session> s = openGreeted(*where, a.session, a.client);
  if (s && print_negotiation) {
    std::printf("negotiated %s\n", s->negotiated().describe().c_str());
  }
  return s;
}

std::vector<std::string> describeAll(const TransactionResult& r, bool leadspc) {
  std::vector<std::string> out;
  for (const Modification& m : r.modifications) {
    out.push_back(m.describe(leadspc));
  }
  out.push_back("reply " + (r.reply ? r.reply->describe() : std::string("(none)")) +
                (r.stopped_at.empty() ? "" : " at " + r.stopped_at));
  return out;
}

void printResult(const std::string& label, const TransactionResult& r, bool leadspc) {
  for (const std::string& line : describeAll(r, leadspc)) {
    std::printf("%s %s\n", label.c_str(), line.c_str());
  }
  std::fflush(stdout);
}

bool hasAuthResults(const TransactionResult& r) {
  for (const Modification& m : r.modifications) {
    if ((m.code == smfir::kInsHeader || m.code == smfir::kAddHeader) &&
        m.name == "Authentication-Results") {
      return true;
    }
  }
  return false;
}

std::size_t countCode(const TransactionResult& r, char code) {
  std::size_t n = 0;
  for (const Modification& m : r.modifications) {
    n += m.code == code ? 1 : 0;
  }
  return n;
}

// code, index and name of each modification: the shape of a header set.
std::string shape(const TransactionResult& r) {
  std::string out;
  for (const Modification& m : r.modifications) {
    out += m.code;
    out += std::to_string(m.index) + ":" + m.name + ";";
  }
  return out;
}

void printStats(const char* what, const std::vector<double>& ms) {
  std::printf("latency %s n=%zu p50=%.3f p90=%.3f p99=%.3f max=%.3f\n", what, ms.size(),
              percentile(ms, 50), percentile(ms, 90), percentile(ms, 99), percentile(ms, 100));
}

int runSend(const Args& a) {
  Result<std::vector<Message>> msgs = messages(a);
  if (!msgs) {
    std::fprintf(stderr, "milter_client: %s\n", msgs.error().describe().c_str());
    return 2;
  }
  const long warmup = a.latency ? a.warmup : 0;
  const long total = warmup + a.count;
  std::vector<double> eob_ms;
  std::vector<double> msg_ms;
  std::optional<Session> session;
  long on_session = 0;
  bool printed_negotiation = false;
  for (long n = 1; n <= total; ++n) {
    if (!session || on_session == a.per_connection) {
      if (session) {
        if (Result<void> q = session->quit(); !q) {
          std::fprintf(stderr, "milter_client: quit: %s\n", q.error().describe().c_str());
          return 1;
        }
      }
      Result<Session> s = openSession(a, !printed_negotiation && !a.quiet);
      if (!s) {
        std::fprintf(stderr, "milter_client: message %ld: %s\n", n, s.error().describe().c_str());
        return 1;
      }
      printed_negotiation = true;
      session.emplace(std::move(*s));
      on_session = 0;
    }
    const Message& m = (*msgs)[static_cast<std::size_t>(n - 1) % msgs->size()];
    TransactionOptions t;
    t.queue_id = queueIdFor(n);
    t.chunk = static_cast<std::size_t>(a.chunk);
    t.abort_after = a.abort_after;
    t.pause_before_eom_ms = static_cast<int>(a.pause_before_eom_ms);
    Result<TransactionResult> r = sendMessage(*session, m, t);
    if (!r) {
      std::fprintf(stderr, "milter_client: message %ld: %s\n", n, r.error().describe().c_str());
      return 1;
    }
    ++on_session;
    if (!a.quiet) {
      printResult("msg " + std::to_string(n), *r, session->leadingSpace());
    }
    if (!r->reply) {
      std::fprintf(stderr, "milter_client: message %ld: no final reply\n", n);
      return 1;
    }
    if (n > warmup && r->stopped_at.empty()) {
      eob_ms.push_back(r->eob_to_reply_ms);
      msg_ms.push_back(r->total_ms);
    }
  }
  if (session) {
    if (Result<void> q = session->quit(); !q) {
      std::fprintf(stderr, "milter_client: quit: %s\n", q.error().describe().c_str());
      return 1;
    }
  }
  if (a.latency) {
    printStats("eob_to_reply_ms", eob_ms);
    printStats("message_ms", msg_ms);
  }
  return 0;
}

// ---- edge cases ---------------------------------------------------------------------

struct Edge {
  const Args& args;
  Message base;
  std::vector<std::string> failures;

  void check(bool ok, const std::string& what) {
    if (!ok) {
      failures.push_back(what);
    }
  }

  // One message on s, printed with label; an Error is recorded as a failure.
  std::optional<TransactionResult> send(Session& s, const std::string& label, const Message& m,
                                        TransactionOptions t) {
    Result<TransactionResult> r = sendMessage(s, m, t);
    if (!r) {
      failures.push_back(label + ": " + r.error().describe());
      return std::nullopt;
    }
    printResult(label, *r, s.leadingSpace());
    return std::move(*r);
  }

  std::optional<Session> open(const std::string& label, bool print_negotiation = false) {
    Result<Session> s = openSession(args, print_negotiation);
    if (!s) {
      failures.push_back(label + ": " + s.error().describe());
      return std::nullopt;
    }
    return std::move(*s);
  }

  void quit(Session& s, const std::string& label) {
    if (Result<void> q = s.quit(); !q) {
      failures.push_back(label + ": quit: " + q.error().describe());
    }
  }

  // The milter still serves a fresh connection with a normal message.
  void stillAlive(const std::string& label) {
    std::optional<Session> s = open(label);
    if (!s) {
      return;
    }
    TransactionOptions t;
    t.queue_id = queueIdFor(999);
    std::optional<TransactionResult> r = send(*s, label, base, t);
    check(r && r->reply && hasAuthResults(*r), label + ": no Authentication-Results");
    quit(*s, label);
  }

  Message withForgedAr(Message m) const {
    m.headers.insert(m.headers.begin(),
                     HeaderField{"Authentication-Results", " mx.test.example; spf=pass"});
    return m;
  }

  void closeWithoutConnect() {
    Result<Endpoint> where = parseEndpoint(args.socket);
    if (!where) {
      failures.push_back(where.error().describe());
      return;
    }
    Result<Session> s = Session::open(*where, args.session);
    if (!s) {
      failures.push_back("open: " + s.error().describe());
      return;
    }
    Result<Negotiated> n = s->negotiate();
    if (!n) {
      failures.push_back("negotiate: " + n.error().describe());
      return;
    }
    std::printf("negotiated %s\n", n->describe().c_str());
    quit(*s, "quit");
    std::puts("closed after negotiation");
    stillAlive("after");
  }

  void abortMidBody() {
    std::optional<Session> s = open("conn", true);
    if (!s) {
      return;
    }
    TransactionOptions first;
    first.queue_id = queueIdFor(1);
    first.abort_after_body_bytes = base.body.size() / 2;
    check(base.body.size() >= 2, "the message body is too short to abort halfway");
    std::optional<TransactionResult> r1 = send(*s, "msg 1", withForgedAr(base), first);
    check(r1 && !r1->reply && r1->stopped_at == "abort", "msg 1 was not aborted mid-body");
    TransactionOptions second;
    second.queue_id = queueIdFor(2);
    std::optional<TransactionResult> r2 = send(*s, "msg 2", base, second);
    quit(*s, "conn");
    check(r2 && r2->reply && hasAuthResults(*r2), "msg 2: no Authentication-Results");
    check(r2 && countCode(*r2, smfir::kChgHeader) == 0,
          "msg 2 got a chgheader: state of the aborted message leaked");
    // The same message on a fresh connection must get the same answer.
    std::optional<Session> fresh = open("fresh");
    if (!fresh) {
      return;
    }
    std::optional<TransactionResult> ref = send(*fresh, "fresh", base, second);
    quit(*fresh, "fresh");
    check(r2 && ref && describeAll(*r2, true) == describeAll(*ref, true),
          "msg 2 after the abort differs from the same message on a fresh connection");
  }

  void manyMessages() {
    std::optional<Session> s = open("conn", true);
    if (!s) {
      return;
    }
    std::vector<TransactionResult> results;
    for (long n = 1; n <= 5; ++n) {
      Message m = generated(n, args.body_bytes);
      if (!args.emls.empty()) {
        m = base;
      }
      if (n == 3) {
        m = withForgedAr(m);  // only message 3 needs a removal
      }
      TransactionOptions t;
      t.queue_id = queueIdFor(n);
      std::optional<TransactionResult> r = send(*s, "msg " + std::to_string(n), m, t);
      if (!r) {
        break;
      }
      results.push_back(std::move(*r));
    }
    quit(*s, "conn");
    check(results.size() == 5, "not all 5 messages completed");
    for (std::size_t i = 0; i < results.size(); ++i) {
      const std::string label = "msg " + std::to_string(i + 1);
      const TransactionResult& r = results[i];
      check(r.reply.has_value(), label + ": no final reply");
      check(hasAuthResults(r), label + ": no Authentication-Results");
      check(countCode(r, smfir::kChgHeader) == (i == 2 ? 1u : 0u),
            label + ": wrong number of chgheader");
      check(countCode(r, smfir::kInsHeader) + countCode(r, smfir::kAddHeader) ==
                countCode(results[0], smfir::kInsHeader) + countCode(results[0], smfir::kAddHeader),
            label + ": a different number of added headers than msg 1");
      if (i != 2) {
        check(shape(r) == shape(results[0]), label + ": a different header set than msg 1");
      }
    }
  }

  void oneByteChunks() {
    TransactionOptions whole;
    whole.queue_id = queueIdFor(7);
    TransactionOptions bytes = whole;
    bytes.chunk = 1;
    std::optional<Session> s1 = open("whole", true);
    if (!s1) {
      return;
    }
    std::optional<TransactionResult> r1 = send(*s1, "whole", base, whole);
    quit(*s1, "whole");
    std::optional<Session> s2 = open("bytes");
    if (!s2) {
      return;
    }
    std::optional<TransactionResult> r2 = send(*s2, "bytes", base, bytes);
    quit(*s2, "bytes");
    std::printf("body %zu bytes: %zu BODY packets vs %zu\n", base.body.size(),
                (base.body.size() + kChunkSize - 1) / kChunkSize, base.body.size());
    check(r1 && r1->reply && hasAuthResults(*r1), "one chunk: no Authentication-Results");
    check(r1 && r2 && describeAll(*r1, true) == describeAll(*r2, true),
          "1-byte chunks gave a different result than one chunk");
  }

  // Header fields of m padded with X-Filler so that they total exactly bytes.
  std::optional<Message> padded(std::size_t bytes, bool leadspc) {
    Message m = base;
    const std::string name = "X-Filler";
    const std::size_t have = headerBytes(m, leadspc) + name.size() + (leadspc ? 1 : 0);
    if (have > bytes) {
      failures.push_back("--header-limit " + std::to_string(bytes) +
                         " is smaller than the message's own headers (" + std::to_string(have) + ")");
      return std::nullopt;
    }
    m.headers.push_back(HeaderField{name, " " + std::string(bytes - have, 'x')});
    if (headerBytes(m, leadspc) != bytes) {
      failures.push_back("internal: padding missed the target");
      return std::nullopt;
    }
    return m;
  }

  // Sendmail-style reuse: QUIT_NC, then a new SMTP session on the same socket under the
  // first negotiation. Its message must be answered like one on a fresh connection.
  void quitNc() {
    std::optional<Session> s = open("conn", true);
    if (!s) {
      return;
    }
    TransactionOptions t;
    t.queue_id = queueIdFor(1);
    std::optional<TransactionResult> r1 = send(*s, "msg 1", base, t);
    if (Result<void> q = s->quitNewConnection(); !q) {
      failures.push_back("quit_nc: " + q.error().describe());
      return;
    }
    std::puts("quit_nc, new session on the same socket");
    if (Result<void> g = greet(*s, SmtpClient{}); !g) {
      failures.push_back("greet after quit_nc: " + g.error().describe());
      return;
    }
    t.queue_id = queueIdFor(2);
    std::optional<TransactionResult> r2 = send(*s, "msg 2", base, t);
    quit(*s, "conn");
    check(r1 && r1->reply && hasAuthResults(*r1), "msg 1: no Authentication-Results");
    check(r2 && r2->reply && hasAuthResults(*r2),
          "msg 2 after quit_nc: no Authentication-Results (replies out of step?)");
    stillAlive("after");
  }

  void headerAtLimit() {
    if (args.header_limit <= 0) {
      failures.push_back("header-at-limit needs --header-limit N (the milter's limit)");
      return;
    }
    const std::size_t limit = static_cast<std::size_t>(args.header_limit);
    std::optional<Session> s = open("conn", true);
    if (!s) {
      return;
    }
    const bool leadspc = s->leadingSpace();
    int n = 0;
    for (const std::size_t bytes : {limit, limit + 1}) {
      std::optional<Message> m = padded(bytes, leadspc);
      if (!m) {
        return;
      }
      ++n;
      const std::string label = "msg " + std::to_string(n);
      std::printf("%s header bytes %zu (limit %zu)\n", label.c_str(), headerBytes(*m, leadspc),
                  limit);
      TransactionOptions t;
      t.queue_id = queueIdFor(n);
      std::optional<TransactionResult> r = send(*s, label, *m, t);
      check(r && r->reply, label + ": no final reply");
      if (!r) {
        return;  // the connection is gone: stillAlive() below tells whether the milter is
      }
    }
    TransactionOptions t;
    t.queue_id = queueIdFor(3);
    std::optional<TransactionResult> r3 = send(*s, "msg 3", generated(3, args.body_bytes), t);
    check(r3 && r3->reply && hasAuthResults(*r3), "msg 3 after the limit: no Authentication-Results");
    quit(*s, "conn");
    stillAlive("after");
  }
};

int runEdge(const Args& a) {
  Result<std::vector<Message>> msgs = messages(a);
  if (!msgs) {
    std::fprintf(stderr, "milter_client: %s\n", msgs.error().describe().c_str());
    return 2;
  }
  Edge e{a, msgs->front(), {}};
  if (a.edge == "close-without-connect") {
    e.closeWithoutConnect();
  } else if (a.edge == "abort-mid-body") {
    e.abortMidBody();
  } else if (a.edge == "many-messages") {
    e.manyMessages();
  } else if (a.edge == "one-byte-chunks") {
    e.oneByteChunks();
  } else if (a.edge == "header-at-limit") {
    e.headerAtLimit();
  } else if (a.edge == "quit-nc") {
    e.quitNc();
  } else {
    std::fprintf(stderr, "milter_client: unknown edge case %s\n", a.edge.c_str());
    usage();
    return 2;
  }
  if (e.failures.empty()) {
    std::printf("edge %s: PASS\n", a.edge.c_str());
    return 0;
  }
  for (const std::string& f : e.failures) {
    std::printf("edge %s: FAIL: %s\n", a.edge.c_str(), f.c_str());
  }
  return 1;
}

}  // namespace
}  // namespace mw::testtools

int main(int argc, char** argv) {
  const std::optional<mw::testtools::Args> args = mw::testtools::parseArgs(argc, argv);
  if (!args) {
    mw::testtools::usage();
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  return args->mode == "send" ? mw::testtools::runSend(*args) : mw::testtools::runEdge(*args);
}
