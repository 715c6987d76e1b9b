// Tests of reputation/lists.h over a ZoneResolver: RFC 5782 keys (IPv4, IPv6 nibbles,
// mapped addresses, domains, IDN, URL hosts), hashing, answer classes, blocked answers
// and the pause, temperror, and the §5 test points.
#include "mailwarden/reputation/lists.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "mailwarden/dns/zone.h"
#include "mailwarden/obs/counters.h"

namespace mw::reputation {
namespace {

// A clock the test sets (the pause is driven by it, never by the wall clock).
class SetClock final : public Clock {
 public:
  std::int64_t now() const noexcept override { return t_.load(); }
  void set(std::int64_t t) noexcept { t_.store(t); }

 private:
  std::atomic<std::int64_t> t_{1700000000};
};

// A resolver that counts the names asked (to prove a paused list is not asked).
class CountingResolver final : public dns::Resolver {
 public:
  explicit CountingResolver(dns::Resolver& inner) : inner_(inner) {}
  dns::Answer query(std::string_view name, dns::Type type, const dns::Budget& budget) override {
    asked.emplace_back(name);
    return inner_.query(name, type, budget);
  }
  std::vector<std::string> asked;

 private:
  dns::Resolver& inner_;
};

AnswerClass codes(std::string symbol, std::vector<std::string> texts, double score) {
  AnswerClass c;
  c.symbol = std::move(symbol);
  c.score = score;
  for (const std::string& t : texts) {
    auto p = parseCode(t);
    EXPECT_TRUE(p) << t;
    c.codes.push_back(*p);
  }
  return c;
}

AnswerClass bits(std::string symbol, std::uint8_t mask, double score) {
  AnswerClass c;
  c.symbol = std::move(symbol);
  c.score = score;
  c.bits = mask;
  return c;
}

ListOptions zen() {
  ListOptions l;
  l.zone = "zen.example";
  l.lookups = {Key::ClientIp};
  l.pause_seconds = 300;
  l.answers.push_back(codes("RBL_ZEN_SBL", {"127.0.0.2", "127.0.0.3", "127.0.0.9"}, 6));
  AnswerClass xbl = codes("RBL_ZEN_XBL", {"127.0.0.4..127.0.0.7"}, 5);
  xbl.action = Action::Reject;
  xbl.reply = "Listed at zen.example";
  l.answers.push_back(xbl);
  l.answers.push_back(codes("RBL_ZEN_PBL", {"127.0.0.[10..11]"}, 1));
  return l;
}

ListOptions dbl() {
  ListOptions l;
  l.zone = "dbl.example";
  l.lookups = {Key::Helo, Key::MailFrom, Key::From, Key::Dkim, Key::Url};
  l.answers.push_back(codes("DBL_SPAM", {"127.0.1.2"}, 4));
  return l;
}

ListOptions multi() {
  ListOptions l;
  l.zone = "multi.example";
  l.lookups = {Key::Url};
  l.answers.push_back(bits("SURBL_PH", 8, 4));
  l.answers.push_back(bits("SURBL_MW", 16, 5));
  l.answers.push_back(bits("SURBL_ABUSE", 64, 3));
  return l;
}

class ListsTest : public ::testing::Test {
 protected:
  std::shared_ptr<const Lists> make(std::vector<ListOptions> lists, int max_url_hosts = 20) {
    Options o;
    o.lists = std::move(lists);
    o.max_url_hosts = max_url_hosts;
    auto made = Lists::create(o, clock_);
    EXPECT_TRUE(made) << made.error().describe();
    return *made;
  }

  void load(const std::string& text) {
    const Result<void> r = zone_.loadText(text, "lists.zone");
    ASSERT_TRUE(r) << r.error().describe();
  }

  std::vector<std::string> symbols(const ListHit& h) {
    std::vector<std::string> out;
    for (const Listing& l : h.classes) {
      out.push_back(l.symbol);
    }
    return out;
  }

  std::shared_ptr<SetClock> clock_ = std::make_shared<SetClock>();
  dns::ZoneResolver zone_;
  dns::Budget budget_ = dns::Budget::unlimited();
};

TEST(Keys, ReversedAddresses) {
  struct Case {
    const char* in;
    const char* want;  // "" = not an address
  };
  const std::vector<Case> cases = {
      {"192.0.2.1", "1.2.0.192"},
      {"127.0.0.2", "2.0.0.127"},
      // RFC 5782 §2.4's example
      {"2001:db8:1:2:3:4:567:89ab",
       "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2"},
      {"2001:DB8::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"},
      {"::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"},
      {"::ffff:192.0.2.1", "1.2.0.192"},
      {"::FFFF:c000:0201", "1.2.0.192"},
      {"", ""},
      {"192.0.2", ""},
      {"192.0.2.256", ""},
      {"example.org", ""},
      {"[192.0.2.1]", ""},
      {"2001:db8::1%eth0", ""},
  };
  for (const Case& tc : cases) {
    const std::optional<std::string> got = reversedAddress(tc.in);
    EXPECT_EQ(got.value_or(""), tc.want) << tc.in;
  }
  EXPECT_EQ(canonicalAddress("::FFFF:192.0.2.1").value_or(""), "192.0.2.1");
  EXPECT_EQ(canonicalAddress("2001:DB8:0:0::1").value_or(""), "2001:db8::1");
}

TEST(Keys, Domains) {
  struct Case {
    const char* in;
    const char* want;  // "" = not looked up
  };
  const std::vector<Case> cases = {
      {"Example.ORG", "example.org"},
      {"mail.example.org.", "mail.example.org"},
      {"bücher.example", "xn--bcher-kva.example"},
      {"XN--BCHER-KVA.example", "xn--bcher-kva.example"},
      {"faß.de", "xn--fa-hia.de"},
      {"localhost", ""},
      {"[192.0.2.1]", ""},
      {"192.0.2.1", ""},
      {"2001:db8::1", ""},
      {"", ""},
      {"a..b", ""},
      {"exa mple.org", ""},
      {"\xff.example", ""},
  };
  for (const Case& tc : cases) {
    EXPECT_EQ(normalizeDomain(tc.in).value_or(""), tc.want) << tc.in;
  }
}

TEST(Keys, HashesAreLowerCaseHexDigests) {
  // FIPS 180 / RFC 1321 test vectors of "abc".
  EXPECT_EQ(hashKey(Hash::Md5, "abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(hashKey(Hash::Sha1, "abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(hashKey(Hash::Sha256, "abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hashKey(Hash::None, "abc"), "abc");
}

TEST_F(ListsTest, ClientIpListedWithItsClass) {
  load("2.0.0.127.zen.example. A 127.0.0.2\n"
       "1.2.0.192.zen.example. A 127.0.0.4\n"
       "1.2.0.192.zen.example. A 127.0.0.10\n");
  auto lists = make({zen()});
  {
    Lists::Message m = lists->start(zone_, budget_);
    m.clientIp("192.0.2.1");
    const std::vector<ListHit> hits = m.collect();
    ASSERT_EQ(hits.size(), 1u);
    const ListHit& h = hits[0];
    EXPECT_EQ(h.zone, "zen.example");
    EXPECT_EQ(h.key, Key::ClientIp);
    EXPECT_EQ(h.lookup, "192.0.2.1");
    EXPECT_EQ(h.query, "1.2.0.192.zen.example");
    EXPECT_EQ(h.codes, (std::vector<std::string>{"127.0.0.4", "127.0.0.10"}));
    EXPECT_EQ(h.result, ListResult::Listed);
    // Two records, two classes, in configuration order; the action and reply come along.
    EXPECT_EQ(symbols(h), (std::vector<std::string>{"RBL_ZEN_XBL", "RBL_ZEN_PBL"}));
    ASSERT_TRUE(h.classes[0].action);
    EXPECT_EQ(*h.classes[0].action, Action::Reject);
    EXPECT_EQ(h.classes[0].reply, "Listed at zen.example");
    EXPECT_DOUBLE_EQ(h.classes[0].score, 5);
  }
  {
    Lists::Message m = lists->start(zone_, budget_);
    m.clientIp("::ffff:127.0.0.2");  // mapped: asked as IPv4
    const std::vector<ListHit> hits = m.collect();
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].query, "2.0.0.127.zen.example");
    EXPECT_EQ(hits[0].lookup, "127.0.0.2");
    EXPECT_EQ(symbols(hits[0]), (std::vector<std::string>{"RBL_ZEN_SBL"}));
  }
  {
    Lists::Message m = lists->start(zone_, budget_);
    m.clientIp("198.51.100.1");  // NXDOMAIN: not listed, nothing reported
    m.clientIp("not an address");
    EXPECT_EQ(m.started(), 1u);
    EXPECT_TRUE(m.collect().empty());
  }
}

TEST_F(ListsTest, Ipv6ClientIsAskedByNibbles) {
  load("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.example. A "
       "127.0.0.3\n");
  auto lists = make({zen()});
  Lists::Message m = lists->start(zone_, budget_);
  m.clientIp("2001:db8:0::1");
  const std::vector<ListHit> hits = m.collect();
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].lookup, "2001:db8::1");
  EXPECT_EQ(symbols(hits[0]), (std::vector<std::string>{"RBL_ZEN_SBL"}));
}

TEST_F(ListsTest, DomainKeysOnlyOnListsThatAskForThem) {
  load("spam.example.dbl.example. A 127.0.1.2\n"
       "xn--bcher-kva.example.dbl.example. A 127.0.1.2\n");
  auto lists = make({zen(), dbl()});
  Lists::Message m = lists->start(zone_, budget_);
  m.helo("SPAM.example.");
  m.mailFrom("spam.example");  // the same name on the same list: asked once
  m.from("bücher.example");
  m.dkimDomain("clean.example");
  m.mailFrom("");              // the null sender: nothing
  m.helo("[192.0.2.1]");       // an address literal: nothing
  EXPECT_EQ(m.started(), 3u);
  const std::vector<ListHit> hits = m.collect();
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].key, Key::Helo);
  EXPECT_EQ(hits[0].lookup, "spam.example");
  EXPECT_EQ(hits[0].query, "spam.example.dbl.example");
  EXPECT_EQ(hits[1].key, Key::From);
  EXPECT_EQ(hits[1].query, "xn--bcher-kva.example.dbl.example");
  EXPECT_EQ(symbols(hits[1]), (std::vector<std::string>{"DBL_SPAM"}));
  EXPECT_TRUE(m.collect().empty());  // collected already
}

TEST_F(ListsTest, UrlHostsNormalisedDeduplicatedAndCapped) {
  auto lists = make({multi()}, 3);
  CountingResolver counting(zone_);
  Lists::Message m = lists->start(counting, budget_);
  for (const char* host : {"A.example.", "a.example", "A.EXAMPLE", "b.example:8080",
                           "192.0.2.1", "[2001:db8::1]", "b.example", "c.example",
                           "d.example", "c.example"}) {
    m.urlHost(host);
  }
  EXPECT_EQ(counting.asked, (std::vector<std::string>{"a.example.multi.example",
                                                      "b.example.multi.example",
                                                      "c.example.multi.example"}));
  m.collect();
  // With 0 no URL host is looked up.
  auto none = make({multi()}, 0);
  CountingResolver counting0(zone_);
  Lists::Message m0 = none->start(counting0, budget_);
  m0.urlHost("a.example");
  EXPECT_TRUE(counting0.asked.empty());
}

TEST_F(ListsTest, BitsHitSeveralClasses) {
  load("ph-mw.example.multi.example. A 127.0.0.24\n"    // 8 | 16
       "abuse.example.multi.example. A 127.0.0.64\n"
       "other.example.multi.example. A 127.0.0.2\n");  // bit 2: no class
  auto lists = make({multi()});
  Lists::Message m = lists->start(zone_, budget_);
  m.urlHost("ph-mw.example");
  m.urlHost("abuse.example");
  m.urlHost("other.example");
  const std::vector<ListHit> hits = m.collect();
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(symbols(hits[0]), (std::vector<std::string>{"SURBL_PH", "SURBL_MW"}));
  EXPECT_EQ(symbols(hits[1]), (std::vector<std::string>{"SURBL_ABUSE"}));
  EXPECT_EQ(hits[2].result, ListResult::Blocked);
  EXPECT_EQ(hits[2].why, "answer 127.0.0.2 matches no configured class");
}

TEST_F(ListsTest, HashedListAsksTheDigest) {
  ListOptions l = dbl();
  l.zone = "hashed.example";
  l.hash = Hash::Sha1;
  l.answers = {codes("HASHED_X", {"127.0.0.2"}, 1)};
  // sha1("spam.example")
  const std::string digest = hashKey(Hash::Sha1, "spam.example");
  ASSERT_EQ(digest.size(), 40u);
  load(digest + ".hashed.example. A 127.0.0.2\n");
  auto lists = make({l});
  Lists::Message m = lists->start(zone_, budget_);
  m.helo("spam.example");
  const std::vector<ListHit> hits = m.collect();
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].lookup, "spam.example");
  EXPECT_EQ(hits[0].query, digest + ".hashed.example");
  EXPECT_EQ(symbols(hits[0]), (std::vector<std::string>{"HASHED_X"}));
}

TEST_F(ListsTest, TooLongQueryNameIsSkipped) {
  ListOptions l = dbl();
  l.zone = std::string(60, 'z') + "." + std::string(60, 'z') + "." + std::string(60, 'z');
  auto lists = make({l});
  CountingResolver counting(zone_);
  Lists::Message m = lists->start(counting, budget_);
  m.helo(std::string(63, 'a') + ".example.example");  // 79 + 1 + 182 > 253
  m.helo("short.example");
  EXPECT_EQ(counting.asked.size(), 1u);
}

TEST_F(ListsTest, ErrorAnswersAreBlockedNeverListed) {
  load("1.2.0.192.zen.example. A 127.255.255.254\n"
       "2.2.0.192.zen.example. A 127.0.0.99\n"
       "3.2.0.192.zen.example. A 192.0.2.80\n"
       "4.2.0.192.zen.example. A 127.0.0.2\n"
       "4.2.0.192.zen.example. A 127.255.255.252\n");
  struct Case {
    const char* ip;
    const char* why;
  };
  const std::vector<Case> cases = {
      {"192.0.2.1",
       "answer 127.255.255.254 is an error code (query refused, public resolver or over the "
       "limit)"},
      {"192.0.2.2", "answer 127.0.0.99 matches no configured class"},
      {"192.0.2.3", "answer 192.0.2.80 is outside 127.0.0.0/8"},
      // one error record among listings: the whole lookup is blocked
      {"192.0.2.4",
       "answer 127.255.255.252 is an error code (query refused, public resolver or over the "
       "limit)"},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.ip);
    ListOptions l = zen();
    l.pause_seconds = 0;  // each case asks again
    auto lists = make({l});
    const std::uint64_t before = obs::counters().list_errors.get();
    Lists::Message m = lists->start(zone_, budget_);
    m.clientIp(tc.ip);
    const std::vector<ListHit> hits = m.collect();
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].result, ListResult::Blocked);
    EXPECT_TRUE(hits[0].classes.empty());
    EXPECT_EQ(hits[0].why, tc.why);
    EXPECT_EQ(obs::counters().list_errors.get(), before + 1);
  }
}

TEST_F(ListsTest, BlockedAnswerPausesTheListForEveryMessage) {
  load("1.2.0.192.zen.example. A 127.255.255.254\n"
       "2.0.0.127.zen.example. A 127.0.0.2\n");
  auto lists = make({zen(), dbl()});
  CountingResolver counting(zone_);
  {
    Lists::Message m = lists->start(counting, budget_);
    m.clientIp("192.0.2.1");
    ASSERT_EQ(m.collect().size(), 1u);
  }
  EXPECT_TRUE(lists->paused(0));
  EXPECT_FALSE(lists->paused(1));  // another list is not affected
  counting.asked.clear();
  clock_->set(clock_->now() + 299);
  {
    Lists::Message m = lists->start(counting, budget_);
    m.clientIp("127.0.0.2");  // would be listed: within the pause it is not asked
    m.helo("a.example");
    EXPECT_EQ(m.started(), 1u);
    EXPECT_TRUE(m.collect().empty());
    EXPECT_EQ(counting.asked, (std::vector<std::string>{"a.example.dbl.example"}));
  }
  clock_->set(clock_->now() + 1);  // 300 s later: asked again
  counting.asked.clear();
  {
    Lists::Message m = lists->start(counting, budget_);
    m.clientIp("127.0.0.2");
    const std::vector<ListHit> hits = m.collect();
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].result, ListResult::Listed);
    EXPECT_EQ(counting.asked, (std::vector<std::string>{"2.0.0.127.zen.example"}));
  }
  EXPECT_FALSE(lists->paused(0));
}

TEST_F(ListsTest, TemporaryFailuresAreTemperror) {
  load(";@timeout 1.2.0.192.zen.example.\n"
       ";@servfail 2.2.0.192.zen.example.\n"
       ";@refused 3.2.0.192.zen.example.\n"
       ";@malformed 4.2.0.192.zen.example.\n"
       "5.2.0.192.zen.example. TXT \"listed, no A\"\n");
  auto lists = make({zen()});
  Lists::Message m = lists->start(zone_, budget_);
  for (const char* ip : {"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"}) {
    m.clientIp(ip);
  }
  const std::vector<ListHit> hits = m.collect();
  ASSERT_EQ(hits.size(), 4u);  // NODATA for A: not listed
  for (const ListHit& h : hits) {
    EXPECT_EQ(h.result, ListResult::TempError) << h.query;
    EXPECT_FALSE(h.why.empty());
  }
  EXPECT_FALSE(lists->paused(0));  // a failure is not an error answer: no pause
}

TEST_F(ListsTest, CreateRefusesInvalidOptions) {
  Options o;
  ListOptions l = zen();
  l.answers[1].symbol = "RBL_ZEN_SBL";
  l.where = SourceLoc{"x.yaml", 7};
  l.answers[1].where = SourceLoc{"x.yaml", 9};
  o.lists.push_back(l);
  auto made = Lists::create(o, clock_);
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().describe(),
            "x.yaml:9: reputation.lists[0].answers[1].symbol: 'RBL_ZEN_SBL' is already defined "
            "by reputation.lists[0].answers[0]");
}

TEST_F(ListsTest, Rfc5782TestPoints) {
  load(// a good address list
       "2.0.0.127.good.example. A 127.0.0.2\n"
       // answers for everything
       "2.0.0.127.all.example. A 127.0.0.2\n"
       "1.0.0.127.all.example. A 127.0.0.2\n"
       // refuses our resolver
       "2.0.0.127.refused.example. A 127.255.255.254\n"
       // a good domain list
       "test.dom.example. A 127.0.1.2\n"
       // a domain list without its test point
       ";@servfail test.broken.example.\n");
  auto list = [](std::string zone, std::vector<Key> keys, std::string code) {
    ListOptions l;
    l.zone = std::move(zone);
    l.lookups = std::move(keys);
    l.answers.push_back(codes("X", {std::move(code)}, 1));
    return l;
  };
  struct Case {
    ListOptions list;
    bool ok;
    std::string line;
  };
  const std::vector<Case> cases = {
      {list("good.example", {Key::ClientIp}, "127.0.0.2"), true, "good.example: ok"},
      {list("all.example", {Key::ClientIp}, "127.0.0.2"), false,
       "all.example: 127.0.0.1 is listed (127.0.0.2): the zone answers for everything — do "
       "not use it"},
      {list("refused.example", {Key::ClientIp}, "127.0.0.2"), false,
       "refused.example: the test point 127.0.0.2 is not listed — wrong zone or blocked "
       "resolver (answer 127.255.255.254 is an error code (query refused, public resolver or "
       "over the limit))"},
      {list("missing.example", {Key::ClientIp}, "127.0.0.2"), false,
       "missing.example: the test point 127.0.0.2 is not listed — wrong zone or blocked "
       "resolver (no answer: nxdomain)"},
      {list("dom.example", {Key::Helo, Key::Url}, "127.0.1.2"), true, "dom.example: ok"},
      {list("broken.example", {Key::From}, "127.0.1.2"), false,
       "broken.example: the test point TEST could not be looked up (SERVFAIL)"},
  };
  for (const Case& tc : cases) {
    const ListTest got = testList(tc.list, zone_, budget_);
    EXPECT_EQ(got.ok, tc.ok) << tc.line;
    EXPECT_EQ(got.line, tc.line);
  }
}

}  // namespace
}  // namespace mw::reputation
