// milter/ — the socket helpers around libmilter.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace mw::milter
