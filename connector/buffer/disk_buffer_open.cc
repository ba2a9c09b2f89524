// Opening a disk buffer: directories, the start-up scan of every segment, and the cursor.
#include "connector/buffer/disk_buffer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connector/buffer/buffer_dir.h"
#include "connector/buffer/segment_format.h"
#include "connector/state/state_store.h"

namespace siem {

using namespace buffer_files;
using namespace segment_format;

namespace {

constexpr std::string_view kCursorFile = "cursor";
constexpr std::string_view kCursorMagic = "SIEMBUFCURSOR 1";
constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kYear2001Ms = 978'307'200'000;  // no buffer record is older

// How many records the bytes [from, to) held by their length fields, when those lead exactly to
// `to`; nullopt when a corrupt length field makes the count unknowable.
std::optional<std::uint64_t> frames_between(int fd, std::uint64_t from, std::uint64_t to) {
  const auto n = count_frames(fd, from, to);
  std::uint64_t off = from;
  std::array<char, 4> len{};
  for (std::uint64_t i = 0; n && i < *n && off < to; ++i) {
    if (!pread_exact(fd, len.data(), len.size(), off)) return std::nullopt;
    off += kRecordHeader + get_le(len.data(), 4);
  }
  return n && off == to ? n : std::nullopt;
}

}  // namespace

DiskBuffer::DiskBuffer(std::filesystem::path dir, std::string label, DiskBufferOptions options)
    : dir_(std::move(dir)),
      label_(std::move(label)),
      options_(options),
      ops_(options_.file_ops ? options_.file_ops : std::make_shared<StateFileOps>()) {
  if (options_.segment_size == 0)
    options_.segment_size = std::clamp<std::uint64_t>(options_.max_size / 8, 4096, 64ull << 20);
  const int parent = ::open(dir_.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (parent < 0)
    throw std::runtime_error(fmt::format("disk buffer {}: cannot open {}: {}", label_, dir_.parent_path().string(),
                                         errno_text()));
  try {
    dir_fd_ = open_dir(parent, dir_.filename().string());
  } catch (const std::exception& e) {
    ::close(parent);
    throw std::runtime_error(fmt::format("disk buffer {}: {} in {}", label_, e.what(), dir_.parent_path().string()));
  }
  ::close(parent);
  recover();
}

std::unique_ptr<DiskBuffer> DiskBuffer::open_for_sink(const std::filesystem::path& state_dir, const std::string& sink,
                                                      DiskBufferOptions options) {
  if (!valid_name(sink))
    throw std::runtime_error(fmt::format("sink name '{}' cannot name its disk buffer directory: use letters, digits, "
                                         "'.', '_' and '-' only", sink));
  const int state_fd = ::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (state_fd < 0)
    throw std::runtime_error(fmt::format("disk buffer {}: cannot open {}: {}", sink, state_dir.string(), errno_text()));
  int buffers_fd = -1;
  try {
    buffers_fd = open_dir(state_fd, "buffers");
  } catch (const std::exception& e) {
    ::close(state_fd);
    throw std::runtime_error(fmt::format("disk buffer {}: {} in {}", sink, e.what(), state_dir.string()));
  }
  ::close(state_fd);
  ::close(buffers_fd);
  return std::make_unique<DiskBuffer>(state_dir / "buffers" / sink, sink, options);
}

DiskBuffer::~DiskBuffer() {
  if (write_fd_ >= 0) ::close(write_fd_);
  if (read_fd_ >= 0) ::close(read_fd_);
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

std::string DiskBuffer::seg_name(std::uint64_t id) const { return fmt::format("{:020}.seg", id); }

void DiskBuffer::recover() {
  std::vector<std::uint64_t> ids;
  DIR* d = ::fdopendir(::dup(dir_fd_));
  if (d == nullptr) throw std::runtime_error(fmt::format("disk buffer {}: cannot list {}", label_, dir_.string()));
  while (const dirent* e = ::readdir(d)) {
    std::uint64_t id = 0;
    if (parse_segment_name(e->d_name, id)) ids.push_back(id);
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());
  const auto cursor = read_cursor();
  bool cursor_ok = false;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    Segment seg{ids[i], kHeader, 0, 0, {}};
    scan_segment(seg, i + 1 == ids.size(), cursor, cursor_ok);
    next_id_ = ids[i] + 1;
    if (seg.file_bytes == 0) continue;  // set aside
    used_ += seg.file_bytes;
    pending_ += seg.records;
    segs_.push_back(seg);
  }
  place_cursor(cursor, cursor_ok);
  unread_ = pending_;
  read_ = commit_;
  if (pending_ > 0)
    spdlog::info("disk buffer {}: {} event(s) from an earlier run to deliver ({} byte(s) in {} segment(s))", label_,
                 pending_, used_, segs_.size());
}

void DiskBuffer::scan_segment(Segment& seg, bool last, const std::optional<BufferPosition>& cursor,
                              bool& cursor_ok) {
  const std::string name = seg_name(seg.id);
  const int fd = open_file(dir_fd_, name, O_RDONLY);
  if (fd < 0) {
    spdlog::error("disk buffer {}: cannot open segment {}: {}; skipping it", label_, (dir_ / name).string(),
                  errno_text());
    return;
  }
  struct stat st {};
  ::fstat(fd, &st);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  std::array<char, kHeader> h{};
  const bool header_ok = pread_exact(fd, h.data(), h.size(), 0) && std::string_view(h.data(), 7) == kMagic;
  if (!header_ok || static_cast<std::uint8_t>(h[7]) != kBufferFormatVersion) {
    const std::string why = !header_ok ? "has no valid segment header"
                                       : fmt::format("has format version {} (this version reads {}): written by a "
                                                     "newer version",
                                                     static_cast<unsigned>(static_cast<std::uint8_t>(h[7])),
                                                     static_cast<unsigned>(kBufferFormatVersion));
    ::close(fd);
    const std::string aside = name + ".skipped";
    ::renameat(dir_fd_, name.c_str(), dir_fd_, aside.c_str());
    spdlog::error("disk buffer {}: segment {} {}: its {} byte(s) are not delivered; set aside as {}", label_,
                  (dir_ / name).string(), why, size, aside);
    return;
  }
  seg.file_bytes = size;
  std::string payload;
  std::uint64_t off = kHeader;
  std::int64_t last_time = 0;  // append time of the last valid record
  const bool cursor_here = cursor && cursor->segment == seg.id;
  while (true) {
    if (cursor_here && cursor->offset == off && cursor->index == seg.records) cursor_ok = true;
    if (off >= size) break;
    std::int64_t time = 0;
    const std::string why = check_record(fd, off, size, payload, &time);
    if (!why.empty()) {
      // Resynchronise on the next valid record of this segment: appends are in time order, so its
      // append time is at most a day (clock steps) before the last valid one, and not in the future.
      const auto next = find_next_record(fd, off, size, last_time > 0 ? last_time - kDayMs : kYear2001Ms,
                                         now_ms() + kDayMs);
      if (next) {
        const auto lost = frames_between(fd, off, *next);
        spdlog::error("disk buffer {}: segment {}: {} at offset {} (corrupt): skipping the {} byte(s) up to the next "
                      "valid record at offset {}, holding {} event(s) not delivered to this sink; the records "
                      "before and after them are delivered",
                      label_, (dir_ / name).string(), why, off, *next - off, *next,
                      lost ? std::to_string(*lost) : std::string("an unknown number of"));
        seg.gaps.emplace_back(off, *next);
        off = *next;
        continue;
      }
      // Records are fsynced before they are acknowledged: what is skipped here may be past its
      // source's checkpoint, hence lost for this sink; the count says how many.
      const auto lost = count_frames(fd, off, size);
      spdlog::error("disk buffer {}: segment {}: {} at offset {} ({}): skipping the {} byte(s) from there to the "
                    "segment's end, holding {} event(s) not delivered to this sink; the {} record(s) before it{} "
                    "are delivered",
                    label_, (dir_ / name).string(), why, off, last ? "a torn tail, e.g. after a crash" : "corrupt",
                    size - off, lost ? std::to_string(*lost) : std::string("an unknown number of"), seg.records,
                    last ? "" : " and the later segments");
      break;
    }
    off += kRecordHeader + payload.size();
    last_time = time;
    ++seg.records;
  }
  seg.end = off;
  ::close(fd);
}

std::optional<BufferPosition> DiskBuffer::read_cursor() const {
  const int fd = open_file(dir_fd_, std::string(kCursorFile), O_RDONLY);
  if (fd < 0) return std::nullopt;
  std::array<char, 128> buf{};
  const ssize_t n = ::read(fd, buf.data(), buf.size() - 1);
  ::close(fd);
  unsigned long long seg = 0, off = 0, idx = 0;
  const std::string text(buf.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
  if (text.rfind(kCursorMagic, 0) == 0 &&
      std::sscanf(text.c_str() + kCursorMagic.size(), " %llu %llu %llu", &seg, &off, &idx) == 3)
    return BufferPosition{seg, off, idx};
  spdlog::warn("disk buffer {}: unreadable cursor file in {}: delivering the buffer from its start (duplicates "
               "possible)", label_, dir_.string());
  return std::nullopt;
}

void DiskBuffer::place_cursor(const std::optional<BufferPosition>& cursor, bool cursor_ok) {
  commit_ = segs_.empty() ? BufferPosition{next_id_, kHeader, 0} : BufferPosition{segs_.front().id, kHeader, 0};
  if (!cursor) return;
  // New segments must sort after the cursor's, even when every segment was delivered and deleted.
  next_id_ = std::max(next_id_, cursor->segment + 1);
  // Segments before the cursor's were delivered (their deletion was interrupted).
  while (!segs_.empty() && segs_.front().id < cursor->segment) {
    pending_ -= segs_.front().records;
    delete_front();
  }
  if (segs_.empty() || segs_.front().id != cursor->segment) return;  // its segment was delivered and deleted
  if (!cursor_ok) {
    spdlog::warn("disk buffer {}: the cursor is not a record boundary of segment {} (a damaged cursor or segment): "
                 "delivering that segment from its start (duplicates possible)", label_, seg_name(cursor->segment));
    return;
  }
  commit_ = *cursor;
  pending_ -= cursor->index;
}

void DiskBuffer::save_cursor() {
  const std::string tmp = std::string(kCursorFile) + ".tmp";
  const int fd = open_file(dir_fd_, tmp, O_WRONLY | O_CREAT | O_TRUNC);
  if (fd < 0) {
    spdlog::warn("disk buffer {}: cannot write its cursor: {} (delivered events may be sent again after a restart)",
                 label_, errno_text());
    return;
  }
  try {
    write_all(fd, fmt::format("{} {} {} {}\n", kCursorMagic, commit_.segment, commit_.offset, commit_.index), tmp);
  } catch (const std::exception& e) {
    ::close(fd);
    spdlog::warn("disk buffer {}: {} (the previous cursor stays: delivered events may be sent again after a restart)",
                 label_, e.what());
    return;
  }
  ::close(fd);
  ::renameat(dir_fd_, tmp.c_str(), dir_fd_, std::string(kCursorFile).c_str());
}

}  // namespace siem
