// verdict/ — Authentication-Results rendering, authserv-id parsing, decide().
#include "mailwarden/verdict/verdict.h"

#include <gtest/gtest.h>

namespace mw::verdict {
namespace {

TEST(AuthservIdOf, Table) {
  struct Case {
    const char* name;
    const char* value;
    std::optional<std::string> want;
  };
  const Case cases[] = {
      {"plain", "mx.example.org; spf=pass smtp.mailfrom=a@b", "mx.example.org"},
      {"leading space", " mx.example.org; none", "mx.example.org"},
      {"version", "mx.example.org 1; dkim=pass", "mx.example.org"},
      {"comment before", "(forged) mx.example.org; none", "mx.example.org"},
      {"nested comment", "((a)b) mx.example.org (c) ; none", "mx.example.org"},
      {"folded", "\r\n\tmx.example.org;\r\n\tspf=pass", "mx.example.org"},
      {"quoted", "\"mx.example.org\"; none", "mx.example.org"},
      {"quoted with escape", "\"mx\\.example.org\"; none", "mx.example.org"},
      {"no semicolon", "mx.example.org spf=pass", std::nullopt},
      {"empty", "", std::nullopt},
      {"only comment", "(x)", std::nullopt},
      {"unterminated comment", "(x mx.example.org; none", std::nullopt},
      {"unterminated quote", "\"mx.example.org; none", std::nullopt},
      {"empty quoted", "\"\"; none", std::nullopt},
      {"tspecial in token", "mx@example.org; none", std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::optional<std::string> got = authservIdOf(c.value);
    EXPECT_EQ(got, c.want) << "got " << got.value_or("(none)") << " want "
                           << c.want.value_or("(none)");
  }
}

// RFC 8601 §2.7 tokens: every Code and Method is written as its token and read back;
// parsing is case-insensitive and refuses everything else.
TEST(AuthTokens, CodeRoundTrip) {
  struct Case {
    Code code;
    const char* token;
  };
  const Case cases[] = {
      {Code::None, "none"},           {Code::Pass, "pass"},
      {Code::Fail, "fail"},           {Code::SoftFail, "softfail"},
      {Code::Neutral, "neutral"},     {Code::Policy, "policy"},
      {Code::TempError, "temperror"}, {Code::PermError, "permerror"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.token);
    EXPECT_EQ(toString(c.code), c.token);
    EXPECT_EQ(parseCode(c.token), c.code);
    std::string upper = c.token;
    for (char& ch : upper) ch = static_cast<char>(ch - 'a' + 'A');
    EXPECT_EQ(parseCode(upper), c.code) << "got no code for " << upper;
  }
  for (const char* bad : {"", "error", "hardfail", "pass ", " pass", "passx", "temp error"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(parseCode(bad), std::nullopt);
  }
}

TEST(AuthTokens, MethodRoundTrip) {
  struct Case {
    Method method;
    const char* token;
  };
  const Case cases[] = {
      {Method::Spf, "spf"},     {Method::Dkim, "dkim"}, {Method::Dmarc, "dmarc"},
      {Method::Iprev, "iprev"}, {Method::Arc, "arc"},   {Method::Auth, "auth"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.token);
    EXPECT_EQ(toString(c.method), c.token);
    EXPECT_EQ(parseMethod(c.token), c.method);
  }
  EXPECT_EQ(parseMethod("DKIM"), Method::Dkim);
  for (const char* bad : {"", "smtp-auth", "sender-id", "dkim-adsp", "spf2"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(parseMethod(bad), std::nullopt);
  }
}

TEST(AuthTokens, DmarcPolicyTokens) {
  EXPECT_EQ(toString(DmarcPolicy::None), "none");
  EXPECT_EQ(toString(DmarcPolicy::Quarantine), "quarantine");
  EXPECT_EQ(toString(DmarcPolicy::Reject), "reject");
}

TEST(RenderAuthenticationResults, NoResultIsNone) {
  EXPECT_EQ(renderAuthenticationResults("mx.example.org", {}), "mx.example.org; none");
}

// A bypass (issue 19): the comment after the authserv-id names what was not checked
// and why; RFC 8601 §2.2 CFWS, so our own parsers still read the field.
TEST(RenderAuthenticationResults, BypassCommentAfterTheAuthservId) {
  Bypass b;
  b.reason = Bypass::Reason::Authenticated;
  b.checks = {BypassCheck::Spf, BypassCheck::Dmarc};
  EXPECT_EQ(bypassComment(b), "not checked: spf, dmarc; authenticated client");
  b.mode = Bypass::Mode::Score;
  EXPECT_EQ(bypassComment(b), "not enforced: spf, dmarc; authenticated client");
  b.reason = Bypass::Reason::TrustedNetwork;
  b.checks.clear();
  EXPECT_EQ(bypassComment(b), "trusted network");
  EXPECT_TRUE(Bypass{}.skips(BypassCheck::Spf) == false);

  const std::vector<AuthResult> results = {
      {Method::Auth, Code::Pass, "", {{"smtp.auth", "alice"}}},
      {Method::Dkim, Code::None, "", {}},
  };
  const std::string v = renderAuthenticationResults(
      "mx.example.org", results, "not checked: spf, dmarc; authenticated client");
  EXPECT_EQ(v,
            "mx.example.org (not checked: spf, dmarc; authenticated client);\r\n"
            "\tauth=pass smtp.auth=alice;\r\n"
            "\tdkim=none");
  EXPECT_EQ(authservIdOf(v), "mx.example.org");
  EXPECT_TRUE(claimsAuthservId(v, "mx.example.org"));
  const std::optional<ParsedAuthenticationResults> parsed = parseAuthenticationResults(v);
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->results.size(), 2u);
  EXPECT_EQ(parsed->results[0].method, "auth");
  EXPECT_EQ(parsed->results[0].properties[0].second, "alice");
  // A comment cannot end early: parentheses in it are escaped.
  EXPECT_EQ(renderAuthenticationResults("mx", {}, "a) b"), "mx (a\\) b); none");
  EXPECT_EQ(renderAuthenticationResults("mx", {}, ""), "mx; none");
}

TEST(RenderAuthenticationResults, MethodsFoldedOnePerLine) {
  std::vector<AuthResult> results = {
      {Method::Spf, Code::Pass, "", {{"smtp.mailfrom", "alice@example.com"}}},
      {Method::Dkim, Code::Fail, "signature did not verify",
       {{"header.d", "example.com"}, {"header.s", "sel1"}, {"header.a", "rsa-sha256"}}},
      {Method::Dmarc, Code::Pass, "", {{"header.from", "example.com"}, {"policy.dmarc", "reject"}}},
  };
  EXPECT_EQ(renderAuthenticationResults("mx.example.org", results),
            "mx.example.org;\r\n"
            "\tspf=pass smtp.mailfrom=alice@example.com;\r\n"
            "\tdkim=fail (signature did not verify) header.d=example.com header.s=sel1 "
            "header.a=rsa-sha256;\r\n"
            "\tdmarc=pass header.from=example.com policy.dmarc=reject");
}

TEST(RenderAuthenticationResults, QuotesAndEscapes) {
  std::vector<AuthResult> results = {
      {Method::Spf, Code::None, "a (nested) comment\r\n", {{"smtp.mailfrom", "has space@x"}}},
  };
  EXPECT_EQ(renderAuthenticationResults("mx", results),
            "mx;\r\n\tspf=none (a \\(nested\\) comment) smtp.mailfrom=\"has space@x\"");
}

// Issue 16: values from the envelope and DKIM tags (d=, s=, MAIL FROM local parts) carry
// no control character or raw 8-bit byte into the field (RFC 8601 §2.2: value =
// token / quoted-string of RFC 2045, 7-bit): such bytes and '%' are written %XX.
TEST(RenderAuthenticationResults, ControlAnd8BitBytesNeverReachTheField) {
  std::vector<AuthResult> results = {
      {Method::Spf, Code::Fail, "", {{"smtp.mailfrom", "j\xC3\xB6rg@example.com"}}},
      {Method::Dkim, Code::PermError, "bad \x01key\x7F\tin \xFF d=",
       {{"header.d", std::string("ex\0ample.com", 12)}, {"header.s", "s\x1b[31m1"}}},
      {Method::Spf, Code::None, "",
       {{"smtp.mailfrom", "100%@x.example"}, {"smtp.helo", "a\"b\\c d"}}},
  };
  const std::string field = renderAuthenticationResults("mx", results);
  EXPECT_EQ(field,
            "mx;\r\n"
            "\tspf=fail smtp.mailfrom=\"j%C3%B6rg@example.com\";\r\n"
            "\tdkim=permerror (bad %01key%7F%09in %FF d=) header.d=\"ex%00ample.com\" "
            "header.s=\"s%1B[31m1\";\r\n"
            "\tspf=none smtp.mailfrom=100%@x.example smtp.helo=\"a\\\"b\\\\c d\"");
  // Whatever the input: printable ASCII, and CRLF only as our own folding.
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const std::string any = renderAuthenticationResults(
      "mx", {{Method::Dkim, Code::Fail, all, {{"header.d", all}, {"header.s", all}}}});
  std::size_t crlf = 0;
  for (std::size_t i = 0; i < any.size(); ++i) {
    const auto u = static_cast<unsigned char>(any[i]);
    if (any.compare(i, 3, "\r\n\t") == 0) {
      ++crlf;
      i += 2;
      continue;
    }
    EXPECT_TRUE(u >= 0x20 && u < 0x7F) << "byte " << int(u) << " at " << i;
  }
  EXPECT_EQ(crlf, 1u);
}

// A field that claims our authserv-id is ours to remove even when it does not parse
// (issue 16): its first word, once CFWS and an opening quote are skipped.
TEST(ClaimsAuthservId, Table) {
  struct Case {
    const char* value;
    bool want;
  };
  const Case cases[] = {
      {"mx.example.org; spf=pass", true},
      {"MX.Example.ORG 1; none", true},
      {"(c) \"mx.example.org\"; none", true},
      {"other.example; spf=pass", false},
      {"\"mx.example.org\" 1; none", true},
      // Unparsable, but a lenient reader sees our id first:
      {"mx.example.org spf=pass", true},             // no ';'
      {"mx.example.org", true},                      // nothing else
      {"mx.example.org (unterminated; spf=pass", true},
      {"\"mx.example.org; dkim=pass", true},         // unterminated quote
      {"mx.example.org 1.0; dkim=pass", true},        // not a version
      {" (x) mx.example.org\r\n\t", true},
      // Unparsable and not ours:
      {"mx.example.org.evil; spf=pass", false},
      {"(mx.example.org; spf=pass", false},           // all comment
      {"other.example spf=pass mx.example.org", false},
      {"", false},
      // Parses as someone else's, whatever follows:
      {"other.example; spf=pass (mx.example.org)", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value);
    EXPECT_EQ(claimsAuthservId(c.value, "mx.example.org"), c.want);
  }
}

Policy testPolicy() {
  Policy p;
  p.authserv_id = "mx.example.org";
  return p;
}

TEST(ParseAuthenticationResults, ReadsWhatWeAndOthersWrite) {
  // Our own rendering reads back, the override property included.
  std::vector<AuthResult> ours(2);
  ours[0].method = Method::Dkim;
  ours[0].result = Code::Pass;
  ours[0].properties = {{"header.d", "example.com"}, {"header.i", "@example.com"}};
  ours[1].method = Method::Dmarc;
  ours[1].result = Code::Fail;
  ours[1].reason = "p=reject; not enforced: trusted forwarder arc=pass as[1].d=l.example";
  ours[1].properties = {{"header.from", "example.com"}, {"policy.override", "trusted_forwarder"}};
  const auto p = parseAuthenticationResults(renderAuthenticationResults("mx.example", ours));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->authserv_id, "mx.example");
  ASSERT_EQ(p->results.size(), 2u);
  EXPECT_EQ(p->results[0].method, "dkim");
  EXPECT_EQ(p->results[0].result, "pass");
  EXPECT_EQ(p->results[0].properties,
            (std::vector<std::pair<std::string, std::string>>{{"header.d", "example.com"},
                                                              {"header.i", "@example.com"}}));
  EXPECT_EQ(p->results[1].properties[1],
            (std::pair<std::string, std::string>{"policy.override", "trusted_forwarder"}));
  // RFC 8601 Appendix B-like forms: version, comments, reason=, quoted values, method
  // version, CFWS around '=' and '.', a trailing ';'.
  const auto q = parseAuthenticationResults(
      " (c) \"example.net\" 1 ; SPF/1 = Pass (ok) reason=\"good; ok\" smtp . mailfrom = "
      "\"a b\"@example.org;\r\n\tDKIM=fail header.d=x.example (bad);");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->authserv_id, "example.net");
  ASSERT_EQ(q->results.size(), 2u);
  EXPECT_EQ(q->results[0].method, "spf");
  EXPECT_EQ(q->results[0].result, "pass");
  EXPECT_EQ(q->results[0].reason, "good; ok");
  EXPECT_EQ(q->results[0].properties.at(0).first, "smtp.mailfrom");
  EXPECT_EQ(q->results[0].properties.at(0).second, "a b@example.org");
  EXPECT_EQ(q->results[1].properties.at(0).second, "x.example");
  const auto none = parseAuthenticationResults("example.net; none");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->results.empty());
}

TEST(ParseAuthenticationResults, BadInputIsNothing) {
  for (const char* bad : {"", ";", "example.net", "example.net;", "example.net; dkim",
                          "example.net; dkim=", "example.net; dkim=pass header",
                          "example.net; dkim=pass header.d", "example.net; dkim=pass header.d=",
                          "example.net; dkim=pass (unterminated", "example.net; =pass",
                          "example.net; dkim=pass header.d=\"open", "example.net; none extra",
                          "example.net; dkim=pass; ; spf=pass"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(parseAuthenticationResults(bad));
  }
  // Bounded: more results or properties than the limits is nothing, not a partial read.
  std::string many = "example.net";
  for (std::size_t i = 0; i <= kMaxParsedResults; ++i) many += "; dkim=pass";
  EXPECT_FALSE(parseAuthenticationResults(many));
  std::string props = "example.net; dkim=pass";
  for (std::size_t i = 0; i <= kMaxParsedProperties; ++i) props += " header.d=x";
  EXPECT_FALSE(parseAuthenticationResults(props));
}

TEST(Decide, ArcIsRenderedAfterDmarc) {
  Findings f;
  for (const Method m : {Method::Spf, Method::Arc, Method::Dmarc}) {
    AuthResult r;
    r.method = m;
    r.result = Code::Pass;
    f.auth.push_back(r);
  }
  const Verdict v = decide(Policy{}, f);
  ASSERT_EQ(v.auth.size(), 3u);
  EXPECT_EQ(v.auth[0].method, Method::Spf);
  EXPECT_EQ(v.auth[1].method, Method::Dmarc);
  EXPECT_EQ(v.auth[2].method, Method::Arc);
  EXPECT_EQ(toString(PolicyOverride::Type::TrustedForwarder), "trusted_forwarder");
  EXPECT_EQ(toString(PolicyOverride::Type::LocalPolicy), "local_policy");
}

TEST(Decide, CleanMessageGetsHeadersInOrder) {
  const Verdict v = decide(testPolicy(), Findings{});
  EXPECT_EQ(v.action, Action::Accept);
  EXPECT_FALSE(v.reply);
  ASSERT_EQ(v.edits.size(), 4u);
  EXPECT_EQ(v.edits[0].name, "Authentication-Results");
  EXPECT_EQ(v.edits[0].value, "mx.example.org; none");
  EXPECT_EQ(v.edits[1].name, "X-Mailwarden-Verdict");
  EXPECT_EQ(v.edits[1].value, "accept");
  EXPECT_EQ(v.edits[2].name, "X-Mailwarden-Score");
  EXPECT_EQ(v.edits[2].value, "0.00");
  EXPECT_EQ(v.edits[3].name, "X-Mailwarden-Rules");
  EXPECT_EQ(v.edits[3].value, "none");
  for (const HeaderEdit& e : v.edits) {
    EXPECT_EQ(e.kind, HeaderEdit::Kind::Prepend);
  }
}

TEST(Decide, ForgedAuthResRemovedHighestIndexFirstBeforePrepends) {
  Findings f;
  f.forged_authres = {1, 3, 2};
  f.impostors = {{"X-Mailwarden-Verdict", 1}, {"X-Mailwarden-Verdict", 2}};
  const Verdict v = decide(testPolicy(), f);
  ASSERT_GE(v.edits.size(), 5u);
  const std::pair<std::string, int> want[] = {{"Authentication-Results", 3},
                                              {"Authentication-Results", 2},
                                              {"Authentication-Results", 1},
                                              {"X-Mailwarden-Verdict", 2},
                                              {"X-Mailwarden-Verdict", 1}};
  for (std::size_t i = 0; i < 5; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(v.edits[i].kind, HeaderEdit::Kind::Remove);
    EXPECT_EQ(v.edits[i].name, want[i].first);
    EXPECT_EQ(v.edits[i].index, want[i].second) << "got " << v.edits[i].index << " want "
                                                << want[i].second;
  }
  EXPECT_EQ(v.edits[5].kind, HeaderEdit::Kind::Prepend);
}

TEST(Decide, ForgedAuthResKeptWhenRemovalDisabled) {
  Policy p = testPolicy();
  p.headers.remove_forged_authres = false;
  Findings f;
  f.forged_authres = {1};
  const Verdict v = decide(p, f);
  for (const HeaderEdit& e : v.edits) {
    EXPECT_NE(e.kind, HeaderEdit::Kind::Remove);
  }
}

TEST(Decide, Thresholds) {
  struct Case {
    const char* name;
    std::vector<Contribution> hits;
    Action want;
  };
  const Case cases[] = {
      {"below tag", {{"A", 4.99}}, Action::Accept},
      {"at tag", {{"A", 5.0}}, Action::Tag},
      {"summed to quarantine", {{"A", 6.0}, {"B", 4.0}}, Action::Quarantine},
      {"reject", {{"A", 15.0}}, Action::Reject},
      {"negative pulls back", {{"A", 16.0}, {"B", -12.0}}, Action::Accept},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Findings f;
    f.contributions = c.hits;
    const Verdict v = decide(testPolicy(), f);
    EXPECT_EQ(v.action, c.want) << "got " << toString(v.action) << " want " << toString(c.want);
  }
}

TEST(Decide, RulesHeaderSortedAndSummed) {
  Findings f;
  f.contributions = {{"ZETA", 1.0}, {"ALPHA", 2.5}, {"ZETA", 0.5}};
  const Verdict v = decide(testPolicy(), f);
  ASSERT_EQ(v.contributions.size(), 2u);
  EXPECT_EQ(v.contributions[0].rule_id, "ALPHA");
  EXPECT_DOUBLE_EQ(v.contributions[1].score, 1.5);
  EXPECT_EQ(v.edits[3].value, "ALPHA=2.50, ZETA=1.50");
  EXPECT_EQ(v.edits[2].value, "4.00");
}

TEST(Decide, LongRulesHeaderIsFolded) {
  Findings f;
  for (int i = 0; i < 12; ++i) {
    f.contributions.push_back({"SOME_LONG_RULE_NAME_" + std::to_string(10 + i), 0.1});
  }
  const Verdict v = decide(testPolicy(), f);
  const std::string& value = v.edits[3].value;
  std::size_t start = 0;
  std::size_t line_no = 0;
  while (start <= value.size()) {
    const std::size_t end = value.find("\r\n", start);
    const std::string line = value.substr(start, end == std::string::npos ? std::string::npos : end - start);
    const std::size_t prefix = line_no == 0 ? std::string("X-Mailwarden-Rules: ").size() : 0;
    EXPECT_LE(line.size() + prefix, 78u) << line;
    if (end == std::string::npos) {
      break;
    }
    start = end + 2;
    ++line_no;
  }
  EXPECT_GT(line_no, 0u);
}

TEST(Decide, FailureFollowsPolicy) {
  Findings f;
  f.failure = "dns timeout";
  const Verdict tf = decide(testPolicy(), f);
  EXPECT_EQ(tf.action, Action::TempFail);
  ASSERT_TRUE(tf.reply);
  EXPECT_EQ(tf.reply->code, 451);
  EXPECT_EQ(tf.reply->enhanced, "4.7.1");
  EXPECT_TRUE(tf.edits.empty());

  Policy accept = testPolicy();
  accept.on_failure = Action::Accept;
  const Verdict ac = decide(accept, f);
  EXPECT_EQ(ac.action, Action::Accept);
  EXPECT_TRUE(ac.failed);
  EXPECT_EQ(ac.edits[1].value, "accept (not fully evaluated: dns timeout)");
}

TEST(Decide, ForcedRejectUsesItsReplySanitised) {
  Findings f;
  f.forced = Action::Reject;
  f.forced_reply = SmtpReply{550, "5.7.1", "Rejected: 100% spam\r\nInjected: line"};
  const Verdict v = decide(testPolicy(), f);
  EXPECT_EQ(v.action, Action::Reject);
  ASSERT_TRUE(v.reply);
  EXPECT_EQ(v.reply->text, "Rejected: 100 spam  Injected: line");
}

TEST(Decide, QuarantineCarriesReason) {
  Findings f;
  f.forced = Action::Quarantine;
  const Verdict v = decide(testPolicy(), f);
  EXPECT_EQ(v.action, Action::Quarantine);
  EXPECT_EQ(v.quarantine_reason, "held by mailwarden");
  EXPECT_FALSE(v.reply);
}

TEST(Decide, SpamHeaders) {
  Policy p = testPolicy();
  p.headers.spam_headers = true;
  Findings f;
  f.contributions = {{"A", 6.0}};
  const Verdict v = decide(p, f);
  ASSERT_EQ(v.edits.size(), 6u);
  EXPECT_EQ(v.edits[4].name, "X-Spam-Flag");
  EXPECT_EQ(v.edits[4].value, "YES");
  EXPECT_EQ(v.edits[5].value, "Yes, score=6.00 required=5.00 tests=A");
}

TEST(Decide, SameInputSameBytes) {
  Findings f;
  f.contributions = {{"B", 1.0}, {"A", 2.0}};
  f.forged_authres = {2, 1};
  f.auth = {{Method::Spf, Code::Pass, "", {{"smtp.mailfrom", "x@y"}}}};
  const Verdict a = decide(testPolicy(), f);
  const Verdict b = decide(testPolicy(), f);
  ASSERT_EQ(a.edits.size(), b.edits.size());
  for (std::size_t i = 0; i < a.edits.size(); ++i) {
    EXPECT_EQ(a.edits[i].name, b.edits[i].name);
    EXPECT_EQ(a.edits[i].value, b.edits[i].value);
    EXPECT_EQ(a.edits[i].index, b.edits[i].index);
  }
}

TEST(FormatScore, Table) {
  EXPECT_EQ(formatScore(0), "0.00");
  EXPECT_EQ(formatScore(-0.001), "0.00");
  EXPECT_EQ(formatScore(5.125), "5.12");
  EXPECT_EQ(formatScore(-1.5), "-1.50");
}

TEST(ParseAction, RoundTrip) {
  for (const Action a : {Action::Accept, Action::Tag, Action::Quarantine, Action::TempFail,
                         Action::Reject}) {
    Action got = Action::Accept;
    ASSERT_TRUE(parseAction(toString(a), got));
    EXPECT_EQ(got, a);
  }
  Action ignored = Action::Accept;
  EXPECT_FALSE(parseAction("discard", ignored));
}

}  // namespace
}  // namespace mw::verdict
