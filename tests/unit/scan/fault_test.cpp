// scan/ under allocation failure (issue 16): this binary replaces operator new
// (tests/support/alloc_fault.cpp), so the n-th allocation of an event throws
// std::bad_alloc. For each event of a message — connect, helo, mail, rcpt, header, eoh,
// body, eom — and each n until the event no longer reaches its n-th allocation, the
// message is run with that one fault:
//   * the process survives (an exception in a noexcept stage hook would terminate it);
//   * the fault either leaves the Scan method (allowed: the milter's guard turns it into
//     the failure policy, tests/integration/fault_injection_test.sh) or is caught at the
//     stage, and then the message ends in the failure policy (tempfail), counted in
//     obs internal_errors — never in an ordinary verdict computed from half the input;
//   * the next message, without a fault, gets its normal verdict.
// Every event must see at least one fault fire, so the sweep cannot pass vacuously.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <optional>
#include <thread>

#include "mailwarden/config/config.h"
#include "mailwarden/dns/zone.h"
#include "mailwarden/obs/counters.h"
#include "mailwarden/obs/log.h"
#include "mailwarden/scan/scan.h"
#include "tests/support/alloc_fault.h"

namespace mw::scan {
namespace {

SnapshotConstSharedPtr faultSnapshot() {
  static SnapshotConstSharedPtr snap = [] {
    auto zone = std::make_shared<dns::ZoneResolver>();
    const Result<void> loaded = zone->loadText(
        "$ORIGIN test.example.\n$TTL 300\n"
        "origin  TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n"
        "_dmarc.origin TXT \"v=DMARC1; p=none\"\n",
        "fault_test.zone");
    EXPECT_TRUE(loaded) << loaded.error().describe();
    config::Config cfg = config::defaults();
    cfg.policy.authserv_id = "mx.test.example";
    cfg.rule_dirs = {MW_RULES_DIR};  // the shipped rules: every scope kind is in use
    cfg.rules_cache_dir = "";
    Result<SnapshotConstSharedPtr> s =
        Snapshot::build(std::move(cfg), std::make_shared<FixedClock>(1700000000), zone);
    EXPECT_TRUE(s) << s.error().describe();
    return *s;
  }();
  return snap;
}

struct Event {
  const char* name;
  std::function<void(Scan&)> run;
};

// One message, event by event; the last event is finish().
std::vector<Event> messageEvents() {
  return {
      {"connect", [](Scan& s) { s.connect("192.0.2.1", "client.origin.test.example"); }},
      {"helo", [](Scan& s) { s.helo("client.origin.test.example"); }},
      {"mail", [](Scan& s) { s.mailFrom("<alice@origin.test.example>"); }},
      {"rcpt", [](Scan& s) { s.rcpt("<bob@mx.test.example>"); }},
      {"header",
       [](Scan& s) {
         s.header("From", " Alice <alice@origin.test.example>");
         s.header("To", " bob@mx.test.example");
         s.header("Subject", " =?utf-8?q?caf=C3=A9?= invoice");
         s.header("Authentication-Results", " mx.test.example; spf=pass");
         s.header("X-Mailwarden-Verdict", " accept");
         s.header("MIME-Version", " 1.0");
         s.header("Content-Type", " multipart/mixed; boundary=\"b1\"");
       }},
      {"eoh", [](Scan& s) { s.endOfHeaders(); }},
      {"body",
       [](Scan& s) {
         s.body("--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
                "<p>Hello <a href=\"http://example.net/x\">there</a></p>\r\n"
                "--b1\r\nContent-Type: application/pdf\r\n"
                "Content-Disposition: attachment; filename=\"a.pdf\"\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--b1--\r\n");
       }},
      {"eom", [](Scan&) {}},  // finish() below
  };
}

TEST(ScanFaults, EveryAllocationOfEveryEventFailsOnlyThatMessage) {
  const SnapshotConstSharedPtr snap = faultSnapshot();
  ASSERT_NE(snap, nullptr);
  obs::configure(obs::Sink::Stderr, obs::Level::Error);  // info lines format nothing
  const std::vector<Event> events = messageEvents();

  // The verdict of the message without a fault.
  verdict::Action normal;
  {
    Scan s(snap);
    for (const Event& e : events) e.run(s);
    const verdict::Verdict v = s.finish();
    ASSERT_FALSE(v.failed) << (s.findings().failure ? *s.findings().failure : "");
    normal = v.action;
    ASSERT_LT(normal, verdict::Action::TempFail);  // so the failure policy is visible
  }

  for (std::size_t k = 0; k < events.size(); ++k) {
    SCOPED_TRACE(events[k].name);
    long fired = 0, escaped = 0, caught = 0;
    for (long n = 1; n < 100000; ++n) {
      const std::uint64_t errors_before = obs::counters().internal_errors.get();
      std::optional<verdict::Verdict> v;
      bool threw = false;
      bool hit = false;
      {
        Scan s(snap);
        for (std::size_t i = 0; i < k; ++i) events[i].run(s);
        testing::armAllocFault(n);
        try {
          events[k].run(s);
          if (k + 1 == events.size()) v = s.finish();
        } catch (const std::bad_alloc&) {
          threw = true;
        }
        hit = testing::allocFaultFired();
        testing::disarmAllocFault();
        if (!hit) {
          ASSERT_FALSE(threw);
          break;  // event k makes fewer than n allocations: done with it
        }
        ++fired;
        if (threw) {
          ++escaped;  // the edge (milter guard, `check`) applies the failure policy
          continue;
        }
        for (std::size_t i = k + 1; i < events.size(); ++i) events[i].run(s);
        if (!v) v = s.finish();
      }
      // Caught inside the pipeline: never an ordinary verdict from half the input.
      ++caught;
      EXPECT_TRUE(v->failed) << "allocation " << n << " failed unnoticed";
      EXPECT_EQ(v->action, verdict::Action::TempFail) << "allocation " << n;
      EXPECT_GT(obs::counters().internal_errors.get(), errors_before) << "allocation " << n;
    }
    EXPECT_GT(fired, 0) << "no fault fired: the sweep proved nothing";
    std::printf("[ fault    ] %-8s %ld allocations failed: %ld left the Scan, %ld caught\n",
                events[k].name, fired, escaped, caught);

    // The next message, without a fault, is unaffected.
    Scan s(snap);
    for (const Event& e : events) e.run(s);
    const verdict::Verdict after = s.finish();
    EXPECT_FALSE(after.failed);
    EXPECT_EQ(after.action, normal);
  }
  obs::configure(obs::Sink::Stderr, obs::Level::Info);
}

// The injector itself: a fault armed on one thread never fires on another.
TEST(ScanFaults, FaultsOnOtherThreadsDoNotFire) {
  std::atomic<bool> go{false};
  std::thread other([&go] {
    while (!go.load()) std::this_thread::yield();
    auto* p = new int(1);  // another thread: never the armed fault
    delete p;
  });
  testing::armAllocFault(1);
  go.store(true);
  other.join();
  EXPECT_FALSE(testing::allocFaultFired());
  EXPECT_THROW(static_cast<void>(new int(2)), std::bad_alloc);
  EXPECT_TRUE(testing::allocFaultFired());
  EXPECT_EQ(testing::disarmAllocFault(), 0);
}

}  // namespace
}  // namespace mw::scan
