// Tests of the metrics: section of config/ (issue 19) — off by default, the accepted
// listen forms, and file:line errors for the rest.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mailwarden/config/config.h"
#include "testing.h"

namespace mw::config {
namespace {

using testing::errors;
using testing::loadNoRules;

TEST(MetricsConfig, OffByDefault) {
  const LoadResult r = loadNoRules("", "m.yaml");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.config.metrics.listen.empty());
  EXPECT_EQ(r.config.metrics.port, 0);
}

TEST(MetricsConfig, EmptyListenIsOff) {
  for (const char* text : {"metrics:\n", "metrics:\n  listen:\n", "metrics:\n  listen: \"\"\n"}) {
    const LoadResult r = loadNoRules(text, "m.yaml");
    ASSERT_TRUE(r.ok()) << text;
    EXPECT_TRUE(r.config.metrics.listen.empty()) << text;
  }
}

TEST(MetricsConfig, AcceptedForms) {
  struct Case {
    const char* listen;
    const char* address;
    int port;
  };
  const Case cases[] = {
      {"127.0.0.1:9128", "127.0.0.1", 9128},
      {"0.0.0.0:80", "0.0.0.0", 80},
      {"[::1]:9128", "::1", 9128},
      {"[::]:65535", "::", 65535},
      {"[2001:db8::7]:1", "2001:db8::7", 1},
  };
  for (const Case& c : cases) {
    const LoadResult r =
        loadNoRules(std::string("metrics:\n  listen: \"") + c.listen + "\"\n", "m.yaml");
    ASSERT_TRUE(r.ok()) << c.listen << ": " << (r.errors.empty() ? "" : r.errors[0].describe());
    EXPECT_EQ(r.config.metrics.listen, c.listen);
    EXPECT_EQ(r.config.metrics.address, c.address);
    EXPECT_EQ(r.config.metrics.port, c.port);
  }
}

TEST(MetricsConfig, BadListenIsAnErrorAtItsLine) {
  struct Case {
    const char* listen;
    const char* want;
  };
  const Case cases[] = {
      {"9128", "m.yaml:3: metrics.listen: expected ADDRESS:PORT with an IP address, such as "
               "127.0.0.1:9128 or [::1]:9128"},
      {"localhost:9128", "m.yaml:3: metrics.listen: 'localhost' is not an IPv4 address (host names "
                         "are not accepted: expected ADDRESS:PORT with an IP address, such as "
                         "127.0.0.1:9128 or [::1]:9128)"},
      {"127.0.0.1:0", "m.yaml:3: metrics.listen: port must be between 1 and 65535 (got '0')"},
      {"127.0.0.1:70000",
       "m.yaml:3: metrics.listen: port must be between 1 and 65535 (got '70000')"},
      {"127.0.0.1:", "m.yaml:3: metrics.listen: port must be between 1 and 65535 (got '')"},
      {"::1:9128", "m.yaml:3: metrics.listen: '::1': an IPv6 address goes in brackets, as "
                   "[::1]:9128"},
      {"[127.0.0.1]:9128", "m.yaml:3: metrics.listen: '127.0.0.1' is not an IPv6 address (host "
                           "names are not accepted: expected ADDRESS:PORT with an IP address, "
                           "such as 127.0.0.1:9128 or [::1]:9128)"},
      {"[::1:9128", "m.yaml:3: metrics.listen: expected ADDRESS:PORT with an IP address, such as "
                    "127.0.0.1:9128 or [::1]:9128"},
  };
  for (const Case& c : cases) {
    const LoadResult r = loadNoRules(
        std::string("log:\n  level: info\nmetrics: {listen: \"") + c.listen + "\"}\n", "m.yaml");
    EXPECT_EQ(errors(r), std::vector<std::string>{c.want}) << c.listen;
    EXPECT_TRUE(r.config.metrics.listen.empty()) << c.listen;  // the invalid value is not kept
  }
}

TEST(MetricsConfig, WrongTypeAndUnknownKey) {
  const LoadResult r = loadNoRules("metrics:\n  listen: [1, 2]\n  lisen: x\n", "m.yaml");
  const std::vector<std::string> got = errors(r);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "m.yaml:2: metrics.listen: expected a string");
  EXPECT_EQ(got[1].rfind("m.yaml:3: ", 0), 0u) << got[1];
  EXPECT_NE(got[1].find("unknown key 'lisen'"), std::string::npos) << got[1];
}

}  // namespace
}  // namespace mw::config
