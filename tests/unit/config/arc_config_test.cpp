// Tests of the arc: section of config/ — defaults, every key, IDNA, and file:line errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mailwarden/config/config.h"
#include "testing.h"

namespace mw::config {
namespace {

using testing::errors;
using testing::loadNoRules;

TEST(ArcConfig, DefaultsVerifyTrustNobodyAndDoNotSeal) {
  const LoadResult r = loadNoRules("", "a.yaml");
  ASSERT_TRUE(r.ok());
  const ArcOptions& o = r.config.arc;
  EXPECT_TRUE(o.enabled);
  EXPECT_TRUE(o.trusted_sealers.empty());
  EXPECT_TRUE(o.trusted_zone.empty());
  EXPECT_FALSE(o.seal.has_value());
  EXPECT_DOUBLE_EQ(o.fail_score, 0.5);
}

TEST(ArcConfig, EveryKey) {
  const LoadResult r = loadNoRules(
      "arc:\n"
      "  enabled: false\n"
      "  trusted_sealers: [Lists.Example.ORG, forwarder.example, \"bücher.example\"]\n"
      "  trusted_zone: ARC-Trust.example\n"
      "  seal:\n"
      "    domain: Example.NET\n"
      "    selector: arc2026\n"
      "    key_file: keys/arc.key\n"
      "  pass_score: -1\n"
      "  fail_score: 2\n"
      "  trusted_score: -0.5\n",
      "/etc/mw/a.yaml");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  const ArcOptions& o = r.config.arc;
  EXPECT_FALSE(o.enabled);
  EXPECT_EQ(o.trusted_sealers, (std::vector<std::string>{"lists.example.org", "forwarder.example",
                                                         "xn--bcher-kva.example"}));
  EXPECT_EQ(o.trusted_zone, "arc-trust.example");
  ASSERT_TRUE(o.seal.has_value());
  EXPECT_EQ(o.seal->domain, "example.net");
  EXPECT_EQ(o.seal->selector, "arc2026");
  EXPECT_EQ(o.seal->key_file, "/etc/mw/keys/arc.key");  // relative to the file's folder
  // Key and DNS errors found later (Snapshot::build, configtest) point at `seal:`.
  EXPECT_EQ(o.seal->where.file, "/etc/mw/a.yaml");
  EXPECT_EQ(o.seal->where.line, 5);
  EXPECT_DOUBLE_EQ(o.pass_score, -1);
  EXPECT_DOUBLE_EQ(o.fail_score, 2);
  EXPECT_DOUBLE_EQ(o.trusted_score, -0.5);
}

TEST(ArcConfig, EmptyKeysMeanNone) {
  const LoadResult r = loadNoRules("arc:\n  trusted_sealers:\n  trusted_zone:\n  seal:\n", "a.yaml");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  EXPECT_TRUE(r.config.arc.trusted_sealers.empty());
  EXPECT_TRUE(r.config.arc.trusted_zone.empty());
  EXPECT_FALSE(r.config.arc.seal.has_value());
}

TEST(ArcConfig, ErrorsWithFileAndLine) {
  const LoadResult r = loadNoRules(
      "arc:\n"
      "  enabled: yes\n"
      "  trusted_sealers: [ok.example, \"bad domain\", [x]]\n"
      "  trusted_zone: 127.0.0.1/8\n"
      "  seal:\n"
      "    domain: example.net\n"
      "    selectr: arc\n"
      "  fail_score: 5000\n"
      "  trusted: 1\n",
      "a.yaml");
  const std::vector<std::string> want = {
      "a.yaml:2: arc.enabled: expected a boolean (true/false)",
      "a.yaml:3: arc.trusted_sealers[1]: must be a domain name such as example.org (letters, "
      "digits, '-', '_' and '.')",
      "a.yaml:3: arc.trusted_sealers[2]: expected a string",
      "a.yaml:4: arc.trusted_zone: must be a domain name such as example.org (letters, digits, "
      "'-', '_' and '.')",
      "a.yaml:6: arc.seal: missing selector (seal needs domain, selector and key_file)",
      "a.yaml:6: arc.seal: missing key_file (seal needs domain, selector and key_file)",
      "a.yaml:7: arc.seal: unknown key 'selectr' (did you mean 'selector'?)",
      "a.yaml:8: arc.fail_score: must be between -1000 and 1000",
      "a.yaml:9: arc: unknown key 'trusted'",
  };
  EXPECT_EQ(errors(r), want);
  EXPECT_TRUE(r.config.arc.enabled);  // invalid settings keep the default
  EXPECT_TRUE(r.config.arc.trusted_sealers.empty());
  EXPECT_FALSE(r.config.arc.seal.has_value());
}

}  // namespace
}  // namespace mw::config
