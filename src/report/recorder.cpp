// report/recorder.cpp — the spool and its writer thread (recorder.h has the contract).
#include "mailwarden/report/recorder.h"

#include <utility>
#include <vector>

namespace mw::report {

Recorder::Recorder(std::shared_ptr<Store> store, Options options)
    : store_(std::move(store)), options_(std::move(options)) {
  if (options_.flush_batch == 0) {
    options_.flush_batch = 1;
  }
  writer_ = std::thread([this] { writerLoop(); });
}

Recorder::~Recorder() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  writer_.join();
  (void)flush();  // one more bounded attempt: stops at the first failure
}

void Recorder::report(const Tally& t) noexcept {
  if (t.empty()) {
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    totals_.stored += t.stored;
    totals_.spooled += t.spooled;
    totals_.dropped += t.dropped;
  }
  if (options_.on_tally) {
    try {
      options_.on_tally(t);
    } catch (...) {  // a counter must not take the writer down
    }
  }
}

void Recorder::trim(Tally& t) noexcept {
  while (spool_.size() > options_.spool_limit) {
    spool_.pop_front();  // the oldest goes: recent data is what the next report needs
    ++t.dropped;
  }
}

void Recorder::record(const Record& r) noexcept {
  Tally t;
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    try {
      // While the store is down, a new record is held back from the start.
      spool_.push_back(Entry{r, down_});
      t.spooled += down_ ? 1 : 0;
    } catch (...) {
      ++t.dropped;  // no memory for it: counted, never thrown into a verdict
    }
    trim(t);
    // The writer needs a wake-up only for a first record (it sleeps on an empty spool) and
    // for a full batch (it lingers for more until then): not one futex call per message.
    wake = spool_.size() == 1 || spool_.size() >= options_.flush_batch;
  }
  if (wake) {
    wake_.notify_one();
  }
  report(t);
}

std::size_t Recorder::write(std::deque<Entry>& batch) noexcept {
  std::vector<Record> records;
  try {
    records.reserve(batch.size());
  } catch (...) {  // no memory for the batch: one at a time
    std::size_t i = 0;
    while (i < batch.size() && store_->record(batch[i].record)) {
      ++i;
    }
    return i;
  }
  for (Entry& e : batch) {
    records.push_back(std::move(e.record));  // reserved: no allocation, no throw
  }
  const std::size_t done = store_->recordBatch(records);
  for (std::size_t i = done; i < batch.size(); ++i) {
    batch[i].record = std::move(records[i]);  // not written: back to its entry
  }
  return done;
}

void Recorder::afterWrite(std::deque<Entry>& rest, bool failed, Tally& t) noexcept {
  if (failed) {
    down_ = true;
    retry_at_ = std::chrono::steady_clock::now() + options_.backoff;
    // Everything waiting now waits for the store: counted once each.
    for (Entry& e : rest) {
      t.spooled += e.counted ? 0 : 1;
      e.counted = true;
    }
    for (Entry& e : spool_) {
      t.spooled += e.counted ? 0 : 1;
      e.counted = true;
    }
  } else {
    down_ = false;
  }
  // Back at the front, in order (the spool's own records are newer).
  while (!rest.empty()) {
    try {
      spool_.push_front(std::move(rest.back()));
    } catch (...) {
      ++t.dropped;
    }
    rest.pop_back();
  }
  trim(t);
}

void Recorder::writerLoop() noexcept {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    // Sleep until there is work and the store is not being left alone.
    while (!stop_ && (spool_.empty() || (down_ && std::chrono::steady_clock::now() < retry_at_))) {
      idle_.notify_all();
      if (spool_.empty()) {
        wake_.wait(lock);
      } else {
        wake_.wait_until(lock, retry_at_);
      }
    }
    // Linger: records that arrive meanwhile go into the same batch (one transaction, one
    // round trip, identical tuples merged) instead of one write per message.
    if (!stop_ && spool_.size() < options_.flush_batch && options_.linger.count() > 0) {
      wake_.wait_for(lock, options_.linger,
                     [this] { return stop_ || spool_.size() >= options_.flush_batch; });
    }
    if (stop_) {
      idle_.notify_all();
      return;
    }
    std::deque<Entry> batch;
    try {
      while (!spool_.empty() && batch.size() < options_.flush_batch) {
        batch.push_back(std::move(spool_.front()));
        spool_.pop_front();
      }
    } catch (...) {  // no memory for the batch: what was taken goes back, try later
      for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
        spool_.push_front(std::move(*it));
      }
      retry_at_ = std::chrono::steady_clock::now() + options_.backoff;
      down_ = true;
      continue;
    }
    busy_ = true;
    const std::size_t taken = batch.size();
    in_flight_ += taken;
    lock.unlock();
    Tally t;
    {
      std::lock_guard<std::mutex> writing(write_mutex_);
      const std::size_t done = write(batch);
      t.stored = done;
      batch.erase(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(done));
    }
    lock.lock();
    in_flight_ -= taken;
    afterWrite(batch, !batch.empty(), t);
    lock.unlock();
    report(t);  // before busy_ drops: settle() returns with the counters up to date
    lock.lock();
    busy_ = false;
  }
}

Recorder::Tally Recorder::flush() noexcept {
  Tally t;
  std::lock_guard<std::mutex> writing(write_mutex_);
  for (;;) {
    std::deque<Entry> batch;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      try {
        while (!spool_.empty() && batch.size() < options_.flush_batch) {
          batch.push_back(std::move(spool_.front()));
          spool_.pop_front();
        }
      } catch (...) {
        for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
          spool_.push_front(std::move(*it));
        }
        break;
      }
    }
    if (batch.empty()) {
      break;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      in_flight_ += batch.size();
    }
    const std::size_t done = write(batch);
    t.stored += done;
    batch.erase(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(done));
    const bool failed = !batch.empty();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      in_flight_ -= done + batch.size();
      afterWrite(batch, failed, t);
    }
    if (failed) {
      break;
    }
  }
  report(t);
  idle_.notify_all();
  return t;
}

bool Recorder::settle(std::chrono::milliseconds limit) noexcept {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.notify_one();
  return idle_.wait_for(lock, limit, [this] {
    return !busy_ && (spool_.empty() || (down_ && std::chrono::steady_clock::now() < retry_at_));
  });
}

std::size_t Recorder::spooled() const noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  return spool_.size() + in_flight_;
}

Recorder::Tally Recorder::totals() const noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  return totals_;
}

}  // namespace mw::report
