// The bytes of a disk buffer segment (see disk_buffer.h for the layout): header constants, the
// little-endian fields, the CRC-32 of a record, and the checked read of one record.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace siem::segment_format {

constexpr std::string_view kMagic = "SIEMBUF";  // + version byte = 8-byte segment header
constexpr std::uint64_t kHeader = 8;
constexpr std::uint64_t kRecordHeader = 16;

void put_le(char* out, std::uint64_t v, int bytes);
std::uint64_t get_le(const char* in, int bytes);
// zlib's CRC-32 over the append time (8 bytes) and the payload.
std::uint32_t record_crc(const char* time8, std::string_view payload);
std::int64_t now_ms();
// Why the record at `offset` of a segment whose valid bytes end at `end` cannot be read, or empty
// when it can (payload filled, and the append time when `time_ms` is set).
std::string check_record(int fd, std::uint64_t offset, std::uint64_t end, std::string& payload, std::int64_t* time_ms);
// How many records the bytes [offset, end) of a segment hold by their length fields (a record cut
// short counts as one), checksums not checked; nullopt when a length field is impossible, i.e. the
// count cannot be known.
std::optional<std::uint64_t> count_frames(int fd, std::uint64_t offset, std::uint64_t end);
// Resynchronisation after a corrupt record at `from`: the offset of the first record after it,
// before `end`, whose length fits, whose append time lies in [min_time_ms, max_time_ms] and whose
// checksum matches; nullopt when there is none. Bounded: the scan reads [from, end) once in
// chunks and checks at most kMaxResyncCandidates payloads. Records have no sync marker, so the
// time window is what makes a false match in random bytes negligible (with the CRC-32, about
// 2^-32 times 10^-11 per offset); see docs/sinks.md, "Start-up and damage".
constexpr int kMaxResyncCandidates = 4096;
std::optional<std::uint64_t> find_next_record(int fd, std::uint64_t from, std::uint64_t end, std::int64_t min_time_ms,
                                              std::int64_t max_time_ms);
// "<20 digits>.seg" -> id (never 0).
bool parse_segment_name(const char* name, std::uint64_t& id);

}  // namespace siem::segment_format
