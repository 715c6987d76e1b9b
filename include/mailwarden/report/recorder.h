// report/recorder.h — the pipeline's side of the store: record() never waits for the
// store, whatever the store does (issue 20, point 1: "recording never delays a verdict").
//
// record() only appends the record to a bounded in-memory queue (the spool) and wakes
// the Recorder's writer thread; it takes one mutex for a few instructions and never
// touches the store. The writer thread lingers (Options::linger) for more records, then
// takes up to Options::flush_batch records at a time and writes them to the Store (whose record() gives up after a bounded wait,
// TempFail). When the store is busy or down, the records stay in the spool (counted as
// spooled, once each), the store is left alone for Options::backoff, and then tried again;
// records that arrive meanwhile are counted as spooled when they arrive. When the spool is
// full (Options::spool_limit), the oldest record is dropped and counted: the newest data
// is what the next report needs.
//
// Counting: every change is reported to Options::on_tally (stored, spooled, dropped),
// from the writer thread or from record()/flush(); the callback must be cheap and must
// not call back into the Recorder. The scan feeds mailwarden_dmarc_records_total from it.
//
// The spool lives in memory: the destructor stops the writer and makes one more bounded
// attempt (stopping at the first failure); what is still spooled then is lost and was
// counted as spooled.
//
// Thread-safety: every member function may be called from any thread. Never throws: a
// record that cannot even be queued (no memory) is counted as dropped.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "mailwarden/report/record.h"
#include "mailwarden/report/store.h"

namespace mw::report {

class Recorder {
 public:
  // What happened to records, for the counters (mailwarden_dmarc_records_total{result}):
  // written to the store (spooled ones included), first held back because the store was
  // busy or down, dropped from a full spool (the oldest).
  struct Tally {
    std::size_t stored = 0;
    std::size_t spooled = 0;
    std::size_t dropped = 0;
    bool empty() const noexcept { return stored == 0 && spooled == 0 && dropped == 0; }
  };
  struct Options {
    std::size_t spool_limit = 10000;
    std::size_t flush_batch = 256;
    std::chrono::milliseconds backoff{200};
    // How long the writer waits for more records before writing a batch that is not full
    // (records reach the store at most this much later; a day's report does not notice).
    std::chrono::milliseconds linger{100};
    std::function<void(const Tally&)> on_tally = nullptr;  // may be empty
  };

  // `store` must not be null. Starts the writer thread.
  Recorder(std::shared_ptr<Store> store, Options options);
  explicit Recorder(std::shared_ptr<Store> store) : Recorder(std::move(store), Options{}) {}
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Queues `r` for the writer. Never waits for the store.
  void record(const Record& r) noexcept;
  // Writes spooled records on the calling thread until the spool is empty or the store
  // fails (ignores the backoff; serialized with the writer). The returned tally is also
  // reported to on_tally.
  Tally flush() noexcept;
  // Waits (at most `limit`) until the writer has nothing it can do now: the spool is
  // empty, or the store failed and is being left alone. true if that state was reached.
  // For tests and for an orderly reload; the pipeline never calls it.
  bool settle(std::chrono::milliseconds limit) noexcept;
  // Records not yet in the store: queued, held back, or being written.
  std::size_t spooled() const noexcept;
  // Everything counted since construction.
  Tally totals() const noexcept;
  Store& store() const noexcept { return *store_; }

 private:
  struct Entry {
    Record record;
    bool counted = false;  // already counted as spooled
  };

  void writerLoop() noexcept;
  // Writes `batch` in order; the index of the first record the store refused (size():
  // all written). Called with write_mutex_ held, mutex_ not held.
  std::size_t write(std::deque<Entry>& batch) noexcept;
  // After a write: puts the unwritten rest back at the front (order kept), marks the store
  // down when something failed, trims the spool. mutex_ held.
  void afterWrite(std::deque<Entry>& rest, bool failed, Tally& t) noexcept;
  void trim(Tally& t) noexcept;  // mutex_ held
  void report(const Tally& t) noexcept;  // to totals_ and on_tally; no lock held

  std::shared_ptr<Store> store_;
  Options options_;
  mutable std::mutex mutex_;  // the spool, the state below, totals_
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<Entry> spool_;
  bool down_ = false;    // the last write failed
  bool busy_ = false;    // the writer holds a batch
  std::size_t in_flight_ = 0;  // records taken from the spool, being written
  bool stop_ = false;
  std::chrono::steady_clock::time_point retry_at_{};
  Tally totals_;
  std::mutex write_mutex_;  // one writer at a time: the thread or flush()
  std::thread writer_;      // last: started when everything above exists
};

}  // namespace mw::report
