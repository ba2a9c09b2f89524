#include "connector/state/state_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <sstream>

#include <fmt/format.h>

#include "connector/state/private_files.h"

namespace siem {

namespace {

// File layout: one header line, then exactly `length` payload bytes.
//   "SIEMSTATE 1 <length> <crc32c-hex>\n<payload>"
constexpr std::string_view kMagic = "SIEMSTATE";
constexpr int kVersion = 1;

std::uint32_t crc32c(std::string_view data) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1U) != 0 ? 0x82F63B78U ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t crc = 0xFFFFFFFFU;
  for (unsigned char ch : data) crc = table[(crc ^ ch) & 0xFFU] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFU;
}

std::string errno_text() { return std::strerror(errno); }

void write_all(StateFileOps& ops, int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    const ssize_t n = ops.write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(fmt::format("state: cannot write {}: {}", path.string(), errno_text()));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void fsync_dir(StateFileOps& ops, int dir_fd, const std::filesystem::path& dir) {
  if (ops.fsync_dir(dir_fd) != 0) throw std::runtime_error(fmt::format("state: cannot sync {}: {}", dir.string(), errno_text()));
}

// Whole content of the open file `fd`.
std::string read_all(int fd, const std::filesystem::path& path) {
  std::string out;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(fmt::format("state: cannot read {}: {}", path.string(), errno_text()));
    }
    if (n == 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

ssize_t StateFileOps::write(int fd, const void* data, std::size_t size) { return ::write(fd, data, size); }
int StateFileOps::fsync(int fd) { return ::fsync(fd); }
int StateFileOps::rename(int dir_fd, const char* from, const char* to) { return ::renameat(dir_fd, from, dir_fd, to); }
int StateFileOps::fsync_dir(int dir_fd) { return ::fsync(dir_fd); }
int StateFileOps::open_at(int dir_fd, const char* name, int flags, mode_t mode) { return ::openat(dir_fd, name, flags, mode); }
int StateFileOps::fdatasync(int fd) { return ::fdatasync(fd); }

StateStore::StateStore(std::filesystem::path dir, std::shared_ptr<StateFileOps> ops)
    : dir_(std::move(dir)), ops_(ops ? std::move(ops) : std::make_shared<StateFileOps>()) {
  try {
    dir_fd_ = files::open_private_dir(dir_, "state_dir");
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(fmt::format("state: {}", e.what()));
  }
  const auto lock_path = dir_ / "LOCK";
  lock_fd_ = ::openat(dir_fd_, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
  if (lock_fd_ < 0) {
    const std::string why = errno == ELOOP ? "it is a symbolic link; refusing to follow it" : errno_text();
    ::close(dir_fd_);
    throw std::runtime_error(fmt::format("state: cannot open lock file {}: {}", lock_path.string(), why));
  }
  struct stat lock_st {};
  if (::fstat(lock_fd_, &lock_st) != 0 || !S_ISREG(lock_st.st_mode)) {
    ::close(lock_fd_);
    ::close(dir_fd_);
    throw std::runtime_error(fmt::format("state: lock file {} is not a regular file", lock_path.string()));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string holder(32, '\0');
    const ssize_t got = ::pread(lock_fd_, holder.data(), holder.size(), 0);
    holder.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
    ::close(lock_fd_);
    lock_fd_ = -1;
    ::close(dir_fd_);
    dir_fd_ = -1;
    if (err == EWOULDBLOCK) {
      // The holder wrote its pid into the lock file; name it to help the operator.
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
      if (!holder.empty() && holder.size() <= 10 &&
          std::all_of(holder.begin(), holder.end(), [](unsigned char c) { return std::isdigit(c); }))
        holder = ", held by pid " + holder;
      else
        holder.clear();
      throw std::runtime_error(fmt::format(
          "state: state_dir {} is in use by another siem-connector process (lock {} is held{})", dir_.string(),
          lock_path.string(), holder));
    }
    throw std::runtime_error(fmt::format("state: cannot lock {}: {}", lock_path.string(), std::strerror(err)));
  }
  (void)::fchmod(lock_fd_, 0600);  // a LOCK left by an older version may be 0644
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) == 0) {
    (void)!::pwrite(lock_fd_, pid.data(), pid.size(), 0);
  }
  // Temp files left by a crash between write and rename are garbage: the .state file next to
  // them still holds the last complete value. We hold the lock, so nobody is writing them.
  // unlinkat removes a link itself, never what it points to.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const auto name = entry.path().filename().string();
    if (name.size() > 10 && name.ends_with(".state.tmp")) (void)::unlinkat(dir_fd_, name.c_str(), 0);
  }
}

StateStore::~StateStore() {
  if (lock_fd_ >= 0) {
    ::flock(lock_fd_, LOCK_UN);
    ::close(lock_fd_);
  }
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

std::filesystem::path StateStore::file_for(std::string_view key) const {
  // Keys become file names: keep [A-Za-z0-9._-], percent-encode the rest (reversible, no clashes).
  // A leading '%' keeps an empty key or a leading dot (hidden file, "." / "..") out of the name;
  // written first rather than inserted afterwards (GCC 12 -O3 reports a false -Wrestrict there).
  std::string name = key.empty() || key.front() == '.' ? "%" : "";
  for (unsigned char c : key) {
    if (std::isalnum(c) != 0 || c == '.' || c == '_' || c == '-') {
      name += static_cast<char>(c);
    } else {
      name += fmt::format("%{:02X}", c);
    }
  }
  return dir_ / (name + ".state");
}

std::optional<std::string> StateStore::get(std::string_view key) const {
  std::lock_guard lock(mu_);
  const auto path = file_for(key);
  const std::string name = path.filename().string();
  const int fd = ::openat(dir_fd_, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    if (errno == ELOOP)
      throw StateCorruptError(fmt::format("state file {} is a symbolic link; refusing to follow it. Remove it "
                                          "(the component then starts over)",
                                          path.string()));
    throw std::runtime_error(fmt::format("state: cannot read {}: {}", path.string(), errno_text()));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw StateCorruptError(fmt::format("state file {} is not a regular file", path.string()));
  }
  std::string content;
  try {
    content = read_all(fd, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  const auto corrupt = [&](std::string_view what) {
    return StateCorruptError(fmt::format(
        "state file {} is corrupt ({}); refusing to start from scratch silently. Restore it from a backup, "
        "or delete it to make this component start over (its checkpoint will be lost)",
        path.string(), what));
  };
  const auto nl = content.find('\n');
  if (nl == std::string::npos) throw corrupt("no header line: the file is empty or truncated");
  std::istringstream header(content.substr(0, nl));
  std::string magic;
  int version = 0;
  std::size_t length = 0;
  std::string crc_hex;
  header >> magic >> version >> length >> crc_hex;
  if (magic != kMagic) throw corrupt("bad magic");
  if (version != kVersion) throw corrupt(fmt::format("unsupported format version {}", version));
  std::string rest;
  if (header.fail() || crc_hex.size() != 8 || !std::all_of(crc_hex.begin(), crc_hex.end(), [](unsigned char c) {
        return std::isxdigit(c) != 0;
      }) || (header >> rest))
    throw corrupt("malformed header");
  const std::string_view payload = std::string_view(content).substr(nl + 1);
  if (payload.size() != length)
    throw corrupt(fmt::format("payload is {} bytes, header says {} (torn write)", payload.size(), length));
  const auto expected = static_cast<std::uint32_t>(std::stoul(crc_hex, nullptr, 16));
  if (crc32c(payload) != expected) throw corrupt("checksum mismatch");
  return std::string(payload);
}

void StateStore::put(std::string_view key, std::string_view value) {
  std::lock_guard lock(mu_);
  const auto path = file_for(key);
  const std::string name = path.filename().string();
  // An unpredictable name, created exclusively and never through a link: nobody can prepare it.
  const std::string tmp_name = name.substr(0, name.size() - 6) + "." + files::random_suffix() + ".state.tmp";
  const auto tmp = dir_ / tmp_name;
  const std::string header = fmt::format("{} {} {} {:08x}\n", kMagic, kVersion, value.size(), crc32c(value));
  const int fd = ::openat(dir_fd_, tmp_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error(fmt::format("state: cannot create {}: {}", tmp.string(), errno_text()));
  try {
    write_all(*ops_, fd, header, tmp);
    write_all(*ops_, fd, value, tmp);
    if (ops_->fsync(fd) != 0) throw std::runtime_error(fmt::format("state: cannot sync {}: {}", tmp.string(), errno_text()));
  } catch (...) {
    ::close(fd);
    ::unlinkat(dir_fd_, tmp_name.c_str(), 0);
    throw;
  }
  ::close(fd);
  if (ops_->rename(dir_fd_, tmp_name.c_str(), name.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlinkat(dir_fd_, tmp_name.c_str(), 0);
    throw std::runtime_error(fmt::format("state: cannot replace {}: {}", path.string(), why));
  }
  fsync_dir(*ops_, dir_fd_, dir_);
}

void StateStore::erase(std::string_view key) {
  std::lock_guard lock(mu_);
  const auto path = file_for(key);
  if (::unlinkat(dir_fd_, path.filename().c_str(), 0) != 0 && errno != ENOENT)
    throw std::runtime_error(fmt::format("state: cannot remove {}: {}", path.string(), errno_text()));
  fsync_dir(*ops_, dir_fd_, dir_);
}

}  // namespace siem
