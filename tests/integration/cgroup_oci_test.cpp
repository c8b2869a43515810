// The OCI operations of a cgroup on the real kernel: update (limits read back from the files the kernel
// keeps), freeze/thaw (a process that stops counting), stats, and destroy leaving nothing. The cgroups lie
// below the test process's own cgroup, in every hierarchy the host has.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cppcker/cgroup/cgroup.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

namespace fs = std::filesystem;

namespace {

// A child that waits until it is in the cgroup, burns a little CPU (so the stats have some), then counts in
// shared memory until killed: a frozen child stops counting. Killed and reaped when the object goes.
class CountingChild {
 public:
  CountingChild() {
    void* shared = ::mmap(nullptr, sizeof(std::atomic<std::uint64_t>), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) throw std::runtime_error("mmap");
    counter_ = new (shared) std::atomic<std::uint64_t>(0);
    if (::pipe2(go_, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      char c;
      if (::read(go_[0], &c, 1) != 1) ::_exit(1);
      auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(30);
      std::uint64_t spin = 0;
      while (std::chrono::steady_clock::now() < until) {
        spin = spin * 31 + 1;
        asm volatile("" : "+r"(spin));  // the loop's work is not optimised away
      }
      // Memory charged to the cgroup (v1 charges what a task allocates after it joined, not before).
      void* memory = ::mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (memory == MAP_FAILED) ::_exit(1);
      std::memset(memory, 1, 1 << 20);
      while (true) {
        counter_->fetch_add(1);
        ::usleep(1000);
      }
    }
    ::close(go_[0]);
    go_[0] = -1;
  }
  ~CountingChild() {
    stop();
    if (go_[1] >= 0) ::close(go_[1]);
    ::munmap(counter_, sizeof(*counter_));
  }
  pid_t pid() const { return pid_; }
  void go() { ASSERT_EQ(::write(go_[1], "g", 1), 1); }
  std::uint64_t count() const { return counter_->load(); }
  // Whether the count moves within `wait`.
  bool counting(std::chrono::milliseconds wait = std::chrono::milliseconds(200)) const {
    std::uint64_t before = count();
    auto until = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (count() != before) return true;
    }
    return false;
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  std::atomic<std::uint64_t>* counter_ = nullptr;
  pid_t pid_ = -1;
  int go_[2] = {-1, -1};
};

std::string read_trimmed(const fs::path& file) {
  std::string s = cppcker::read_file(file);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The cgroup's directory in the hierarchy holding `controller` (v1), or its one directory (v2).
fs::path dir_of(const cppcker::Cgroup& cg, const std::string& controller) {
  for (const auto& p : cg.paths()) {
    std::string hierarchy = p.lexically_relative("/sys/fs/cgroup").begin()->string();
    if (("," + hierarchy + ",").find("," + controller + ",") != std::string::npos) return p;
  }
  return cg.paths().size() == 1 ? cg.paths().front() : fs::path();
}

bool contains_pid(const fs::path& procs, pid_t pid) {
  for (const auto& line : [&] {
         std::vector<std::string> lines;
         std::string text = cppcker::read_file(procs), cur;
         for (char ch : text) {
           if (ch == '\n') lines.push_back(cur), cur.clear();
           else cur += ch;
         }
         if (!cur.empty()) lines.push_back(cur);
         return lines;
       }())
    if (line == std::to_string(pid)) return true;
  return false;
}

// A child in the cgroup that opens /dev/null for writing each time it is asked, and answers with the errno
// (0: it opened). Killed and reaped when the object goes.
class DeviceProbe {
 public:
  DeviceProbe() {
    if (::pipe2(ask_, O_CLOEXEC) != 0 || ::pipe2(answer_, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      char c;
      while (::read(ask_[0], &c, 1) == 1) {
        int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        int err = fd < 0 ? errno : 0;
        if (fd >= 0) ::close(fd);
        if (::write(answer_[1], &err, sizeof err) != sizeof err) ::_exit(1);
      }
      ::_exit(0);
    }
    ::close(ask_[0]);
    ::close(answer_[1]);
    ask_[0] = answer_[1] = -1;
  }
  ~DeviceProbe() {
    for (int fd : {ask_[1], answer_[0]})
      if (fd >= 0) ::close(fd);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }
  int open_null_for_writing() {
    int err = -1;
    if (::write(ask_[1], "?", 1) != 1 || ::read(answer_[0], &err, sizeof err) != sizeof err) return -1;
    return err;
  }

 private:
  pid_t pid_ = -1;
  int ask_[2] = {-1, -1}, answer_[2] = {-1, -1};
};

std::vector<cppcker::oci::DeviceRule> null_access(const char* access) {
  return {cppcker::oci::DeviceRule{false, "a", {}, {}, "rwm"}, cppcker::oci::DeviceRule{true, "c", 1, 3, access}};
}

// create() with /dev/null writable, update() to read-only, update() back: the last rules decide, so an
// update replaces the rules before it (on v2 a second program beside the first could only narrow them).
void expect_device_updates_replace(cppcker::Cgroup& cg) {
  cppcker::ResourceLimits limits;
  limits.devices = null_access("rwm");
  ASSERT_NO_THROW(cg.create(limits));
  DeviceProbe probe;
  ASSERT_NO_THROW(cg.add_process(probe.pid()));
  EXPECT_EQ(probe.open_null_for_writing(), 0);
  cppcker::oci::Resources r;
  r.devices = null_access("r");
  ASSERT_NO_THROW(cg.update(r));
  EXPECT_EQ(probe.open_null_for_writing(), EPERM);
  r.devices = null_access("rw");
  ASSERT_NO_THROW(cg.update(r));
  EXPECT_EQ(probe.open_null_for_writing(), 0);
}

class CgroupOciTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::geteuid(), 0u) << "cgroup tests need root"; }
  std::string name_ = "cppcker-cgx-" + cppcker::random_hex(4);
};

}  // namespace

TEST_F(CgroupOciTest, UpdateFreezeStatsAndDestroyOnThisHost) {
  // A relative cgroupsPath: below the test's own cgroup in each hierarchy.
  auto paths = cppcker::oci_cgroup_paths(name_ + "/ctr", "ignored");
  auto cg = cppcker::make_cgroup(paths);  // its destructor removes the cgroup should an assertion stop here
  ASSERT_NO_THROW(cg->create({}));
  auto made = cg->paths();
  CountingChild child;
  ASSERT_NO_THROW(cg->add_process(child.pid()));
  child.go();
  ASSERT_TRUE(child.counting()) << "the child does not run";
  const bool v2 = cppcker::detect_cgroup_mode() == cppcker::CgroupMode::v2;

  cppcker::oci::Resources r;
  r.memory.limit = 64 << 20;
  r.pids_limit = 16;
  r.cpu.quota = 50000;
  r.cpu.period = 100000;
  r.cpu.shares = 512;
  fs::path mem = dir_of(*cg, "memory");
  const bool memsw = !v2 && fs::exists(mem / "memory.memsw.limit_in_bytes");
  if (memsw) r.memory.swap = 128 << 20;
  ASSERT_NO_THROW(cg->update(r));
  if (v2) {
    EXPECT_EQ(read_trimmed(mem / "memory.max"), "67108864");
    EXPECT_EQ(read_trimmed(mem / "pids.max"), "16");
    EXPECT_EQ(read_trimmed(mem / "cpu.max"), "50000 100000");
    EXPECT_EQ(read_trimmed(mem / "cpu.weight"), std::to_string(cppcker::cpu_shares_to_weight(512)));
  } else {
    EXPECT_EQ(read_trimmed(mem / "memory.limit_in_bytes"), "67108864");
    if (memsw) {
      EXPECT_EQ(read_trimmed(mem / "memory.memsw.limit_in_bytes"), "134217728");
    }
    EXPECT_EQ(read_trimmed(dir_of(*cg, "pids") / "pids.max"), "16");
    EXPECT_EQ(read_trimmed(dir_of(*cg, "cpu") / "cpu.cfs_quota_us"), "50000");
    EXPECT_EQ(read_trimmed(dir_of(*cg, "cpu") / "cpu.shares"), "512");
  }

  if (memsw) {
    // Raising both past the old memory+swap and lowering both below the old memory: the kernel keeps
    // memory <= memory+swap at every step, so the order of the two writes matters.
    cppcker::oci::Resources up;
    up.memory.limit = 256 << 20;
    up.memory.swap = 512 << 20;
    ASSERT_NO_THROW(cg->update(up));
    EXPECT_EQ(read_trimmed(mem / "memory.limit_in_bytes"), "268435456");
    EXPECT_EQ(read_trimmed(mem / "memory.memsw.limit_in_bytes"), "536870912");
    cppcker::oci::Resources down;
    down.memory.limit = 32 << 20;
    down.memory.swap = 48 << 20;
    ASSERT_NO_THROW(cg->update(down));
    EXPECT_EQ(read_trimmed(mem / "memory.limit_in_bytes"), "33554432");
    EXPECT_EQ(read_trimmed(mem / "memory.memsw.limit_in_bytes"), "50331648");
    // And a refused value leaves the others as they were.
    cppcker::oci::Resources bad;
    bad.memory.limit = 16 << 20;
    bad.memory.swap = 8 << 20;
    EXPECT_THROW(cg->update(bad), cppcker::Error);
    EXPECT_EQ(read_trimmed(mem / "memory.limit_in_bytes"), "33554432");
  }

  // cpus: on v1 the cpuset cgroup is made now (create() made none) and the process moves into it.
  cppcker::oci::Resources cpus;
  cpus.cpu.cpus = "0";
  ASSERT_NO_THROW(cg->update(cpus));
  fs::path cpuset = dir_of(*cg, "cpuset");
  ASSERT_FALSE(cpuset.empty());
  EXPECT_EQ(read_trimmed(cpuset / "cpuset.cpus"), "0");
  EXPECT_TRUE(contains_pid(cpuset / "cgroup.procs", child.pid()));
  auto all = cg->paths();

  ASSERT_NO_THROW(cg->freeze());
  EXPECT_TRUE(cg->frozen());
  if (fs::path f = dir_of(*cg, "freezer"); !v2 && !f.empty() && fs::exists(f / "freezer.state")) {
    EXPECT_EQ(read_trimmed(f / "freezer.state"), "FROZEN");
  }
  EXPECT_FALSE(child.counting()) << "a frozen process kept running";
  ASSERT_NO_THROW(cg->thaw());
  EXPECT_FALSE(cg->frozen());
  EXPECT_TRUE(child.counting()) << "the thawed process does not run";

  auto stats = cg->stats();
  EXPECT_GT(stats.cpu.total, 0u);
  EXPECT_GT(stats.memory.usage.usage, 0u);
  EXPECT_EQ(stats.pids.current, 1u);
  EXPECT_EQ(stats.pids.limit, 16u);
  auto json = cppcker::runc_stats_json(stats);
  EXPECT_GT(json["cpu"]["usage"]["total"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(json["pids"]["current"], 1);

  child.stop();
  cg->destroy(cppcker::oci_cgroup_paths(name_, "ignored"));  // the name_ level is owned: it goes too
  for (const auto& d : all) EXPECT_FALSE(fs::exists(d)) << "left behind: " << d;
  for (const auto& d : all) EXPECT_FALSE(fs::exists(d.parent_path())) << "left behind: " << d.parent_path();
  EXPECT_EQ(all.size(), made.size() + (v2 ? 0 : 1));
}

TEST_F(CgroupOciTest, UnifiedHierarchyFreezesAndCountsOnAHybridHostToo) {
  // cgroup.freeze and cpu.stat of the unified hierarchy: the whole mount on v2, /sys/fs/cgroup/unified on a
  // hybrid host (the v2 implementation drives it there as well).
  std::optional<cppcker::CgroupHierarchy> unified;
  for (const auto& h : cppcker::cgroup_hierarchies())
    if (h.key.empty()) unified = h;
  if (!unified) GTEST_SKIP() << "this host has no unified hierarchy";
  std::string own = cppcker::own_cgroup("");
  auto cg = cppcker::make_cgroup_v2((own == "/" ? "" : own) + "/" + name_, unified->dir);
  ASSERT_NO_THROW(cg->create({}));
  auto dir = cg->paths().front();
  if (!fs::exists(dir / "cgroup.freeze")) GTEST_SKIP() << "the kernel has no cgroup.freeze";
  CountingChild child;
  ASSERT_NO_THROW(cg->add_process(child.pid()));
  child.go();
  ASSERT_TRUE(child.counting());
  ASSERT_NO_THROW(cg->freeze());
  EXPECT_TRUE(cg->frozen());
  EXPECT_NE(cppcker::read_file(dir / "cgroup.events").find("frozen 1"), std::string::npos);
  EXPECT_FALSE(child.counting()) << "a frozen process kept running";
  ASSERT_NO_THROW(cg->thaw());
  EXPECT_TRUE(child.counting()) << "the thawed process does not run";
  EXPECT_GT(cg->stats().cpu.total, 0u);
  // A v2 limit the unified hierarchy of a hybrid host cannot take (its controllers are v1's) is refused,
  // naming what is missing.
  if (cppcker::detect_cgroup_mode() != cppcker::CgroupMode::v2) {
    cppcker::oci::Resources r;
    r.pids_limit = 5;
    try {
      cg->update(r);
      ADD_FAILURE() << "pids on a unified hierarchy without the pids controller was accepted";
    } catch (const cppcker::Error& e) {
      EXPECT_NE(std::string(e.what()).find("the pids controller is not supported by this host's cgroups"), std::string::npos) << e.what();
    }
  }
  child.stop();
  cg->destroy({});
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(CgroupOciTest, OciCgroupsPathIsBelowOwnCgroupPerHierarchy) {
  auto paths = cppcker::oci_cgroup_paths("", "ctr-id");
  for (const auto& key : cppcker::cgroup_hierarchy_keys()) {
    std::string own = cppcker::own_cgroup(key);
    EXPECT_EQ(paths.at(key), (own == "/" ? "" : own) + "/ctr-id") << key;
  }
}

TEST_F(CgroupOciTest, DeviceRulesUpdateReplacesThemV1) {
  bool has_devices = false;
  for (const auto& h : cppcker::cgroup_hierarchies()) has_devices |= ("," + h.key + ",").find(",devices,") != std::string::npos;
  if (!has_devices) GTEST_SKIP() << "this host has no v1 devices hierarchy";
  auto cg = cppcker::make_cgroup(cppcker::oci_cgroup_paths(name_, "ignored"));
  expect_device_updates_replace(*cg);
  auto dirs = cg->paths();
  cg->destroy({});
  for (const auto& d : dirs) EXPECT_FALSE(fs::exists(d)) << "left behind: " << d;
}

TEST_F(CgroupOciTest, DeviceRulesUpdateReplacesTheProgramV2) {
  std::optional<cppcker::CgroupHierarchy> unified;
  for (const auto& h : cppcker::cgroup_hierarchies())
    if (h.key.empty()) unified = h;
  if (!unified) GTEST_SKIP() << "this host has no unified hierarchy";
  std::string own = cppcker::own_cgroup("");
  auto cg = cppcker::make_cgroup_v2((own == "/" ? "" : own) + "/" + name_, unified->dir);
  expect_device_updates_replace(*cg);
  auto dir = cg->paths().front();
  cg->destroy({});
  EXPECT_FALSE(fs::exists(dir));
}
