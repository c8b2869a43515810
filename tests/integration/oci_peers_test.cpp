// podman 4.3 (through conmon) and containerd 1.6 (through the io.containerd.runc.v2 shim) drive an OCI runtime
// binary: cppcker-runc by default, $CPPCKER_OCI_RUNTIME instead (e.g. /usr/sbin/runc, to prove the tests).
// Everything is private to each test: podman's root/runroot/tmpdir/config and runtime --root, containerd's
// root/state/socket/config and the shim's runc root; cgroups go below the test's own cgroup only.
#include "oci_peers_fixture.hpp"

using namespace peers;

namespace {

const char* kImage = "localhost/busybox:latest";

// What every test shares: a private directory, a cgroup parent below the test's own cgroup in every
// hierarchy, the busybox image archive, and the final check that nothing is left.
class PeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "these tests need root";
    runtime_ = oci_runtime();
    ASSERT_EQ(::access(runtime_.c_str(), X_OK), 0) << "OCI runtime " << runtime_ << ": " << std::strerror(errno)
                                                   << " (set CPPCKER_OCI_RUNTIME to try another)";
    hierarchies_ = cgroup_hierarchies();
    ASSERT_FALSE(hierarchies_.empty()) << "no cgroup hierarchy mounted";
    std::string own = common_own_cgroup(hierarchies_);
    ASSERT_FALSE(own.empty()) << "this process's cgroups differ between hierarchies: no one path is below all";
    cgroup_parent_ = (own == "/" ? "" : own) + "/cppcker-peers-" + random_hex(6);
    host_ = HostSnapshot::take(hierarchies_);
    char tmpl[] = "/tmp/cppcker-peers-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    ASSERT_TRUE(fs::exists(image_archive())) << image_archive() << " (built by the oci_peers_image target)";
  }

  // The common end of every test: nothing of it may remain anywhere.
  void final_check_and_remove() {
    unmount_below(dir_);
    EXPECT_TRUE(mounts_below(dir_).empty()) << "mounts left below " << dir_;
    for (const auto& h : hierarchies_) {
      fs::path d = h.dir(cgroup_parent_);
      EXPECT_TRUE(remove_cgroup_tree(d)) << "cgroup cannot be removed (a process still in it?): " << d;
    }
    auto left = processes_mentioning(dir_.string());
    EXPECT_TRUE(left.empty()) << left.size() << " processes of this test still run (first: " << (left.empty() ? 0 : left[0])
                              << ")";
    kill_and_wait_gone(left);
    host_.expect_nothing_new(hierarchies_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
    EXPECT_FALSE(ec) << "cannot remove " << dir_ << ": " << ec.message();
  }

  // A cgroup directory of the test in the hierarchy holding `controller` ("" for the unified one).
  fs::path cgroup_dir(const std::string& controller, const std::string& below_parent = "") const {
    for (const auto& h : hierarchies_)
      if (hierarchies_.size() == 1 || h.mount.filename() == controller ||
          (controller.empty() && h.mount.filename() == "unified"))
        return h.dir(cgroup_parent_ + below_parent);
    ADD_FAILURE() << "no cgroup hierarchy for " << controller;
    return {};
  }

  // scripts/build-busybox-image.sh's docker-archive of Debian's busybox-static, tagged kImage.
  static std::string image_archive() { return CPPCKER_PEERS_IMAGE; }

  static bool v1() { return !fs::exists("/sys/fs/cgroup/cgroup.controllers"); }
  // The memory limit file as the container sees its own cgroup (v1 or v2).
  static std::string memory_limit_file() {
    return v1() ? "/sys/fs/cgroup/memory/memory.limit_in_bytes" : "/sys/fs/cgroup/memory.max";
  }
  static std::string pids_limit_file() { return v1() ? "/sys/fs/cgroup/pids/pids.max" : "/sys/fs/cgroup/pids.max"; }

  std::string runtime_;
  std::vector<Hierarchy> hierarchies_;
  std::string cgroup_parent_;
  HostSnapshot host_;
  fs::path dir_;
};

// ---------------------------------------------------------------------------------------------------------
// podman

class PodmanTest : public PeerTest {
 protected:
  void SetUp() override {
    PeerTest::SetUp();
    if (HasFatalFailure()) return;
    for (const char* d : {"root", "runroot", "tmp", "net", "conf", "runtime"}) fs::create_directories(dir_ / d);
    // Every place podman would otherwise share with the host's podman: the lock (shm /libpod_lock by default),
    // the events log, the network config, the registries.
    write_file(dir_ / "conf/containers.conf",
               "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nevents_logfile_path = \"" +
                   (dir_ / "events.log").string() + "\"\nlock_type = \"file\"\n[network]\nnetwork_backend = \"cni\"\n"
                   "network_config_dir = \"" + (dir_ / "net").string() + "\"\n");
    write_file(dir_ / "conf/storage.conf", "[storage]\ndriver = \"overlay\"\nrunroot = \"" + (dir_ / "runroot").string() +
                                               "\"\ngraphroot = \"" + (dir_ / "root").string() + "\"\n");
    write_file(dir_ / "conf/registries.conf", "unqualified-search-registries = []\n");
    // podman 4.3's `container cleanup` (conmon's exit command, racing `podman rm`) runs `<runtime> delete
    // --force` without the --runtime-flag options and with an emptied environment: only a runtime that always
    // names the private root lets that delete find the container (and remove its cgroup). The wrapper keeps
    // the runtime's name, which podman looks at.
    podman_runtime_ = dir_ / "bin" / fs::path(runtime_).filename();
    fs::create_directories(podman_runtime_.parent_path());
    write_file(podman_runtime_, "#!/bin/sh\nexec '" + runtime_ + "' --root '" + (dir_ / "runtime").string() + "' \"$@\"\n");
    fs::permissions(podman_runtime_, fs::perms::owner_all);
    auto loaded = podman({"load", "-i", image_archive()}, true);
    ASSERT_EQ(loaded.code, 0) << loaded.err;
  }

  void TearDown() override {
    if (!dir_.empty() && fs::exists(dir_ / "conf/containers.conf")) {
      auto removed = podman({"rm", "-a", "-f", "-t", "0"});
      EXPECT_EQ(removed.code, 0) << removed.err;
      // conmon outlives podman by design (it is daemonized); one left here belongs to a container rm missed.
      kill_and_wait_gone(processes_mentioning(dir_.string()));
    }
    if (!dir_.empty()) final_check_and_remove();
  }

  std::vector<std::string> podman_argv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"podman",          "--root",        (dir_ / "root").string(),
                                     "--runroot",       (dir_ / "runroot").string(),
                                     "--tmpdir",        (dir_ / "tmp").string(),
                                     "--cgroup-manager", "cgroupfs",     "--events-backend", "file",
                                     "--storage-driver", "overlay",      "--runtime", podman_runtime_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  std::vector<std::string> podman_env() const {
    return {"CONTAINERS_CONF=" + (dir_ / "conf/containers.conf").string(),
            "CONTAINERS_STORAGE_CONF=" + (dir_ / "conf/storage.conf").string(),
            "CONTAINERS_REGISTRIES_CONF=" + (dir_ / "conf/registries.conf").string()};
  }
  Result podman(const std::vector<std::string>& args, bool private_var_lib = false) const {
    return run(podman_argv(args), RunOptions{podman_env(), 120s, private_var_lib});
  }
  // `podman run` with this test's network, cgroup parent and the limits this machine allows.
  std::vector<std::string> run_args(const std::vector<std::string>& args) const {
    std::vector<std::string> a = {"run",      "--network", "none",           "--cgroup-parent",      cgroup_parent_,
                                  "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"};
    a.insert(a.end(), args.begin(), args.end());
    return a;
  }
  Result podman_run(const std::vector<std::string>& args) const { return podman(run_args(args)); }

  fs::path podman_runtime_;  // runtime_ behind a wrapper that names the private root
};

TEST_F(PodmanTest, RunRmPrintsTheOutputAndPassesTheExitCode) {
  auto r = podman_run({"--rm", kImage, "echo", "hello from the container"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "hello from the container\n");
  r = podman_run({"--rm", kImage, "sh", "-c", "echo to-stderr >&2; exit 3"});
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("to-stderr"), std::string::npos) << r.err;
  EXPECT_EQ(trim(podman({"ps", "-aq"}).out), "") << "--rm left the container";

  // Killed from outside while podman waits in the foreground: 128+9, and --rm still removes it.
  auto fg = PtySession(podman_argv(run_args({"--rm", "--name", "fg", kImage, "sleep", "100"})), podman_env());
  ASSERT_TRUE(eventually([&] { return trim(podman({"inspect", "--format", "{{.State.Status}}", "fg"}).out) == "running"; },
                         60s));
  auto killed = podman({"kill", "-s", "KILL", "fg"});
  EXPECT_EQ(killed.code, 0) << killed.err;
  EXPECT_EQ(fg.wait(60s), 137) << fg.output();
  EXPECT_TRUE(eventually([&] { return trim(podman({"ps", "-aq"}).out).empty(); }, 20s)) << "--rm left the container";
}

TEST_F(PodmanTest, DetachedContainerExecLogsStopAndRm) {
  auto started = podman_run({"-d", "--name", "web", kImage, "sh", "-c", "echo started; exec sleep 100"});
  ASSERT_EQ(started.code, 0) << started.err;
  EXPECT_EQ(trim(podman({"inspect", "--format", "{{.State.Status}}", "web"}).out), "running");

  auto e = podman({"exec", "web", "sh", "-c", "echo in-exec; exit 5"});
  EXPECT_EQ(e.code, 5) << e.err;
  EXPECT_EQ(e.out, "in-exec\n");
  e = podman({"exec", "web", "cat", "/proc/1/cmdline"});
  EXPECT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(e.out, std::string("sleep") + '\0' + "100" + '\0') << "exec does not see the container's pid 1";

  EXPECT_TRUE(eventually([&] { return podman({"logs", "web"}).out == "started\n"; })) << podman({"logs", "web"}).out;

  // sh as pid 1 ignores SIGTERM: podman stop falls back to SIGKILL after the timeout, through the runtime's kill.
  auto stopped = podman({"stop", "-t", "1", "web"});
  EXPECT_EQ(stopped.code, 0) << stopped.err;
  EXPECT_EQ(trim(podman({"inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "web"}).out), "exited 137");
  auto removed = podman({"rm", "web"});
  EXPECT_EQ(removed.code, 0) << removed.err;

  // A signal sent with podman kill ends the container with 128+N.
  ASSERT_EQ(podman_run({"-d", "--name", "victim", kImage, "sleep", "100"}).code, 0);
  auto killed = podman({"kill", "-s", "KILL", "victim"});
  EXPECT_EQ(killed.code, 0) << killed.err;
  auto waited = podman({"wait", "victim"});
  EXPECT_EQ(trim(waited.out), "137") << waited.err;
  EXPECT_EQ(podman({"rm", "victim"}).code, 0);
  EXPECT_EQ(trim(podman({"ps", "-aq"}).out), "");
}

TEST_F(PodmanTest, InteractiveTerminalThroughConmon) {
  auto argv = podman_argv(run_args({"--rm", "-it", kImage, "sh"}));
  PtySession s(argv, podman_env());
  ASSERT_TRUE(s.expect("# ", 60s)) << "no prompt; output: " << s.output();
  s.send("echo $((6*7)); tty; stty size\n");
  EXPECT_TRUE(s.expect("42\r\n")) << s.output();
  EXPECT_TRUE(s.expect("/dev/pts/0\r\n")) << s.output();
  EXPECT_TRUE(s.expect("24 80\r\n")) << "the terminal size did not reach the container: " << s.output();
  s.send("exit 4\n");
  EXPECT_EQ(s.wait(60s), 4) << s.output();
}

TEST_F(PodmanTest, MemoryLimitIsSetInTheContainersCgroupBelowTheParent) {
  auto r = podman_run({"--rm", "--memory", "64m", kImage, "cat", memory_limit_file()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(trim(r.out), "67108864");

  // From outside: the container's cgroup lies below the test's parent and holds the limit.
  ASSERT_EQ(podman_run({"-d", "--name", "mem", "--memory", "32m", kImage, "sleep", "100"}).code, 0);
  std::string pid = trim(podman({"inspect", "--format", "{{.State.Pid}}", "mem"}).out);
  ASSERT_NE(pid, "0");
  std::string cgroups = read_file("/proc/" + pid + "/cgroup");
  std::string path;
  std::istringstream lines(cgroups);
  for (std::string line; std::getline(lines, line);) {
    auto a = line.find(':'), b = line.find(':', a + 1);
    std::string controllers = line.substr(a + 1, b - a - 1);
    if ((v1() && controllers == "memory") || (!v1() && controllers.empty())) path = line.substr(b + 1);
  }
  ASSERT_EQ(path.rfind(cgroup_parent_ + "/", 0), 0u) << "container cgroup " << path << " not below " << cgroup_parent_;
  fs::path dir = cgroup_dir(v1() ? "memory" : "", path.substr(cgroup_parent_.size()));
  EXPECT_EQ(trim(read_file(dir / (v1() ? "memory.limit_in_bytes" : "memory.max"))), "33554432") << dir;
  EXPECT_EQ(podman({"rm", "-f", "-t", "0", "mem"}).code, 0);
  EXPECT_FALSE(fs::exists(dir)) << "the container's cgroup outlived it: " << dir;
}

TEST_F(PodmanTest, PidsLimitIsEnforced) {
  auto r = podman_run({"--rm", "--pids-limit", "20", kImage, "cat", pids_limit_file()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(trim(r.out), "20");
  // Of 30 background sleepers, the shell (itself one of the 20) starts at most 19, then fork fails.
  r = podman_run({"--rm", "--pids-limit", "20", kImage, "sh", "-c",
                  "i=0; while [ $i -lt 30 ]; do sleep 10 & i=$((i+1)); echo $i; done"});
  EXPECT_NE(r.code, 0) << "30 processes started under a limit of 20: " << r.out;
  int last = 0;
  std::istringstream counts(r.out);
  for (int n; counts >> n;) last = n;
  EXPECT_GE(last, 10) << r.out << r.err;
  EXPECT_LT(last, 20) << r.out << r.err;
  EXPECT_NE(r.err.find("fork"), std::string::npos) << r.err;
}

TEST_F(PodmanTest, CapDropRemovesTheCapability) {
  auto allowed = podman_run({"--rm", kImage, "chown", "1", "/tmp"});
  EXPECT_EQ(allowed.code, 0) << "chown fails even with CAP_CHOWN: " << allowed.err;
  auto denied = podman_run({"--rm", "--cap-drop", "CHOWN", kImage, "chown", "1", "/tmp"});
  EXPECT_EQ(denied.code, 1) << denied.out << denied.err;
  EXPECT_NE(denied.err.find("Operation not permitted"), std::string::npos) << denied.err;
}

TEST_F(PodmanTest, PodmanShowsTheRuntimesErrorWhenItRefuses) {
  auto r = podman_run({"--rm", kImage, "no-such-command"});
  // podman maps the runtime's "executable file not found" / "no such file" to 127, as Docker does.
  EXPECT_EQ(r.code, 127) << r.err;
  EXPECT_NE(r.err.find("no-such-command"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(podman_runtime_.string()), std::string::npos) << "podman names the runtime that failed: " << r.err;
  EXPECT_EQ(trim(podman({"ps", "-aq"}).out), "");
}

// ---------------------------------------------------------------------------------------------------------
// containerd

class ContainerdTest : public PeerTest {
 protected:
  void SetUp() override {
    run_containerd_existed_ = fs::exists("/run/containerd");
    PeerTest::SetUp();
    if (HasFatalFailure()) return;
    socket_ = (dir_ / "containerd.sock").string();
    fs::create_directories(dir_ / "fifo");
    // Only what ctr needs: no CRI, no snapshotters that need other file systems, no tracing.
    write_file(dir_ / "config.toml",
               "version = 2\nroot = \"" + (dir_ / "root").string() + "\"\nstate = \"" + (dir_ / "state").string() +
                   "\"\noom_score = 0\n"
                   "disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.snapshotter.v1.btrfs\", "
                   "\"io.containerd.snapshotter.v1.zfs\", \"io.containerd.snapshotter.v1.devmapper\", "
                   "\"io.containerd.snapshotter.v1.aufs\", \"io.containerd.tracing.processor.v1.otlp\", "
                   "\"io.containerd.internal.v1.tracing\"]\n"
                   "[grpc]\n  address = \"" + socket_ + "\"\n[ttrpc]\n  address = \"" + socket_ + ".ttrpc\"\n"
                   "[debug]\n  address = \"" + (dir_ / "debug.sock").string() + "\"\n");
    containerd_ = spawn({"containerd", "--config", (dir_ / "config.toml").string()}, dir_ / "containerd.log");
    ASSERT_TRUE(eventually([&] { return ctr({"version"}).code == 0; }, 30s))
        << "containerd did not come up: " << read_file(dir_ / "containerd.log");
    auto imported = ctr({"images", "import", image_archive()});
    ASSERT_EQ(imported.code, 0) << imported.err;
  }

  void TearDown() override {
    if (containerd_ > 0) {
      // Tasks first (each through the shim and the runtime), then the containers, then containerd itself.
      std::istringstream tasks(ctr({"task", "ls", "-q"}).out);
      for (std::string id; tasks >> id;) {
        ctr({"task", "kill", "-s", "SIGKILL", id});
        eventually([&] { return ctr({"task", "rm", "-f", id}).code == 0; }, 10s);
      }
      std::istringstream containers(ctr({"containers", "ls", "-q"}).out);
      for (std::string id; containers >> id;) ctr({"containers", "rm", id});
      stop_child(containerd_);
    }
    if (!dir_.empty()) {
      // Shims are daemonized (their parent is init, not containerd): stop any that outlived their task by pid.
      auto shims = processes_mentioning(socket_.empty() ? dir_.string() : socket_);
      EXPECT_TRUE(shims.empty()) << shims.size() << " shims outlived their tasks";
      kill_and_wait_gone(shims);
      // The shims' sockets live in /run/containerd/s whatever the config says; each removes its own on exit.
      if (!run_containerd_existed_) {
        EXPECT_TRUE(entries("/run/containerd/s").empty()) << "shim sockets left in /run/containerd/s";
        std::error_code ec;
        fs::remove("/run/containerd/s", ec);
        fs::remove("/run/containerd", ec);
      }
      final_check_and_remove();
    }
  }

  Result ctr(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"ctr", "--address", socket_, "--namespace", "cppcker-test"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, RunOptions{{}, 120s, false});
  }
  // `ctr run` through the runc v2 shim with the runtime under test, its root and the fifos in the test's
  // directory and the container's cgroup below the test's parent.
  Result ctr_run(const std::string& id, std::vector<std::string> flags, const std::vector<std::string>& command) const {
    std::vector<std::string> args = {"run",           "--runtime", "io.containerd.runc.v2", "--runc-binary", runtime_,
                                     "--runc-root",  (dir_ / "runc").string(), "--fifo-dir", (dir_ / "fifo").string(),
                                     "--cgroup",     cgroup_parent_ + "/" + id};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back(kImage);
    args.push_back(id);
    args.insert(args.end(), command.begin(), command.end());
    return ctr(args);
  }
  // The status column of `ctr task ls` for one task.
  std::string task_status(const std::string& id) const {
    std::istringstream lines(ctr({"task", "ls"}).out);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream f(line);
      std::string tid, pid, status;
      f >> tid >> pid >> status;
      if (tid == id) return status;
    }
    return "";
  }

  bool run_containerd_existed_ = false;
  std::string socket_;
  pid_t containerd_ = -1;
};

TEST_F(ContainerdTest, RunRmPrintsTheOutputAndPassesTheExitCode) {
  auto r = ctr_run("once", {"--rm"}, {"echo", "hello from the shim"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "hello from the shim\n");
  r = ctr_run("three", {"--rm"}, {"sh", "-c", "exit 3"});
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(trim(ctr({"containers", "ls", "-q"}).out), "");
  // The shim kept the runtime's state under the private root, and removed it with the container.
  EXPECT_TRUE(fs::exists(dir_ / "runc/cppcker-test")) << "the shim did not pass --root to the runtime";
  EXPECT_TRUE(entries(dir_ / "runc/cppcker-test").empty());
}

TEST_F(ContainerdTest, TaskExecPsPauseResumeMetricsAndKill) {
  auto started = ctr_run("box", {"-d", "--memory-limit", "67108864"}, {"sleep", "100"});
  ASSERT_EQ(started.code, 0) << started.err;
  ASSERT_TRUE(eventually([&] { return task_status("box") == "RUNNING"; })) << ctr({"task", "ls"}).out;

  // The task's pid is the one ps lists, and it lives in the cgroup ctr asked for.
  std::istringstream ls(ctr({"task", "ls"}).out);
  std::string line, pid;
  while (std::getline(ls, line))
    if (line.rfind("box ", 0) == 0) std::istringstream(line.substr(4)) >> pid;
  ASSERT_FALSE(pid.empty());
  auto ps = ctr({"task", "ps", "box"});
  EXPECT_EQ(ps.code, 0) << ps.err;
  EXPECT_NE(ps.out.find(pid), std::string::npos) << ps.out;
  EXPECT_NE(read_file("/proc/" + pid + "/cgroup").find(cgroup_parent_ + "/box"), std::string::npos)
      << read_file("/proc/" + pid + "/cgroup");

  auto e = ctr({"task", "exec", "--fifo-dir", (dir_ / "fifo").string(), "--exec-id", "e1", "box", "sh", "-c",
                "echo in-exec; exit 4"});
  EXPECT_EQ(e.code, 4) << e.err;
  EXPECT_EQ(e.out, "in-exec\n");

  auto paused = ctr({"task", "pause", "box"});
  EXPECT_EQ(paused.code, 0) << paused.err;
  EXPECT_EQ(task_status("box"), "PAUSED");
  if (v1()) {
    EXPECT_EQ(trim(read_file(cgroup_dir("freezer", "/box") / "freezer.state")), "FROZEN");
  }
  auto resumed = ctr({"task", "resume", "box"});
  EXPECT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(task_status("box"), "RUNNING");

  auto metrics = ctr({"task", "metrics", "box"});
  EXPECT_EQ(metrics.code, 0) << metrics.err;
  if (v1()) {
    EXPECT_NE(metrics.out.find("memory.usage_in_bytes"), std::string::npos) << metrics.out;
    EXPECT_NE(metrics.out.find("67108864"), std::string::npos) << "memory limit missing: " << metrics.out;
    EXPECT_NE(metrics.out.find("pids.current"), std::string::npos) << metrics.out;
  } else {
    EXPECT_NE(metrics.out.find("memory"), std::string::npos) << metrics.out;
  }

  auto killed = ctr({"task", "kill", "-s", "SIGKILL", "box"});
  EXPECT_EQ(killed.code, 0) << killed.err;
  EXPECT_TRUE(eventually([&] { return task_status("box") == "STOPPED"; })) << ctr({"task", "ls"}).out;
  auto deleted = ctr({"task", "rm", "box"});
  EXPECT_EQ(deleted.code, 0) << deleted.err;
  EXPECT_EQ(ctr({"containers", "rm", "box"}).code, 0);
  EXPECT_FALSE(fs::exists(cgroup_dir("memory", "/box"))) << "the task's cgroup outlived it";
}

TEST_F(ContainerdTest, TerminalThroughTheShimsConsoleSocket) {
  // ctr -t: the shim hands the runtime a console socket and relays the pty it receives.
  std::vector<std::string> argv = {"ctr", "--address", socket_, "--namespace", "cppcker-test", "run", "-t", "--rm",
                                   "--runtime", "io.containerd.runc.v2", "--runc-binary", runtime_, "--runc-root",
                                   (dir_ / "runc").string(), "--fifo-dir", (dir_ / "fifo").string(), "--cgroup",
                                   cgroup_parent_ + "/tty", kImage, "tty", "sh"};
  PtySession s(argv);
  ASSERT_TRUE(s.expect("# ", 60s)) << "no prompt; output: " << s.output();
  s.send("echo $((6*7)); tty\n");
  EXPECT_TRUE(s.expect("42\r")) << s.output();
  EXPECT_TRUE(s.expect("/dev/pts/0\r")) << s.output();
  ASSERT_TRUE(s.expect("# ")) << s.output();
  s.send("exit 4\r");
  EXPECT_EQ(s.wait(60s), 4) << s.output();
}

TEST_F(ContainerdTest, TheRuntimesErrorReachesCtr) {
  auto r = ctr_run("broken", {"--rm"}, {"no-such-command"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("no-such-command"), std::string::npos) << r.err;
  EXPECT_EQ(task_status("broken"), "");
}

}  // namespace
