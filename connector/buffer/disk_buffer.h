// A segmented on-disk queue of opaque records: the disk buffer of one sink, in
// state_dir/buffers/<sink>/. Appends are fsynced before append() returns, so a record the caller
// acknowledges survives a process crash (kill -9) and an OS crash alike. Reading and committing are
// separate: a batch is read, delivered, then committed; only committed records are forgotten.
//
// Files (all 0600 in a 0700 directory, opened with O_NOFOLLOW | O_CLOEXEC):
//   <20-digit id>.seg  "SIEMBUF" + format version byte, then records:
//                      u32 length | u32 crc32 (zlib) of the next 8 + length bytes | u64 append time
//                      (ms since the epoch) | payload          (integers little-endian)
//   cursor             "SIEMBUFCURSOR 1 <segment> <offset> <index>\n": the first record not yet
//                      delivered; replaced by rename after every committed batch (not fsynced: an
//                      OS crash can only make it older, i.e. cause duplicates, never a loss).
// Segments left by an earlier run are read-only; appends always go to a segment created by this
// run. On open every segment is checked record by record: a corrupt record is skipped up to the
// next valid record of the segment (segment_format::find_next_record), or, when none follows (a
// torn tail), ends the segment; each is logged with the bytes and events skipped, and the rest,
// the next segments included, is delivered.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace siem {

class StateFileOps;

enum class WhenFull { block, drop_newest, drop_oldest };

struct DiskBufferOptions {
  std::uint64_t max_size = 1ull << 30;  // bytes of segment files on disk
  std::uint64_t segment_size = 0;       // 0: max_size / 8, within [4 KiB, 64 MiB]
  WhenFull when_full = WhenFull::block;
  // The system calls that write segments (connector/state's seam); nullptr: the system's. Tests
  // make them fail (ENOSPC, EIO).
  std::shared_ptr<StateFileOps> file_ops;
};

// A place in the queue: segment id, byte offset in it, and how many records precede it there.
struct BufferPosition {
  std::uint64_t segment = 0;
  std::uint64_t offset = 0;
  std::uint64_t index = 0;
};

struct BufferedRecord {
  std::string data;
  BufferPosition end;  // commit this to forget the record (and every one before it)
};

struct AppendResult {
  std::size_t handled = 0;  // leading records made durable or dropped; fewer only after interrupt()
  std::size_t dropped = 0;  // of those, records dropped (drop_newest, or too large to store)
};

struct DiskBufferStats {
  std::uint64_t records = 0;      // not yet delivered
  std::uint64_t bytes = 0;        // segment files on disk
  std::uint64_t max_size = 0;
  std::uint64_t segments = 0;
  std::uint64_t dropped = 0;      // since start (drop_newest / drop_oldest / too large)
  std::int64_t oldest_age_ms = 0; // age of the oldest record not yet delivered, 0 when empty
  bool blocked = false;           // an append waits for room (when_full: block)
  std::uint64_t io_errors = 0;    // since start: appends that failed (write, sync or a new segment)
};

constexpr std::uint32_t kMaxBufferRecord = 64u << 20;  // a longer length field is corruption
constexpr std::uint8_t kBufferFormatVersion = 1;

class DiskBuffer {
 public:
  // Opens or creates `dir` (its parent must exist) and recovers what an earlier run left. `label`
  // names the buffer in logs (the sink name). Throws std::runtime_error when the directory cannot
  // be used.
  DiskBuffer(std::filesystem::path dir, std::string label, DiskBufferOptions options);
  // The buffer of sink `sink` in state_dir/buffers/<sink> (both directories created 0700). Throws
  // std::runtime_error when the name cannot name a directory or the directories cannot be used.
  static std::unique_ptr<DiskBuffer> open_for_sink(const std::filesystem::path& state_dir, const std::string& sink,
                                                   DiskBufferOptions options);
  ~DiskBuffer();
  DiskBuffer(const DiskBuffer&) = delete;
  DiskBuffer& operator=(const DiskBuffer&) = delete;

  // Appends in order and fsyncs. When full: block waits for commit() to free room, drop_newest
  // drops the incoming record, drop_oldest deletes the oldest segment. Throws on I/O errors
  // (ENOSPC, EIO: the message names the file): then no record of the call counts as handled (the
  // caller appends them all again; some may then be stored twice), a partial record is cut off,
  // and after a failed sync the next append starts a new segment.
  AppendResult append(std::span<const std::string> records);

  // Up to max_records / max_bytes (at least one record when any) after the last read, waiting at
  // most `wait` for the first. Empty when none came or after interrupt().
  std::vector<BufferedRecord> read(std::size_t max_records, std::size_t max_bytes, std::chrono::milliseconds wait);
  // Every record up to `end` was delivered: forget them, delete finished segments, save the cursor.
  void commit(const BufferPosition& end);
  // Reading starts again at the first record not committed (after a failed delivery).
  void rewind();

  // Ends every wait: append() returns what it handled so far, read() returns empty.
  void interrupt();

  std::uint64_t pending() const;  // records not yet committed
  DiskBufferStats stats() const;
  const std::filesystem::path& dir() const noexcept { return dir_; }

 private:
  struct Segment {
    std::uint64_t id = 0;
    std::uint64_t end = 0;         // end of the valid records
    std::uint64_t file_bytes = 0;  // size on disk (counted against max_size)
    std::uint64_t records = 0;
    // Corrupt bytes found at start-up and skipped to the next valid record: [from, to) offsets.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> gaps;
  };

  void recover();
  // `cursor_ok` is set when the cursor is a record boundary of this segment.
  void scan_segment(Segment& seg, bool last, const std::optional<BufferPosition>& cursor, bool& cursor_ok);
  std::optional<BufferPosition> read_cursor() const;
  void place_cursor(const std::optional<BufferPosition>& cursor, bool cursor_ok);
  void save_cursor();
  bool fits(std::uint64_t need) const;
  void make_room(std::uint64_t need, std::unique_lock<std::mutex>& lock, bool& drop_this);
  bool drop_oldest_segment();
  void start_segment();
  void close_write_segment();
  void abandon_write_segment();  // after a failed write or sync: cut the partial tail, close
  void cut_partial_write();      // after a failed write: cut the partial record, keep the segment
  void delete_front();
  void sync_write();
  Segment* find(std::uint64_t id);
  int read_fd_for(std::uint64_t id);
  bool read_one(std::string& payload, std::int64_t* append_ms);
  std::uint64_t records_between(const BufferPosition& from, const BufferPosition& to);
  std::string seg_name(std::uint64_t id) const;

  const std::filesystem::path dir_;
  const std::string label_;
  DiskBufferOptions options_;
  std::shared_ptr<StateFileOps> ops_;
  int dir_fd_ = -1;
  int write_fd_ = -1;             // open on segs_.back() when this run created it
  bool unsynced_ = false;
  int read_fd_ = -1;
  std::uint64_t read_fd_seg_ = 0;
  std::uint64_t next_id_ = 1;

  mutable std::mutex mu_;
  std::condition_variable room_cv_, data_cv_;
  std::deque<Segment> segs_;
  BufferPosition read_, commit_;
  std::uint64_t used_ = 0;       // sum of file_bytes
  std::uint64_t pending_ = 0;    // records not committed
  std::uint64_t unread_ = 0;     // records not read yet
  std::uint64_t dropped_ = 0;
  std::uint64_t io_errors_ = 0;
  bool interrupted_ = false;
  int waiting_ = 0;               // appends waiting for room
};

}  // namespace siem
