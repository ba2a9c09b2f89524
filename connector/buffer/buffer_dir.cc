#include "connector/buffer/buffer_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "connector/state/state_store.h"
#include <spdlog/spdlog.h>

namespace siem::buffer_files {

std::string errno_text() { return std::strerror(errno); }

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 128 || name == "." || name == "..") return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

int open_dir(int parent_fd, const std::string& name) {
  if (::mkdirat(parent_fd, name.c_str(), 0700) != 0 && errno != EEXIST)
    throw std::runtime_error(fmt::format("cannot create directory {}: {}", name, errno_text()));
  const int fd = ::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    throw std::runtime_error(fmt::format("cannot open directory {} (a symlink or not a directory?): {}", name,
                                         errno_text()));
  struct stat st {};
  if (::fstat(fd, &st) == 0 && (st.st_mode & 077) != 0 && ::fchmod(fd, 0700) != 0) {
    const std::string err = errno_text();
    ::close(fd);
    throw std::runtime_error(fmt::format("cannot restrict directory {} to 0700: {}", name, err));
  }
  return fd;
}

int open_file(int dir_fd, const std::string& name, int flags, StateFileOps* ops) {
  const int all = flags | O_NOFOLLOW | O_CLOEXEC;
  const int fd = ops != nullptr ? ops->open_at(dir_fd, name.c_str(), all, 0600) : ::openat(dir_fd, name.c_str(), all, 0600);
  if (fd < 0) return -1;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    errno = EINVAL;
    return -1;
  }
  return fd;
}

void write_all(int fd, std::string_view data, const std::string& what, StateFileOps* ops) {
  while (!data.empty()) {
    const ssize_t n = ops != nullptr ? ops->write(fd, data.data(), data.size()) : ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(fmt::format("cannot write {}: {}", what, errno_text()));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

bool pread_exact(int fd, void* buf, std::size_t n, std::uint64_t offset) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    const ssize_t got = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= static_cast<std::size_t>(got);
    offset += static_cast<std::uint64_t>(got);
  }
  return true;
}

namespace {

std::uint64_t dir_bytes(int fd) {
  std::uint64_t total = 0;
  DIR* d = ::fdopendir(::dup(fd));
  if (d == nullptr) return 0;
  while (const dirent* e = ::readdir(d)) {
    struct stat st {};
    if (::fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
      total += static_cast<std::uint64_t>(st.st_size);
  }
  ::closedir(d);
  return total;
}

}  // namespace

std::size_t report_stale(const std::filesystem::path& state_dir, const std::set<std::string>& configured) {
  const auto root = state_dir / "buffers";
  const int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 0;  // no disk buffer was ever used here
  std::size_t found = 0;
  DIR* d = ::fdopendir(::dup(fd));
  while (d != nullptr) {
    const dirent* e = ::readdir(d);
    if (e == nullptr) break;
    const std::string name = e->d_name;
    if (name == "." || name == ".." || configured.count(name) != 0) continue;
    const int sub = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) continue;
    ++found;
    spdlog::warn("disk buffer {} belongs to no configured sink with a disk buffer (sink '{}' removed, renamed or "
                 "switched to the memory buffer): {} byte(s) of it are not delivered; configure the sink again to "
                 "deliver them, or delete the directory",
                 (root / name).string(), name, dir_bytes(sub));
    ::close(sub);
  }
  if (d != nullptr) ::closedir(d);
  ::close(fd);
  return found;
}

}  // namespace siem::buffer_files
