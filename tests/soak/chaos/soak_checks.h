// Checks of the chaos soak that are plain functions of what was sampled or received: the size of a
// disk buffer on disk, the trend of sampled RSS, and the order in which a sink received the records
// of each source.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace siem::soak {

// Bytes of the segment files (*.seg) of a disk buffer directory: what counts against its max_size.
inline std::uint64_t segment_bytes(const std::filesystem::path& dir) {
  std::uint64_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".seg") continue;
    std::error_code size_ec;
    const auto size = e.file_size(size_ec);  // a segment deleted meanwhile counts as 0
    if (!size_ec) n += size;
  }
  return n;
}

// Least-squares slope of (seconds, KiB) samples, in KiB per minute; 0 with fewer than two samples.
inline double slope_kib_per_minute(const std::vector<std::pair<double, double>>& samples) {
  if (samples.size() < 2) return 0.0;
  double mx = 0, my = 0;
  for (const auto& [x, y] : samples) mx += x, my += y;
  mx /= static_cast<double>(samples.size());
  my /= static_cast<double>(samples.size());
  double sxy = 0, sxx = 0;
  for (const auto& [x, y] : samples) sxy += (x - mx) * (y - my), sxx += (x - mx) * (x - mx);
  return sxx == 0 ? 0.0 : sxy / sxx * 60.0;
}

// The order in which a sink received each source's records, from position `from` of `received` on.
// Only first deliveries count (an id the sink already had, e.g. a batch resent after a lost
// response, is a duplicate, not a reordering). `source_of` names an id's source (empty: not
// checked); `rank` gives its position in that source's order (nullopt: unknown, not checked).
// Every first delivery must rank above the previous first delivery of the same source.
struct OrderReport {
  std::map<std::string, std::size_t> checked;  // source -> first deliveries checked
  std::vector<std::string> violations;         // the first few, described
  std::size_t violation_count = 0;
};

inline OrderReport check_order_per_source(const std::vector<std::string>& received, std::size_t from,
                                          const std::function<std::string(const std::string&)>& source_of,
                                          const std::function<std::optional<long>(const std::string&)>& rank) {
  OrderReport r;
  std::set<std::string> seen(received.begin(), received.begin() + static_cast<std::ptrdiff_t>(std::min(from, received.size())));
  std::map<std::string, std::pair<long, std::string>> last;  // source -> (rank, id) of its last first delivery
  for (std::size_t i = from; i < received.size(); ++i) {
    const std::string& id = received[i];
    if (!seen.insert(id).second) continue;
    const std::string source = source_of(id);
    const auto k = source.empty() ? std::nullopt : rank(id);
    if (!k) continue;
    ++r.checked[source];
    const auto it = last.find(source);
    if (it != last.end() && *k <= it->second.first) {
      if (++r.violation_count <= 10)
        r.violations.push_back(fmt::format("{} (position {}) arrived after {} of the same source", id, i, it->second.second));
    }
    if (it == last.end() || *k > it->second.first) last[source] = {*k, id};
  }
  return r;
}

}  // namespace siem::soak
