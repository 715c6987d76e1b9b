#include "mailwarden/base/task_pool.h"

#include <chrono>
#include <system_error>
#include <utility>

#include "mailwarden/base/signals_blocked.h"

namespace mw {

void TaskHandle::wait() const { done_.get(); }

std::exception_ptr TaskHandle::error() const noexcept {
  try {
    done_.get();
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

bool TaskHandle::ready() const noexcept {
  if (!done_.valid()) {
    return false;
  }
  try {
    return done_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  } catch (...) {
    return false;  // wait_for throws only on an invalid future, excluded above
  }
}

TaskPool::TaskPool(std::size_t max_threads) : max_threads_(max_threads == 0 ? 1 : max_threads) {}

TaskPool::~TaskPool() {
  std::vector<std::thread> threads;
  {
    const std::lock_guard<std::mutex> lock(m_);
    stopping_ = true;
    threads.swap(threads_);
  }
  cv_.notify_all();
  // Workers empty the queue before they leave (work()), so no handle stays unready.
  for (std::thread& t : threads) {
    t.join();
  }
}

std::size_t TaskPool::threads() const {
  const std::lock_guard<std::mutex> lock(m_);
  return threads_.size();
}

TaskHandle TaskPool::submit(std::function<void()> task) {
  // packaged_task stores what the task throws in the shared state: the worker never
  // sees an exception, the handle rethrows it.
  std::packaged_task<void()> packaged(std::move(task));
  TaskHandle handle(packaged.get_future().share());
  std::unique_lock<std::mutex> lock(m_);
  const bool spawn = idle_ <= queue_.size() && threads_.size() < max_threads_;
  if (spawn) {
    threads_.reserve(threads_.size() + 1);  // bad_alloc now, before anything is queued
  }
  queue_.push_back(std::move(packaged));
  if (!spawn) {
    lock.unlock();
    cv_.notify_one();
    return handle;
  }
  try {
    const SignalsBlocked blocked;
    threads_.emplace_back([this] { work(); });  // no reallocation: reserved above
  } catch (const std::system_error&) {
    // No thread now (EAGAIN: a process or memory limit). Queued tasks still run on the
    // threads we have; with none, this caller runs its own task rather than wait forever.
    if (threads_.empty()) {
      std::packaged_task<void()> mine = std::move(queue_.back());
      queue_.pop_back();
      lock.unlock();
      mine();
      return handle;
    }
  }
  lock.unlock();
  cv_.notify_one();
  return handle;
}

void TaskPool::work() noexcept {
  std::unique_lock<std::mutex> lock(m_);
  while (true) {
    if (!queue_.empty()) {
      std::packaged_task<void()> task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      task();  // never throws: the task's exception goes to its handle
      lock.lock();
      continue;
    }
    if (stopping_) {
      return;
    }
    ++idle_;
    cv_.wait(lock);
    --idle_;
  }
}

}  // namespace mw
