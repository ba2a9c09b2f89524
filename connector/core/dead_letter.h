// The dead-letter file: every record that cannot be read, mapped or delivered lands here as one
// NDJSON line with where it came from and why, so nothing is ever dropped silently. A write is
// fsync'ed before the event counts as done. The file is created 0600 and never opened through a
// symbolic link.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace siem {

struct DeadLetter {
  std::string_view stage;    // "read", "map" or "sink:<name>"
  std::string_view source;   // configured source name
  std::string_view origin;   // "file:line", URL#index...
  std::string_view reason;
  std::string_view record;   // the record's original text
};

class DeadLetterWriter {
 public:
  // An empty path keeps dead letters in the log only (used by `map`, which reports on stderr).
  explicit DeadLetterWriter(std::filesystem::path path);
  ~DeadLetterWriter();
  DeadLetterWriter(const DeadLetterWriter&) = delete;
  DeadLetterWriter& operator=(const DeadLetterWriter&) = delete;

  // Appends and syncs. Throws std::runtime_error when the file cannot be written (the pipeline then
  // holds the events rather than lose them).
  void write(const DeadLetter& letter);
  void write(const std::vector<DeadLetter>& letters);

  std::uint64_t count() const noexcept { return count_.load(); }
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  void open_locked();
  std::filesystem::path path_;
  std::mutex mu_;
  int fd_ = -1;
  std::atomic<std::uint64_t> count_{0};
};

}  // namespace siem
