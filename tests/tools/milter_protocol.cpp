// tests/tools/milter_protocol.cpp — see milter_protocol.h.
#include "milter_protocol.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

// Our constants must be libmilter's: checked here, at compile time, against mfdef.h
// (protocol constants only; mfapi.h stays private to src/milter/).
#include <libmilter/mfdef.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <utility>

namespace mw::testtools {

static_assert(smfic::kAbort == SMFIC_ABORT && smfic::kBody == SMFIC_BODY &&
              smfic::kConnect == SMFIC_CONNECT && smfic::kMacro == SMFIC_MACRO &&
              smfic::kBodyEob == SMFIC_BODYEOB && smfic::kHelo == SMFIC_HELO &&
              smfic::kQuitNc == SMFIC_QUIT_NC && smfic::kHeader == SMFIC_HEADER &&
              smfic::kMail == SMFIC_MAIL && smfic::kEoh == SMFIC_EOH &&
              smfic::kOptneg == SMFIC_OPTNEG && smfic::kQuit == SMFIC_QUIT &&
              smfic::kRcpt == SMFIC_RCPT && smfic::kData == SMFIC_DATA &&
              smfic::kUnknown == SMFIC_UNKNOWN);
static_assert(smfir::kAddRcpt == SMFIR_ADDRCPT && smfir::kDelRcpt == SMFIR_DELRCPT &&
              smfir::kAddRcptPar == SMFIR_ADDRCPT_PAR && smfir::kShutdown == SMFIR_SHUTDOWN &&
              smfir::kAccept == SMFIR_ACCEPT && smfir::kReplBody == SMFIR_REPLBODY &&
              smfir::kContinue == SMFIR_CONTINUE && smfir::kDiscard == SMFIR_DISCARD &&
              smfir::kChgFrom == SMFIR_CHGFROM && smfir::kConnFail == SMFIR_CONN_FAIL &&
              smfir::kAddHeader == SMFIR_ADDHEADER && smfir::kInsHeader == SMFIR_INSHEADER &&
              smfir::kSetSymList == SMFIR_SETSYMLIST && smfir::kChgHeader == SMFIR_CHGHEADER &&
              smfir::kProgress == SMFIR_PROGRESS && smfir::kQuarantine == SMFIR_QUARANTINE &&
              smfir::kReject == SMFIR_REJECT && smfir::kSkip == SMFIR_SKIP &&
              smfir::kTempFail == SMFIR_TEMPFAIL && smfir::kReplyCode == SMFIR_REPLYCODE);
static_assert(smfip::kNoConnect == SMFIP_NOCONNECT && smfip::kNoHelo == SMFIP_NOHELO &&
              smfip::kNoMail == SMFIP_NOMAIL && smfip::kNoRcpt == SMFIP_NORCPT &&
              smfip::kNoBody == SMFIP_NOBODY && smfip::kNoHdrs == SMFIP_NOHDRS &&
              smfip::kNoEoh == SMFIP_NOEOH && smfip::kNrHdr == SMFIP_NR_HDR &&
              smfip::kNoUnknown == SMFIP_NOUNKNOWN && smfip::kNoData == SMFIP_NODATA &&
              smfip::kSkip == SMFIP_SKIP && smfip::kRcptRej == SMFIP_RCPT_REJ &&
              smfip::kNrConn == SMFIP_NR_CONN && smfip::kNrHelo == SMFIP_NR_HELO &&
              smfip::kNrMail == SMFIP_NR_MAIL && smfip::kNrRcpt == SMFIP_NR_RCPT &&
              smfip::kNrData == SMFIP_NR_DATA && smfip::kNrUnkn == SMFIP_NR_UNKN &&
              smfip::kNrEoh == SMFIP_NR_EOH && smfip::kNrBody == SMFIP_NR_BODY &&
              smfip::kHdrLeadSpc == SMFIP_HDR_LEADSPC && smfip::kAll == SMFI_CURR_PROT);
static_assert(smfif::kAll == SMFI_CURR_ACTS);
static_assert(kChunkSize == MILTER_CHUNK_SIZE);

namespace {

using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC on Linux

double msSince(Clock::time_point t0, Clock::time_point t1) {
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

void putU32(std::string& out, std::uint32_t v) {
  out += static_cast<char>((v >> 24) & 0xff);
  out += static_cast<char>((v >> 16) & 0xff);
  out += static_cast<char>((v >> 8) & 0xff);
  out += static_cast<char>(v & 0xff);
}

std::uint32_t getU32(std::string_view in) {
  const auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

// Reads a NUL-terminated string at pos; advances pos past the NUL.
std::optional<std::string> takeString(std::string_view data, std::size_t& pos) {
  const std::size_t nul = data.find('\0', pos);
  if (nul == std::string_view::npos) {
    return std::nullopt;
  }
  std::string s(data.substr(pos, nul - pos));
  pos = nul + 1;
  return s;
}

std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '\r': out += "\\r"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default: out += c; break;
    }
  }
  return out;
}

std::string hex(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", static_cast<unsigned>(v));
  return buf;
}

std::string errnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Waits until fd is ready for events or the deadline passes. EINTR retries are bounded.
Result<void> waitFor(int fd, short events, Clock::time_point deadline, const char* what) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return fail(Errc::TempFail, std::string(what) + ": timed out");
    }
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) {
      if ((p.revents & (events | POLLHUP | POLLERR)) != 0) {
        return {};
      }
      continue;
    }
    if (n < 0 && errno != EINTR) {
      return fail(Errc::TempFail, errnoText(what));
    }
  }
  return fail(Errc::TempFail, std::string(what) + ": poll interrupted too often");
}

// Reads exactly n bytes before the deadline.
Result<std::string> readExact(int fd, std::size_t n, Clock::time_point deadline, const char* what) {
  std::string buf(n, '\0');
  std::size_t got = 0;
  // Each round either makes progress or waits; a bound on rounds that make no progress.
  for (int idle = 0; got < n && idle < 1000;) {
    const ssize_t r = ::read(fd, buf.data() + got, n - got);
    if (r > 0) {
      got += static_cast<std::size_t>(r);
      continue;
    }
    if (r == 0) {
      return fail(Errc::TempFail, std::string(what) + ": the milter closed the connection");
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return fail(Errc::TempFail, errnoText(what));
    }
    ++idle;
    if (Result<void> w = waitFor(fd, POLLIN, deadline, what); !w) {
      return fail(w.error());
    }
  }
  if (got < n) {
    return fail(Errc::TempFail, std::string(what) + ": no progress");
  }
  return buf;
}

Result<int> dial(const Endpoint& where, const SessionOptions& options) {
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(options.timeout_ms);
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_UNIX;
  if (where.kind == Endpoint::Kind::Unix) {
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    if (where.path.size() >= sizeof un.sun_path) {
      return fail(Errc::Invalid, "socket path too long: " + where.path);
    }
    std::memcpy(un.sun_path, where.path.c_str(), where.path.size() + 1);
    std::memcpy(&addr, &un, sizeof un);
    len = sizeof un;
  } else {
    family = where.kind == Endpoint::Kind::Inet ? AF_INET : AF_INET6;
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(where.port);
    if (const int rc = ::getaddrinfo(where.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
      return fail(Errc::Invalid, "cannot resolve " + where.host + ": " + gai_strerror(rc));
    }
    std::memcpy(&addr, res->ai_addr, res->ai_addrlen);
    len = res->ai_addrlen;
    ::freeaddrinfo(res);
  }
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return fail(Errc::TempFail, errnoText("socket"));
  }
  if (family != AF_UNIX) {
    const int on = options.tcp_nodelay ? 1 : 0;
    if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0) {
      const Error e{Errc::TempFail, errnoText("setsockopt TCP_NODELAY")};
      ::close(fd);
      return fail(e);
    }
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    if (errno != EINPROGRESS) {
      const Error e{Errc::TempFail, errnoText("connect")};
      ::close(fd);
      return fail(e);
    }
    if (Result<void> w = waitFor(fd, POLLOUT, deadline, "connect"); !w) {
      ::close(fd);
      return fail(w.error());
    }
    int err = 0;
    socklen_t elen = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0) {
      errno = err;
      const Error e{Errc::TempFail, errnoText("connect")};
      ::close(fd);
      return fail(e);
    }
  }
  return fd;
}

// argv as NUL-terminated strings, one after another.
std::string joinArgv(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    out += a;
    out += '\0';
  }
  return out;
}

const char* eventName(char code) {
  switch (code) {
    case smfic::kAbort: return "abort";
    case smfic::kBody: return "body";
    case smfic::kConnect: return "connect";
    case smfic::kMacro: return "macro";
    case smfic::kBodyEob: return "bodyeob";
    case smfic::kHelo: return "helo";
    case smfic::kHeader: return "header";
    case smfic::kMail: return "mail";
    case smfic::kEoh: return "eoh";
    case smfic::kOptneg: return "optneg";
    case smfic::kQuit: return "quit";
    case smfic::kRcpt: return "rcpt";
    case smfic::kData: return "data";
    default: return "event";
  }
}

}  // namespace

// ---- endpoints and packets -------------------------------------------------------------

Result<Endpoint> parseEndpoint(std::string_view spec) {
  Endpoint e;
  const std::size_t colon = spec.find(':');
  if (colon == std::string_view::npos) {
    if (!spec.empty() && spec.front() == '/') {
      e.path = std::string(spec);
      return e;
    }
    return fail(Errc::Invalid, "socket '" + std::string(spec) +
                                   "': expected unix:/path or inet:PORT@HOST");
  }
  const std::string_view kind = spec.substr(0, colon);
  const std::string_view rest = spec.substr(colon + 1);
  if (kind == "unix" || kind == "local") {
    if (rest.empty() || rest.front() != '/') {
      return fail(Errc::Invalid, "socket '" + std::string(spec) + "': the path must be absolute");
    }
    e.path = std::string(rest);
    return e;
  }
  if (kind != "inet" && kind != "inet6") {
    return fail(Errc::Invalid, "socket '" + std::string(spec) + "': unknown kind");
  }
  e.kind = kind == "inet" ? Endpoint::Kind::Inet : Endpoint::Kind::Inet6;
  std::string port_text;
  if (const std::size_t at = rest.find('@'); at != std::string_view::npos) {
    port_text = std::string(rest.substr(0, at));  // libmilter: PORT@HOST
    e.host = std::string(rest.substr(at + 1));
  } else if (const std::size_t c = rest.rfind(':'); c != std::string_view::npos) {
    e.host = std::string(rest.substr(0, c));  // Postfix: HOST:PORT
    port_text = std::string(rest.substr(c + 1));
  } else {
    port_text = std::string(rest);
  }
  if (e.host.size() >= 2 && e.host.front() == '[' && e.host.back() == ']') {
    e.host = e.host.substr(1, e.host.size() - 2);
  }
  if (e.host.empty()) {
    e.host = e.kind == Endpoint::Kind::Inet ? "127.0.0.1" : "::1";
  }
  char* end = nullptr;
  const long port = std::strtol(port_text.c_str(), &end, 10);
  if (port_text.empty() || *end != '\0' || port < 1 || port > 65535) {
    return fail(Errc::Invalid, "socket '" + std::string(spec) + "': port must be 1..65535");
  }
  e.port = static_cast<int>(port);
  return e;
}

std::string encodePacket(char code, std::string_view data) {
  std::string out;
  out.reserve(5 + data.size());
  putU32(out, static_cast<std::uint32_t>(data.size() + 1));
  out += code;
  out.append(data);
  return out;
}

bool isFinalReplyCode(char code) noexcept {
  switch (code) {
    case smfir::kAccept:
    case smfir::kContinue:
    case smfir::kDiscard:
    case smfir::kReject:
    case smfir::kTempFail:
    case smfir::kReplyCode:
    case smfir::kShutdown:
    case smfir::kConnFail:
    case smfir::kSkip:
      return true;
    default:
      return false;
  }
}

std::string FinalReply::describe() const {
  switch (code) {
    case smfir::kAccept: return "accept";
    case smfir::kContinue: return "continue";
    case smfir::kDiscard: return "discard";
    case smfir::kReject: return "reject";
    case smfir::kTempFail: return "tempfail";
    case smfir::kReplyCode: return "replycode " + escape(text);
    case smfir::kShutdown: return "shutdown";
    case smfir::kConnFail: return "conn_fail";
    case smfir::kSkip: return "skip";
    default: return std::string("unknown '") + code + "'";
  }
}

Result<Modification> decodeModification(const Packet& p) {
  Modification m;
  m.code = p.code;
  std::size_t pos = 0;
  const std::string_view d = p.data;
  const auto bad = [&](const char* why) {
    return fail(Errc::Invalid, std::string("malformed '") + p.code + "' reply: " + why);
  };
  switch (p.code) {
    case smfir::kInsHeader:
    case smfir::kChgHeader: {
      if (d.size() < 4) {
        return bad("no index");
      }
      m.index = getU32(d);
      pos = 4;
      std::optional<std::string> name = takeString(d, pos);
      std::optional<std::string> value = takeString(d, pos);
      if (!name || !value || pos != d.size()) {
        return bad("expected index, name\\0, value\\0");
      }
      if (name->empty()) {
        return bad("empty header name");  // Postfix: "null change header name"
      }
      m.name = std::move(*name);
      m.value = std::move(*value);
      return m;
    }
    case smfir::kAddHeader: {
      std::optional<std::string> name = takeString(d, pos);
      std::optional<std::string> value = takeString(d, pos);
      if (!name || !value || pos != d.size()) {
        return bad("expected name\\0, value\\0");
      }
      m.name = std::move(*name);
      m.value = std::move(*value);
      return m;
    }
    case smfir::kAddRcpt:
    case smfir::kDelRcpt:
    case smfir::kQuarantine: {
      std::optional<std::string> s = takeString(d, pos);
      if (!s || pos != d.size()) {
        return bad("expected one string");
      }
      m.name = std::move(*s);
      return m;
    }
    case smfir::kChgFrom:
    case smfir::kAddRcptPar: {
      std::optional<std::string> s = takeString(d, pos);
      if (!s) {
        return bad("expected a string");
      }
      m.name = std::move(*s);
      if (pos < d.size()) {
        std::optional<std::string> args = takeString(d, pos);
        if (!args || pos != d.size()) {
          return bad("expected optional ESMTP arguments");
        }
        m.value = std::move(*args);
      }
      return m;
    }
    case smfir::kReplBody:
      m.value = p.data;
      return m;
    default:
      return fail(Errc::Invalid, std::string("unexpected reply '") + p.code + "' after bodyeob");
  }
}

std::string Modification::describe(bool leadspc) const {
  const std::string sep = leadspc ? ":" : ": ";
  switch (code) {
    case smfir::kInsHeader:
      return "insheader " + std::to_string(index) + " " + name + sep + escape(value);
    case smfir::kChgHeader:
      if (value.empty()) {
        return "chgheader " + std::to_string(index) + " " + name + " (delete)";
      }
      return "chgheader " + std::to_string(index) + " " + name + sep + escape(value);
    case smfir::kAddHeader: return "addheader " + name + sep + escape(value);
    case smfir::kQuarantine: return "quarantine " + escape(name);
    case smfir::kAddRcpt: return "addrcpt " + escape(name);
    case smfir::kDelRcpt: return "delrcpt " + escape(name);
    case smfir::kAddRcptPar: return "addrcpt_par " + escape(name) + " " + escape(value);
    case smfir::kChgFrom: return "chgfrom " + escape(name) + " " + escape(value);
    case smfir::kReplBody: return "replbody " + std::to_string(value.size()) + " bytes";
    default: return std::string("modification '") + code + "'";
  }
}

std::string Negotiated::describe() const {
  std::string out = "version " + std::to_string(version) + " actions " + hex(actions) +
                    " protocol " + hex(protocol);
  for (const auto& [stage, names] : macro_lists) {
    out += " symlist[" + std::to_string(stage) + "]=\"" + names + "\"";
  }
  return out;
}

// ---- session -------------------------------------------------------------------------

Result<Session> Session::open(const Endpoint& where, const SessionOptions& options) {
  Result<int> fd = dial(where, options);
  if (!fd) {
    return fail(fd.error());
  }
  return Session(*fd, options);
}

Session::Session(Session&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      options_(other.options_),
      agreed_(std::move(other.agreed_)),
      out_(std::move(other.out_)),
      body_skipped_(other.body_skipped_),
      eob_pending_(other.eob_pending_),
      eob_sent_at_(other.eob_sent_at_) {}

Session& Session::operator=(Session&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    options_ = other.options_;
    agreed_ = std::move(other.agreed_);
    out_ = std::move(other.out_);
    body_skipped_ = other.body_skipped_;
    eob_pending_ = other.eob_pending_;
    eob_sent_at_ = other.eob_sent_at_;
  }
  return *this;
}

Session::~Session() { close(); }

void Session::close() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

Result<void> Session::queue(char code, std::string_view data) {
  if (fd_ < 0) {
    return fail(Errc::Internal, "session is closed");
  }
  out_ += encodePacket(code, data);
  if (!options_.buffered || out_.size() >= 64 * 1024) {
    return flush();
  }
  return {};
}

Result<void> Session::flush() {
  if (fd_ < 0) {
    return fail(Errc::Internal, "session is closed");
  }
  const Clock::time_point now = Clock::now();
  if (eob_pending_) {
    eob_sent_at_ = now;
    eob_pending_ = false;
  }
  const Clock::time_point deadline = now + std::chrono::milliseconds(options_.timeout_ms);
  std::size_t done = 0;
  for (int idle = 0; done < out_.size() && idle < 1000;) {
    const ssize_t w = ::send(fd_, out_.data() + done, out_.size() - done, MSG_NOSIGNAL);
    if (w > 0) {
      done += static_cast<std::size_t>(w);
      continue;
    }
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return fail(Errc::TempFail, errnoText("write to milter"));
    }
    ++idle;
    if (Result<void> r = waitFor(fd_, POLLOUT, deadline, "write to milter"); !r) {
      return fail(r.error());
    }
  }
  if (done < out_.size()) {
    return fail(Errc::TempFail, "write to milter: no progress");
  }
  out_.clear();
  return {};
}

Result<Packet> Session::readPacket() {
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  Result<std::string> head = readExact(fd_, 4, deadline, "read reply length");
  if (!head) {
    return fail(head.error());
  }
  const std::uint32_t len = getU32(*head);
  if (len < 1) {
    return fail(Errc::Invalid, "reply packet of length 0");
  }
  if (len > kMaxReplyPacket) {
    return fail(Errc::Invalid, "reply packet of " + std::to_string(len) +
                                   " bytes exceeds Postfix's limit of " +
                                   std::to_string(kMaxReplyPacket));
  }
  Result<std::string> body = readExact(fd_, len, deadline, "read reply");
  if (!body) {
    return fail(body.error());
  }
  Packet p;
  p.code = (*body)[0];
  p.data = body->substr(1);
  return p;
}

Result<Negotiated> Session::negotiate() {
  std::string data;
  putU32(data, options_.version);
  putU32(data, options_.actions);
  putU32(data, options_.protocol);
  if (Result<void> r = queue(smfic::kOptneg, data); !r) {
    return fail(r.error());
  }
  if (Result<void> r = flush(); !r) {
    return fail(r.error());
  }
  Result<Packet> p = readPacket();
  if (!p) {
    return fail(p.error());
  }
  if (p->code != smfic::kOptneg || p->data.size() < 12) {
    return fail(Errc::Invalid, std::string("unexpected reply '") + p->code +
                                   "' to optneg (" + std::to_string(p->data.size()) + " bytes)");
  }
  Negotiated n;
  n.version = getU32(p->data);
  n.actions = getU32(std::string_view(p->data).substr(4));
  n.protocol = getU32(std::string_view(p->data).substr(8));
  // Postfix's checks (milter8_connect).
  if (n.version > options_.version || n.version < 2) {
    return fail(Errc::Invalid, "milter protocol version " + std::to_string(n.version) +
                                   " conflicts with ours (" + std::to_string(options_.version) + ")");
  }
  if ((n.actions & options_.actions) != n.actions) {
    return fail(Errc::Invalid, "milter request mask " + hex(n.actions) +
                                   " conflicts with the offered " + hex(options_.actions));
  }
  if ((n.protocol & options_.protocol) != n.protocol) {
    return fail(Errc::Invalid, "milter protocol mask " + hex(n.protocol) +
                                   " has bits we did not offer (" + hex(options_.protocol) + ")");
  }
  // Secondary negotiation: SMFIR_SETSYMLIST lists, (uint32 stage, "names\0")*.
  std::string_view rest = std::string_view(p->data).substr(12);
  for (int i = 0; !rest.empty() && i < 16; ++i) {
    if (rest.size() < 5) {
      return fail(Errc::Invalid, "truncated macro list in optneg reply");
    }
    const std::uint32_t stage = getU32(rest);
    std::size_t pos = 4;
    std::optional<std::string> names = takeString(rest, pos);
    if (!names) {
      return fail(Errc::Invalid, "unterminated macro list in optneg reply");
    }
    n.macro_lists[stage] = std::move(*names);
    rest.remove_prefix(pos);
  }
  if (!rest.empty()) {
    return fail(Errc::Invalid, "too many macro lists in optneg reply");
  }
  agreed_ = n;
  return n;
}

Result<EventOutcome> Session::event(char code, MacroStage stage, std::uint32_t skip_bit,
                                    std::uint32_t nr_bit, std::string_view payload,
                                    const Macros& macros) {
  // Content events the milter does not want are never produced at all (milter8_message
  // installs no callback for them), so not even their macros go out.
  const bool skipped = skip_bit != 0 && (agreed_.protocol & skip_bit) != 0;
  const bool content = code == smfic::kHeader || code == smfic::kEoh || code == smfic::kBody;
  if (skipped && content) {
    return EventOutcome{};
  }
  // Macros first, even for a skipped envelope event (milter8_event). A SETSYMLIST list
  // for the stage replaces our default list.
  std::string mdata(1, code);
  const auto listed = agreed_.macro_lists.find(static_cast<std::uint32_t>(stage));
  std::size_t sent_macros = 0;
  for (const auto& [name, value] : macros) {
    if (listed != agreed_.macro_lists.end()) {
      const std::string& list = listed->second;
      bool found = false;
      for (std::size_t pos = 0; pos <= list.size();) {
        const std::size_t sp = std::min(list.find_first_of(" ,\t", pos), list.size());
        if (list.compare(pos, sp - pos, name) == 0 && sp - pos == name.size()) {
          found = true;
          break;
        }
        pos = sp + 1;
      }
      if (!found) {
        continue;
      }
    }
    mdata += name;
    mdata += '\0';
    mdata += value;
    mdata += '\0';
    ++sent_macros;
  }
  if (sent_macros > 0) {
    if (Result<void> r = queue(smfic::kMacro, mdata); !r) {
      return fail(r.error());
    }
  }
  EventOutcome outcome;
  if (skipped) {
    return outcome;
  }
  if (Result<void> r = queue(code, payload); !r) {
    return fail(r.error());
  }
  outcome.sent = true;
  if (nr_bit != 0 && (agreed_.protocol & nr_bit) != 0) {
    return outcome;
  }
  return readReplies(code, std::move(outcome));
}

Result<EventOutcome> Session::readReplies(char event_code, EventOutcome outcome) {
  if (Result<void> r = flush(); !r) {
    return fail(r.error());
  }
  outcome.awaited = true;
  for (int i = 0; i < kMaxRepliesPerEvent; ++i) {
    Result<Packet> p = readPacket();
    if (!p) {
      return fail(Error{p.error().code, std::string("after ") + eventName(event_code) + ": " +
                                            p.error().message});
    }
    if (p->code == smfir::kProgress) {
      continue;
    }
    if (isFinalReplyCode(p->code)) {
      FinalReply reply{p->code, ""};
      if (p->code == smfir::kReplyCode) {
        std::size_t pos = 0;
        std::optional<std::string> text = takeString(p->data, pos);
        if (!text || pos != p->data.size() || text->size() < 5 ||
            ((*text)[0] != '4' && (*text)[0] != '5')) {
          return fail(Errc::Invalid, "malformed replycode after " +
                                         std::string(eventName(event_code)));
        }
        reply.text = std::move(*text);
      } else if (!p->data.empty()) {
        return fail(Errc::Invalid, std::string("reply '") + p->code + "' with " +
                                       std::to_string(p->data.size()) + " unexpected data bytes");
      }
      if (p->code == smfir::kSkip) {
        if (event_code != smfic::kBody || (options_.protocol & smfip::kSkip) == 0) {
          return fail(Errc::Invalid, "skip reply after " + std::string(eventName(event_code)));
        }
        body_skipped_ = true;
        reply.code = smfir::kContinue;  // the transaction goes on, at BODYEOB
      }
      outcome.reply = std::move(reply);
      return outcome;
    }
    if (event_code != smfic::kBodyEob) {
      return fail(Errc::Invalid, std::string("unexpected reply '") + p->code + "' after " +
                                     eventName(event_code));
    }
    Result<Modification> m = decodeModification(*p);
    if (!m) {
      return fail(m.error());
    }
    if (m->code == smfir::kQuarantine) {
      outcome.quarantined = true;
    }
    outcome.modifications.push_back(std::move(*m));
  }
  return fail(Errc::Limit, "more than " + std::to_string(kMaxRepliesPerEvent) +
                               " replies to one event");
}

Result<EventOutcome> Session::connect(std::string_view hostname, char family, std::uint16_t port,
                                      std::string_view address, const Macros& macros) {
  std::string payload(hostname);
  payload += '\0';
  payload += family;
  if (family != 'U') {
    payload += static_cast<char>((port >> 8) & 0xff);
    payload += static_cast<char>(port & 0xff);
    payload += address;
    payload += '\0';
  }
  return event(smfic::kConnect, MacroStage::Connect, smfip::kNoConnect, smfip::kNrConn, payload,
               macros);
}

Result<EventOutcome> Session::helo(std::string_view name, const Macros& macros) {
  std::string payload(name);
  payload += '\0';
  return event(smfic::kHelo, MacroStage::Helo, smfip::kNoHelo, smfip::kNrHelo, payload, macros);
}

Result<EventOutcome> Session::mail(const std::vector<std::string>& argv, const Macros& macros) {
  body_skipped_ = false;
  return event(smfic::kMail, MacroStage::Mail, smfip::kNoMail, smfip::kNrMail, joinArgv(argv),
               macros);
}

Result<EventOutcome> Session::rcpt(const std::vector<std::string>& argv, const Macros& macros) {
  return event(smfic::kRcpt, MacroStage::Rcpt, smfip::kNoRcpt, smfip::kNrRcpt, joinArgv(argv),
               macros);
}

Result<EventOutcome> Session::data(const Macros& macros) {
  return event(smfic::kData, MacroStage::Data, smfip::kNoData, smfip::kNrData, "", macros);
}

Result<EventOutcome> Session::header(std::string_view name, std::string_view value,
                                     const Macros& macros) {
  // Sendmail (and Postfix without SMFIP_HDR_LEADSPC) eats one space, not a tab.
  if (!leadingSpace() && !value.empty() && value.front() == ' ') {
    value.remove_prefix(1);
  }
  std::string payload(name);
  payload += '\0';
  payload += value;
  payload += '\0';
  return event(smfic::kHeader, MacroStage::Eoh, smfip::kNoHdrs, smfip::kNrHdr, payload, macros);
}

Result<EventOutcome> Session::endOfHeaders(const Macros& macros) {
  return event(smfic::kEoh, MacroStage::Eoh, smfip::kNoEoh, smfip::kNrEoh, "", macros);
}

Result<EventOutcome> Session::body(std::string_view chunk, const Macros& macros) {
  if (chunk.size() > kChunkSize) {
    return fail(Errc::Invalid, "body chunk of " + std::to_string(chunk.size()) + " bytes");
  }
  return event(smfic::kBody, MacroStage::Eom, smfip::kNoBody, smfip::kNrBody, chunk, macros);
}

Result<EventOutcome> Session::endOfBody(const Macros& macros) {
  eob_pending_ = true;
  return event(smfic::kBodyEob, MacroStage::Eom, 0, 0, "", macros);
}

Result<void> Session::abort() {
  if (Result<void> r = queue(smfic::kAbort, ""); !r) {
    return r;
  }
  return {};
}

Result<void> Session::quitNewConnection() {
  if (Result<void> r = queue(smfic::kQuitNc, ""); !r) {
    return r;
  }
  return flush();
}

Result<void> Session::quit() {
  Result<void> r = queue(smfic::kQuit, "");
  if (r) {
    r = flush();
  }
  close();
  return r;
}

// ---- messages --------------------------------------------------------------------------

Result<Message> parseEml(std::string_view raw) {
  Message m;
  // Split into lines without their line ends; remember whether the input ended in one.
  std::vector<std::string_view> lines;
  for (std::size_t pos = 0; pos < raw.size();) {
    std::size_t nl = raw.find('\n', pos);
    std::size_t next = nl == std::string_view::npos ? raw.size() : nl + 1;
    std::size_t end = nl == std::string_view::npos ? raw.size() : nl;
    if (end > pos && raw[end - 1] == '\r') {
      --end;
    }
    lines.push_back(raw.substr(pos, end - pos));
    pos = next;
  }
  std::size_t i = 0;
  for (; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (line.empty()) {
      ++i;  // the separator line is not body
      break;
    }
    if ((line.front() == ' ' || line.front() == '\t') && !m.headers.empty()) {
      m.headers.back().value += '\n';
      m.headers.back().value.append(line);
      continue;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      break;  // not a header: the body starts here (no separator line)
    }
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) {
      name.remove_suffix(1);
    }
    m.headers.push_back(HeaderField{std::string(name), std::string(line.substr(colon + 1))});
  }
  for (; i < lines.size(); ++i) {
    m.body.append(lines[i]);
    m.body += "\r\n";
  }
  if (m.headers.empty()) {
    return fail(Errc::Invalid, "no header fields");
  }
  return m;
}

std::size_t headerBytes(const Message& m, bool leadspc) {
  std::size_t n = 0;
  for (const HeaderField& h : m.headers) {
    const bool eats = !leadspc && !h.value.empty() && h.value.front() == ' ';
    n += h.name.size() + h.value.size() - (eats ? 1 : 0);
  }
  return n;
}

Result<void> greet(Session& s, const SmtpClient& client) {
  const Macros connect_macros{{"j", client.mta_hostname},
                              {"{daemon_name}", client.daemon_name},
                              {"{daemon_addr}", client.daemon_addr},
                              {"v", "Postfix 3.7.11"},
                              {"_", client.hostname + " [" + client.address + "]"}};
  Result<EventOutcome> c = s.connect(client.hostname, client.family, client.port, client.address,
                                     connect_macros);
  if (!c) {
    return fail(c.error());
  }
  if (!c->proceeds()) {
    return fail(Errc::Invalid, "milter answered connect with " + c->reply->describe());
  }
  // Postfix's helo macros are TLS details; none without TLS.
  Result<EventOutcome> h = s.helo(client.helo, {});
  if (!h) {
    return fail(h.error());
  }
  if (!h->proceeds()) {
    return fail(Errc::Invalid, "milter answered helo with " + h->reply->describe());
  }
  return {};
}

namespace {

std::string domainOf(const std::string& addr) {
  const std::size_t at = addr.rfind('@');
  return at == std::string::npos ? "" : addr.substr(at + 1);
}

}  // namespace

Result<TransactionResult> sendMessage(Session& s, const Message& m,
                                      const TransactionOptions& options) {
  if (options.chunk < 1 || options.chunk > kChunkSize) {
    return fail(Errc::Invalid, "chunk size must be 1.." + std::to_string(kChunkSize));
  }
  TransactionResult result;
  const Clock::time_point t0 = Clock::now();
  const auto stop = [&](const char* where, const EventOutcome& o) {
    result.stopped_at = where;
    result.reply = o.reply;
    result.total_ms = msSince(t0, Clock::now());
  };
  const auto finish = [&]() -> Result<TransactionResult> {
    if (options.abort_after) {
      if (Result<void> r = s.abort(); !r) {
        return fail(r.error());
      }
    }
    return result;
  };

  // MAIL: with Postfix's default smtpd_delay_open_until_valid_rcpt = yes the queue id is
  // not known yet, so no {i} here.
  Result<EventOutcome> o = s.mail({"<" + m.mail_from + ">"},
                                  {{"{mail_addr}", m.mail_from},
                                   {"{mail_host}", domainOf(m.mail_from)},
                                   {"{mail_mailer}", "smtp"}});
  if (!o) {
    return fail(o.error());
  }
  if (!o->proceeds()) {
    stop("mail", *o);
    return finish();
  }
  std::size_t accepted = 0;
  for (const std::string& rcpt : m.rcpts) {
    o = s.rcpt({"<" + rcpt + ">"}, {{"i", options.queue_id},
                                    {"{rcpt_addr}", rcpt},
                                    {"{rcpt_host}", domainOf(rcpt)},
                                    {"{rcpt_mailer}", "smtp"}});
    if (!o) {
      return fail(o.error());
    }
    if (o->proceeds()) {
      ++accepted;
    } else if (o->reply->code == smfir::kAccept || o->reply->code == smfir::kDiscard) {
      stop("rcpt", *o);
      return finish();
    }
  }
  if (accepted == 0) {
    stop("rcpt", *o);
    return finish();
  }
  const Macros qid{{"i", options.queue_id}};
  if (o = s.data(qid); !o) {
    return fail(o.error());
  }
  if (!o->proceeds()) {
    stop("data", *o);
    return finish();
  }
  for (const HeaderField& h : m.headers) {
    if (o = s.header(h.name, h.value, qid); !o) {
      return fail(o.error());
    }
    if (!o->proceeds()) {
      stop("header", *o);
      return finish();
    }
  }
  if (o = s.endOfHeaders(qid); !o) {
    return fail(o.error());
  }
  if (!o->proceeds()) {
    stop("eoh", *o);
    return finish();
  }
  const std::size_t limit = options.abort_after_body_bytes.value_or(m.body.size());
  const std::size_t body_len = std::min(limit, m.body.size());
  for (std::size_t pos = 0; pos < body_len && !s.bodySkipped();) {
    const std::size_t n = std::min(options.chunk, body_len - pos);
    if (o = s.body(std::string_view(m.body).substr(pos, n), qid); !o) {
      return fail(o.error());
    }
    if (!o->proceeds()) {
      stop("body", *o);
      return finish();
    }
    pos += n;
  }
  if (options.abort_after_body_bytes) {
    if (Result<void> r = s.abort(); !r) {
      return fail(r.error());
    }
    if (Result<void> r = s.flush(); !r) {
      return fail(r.error());
    }
    result.stopped_at = "abort";
    result.total_ms = msSince(t0, Clock::now());
    return result;
  }
  if (options.pause_before_eom_ms > 0) {
    if (Result<void> r = s.flush(); !r) {
      return fail(r.error());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(options.pause_before_eom_ms));
  }
  // BODYEOB goes out in the same write as everything queued before it (no-reply events),
  // as Postfix's buffered stream does; the clock starts at that write.
  if (o = s.endOfBody(qid); !o) {
    return fail(o.error());
  }
  const Clock::time_point t_end = Clock::now();
  result.eob_to_reply_ms = msSince(s.eobSentAt(), t_end);
  result.total_ms = msSince(t0, t_end);
  result.modifications = std::move(o->modifications);
  result.reply = o->reply;
  return finish();
}

Result<Message> loadEml(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(Errc::Invalid, "cannot read " + path);
  }
  const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Result<Message> m = parseEml(raw);
  if (!m) {
    return fail(Errc::Invalid, path + ": " + m.error().message);
  }
  return m;
}

Result<Session> openGreeted(const Endpoint& where, const SessionOptions& options,
                            const SmtpClient& client) {
  Result<Session> s = Session::open(where, options);
  if (!s) {
    return fail(s.error());
  }
  if (Result<Negotiated> n = s->negotiate(); !n) {
    return fail(n.error());
  }
  if (Result<void> g = greet(*s, client); !g) {
    return fail(g.error());
  }
  return s;
}

std::string queueIdFor(long n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "4B%09lX", n);
  return buf;
}

double percentile(std::vector<double> sample, double p) {
  if (sample.empty()) {
    return 0;
  }
  std::sort(sample.begin(), sample.end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sample.size()));
  const std::size_t idx = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
  return sample[std::min(idx, sample.size() - 1)];
}

}  // namespace mw::testtools
