// Scalar parsing for config values: durations, byte sizes, RFC 3339 timestamps.
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

namespace {

// Days since 1970-01-01 of a civil date; a day past the month's end rolls into the next month.
std::int64_t days_since_epoch(int y, int m, int d) {
  using namespace std::chrono;
  return (sys_days{year{y} / month{static_cast<unsigned>(m)} / 1} + days{d - 1}).time_since_epoch().count();
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339(std::string_view s) {
  // YYYY-MM-DD[T ]hh:mm:ss[.fff][Z|+hh:mm]
  auto num = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    if (pos + len > s.size()) return std::nullopt;
    int v = 0;
    for (std::size_t k = pos; k < pos + len; ++k) {
      if (!std::isdigit(static_cast<unsigned char>(s[k]))) return std::nullopt;
      v = v * 10 + (s[k] - '0');
    }
    return v;
  };
  auto Y = num(0, 4), Mo = num(5, 2), D = num(8, 2), h = num(11, 2), mi = num(14, 2), se = num(17, 2);
  if (!Y || !Mo || !D || !h || !mi || !se || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      s[13] != ':' || s[16] != ':')
    return std::nullopt;
  if (*Mo < 1 || *Mo > 12 || *D < 1 || *D > 31 || *h > 23 || *mi > 59 || *se > 60) return std::nullopt;
  std::size_t i = 19;
  std::int64_t ms = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (digits < 3) ms = ms * 10 + (s[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return std::nullopt;
    for (int k = digits; k < 3; ++k) ms *= 10;
  }
  std::int64_t offset_min = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    auto oh = num(i + 1, 2), om = num(i + 4, 2);
    if (!oh || !om || s[i + 3] != ':') return std::nullopt;
    offset_min = (*oh * 60 + *om) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return std::nullopt;  // a timestamp in config must say its zone
  }
  if (i != s.size()) return std::nullopt;
  const std::int64_t days = days_since_epoch(*Y, *Mo, *D);
  const std::int64_t secs = days * 86400 + *h * 3600 + *mi * 60 + *se - offset_min * 60;
  return secs * 1000 + ms;
}

}  // namespace siem
