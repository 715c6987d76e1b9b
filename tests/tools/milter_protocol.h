// tests/tools/milter_protocol.h — the MTA side of the milter protocol, version 6, spoken
// the way Postfix's milter8.c speaks it. For integration tests and latency measurements
// of mailwarden (or any libmilter program); not part of mailwarden itself.
//
// What "the way Postfix speaks it" means here (milter8.c, Postfix 3.x):
//   * SMFIC_OPTNEG offers version 6, every action (0x1ff) and every protocol bit
//     (0x1fffff); the milter's answer may carry SMFIR_SETSYMLIST macro lists, which then
//     replace our default macro lists per stage.
//   * SMFIC_MACRO goes out before CONNECT, HELO, MAIL, RCPT, DATA, each HEADER, EOH, each
//     BODY chunk and BODYEOB, only when there is at least one macro to send. For a skipped
//     envelope event (SMFIP_NOCONNECT ... SMFIP_NODATA) the macros still go out; a skipped
//     content event (SMFIP_NOHDRS, NOEOH, NOBODY) is not produced at all.
//   * An event the milter asked not to see (SMFIP_NOCONNECT ... SMFIP_NODATA) is not sent;
//     for an event with SMFIP_NR_* no reply is read. Header values keep their leading
//     space only when SMFIP_HDR_LEADSPC was agreed (otherwise one space is eaten).
//   * Body chunks are at most 65535 bytes; the last partial chunk goes as SMFIC_BODY, then
//     an empty SMFIC_BODYEOB. After BODYEOB, modification requests are read until the
//     final reply. After each transaction SMFIC_ABORT is sent (smtpd's mail_reset).
//   * Packets are buffered and flushed before a reply is read (VSTREAM behaviour), so a
//     run of no-reply events leaves in one write. SessionOptions::buffered = false writes
//     each packet on its own (to show what Nagle does to an unbuffered writer).
//
// Bounds: every read and write waits at most SessionOptions::timeout_ms (poll); a reply
// packet is at most kMaxReplyPacket bytes (Postfix's XXX_MAX_DATA); a reply loop reads at
// most kMaxRepliesPerEvent packets. The milter is untrusted: a malformed or oversized
// reply is an Error, never a crash. Nothing here throws except std::bad_alloc.
// Thread-safety: one Session per thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mailwarden/base/result.h"

namespace mw::testtools {

// Commands, MTA -> milter (mfdef.h SMFIC_*).
namespace smfic {
constexpr char kAbort = 'A';
constexpr char kBody = 'B';
constexpr char kConnect = 'C';
constexpr char kMacro = 'D';
constexpr char kBodyEob = 'E';
constexpr char kHelo = 'H';
constexpr char kQuitNc = 'K';
constexpr char kHeader = 'L';
constexpr char kMail = 'M';
constexpr char kEoh = 'N';
constexpr char kOptneg = 'O';
constexpr char kQuit = 'Q';
constexpr char kRcpt = 'R';
constexpr char kData = 'T';
constexpr char kUnknown = 'U';
}  // namespace smfic

// Replies, milter -> MTA (mfdef.h SMFIR_*).
namespace smfir {
constexpr char kAddRcpt = '+';
constexpr char kDelRcpt = '-';
constexpr char kAddRcptPar = '2';
constexpr char kShutdown = '4';
constexpr char kAccept = 'a';
constexpr char kReplBody = 'b';
constexpr char kContinue = 'c';
constexpr char kDiscard = 'd';
constexpr char kChgFrom = 'e';
constexpr char kConnFail = 'f';
constexpr char kAddHeader = 'h';
constexpr char kInsHeader = 'i';
constexpr char kSetSymList = 'l';
constexpr char kChgHeader = 'm';
constexpr char kProgress = 'p';
constexpr char kQuarantine = 'q';
constexpr char kReject = 'r';
constexpr char kSkip = 's';
constexpr char kTempFail = 't';
constexpr char kReplyCode = 'y';
}  // namespace smfir

// Protocol bits (mfdef.h SMFIP_*).
namespace smfip {
constexpr std::uint32_t kNoConnect = 0x00000001;
constexpr std::uint32_t kNoHelo = 0x00000002;
constexpr std::uint32_t kNoMail = 0x00000004;
constexpr std::uint32_t kNoRcpt = 0x00000008;
constexpr std::uint32_t kNoBody = 0x00000010;
constexpr std::uint32_t kNoHdrs = 0x00000020;
constexpr std::uint32_t kNoEoh = 0x00000040;
constexpr std::uint32_t kNrHdr = 0x00000080;
constexpr std::uint32_t kNoUnknown = 0x00000100;
constexpr std::uint32_t kNoData = 0x00000200;
constexpr std::uint32_t kSkip = 0x00000400;
constexpr std::uint32_t kRcptRej = 0x00000800;
constexpr std::uint32_t kNrConn = 0x00001000;
constexpr std::uint32_t kNrHelo = 0x00002000;
constexpr std::uint32_t kNrMail = 0x00004000;
constexpr std::uint32_t kNrRcpt = 0x00008000;
constexpr std::uint32_t kNrData = 0x00010000;
constexpr std::uint32_t kNrUnkn = 0x00020000;
constexpr std::uint32_t kNrEoh = 0x00040000;
constexpr std::uint32_t kNrBody = 0x00080000;
constexpr std::uint32_t kHdrLeadSpc = 0x00100000;
constexpr std::uint32_t kAll = 0x001FFFFF;  // SMFI_CURR_PROT: what Postfix offers for v6
}  // namespace smfip

// Actions (mfdef.h/mfapi.h SMFIF_*).
namespace smfif {
constexpr std::uint32_t kAddHdrs = 0x001;
constexpr std::uint32_t kChgBody = 0x002;
constexpr std::uint32_t kAddRcpt = 0x004;
constexpr std::uint32_t kDelRcpt = 0x008;
constexpr std::uint32_t kChgHdrs = 0x010;
constexpr std::uint32_t kQuarantine = 0x020;
constexpr std::uint32_t kChgFrom = 0x040;
constexpr std::uint32_t kAddRcptPar = 0x080;
constexpr std::uint32_t kSetSymList = 0x100;
constexpr std::uint32_t kAll = 0x1FF;  // SMFI_CURR_ACTS: what Postfix offers
}  // namespace smfif

// Macro stages of SMFIR_SETSYMLIST (mfapi.h SMFIM_*).
enum class MacroStage : std::uint32_t { Connect = 0, Helo = 1, Mail = 2, Rcpt = 3, Data = 4,
                                        Eom = 5, Eoh = 6 };

constexpr std::size_t kChunkSize = 65535;            // MILTER_CHUNK_SIZE
constexpr std::size_t kMaxReplyPacket = 2 * 65535;   // Postfix XXX_MAX_DATA
constexpr int kMaxRepliesPerEvent = 100000;          // modification requests + final reply

// Where the milter listens: unix:/path (local:/path, or a bare /path), inet:PORT@HOST,
// inet6:PORT@HOST, or Postfix's inet:HOST:PORT.
struct Endpoint {
  enum class Kind { Unix, Inet, Inet6 };
  Kind kind = Kind::Unix;
  std::string path;  // Unix
  std::string host;  // Inet, Inet6 (default 127.0.0.1 / ::1)
  int port = 0;
};
[[nodiscard]] Result<Endpoint> parseEndpoint(std::string_view spec);

// One protocol packet: a command or reply code and its data (length prefix removed).
struct Packet {
  char code = 0;
  std::string data;
};
// The wire form: 4-byte big-endian length (code + data), code, data.
std::string encodePacket(char code, std::string_view data);

// name/value pairs in sending order, e.g. {"j", "mx.test.example"}, {"{daemon_name}", ...}.
using Macros = std::vector<std::pair<std::string, std::string>>;

// A modification request read after BODYEOB (insheader, addheader, chgheader, quarantine,
// addrcpt, delrcpt, chgfrom, replbody, ...). index is meaningful for ins/chgheader only.
struct Modification {
  char code = 0;
  std::uint32_t index = 0;
  std::string name;   // header name, recipient, sender, or quarantine reason
  std::string value;  // header value as received (leading space kept), ESMTP args
  // One line: "insheader 0 Authentication-Results: mx.test.example; ...",
  // "chgheader 2 Authentication-Results (delete)". CR, LF and TAB are shown as \r \n \t.
  std::string describe(bool leadspc) const;
};
// Decodes a modification reply; an Error for a code that is not one, or bad data.
[[nodiscard]] Result<Modification> decodeModification(const Packet& p);

// The reply that ends an event: accept, continue, reject, tempfail, discard, replycode,
// shutdown, conn_fail, skip.
struct FinalReply {
  char code = 0;
  std::string text;  // SMFIR_REPLYCODE only: "550 5.7.1 reason"
  std::string describe() const;  // "continue", "replycode 550 5.7.1 reason"
  bool isContinue() const noexcept { return code == smfir::kContinue; }
};
// Whether code ends an event (as opposed to a modification or progress report).
bool isFinalReplyCode(char code) noexcept;

struct SessionOptions {
  std::uint32_t version = 6;
  std::uint32_t actions = smfif::kAll;
  std::uint32_t protocol = smfip::kAll;
  int timeout_ms = 10000;   // per packet read, per flush
  // Postfix leaves Nagle on for milter sockets (vstream_tweak_tcp only grows its buffer to
  // 2 x MSS), and so do we by default; the option shows what TCP_NODELAY changes.
  bool tcp_nodelay = false;
  bool buffered = true;     // see the file comment
};

// What OPTNEG settled.
struct Negotiated {
  std::uint32_t version = 0;
  std::uint32_t actions = 0;
  std::uint32_t protocol = 0;
  std::map<std::uint32_t, std::string> macro_lists;  // SETSYMLIST: stage -> "j {daemon_name}"
  std::string describe() const;  // "version 6 actions 0x31 protocol 0x1ff3f0"
};

// What happened to one event.
struct EventOutcome {
  bool sent = false;     // false: the milter asked not to get this event (SMFIP_NO*)
  bool awaited = false;  // false: no reply was read (SMFIP_NR_*, or not sent)
  std::vector<Modification> modifications;  // BODYEOB only
  std::optional<FinalReply> reply;          // set iff awaited
  bool quarantined = false;                 // an SMFIR_QUARANTINE was among them
  // The milter lets the transaction go on: not awaited, or awaited and continue.
  bool proceeds() const noexcept { return !reply || reply->isContinue(); }
};

// One MTA-to-milter connection.
class Session {
 public:
  [[nodiscard]] static Result<Session> open(const Endpoint& where, const SessionOptions& options);
  Session(Session&& other) noexcept;
  Session& operator=(Session&& other) noexcept;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session();

  [[nodiscard]] Result<Negotiated> negotiate();
  const Negotiated& negotiated() const noexcept { return agreed_; }
  bool leadingSpace() const noexcept { return (agreed_.protocol & smfip::kHdrLeadSpc) != 0; }

  // family: '4', '6', 'L' (port 0) or 'U' (no port, no address).
  [[nodiscard]] Result<EventOutcome> connect(std::string_view hostname, char family,
                                             std::uint16_t port, std::string_view address,
                                             const Macros& macros);
  [[nodiscard]] Result<EventOutcome> helo(std::string_view name, const Macros& macros);
  // argv[0] is "<address>", then ESMTP parameters.
  [[nodiscard]] Result<EventOutcome> mail(const std::vector<std::string>& argv,
                                          const Macros& macros);
  [[nodiscard]] Result<EventOutcome> rcpt(const std::vector<std::string>& argv,
                                          const Macros& macros);
  [[nodiscard]] Result<EventOutcome> data(const Macros& macros);
  // value: everything after the colon, leading space included, folds as "\n" + WSP
  // (Postfix's internal form). Without SMFIP_HDR_LEADSPC one leading space is eaten.
  [[nodiscard]] Result<EventOutcome> header(std::string_view name, std::string_view value,
                                            const Macros& macros);
  [[nodiscard]] Result<EventOutcome> endOfHeaders(const Macros& macros);
  // One SMFIC_BODY packet (at most kChunkSize bytes). After SMFIR_SKIP, bodySkipped().
  [[nodiscard]] Result<EventOutcome> body(std::string_view chunk, const Macros& macros);
  bool bodySkipped() const noexcept { return body_skipped_; }
  // SMFIC_BODYEOB: modifications, then the final reply (always awaited).
  [[nodiscard]] Result<EventOutcome> endOfBody(const Macros& macros);
  // When the write that carried the last BODYEOB started (CLOCK_MONOTONIC).
  std::chrono::steady_clock::time_point eobSentAt() const noexcept { return eob_sent_at_; }
  // SMFIC_ABORT (no reply): the milter forgets the current message.
  [[nodiscard]] Result<void> abort();
  // SMFIC_QUIT (no reply), then the socket is closed.
  [[nodiscard]] Result<void> quit();
  // SMFIC_QUIT_NC (no reply): the milter closes this SMTP session but keeps the socket
  // for a new one, which starts with CONNECT under the same negotiation (Sendmail's reuse).
  [[nodiscard]] Result<void> quitNewConnection();
  // Writes out everything buffered.
  [[nodiscard]] Result<void> flush();

 private:
  Session(int fd, SessionOptions options) : fd_(fd), options_(options) {}
  // Macros (filtered by SETSYMLIST), then the event unless skip_bit was agreed, then the
  // reply unless nr_bit was agreed (nr_bit 0: always awaited).
  Result<EventOutcome> event(char code, MacroStage stage, std::uint32_t skip_bit,
                             std::uint32_t nr_bit, std::string_view payload,
                             const Macros& macros);
  Result<void> queue(char code, std::string_view data);
  Result<Packet> readPacket();
  Result<EventOutcome> readReplies(char event_code, EventOutcome outcome);
  void close() noexcept;

  int fd_ = -1;
  SessionOptions options_;
  Negotiated agreed_;
  std::string out_;  // buffered packets not yet written
  bool body_skipped_ = false;
  bool eob_pending_ = false;  // BODYEOB queued, not yet written
  std::chrono::steady_clock::time_point eob_sent_at_{};
};

// A message as an MTA hands it to a milter.
struct HeaderField {
  std::string name;
  std::string value;  // after the colon, leading space kept, folds as "\n" + WSP
};
struct Message {
  std::string mail_from = "sender@example.org";
  std::vector<std::string> rcpts{"user@mx.test.example"};
  std::vector<HeaderField> headers;
  std::string body;  // CRLF line ends (wire form)
};

// Splits an RFC 5322 message (LF or CRLF line ends) into header fields and a CRLF body,
// the way Postfix stores it: folded lines joined with "\n", whitespace between a name
// and its colon dropped. A line without a colon ends the header (it becomes body), as an
// MTA would treat it. Envelope fields keep their defaults.
[[nodiscard]] Result<Message> parseEml(std::string_view raw);
// Total header bytes as a milter counts them: name + value as they go on the wire.
std::size_t headerBytes(const Message& m, bool leadspc);

// The SMTP side the MTA reports: client, helo, MTA identity for macros.
struct SmtpClient {
  std::string hostname = "mail.example.net";
  char family = '4';
  std::uint16_t port = 40000;
  std::string address = "192.0.2.10";
  std::string helo = "mail.example.net";
  std::string mta_hostname = "mx.test.example";  // macro j
  std::string daemon_name = "mailwarden-test";   // {daemon_name}
  std::string daemon_addr = "127.0.0.1";         // {daemon_addr}
};

// CONNECT and HELO with Postfix's default macros. An Error if the milter refused.
[[nodiscard]] Result<void> greet(Session& s, const SmtpClient& client);

struct TransactionOptions {
  std::string queue_id = "4ABCDE00001";  // macro i
  std::size_t chunk = kChunkSize;        // body bytes per SMFIC_BODY, 1..kChunkSize
  bool abort_after = true;               // SMFIC_ABORT after the final reply (Postfix)
  // Stop after this many body bytes and send SMFIC_ABORT instead of BODYEOB.
  std::optional<std::size_t> abort_after_body_bytes;
  // Flush everything before BODYEOB, then wait this long before sending it (a message
  // in flight while the test signals the milter).
  int pause_before_eom_ms = 0;
};

struct TransactionResult {
  std::vector<Modification> modifications;
  std::optional<FinalReply> reply;  // empty: aborted on purpose
  std::string stopped_at;           // event whose reply ended the transaction early, or ""
  double eob_to_reply_ms = 0;       // write carrying BODYEOB started -> final reply read
  double total_ms = 0;              // MAIL queued -> final reply read
};

// One message: MAIL, RCPT..., DATA, HEADER..., EOH, BODY..., BODYEOB (or ABORT midway).
// A reply other than continue to an envelope or content event ends the transaction
// there, as in Postfix.
[[nodiscard]] Result<TransactionResult> sendMessage(Session& s, const Message& m,
                                                    const TransactionOptions& options);

// Reads an .eml file and parses it with parseEml(); the Error names the file.
[[nodiscard]] Result<Message> loadEml(const std::string& path);

// Opens a session to `where`, negotiates (OPTNEG) and greets (CONNECT, HELO) as `client`:
// what an MTA does before its first MAIL FROM. An Error if any step fails or is refused.
[[nodiscard]] Result<Session> openGreeted(const Endpoint& where, const SessionOptions& options,
                                          const SmtpClient& client);

// A Postfix-looking queue id for message number n ("4B" + 9 hex digits), for macro i.
std::string queueIdFor(long n);

// Nearest-rank percentile of an unsorted sample (p in 0..100); 0 for an empty sample.
double percentile(std::vector<double> sample, double p);

}  // namespace mw::testtools
