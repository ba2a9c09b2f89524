#include "tests/soak/chaos/soak_support.h"

#include <cstdlib>
#include <chrono>
#include <sstream>

#include <fmt/format.h>

#include "tests/component/kafka/kafka_test_support.h"
#include "tests/support/audit_record.h"
#include "tests/support/connector_process.h"

namespace siem::soak {

namespace fs = std::filesystem;
using nlohmann::json;
using siem::test::slurp;

long env_long(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtol(v, nullptr, 10) : fallback;
}

std::uint64_t hec_buffer_max_bytes() {
  return static_cast<std::uint64_t>(env_long("SIEM_SOAK_HEC_BUFFER_MB", 256)) << 20;
}
std::string sink_buffer_yaml(const std::string& sink) {
  // HEC, the sink the soak kills for a whole phase, spools to disk: its outage must not hold back
  // the other sinks, and its buffer must survive every SIGKILL. max_size must hold the whole
  // outage (about 1.7 KiB per soak event on disk; the long form's 10 minutes took 56 MiB).
  if (sink == "hec-out")
    return fmt::format("{{type: disk, max_size: {}MiB, when_full: block, max_events: 500, max_bytes: 8MiB}}",
                       hec_buffer_max_bytes() >> 20);
  return "{max_events: 500, max_bytes: 8MiB}";
}
bool disk_buffered(const std::string& sink) { return sink_buffer_yaml(sink).find("type: disk") != std::string::npos; }

json audit_record(const std::string& id, const std::string& when) {
  json r = siem::test::directory_audit(id, "RoleManagement", "Add member to role", when, "soak@contoso.example");
  r["correlationId"] = "0d8f6a1e-0000-4000-8000-000000000000";
  r["operationType"] = "Assign";
  return r;
}

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::int64_t kafka_high_watermarks(const std::string& bootstraps) {
  std::string cmd = "timeout -k 2 10 kcat -Q -b '" + bootstraps + "' -X log_level=0";
  for (int p = 0; p < kKafkaPartitions; ++p) cmd += fmt::format(" -t {}:{}:-1", kTopic, p);
  int status = 0;
  const std::string out = siem::testing::run_command(cmd + " 2>/dev/null", &status);
  if (status != 0) return -1;
  std::int64_t sum = 0;
  int found = 0;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) {
    const auto at = l.find(" offset ");
    if (at == std::string::npos) continue;
    sum += std::stoll(l.substr(at + 8));
    ++found;
  }
  return found == kKafkaPartitions ? sum : -1;
}

// The complete records of a segment file, walked by their length fields.
std::vector<SegmentRecord> segment_records(const fs::path& seg) {
  const std::string bytes = slurp(seg);
  std::vector<SegmentRecord> out;
  std::uint64_t off = 8;  // "SIEMBUF" + version
  for (int i = 0; i < 10'000'000 && off + 16 <= bytes.size(); ++i) {
    std::uint64_t len = 0;
    for (int b = 3; b >= 0; --b) len = (len << 8) | static_cast<unsigned char>(bytes[off + static_cast<std::uint64_t>(b)]);
    if (off + 16 + len > bytes.size()) break;
    out.push_back({off, bytes.substr(off + 16, len)});
    off += 16 + len;
  }
  return out;
}

// The newest segment of a sink's disk buffer (none: empty path).
fs::path newest_segment(const fs::path& buffer_dir) {
  fs::path newest;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(buffer_dir, ec))
    if (e.path().extension() == ".seg" && (newest.empty() || e.path().filename() > newest.filename())) newest = e.path();
  return newest;
}

// The soak's record ids named in a buffered event.
std::set<std::string> ids_in(const std::string& payload) {
  std::set<std::string> out;
  for (const std::string prefix : {"soak-file-", "soak-graph-"})
    for (auto p = payload.find(prefix); p != std::string::npos; p = payload.find(prefix, p + 1))
      out.insert(payload.substr(p, prefix.size() + 6));
  return out;
}

}  // namespace siem::soak
