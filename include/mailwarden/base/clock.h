// base/clock.h — the time source, injectable so tests and `check --now` are
// deterministic (DKIM t=/x=, log stamps). Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <memory>

namespace mw {

class Clock {
 public:
  virtual ~Clock();
  // Seconds since the Unix epoch.
  virtual std::int64_t now() const noexcept = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t now() const noexcept override;
};

class FixedClock final : public Clock {
 public:
  explicit FixedClock(std::int64_t t) noexcept : t_(t) {}
  std::int64_t now() const noexcept override { return t_; }

 private:
  std::int64_t t_;
};

using ClockConstSharedPtr = std::shared_ptr<const Clock>;

}  // namespace mw
