// base/fd.h — a file descriptor, closed once (UniqueC is for pointer handles).
// Move-only; -1 means none. Not thread-safe (like any owner).
#pragma once

#include <unistd.h>

#include <utility>

namespace mw {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  int get() const noexcept { return fd_; }

 private:
  int fd_ = -1;
};

}  // namespace mw
