// Scalar parsing for config values: durations and byte sizes (timestamps: parse_rfc3339_ms in
// connector/record/time_parse.h, the parser the mapping engine uses too).
#include "connector/config/config_internal.h"

#include <cctype>
#include <charconv>
#include <chrono>
#include <map>

#include <fmt/format.h>

namespace siem {

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  const std::string s = trim(text);
  if (s.empty()) return std::nullopt;
  // Bare number: seconds.
  {
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size()) {
      if (v < 0) return std::nullopt;
      return std::chrono::milliseconds(static_cast<std::int64_t>(v * 1000.0 + 0.5));
    }
  }
  double total_ms = 0;
  std::size_t i = 0;
  bool any = false;
  while (i < s.size()) {
    double v = 0;
    auto [p, ec] = std::from_chars(s.data() + i, s.data() + s.size(), v);
    if (ec != std::errc() || v < 0) return std::nullopt;
    i = static_cast<std::size_t>(p - s.data());
    std::size_t j = i;
    while (j < s.size() && std::isalpha(static_cast<unsigned char>(s[j]))) ++j;
    const std::string unit = s.substr(i, j - i);
    double factor = 0;
    if (unit == "ms") factor = 1;
    else if (unit == "s") factor = 1000;
    else if (unit == "m") factor = 60'000;
    else if (unit == "h") factor = 3'600'000;
    else if (unit == "d") factor = 86'400'000;
    else return std::nullopt;
    total_ms += v * factor;
    any = true;
    i = j;
  }
  if (!any) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(total_ms + 0.5));
}

std::optional<std::uint64_t> parse_bytes(std::string_view text) {
  const std::string s = trim(text);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || v < 0) return std::nullopt;
  std::string unit = trim(std::string_view(p, static_cast<std::size_t>(s.data() + s.size() - p)));
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::map<std::string, double, std::less<>> units = {
      {"", 1},         {"b", 1},           {"kb", 1e3},          {"mb", 1e6},           {"gb", 1e9},
      {"kib", 1024.0}, {"mib", 1048576.0}, {"gib", 1073741824.0}, {"k", 1024.0},        {"m", 1048576.0},
      {"g", 1073741824.0}};
  auto it = units.find(unit);
  if (it == units.end()) return std::nullopt;
  return static_cast<std::uint64_t>(v * it->second + 0.5);
}

}  // namespace siem
