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
#include <fstream>
#include <sstream>

#include <fmt/format.h>

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

void write_all(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(fmt::format("state: cannot write {}: {}", path.string(), errno_text()));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void fsync_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(fmt::format("state: cannot open {}: {}", dir.string(), errno_text()));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw std::runtime_error(fmt::format("state: cannot sync {}: {}", dir.string(), errno_text()));
}

}  // namespace

StateStore::StateStore(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw std::runtime_error(fmt::format("state: cannot create state_dir {}: {}", dir_.string(), ec.message()));
  const auto lock_path = dir_ / "LOCK";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0)
    throw std::runtime_error(fmt::format("state: cannot open lock file {}: {}", lock_path.string(), errno_text()));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (err == EWOULDBLOCK) {
      // The holder wrote its pid into the lock file; name it to help the operator.
      std::string holder;
      std::ifstream pid_in(lock_path);
      if (pid_in >> holder && std::all_of(holder.begin(), holder.end(), [](unsigned char c) { return std::isdigit(c); }))
        holder = ", held by pid " + holder;
      else
        holder.clear();
      throw std::runtime_error(fmt::format(
          "state: state_dir {} is in use by another siem-connector process (lock {} is held{})", dir_.string(),
          lock_path.string(), holder));
    }
    throw std::runtime_error(fmt::format("state: cannot lock {}: {}", lock_path.string(), std::strerror(err)));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) == 0) {
    (void)!::pwrite(lock_fd_, pid.data(), pid.size(), 0);
  }
  // Temp files left by a crash between write and rename are garbage: the .state file next to
  // them still holds the last complete value. We hold the lock, so nobody is writing them.
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const auto name = entry.path().filename().string();
    if (name.size() > 10 && name.ends_with(".state.tmp")) {
      std::error_code rm_ec;
      std::filesystem::remove(entry.path(), rm_ec);
    }
  }
}

StateStore::~StateStore() {
  if (lock_fd_ >= 0) {
    ::flock(lock_fd_, LOCK_UN);
    ::close(lock_fd_);
  }
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
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT || !std::filesystem::exists(path)) return std::nullopt;
    throw std::runtime_error(fmt::format("state: cannot read {}: {}", path.string(), errno_text()));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string content = ss.str();
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
  auto tmp = path;
  tmp += ".tmp";
  const std::string header = fmt::format("{} {} {} {:08x}\n", kMagic, kVersion, value.size(), crc32c(value));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error(fmt::format("state: cannot create {}: {}", tmp.string(), errno_text()));
  try {
    write_all(fd, header, tmp);
    write_all(fd, value, tmp);
    if (::fsync(fd) != 0) throw std::runtime_error(fmt::format("state: cannot sync {}: {}", tmp.string(), errno_text()));
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw std::runtime_error(fmt::format("state: cannot replace {}: {}", path.string(), why));
  }
  fsync_dir(dir_);
}

void StateStore::erase(std::string_view key) {
  std::lock_guard lock(mu_);
  const auto path = file_for(key);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw std::runtime_error(fmt::format("state: cannot remove {}: {}", path.string(), errno_text()));
  fsync_dir(dir_);
}

}  // namespace siem
