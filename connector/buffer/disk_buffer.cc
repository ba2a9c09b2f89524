#include "connector/buffer/disk_buffer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connector/buffer/buffer_dir.h"
#include "connector/buffer/segment_format.h"
#include "connector/state/state_store.h"

namespace siem {

using namespace buffer_files;
using namespace segment_format;

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
  if (ops_->fdatasync(write_fd_) != 0) {
    // What this segment holds may not be on disk: none of it was acknowledged, the caller appends
    // it again (duplicates at worst), into a new segment.
    const std::string err = errno_text();
    ++io_errors_;
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

void DiskBuffer::cut_partial_write() {
  if (::ftruncate(write_fd_, static_cast<off_t>(segs_.back().end)) != 0) abandon_write_segment();
}

void DiskBuffer::start_segment() {
  close_write_segment();
  const std::uint64_t id = next_id_;  // taken only once created: a retry names the same file
  const std::string name = seg_name(id);
  const std::string path = (dir_ / name).string();
  const int fd = open_file(dir_fd_, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, ops_.get());
  if (fd < 0) {
    ++io_errors_;
    throw std::runtime_error(fmt::format("disk buffer {}: cannot create {}: {}", label_, path, errno_text()));
  }
  std::string header(kMagic);
  header.push_back(static_cast<char>(kBufferFormatVersion));
  try {
    write_all(fd, header, path, ops_.get());
    // The new entry must survive an OS crash with the records synced into it.
    if (ops_->fsync_dir(dir_fd_) != 0)
      throw std::runtime_error(fmt::format("cannot sync the directory {}: {}", dir_.string(), errno_text()));
  } catch (const std::exception& e) {
    ++io_errors_;
    ::close(fd);
    ::unlinkat(dir_fd_, name.c_str(), 0);
    throw std::runtime_error(fmt::format("disk buffer {}: cannot create {}: {}", label_, path, e.what()));
  }
  ++next_id_;
  write_fd_ = fd;
  unsynced_ = true;
  if (segs_.empty()) read_ = commit_ = {id, kHeader, 0};
  segs_.push_back(Segment{id, kHeader, kHeader, 0, {}});
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
      write_all(write_fd_, frame, (dir_ / seg_name(segs_.back().id)).string(), ops_.get());
    } catch (const std::exception& e) {
      ++io_errors_;
      cut_partial_write();  // no partial record stays in front of the next ones
      throw std::runtime_error(fmt::format("disk buffer {}: {}", label_, e.what()));
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
    if (const auto gap = std::find_if(s->gaps.begin(), s->gaps.end(), [&](const auto& g) { return g.first == read_.offset; });
        gap != s->gaps.end()) {
      read_.offset = gap->second;  // corrupt bytes found at start-up (scan_segment)
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
  DiskBufferStats st{pending_, used_, options_.max_size, segs_.size(), dropped_, 0, waiting_ > 0, io_errors_};
  if (pending_ == 0) return st;
  const int fd = open_file(dir_fd_, seg_name(commit_.segment), O_RDONLY);
  if (fd < 0) return st;
  std::uint64_t oldest = commit_.offset;
  for (const auto& s : segs_)
    for (const auto& g : s.gaps)
      if (s.id == commit_.segment && g.first == oldest) oldest = g.second;  // skipped corrupt bytes
  std::array<char, kRecordHeader> h{};
  if (pread_exact(fd, h.data(), h.size(), oldest))
    st.oldest_age_ms = std::max<std::int64_t>(0, now_ms() - static_cast<std::int64_t>(get_le(h.data() + 8, 8)));
  ::close(fd);
  return st;
}

}  // namespace siem
