// The chaos soak's setting and its plain helpers: the configuration's sizes, the sinks' `buffer:`
// entries, the records it writes, the Kafka progress figure, the disk buffer's segments as the
// checker reads them, and the figures it reports. The fixture is soak_fixture.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace siem::soak {

constexpr const char* kTenant = "44444444-4444-4444-4444-444444444444";
constexpr const char* kClient = "55555555-5555-5555-5555-555555555555";
constexpr const char* kSecret = "soak-client-secret";
constexpr const char* kHecToken = "00000000-0000-0000-0000-00000000cafe";
constexpr const char* kTopic = "siem.soak";
constexpr int kKafkaPartitions = 3;

long env_long(const char* name, long fallback);

// ---- the connector's configuration --------------------------------------------------------------

// Queue and batch sizes of the soak's configuration. Small on purpose: they bound the in-flight
// window, hence the duplicates a crash may cause and the memory a dead sink may hold.
constexpr int kQueueEvents = 500;
constexpr int kSinkBufferEvents = 500;
constexpr int kBatchEvents = 100;
constexpr int kGraphPageSize = 100;

// ---- DISK BUFFER: the `buffer:` entry of every sink ------------------------------------------------
// Enabling the per-sink disk buffer (issue 18) for the soak is this one line, e.g.
//   return "{type: disk, max_size: 256MiB, when_full: block, max_events: 500, max_bytes: 8MiB}";
// With a disk buffer the dead-sink phase also requires the other sinks to keep receiving.
std::uint64_t hec_buffer_max_bytes();
std::string sink_buffer_yaml(const std::string& sink);
bool disk_buffered(const std::string& sink);

inline const std::vector<std::string> kSinks = {"hec-out", "syslog-out", "kafka-out"};

// A directory audit with a unique id. `when` is its activity time (Graph: the filter field).
nlohmann::json audit_record(const std::string& id, const std::string& when);

std::int64_t now_us();

// Sum of the high watermarks of the topic (kcat -Q): how many messages the cluster holds,
// duplicates included. Cheap progress figure between checks; the checker reads every message.
// -1 when the cluster does not answer within 10 s.
std::int64_t kafka_high_watermarks(const std::string& bootstraps);

// ---- the disk buffer's segments (layout in connector/buffer/disk_buffer.h) -----------------------
struct SegmentRecord {
  std::uint64_t offset = 0;
  std::string payload;
};

// The complete records of a segment file, walked by their length fields.
std::vector<SegmentRecord> segment_records(const std::filesystem::path& seg);

// The newest segment of a sink's disk buffer (none: empty path).
std::filesystem::path newest_segment(const std::filesystem::path& buffer_dir);

// The soak's record ids named in a buffered event.
std::set<std::string> ids_in(const std::string& payload);

struct SinkReport {
  std::size_t received = 0;                 // messages, duplicates included
  std::map<std::string, int> counts;        // id -> times received
  std::vector<std::string> unexpected;      // ids (or lines) that were never written
  std::vector<std::string> missing;         // expected, neither delivered nor dead-lettered
  std::size_t dead_lettered = 0;
  std::size_t duplicates = 0;               // received - distinct
  int max_copies = 0;                       // most copies of one id
};

// Figures of the connector processes, sampled every second.
struct ResourceFigures {
  std::uint64_t peak_rss_kb = 0;
  std::uint64_t peak_rss_dead_phase_kb = 0;
  std::size_t peak_fds = 0, peak_threads = 0;
  std::size_t samples = 0;
  std::vector<std::pair<double, double>> dead_phase_rss;  // (seconds into the phase, KiB), every second
};

}  // namespace siem::soak
