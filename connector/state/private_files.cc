#include "connector/state/private_files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace siem::files {

namespace {

[[noreturn]] void fail(std::string message) { throw std::runtime_error(std::move(message)); }

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

std::string format_mode(mode_t mode) { return fmt::format("{:04o}", static_cast<unsigned>(mode & 07777)); }

int open_private_dir(const std::filesystem::path& dir, std::string_view what) {
  std::error_code ec;
  if (dir.has_parent_path() && !std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir.parent_path(), ec);
    if (ec) fail(fmt::format("cannot create {} {}: {}", what, dir.string(), ec.message()));
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    fail(fmt::format("cannot create {} {}: {}", what, dir.string(), errno_text(errno)));
  // The configured path itself may be a symbolic link (to a data disk): the operator chose it. What
  // is checked is the directory it names, through the descriptor every later open goes through.
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(fmt::format("{} {}: cannot open it: {}", what, dir.string(), errno_text(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail(fmt::format("{} {}: cannot stat it: {}", what, dir.string(), errno_text(err)));
  }
  const uid_t euid = ::geteuid();
  std::string problem;
  if (st.st_uid != euid) {
    problem = fmt::format(
        "is owned by uid {}, not by the user this process runs as (uid {}); another user could "
        "replace its checkpoints or read its dead letters. Give it to this user (chown) or "
        "choose a state_dir this user owns",
        st.st_uid, euid);
  } else if ((st.st_mode & 0022) != 0) {
    problem = fmt::format(
        "is writable by group or others (mode {}): they could plant links or replace "
        "checkpoints. Run chmod 700 {}",
        format_mode(st.st_mode), dir.string());
  } else if ((st.st_mode & 0077) != 0) {
    problem = fmt::format(
        "is readable by group or others (mode {}) and holds checkpoints and dead-lettered audit "
        "records. Run chmod 700 {}",
        format_mode(st.st_mode), dir.string());
  }
  if (!problem.empty()) {
    ::close(fd);
    fail(fmt::format("{} {} {}", what, dir.string(), problem));
  }
  return fd;
}

AppendFile open_append_nofollow(const std::filesystem::path& path, mode_t create_mode,
                                std::string_view what) {
  AppendFile out;
  // O_NONBLOCK: a FIFO planted at the path must not block the open; it is refused below.
  constexpr int kFlags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
  for (int attempt = 0; attempt < 3 && out.fd < 0; ++attempt) {
    out.fd = ::open(path.c_str(), kFlags);
    if (out.fd >= 0) break;
    if (errno == ELOOP)
      fail(fmt::format(
          "{} {} is a symbolic link; refusing to follow it (remove it, or configure the real path)", what,
          path.string()));
    if (errno == ENXIO) break;  // a FIFO or socket without a reader: not a regular file (below)
    if (errno != ENOENT) fail(fmt::format("{}: cannot open {}: {}", what, path.string(), errno_text(errno)));
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    out.fd = ::open(path.c_str(), kFlags | O_CREAT | O_EXCL, create_mode);
    if (out.fd >= 0) {
      out.created = true;
      // Exactly the configured mode: the umask neither narrows (0640 for a shipper's group) nor
      // widens it.
      if (::fchmod(out.fd, create_mode) != 0) {
        const int err = errno;
        ::close(out.fd);
        fail(fmt::format("{}: cannot set mode {} on {}: {}", what, format_mode(create_mode), path.string(),
                         errno_text(err)));
      }
      break;
    }
    // EEXIST: created (or linked) between the two opens; the next attempt sees what is there.
    if (errno != EEXIST)
      fail(fmt::format("{}: cannot create {}: {}", what, path.string(), errno_text(errno)));
  }
  if (out.fd < 0 && errno != ENXIO)
    fail(fmt::format("{}: cannot open {}: it keeps changing", what, path.string()));
  struct stat st {};
  if (out.fd < 0 || ::fstat(out.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (out.fd >= 0) ::close(out.fd);
    fail(fmt::format("{} {} is not a regular file", what, path.string()));
  }
  if (const int fl = ::fcntl(out.fd, F_GETFL); fl >= 0) ::fcntl(out.fd, F_SETFL, fl & ~O_NONBLOCK);
  out.mode = st.st_mode & 07777;
  return out;
}

bool end_torn_line(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) return false;
  // The descriptor is write-only: the last byte is read through a second one to the same file
  // (reopened through /proc, so no path is looked up again).
  const int rfd = ::open(fmt::format("/proc/self/fd/{}", fd).c_str(), O_RDONLY | O_CLOEXEC);
  if (rfd < 0) return false;
  char last = '\n';
  const bool read = ::pread(rfd, &last, 1, st.st_size - 1) == 1;
  ::close(rfd);
  return read && last != '\n' && ::write(fd, "\n", 1) == 1;
}

std::string random_suffix() {
  unsigned char bytes[8];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(fmt::format("cannot read the kernel's random source: {}", errno_text(errno)));
    }
    got += static_cast<std::size_t>(n);
  }
  std::string out;
  for (unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

std::optional<mode_t> parse_file_mode(std::string_view text) {
  if (text.starts_with("0o") || text.starts_with("0O")) text.remove_prefix(2);
  if (text.empty() || text.size() > 4) return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return std::nullopt;
    value = value * 8 + static_cast<unsigned>(c - '0');
  }
  if (value > 0777) return std::nullopt;
  return static_cast<mode_t>(value);
}

}  // namespace siem::files
