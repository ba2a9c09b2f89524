// Comparing two mappings of the same record made a moment apart, for tests: a record without a
// time gets the mapping time (epoch milliseconds, e.g. CEF `rt`), so values taken from the wall
// clock while the test ran are read as NOW.
#pragma once

#include <chrono>
#include <cstdint>
#include <regex>
#include <string>

namespace siem::test {

inline std::int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// `text` with every 13-digit epoch-millisecond value between `from_ms` and `to_ms` replaced by NOW.
inline std::string mask_wall_clock(const std::string& text, std::int64_t from_ms, std::int64_t to_ms) {
  static const std::regex epoch_ms{R"(\b\d{13}\b)"};
  std::string out;
  std::size_t at = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), epoch_ms); it != std::sregex_iterator(); ++it) {
    const std::int64_t v = std::stoll(it->str());
    if (v < from_ms || v > to_ms) continue;
    out.append(text, at, static_cast<std::size_t>(it->position()) - at).append("NOW");
    at = static_cast<std::size_t>(it->position() + it->length());
  }
  return out.append(text, at);
}

}  // namespace siem::test
