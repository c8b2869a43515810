// kill -9 at several moments, and many run/rm cycles: the store and the machine stay clean.
#include <signal.h>
#include <sys/wait.h>

#include <sstream>

#include "runtime_fixture.hpp"

namespace {
// The mounts below `root` (this test's state root): other tests running beside this one mount and unmount
// elsewhere on the host, so the whole table is no measure of what this test left.
int mounts_below(const fs::path& root) {
  std::istringstream table(cppcker::read_file("/proc/self/mountinfo"));
  int n = 0;
  for (std::string line; std::getline(table, line);) n += line.find(" " + root.string()) != std::string::npos;
  return n;
}
}  // namespace

TEST_F(RuntimeTest, KillNineOfTheMonitorLeavesAStateRmCanHandle) {
  std::string id = trim(run({"-d", "img", "sleep", "100"}).out);
  auto c = record(id);
  pid_t monitor = c["state"]["monitor_pid"];
  pid_t pid = c["state"]["pid"];
  ASSERT_GT(monitor, 0);
  ASSERT_EQ(::kill(monitor, SIGKILL), 0);
  // The container dies with its monitor (parent-death signal); nobody records it, so ps works it out.
  EXPECT_TRUE(eventually([&] { return ::kill(pid, 0) != 0; }));
  EXPECT_TRUE(eventually([&] { return cpk_({"ps", "-a"}).out.find("Exited (137)") != std::string::npos; }));
  EXPECT_EQ(cpk_({"ps", "-q"}).out, "");
  EXPECT_EQ(cpk_({"rm", id}).exit_code, 0);
  EXPECT_FALSE(fs::exists(cpk_.root / "containers" / id));
}

TEST_F(RuntimeTest, KillNineOfAForegroundRunLeavesAStateRmCanHandle) {
  pid_t cli = ts::spawn(run_argv({"--name", "fg", "img", "sleep", "100"}), tmp_.path / "fg.log");
  ASSERT_TRUE(eventually([&] { return inspect("fg")["State"]["Status"] == "running"; }));
  pid_t pid = inspect("fg")["State"]["Pid"];
  ::kill(cli, SIGKILL);
  ::waitpid(cli, nullptr, 0);
  EXPECT_TRUE(eventually([&] { return ::kill(pid, 0) != 0; }));
  EXPECT_EQ(inspect("fg")["State"]["Status"], "exited");
  EXPECT_EQ(cpk_({"rm", "fg"}).exit_code, 0);
}

TEST_F(RuntimeTest, KillNineAtRandomMomentsOfStartThenRmForceLeavesNothing) {
  // Kill the CLI at moments from "just forked" to "well started"; whatever state each leaves, rm -f copes.
  for (int delay_ms : {0, 1, 2, 4, 7, 10, 15, 25, 40, 80}) {
    pid_t cli = ts::spawn(run_argv({"-d", "img", "sleep", "100"}), tmp_.path / "kill.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(cli, SIGKILL);
    ::waitpid(cli, nullptr, 0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto ids = cpk_({"ps", "-aq", "--no-trunc"});
  std::istringstream in(ids.out);
  std::string id;
  while (in >> id) EXPECT_EQ(cpk_({"rm", "-f", id}).exit_code, 0) << id;
  EXPECT_EQ(cpk_({"ps", "-aq"}).out, "");
  std::vector<std::string> left;
  for (auto& e : fs::directory_iterator(cpk_.root / "containers"))
    if (e.path().filename() != ".lock") left.push_back(e.path().filename());
  EXPECT_TRUE(left.empty()) << left.size() << " container directories left";
  // No process of ours may survive: every container died with its parent or was removed.
  std::vector<std::string> survivors;
  for (auto& e : fs::directory_iterator("/proc")) {
    std::string pid = e.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    auto cmdline = cppcker::read_file_if_exists(e.path() / "cmdline");
    if (cmdline && cmdline->find(cpk_.root.string()) != std::string::npos) survivors.push_back(pid);
  }
  EXPECT_TRUE(survivors.empty()) << survivors.size() << " processes of this store survive";
}

TEST_F(RuntimeTest, RmForceDuringTheStartOfADetachedRunLeavesNothing) {
  // `rm -f` lands between the record's creation and the container's start, at varying moments: the
  // starting side must neither run a container nobody can see nor bring the removed directory back.
  fs::path containers = cpk_.root / "containers";
  auto records = [&] {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(containers, ec))
      if (e.path().filename().string().front() != '.') out.push_back(e.path().filename());
    return out;
  };
  for (int i = 0; i < 12; ++i) {
    std::string name = "race" + std::to_string(i);
    pid_t cli = ts::spawn(run_argv({"-d", "--name", name, "img", "sleep", "100"}), tmp_.path / "race.log");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (records().empty() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    ASSERT_FALSE(records().empty()) << "run -d never created its record";
    // Holding the CLI still makes the window as wide as rm needs, wherever it falls in the start.
    std::this_thread::sleep_for(std::chrono::milliseconds(i % 4 * 2));
    ::kill(cli, SIGSTOP);
    auto removed = cpk_({"rm", "-f", name});
    ::kill(cli, SIGCONT);
    EXPECT_EQ(removed.exit_code, 0) << name << ": " << removed.err;
    ::waitpid(cli, nullptr, 0);
    EXPECT_TRUE(records().empty()) << name << ": a record came back after rm -f";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(cpk_({"ps", "-aq"}).out, "");
  EXPECT_TRUE(records().empty());
  for (const auto& dir : cgroup_dirs()) EXPECT_FALSE(fs::exists(dir)) << "a container of the race runs on: " << dir;
}

TEST_F(RuntimeTest, TwoHundredRunRmCyclesLeaveNoTrace) {
  auto mounts_before = mounts_below(cpk_.root);
  for (int i = 0; i < 200; ++i) {
    auto r = run({"--rm", "img", "true"});
    ASSERT_EQ(r.exit_code, 0) << "cycle " << i << ": " << r.err;
  }
  for (int i = 0; i < 10; ++i) {
    auto started = run({"-d", "img", "sleep", "100"});
    ASSERT_EQ(started.exit_code, 0) << "cycle " << i << ": " << started.err;
    std::string id = trim(started.out);
    auto removed = cpk_({"rm", "-f", id});
    ASSERT_EQ(removed.exit_code, 0) << "cycle " << i << ": " << removed.err;
  }
  EXPECT_EQ(mounts_below(cpk_.root), mounts_before);
  EXPECT_EQ(cpk_({"ps", "-aq"}).out, "");
  std::size_t entries = 0;
  for (auto& e : fs::directory_iterator(cpk_.root / "containers")) entries += e.path().filename() != ".lock";
  EXPECT_EQ(entries, 0u);
  for (const auto& dir : cgroup_dirs()) EXPECT_FALSE(fs::exists(dir)) << dir;
}
