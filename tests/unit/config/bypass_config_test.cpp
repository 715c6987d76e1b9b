// Tests of the bypass: section of config/ (issue 19, point 3) — defaults, the accepted
// forms, and file:line errors for the rest.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mailwarden/config/config.h"
#include "testing.h"

namespace mw::config {
namespace {

using testing::errors;
using testing::loadNoRules;
using verdict::BypassCheck;

TEST(BypassConfig, Defaults) {
  const LoadResult r = loadNoRules("", "b.yaml");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.config.bypass.trusted_networks.empty());
  EXPECT_TRUE(r.config.bypass.networks.empty());
  EXPECT_EQ(r.config.bypass.authenticated, AuthenticatedMode::Skip);
  const std::vector<BypassCheck> all = {BypassCheck::Spf, BypassCheck::Iprev, BypassCheck::Lists,
                                        BypassCheck::Dmarc};
  EXPECT_EQ(r.config.bypass.skip, all);
}

TEST(BypassConfig, AcceptedForms) {
  const LoadResult r = loadNoRules(
      "bypass:\n"
      "  trusted_networks: [192.0.2.0/24, \"2001:db8::/32\", 198.51.100.7, \"::1\"]\n"
      "  authenticated: score\n"
      "  skip: [dmarc, spf]\n",
      "b.yaml");
  ASSERT_TRUE(r.ok()) << errors(r)[0];
  const BypassOptions& b = r.config.bypass;
  ASSERT_EQ(b.trusted_networks.size(), 4u);
  ASSERT_EQ(b.networks.size(), 4u);
  EXPECT_EQ(b.trusted_networks[1], "2001:db8::/32");
  EXPECT_TRUE(net::contains(b.networks[0], "192.0.2.200"));
  EXPECT_TRUE(net::contains(b.networks[1], "2001:db8:ffff::1"));
  EXPECT_TRUE(net::contains(b.networks[2], "198.51.100.7"));
  EXPECT_FALSE(net::contains(b.networks[2], "198.51.100.8"));
  EXPECT_EQ(b.authenticated, AuthenticatedMode::Score);
  // Kept in a fixed order whatever the file's.
  const std::vector<BypassCheck> want = {BypassCheck::Spf, BypassCheck::Dmarc};
  EXPECT_EQ(b.skip, want);

  const LoadResult c = loadNoRules("bypass:\n  authenticated: check\n  skip: []\n", "b.yaml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.config.bypass.authenticated, AuthenticatedMode::Check);
  EXPECT_TRUE(c.config.bypass.skip.empty());
  EXPECT_TRUE(loadNoRules("bypass:\n", "b.yaml").ok());  // an empty section: the defaults
}

TEST(BypassConfig, ErrorsAtTheirLine) {
  struct Case {
    const char* name;
    const char* yaml;
    std::vector<std::string> want;
  };
  const Case cases[] = {
      {"bad prefix",
       "bypass:\n  trusted_networks:\n    - 192.0.2.0/24\n    - 192.0.2.0/33\n",
       {"b.yaml:4: bypass.trusted_networks[1]: prefix length 33 is larger than 32"}},
      {"not an address",
       "bypass:\n  trusted_networks: [mail.example.org]\n",
       {"b.yaml:2: bypass.trusted_networks[0]: 'mail.example.org' is not an IPv4 or IPv6 "
        "address"}},
      {"v6 prefix", "bypass:\n  trusted_networks: [\"2001:db8::/129\"]\n",
       {"b.yaml:2: bypass.trusted_networks[0]: prefix length 129 is larger than 128"}},
      {"not a list", "bypass:\n  trusted_networks: 192.0.2.0/24\n",
       {"b.yaml:2: bypass.trusted_networks: expected a list"}},
      {"mode", "\nbypass:\n  authenticated: yes\n",
       {"b.yaml:3: bypass.authenticated: unknown value 'yes' (expected skip, score or check)"}},
      {"skip word", "bypass:\n  skip: [spf, dkim]\n",
       {"b.yaml:2: bypass.skip[1]: unknown value 'dkim' (expected spf, iprev, lists or dmarc)"}},
      {"skip twice", "bypass:\n  skip:\n    - spf\n    - lists\n    - spf\n",
       {"b.yaml:5: bypass.skip[2]: 'spf' is listed twice"}},
      {"unknown key", "bypass:\n  trusted_network: []\n",
       {"b.yaml:2: bypass: unknown key 'trusted_network' (did you mean 'trusted_networks'?)"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const LoadResult r = loadNoRules(c.yaml, "b.yaml");
    EXPECT_EQ(errors(r), c.want);
    // An invalid list keeps the default, never half of the file's.
    EXPECT_TRUE(r.config.bypass.trusted_networks.empty());
  }
}

}  // namespace
}  // namespace mw::config
