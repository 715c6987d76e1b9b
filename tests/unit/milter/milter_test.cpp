// milter/ — the socket helpers around libmilter, and reply texts as smfi_setreply takes them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "milter/reply.h"
#include "milter/socket.h"

namespace mw::milter {
namespace {

TEST(UnixSocketPath, Table) {
  struct Case {
    const char* spec;
    std::optional<std::string> want;
  };
  const Case cases[] = {
      {"unix:/run/mailwarden/milter.sock", "/run/mailwarden/milter.sock"},
      {"local:/var/spool/postfix/mw.sock", "/var/spool/postfix/mw.sock"},
      {"/tmp/bare.sock", "/tmp/bare.sock"},
      {"inet:8891@127.0.0.1", std::nullopt},
      {"inet6:8891@::1", std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.spec);
    EXPECT_EQ(unixSocketPath(c.spec), c.want);
  }
}

// The Nagle fix relies on Linux copying TCP_NODELAY from a listening socket to the
// connections it accepts; this proves both our /proc scan and that inheritance.
TEST(SetNoDelayOnListeners, AcceptedConnectionsInheritNoDelay) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);

  EXPECT_GE(setNoDelayOnListeners(), 1);

  const int client = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const int accepted = accept(listener, nullptr, nullptr);
  ASSERT_GE(accepted, 0);
  int nodelay = 0;
  len = sizeof nodelay;
  ASSERT_EQ(getsockopt(accepted, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
  EXPECT_NE(nodelay, 0);
  close(accepted);
  close(client);
  close(listener);
}

// smfi_setreply refuses a text over 980 bytes (MAXREPLYLEN in libmilter/smfi.c) or with
// CR/LF; the MTA formats '%'. The cut never splits a UTF-8 sequence.
TEST(FitReplyText, CutsOnUtf8BoundaryAndCleans) {
  EXPECT_EQ(fitReplyText("Message rejected"), "Message rejected");
  EXPECT_EQ(fitReplyText("a\r\nb\tc%d"), "a  b cd");
  EXPECT_EQ(fitReplyText(std::string("nul\0in", 6)), "nul in");
  EXPECT_EQ(fitReplyText(std::string(980, 'x')).size(), 980u);
  EXPECT_EQ(fitReplyText(std::string(5000, 'x')), std::string(980, 'x'));
  // "é" is 2 bytes: 979 ASCII then é would end at byte 981: the whole é goes.
  EXPECT_EQ(fitReplyText(std::string(979, 'x') + "\xC3\xA9tail"), std::string(979, 'x'));
  // A 4-byte sequence starting at each offset around the limit.
  const std::string emoji = "\xF0\x9F\x98\x80";
  for (std::size_t lead = 975; lead <= 980; ++lead) {
    SCOPED_TRACE(lead);
    const std::string out = fitReplyText(std::string(lead, 'x') + emoji + "yyyy");
    EXPECT_LE(out.size(), kMaxReplyText);
    // The emoji fits (then 'y's up to the limit) or goes whole.
    const bool fits = lead + 4 <= kMaxReplyText;
    EXPECT_EQ(out.size(), fits ? kMaxReplyText : lead);
    EXPECT_EQ(out.substr(0, lead), std::string(lead, 'x'));
    if (fits) {
      EXPECT_EQ(out.substr(lead, 4), emoji);
    }
  }
  // Not UTF-8 at all (continuation bytes only): cut at the byte limit.
  EXPECT_EQ(fitReplyText(std::string(2000, '\x80')).size(), 980u);
  // '%' removed before the cut: the text is still as long as allowed.
  EXPECT_EQ(fitReplyText(std::string(10, '%') + std::string(990, 'y')), std::string(980, 'y'));
}

TEST(ReplyCodes, WhatSmfiSetreplyAccepts) {
  EXPECT_TRUE(acceptableReplyCode(451));
  EXPECT_TRUE(acceptableReplyCode(550));
  EXPECT_FALSE(acceptableReplyCode(250));
  EXPECT_FALSE(acceptableReplyCode(600));
  EXPECT_TRUE(acceptableEnhancedCode("4.7.1", 451));
  EXPECT_TRUE(acceptableEnhancedCode("5.123.456", 550));
  EXPECT_FALSE(acceptableEnhancedCode("5.7.1", 451));   // class differs from the code
  EXPECT_FALSE(acceptableEnhancedCode("4.7", 451));
  EXPECT_FALSE(acceptableEnhancedCode("4.7.1 ", 451));
  EXPECT_FALSE(acceptableEnhancedCode("4.1234.1", 451));
  EXPECT_FALSE(acceptableEnhancedCode("", 451));
}

}  // namespace
}  // namespace mw::milter
