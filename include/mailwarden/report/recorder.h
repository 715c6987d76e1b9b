// report/recorder.h — the pipeline's side of the store: record() never changes or
// stalls a verdict for long, whatever the store does (issue 20, point 1).
//
// record() writes the record to the Store (whose record() gives up after a bounded wait,
// TempFail). When the store is busy or down, the record goes to a bounded in-memory
// spool (Options::spool_limit records; when full, the oldest is dropped and counted), and
// the store is left alone for Options::backoff: while it stays down, messages spool
// without waiting for it at all. The next record() that reaches the store also writes
// up to Options::flush_batch spooled records (oldest first), so a spool drains over the
// following messages without one message paying for all of it; flush() drains on demand.
// The spool lives in memory: what is still spooled when the process ends is lost after
// one bounded attempt in the destructor (the counters say how many were spooled).
//
// Thread-safety: every member function may be called from any thread (the spool has its
// own mutex, the Store is thread-safe). Never throws: a record that cannot even be
// spooled (no memory) is counted as dropped.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>

#include "mailwarden/report/record.h"
#include "mailwarden/report/store.h"

namespace mw::report {

class Recorder {
 public:
  struct Options {
    std::size_t spool_limit = 10000;
    std::size_t flush_batch = 256;
    std::chrono::milliseconds backoff{200};
  };
  // What one call did, for the counters (mailwarden_dmarc_records_total{result}):
  // records written to the store (spooled ones included), records put in the spool,
  // records dropped from it (the oldest, when it was full).
  struct Tally {
    std::size_t stored = 0;
    std::size_t spooled = 0;
    std::size_t dropped = 0;
  };

  // `store` must not be null.
  Recorder(std::shared_ptr<Store> store, Options options);
  explicit Recorder(std::shared_ptr<Store> store) : Recorder(std::move(store), Options{}) {}
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  Tally record(const Record& r) noexcept;
  // Writes spooled records until the spool is empty or the store fails (ignores the
  // backoff). Tally::stored: how many were written.
  Tally flush() noexcept;
  std::size_t spooled() const noexcept;
  Store& store() const noexcept { return *store_; }

 private:
  // Adds `r` at the back, dropping the oldest over the limit; adds to `t`.
  void spool(const Record& r, Tally& t) noexcept;
  // Up to `limit` spooled records to the store; stops at the first failure.
  void drain(std::size_t limit, Tally& t) noexcept;

  std::shared_ptr<Store> store_;
  Options options_;
  mutable std::mutex mutex_;
  std::deque<Record> spool_;
  std::chrono::steady_clock::time_point retry_at_{};  // store left alone until then
};

}  // namespace mw::report
