// Durable, atomic key -> document storage under state_dir: checkpoints, the privileged-principal
// roster, dedupe windows. Each key is one file written as temp + fsync + rename + directory fsync,
// framed with a header and a CRC-32C so a torn or corrupted file is detected and reported, never
// silently treated as "no state".
// state_dir is private (0700, owned by this user; anything else is refused) and every file in it
// is opened relative to the directory opened once, never through a symbolic link; temporary files
// are created exclusively under an unpredictable name.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace siem {

// A state file exists but cannot be trusted (bad header, checksum mismatch, truncated). The
// message names the file and what is wrong; the operator decides (restore, or delete to restart).
class StateCorruptError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The steps of a write (put / erase) that can fail or be cut short by a crash, behind one seam so
// tests can fail or kill the process at each of them (tests/unit/state/state_crash_test.cc). The
// default implementation calls the system. The disk buffers use the same seam for their segments
// (DiskBufferOptions::file_ops; tests/unit/buffer/disk_buffer_faults_test.cc): write, fsync_dir,
// and open_at / fdatasync, which the state store does not use.
class StateFileOps {
 public:
  virtual ~StateFileOps() = default;
  virtual ssize_t write(int fd, const void* data, std::size_t size);  // the temporary file
  virtual int fsync(int fd);                                          // the temporary file
  virtual int rename(int dir_fd, const char* from, const char* to);   // temporary -> state file, in state_dir
  virtual int fsync_dir(int dir_fd);                                  // state_dir, after rename / unlink
  virtual int open_at(int dir_fd, const char* name, int flags, mode_t mode);  // ::openat
  virtual int fdatasync(int fd);
};

class StateStore {
 public:
  // Creates `dir` (0700) if needed and refuses one that others can reach (files::open_private_dir);
  // takes an exclusive lock file (LOCK, 0600) so two connectors never share a state dir.
  // `ops` replaces the system calls of a write (tests only).
  explicit StateStore(std::filesystem::path dir, std::shared_ptr<StateFileOps> ops = nullptr);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // nullopt when the key was never written. Throws StateCorruptError on a damaged file.
  std::optional<std::string> get(std::string_view key) const;
  // Atomically replaces the value (durable when it returns). Thread-safe.
  void put(std::string_view key, std::string_view value);
  void erase(std::string_view key);

  // Conventional keys.
  static std::string checkpoint_key(std::string_view source_name) { return "checkpoint." + std::string(source_name); }

  const std::filesystem::path& dir() const noexcept { return dir_; }
  std::filesystem::path file_for(std::string_view key) const;

 private:
  std::filesystem::path dir_;
  std::shared_ptr<StateFileOps> ops_;
  int dir_fd_ = -1;
  int lock_fd_ = -1;
  mutable std::mutex mu_;
};

}  // namespace siem
