// base/task_pool.h — a small pool of worker threads that run tasks of one process, e.g.
// an SPF check per identity while the message keeps streaming in the milter thread.
//
// Tasks are std::function<void()>; their input is whatever the caller captured (the pool
// reads nothing untrusted itself).
//
// Threads: created lazily, one per submit() that finds no idle worker (a worker still
// returning from its last task is not idle yet), up to `max_threads`, then kept for reuse until the pool is destroyed. Each is created with
// every signal blocked (base/signals_blocked.h says why). Tasks beyond the cap wait in
// a FIFO queue, so the pool never deadlocks by itself; it can if a task waits for
// another task of the same pool (all workers could be waiting), so a task must never
// do that. If no thread can be created and the pool has none, submit() runs the task
// on the calling thread before it returns (slower, never stuck).
//
// Thread-safety: submit() may be called from any number of threads at once. A
// TaskHandle may be copied and waited on from any thread, any number of times.
//
// Ownership and lifetimes: a task runs on a pool thread and must not outlive what it
// captured by reference: wait for its handle before destroying that. The destructor runs
// every task already queued, then joins the threads: every handle ever returned gets
// ready. It must not run on a pool thread (a task must not destroy its own pool).
//
// Exceptions: an exception a task throws (std::bad_alloc, ...) is caught on the worker
// and kept in the handle; TaskHandle::wait() rethrows it, error() hands it over without
// throwing, so the caller can treat it as an internal error (scan/ does: counted,
// Findings::failure).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace mw {

// The completion of one submitted task. Default-constructed: no task (valid() false).
class TaskHandle {
 public:
  TaskHandle() = default;
  bool valid() const noexcept { return done_.valid(); }
  // Blocks until the task has run; rethrows what the task threw. Precondition: valid().
  void wait() const;
  // Blocks until the task has run; the exception it threw, or nullptr. Never throws.
  // Precondition: valid().
  std::exception_ptr error() const noexcept;
  // True once wait() would not block. Never throws; false when !valid().
  bool ready() const noexcept;

 private:
  friend class TaskPool;
  explicit TaskHandle(std::shared_future<void> done) : done_(std::move(done)) {}
  std::shared_future<void> done_;
};

class TaskPool {
 public:
  // max_threads: the most threads the pool ever runs (0 is taken as 1).
  explicit TaskPool(std::size_t max_threads);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // Queues `task` and returns at once (or after running it, see above). Throws only
  // std::bad_alloc (then the task was not queued). Precondition: `task` is callable.
  TaskHandle submit(std::function<void()> task);

  std::size_t maxThreads() const noexcept { return max_threads_; }
  // Threads created so far (never more than maxThreads()); for tests and metrics.
  std::size_t threads() const;

 private:
  void work() noexcept;

  const std::size_t max_threads_;
  mutable std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<void()>> queue_;  // guarded by m_
  std::vector<std::thread> threads_;              // guarded by m_
  std::size_t idle_ = 0;                          // workers waiting for a task; m_
  bool stopping_ = false;                         // m_
};

}  // namespace mw
