#include "mailwarden/base/clock.h"

#include <ctime>

namespace mw {

Clock::~Clock() = default;

std::int64_t SystemClock::now() const noexcept { return static_cast<std::int64_t>(std::time(nullptr)); }

}  // namespace mw
