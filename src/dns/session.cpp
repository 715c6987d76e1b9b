#include "mailwarden/dns/session.h"

#include <algorithm>

#include "mailwarden/base/ascii.h"

namespace mw::dns {

namespace {

// The spelling two callers of the same name share: "Example.COM." and "example.com" are
// one name (RFC 4343: DNS names compare ASCII case-insensitively).
std::string keyName(std::string_view name) {
  if (name.size() > 1 && name.back() == '.') {
    name.remove_suffix(1);
  }
  return ascii::lower(name);
}

}  // namespace

Session::Session(ResolverSharedPtr resolver, Budget budget, std::size_t max_entries)
    : resolver_(std::move(resolver)), budget_(budget), max_entries_(max_entries) {}

std::size_t Session::remembered() const {
  const std::lock_guard<std::mutex> lock(m_);
  return entries_.size();
}

LookupPtr Session::usable(const Entry& e, Budget::Clock::time_point deadline) const {
  // A lookup whose time is over with a TempFail (a timeout, a spent budget, SERVFAIL)
  // is worth a new try for a caller that still has time. ready() first: wait() then
  // returns at once, so the lock is not held across a lookup.
  const Budget::Clock::time_point now = Budget::Clock::now();
  if (e.deadline <= now && now < deadline && e.lookup->ready() &&
      e.lookup->wait().status == Status::TempFail) {
    return nullptr;
  }
  return e.lookup;
}

LookupPtr Session::start(std::string_view name, Type type, const Budget& budget) {
  const Budget::Clock::time_point deadline = std::min(budget.deadline(), budget_.deadline());
  const bool rememberable = isQueryableName(name);
  Key key;
  if (rememberable) {
    key = Key(keyName(name), type);
    const std::lock_guard<std::mutex> lock(m_);
    if (const auto it = entries_.find(key); it != entries_.end()) {
      if (LookupPtr l = usable(it->second, deadline)) {
        joined_.fetch_add(1, std::memory_order_relaxed);
        return l;
      }
    }
  }
  // Unlocked: a resolver's start() may take a while (the default one answers first).
  LookupPtr fresh = resolver_->start(name, type, Budget::until(deadline));
  started_.fetch_add(1, std::memory_order_relaxed);
  if (!rememberable) {
    return fresh;
  }
  const std::lock_guard<std::mutex> lock(m_);
  const auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() < max_entries_) {
      entries_.emplace(std::move(key), Entry{fresh, deadline});
    }
    return fresh;
  }
  if (LookupPtr l = usable(it->second, deadline)) {
    // Another thread remembered this name while we started ours: share theirs, so every
    // caller of one name holds the same lookup. Ours is dropped (and cancelled).
    joined_.fetch_add(1, std::memory_order_relaxed);
    return l;
  }
  it->second = Entry{fresh, deadline};
  return fresh;
}

LookupPtr Session::start(std::string_view name, Type type) { return start(name, type, budget_); }

void Session::adopt(const Session& earlier) {
  if (&earlier == this) {
    return;
  }
  std::map<Key, Entry> copy;
  {
    const std::lock_guard<std::mutex> lock(earlier.m_);
    copy = earlier.entries_;
  }
  const std::lock_guard<std::mutex> lock(m_);
  for (auto& [key, entry] : copy) {
    if (entries_.size() >= max_entries_) {
      break;
    }
    entries_.emplace(key, std::move(entry));
  }
}

Answer Session::query(std::string_view name, Type type, const Budget& budget) {
  const LookupPtr lookup = start(name, type, budget);
  return lookup->wait();
}

}  // namespace mw::dns
