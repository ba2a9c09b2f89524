// How many CPUs the process may use: the smaller of its CPU affinity (sched_getaffinity) and its
// cgroup's CPU quota (cgroup v2 `cpu.max`, cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`,
// the tightest along the cgroup's path), at least 1. The default of `pipeline.workers`.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string_view>

namespace siem {

// The CPUs a quota allows, rounded up (150000 of 100000 µs: 2), from the text of a cgroup v2
// `cpu.max` ("max 100000" or "150000 100000"); nullopt for no limit or unreadable text.
std::optional<std::size_t> cpus_of_cpu_max(std::string_view text);
// The same from cgroup v1's `cpu.cfs_quota_us` (-1: no limit) and `cpu.cfs_period_us` texts.
std::optional<std::size_t> cpus_of_cfs(std::string_view quota, std::string_view period);

// The tightest quota of the cgroup `/proc/self/cgroup` (its text: `proc_self_cgroup`) names, read
// under `cgroup_root` (normally /sys/fs/cgroup: its v2 unified tree, or v1 controllers under
// `cpu` / `cpu,cpuacct`); nullopt when no quota applies or nothing is readable.
std::optional<std::size_t> cgroup_cpu_limit(const std::filesystem::path& cgroup_root,
                                            std::string_view proc_self_cgroup);

// min(affinity, cgroup limit), at least 1, for this process.
std::size_t usable_cpus();

}  // namespace siem
