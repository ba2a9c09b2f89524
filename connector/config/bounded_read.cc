#include "connector/config/bounded_read.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace siem {

ReadFileResult read_regular_file(const std::filesystem::path& path, std::size_t max_bytes, FileKinds kinds) {
  ReadFileResult r;
  const bool streams = kinds == FileKinds::streams_too;
  // O_NONBLOCK: opening a FIFO must not wait for a writer when only a regular file is read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (streams ? 0 : O_NONBLOCK));
  if (fd < 0) {
    r.status = ReadFileStatus::cannot_open;
    r.error = errno;
    return r;
  }
  struct stat st {};
  const bool stat_ok = ::fstat(fd, &st) == 0;
  const bool stream = S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode);
  if (!stat_ok || !(S_ISREG(st.st_mode) || (streams && stream))) {
    ::close(fd);
    r.status = ReadFileStatus::not_regular;
    return r;
  }
  r.mode = st.st_mode & 07777;
  // One byte more than allowed tells "too large" from "exactly the limit"; a file that grows while
  // it is read is cut there too.
  r.text.resize(std::min<std::size_t>(max_bytes + 1, static_cast<std::size_t>(st.st_size) + 1));
  std::size_t got = 0;
  for (;;) {
    if (got == r.text.size()) {
      if (got > max_bytes) break;
      r.text.resize(std::min(max_bytes + 1, got * 2 + 4096));
    }
    const ssize_t n = ::read(fd, r.text.data() + got, r.text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r.status = ReadFileStatus::read_error;
      r.error = errno;
      break;
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  r.text.resize(got);
  if (r.status == ReadFileStatus::ok && got > max_bytes) r.status = ReadFileStatus::too_large;
  if (r.status != ReadFileStatus::ok) r.text.clear();
  return r;
}

std::string describe_read_reason(const ReadFileResult& result, std::size_t max_bytes) {
  switch (result.status) {
    case ReadFileStatus::ok:
      return {};
    case ReadFileStatus::cannot_open:
    case ReadFileStatus::read_error:
      return std::strerror(result.error);
    case ReadFileStatus::not_regular:
      return "it is not a regular file";
    case ReadFileStatus::too_large:
      return fmt::format("it is larger than {} KiB", max_bytes / 1024);
  }
  return {};
}

std::string describe_read_failure(const std::filesystem::path& path, const ReadFileResult& result,
                                  std::size_t max_bytes) {
  switch (result.status) {
    case ReadFileStatus::ok:
      return {};
    case ReadFileStatus::cannot_open:
    case ReadFileStatus::read_error:
      return fmt::format("cannot read {}: {}", path.string(), std::strerror(result.error));
    case ReadFileStatus::not_regular:
      return fmt::format("{} is not a regular file", path.string());
    case ReadFileStatus::too_large:
      return fmt::format("{} is larger than {} KiB", path.string(), max_bytes / 1024);
  }
  return {};
}

}  // namespace siem
