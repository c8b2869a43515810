#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <functional>
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
  make_cgroup_v1({{"", "/kept/abc"}}, fake.hierarchies())->destroy({});
  EXPECT_FALSE(fs::exists(fake.root / "memory/kept/abc"));
  EXPECT_TRUE(fs::is_directory(fake.root / "memory/kept"));  // no owned tops given: the parents stay

  {
    // destroy() first: the destructor has nothing left to do.
    auto cg = make_cgroup_v1({{"", "/gone/abc"}}, fake.hierarchies());
    cg->create({});
    cg->destroy({});
    EXPECT_FALSE(fs::exists(fake.root / "unified/gone"));
    fs::create_directories(fake.root / "unified/gone/abc");  // someone else's now
  }
  EXPECT_TRUE(fs::is_directory(fake.root / "unified/gone/abc"));
}

// destroy() with owned tops: the cgroup, then its parents up to and including the top while they are
// empty, whoever made them (here the first start made the top, another object destroys); a top that still
// holds a cgroup stays, and nothing above a top goes.
TEST(CgroupV1, DestroyRemovesTheOwnedParentsThatAreLeftEmpty) {
  FakeCgroupV1 fake(kEmptyLevels);
  for (const auto& h : fake.hierarchies()) fs::create_directories(h.dir / "own");  // the caller's cgroup
  const auto before = fake.dirs();
  const CgroupPaths tops = {{"", "/own/top"}};
  for (const char* path : {"/own/top/a", "/own/top/b"}) {
    auto cg = make_cgroup_v1({{"", path}}, fake.hierarchies());
    cg->create({});
    cg->release();
  }
  make_cgroup_v1({{"", "/own/top/a"}}, fake.hierarchies())->destroy(tops);
  EXPECT_FALSE(fs::exists(fake.root / "memory/own/top/a"));
  EXPECT_TRUE(fs::is_directory(fake.root / "memory/own/top/b"));  // b's: the top stays
  make_cgroup_v1({{"", "/own/top/b"}}, fake.hierarchies())->destroy(tops);
  EXPECT_EQ(fake.dirs(), before);  // the top went with the last one; the caller's cgroup stayed
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
  make_cgroup_v2("/pre/kept", fake.root)->destroy({});
  EXPECT_FALSE(fs::exists(fake.root / "pre/kept"));
}

TEST(CgroupV2, DestroyRemovesTheOwnedParentsThatAreLeftEmpty) {
  FakeCgroup2 fake;
  fs::create_directories(fake.root / "own");
  const CgroupPaths tops = {{"", "/own/top"}};
  for (const char* path : {"/own/top/a", "/own/top/b"}) {
    auto cg = make_cgroup_v2(path, fake.root);
    cg->create({});
    cg->release();
  }
  make_cgroup_v2("/own/top/a", fake.root)->destroy(tops);
  EXPECT_FALSE(fs::exists(fake.root / "own/top/a"));
  EXPECT_TRUE(fs::is_directory(fake.root / "own/top/b"));
  make_cgroup_v2("/own/top/b", fake.root)->destroy(tops);
  EXPECT_FALSE(fs::exists(fake.root / "own/top"));
  EXPECT_TRUE(fs::is_directory(fake.root / "own"));  // above the top
}

// ---- update, freeze, stats, cgroupsPath ----

namespace {
// Makes the files a kernel would have in `dir` (update() writes only files that exist).
void touch(const fs::path& dir, const std::vector<std::string>& files, const std::string& content = "") {
  fs::create_directories(dir);
  for (const auto& f : files) std::ofstream(dir / f) << content;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const std::vector<std::string> kV2Files = {"memory.max", "memory.swap.max", "memory.low", "memory.high", "cpu.weight",
                                           "cpu.max", "cpuset.cpus", "cpuset.mems", "pids.max", "io.weight", "io.max",
                                           "hugetlb.2MB.max"};
}  // namespace

TEST(CgroupV2, UpdateWritesEveryFieldInV2Syntax) {
  FakeCgroup2 fake;
  auto cg = make_cgroup_v2("/c/u", fake.root);
  cg->create({});
  touch(fake.root / "c/u", kV2Files);
  oci::Resources r;
  r.memory.limit = 256 << 20;
  r.memory.swap = 384 << 20;  // memory + swap
  r.memory.reservation = 64 << 20;
  r.cpu.shares = 1024;
  r.cpu.quota = 50000;
  r.cpu.period = 200000;
  r.cpu.cpus = "0-1";
  r.cpu.mems = "0";
  r.pids_limit = 10;
  r.block_io = oci::BlockIO{};
  r.block_io->weight = 500;
  r.block_io->throttle_write_iops_device = {{8, 16, 300}};
  r.hugepage_limits = {{"2MB", 4 << 21}};
  r.unified = {{"memory.high", "200000000"}};
  cg->update(r);
  EXPECT_EQ(fake.read("c/u/memory.max"), "268435456");
  EXPECT_EQ(fake.read("c/u/memory.swap.max"), "134217728");  // swap alone on v2
  EXPECT_EQ(fake.read("c/u/memory.low"), "67108864");
  EXPECT_EQ(fake.read("c/u/memory.high"), "200000000");
  EXPECT_EQ(fake.read("c/u/cpu.weight"), "39");
  EXPECT_EQ(fake.read("c/u/cpu.max"), "50000 200000");
  EXPECT_EQ(fake.read("c/u/cpuset.cpus"), "0-1");
  EXPECT_EQ(fake.read("c/u/cpuset.mems"), "0");
  EXPECT_EQ(fake.read("c/u/pids.max"), "10");
  EXPECT_EQ(fake.read("c/u/io.weight"), std::to_string(1 + (500 - 10) * 9999 / 990));  // runc's conversion: 4950
  EXPECT_EQ(fake.read("c/u/io.max"), "8:16 wiops=300");
  EXPECT_EQ(fake.read("c/u/hugetlb.2MB.max"), "8388608");
  // The controllers the fields need are enabled in the parents (the fake keeps only the last write).
  for (const char* c : {"+cpuset", "+io", "+hugetlb"}) EXPECT_TRUE(contains(fake.read("cgroup.subtree_control"), c)) << c;
  cg->release();
}

TEST(CgroupV2, UpdateUnlimitedValuesAndAPeriodAlone) {
  FakeCgroup2 fake;
  auto cg = make_cgroup_v2("/u", fake.root);
  cg->create({});
  touch(fake.root / "u", kV2Files);
  std::ofstream(fake.root / "u/cpu.max") << "20000 100000\n";
  oci::Resources r;
  r.memory.limit = -1;  // no swap value: swap unlimited too
  r.cpu.period = 50000;
  r.pids_limit = -1;
  cg->update(r);
  EXPECT_EQ(fake.read("u/memory.max"), "max");
  EXPECT_EQ(fake.read("u/memory.swap.max"), "max");
  EXPECT_EQ(fake.read("u/cpu.max"), "20000 50000");  // the quota stays
  EXPECT_EQ(fake.read("u/pids.max"), "max");
  oci::Resources q;
  q.cpu.quota = -1;
  q.memory.swap = -1;
  q.memory.limit = 1 << 30;
  cg->update(q);
  EXPECT_EQ(fake.read("u/cpu.max"), "max");
  EXPECT_EQ(fake.read("u/memory.swap.max"), "max");
  // Device weights: the io controller's scale, per device.
  oci::Resources w;
  w.block_io = oci::BlockIO{};
  w.block_io->weight_device = {{8, 0, 1000, std::nullopt}};
  cg->update(w);
  EXPECT_EQ(fake.read("u/io.weight"), "8:0 10000");
  // With BFQ, its own file and blkio's scale.
  touch(fake.root / "u", {"io.bfq.weight"});
  cg->update(w);
  EXPECT_EQ(fake.read("u/io.bfq.weight"), "8:0 1000");
  cg->release();
}

TEST(CgroupV2, UpdateRefusesBeforeWritingAnything) {
  FakeCgroup2 fake;
  auto cg = make_cgroup_v2("/r", fake.root);
  cg->create({});
  touch(fake.root / "r", kV2Files);
  auto refused = [&](oci::Resources r, const std::string& message) {
    r.memory.limit = r.memory.limit.value_or(1 << 20);  // a valid field beside the refused one: must not be written
    std::string error = error_of([&] { cg->update(r); });
    EXPECT_TRUE(contains(error, message)) << error << "\nexpected: " << message;
    EXPECT_EQ(fake.read("r/memory.max"), "") << message;
  };
  oci::Resources r;
  r.memory.swappiness = 10;
  refused(r, "linux.resources.memory.swappiness is not supported on cgroup v2");
  r = {};
  r.memory.disable_oom_killer = true;
  refused(r, "linux.resources.memory.disableOOMKiller is not supported on cgroup v2");
  r = {};
  r.memory.limit = 2 << 20;
  r.memory.swap = 1 << 20;
  refused(r, "linux.resources.memory.swap: memory+swap limit (1048576) should be >= memory limit (2097152)");
  r = {};
  r.memory.limit = -1;
  r.memory.swap = 1 << 20;
  refused(r, "unable to set a swap limit without a memory limit");
  r = {};
  r.memory.reservation = -5;
  refused(r, "linux.resources.memory.reservation: -5 is not a size");
  r = {};
  r.cpu.shares = 1;
  refused(r, "linux.resources.cpu.shares: 1 is not in 2..262144");
  r = {};
  r.cpu.quota = 500;
  refused(r, "linux.resources.cpu.quota: 500");
  r = {};
  r.cpu.period = 2000000;
  refused(r, "linux.resources.cpu.period: 2000000");
  r = {};
  r.cpu.cpus = "0-a";
  refused(r, "linux.resources.cpu.cpus: \"0-a\" is not a list of CPUs");
  r = {};
  r.block_io = oci::BlockIO{};
  r.block_io->weight = 5;
  refused(r, "linux.resources.blockIO.weight: 5 is not in 10..1000");
  r.block_io->weight = {};
  r.block_io->leaf_weight = 100;
  refused(r, "linux.resources.blockIO.leafWeight is not supported on cgroup v2");
  r = {};
  r.hugepage_limits = {{"2M", 1}};
  refused(r, "linux.resources.hugepageLimits: \"2M\" is not a page size");
  r.hugepage_limits = {{"1GB", 1 << 30}};
  refused(r, "linux.resources.hugepageLimits: hugetlb.1GB.max is not supported by this host's cgroups");
  for (const char* key : {"../memory.max", "x/memory.max", "..", ""}) {
    r = {};
    r.unified = {{key, "1"}};
    refused(r, "is not a cgroup file name");
  }
  r.unified = {{"nodot", "1"}};
  refused(r, "must be in the form CONTROLLER.PARAMETER");
  r.unified = {{"memory.nonexistent", "1"}};
  refused(r, "linux.resources.unified.memory.nonexistent: memory.nonexistent is not supported by this host's cgroups");
  r.unified = {{"blkio.weight", "1"}};
  refused(r, "the blkio controller is not supported by this host's cgroups");
  // A host without the controller at all.
  std::ofstream(fake.root / "cgroup.controllers") << "cpu memory pids\n";
  r = {};
  r.pids_limit = 5;
  r.block_io = oci::BlockIO{};
  r.block_io->throttle_read_bps_device = {{8, 0, 1024}};
  refused(r, "linux.resources.blockIO: the io controller is not supported by this host's cgroups");
  EXPECT_EQ(fake.read("r/pids.max"), "");
  cg->release();
}

TEST(CgroupV2, FreezeWaitsForTheEventAndThawUndoesIt) {
  FakeCgroup2 fake;
  auto cg = make_cgroup_v2("/f", fake.root);
  cg->create({});
  EXPECT_TRUE(contains(error_of([&] { cg->freeze(); }), "have no freezer"));
  touch(fake.root / "f", {"cgroup.freeze"}, "0\n");
  std::ofstream(fake.root / "f/cgroup.events") << "populated 1\nfrozen 1\n";  // what the kernel shows once frozen
  EXPECT_FALSE(cg->frozen());
  cg->freeze();
  EXPECT_EQ(fake.read("f/cgroup.freeze"), "1");
  EXPECT_TRUE(cg->frozen());
  std::ofstream(fake.root / "f/cgroup.events") << "populated 1\nfrozen 0\n";
  cg->thaw();
  EXPECT_EQ(fake.read("f/cgroup.freeze"), "0");
  EXPECT_FALSE(cg->frozen());
  cg->release();
}

TEST(CgroupV2, StatsReadEveryFileAndPrintAsRunc) {
  FakeCgroup2 fake;
  auto cg = make_cgroup_v2("/s", fake.root);
  cg->create({});
  fs::path d = fake.root / "s";
  std::ofstream(d / "cpu.stat") << "usage_usec 3000\nuser_usec 2000\nsystem_usec 1000\nnr_periods 7\nnr_throttled 2\nthrottled_usec 40\n";
  std::ofstream(d / "memory.current") << "1048576\n";
  std::ofstream(d / "memory.max") << "4194304\n";
  std::ofstream(d / "memory.swap.current") << "4096\n";
  std::ofstream(d / "memory.swap.max") << "max\n";
  std::ofstream(d / "memory.events") << "low 0\nhigh 0\nmax 5\noom 0\noom_kill 0\n";
  std::ofstream(d / "memory.stat") << "anon 524288\nfile 8192\n";
  std::ofstream(d / "pids.current") << "3\n";
  std::ofstream(d / "pids.max") << "max\n";
  std::ofstream(d / "io.stat") << "8:0 rbytes=512 wbytes=1024 rios=1 wios=2 dbytes=0 dios=0\n";
  std::ofstream(d / "hugetlb.2MB.current") << "0\n";
  std::ofstream(d / "hugetlb.2MB.max") << "2097152\n";
  std::ofstream(d / "hugetlb.2MB.events") << "max 1\n";
  auto s = cg->stats();
  EXPECT_EQ(s.cpu.total, 3000000u);
  EXPECT_EQ(s.cpu.user, 2000000u);
  EXPECT_EQ(s.cpu.kernel, 1000000u);
  EXPECT_EQ(s.cpu.throttled_time, 40000u);
  EXPECT_EQ(s.memory.usage.usage, 1048576u);
  EXPECT_EQ(s.memory.usage.limit, 4194304u);
  EXPECT_EQ(s.memory.usage.failcnt, 5u);
  EXPECT_EQ(s.memory.swap.usage, 1048576u + 4096u);  // memory + swap, as runc reports it
  EXPECT_EQ(s.memory.cache, 8192u);
  EXPECT_EQ(s.pids.current, 3u);
  EXPECT_EQ(s.pids.limit, 0u);
  ASSERT_EQ(s.blkio.io_service_bytes_recursive.size(), 2u);
  EXPECT_EQ(s.blkio.io_service_bytes_recursive[1].op, "Write");
  EXPECT_EQ(s.blkio.io_service_bytes_recursive[1].value, 1024u);
  ASSERT_EQ(s.hugetlb.count("2MB"), 1u);
  EXPECT_EQ(s.hugetlb["2MB"].failcnt, 1u);

  auto j = runc_stats_json(s);
  EXPECT_EQ(j["cpu"]["usage"]["total"], 3000000u);
  EXPECT_EQ(j["cpu"]["usage"]["kernel"], 1000000u);
  EXPECT_FALSE(j["cpu"]["usage"].contains("percpu"));  // omitted when empty, as Go's omitempty does
  EXPECT_EQ(j["cpu"]["throttling"]["periods"], 7u);
  EXPECT_EQ(j["cpu"]["throttling"]["throttledPeriods"], 2u);
  EXPECT_EQ(j["cpu"]["throttling"]["throttledTime"], 40000u);
  EXPECT_EQ(j["memory"]["usage"]["usage"], 1048576u);
  EXPECT_EQ(j["memory"]["usage"]["limit"], 4194304u);
  EXPECT_EQ(j["memory"]["kernelTCP"], (nlohmann::json{{"limit", 0}, {"failcnt", 0}}));
  EXPECT_EQ(j["memory"]["raw"]["anon"], 524288u);
  EXPECT_EQ(j["memory"]["cache"], 8192u);
  EXPECT_EQ(j["pids"], (nlohmann::json{{"current", 3}}));
  EXPECT_EQ(j["blkio"]["ioServiceBytesRecursive"][0], (nlohmann::json{{"major", 8}, {"op", "Read"}, {"value", 512}}));
  EXPECT_EQ(j["blkio"]["ioServicedRecursive"].size(), 2u);
  EXPECT_EQ(j["hugetlb"]["2MB"], (nlohmann::json{{"max", 2097152}, {"failcnt", 1}}));
  cg->release();
}

TEST(CgroupV1, UpdateWritesEveryFieldWhereItBelongs) {
  FakeCgroupV1 fake(kAllHierarchies);
  auto cg = make_cgroup_v1({{"", "/cppcker/abc"}}, fake.hierarchies());
  cg->create({});
  const fs::path leaf = "cppcker/abc";
  touch(fake.root / "memory" / leaf, {"memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.swappiness", "memory.oom_control"});
  touch(fake.root / "memory" / leaf, {"memory.limit_in_bytes"}, "9223372036854771712\n");
  touch(fake.root / "cpu" / leaf, {"cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us"});
  touch(fake.root / "pids" / leaf, {"pids.max"});
  // No CFQ: BFQ's weight files, as on this machine's kernel.
  touch(fake.root / "blkio" / leaf, {"blkio.bfq.weight", "blkio.bfq.weight_device", "blkio.leaf_weight",
                                     "blkio.throttle.read_bps_device", "blkio.throttle.write_iops_device"});
  touch(fake.root / "devices" / leaf, {"devices.allow", "devices.deny"});
  EXPECT_FALSE(fs::exists(fake.root / "cpuset" / leaf));  // create() makes it only when asked
  EXPECT_EQ(cg->paths().size(), 9u);
  oci::Resources r;
  r.memory.limit = 256 << 20;
  r.memory.swap = 512 << 20;
  r.memory.reservation = 128 << 20;
  r.memory.swappiness = 0;
  r.memory.disable_oom_killer = true;
  r.cpu.shares = 512;
  r.cpu.quota = 25000;
  r.cpu.period = 50000;
  r.cpu.cpus = "1";
  r.pids_limit = 0;  // unlimited
  r.block_io = oci::BlockIO{};
  r.block_io->weight = 300;
  r.block_io->leaf_weight = 200;
  r.block_io->throttle_read_bps_device = {{8, 0, 1048576}};
  r.block_io->throttle_write_iops_device = {{8, 0, 100}};
  r.devices = {{false, "a", {}, {}, "rwm"}, {true, "c", 1, 3, "rw"}};
  cg->update(r);
  EXPECT_EQ(fake.read("memory" / leaf / "memory.limit_in_bytes"), "268435456");
  EXPECT_EQ(fake.read("memory" / leaf / "memory.memsw.limit_in_bytes"), "536870912");  // memory + swap, as given
  EXPECT_EQ(fake.read("memory" / leaf / "memory.soft_limit_in_bytes"), "134217728");
  EXPECT_EQ(fake.read("memory" / leaf / "memory.swappiness"), "0");
  EXPECT_EQ(fake.read("memory" / leaf / "memory.oom_control"), "1");
  EXPECT_EQ(fake.read("cpu" / leaf / "cpu.shares"), "512");
  EXPECT_EQ(fake.read("cpu" / leaf / "cpu.cfs_period_us"), "50000");
  EXPECT_EQ(fake.read("cpu" / leaf / "cpu.cfs_quota_us"), "25000");
  EXPECT_EQ(fake.read("pids" / leaf / "pids.max"), "max");
  EXPECT_EQ(fake.read("blkio" / leaf / "blkio.bfq.weight"), "300");
  EXPECT_EQ(fake.read("blkio" / leaf / "blkio.leaf_weight"), "200");
  EXPECT_EQ(fake.read("blkio" / leaf / "blkio.throttle.read_bps_device"), "8:0 1048576");
  EXPECT_EQ(fake.read("blkio" / leaf / "blkio.throttle.write_iops_device"), "8:0 100");
  EXPECT_EQ(fake.read("devices" / leaf / "devices.deny"), "a\n");
  EXPECT_EQ(fake.read("devices" / leaf / "devices.allow"), "c 1:3 rw\n");
  // cpus made the cpuset cgroup, each new level with its parent's cpus and mems first.
  EXPECT_EQ(fake.read("cpuset/cppcker/cpuset.cpus"), "0-1\n");
  EXPECT_EQ(fake.read("cpuset" / leaf / "cpuset.mems"), "0\n");
  EXPECT_EQ(fake.read("cpuset" / leaf / "cpuset.cpus"), "1");
  EXPECT_EQ(cg->paths().size(), 10u);  // the object that made the cgroup owns the cpuset cgroup it added
  cg->release();
}

TEST(CgroupV1, UpdateRefusesWhatTheHostLacksBeforeWritingAnything) {
  FakeCgroupV1 fake(kEmptyLevels);  // no pids, blkio, devices, cpuset, freezer, hugetlb
  auto cg = make_cgroup_v1({{"", "/x"}}, fake.hierarchies());
  cg->create({});
  touch(fake.root / "memory/x", {"memory.limit_in_bytes", "memory.swappiness"});
  auto refused = [&](oci::Resources r, const std::string& message) {
    r.memory.swappiness = 30;  // a valid field beside the refused one: must not be written
    std::string error = error_of([&] { cg->update(r); });
    EXPECT_TRUE(contains(error, message)) << error << "\nexpected: " << message;
    EXPECT_EQ(fake.read("memory/x/memory.swappiness"), "") << message;
  };
  oci::Resources r;
  r.unified = {{"memory.high", "1"}};
  refused(r, "linux.resources.unified requires cgroup v2");
  r = {};
  r.hugepage_limits = {{"2MB", 1 << 21}};
  refused(r, "linux.resources.hugepageLimits: hugetlb.2MB.limit_in_bytes is not supported by this host's cgroups (no hugetlb hierarchy)");
  r = {};
  r.pids_limit = 5;
  refused(r, "pids.max is not supported by this host's cgroups (no pids hierarchy)");
  r = {};
  r.cpu.cpus = "0";
  refused(r, "cpuset.cpus is not supported by this host's cgroups (no cpuset hierarchy)");
  r = {};
  r.devices = {{false, "a", {}, {}, "rwm"}};
  refused(r, "linux.resources.devices: devices.allow is not supported by this host's cgroups");
  r = {};
  r.memory.swap = 1 << 30;  // this host counts no swap: no memsw file
  refused(r, "linux.resources.memory.swap: memory.memsw.limit_in_bytes is not supported by this host's cgroups");
  r = {};
  r.memory.disable_oom_killer = true;
  refused(r, "memory.oom_control is not supported");
  r = {};
  r.memory.swappiness = 101;
  std::string error = error_of([&] { cg->update(r); });
  EXPECT_TRUE(contains(error, "linux.resources.memory.swappiness: 101 is not in 0..100")) << error;
  // A blkio hierarchy without weight files (no CFQ, no BFQ).
  FakeCgroupV1 blkio(std::vector<std::pair<std::string, std::string>>{{"blkio", "blkio"}});
  auto b = make_cgroup_v1({{"", "/y"}}, blkio.hierarchies());
  b->create({});
  touch(blkio.root / "blkio/y", {"blkio.throttle.read_bps_device"});
  oci::Resources w;
  w.block_io = oci::BlockIO{};
  w.block_io->throttle_read_bps_device = {{8, 0, 1}};
  w.block_io->weight = 100;
  error = error_of([&] { b->update(w); });
  EXPECT_TRUE(contains(error, "linux.resources.blockIO.weight: blkio.bfq.weight is not supported by this host's cgroups")) << error;
  EXPECT_EQ(blkio.read("blkio/y/blkio.throttle.read_bps_device"), "");
  cg->release();
  b->release();
}

TEST(CgroupV1, FreezerStateAndStats) {
  FakeCgroupV1 fake(kAllHierarchies);
  auto cg = make_cgroup_v1({{"", "/s"}}, fake.hierarchies());
  cg->create({});
  touch(fake.root / "freezer/s", {"freezer.state"}, "THAWED\n");
  EXPECT_FALSE(cg->frozen());
  cg->freeze();
  EXPECT_EQ(fake.read("freezer/s/freezer.state"), "FROZEN");
  EXPECT_TRUE(cg->frozen());
  cg->thaw();
  EXPECT_EQ(fake.read("freezer/s/freezer.state"), "THAWED");
  EXPECT_FALSE(cg->frozen());

  std::ofstream(fake.root / "cpuacct/s/cpuacct.usage") << "5000\n";
  std::ofstream(fake.root / "cpuacct/s/cpuacct.usage_percpu") << "3000 2000 \n";
  std::ofstream(fake.root / "cpuacct/s/cpuacct.stat") << "user 3\nsystem 1\n";
  std::ofstream(fake.root / "cpu/s/cpu.stat") << "nr_periods 4\nnr_throttled 1\nthrottled_time 99\n";
  std::ofstream(fake.root / "memory/s/memory.usage_in_bytes") << "8192\n";
  std::ofstream(fake.root / "memory/s/memory.max_usage_in_bytes") << "16384\n";
  std::ofstream(fake.root / "memory/s/memory.limit_in_bytes") << "9223372036854771712\n";
  std::ofstream(fake.root / "memory/s/memory.memsw.usage_in_bytes") << "12288\n";
  std::ofstream(fake.root / "memory/s/memory.kmem.tcp.failcnt") << "2\n";
  std::ofstream(fake.root / "memory/s/memory.stat") << "cache 4096\nrss 4096\n";
  std::ofstream(fake.root / "pids/s/pids.current") << "2\n";
  std::ofstream(fake.root / "pids/s/pids.max") << "50\n";
  std::ofstream(fake.root / "blkio/s/blkio.throttle.io_service_bytes_recursive") << "8:0 Read 100\n8:0 Write 200\nTotal 300\n";
  auto s = cg->stats();
  long hz = ::sysconf(_SC_CLK_TCK);
  EXPECT_EQ(s.cpu.total, 5000u);
  EXPECT_EQ(s.cpu.percpu, (std::vector<std::uint64_t>{3000, 2000}));
  EXPECT_EQ(s.cpu.user, 3u * (1000000000u / static_cast<std::uint64_t>(hz)));
  EXPECT_EQ(s.cpu.throttled_periods, 1u);
  EXPECT_EQ(s.cpu.throttled_time, 99u);
  EXPECT_EQ(s.memory.usage.usage, 8192u);
  EXPECT_EQ(s.memory.usage.max, 16384u);
  EXPECT_EQ(s.memory.usage.limit, 9223372036854771712u);
  EXPECT_EQ(s.memory.swap.usage, 12288u);
  EXPECT_EQ(s.memory.kernel_tcp.failcnt, 2u);
  EXPECT_EQ(s.memory.cache, 4096u);
  EXPECT_EQ(s.pids.current, 2u);
  EXPECT_EQ(s.pids.limit, 50u);
  ASSERT_EQ(s.blkio.io_service_bytes_recursive.size(), 2u);  // the Total line is not an entry
  EXPECT_EQ(s.blkio.io_service_bytes_recursive[0].major, 8u);
  EXPECT_TRUE(s.hugetlb.empty());
  auto j = runc_stats_json(s);
  EXPECT_EQ(j["cpu"]["usage"]["percpu"], (nlohmann::json{3000, 2000}));
  EXPECT_EQ(j["pids"], (nlohmann::json{{"current", 2}, {"limit", 50}}));
  EXPECT_EQ(j["hugetlb"], nlohmann::json::object());
  cg->release();

  // No freezer hierarchy and no cgroup.freeze: refused.
  FakeCgroupV1 bare(kEmptyLevels);
  auto b = make_cgroup_v1({{"", "/n"}}, bare.hierarchies());
  b->create({});
  EXPECT_TRUE(contains(error_of([&] { b->freeze(); }), "have no freezer"));
  // A hybrid host's unified hierarchy freezes where no v1 freezer is mounted.
  touch(bare.root / "unified/n", {"cgroup.freeze"}, "0\n");
  std::ofstream(bare.root / "unified/n/cgroup.events") << "frozen 1\n";
  b->freeze();
  EXPECT_EQ(bare.read("unified/n/cgroup.freeze"), "1");
  EXPECT_TRUE(b->frozen());
  b->release();
}

TEST(Cgroup, OciCgroupsPathInRuncsForms) {
  const char self[] = "4:memory:/user/m\n3:cpu,cpuacct:/c\n2:name=systemd:/\n0::/u\n";
  const std::vector<std::string> keys = {"cpu,cpuacct", "memory", "name=systemd", ""};
  // Absolute: below each hierarchy's root.
  EXPECT_EQ(oci_cgroup_paths("/pods/abc", "id", self, keys), (CgroupPaths{{"", "/pods/abc"}}));
  EXPECT_EQ(oci_cgroup_paths("/pods//abc/", "id", self, keys), (CgroupPaths{{"", "/pods/abc"}}));
  // Relative: below the caller's own cgroup, per hierarchy.
  EXPECT_EQ(oci_cgroup_paths("pods/abc", "id", self, keys),
            (CgroupPaths{{"cpu,cpuacct", "/c/pods/abc"}, {"memory", "/user/m/pods/abc"}, {"name=systemd", "/pods/abc"}, {"", "/u/pods/abc"}}));
  // Empty: the container's id there.
  EXPECT_EQ(oci_cgroup_paths("", "ctr1", self, keys),
            (CgroupPaths{{"cpu,cpuacct", "/c/ctr1"}, {"memory", "/user/m/ctr1"}, {"name=systemd", "/ctr1"}, {"", "/u/ctr1"}}));
  // systemd's form: slices nest by their dashes, the unit is prefix-name.scope.
  EXPECT_EQ(oci_cgroup_paths("system.slice:docker:abc", "id", self, keys), (CgroupPaths{{"", "/system.slice/docker-abc.scope"}}));
  EXPECT_EQ(oci_cgroup_paths("kubepods-besteffort-pod1.slice:cri-containerd:abc", "id", self, keys),
            (CgroupPaths{{"", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-abc.scope"}}));
  EXPECT_EQ(oci_cgroup_paths(":crio:abc", "id", self, keys), (CgroupPaths{{"", "/system.slice/crio-abc.scope"}}));
  EXPECT_EQ(oci_cgroup_paths("-.slice:p:x.slice", "id", self, keys), (CgroupPaths{{"", "/x.slice"}}));
  // Refused.
  for (const char* bad : {"../escape", "a/../../b", "/a/..", "a:b", "a.slice:b:c:d", "a.slice:p:", "nope:p:n", "a--b.slice:p:n",
                          "-a.slice:p:n", "a.slice:p/q:n", "/", "."}) {
    EXPECT_THROW(oci_cgroup_paths(bad, "id", self, keys), Error) << bad;
  }
  EXPECT_TRUE(contains(error_of([&] { oci_cgroup_paths("a:b", "id", self, keys); }),
                       "expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got \"a:b\" instead"));
}

TEST(CgroupV1, ZeroValuesAreUnsetAsRuncReadsThem) {
  FakeCgroupV1 fake(kEmptyLevels);
  auto cg = make_cgroup_v1({{"", "/z"}}, fake.hierarchies());
  cg->create({});
  touch(fake.root / "memory/z", {"memory.limit_in_bytes", "memory.soft_limit_in_bytes"});
  touch(fake.root / "cpu,cpuacct/z", {"cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us"});
  oci::Resources r;
  r.memory.limit = 0;
  r.memory.swap = 0;  // no memsw file here: a write would be refused
  r.memory.reservation = 0;
  r.cpu.shares = 0;
  r.cpu.quota = 0;
  r.cpu.period = 0;
  cg->update(r);
  for (const char* f : {"memory/z/memory.limit_in_bytes", "memory/z/memory.soft_limit_in_bytes", "cpu,cpuacct/z/cpu.shares",
                        "cpu,cpuacct/z/cpu.cfs_quota_us", "cpu,cpuacct/z/cpu.cfs_period_us"})
    EXPECT_EQ(fake.read(f), "") << f;
  cg->release();
}
