// Unit tests of tests/tools/milter_protocol: packet encoding, reply decoding, .eml
// parsing, and — against a scripted fake milter on a unix socket — that the client sends
// exactly the events the negotiated SMFIP_NO* bits allow and waits for a reply only where
// no SMFIP_NR_* bit was agreed (a wrong wait shows up as a timeout, a wrong send as an
// unexpected packet in the recorded trace).
#include "milter_protocol.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace mw::testtools {
namespace {

std::string u32(std::uint32_t v) {
  std::string s;
  for (int shift = 24; shift >= 0; shift -= 8) {
    s += static_cast<char>((v >> shift) & 0xff);
  }
  return s;
}

TEST(MilterProtocol, EncodePacket) {
  EXPECT_EQ(encodePacket('Q', ""), std::string("\0\0\0\1Q", 5));
  EXPECT_EQ(encodePacket('H', std::string("mx\0", 3)), std::string("\0\0\0\4Hmx\0", 8));
}

TEST(MilterProtocol, ParseEndpoint) {
  struct Case {
    const char* name;
    const char* spec;
    bool ok;
    Endpoint::Kind kind;
    std::string path_or_host;
    int port;
  };
  const std::vector<Case> cases = {
      {"unix", "unix:/run/m.sock", true, Endpoint::Kind::Unix, "/run/m.sock", 0},
      {"local", "local:/run/m.sock", true, Endpoint::Kind::Unix, "/run/m.sock", 0},
      {"bare path", "/run/m.sock", true, Endpoint::Kind::Unix, "/run/m.sock", 0},
      {"libmilter inet", "inet:8891@127.0.0.1", true, Endpoint::Kind::Inet, "127.0.0.1", 8891},
      {"postfix inet", "inet:127.0.0.1:8891", true, Endpoint::Kind::Inet, "127.0.0.1", 8891},
      {"inet no host", "inet:8891", true, Endpoint::Kind::Inet, "127.0.0.1", 8891},
      {"inet6 brackets", "inet6:8891@[::1]", true, Endpoint::Kind::Inet6, "::1", 8891},
      {"port 0", "inet:0@127.0.0.1", false, Endpoint::Kind::Inet, "", 0},
      {"port too big", "inet:65536@127.0.0.1", false, Endpoint::Kind::Inet, "", 0},
      {"relative unix", "unix:m.sock", false, Endpoint::Kind::Unix, "", 0},
      {"unknown kind", "tcp:1@h", false, Endpoint::Kind::Unix, "", 0},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    const Result<Endpoint> e = parseEndpoint(tc.spec);
    ASSERT_EQ(e.has_value(), tc.ok) << "got " << (e ? "ok" : e.error().describe());
    if (!tc.ok) {
      continue;
    }
    EXPECT_EQ(e->kind, tc.kind);
    EXPECT_EQ(e->kind == Endpoint::Kind::Unix ? e->path : e->host, tc.path_or_host);
    EXPECT_EQ(e->port, tc.port);
  }
}

TEST(MilterProtocol, DecodeModification) {
  struct Case {
    const char* name;
    Packet packet;
    bool ok;
    std::string described;  // with leading space agreed
  };
  const std::vector<Case> cases = {
      {"insheader", {'i', u32(0) + std::string("A-R\0 mx; spf=pass\0", 18)}, true,
       "insheader 0 A-R: mx; spf=pass"},
      {"chgheader delete", {'m', u32(2) + std::string("A-R\0\0", 5)}, true,
       "chgheader 2 A-R (delete)"},
      {"chgheader folded", {'m', u32(1) + std::string("S\0 a\n\tb\0", 8)}, true,
       "chgheader 1 S: a\\n\\tb"},
      {"addheader", {'h', std::string("X\0 1\0", 5)}, true, "addheader X: 1"},
      {"quarantine", {'q', std::string("spam\0", 5)}, true, "quarantine spam"},
      {"chgfrom with args", {'e', std::string("<a@b>\0SIZE=1\0", 13)}, true,
       "chgfrom <a@b> SIZE=1"},
      {"insheader no index", {'i', "ab"}, false, ""},
      {"insheader unterminated", {'i', u32(0) + std::string("A\0b", 3)}, false, ""},
      {"chgheader empty name", {'m', u32(1) + std::string("\0v\0", 3)}, false, ""},
      {"trailing bytes", {'h', std::string("X\0 1\0junk", 9)}, false, ""},
      {"not a modification", {'c', ""}, false, ""},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    const Result<Modification> m = decodeModification(tc.packet);
    ASSERT_EQ(m.has_value(), tc.ok) << "got " << (m ? m->describe(true) : m.error().describe());
    if (tc.ok) {
      EXPECT_EQ(m->describe(true), tc.described);
    }
  }
}

TEST(MilterProtocol, ParseEml) {
  const Result<Message> m = parseEml(
      "From: a@example.org\r\nSubject: one\r\n\ttwo\r\nX-Odd :v\r\n\r\nline 1\nline 2");
  ASSERT_TRUE(m.has_value());
  ASSERT_EQ(m->headers.size(), 3u);
  EXPECT_EQ(m->headers[0].name, "From");
  EXPECT_EQ(m->headers[0].value, " a@example.org");
  EXPECT_EQ(m->headers[1].value, " one\n\ttwo");  // Postfix's form: folds joined by LF
  EXPECT_EQ(m->headers[2].name, "X-Odd");
  EXPECT_EQ(m->body, "line 1\r\nline 2\r\n");  // CRLF on the wire, last line terminated
  // Header bytes as a milter counts them: 4+14 + 7+9 + 5+1 = 40; one byte less per
  // value with a leading space when the space is eaten (no SMFIP_HDR_LEADSPC).
  EXPECT_EQ(headerBytes(*m, true), 40u);
  EXPECT_EQ(headerBytes(*m, false), 38u);
  EXPECT_FALSE(parseEml("no header here\r\n").has_value());
}

TEST(MilterProtocol, Percentile) {
  const std::vector<double> v = {5, 1, 4, 2, 3, 6, 7, 8, 9, 10};
  EXPECT_EQ(percentile(v, 50), 5);
  EXPECT_EQ(percentile(v, 90), 9);
  EXPECT_EQ(percentile(v, 99), 10);
  EXPECT_EQ(percentile(v, 100), 10);
  EXPECT_EQ(percentile({}, 50), 0);
}

// A milter that agrees to `protocol`, records every packet it gets ("D" packets as
// "D<event>") and answers exactly as libmilter would under that agreement.
class FakeMilter {
 public:
  explicit FakeMilter(std::uint32_t protocol) : protocol_(protocol) {
    char tmpl[] = "/tmp/mw-fake-milter-XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    EXPECT_NE(dir, nullptr);
    path_ = std::string(dir ? dir : "/tmp") + "/m.sock";
    listener_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    std::strncpy(un.sun_path, path_.c_str(), sizeof un.sun_path - 1);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&un), sizeof un), 0);
    EXPECT_EQ(::listen(listener_, 1), 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeMilter() {
    if (thread_.joinable()) {
      thread_.join();
    }
    ::close(listener_);
    ::unlink(path_.c_str());
    ::rmdir(path_.substr(0, path_.rfind('/')).c_str());
  }
  std::string spec() const { return "unix:" + path_; }
  // Valid after the client quit (joins the server thread first).
  const std::vector<std::string>& trace() {
    if (thread_.joinable()) {
      thread_.join();
    }
    return trace_;
  }

 private:
  bool readAll(int fd, char* buf, std::size_t n) {
    for (std::size_t got = 0; got < n;) {
      const ssize_t r = ::read(fd, buf + got, n - got);
      if (r <= 0) {
        return false;
      }
      got += static_cast<std::size_t>(r);
    }
    return true;
  }
  void send(int fd, char code, const std::string& data) {
    const std::string p = encodePacket(code, data);
    EXPECT_EQ(::write(fd, p.data(), p.size()), static_cast<ssize_t>(p.size()));
  }
  std::uint32_t nrBit(char code) const {
    switch (code) {
      case 'C': return smfip::kNrConn;
      case 'H': return smfip::kNrHelo;
      case 'M': return smfip::kNrMail;
      case 'R': return smfip::kNrRcpt;
      case 'T': return smfip::kNrData;
      case 'L': return smfip::kNrHdr;
      case 'N': return smfip::kNrEoh;
      case 'B': return smfip::kNrBody;
      default: return 0;
    }
  }
  void serve() {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) {
      trace_.push_back("no connection");
      return;
    }
    const int fd = ::accept(listener_, nullptr, nullptr);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (int i = 0; i < 10000; ++i) {
      char len[4];
      if (!readAll(fd, len, 4)) {
        trace_.push_back("eof");
        break;
      }
      const std::uint32_t n = (static_cast<std::uint32_t>(static_cast<unsigned char>(len[0])) << 24) |
                              (static_cast<std::uint32_t>(static_cast<unsigned char>(len[1])) << 16) |
                              (static_cast<std::uint32_t>(static_cast<unsigned char>(len[2])) << 8) |
                              static_cast<unsigned char>(len[3]);
      std::string pkt(n, '\0');
      if (n == 0 || !readAll(fd, pkt.data(), n)) {
        trace_.push_back("bad packet");
        break;
      }
      const char code = pkt[0];
      if (code == 'D') {
        trace_.push_back(std::string("D") + pkt[1]);
        continue;
      }
      if (code == 'L' && (protocol_ & smfip::kHdrLeadSpc) == 0) {
        std::string value = pkt.substr(pkt.find('\0') + 1);
        value.pop_back();  // its NUL
        trace_.push_back("L " + value);  // the value shows whether a space was eaten
      } else {
        trace_.push_back(std::string(1, code));
      }
      if (code == 'O') {
        send(fd, 'O', u32(6) + u32(smfif::kAddHdrs | smfif::kChgHdrs) + u32(protocol_));
      } else if (code == 'Q') {
        break;
      } else if (code == 'E') {
        send(fd, 'i', u32(0) + std::string("X-Fake\0 yes\0", 12));
        send(fd, 'c', "");
      } else if (code != 'A' && (protocol_ & nrBit(code)) == 0) {
        send(fd, 'c', "");
      }
    }
    ::close(fd);
  }

  std::uint32_t protocol_;
  std::string path_;
  int listener_ = -1;
  std::vector<std::string> trace_;
  std::thread thread_;
};

// Runs one Postfix-like session (one message, one header, a 3-byte body in 1-byte chunks).
std::vector<std::string> runAgainst(FakeMilter& fake, std::string& reply) {
  Result<Endpoint> where = parseEndpoint(fake.spec());
  EXPECT_TRUE(where.has_value());
  SessionOptions options;
  options.timeout_ms = 2000;  // a wrong wait for a reply fails fast
  Result<Session> s = Session::open(*where, options);
  EXPECT_TRUE(s.has_value());
  if (!s) {
    return {};
  }
  EXPECT_TRUE(s->negotiate().has_value());
  Result<void> g = greet(*s, SmtpClient{});
  EXPECT_TRUE(g.has_value()) << (g ? "" : g.error().describe());
  Message m;
  m.headers = {{"Subject", " hi"}};
  m.body = "x\r\n";
  TransactionOptions t;
  t.chunk = 1;
  Result<TransactionResult> r = sendMessage(*s, m, t);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().describe());
  if (r && r->reply) {
    reply = r->reply->describe();
    for (const Modification& mod : r->modifications) {
      reply += "; " + mod.describe(s->leadingSpace());
    }
  }
  EXPECT_TRUE(s->quit().has_value());
  return fake.trace();
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) {
    out += (out.empty() ? "" : " ") + s;
  }
  return out;
}

TEST(MilterProtocol, HonoursNegotiatedFlags) {
  struct Case {
    const char* name;
    std::uint32_t protocol;
    std::string trace;
  };
  constexpr std::uint32_t kAllNr = smfip::kNrConn | smfip::kNrHelo | smfip::kNrMail |
                                   smfip::kNrRcpt | smfip::kNrHdr | smfip::kNrEoh |
                                   smfip::kNrBody;
  const std::vector<Case> cases = {
      // Every event, every reply awaited. No {i} at MAIL (Postfix's default delay_open).
      {"plain", 0, "O DC C H DM M DR R DT T DL L hi DN N DB B DB B DB B DE E A Q"},
      // mailwarden's agreement: no replies until BODYEOB, no DATA (its macros still go).
      {"mailwarden", kAllNr | smfip::kNoUnknown | smfip::kNoData | smfip::kHdrLeadSpc,
       "O DC C H DM M DR R DT DL L DN N DB B DB B DB B DE E A Q"},
      // Skipped content events are not produced at all, not even their macros.
      {"no content", smfip::kNoHdrs | smfip::kNoEoh | smfip::kNoBody,
       "O DC C H DM M DR R DT T DE E A Q"},
      {"no envelope", smfip::kNoConnect | smfip::kNoHelo | smfip::kNoMail | smfip::kNoRcpt,
       "O DC DM DR DT T DL L hi DN N DB B DB B DB B DE E A Q"},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    FakeMilter fake(tc.protocol);
    std::string reply;
    const std::vector<std::string> trace = runAgainst(fake, reply);
    EXPECT_EQ(join(trace), tc.trace);
    const std::string want_header = (tc.protocol & smfip::kHdrLeadSpc) != 0
                                        ? "insheader 0 X-Fake: yes"
                                        : "insheader 0 X-Fake:  yes";
    EXPECT_EQ(reply, "continue; " + want_header);
  }
}

}  // namespace
}  // namespace mw::testtools
