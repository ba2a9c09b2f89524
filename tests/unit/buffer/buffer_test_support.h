// Helpers of the disk buffer tests: a capture of what is logged, and the failing system calls of
// the buffer's segment writes (connector/state's StateFileOps seam).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <sstream>
#include <string>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "connector/state/state_store.h"

namespace siem::testing {

// Captures what is logged while it lives.
class LogCapture {
 public:
  LogCapture() : old_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  }
  ~LogCapture() { spdlog::set_default_logger(old_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> old_;
};

// Each field, when not 0, is the errno its call fails with until it is set back to 0. A failing
// write first writes half of its bytes (a disk that fills up mid-record).
class FailingFileOps final : public StateFileOps {
 public:
  std::atomic<int> write_errno{0}, fdatasync_errno{0}, create_errno{0};
  std::atomic<int> failures{0};

  ssize_t write(int fd, const void* data, std::size_t size) override {
    if (const int e = write_errno.load()) {
      if (size > 1) (void)!StateFileOps::write(fd, data, size / 2);
      return fail(e);
    }
    return StateFileOps::write(fd, data, size);
  }
  int fdatasync(int fd) override {
    if (const int e = fdatasync_errno.load()) return fail(e);
    return StateFileOps::fdatasync(fd);
  }
  int open_at(int dir_fd, const char* name, int flags, mode_t mode) override {
    if (const int e = create_errno.load(); e != 0 && (flags & O_CREAT) != 0) return fail(e);
    return StateFileOps::open_at(dir_fd, name, flags, mode);
  }

 private:
  int fail(int e) {
    ++failures;
    errno = e;
    return -1;
  }
};

}  // namespace siem::testing
