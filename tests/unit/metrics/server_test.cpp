// Unit tests of metrics/server.h (the /metrics endpoint on loopback, a port the kernel
// picks) and of scan/metrics.h (what one message adds to the registry).
#include "mailwarden/metrics/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "mailwarden/obs/counters.h"
#include "mailwarden/scan/metrics.h"
#include "mailwarden/verdict/verdict.h"

namespace mw::metrics {
namespace {

// One HTTP/1.0 exchange with 127.0.0.1:port (or [::1]); the whole answer, "" when the
// connection failed. Bounded: 5 s receive timeout, 1 MB.
std::string httpGet(int port, const std::string& request, bool v6 = false) {
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return "";
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int rc = -1;
  if (v6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<std::uint16_t>(port));
    a.sin6_addr = in6addr_loopback;
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  std::string out;
  if (rc == 0 && ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
                     static_cast<ssize_t>(request.size())) {
    char buf[4096];
    for (int i = 0; i < 1024; ++i) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        break;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

std::string statusLine(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

TEST(MetricsServer, ServesMetricsAndNothingElse) {
  Result<std::unique_ptr<Server>> s = Server::start("127.0.0.1", 0);
  ASSERT_TRUE(s) << s.error().describe();
  const int port = (*s)->port();
  ASSERT_GT(port, 0);
  EXPECT_EQ((*s)->endpoint(), "127.0.0.1:" + std::to_string(port));

  obs::counters().rule_hits.at("SERVER_TEST_RULE").add();
  const std::string ok = httpGet(port, "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(statusLine(ok), "HTTP/1.1 200 OK") << ok.substr(0, 200);
  EXPECT_NE(ok.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos);
  EXPECT_NE(ok.find("\r\n\r\n# HELP mailwarden_messages_total "), std::string::npos);
  EXPECT_NE(ok.find("mailwarden_rule_hits_total{rule=\"SERVER_TEST_RULE\"} "), std::string::npos);

  // HEAD: the headers, no body.
  const std::string head = httpGet(port, "HEAD /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(statusLine(head), "HTTP/1.1 200 OK");
  EXPECT_EQ(head.find("# HELP"), std::string::npos);

  struct Case {
    const char* request;
    const char* status;
  };
  const Case others[] = {
      {"GET / HTTP/1.0\r\n\r\n", "HTTP/1.1 404 Not Found"},
      {"GET /metrics/ HTTP/1.0\r\n\r\n", "HTTP/1.1 404 Not Found"},
      {"GET /metricsx HTTP/1.0\r\n\r\n", "HTTP/1.1 404 Not Found"},
      {"GET /../metrics HTTP/1.0\r\n\r\n", "HTTP/1.1 404 Not Found"},
      {"POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 405 Method Not Allowed"},
      {"DELETE /metrics HTTP/1.0\r\n\r\n", "HTTP/1.1 405 Method Not Allowed"},
  };
  for (const Case& c : others) {
    const std::string r = httpGet(port, c.request);
    EXPECT_EQ(statusLine(r), c.status) << c.request;
    EXPECT_EQ(r.find("# HELP"), std::string::npos) << c.request;
  }
  const std::string post = httpGet(port, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
  EXPECT_NE(post.find("Allow: GET, HEAD\r\n"), std::string::npos);

  // Garbage is answered (400) or dropped; the server keeps serving.
  static_cast<void>(httpGet(port, std::string("\x01\x02\r\n\r\n", 6)));
  EXPECT_EQ(statusLine(httpGet(port, "GET /metrics HTTP/1.0\r\n\r\n")), "HTTP/1.1 200 OK");
}

TEST(MetricsServer, Ipv6Loopback) {
  Result<std::unique_ptr<Server>> s = Server::start("::1", 0);
  if (!s) {
    GTEST_SKIP() << "no IPv6 loopback here: " << s.error().describe();
  }
  EXPECT_EQ((*s)->endpoint(), "[::1]:" + std::to_string((*s)->port()));
  EXPECT_EQ(statusLine(httpGet((*s)->port(), "GET /metrics HTTP/1.0\r\n\r\n", true)),
            "HTTP/1.1 200 OK");
}

TEST(MetricsServer, PortInUseIsAClearError) {
  Result<std::unique_ptr<Server>> first = Server::start("127.0.0.1", 0);
  ASSERT_TRUE(first);
  const int port = (*first)->port();
  Result<std::unique_ptr<Server>> second = Server::start("127.0.0.1", port);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::TempFail);
  EXPECT_EQ(second.error().message,
            "metrics: bind 127.0.0.1:" + std::to_string(port) + ": Address already in use");
  // The first one still serves.
  EXPECT_EQ(statusLine(httpGet(port, "GET /metrics HTTP/1.0\r\n\r\n")), "HTTP/1.1 200 OK");
}

TEST(MetricsServer, StoppedServerFreesThePort) {
  int port = 0;
  {
    Result<std::unique_ptr<Server>> s = Server::start("127.0.0.1", 0);
    ASSERT_TRUE(s);
    port = (*s)->port();
  }
  EXPECT_EQ(httpGet(port, "GET /metrics HTTP/1.0\r\n\r\n"), "");  // refused
  Result<std::unique_ptr<Server>> again = Server::start("127.0.0.1", port);
  EXPECT_TRUE(again) << again.error().describe();
}

TEST(MetricsServer, NotAnAddress) {
  Result<std::unique_ptr<Server>> s = Server::start("localhost", 9128);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::Invalid);
}

TEST(MetricsServer, BuildInfoNamesTheLibraries) {
  recordBuildInfo();
  const auto info = obs::buildInfo();
  ASSERT_EQ(info.size(), 4u);
  EXPECT_EQ(info[0].first, "version");
  EXPECT_EQ(info[1].first, "hyperscan");
  EXPECT_EQ(info[2].first, "opendkim");
  EXPECT_EQ(info[3].first, "openssl");
  for (const auto& [k, v] : info) {
    EXPECT_FALSE(v.empty()) << k;
  }
}

}  // namespace
}  // namespace mw::metrics

namespace mw::scan {
namespace {

// obs/ spells verdict's tokens itself (it sits below verdict/): they must stay equal.
TEST(ScanMetrics, LabelNamesAreVerdictsTokens) {
  for (std::size_t i = 0; i < obs::kCheckNames.size(); ++i) {
    EXPECT_EQ(obs::kCheckNames[i], verdict::toString(static_cast<verdict::Method>(i))) << i;
  }
  for (std::size_t i = 0; i < obs::kResultNames.size(); ++i) {
    EXPECT_EQ(obs::kResultNames[i], verdict::toString(static_cast<verdict::Code>(i))) << i;
  }
  EXPECT_FALSE(verdict::parseMethod("x"));
  EXPECT_EQ(verdict::parseMethod(obs::kCheckNames.back()), verdict::Method::Auth);  // the last one
  for (std::size_t i = 0; i < obs::kBypassReasonNames.size(); ++i) {
    EXPECT_EQ(obs::kBypassReasonNames[i],
              verdict::toString(static_cast<verdict::Bypass::Reason>(i))) << i;
  }
  EXPECT_EQ(verdict::parseCode(obs::kResultNames.back()), verdict::Code::PermError);
}

std::uint64_t checkCount(verdict::Method m, verdict::Code c) {
  return obs::counters().check_results[static_cast<std::size_t>(m)][static_cast<std::size_t>(c)].get();
}

TEST(ScanMetrics, OneMessageCountsEachThingOnce) {
  obs::Counters& c = obs::counters();
  verdict::Verdict v;
  v.action = verdict::Action::Reject;
  v.auth = {{verdict::Method::Spf, verdict::Code::Pass, "", {}},
            {verdict::Method::Dkim, verdict::Code::Fail, "", {}},
            {verdict::Method::Dkim, verdict::Code::Fail, "", {}},  // two signatures
            {verdict::Method::Dmarc, verdict::Code::None, "", {}}};
  v.contributions = {{"SM_RULE_A", 3.0}, {"SM_RULE_B", 20.0}};
  reputation::ListHit listed;
  listed.zone = "sm.list.example";
  listed.result = reputation::ListResult::Listed;
  reputation::ListHit failed = listed;
  failed.result = reputation::ListResult::TempError;
  v.lists = {listed, failed};
  verdict::Findings f;
  f.defects.set(message::Defect::HeaderCountLimit);
  f.defects.set(message::Defect::TooManyParts);
  MessageTimings t;
  t.total = std::chrono::milliseconds(40);
  t.stages = {{"sm-stage", std::chrono::milliseconds(3)}};

  const std::uint64_t rejected = c.rejected.get();
  const std::uint64_t spf_pass = checkCount(verdict::Method::Spf, verdict::Code::Pass);
  const std::uint64_t dkim_fail = checkCount(verdict::Method::Dkim, verdict::Code::Fail);
  const std::uint64_t limits = c.limits_hit.get();
  const std::uint64_t header_count = c.limit_hits[static_cast<std::size_t>(obs::LimitKind::HeaderCount)].get();
  const std::uint64_t parts = c.limit_hits[static_cast<std::size_t>(obs::LimitKind::MimeParts)].get();
  const std::uint64_t messages = c.message_duration.read().count();
  recordMessage(v, f, t, false);
  EXPECT_EQ(c.rejected.get(), rejected + 1);
  EXPECT_EQ(checkCount(verdict::Method::Spf, verdict::Code::Pass), spf_pass + 1);
  EXPECT_EQ(checkCount(verdict::Method::Dkim, verdict::Code::Fail), dkim_fail + 2);
  EXPECT_EQ(c.limits_hit.get(), limits + 1);  // one message, two bounds
  EXPECT_EQ(c.limit_hits[static_cast<std::size_t>(obs::LimitKind::HeaderCount)].get(), header_count + 1);
  EXPECT_EQ(c.limit_hits[static_cast<std::size_t>(obs::LimitKind::MimeParts)].get(), parts + 1);
  EXPECT_EQ(c.list_hits.at("sm.list.example").get(), 1u);  // the temperror is no hit
  EXPECT_EQ(c.rule_hits.at("SM_RULE_A").get(), 1u);
  EXPECT_EQ(c.rule_hits.at("SM_RULE_B").get(), 1u);
  EXPECT_EQ(c.stage_duration.at("sm-stage").read().count(), 1u);
  EXPECT_NEAR(c.stage_duration.at("sm-stage").read().sum, 0.003, 1e-9);
  EXPECT_EQ(c.message_duration.read().count(), messages + 1);
}

TEST(ScanMetrics, TempfailReasons) {
  verdict::Verdict v;
  v.action = verdict::Action::TempFail;
  EXPECT_EQ(tempfailReason(v, false), obs::TempfailReason::Policy);  // a rule's action
  v.failed = true;
  EXPECT_EQ(tempfailReason(v, false), obs::TempfailReason::Internal);
  v.auth = {{verdict::Method::Spf, verdict::Code::TempError, "", {}}};
  EXPECT_EQ(tempfailReason(v, false), obs::TempfailReason::Dns);
  EXPECT_EQ(tempfailReason(v, true), obs::TempfailReason::Internal);  // a stage threw

  const std::uint64_t shutdown = obs::counters().tempfails[static_cast<std::size_t>(obs::TempfailReason::Shutdown)].get();
  recordUnscanned(v, obs::TempfailReason::Shutdown);
  EXPECT_EQ(obs::counters().tempfails[static_cast<std::size_t>(obs::TempfailReason::Shutdown)].get(),
            shutdown + 1);
}

}  // namespace
}  // namespace mw::scan
