// `type: file` — reads records from a file that may keep growing: one JSON record per line, Graph /
// ARM list documents or Event Hubs envelopes (RecordReader). The checkpoint is the byte offset plus
// the file's identity (device, inode and a fingerprint of its first bytes), so a restart neither
// repeats nor skips, and a rotated or truncated file is detected and read from its start.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "connector/core/registry.h"
#include "connector/core/source.h"

namespace siem {

struct FileSourceOptions {
  std::filesystem::path path;
  std::chrono::milliseconds poll_interval{1'000};
  std::size_t read_chunk = 4u << 20;        // bytes read per poll
  std::size_t max_batch_records = 1'000;
  SourceKind kind_hint = SourceKind::unknown;
};

class FileSource final : public Source {
 public:
  FileSource(std::string name, FileSourceOptions options);
  void start(const std::optional<std::string>& checkpoint) override;
  SourceBatch poll(std::stop_token stop) override;
  // Under --once the file is read as it is: an unterminated last line is a read error (dead letter
  // with its reason), not a record still being written.
  void set_run_once() override { once_ = true; }

  struct Position {
    std::uint64_t dev = 0, ino = 0;
    std::string fingerprint;  // hex of a hash of the first up-to-256 bytes
    std::uint64_t offset = 0;
    std::uint64_t line = 1;   // line number at offset
  };
  static std::string encode(const Position& p);
  static Position decode(const std::string& token);  // throws SourceError when malformed

 private:
  bool reopen_if_changed();
  std::string name_;
  FileSourceOptions options_;
  Position pos_;
  bool idle_last_poll_ = false;
  bool once_ = false;
};

void register_file_source(PluginRegistry& registry);

}  // namespace siem
