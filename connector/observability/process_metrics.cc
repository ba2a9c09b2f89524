#include "connector/observability/process_metrics.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

namespace siem::observability {

namespace {

// Resident set size from /proc/self/statm (second field, in pages); 0 when unreadable.
double rss_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "re");
  if (!f) return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return n == 2 ? static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) : 0;
}

// Entries of /proc/self/fd (bounded: the count stops at 1,000,000).
double open_fds() {
  std::error_code ec;
  std::size_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end && n < 1'000'000;
       it.increment(ec))
    ++n;
  return static_cast<double>(n);
}

}  // namespace

void write_process_metrics(Exposition& x, double start_time) {
  x.family("process_resident_memory_bytes", Exposition::Type::gauge, "Resident memory size in bytes.");
  x.sample({}, rss_bytes());
  x.family("process_open_fds", Exposition::Type::gauge, "Number of open file descriptors.");
  x.sample({}, open_fds());
  x.family("process_max_fds", Exposition::Type::gauge, "Maximum number of open file descriptors.");
  x.sample({}, static_cast<double>(sysconf(_SC_OPEN_MAX)));
  x.family("process_start_time_seconds", Exposition::Type::gauge,
           "Start time of the process since the Unix epoch in seconds.");
  x.sample({}, start_time);
}

void write_build_info(Exposition& x, std::string_view version, std::string_view revision) {
  x.family("siem_build_info", Exposition::Type::gauge, "Always 1; the labels name the build.");
  x.sample({{"version", version}, {"revision", revision}}, 1);
}

}  // namespace siem::observability
