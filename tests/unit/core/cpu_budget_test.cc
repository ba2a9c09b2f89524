// The default of `pipeline.workers`: the CPUs the cgroup's quota allows (cgroup v2 cpu.max, v1 CFS
// quota, the tightest along the cgroup's path), read from fixture trees in tests/data/cgroup.
#include <gtest/gtest.h>

#include "connector/core/cpu_budget.h"

namespace siem {
namespace {

const std::filesystem::path kData = std::filesystem::path(SIEM_TEST_DATA_DIR) / "cgroup";

TEST(CpuBudget, CpuMaxText) {
  EXPECT_EQ(cpus_of_cpu_max("200000 100000\n"), 2u);
  EXPECT_EQ(cpus_of_cpu_max("150000 100000"), 2u) << "rounded up";
  EXPECT_EQ(cpus_of_cpu_max("50000 100000"), 1u) << "at least one";
  EXPECT_EQ(cpus_of_cpu_max("max 100000\n"), std::nullopt);
  EXPECT_EQ(cpus_of_cpu_max(""), std::nullopt);
  EXPECT_EQ(cpus_of_cpu_max("abc 100000"), std::nullopt);
  EXPECT_EQ(cpus_of_cpu_max("100000 0"), std::nullopt);
  EXPECT_EQ(cpus_of_cfs("-1\n", "100000\n"), std::nullopt);
  EXPECT_EQ(cpus_of_cfs("300000\n", "100000\n"), 3u);
}

TEST(CpuBudget, CgroupV2TakesTheTightestQuotaAlongThePath) {
  // kubepods allows 4, the container 1.5 (2), the root none.
  EXPECT_EQ(cgroup_cpu_limit(kData / "v2", "0::/kubepods/pod1/ctr\n"), 2u);
  EXPECT_EQ(cgroup_cpu_limit(kData / "v2", "0::/kubepods\n"), 4u);
  EXPECT_EQ(cgroup_cpu_limit(kData / "v2", "0::/\n"), std::nullopt);
  EXPECT_EQ(cgroup_cpu_limit(kData / "v2_unlimited", "0::/\n"), std::nullopt);
  EXPECT_EQ(cgroup_cpu_limit(kData / "v2", "0::/not/there\n"), std::nullopt);
  EXPECT_EQ(cgroup_cpu_limit(kData / "v2", "0::/../../etc\n"), std::nullopt) << "never outside the tree";
}

TEST(CpuBudget, CgroupV1CfsQuota) {
  const std::string self = "12:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n";
  EXPECT_EQ(cgroup_cpu_limit(kData / "v1", self), 3u);
  EXPECT_EQ(cgroup_cpu_limit(kData / "v1", "3:cpu,cpuacct:/\n"), std::nullopt) << "-1: no quota";
  EXPECT_EQ(cgroup_cpu_limit(kData / "v1", "3:cpuacct:/docker/abc\n"), std::nullopt) << "not the cpu controller";
}

TEST(CpuBudget, ThisProcessHasAtLeastOne) { EXPECT_GE(usable_cpus(), 1u); }

}  // namespace
}  // namespace siem
