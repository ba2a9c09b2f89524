// Durable, atomic key -> document storage under state_dir: checkpoints, the privileged-principal
// roster, dedupe windows. Each key is one file written as temp + fsync + rename + directory fsync,
// framed with a header and a CRC-32C so a torn or corrupted file is detected and reported, never
// silently treated as "no state".
// state_dir is private (0700, owned by this user; anything else is refused) and every file in it
// is opened relative to the directory opened once, never through a symbolic link; temporary files
// are created exclusively under an unpredictable name.
#pragma once

#include <filesystem>
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

class StateStore {
 public:
  // Creates `dir` (0700) if needed and refuses one that others can reach (files::open_private_dir);
  // takes an exclusive lock file (LOCK, 0600) so two connectors never share a state dir.
  explicit StateStore(std::filesystem::path dir);
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
  int dir_fd_ = -1;
  int lock_fd_ = -1;
  mutable std::mutex mu_;
};

}  // namespace siem
