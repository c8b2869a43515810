#include <gtest/gtest.h>

#include <fstream>

#include "cppcker/cgroup/cgroup.hpp"
#include "cppcker/util/fs.hpp"

using namespace cppcker;

namespace {
// A directory laid out like a cgroup2 mount; the writer cannot tell it from the real one, except that
// nothing here enforces anything, which is what lets the test read back exactly what was written.
struct FakeCgroup2 {
  fs::path root = fs::temp_directory_path() / ("cppcker-fakecg-" + random_hex(6));
  FakeCgroup2() {
    fs::create_directories(root);
    std::ofstream(root / "cgroup.controllers") << "cpuset cpu io memory hugetlb pids rdma misc\n";
    std::ofstream(root / "cgroup.subtree_control") << "memory\n";
  }
  ~FakeCgroup2() { remove_tree(root); }
  std::string read(const fs::path& rel) { return read_file(root / rel); }
};
}  // namespace

TEST(CgroupV2, WritesLimitsInV2Syntax) {
  FakeCgroup2 fake;
  auto cg = make_cgroup_v2("/cppcker/abc", fake.root);
  ResourceLimits l;
  l.memory = 128 << 20;
  l.memory_swap = 128 << 20;  // --swap=0: memory + swap == memory
  l.cpus = 0.2;
  l.pids = 7;
  l.cpu_shares = 1024;
  l.cpuset_cpus = "0";
  cg->create(l);
  // Only the controllers not yet enabled are added, in one write.
  EXPECT_EQ(fake.read("cgroup.subtree_control"), "+cpu +pids +cpuset");
  EXPECT_EQ(fake.read("cppcker/abc/memory.max"), "134217728");
  EXPECT_EQ(fake.read("cppcker/abc/memory.swap.max"), "0");
  EXPECT_EQ(fake.read("cppcker/abc/cpu.max"), "20000 100000");
  EXPECT_EQ(fake.read("cppcker/abc/pids.max"), "7");
  EXPECT_EQ(fake.read("cppcker/abc/cpu.weight"), "39");
  EXPECT_EQ(fake.read("cppcker/abc/cpuset.cpus"), "0");
  ASSERT_EQ(cg->paths().size(), 1u);
  EXPECT_EQ(cg->paths()[0], fake.root / "cppcker/abc");

  cg->add_process(4242);
  EXPECT_EQ(fake.read("cppcker/abc/cgroup.procs"), "4242");
}

TEST(CgroupV2, UnlimitedValuesAndNoLimits) {
  FakeCgroup2 fake;
  auto cg = make_cgroup_v2("/x", fake.root);
  ResourceLimits l;
  l.memory = 1 << 30;
  l.memory_swap = -1;
  l.pids = -1;
  cg->create(l);
  EXPECT_EQ(fake.read("x/memory.swap.max"), "max");
  EXPECT_EQ(fake.read("x/pids.max"), "max");
  EXPECT_FALSE(fs::exists(fake.root / "x/cpu.max"));

  auto plain = make_cgroup_v2("/y", fake.root);
  plain->create({});
  EXPECT_TRUE(fs::is_directory(fake.root / "y"));
  EXPECT_FALSE(fs::exists(fake.root / "y/memory.max"));
}

TEST(CgroupV2, ReadsOomKillsAndCpuUsage) {
  FakeCgroup2 fake;
  auto cg = make_cgroup_v2("/c", fake.root);
  cg->create({});
  std::ofstream(fake.root / "c/memory.events") << "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n";
  EXPECT_FALSE(cg->oom_killed());
  std::ofstream(fake.root / "c/memory.events") << "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n";
  EXPECT_TRUE(cg->oom_killed());
  std::ofstream(fake.root / "c/cpu.stat") << "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n";
  EXPECT_EQ(cg->cpu_usage_ns(), 2500000u);
  std::ofstream(fake.root / "c/cgroup.procs") << "10\n11\n";
  EXPECT_EQ(cg->processes(), (std::vector<pid_t>{10, 11}));
}

TEST(CgroupV2, SharesToWeightMatchesRunc) {
  EXPECT_EQ(cpu_shares_to_weight(2), 1u);
  EXPECT_EQ(cpu_shares_to_weight(1024), 39u);
  EXPECT_EQ(cpu_shares_to_weight(262144), 10000u);
}

TEST(Cgroup, ModeOfThisMachineIsDetected) {
  // Whatever the host is, detection must give an answer and make_cgroup must pick an implementation.
  auto mode = detect_cgroup_mode();
  EXPECT_TRUE(mode == CgroupMode::v1 || mode == CgroupMode::hybrid || mode == CgroupMode::v2);
  EXPECT_EQ(own_cgroup("no-such-controller"), "/");
}
