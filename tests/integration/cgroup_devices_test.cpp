// Device rules on the real kernel: v1's devices controller and a cgroup v2 BPF program must let a process
// in the cgroup open what the rules allow and nothing else. The cgroups lie below the test process's own.
#include <fcntl.h>

#include <algorithm>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cppcker/cgroup/cgroup.hpp"
#include "cppcker/cgroup/device_filter.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using cppcker::oci::DeviceRule;

namespace {

std::vector<DeviceRule> docker_default() {
  auto allow = [](const char* type, std::optional<std::int64_t> major, std::optional<std::int64_t> minor,
                  const char* access) { return DeviceRule{true, type, major, minor, access}; };
  return {DeviceRule{false, "a", {}, {}, "rwm"},
          allow("c", {}, {}, "m"), allow("b", {}, {}, "m"), allow("c", 1, 3, "rwm"), allow("c", 1, 5, "rwm"),
          allow("c", 1, 7, "rwm"), allow("c", 1, 8, "rwm"), allow("c", 1, 9, "rwm"), allow("c", 5, 0, "rwm"),
          allow("c", 5, 1, "rwm"), allow("c", 5, 2, "rwm"), allow("c", 136, {}, "rwm")};
}
// Read access to /dev/null only, not even mknod.
std::vector<DeviceRule> null_read_only() { return {DeviceRule{false, "a", {}, {}, "rwm"}, DeviceRule{true, "c", 1, 3, "r"}}; }

// One thing the confined process tries, and the errno it must get (0: success).
struct Probe {
  std::string what;
  std::function<int()> attempt;  // returns 0 or errno; runs in the child
  int expected;
};

int try_open(const fs::path& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}
int try_mknod(const fs::path& path, mode_t type, unsigned major, unsigned minor) {
  if (::mknod(path.c_str(), type | 0600, makedev(major, minor)) != 0) return errno;
  ::unlink(path.c_str());
  return 0;
}

// A child that waits until the test has moved it into the cgroup, runs the probes and reports each errno.
// Killed and reaped when the guard goes, whatever happened.
class ConfinedChild {
 public:
  explicit ConfinedChild(const std::vector<Probe>& probes) : count_(probes.size()) {
    if (::pipe2(go_, O_CLOEXEC) != 0 || ::pipe2(results_, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      char c;
      if (::read(go_[0], &c, 1) != 1) ::_exit(1);
      for (const auto& p : probes) {
        int err = p.attempt();
        if (::write(results_[1], &err, sizeof err) != sizeof err) ::_exit(1);
      }
      ::_exit(0);
    }
    ::close(go_[0]);
    ::close(results_[1]);
    go_[0] = results_[1] = -1;
  }
  ~ConfinedChild() {
    for (int fd : {go_[1], results_[0]})
      if (fd >= 0) ::close(fd);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  // Lets it run and collects one errno per probe.
  std::vector<int> run() {
    if (::write(go_[1], "g", 1) != 1) return {};
    std::vector<int> out(count_, -1);
    std::size_t want = count_ * sizeof(int), got = 0;
    while (got < want) {
      ssize_t n = ::read(results_[0], reinterpret_cast<char*>(out.data()) + got, want - got);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the confined child failed";
    if (got < want) ADD_FAILURE() << "the confined child reported " << got / sizeof(int) << " of " << count_ << " results";
    return out;
  }

 private:
  std::size_t count_;
  pid_t pid_ = -1;
  int go_[2] = {-1, -1}, results_[2] = {-1, -1};
};

class CgroupDevicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "device cgroup tests need root";
    // Nodes of devices no rule allows, in a directory of the test's own (on a filesystem without nodev).
    kmsg_ = tmp_.path / "kmsg";     // c 1:11
    loop_ = tmp_.path / "loop0";    // b 7:0
    ASSERT_EQ(::mknod(kmsg_.c_str(), S_IFCHR | 0600, makedev(1, 11)), 0) << std::strerror(errno);
    ASSERT_EQ(::mknod(loop_.c_str(), S_IFBLK | 0600, makedev(7, 0)), 0) << std::strerror(errno);
    // Unconfined, opening them must not fail with EPERM: only the cgroup may make it so.
    ASSERT_EQ(try_open(kmsg_, O_RDONLY), 0);
    ASSERT_NE(try_open(loop_, O_RDONLY), EPERM);
    name_ = "cppcker-devtest-" + cppcker::random_hex(4);
  }

  std::vector<Probe> docker_probes() const {
    return {{"open /dev/null rw", [] { return try_open("/dev/null", O_RDWR); }, 0},
            {"open /dev/urandom r", [] { return try_open("/dev/urandom", O_RDONLY); }, 0},
            {"open c 1:11 r", [this] { return try_open(kmsg_, O_RDONLY); }, EPERM},
            {"open b 7:0 r", [this] { return try_open(loop_, O_RDONLY); }, EPERM},
            {"mknod c 1:11", [this] { return try_mknod(tmp_.path / "made-c", S_IFCHR, 1, 11); }, 0},
            {"mknod b 7:0", [this] { return try_mknod(tmp_.path / "made-b", S_IFBLK, 7, 0); }, 0}};
  }
  std::vector<Probe> null_read_only_probes() const {
    return {{"open /dev/null r", [] { return try_open("/dev/null", O_RDONLY); }, 0},
            {"open /dev/null w", [] { return try_open("/dev/null", O_WRONLY); }, EPERM},
            {"open /dev/zero r", [] { return try_open("/dev/zero", O_RDONLY); }, EPERM},
            {"mknod c 1:3", [this] { return try_mknod(tmp_.path / "made-null", S_IFCHR, 1, 3); }, EPERM}};
  }

  // Creates the cgroup with `rules`, moves a child in and checks every probe; then destroys the cgroup and
  // checks that none of its directories is left.
  void expect_enforced(cppcker::Cgroup& cg, const std::vector<DeviceRule>& rules, const std::vector<Probe>& probes,
                       std::size_t directories) {
    cppcker::ResourceLimits limits;
    limits.devices = rules;
    ASSERT_NO_THROW(cg.create(limits));
    auto dirs = cg.paths();
    ASSERT_EQ(dirs.size(), directories);
    for (const auto& d : dirs) EXPECT_TRUE(fs::is_directory(d)) << d;
    {
      ConfinedChild child(probes);
      ASSERT_NO_THROW(cg.add_process(child.pid()));
      std::vector<int> results = child.run();
      ASSERT_EQ(results.size(), probes.size());
      for (std::size_t i = 0; i < probes.size(); ++i)
        EXPECT_EQ(results[i], probes[i].expected)
            << probes[i].what << ": got " << (results[i] > 0 ? std::strerror(results[i]) : std::to_string(results[i]));
    }
    cg.destroy({});
    for (const auto& d : dirs) EXPECT_FALSE(fs::exists(d)) << "left behind: " << d;
  }

  testsupport::TempDir tmp_;
  fs::path kmsg_, loop_;
  std::string name_;
};

}  // namespace

TEST_F(CgroupDevicesTest, V1DevicesControllerEnforcesTheRules) {
  auto hierarchies = cppcker::cgroup_hierarchies();
  bool has_devices = false;
  for (const auto& h : hierarchies) has_devices |= ("," + h.key + ",").find(",devices,") != std::string::npos;
  if (!has_devices) GTEST_SKIP() << "this host has no v1 devices hierarchy";

  // A container-like cgroup: below the test's own cgroup in every hierarchy the host has (but a cpuset
  // one of its own, which is made only when cpuset limits are asked for).
  const std::size_t joined = std::count_if(hierarchies.begin(), hierarchies.end(), [](const auto& h) { return h.key != "cpuset"; });
  for (const auto& [rules, probes] : {std::pair{docker_default(), docker_probes()}, std::pair{null_read_only(), null_read_only_probes()}}) {
    cppcker::CgroupPaths paths;
    for (const auto& h : hierarchies) {
      std::string own = cppcker::own_cgroup(h.key);
      paths[h.key] = (own == "/" ? "" : own) + "/" + name_ + cppcker::random_hex(2);
    }
    auto cg = cppcker::make_cgroup(paths);  // its destructor removes the cgroup should an assertion stop here
    expect_enforced(*cg, rules, probes, joined);
  }
}

TEST_F(CgroupDevicesTest, V2ProgramEnforcesTheRules) {
  // The unified hierarchy: the whole mount on v2, /sys/fs/cgroup/unified on a hybrid host. BPF device
  // programs run there on a hybrid host too.
  std::optional<cppcker::CgroupHierarchy> unified;
  for (const auto& h : cppcker::cgroup_hierarchies())
    if (h.key.empty()) unified = h;
  if (!unified) GTEST_SKIP() << "this host has no cgroup2 hierarchy";
  for (const auto& [rules, probes] : {std::pair{docker_default(), docker_probes()}, std::pair{null_read_only(), null_read_only_probes()}}) {
    std::string own = cppcker::own_cgroup("");
    auto cg = cppcker::make_cgroup_v2((own == "/" ? "" : own) + "/" + name_ + cppcker::random_hex(2), unified->dir);
    expect_enforced(*cg, rules, probes, 1);
  }
}

TEST(DeviceFilterKernel, VerifierAcceptsThePrograms) {
  ASSERT_EQ(::geteuid(), 0u) << "loading BPF programs needs root";
  std::vector<std::vector<DeviceRule>> lists = {docker_default(), null_read_only(), {}, {DeviceRule{true, "a", {}, {}, "rwm"}},
                                                {DeviceRule{true, "a", {}, {}, "rwm"}, DeviceRule{false, "b", 8, {}, "rw"},
                                                 DeviceRule{false, "c", 4294967295, 2147483648, "m"}}};
  std::vector<DeviceRule> many = {DeviceRule{false, "a", {}, {}, "rwm"}};
  for (int i = 0; i < 1000; ++i) many.push_back(DeviceRule{true, i % 2 ? "b" : "c", i, i % 3 ? std::optional<std::int64_t>(i) : std::nullopt, "rw"});
  lists.push_back(many);
  for (const auto& rules : lists) {
    auto program = cppcker::device_filter_program(rules);
    try {
      cppcker::UniqueFd fd = cppcker::load_device_filter(program);
      EXPECT_TRUE(fd);
    } catch (const cppcker::Error& e) {
      ADD_FAILURE() << e.what();
    }
  }
}
