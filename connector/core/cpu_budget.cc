#include "connector/core/cpu_budget.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace siem {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::optional<long long> number(std::string_view s) {
  s = trim(s);
  long long v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::size_t> cpus_of(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return std::nullopt;
  const long long cpus = (quota + period - 1) / period;
  return static_cast<std::size_t>(std::max(1LL, cpus));
}

// A small kernel file (cgroup attributes are a line); nullopt when it cannot be read. Files only:
// a symbolic link is not followed out of the tree.
std::optional<std::string> read_small(const std::filesystem::path& p, std::size_t max = 256) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(std::filesystem::symlink_status(p, ec))) return std::nullopt;
  std::ifstream in(p);
  if (!in) return std::nullopt;
  std::string text(max, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

void keep_min(std::optional<std::size_t>& best, std::optional<std::size_t> v) {
  if (v && (!best || *v < *best)) best = v;
}

// The cgroup's path and each ancestor's, deepest first, as relative paths under a root.
std::vector<std::filesystem::path> with_ancestors(std::string_view cgroup_path) {
  std::vector<std::filesystem::path> out;
  std::filesystem::path p = std::filesystem::path(std::string(cgroup_path)).relative_path().lexically_normal();
  if (p.empty() || p.string().starts_with("..")) return {std::filesystem::path()};
  while (true) {
    out.push_back(p);
    if (p.empty()) break;
    p = p.has_parent_path() ? p.parent_path() : std::filesystem::path();
  }
  return out;
}

}  // namespace

std::optional<std::size_t> cpus_of_cpu_max(std::string_view text) {
  text = trim(text);
  const auto space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  if (trim(text.substr(0, space)) == "max") return std::nullopt;
  const auto quota = number(text.substr(0, space));
  const auto period = number(text.substr(space + 1));
  if (!quota || !period) return std::nullopt;
  return cpus_of(*quota, *period);
}

std::optional<std::size_t> cpus_of_cfs(std::string_view quota, std::string_view period) {
  const auto q = number(quota);
  const auto p = number(period);
  if (!q || !p) return std::nullopt;
  return cpus_of(*q, *p);
}

std::optional<std::size_t> cgroup_cpu_limit(const std::filesystem::path& root, std::string_view proc_self_cgroup) {
  std::optional<std::size_t> best;
  std::istringstream lines{std::string(proc_self_cgroup)};
  std::string line;
  while (std::getline(lines, line)) {
    // hierarchy-id:controller-list:path
    const auto a = line.find(':');
    const auto b = a == std::string::npos ? std::string::npos : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    const std::string_view path = std::string_view(line).substr(b + 1);
    if (line.compare(0, a, "0") == 0 && controllers.empty()) {  // cgroup v2
      for (const auto& rel : with_ancestors(path))
        if (auto text = read_small(root / rel / "cpu.max")) keep_min(best, cpus_of_cpu_max(*text));
      continue;
    }
    bool cpu = false;  // cgroup v1: the hierarchy with the cpu controller
    std::istringstream names(controllers);
    for (std::string c; std::getline(names, c, ',');) cpu = cpu || c == "cpu";
    if (!cpu) continue;
    for (const char* mount : {"cpu,cpuacct", "cpu", "cpuacct,cpu"}) {
      for (const auto& rel : with_ancestors(path)) {
        const auto dir = root / mount / rel;
        const auto quota = read_small(dir / "cpu.cfs_quota_us");
        const auto period = read_small(dir / "cpu.cfs_period_us");
        if (quota && period) keep_min(best, cpus_of_cfs(*quota, *period));
      }
    }
  }
  return best;
}

std::size_t usable_cpus() {
  std::size_t n = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) n = static_cast<std::size_t>(CPU_COUNT(&set));
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  if (const auto self = read_small("/proc/self/cgroup", 64 * 1024))
    if (const auto limit = cgroup_cpu_limit("/sys/fs/cgroup", *self)) n = std::min(n, *limit);
  return std::max<std::size_t>(1, n);
}

}  // namespace siem
