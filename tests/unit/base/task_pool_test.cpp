// base/task_pool.h: tasks run concurrently up to the cap and queue beyond it, an
// exception reaches the handle, destruction runs what is queued and joins. Concurrency
// is shown by tasks meeting each other (a latch), not by the wall clock; every wait is
// bounded (a test fails rather than hangs).
#include "mailwarden/base/task_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <new>
#include <set>
#include <thread>
#include <signal.h>
#include <stdexcept>
#include <vector>

namespace mw {
namespace {

using std::chrono::seconds;

// A gate the test opens; tasks block on it for at most 10 s (a bound, not a timing).
class Gate {
 public:
  void open() {
    {
      const std::lock_guard<std::mutex> lock(m_);
      open_ = true;
    }
    cv_.notify_all();
  }
  bool pass() {
    std::unique_lock<std::mutex> lock(m_);
    return cv_.wait_for(lock, seconds(10), [this] { return open_; });
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Counts tasks that are inside their body at the same time.
struct Meter {
  std::mutex m;
  std::condition_variable cv;
  int inside = 0;
  int most = 0;
  void enter() {
    const std::lock_guard<std::mutex> lock(m);
    ++inside;
    most = std::max(most, inside);
    cv.notify_all();
  }
  void leave() {
    const std::lock_guard<std::mutex> lock(m);
    --inside;
  }
  // Waits (at most 10 s) until `n` tasks are inside at once.
  bool reach(int n) {
    std::unique_lock<std::mutex> lock(m);
    return cv.wait_for(lock, seconds(10), [&] { return inside >= n; });
  }
};

TEST(TaskPool, RunsUpToTheCapAtOnceAndQueuesTheRest) {
  struct Case {
    const char* name;
    std::size_t cap;
    int tasks;
  };
  const Case cases[] = {
      {"cap 1, 3 tasks: one at a time", 1, 3},
      {"cap 4, 4 tasks: all at once", 4, 4},
      {"cap 3, 8 tasks: 3 at once, 5 queue", 3, 8},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    Gate gate;
    Meter meter;
    std::atomic<int> ran{0};
    TaskPool pool(tc.cap);
    std::vector<TaskHandle> handles;
    for (int i = 0; i < tc.tasks; ++i) {
      handles.push_back(pool.submit([&] {
        meter.enter();
        const bool opened = gate.pass();
        meter.leave();
        if (opened) {
          ++ran;
        }
      }));
    }
    const int want_at_once = std::min(tc.tasks, static_cast<int>(tc.cap));
    // The cap is reached: that many tasks block inside at the same moment...
    ASSERT_TRUE(meter.reach(want_at_once)) << "want " << want_at_once << " tasks at once";
    // ...and the others wait in the queue, not on threads of their own.
    EXPECT_LE(pool.threads(), tc.cap) << "got " << pool.threads() << " threads";
    int ready = 0;
    for (const TaskHandle& h : handles) {
      ready += h.ready() ? 1 : 0;
    }
    EXPECT_EQ(ready, 0) << "no task has finished before the gate opens";
    gate.open();
    for (const TaskHandle& h : handles) {
      h.wait();
      EXPECT_TRUE(h.ready());
    }
    EXPECT_EQ(ran.load(), tc.tasks);
    EXPECT_EQ(meter.most, want_at_once) << "got " << meter.most << " at once want "
                                        << want_at_once;
  }
}

TEST(TaskPool, ThreadsAreKeptAndReused) {
  TaskPool pool(4);
  std::mutex m;
  std::set<std::thread::id> ids;
  for (int i = 0; i < 50; ++i) {
    pool.submit([&] {
      const std::lock_guard<std::mutex> lock(m);
      ids.insert(std::this_thread::get_id());
    }).wait();
  }
  // 50 tasks on at most 4 threads, which all still exist: none left after its task. (A
  // worker that has just finished is not idle yet, so a second thread may be created
  // even for tasks one after another; never more than the cap.)
  EXPECT_LE(ids.size(), 4u) << "got " << ids.size() << " distinct threads";
  EXPECT_LE(pool.threads(), 4u);
  EXPECT_GE(pool.threads(), ids.size());
}

TEST(TaskPool, ExceptionReachesTheHandle) {
  TaskPool pool(2);
  const TaskHandle bad_alloc = pool.submit([] { throw std::bad_alloc(); });
  const TaskHandle runtime = pool.submit([] { throw std::runtime_error("resolver broke"); });
  const TaskHandle fine = pool.submit([] {});
  EXPECT_THROW(bad_alloc.wait(), std::bad_alloc);
  EXPECT_THROW(bad_alloc.wait(), std::bad_alloc) << "the handle can be asked again";
  const std::exception_ptr e = runtime.error();
  ASSERT_TRUE(e);
  try {
    std::rethrow_exception(e);
  } catch (const std::runtime_error& r) {
    EXPECT_STREQ(r.what(), "resolver broke");
  }
  EXPECT_FALSE(fine.error());
  EXPECT_NO_THROW(fine.wait());
  // The workers survived the exceptions.
  std::atomic<bool> ran{false};
  pool.submit([&] { ran = true; }).wait();
  EXPECT_TRUE(ran.load());
}

TEST(TaskPool, DestructionRunsTheQueueAndJoins) {
  std::atomic<int> ran{0};
  std::vector<TaskHandle> handles;
  Gate gate;
  Meter meter;
  // Opens the gate only once both workers are blocked inside a task, so the pool below
  // is destroyed with 2 tasks running and 8 queued (unless this thread is very late,
  // which makes the test weaker, never wrong).
  std::thread opener([&] {
    meter.reach(2);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    gate.open();
  });
  {
    TaskPool pool(2);
    for (int i = 0; i < 10; ++i) {
      handles.push_back(pool.submit([&] {
        meter.enter();
        gate.pass();
        meter.leave();
        ++ran;
      }));
    }
  }
  opener.join();
  EXPECT_EQ(ran.load(), 10) << "every queued task ran before the pool was gone";
  for (const TaskHandle& h : handles) {
    EXPECT_TRUE(h.ready());
  }
}

TEST(TaskPool, WorkersBlockEverySignal) {
  TaskPool pool(1);
  sigset_t mask;
  sigemptyset(&mask);
  pool.submit([&] { pthread_sigmask(SIG_SETMASK, nullptr, &mask); }).wait();
  for (int sig : {SIGTERM, SIGHUP, SIGINT, SIGUSR1}) {
    EXPECT_EQ(sigismember(&mask, sig), 1) << "signal " << sig << " not blocked on a worker";
  }
  EXPECT_FALSE(TaskHandle().valid());
}

}  // namespace
}  // namespace mw
