#include "connector/buffer/disk_buffer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connector/buffer/buffer_dir.h"

namespace siem {

using namespace buffer_files;

namespace {

constexpr std::string_view kMagic = "SIEMBUF";  // + version byte = 8-byte segment header
constexpr std::uint64_t kHeader = 8;
constexpr std::uint64_t kRecordHeader = 16;
constexpr std::string_view kCursorFile = "cursor";
constexpr std::string_view kCursorMagic = "SIEMBUFCURSOR 1";

void put_le(char* out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xFFU);
}
std::uint64_t get_le(const char* in, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

// zlib's CRC-32 over the append time and the payload.
std::uint32_t record_crc(const char* time8, std::string_view payload) {
  uLong c = ::crc32(0L, Z_NULL, 0);
  c = ::crc32(c, reinterpret_cast<const Bytef*>(time8), 8);
  c = ::crc32_z(c, reinterpret_cast<const Bytef*>(payload.data()), payload.size());
  return static_cast<std::uint32_t>(c);
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Why the record at `offset` cannot be read, or empty when it can (payload and time filled).
std::string check_record(int fd, std::uint64_t offset, std::uint64_t end, std::string& payload, std::int64_t* time_ms) {
  if (end - offset < kRecordHeader) return "a truncated record header";
  std::array<char, kRecordHeader> h{};
  if (!pread_exact(fd, h.data(), h.size(), offset)) return "a short read";
  const std::uint64_t len = get_le(h.data(), 4);
  if (len > kMaxBufferRecord) return fmt::format("an impossible record length {}", len);
  if (end - offset - kRecordHeader < len) return fmt::format("a truncated record ({} byte(s) announced)", len);
  payload.resize(len);
  if (len > 0 && !pread_exact(fd, payload.data(), len, offset + kRecordHeader)) return "a short read";
  if (record_crc(h.data() + 8, payload) != static_cast<std::uint32_t>(get_le(h.data() + 4, 4)))
    return "a checksum mismatch";
  if (time_ms != nullptr) *time_ms = static_cast<std::int64_t>(get_le(h.data() + 8, 8));
  return {};
}

bool parse_segment_name(const char* name, std::uint64_t& id) {
  const std::string_view n(name);
  if (n.size() != 24 || n.substr(20) != ".seg") return false;
  id = 0;
  for (char c : n.substr(0, 20)) {
    if (c < '0' || c > '9') return false;
    if (id > (UINT64_MAX - 9) / 10) return false;
    id = id * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return id != 0;
}

}  // namespace

DiskBuffer::DiskBuffer(std::filesystem::path dir, std::string label, DiskBufferOptions options)
    : dir_(std::move(dir)), label_(std::move(label)), options_(options) {
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
    Segment seg{ids[i], kHeader, 0, 0};
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
  const bool cursor_here = cursor && cursor->segment == seg.id;
  while (true) {
    if (cursor_here && cursor->offset == off && cursor->index == seg.records) cursor_ok = true;
    if (off >= size) break;
    const std::string why = check_record(fd, off, size, payload, nullptr);
    if (!why.empty()) {
      spdlog::error("disk buffer {}: segment {}: {} at offset {} ({}): skipping the {} byte(s) from there to the "
                    "segment's end; the {} record(s) before it{} are delivered",
                    label_, (dir_ / name).string(), why, off, last ? "a torn tail, e.g. after a crash" : "corrupt",
                    size - off, seg.records, last ? "" : " and the later segments");
      break;
    }
    off += kRecordHeader + payload.size();
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
    spdlog::warn("disk buffer {}: {}", label_, e.what());
  }
  ::close(fd);
  ::renameat(dir_fd_, tmp.c_str(), dir_fd_, std::string(kCursorFile).c_str());
}

DiskBuffer::Segment* DiskBuffer::find(std::uint64_t id) {
  for (auto& s : segs_)
    if (s.id == id) return &s;
  return nullptr;
}

bool DiskBuffer::fits(std::uint64_t need) const { return pending_ == 0 || used_ + need <= options_.max_size; }

void DiskBuffer::delete_front() {
  const Segment s = segs_.front();
  if (write_fd_ >= 0 && segs_.size() == 1) {  // deleted anyway: no sync (and nothing to throw)
    ::close(write_fd_);
    write_fd_ = -1;
    unsynced_ = false;
  }
  if (read_fd_ >= 0 && read_fd_seg_ == s.id) {
    ::close(read_fd_);
    read_fd_ = -1;
  }
  ::unlinkat(dir_fd_, seg_name(s.id).c_str(), 0);
  used_ -= s.file_bytes;
  segs_.pop_front();
  const BufferPosition next = segs_.empty() ? BufferPosition{next_id_, kHeader, 0}
                                            : BufferPosition{segs_.front().id, kHeader, 0};
  if (commit_.segment <= s.id) commit_ = next;
  if (read_.segment <= s.id) read_ = next;
}

void DiskBuffer::close_write_segment() {
  if (write_fd_ < 0) return;
  sync_write();
  ::close(write_fd_);
  write_fd_ = -1;
}

void DiskBuffer::sync_write() {
  if (write_fd_ < 0 || !unsynced_) return;
  if (::fdatasync(write_fd_) != 0) {
    // What this segment holds may not be on disk: none of it was acknowledged, the caller appends
    // it again (duplicates at worst), into a new segment.
    const std::string err = errno_text();
    abandon_write_segment();
    throw std::runtime_error(fmt::format("disk buffer {}: cannot sync {}: {}", label_, dir_.string(), err));
  }
  unsynced_ = false;
}

void DiskBuffer::abandon_write_segment() {
  if (write_fd_ < 0) return;
  if (::ftruncate(write_fd_, static_cast<off_t>(segs_.back().end)) != 0)
    spdlog::warn("disk buffer {}: cannot cut a partial record off {}: {}", label_, seg_name(segs_.back().id),
                 errno_text());
  ::close(write_fd_);
  write_fd_ = -1;
  unsynced_ = false;
}

void DiskBuffer::start_segment() {
  close_write_segment();
  const std::uint64_t id = next_id_++;
  const std::string name = seg_name(id);
  const int fd = open_file(dir_fd_, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND);
  if (fd < 0)
    throw std::runtime_error(
        fmt::format("disk buffer {}: cannot create {}: {}", label_, (dir_ / name).string(), errno_text()));
  std::string header(kMagic);
  header.push_back(static_cast<char>(kBufferFormatVersion));
  write_all(fd, header, name);
  ::fsync(dir_fd_);  // the new entry survives an OS crash with the records synced into it
  write_fd_ = fd;
  unsynced_ = true;
  if (segs_.empty()) read_ = commit_ = {id, kHeader, 0};
  segs_.push_back(Segment{id, kHeader, kHeader, 0});
  used_ += kHeader;
}

bool DiskBuffer::drop_oldest_segment() {
  if (segs_.empty()) return false;
  Segment& s = segs_.front();
  const std::uint64_t unread_here = read_.segment == s.id ? s.records - read_.index : s.records;
  const std::uint64_t pending_here = commit_.segment == s.id ? s.records - commit_.index : s.records;
  spdlog::warn("disk buffer {}: full ({} of {} byte(s)), when_full drop_oldest: dropping segment {} with {} "
               "undelivered event(s)", label_, used_, options_.max_size, seg_name(s.id), unread_here);
  dropped_ += unread_here;
  unread_ -= unread_here;
  pending_ -= pending_here;
  delete_front();
  return true;
}

void DiskBuffer::make_room(std::uint64_t need, std::unique_lock<std::mutex>& lock, bool& drop_this) {
  while (!fits(need) && !interrupted_) {
    switch (options_.when_full) {
      case WhenFull::block:
        sync_write();  // what is written so far is readable and durable while this waits
        ++waiting_;
        room_cv_.wait(lock, [&] { return interrupted_ || fits(need); });
        --waiting_;
        break;
      case WhenFull::drop_newest:
        drop_this = true;
        return;
      case WhenFull::drop_oldest:
        if (!drop_oldest_segment()) return;
        break;
    }
  }
}

AppendResult DiskBuffer::append(std::span<const std::string> records) {
  std::unique_lock lock(mu_);
  AppendResult r;
  std::size_t full_drops = 0;
  std::string frame;
  for (const auto& rec : records) {
    const std::uint64_t need = kRecordHeader + rec.size() + kHeader;
    bool drop = rec.size() > kMaxBufferRecord;
    if (drop) spdlog::error("disk buffer {}: an event of {} byte(s) is too large to buffer; dropped", label_, rec.size());
    if (!drop) {
      make_room(need, lock, drop);
      if (drop) ++full_drops;
    }
    if (interrupted_ && !drop) break;
    if (drop) {
      ++r.dropped;
      ++dropped_;
      ++r.handled;
      continue;
    }
    if (pending_ == 0 && (segs_.size() > 1 || used_ > options_.segment_size)) {
      while (!segs_.empty()) delete_front();  // everything was delivered: start afresh
    }
    if (write_fd_ < 0 || (segs_.back().records > 0 && segs_.back().end + need - kHeader > options_.segment_size))
      start_segment();
    frame.resize(kRecordHeader);
    put_le(frame.data(), rec.size(), 4);
    put_le(frame.data() + 8, static_cast<std::uint64_t>(now_ms()), 8);
    put_le(frame.data() + 4, record_crc(frame.data() + 8, rec), 4);
    frame += rec;
    try {
      write_all(write_fd_, frame, (dir_ / seg_name(segs_.back().id)).string());
    } catch (...) {
      abandon_write_segment();  // no partial record stays in front of the next ones
      throw;
    }
    unsynced_ = true;
    Segment& s = segs_.back();
    s.end += frame.size();
    s.file_bytes += frame.size();
    ++s.records;
    used_ += frame.size();
    ++pending_;
    ++unread_;
    ++r.handled;
  }
  sync_write();
  if (full_drops > 0)
    spdlog::warn("disk buffer {}: full ({} of {} byte(s)), when_full drop_newest: dropped {} new event(s) ({} in all)",
                 label_, used_, options_.max_size, full_drops, dropped_);
  data_cv_.notify_all();
  return r;
}

int DiskBuffer::read_fd_for(std::uint64_t id) {
  if (read_fd_ >= 0 && read_fd_seg_ == id) return read_fd_;
  if (read_fd_ >= 0) ::close(read_fd_);
  read_fd_ = open_file(dir_fd_, seg_name(id), O_RDONLY);
  read_fd_seg_ = id;
  return read_fd_;
}

bool DiskBuffer::read_one(std::string& payload, std::int64_t* append_ms) {
  while (true) {
    Segment* s = find(read_.segment);
    if (s == nullptr) return false;
    if (read_.offset >= s->end) {
      if (s == &segs_.back()) return false;
      const auto it = std::find_if(segs_.begin(), segs_.end(), [&](const Segment& x) { return x.id > s->id; });
      read_ = {it->id, kHeader, 0};
      continue;
    }
    const int fd = read_fd_for(s->id);
    const std::string why = fd < 0 ? "cannot open: " + errno_text() : check_record(fd, read_.offset, s->end, payload, append_ms);
    if (why.empty()) {
      read_.offset += kRecordHeader + payload.size();
      ++read_.index;
      return true;
    }
    const std::uint64_t lost = s->records - read_.index;
    spdlog::error("disk buffer {}: segment {}: {} at offset {} while reading: skipping its {} remaining event(s)",
                  label_, (dir_ / seg_name(s->id)).string(), why, read_.offset, lost);
    if (s == &segs_.back()) abandon_write_segment();
    s->end = read_.offset;
    s->records = read_.index;
    unread_ -= lost;
    pending_ -= lost;
  }
}

std::vector<BufferedRecord> DiskBuffer::read(std::size_t max_records, std::size_t max_bytes,
                                             std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  data_cv_.wait_for(lock, wait, [&] { return interrupted_ || unread_ > 0; });
  std::vector<BufferedRecord> out;
  std::size_t bytes = 0;
  std::string payload;
  while (!interrupted_ && unread_ > 0 && out.size() < max_records && (out.empty() || bytes < max_bytes)) {
    if (!read_one(payload, nullptr)) break;
    --unread_;
    bytes += payload.size();
    out.push_back(BufferedRecord{payload, read_});
  }
  return out;
}

std::uint64_t DiskBuffer::records_between(const BufferPosition& from, const BufferPosition& to) {
  std::uint64_t n = 0;
  for (const auto& s : segs_) {
    if (s.id < from.segment || s.id > to.segment) continue;
    const std::uint64_t first = s.id == from.segment ? from.index : 0;
    const std::uint64_t last = s.id == to.segment ? to.index : s.records;
    if (last > first) n += last - first;
  }
  return n;
}

void DiskBuffer::commit(const BufferPosition& end) {
  std::lock_guard lock(mu_);
  if (segs_.empty() || end.segment < commit_.segment ||
      (end.segment == commit_.segment && end.index <= commit_.index))
    return;  // dropped meanwhile (drop_oldest), or nothing new
  pending_ -= std::min(pending_, records_between(commit_, end));
  commit_ = end;
  while (!segs_.empty() && segs_.front().id < commit_.segment) delete_front();
  // A finished segment no longer written to is deleted at once.
  while (!segs_.empty() && commit_.segment == segs_.front().id && commit_.offset >= segs_.front().end &&
         (segs_.size() > 1 || write_fd_ < 0))
    delete_front();
  save_cursor();
  room_cv_.notify_all();
}

void DiskBuffer::rewind() {
  std::lock_guard lock(mu_);
  unread_ = pending_;
  read_ = commit_;
}

void DiskBuffer::interrupt() {
  std::lock_guard lock(mu_);
  interrupted_ = true;
  room_cv_.notify_all();
  data_cv_.notify_all();
}

std::uint64_t DiskBuffer::pending() const {
  std::lock_guard lock(mu_);
  return pending_;
}

DiskBufferStats DiskBuffer::stats() const {
  std::lock_guard lock(mu_);
  DiskBufferStats st{pending_, used_, options_.max_size, segs_.size(), dropped_, 0, waiting_ > 0};
  if (pending_ == 0) return st;
  const int fd = open_file(dir_fd_, seg_name(commit_.segment), O_RDONLY);
  if (fd < 0) return st;
  std::array<char, kRecordHeader> h{};
  if (pread_exact(fd, h.data(), h.size(), commit_.offset))
    st.oldest_age_ms = std::max<std::int64_t>(0, now_ms() - static_cast<std::int64_t>(get_le(h.data() + 8, 8)));
  ::close(fd);
  return st;
}

}  // namespace siem
