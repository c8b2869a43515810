#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "cppcker/cgroup/cgroup.hpp"
#include "cppcker/util/error.hpp"
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

// This machine's layout (Debian's hybrid one), as /proc/self/mountinfo shows it.
const char kHybridMountinfo[] =
    "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "35 30 0:32 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "37 30 0:34 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

std::vector<std::string> keys_of(const std::vector<CgroupHierarchy>& hierarchies) {
  std::vector<std::string> keys;
  for (const auto& h : hierarchies) keys.push_back(h.key);
  return keys;
}

// A directory laid out like a v1 /sys/fs/cgroup (one directory per hierarchy) with the mountinfo lines
// that would mount them there; cpuset's root has cpus and mems, as the kernel's has.
struct FakeCgroupV1 {
  fs::path root = fs::temp_directory_path() / ("cppcker-fakecg1-" + random_hex(6));
  std::string mountinfo;
  explicit FakeCgroupV1(const std::vector<std::pair<std::string, std::string>>& mounts) {  // (dir, super options)
    fs::create_directories(root);
    int id = 100;
    for (const auto& [dir, options] : mounts) {
      fs::create_directories(root / dir);
      bool v2 = options.empty();
      ++id;
      mountinfo += std::to_string(id) + " 30 0:" + std::to_string(id) + " / " + (root / dir).string() +
                   " rw,relatime - " + (v2 ? "cgroup2 cgroup2 rw" : "cgroup cgroup rw," + options) + "\n";
    }
    if (fs::exists(root / "cpuset")) {
      std::ofstream(root / "cpuset/cpuset.cpus") << "0-1\n";
      std::ofstream(root / "cpuset/cpuset.mems") << "0\n";
    }
  }
  ~FakeCgroupV1() { remove_tree(root); }
  std::vector<CgroupHierarchy> hierarchies() const { return cgroup_hierarchies_from_mountinfo(mountinfo, root); }
  std::string read(const fs::path& rel) const { return read_file(root / rel); }
  // Every directory below the root, relative to it.
  std::set<std::string> dirs() const {
    std::set<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root))
      if (e.is_directory()) out.insert(fs::relative(e.path(), root).string());
    return out;
  }
};

const std::vector<std::pair<std::string, std::string>> kAllHierarchies = {
    {"cpu", "cpu"},          {"cpuacct", "cpuacct"}, {"cpuset", "cpuset"}, {"memory", "memory"},
    {"devices", "devices"},  {"freezer", "freezer"}, {"blkio", "blkio"},   {"pids", "pids"},
    {"systemd", "xattr,name=systemd"}, {"unified", ""}};
// Without cpuset (which writes files into each new level): the directories stay empty, so the fake tree can
// rmdir them as the kernel would.
const std::vector<std::pair<std::string, std::string>> kEmptyLevels = {
    {"cpu,cpuacct", "cpu,cpuacct"}, {"memory", "memory"}, {"systemd", "name=systemd"}, {"unified", ""}};
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
  cg->release();  // 4242 is not really in it: the destructor must not kill it
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
  cg->release();  // 10 and 11 are not really in it: the destructor must not kill them
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

TEST(Cgroup, HierarchiesComeFromMountinfo) {
  auto hybrid = cgroup_hierarchies_from_mountinfo(kHybridMountinfo, "/sys/fs/cgroup");
  EXPECT_EQ(keys_of(hybrid), (std::vector<std::string>{"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio",
                                                       "pids", "name=systemd", ""}));
  EXPECT_EQ(hybrid[8], (CgroupHierarchy{"name=systemd", "/sys/fs/cgroup/systemd"}));
  EXPECT_EQ(hybrid[9], (CgroupHierarchy{"", "/sys/fs/cgroup/unified"}));
  // A trailing slash changes nothing.
  EXPECT_EQ(cgroup_hierarchies_from_mountinfo(kHybridMountinfo, "/sys/fs/cgroup/"), hybrid);

  // Co-mounted controllers take the key /proc/self/cgroup gives them; flags are not controllers; escaped
  // mount points are read back; a mount elsewhere or over another one is not counted twice.
  const char comounted[] =
      "30 22 0:27 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
      "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
      "32 30 0:29 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n"
      "33 30 0:30 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,release_agent=/lib/systemd/x,name=systemd\n"
      "34 30 0:31 / /sys/fs/cgroup/my\\040hier rw - cgroup cgroup rw,noprefix,clone_children,name=mine\n"
      "35 22 0:28 / /mnt/cpu rw - cgroup cgroup rw,cpu,cpuacct\n"
      "36 30 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "37 36 0:33 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,pids\n";
  auto co = cgroup_hierarchies_from_mountinfo(comounted, "/sys/fs/cgroup");
  EXPECT_EQ(keys_of(co), (std::vector<std::string>{"cpu,cpuacct", "net_cls,net_prio", "name=systemd", "name=mine", "pids"}));
  EXPECT_EQ(co[3].dir, "/sys/fs/cgroup/my hier");
  EXPECT_EQ(co[4].dir, "/sys/fs/cgroup/memory");

  // cgroup v2: the one hierarchy at the mount itself.
  const char v2[] = "30 22 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
  EXPECT_EQ(cgroup_hierarchies_from_mountinfo(v2, "/sys/fs/cgroup"), (std::vector<CgroupHierarchy>{{"", "/sys/fs/cgroup"}}));
  EXPECT_TRUE(cgroup_hierarchies_from_mountinfo(v2, "/elsewhere").empty());
}

TEST(Cgroup, HierarchyKeysOfThisMachine) {
  auto keys = cgroup_hierarchy_keys();
  ASSERT_FALSE(keys.empty());
  if (detect_cgroup_mode() == CgroupMode::v2) {
    EXPECT_EQ(keys, std::vector<std::string>{""});
  }
  // Each key is one /proc/self/cgroup knows (a process is in every hierarchy).
  std::string self = read_file("/proc/self/cgroup");
  for (const auto& k : keys) EXPECT_NE(self.find(":" + k + ":"), std::string::npos) << k;
}

TEST(Cgroup, OwnCgroupMatchesKeysExactlyAndControllersOfCoMounts) {
  const char text[] = "5:cpu,cpuacct:/a\n4:net_cls,net_prio:/n\n3:name=systemd:/s\n2:memory:/m\n0::/u\n";
  EXPECT_EQ(cgroup_path_in(text, "cpu,cpuacct"), "/a");
  EXPECT_EQ(cgroup_path_in(text, "cpu"), "/a");
  EXPECT_EQ(cgroup_path_in(text, "cpuacct"), "/a");
  EXPECT_EQ(cgroup_path_in(text, "name=systemd"), "/s");
  EXPECT_EQ(cgroup_path_in(text, "memory"), "/m");
  EXPECT_EQ(cgroup_path_in(text, ""), "/u");
  EXPECT_EQ(cgroup_path_in(text, "pids"), "/");
  EXPECT_EQ(cgroup_path_in(text, "cpu,net_cls"), "/");
  EXPECT_EQ(path_for({{"cpu", "/x"}, {"", "/d"}}, "cpu,cpuacct"), "/x");
  EXPECT_EQ(path_for({{"cpu,cpuacct", "/y"}, {"cpu", "/x"}}, "cpu,cpuacct"), "/y");
  EXPECT_EQ(path_for({{"", "/d"}}, "name=systemd"), "/d");
  EXPECT_EQ(path_for({{"memory", "/m"}}, "pids"), "/");
}

TEST(CgroupV1, JoinsEveryHierarchyAndWritesLimitsAndDeviceRulesWhereTheyBelong) {
  FakeCgroupV1 fake(kAllHierarchies);
  auto cg = make_cgroup_v1({{"", "/cppcker/abc"}}, fake.hierarchies());
  ResourceLimits l;
  l.memory = 64 << 20;
  l.cpus = 0.5;
  l.cpu_shares = 512;
  l.pids = 20;
  l.cpuset_cpus = "1";
  l.devices = std::vector<oci::DeviceRule>{{false, "a", {}, {}, "rwm"}, {true, "c", {}, {}, "m"},
                                           {true, "b", {}, {}, "m"},    {true, "c", 1, 3, "rwm"},
                                           {true, "c", 136, {}, "rwm"}};
  cg->create(l);
  for (const auto& dir : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd", "unified"})
    EXPECT_TRUE(fs::is_directory(fake.root / dir / "cppcker/abc")) << dir;
  EXPECT_EQ(cg->paths().size(), 10u);
  EXPECT_EQ(fake.read("memory/cppcker/abc/memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(fake.read("cpu/cppcker/abc/cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(fake.read("cpu/cppcker/abc/cpu.cfs_period_us"), "100000");
  EXPECT_EQ(fake.read("cpu/cppcker/abc/cpu.shares"), "512");
  EXPECT_EQ(fake.read("pids/cppcker/abc/pids.max"), "20");
  // Each new cpuset level inherits its parent's cpus and mems before the container's own are set.
  EXPECT_EQ(fake.read("cpuset/cppcker/cpuset.cpus"), "0-1\n");
  EXPECT_EQ(fake.read("cpuset/cppcker/abc/cpuset.mems"), "0\n");
  EXPECT_EQ(fake.read("cpuset/cppcker/abc/cpuset.cpus"), "1");
  // As runc writes them: deny everything, then one allow line per rule.
  EXPECT_EQ(fake.read("devices/cppcker/abc/devices.deny"), "a\n");
  EXPECT_EQ(fake.read("devices/cppcker/abc/devices.allow"), "c *:* m\nb *:* m\nc 1:3 rwm\nc 136:* rwm\n");
  // Limits only where they belong.
  for (const auto& dir : {"freezer", "blkio", "systemd", "unified", "cpuacct"})
    EXPECT_TRUE(fs::is_empty(fake.root / dir / "cppcker/abc")) << dir;

  cg->add_process(4242);
  for (const auto& dir : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd", "unified"})
    EXPECT_EQ(fake.read(fs::path(dir) / "cppcker/abc/cgroup.procs"), "4242") << dir;
  cg->release();  // 4242 is not really in it: the destructor must not kill it
}

TEST(CgroupV1, AllowByDefaultRulesAndUntouchedDevices) {
  FakeCgroupV1 fake(kAllHierarchies);
  ResourceLimits l;
  l.devices = std::vector<oci::DeviceRule>{{true, "a", {}, {}, "rwm"}, {false, "c", 1, 3, "w"}, {false, "b", {}, {}, "rwm"}};
  auto cg = make_cgroup_v1({{"", "/x"}}, fake.hierarchies());
  cg->create(l);
  EXPECT_EQ(fake.read("devices/x/devices.allow"), "a\n");
  EXPECT_EQ(fake.read("devices/x/devices.deny"), "c 1:3 w\nb *:* rwm\n");
  auto plain = make_cgroup_v1({{"", "/y"}}, fake.hierarchies());
  plain->create({});
  EXPECT_TRUE(fs::is_empty(fake.root / "devices/y"));
}

TEST(CgroupV1, RefusedRulesCreateNothing) {
  FakeCgroupV1 fake(kAllHierarchies);
  auto before = fake.dirs();
  ResourceLimits l;
  l.devices = std::vector<oci::DeviceRule>{{false, "a", {}, {}, "rwm"}, {true, "c", {}, {}, "rwm"}, {false, "c", 1, 3, "rwm"}};
  auto cg = make_cgroup_v1({{"", "/cppcker/abc"}}, fake.hierarchies());
  EXPECT_THROW(cg->create(l), Error);
  EXPECT_EQ(fake.dirs(), before);
  // Rules but no devices hierarchy to enforce them: refused, not ignored.
  FakeCgroupV1 no_devices(kEmptyLevels);
  before = no_devices.dirs();
  l.devices = std::vector<oci::DeviceRule>{};
  auto cg2 = make_cgroup_v1({{"", "/cppcker/abc"}}, no_devices.hierarchies());
  EXPECT_THROW(cg2->create(l), Error);
  EXPECT_EQ(no_devices.dirs(), before);
}

TEST(CgroupV1, DestructorRemovesWhatCreateMadeAndReleaseKeepsIt) {
  FakeCgroupV1 fake(kEmptyLevels);
  const auto empty = fake.dirs();
  fs::create_directories(fake.root / "memory/pre");  // a parent that was there before
  {
    auto cg = make_cgroup_v1({{"", "/cppcker/abc"}, {"memory", "/pre/abc"}}, fake.hierarchies());
    cg->create({});
    EXPECT_TRUE(fs::is_directory(fake.root / "cpu,cpuacct/cppcker/abc"));
    EXPECT_TRUE(fs::is_directory(fake.root / "memory/pre/abc"));
    EXPECT_TRUE(fs::is_directory(fake.root / "systemd/cppcker/abc"));
    EXPECT_TRUE(fs::is_directory(fake.root / "unified/cppcker/abc"));
  }
  auto after = fake.dirs();
  after.erase("memory/pre");
  EXPECT_EQ(after, empty);  // everything it made is gone, the parent it found is not
  EXPECT_TRUE(fs::is_directory(fake.root / "memory/pre"));

  {
    auto cg = make_cgroup_v1({{"", "/kept/abc"}}, fake.hierarchies());
    cg->create({});
    cg->release();
  }
  EXPECT_TRUE(fs::is_directory(fake.root / "unified/kept/abc"));
  {
    // A fresh object for an existing cgroup removes nothing when it goes, but destroy() removes the cgroup.
    auto existing = make_cgroup_v1({{"", "/kept/abc"}}, fake.hierarchies());
    EXPECT_EQ(existing->paths().size(), 4u);
  }
  EXPECT_TRUE(fs::is_directory(fake.root / "memory/kept/abc"));
  make_cgroup_v1({{"", "/kept/abc"}}, fake.hierarchies())->destroy();
  EXPECT_FALSE(fs::exists(fake.root / "memory/kept/abc"));
  EXPECT_TRUE(fs::is_directory(fake.root / "memory/kept"));  // parents are remove_empty_cgroup_parents' job

  {
    // destroy() first: the destructor has nothing left to do.
    auto cg = make_cgroup_v1({{"", "/gone/abc"}}, fake.hierarchies());
    cg->create({});
    cg->destroy();
    EXPECT_FALSE(fs::exists(fake.root / "unified/gone"));
    fs::create_directories(fake.root / "unified/gone/abc");  // someone else's now
  }
  EXPECT_TRUE(fs::is_directory(fake.root / "unified/gone/abc"));
}

TEST(CgroupV1, FailedCreateLeavesNothingOnceTheObjectGoes) {
  FakeCgroupV1 fake(kEmptyLevels);
  const auto empty = fake.dirs();
  auto hierarchies = fake.hierarchies();
  hierarchies.push_back({"pids", fake.root / "not-mounted"});  // mkdir fails there, after the others
  {
    auto cg = make_cgroup_v1({{"", "/cppcker/abc"}}, hierarchies);
    try {
      cg->create({});
      ADD_FAILURE() << "create succeeded";
    } catch (const SystemError& e) {
      EXPECT_EQ(std::string(e.what()), "cgroup: mkdir " + (fake.root / "not-mounted/cppcker").string() + ": No such file or directory");
    }
    EXPECT_TRUE(fs::is_directory(fake.root / "memory/cppcker/abc"));
  }
  EXPECT_EQ(fake.dirs(), empty);
}

TEST(CgroupV2, DestructorRemovesWhatCreateMadeAndReleaseKeepsIt) {
  FakeCgroup2 fake;
  fs::create_directories(fake.root / "pre");
  {
    auto cg = make_cgroup_v2("/pre/abc", fake.root);
    cg->create({});
    EXPECT_TRUE(fs::is_directory(fake.root / "pre/abc"));
  }
  EXPECT_FALSE(fs::exists(fake.root / "pre/abc"));
  EXPECT_TRUE(fs::is_directory(fake.root / "pre"));
  {
    auto cg = make_cgroup_v2("/pre/kept", fake.root);
    cg->create({});
    cg->release();
  }
  EXPECT_TRUE(fs::is_directory(fake.root / "pre/kept"));
  { auto existing = make_cgroup_v2("/pre/kept", fake.root); }
  EXPECT_TRUE(fs::is_directory(fake.root / "pre/kept"));
  make_cgroup_v2("/pre/kept", fake.root)->destroy();
  EXPECT_FALSE(fs::exists(fake.root / "pre/kept"));
}
