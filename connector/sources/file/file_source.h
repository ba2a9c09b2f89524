// `type: file` — reads records from a file that may keep growing: one JSON record per line, Graph /
// ARM list documents or Event Hubs envelopes (RecordReader). The checkpoint is the byte offset plus
// the file's identity (device, inode and a fingerprint of its first bytes), so a restart neither
// repeats nor skips, and a rotated or truncated file is detected and read from its start.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "connector/core/record_reader.h"
#include "connector/core/record_text.h"
#include "connector/core/registry.h"
#include "connector/core/source.h"

namespace siem {

struct FileSourceOptions {
  std::filesystem::path path;
  std::chrono::milliseconds poll_interval{1'000};
  std::size_t read_chunk = 2u << 20;        // bytes read per poll
  // A line or document longer than this goes to the dead-letter file and is skipped without being
  // held: the read buffer never grows past max(read_chunk, max_record_bytes + 1).
  std::size_t max_record_bytes = 16u << 20;
  std::size_t max_batch_records = 1'000;
  // Records are views into the read block they were split from (no copy per record) while the
  // blocks still alive (held by records and events not yet delivered) total at most
  // `shared_blocks_bytes`; past it, or for a read that filled less than half of its block, each
  // record is copied out and the block freed at once. Bounds what slow events can pin.
  bool share_blocks = true;
  std::size_t shared_blocks_bytes = 16u << 20;
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
    // Inside a top-level JSON array at offset (read in pieces): which element comes next. The
    // offset is then right after an element (or the '['), so a restart reads on from there.
    ArrayCursor array;
  };
  static std::string encode(const Position& p);
  static Position decode(const std::string& token);  // throws SourceError when malformed

  // The size of the read buffer the next poll allocates (it grows for a document larger than a
  // read, up to the bound above).
  std::size_t read_buffer_bytes() const noexcept { return options_.read_chunk; }

 private:
  // A document over max_record_bytes being passed over, from `line` on; `next` is the offset of
  // the next byte to look at. Nothing is committed until its end is found.
  struct Skip {
    OversizeSkip scan;
    std::uint64_t line = 0;
    std::uint64_t next = 0;
    std::string prefix;  // its first bytes, for the dead-letter file
  };
  bool reopen_if_changed();
  void skip_oversize(std::string_view piece, bool at_eof, SourceBatch& batch);
  std::string name_;
  FileSourceOptions options_;
  Position pos_;
  std::optional<Skip> skip_;
  std::shared_ptr<ReadBlock::Budget> blocks_;  // the bytes of this source's read blocks alive
  bool idle_last_poll_ = false;
  std::size_t last_records_ = 0;  // records the last poll split: the next batch's vector is reserved for as many
  bool once_ = false;
};

void register_file_source(PluginRegistry& registry);

}  // namespace siem
