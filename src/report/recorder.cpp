#include "mailwarden/report/recorder.h"

#include <utility>
#include <vector>

namespace mw::report {

Recorder::Recorder(std::shared_ptr<Store> store, Options options)
    : store_(std::move(store)), options_(options) {}

Recorder::~Recorder() { (void)flush(); }

void Recorder::spool(const Record& r, Tally& t) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    spool_.push_back(r);
    ++t.spooled;
  } catch (...) {
    ++t.dropped;  // no memory for it: counted, never thrown into a verdict
    return;
  }
  while (spool_.size() > options_.spool_limit) {
    spool_.pop_front();  // the oldest goes: recent data is what the next report needs
    ++t.dropped;
  }
}

Recorder::Tally Recorder::record(const Record& r) noexcept {
  Tally t;
  const auto now = std::chrono::steady_clock::now();
  bool wait = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    wait = now < retry_at_;
  }
  if (wait) {
    spool(r, t);  // the store failed moments ago: this message does not wait for it again
    return t;
  }
  if (!store_->record(r)) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      retry_at_ = std::chrono::steady_clock::now() + options_.backoff;
    }
    spool(r, t);
    return t;
  }
  ++t.stored;
  drain(options_.flush_batch, t);
  return t;
}

void Recorder::drain(std::size_t limit, Tally& t) noexcept {
  for (std::size_t done = 0; done < limit; ++done) {
    Record next;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (spool_.empty()) {
        return;
      }
      try {
        next = std::move(spool_.front());
      } catch (...) {
        return;  // no memory to move it out: it stays for later
      }
      spool_.pop_front();
    }
    if (!store_->record(next)) {
      std::lock_guard<std::mutex> lock(mutex_);
      retry_at_ = std::chrono::steady_clock::now() + options_.backoff;
      try {
        spool_.push_front(std::move(next));  // back where it was: order kept
      } catch (...) {
        ++t.dropped;
      }
      while (spool_.size() > options_.spool_limit) {
        spool_.pop_front();
        ++t.dropped;
      }
      return;
    }
    ++t.stored;
  }
}

Recorder::Tally Recorder::flush() noexcept {
  Tally t;
  drain(options_.spool_limit + 1, t);
  return t;
}

std::size_t Recorder::spooled() const noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  return spool_.size();
}

}  // namespace mw::report
