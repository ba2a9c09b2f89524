#include "connector/buffer/segment_format.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>

#include <fmt/format.h>

#include "connector/buffer/buffer_dir.h"
#include "connector/buffer/disk_buffer.h"

namespace siem::segment_format {

using buffer_files::pread_exact;

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

std::optional<std::uint64_t> count_frames(int fd, std::uint64_t offset, std::uint64_t end) {
  std::uint64_t n = 0;
  std::array<char, 4> len{};
  while (offset < end) {
    ++n;
    if (end - offset < kRecordHeader || !pread_exact(fd, len.data(), len.size(), offset)) break;
    const std::uint64_t l = get_le(len.data(), 4);
    if (l > kMaxBufferRecord) return std::nullopt;
    offset += kRecordHeader + l;
  }
  return n;
}

std::optional<std::uint64_t> find_next_record(int fd, std::uint64_t from, std::uint64_t end, std::int64_t min_time_ms,
                                              std::int64_t max_time_ms) {
  constexpr std::uint64_t kChunk = 64 << 10;
  std::string chunk, payload;
  int candidates = 0;
  // Chunks overlap by a record header, so every offset's header is seen whole in one of them.
  for (std::uint64_t base = from + 1; base + kRecordHeader <= end; base += kChunk) {
    const std::uint64_t n = std::min<std::uint64_t>(kChunk + kRecordHeader - 1, end - base);
    chunk.resize(n);
    if (!pread_exact(fd, chunk.data(), n, base)) return std::nullopt;
    for (std::uint64_t i = 0; i < kChunk && i + kRecordHeader <= n; ++i) {
      const std::uint64_t at = base + i;
      const std::uint64_t len = get_le(chunk.data() + i, 4);
      const auto time = static_cast<std::int64_t>(get_le(chunk.data() + i + 8, 8));
      if (len > kMaxBufferRecord || len > end - at - kRecordHeader || time < min_time_ms || time > max_time_ms) continue;
      if (++candidates > kMaxResyncCandidates) return std::nullopt;
      if (check_record(fd, at, end, payload, nullptr).empty()) return at;
    }
  }
  return std::nullopt;
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

}  // namespace siem::segment_format
