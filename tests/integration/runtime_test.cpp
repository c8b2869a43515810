// run, ps, exec, logs, stop, kill, rm, inspect and limits on the real kernel.
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>

#include <map>

#include "cppcker/runtime/container.hpp"
#include "runtime_fixture.hpp"

TEST_F(RuntimeTest, FirstProcessIsPid1InItsOwnNamespaces) {
  auto r = run({"--rm", "img", "sh", "-c", "echo $$; hostname; ps -o pid | tail -n +2 | wc -l; ls /proc | grep -c '^[0-9]'"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream out(r.out);
  std::string pid, hostname, ps_count;
  out >> pid >> hostname >> ps_count;
  EXPECT_EQ(pid, "1");
  EXPECT_TRUE(std::regex_match(hostname, std::regex("[0-9a-f]{12}"))) << hostname;
  EXPECT_LE(std::stoi(ps_count), 5) << "host processes are visible:\n" << r.out;  // sh and its pipeline
  auto named = run({"--rm", "-h", "box", "img", "hostname"});
  EXPECT_EQ(named.out, "box\n");
  EXPECT_EQ(cpk_({"ps", "-aq"}).out, "") << "--rm left the container";
}

TEST_F(RuntimeTest, MountsStayInsideTheContainer) {
  auto id = trim(run({"-d", "img", "sleep", "30"}).out);
  ASSERT_EQ(id.size(), 64u);
  // The host holds exactly one mount of the container: the bind mount that keeps its network namespace.
  std::istringstream host_mounts(cppcker::read_file("/proc/self/mountinfo"));
  std::vector<std::string> ours;
  for (std::string line; std::getline(host_mounts, line);)
    if (line.find(id) != std::string::npos) ours.push_back(line);
  ASSERT_EQ(ours.size(), 1u) << "the container's rootfs is mounted on the host";
  EXPECT_NE(ours[0].find(id + "/netns "), std::string::npos) << ours[0];
  auto inside = cpk_({"exec", id, "cat", "/proc/self/mountinfo"});
  EXPECT_NE(inside.out.find(" / / "), std::string::npos);
  EXPECT_NE(inside.out.find("overlay"), std::string::npos);
  EXPECT_EQ(inside.out.find("/work/"), std::string::npos) << "host paths leak into the container";
  for (const char* dev : {"/dev/null", "/dev/zero", "/dev/urandom", "/dev/tty", "/dev/pts/ptmx", "/dev/shm", "/dev/fd"}) {
    auto t = cpk_({"exec", id, "test", "-e", dev});
    EXPECT_EQ(t.exit_code, 0) << dev;
  }
  EXPECT_EQ(cpk_({"exec", id, "sh", "-c", "echo x > /sys/kernel/x 2>/dev/null"}).exit_code, 1) << "/sys is writable";
}

TEST_F(RuntimeTest, ExitCodesFollowDocker) {
  EXPECT_EQ(run({"--rm", "img", "true"}).exit_code, 0);
  EXPECT_EQ(run({"--rm", "img", "false"}).exit_code, 1);
  EXPECT_EQ(run({"--rm", "img", "sh", "-c", "exit 3"}).exit_code, 3);
  auto missing = run({"--rm", "img", "nosuchcommand"});
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_NE(missing.err.find("exec: \"nosuchcommand\": executable file not found in $PATH"), std::string::npos) << missing.err;
  auto not_exec = run({"--rm", "img", "/etc/passwd"});
  EXPECT_EQ(not_exec.exit_code, 126);
  EXPECT_NE(not_exec.err.find("permission denied"), std::string::npos) << not_exec.err;
  EXPECT_EQ(run({"--rm", "img", "sh", "-c", "sleep 10 & kill -TERM $!; wait $!"}).exit_code, 143);
  EXPECT_EQ(run({"--rm", "img", "sh", "-c", "sleep 10 & kill -KILL $!; wait $!"}).exit_code, 137);
  // A loopback registry where nothing listens: the pull fails at once, and no name is ever resolved.
  auto no_image = run({"--rm", "127.0.0.1:1/nosuch/image:1", "true"});
  EXPECT_EQ(no_image.exit_code, 125) << no_image.err;
  EXPECT_NE(no_image.err.find("Unable to find image"), std::string::npos) << no_image.err;
  auto bad_workdir = run({"--rm", "-w", "/etc/passwd", "img", "true"});
  EXPECT_EQ(bad_workdir.exit_code, 125) << bad_workdir.err;  // Docker: "Cannot mkdir: ... is not a directory"
  EXPECT_EQ(cpk_({"ps", "-aq"}).out, "");
}

TEST_F(RuntimeTest, ImageConfigAndFlagsShapeTheProcess) {
  load_image("cfg:1", {{"Entrypoint", {"/bin/echo", "ep"}},
                       {"Cmd", {"default"}},
                       {"Env", {"PATH=/bin", "FOO=image", "BAR=b"}},
                       {"WorkingDir", "/work"},
                       {"User", "app"}});
  EXPECT_EQ(run({"--rm", "cfg:1"}).out, "ep default\n");
  EXPECT_EQ(run({"--rm", "cfg:1", "x", "y"}).out, "ep x y\n");
  auto shell = run({"--rm", "--entrypoint", "/bin/sh", "cfg:1", "-c", "echo $FOO $BAR $HOME; pwd; id -u; id -G"});
  ASSERT_EQ(shell.exit_code, 0) << shell.err;
  EXPECT_EQ(shell.out, "image b /home/app\n/work\n1000\n1000 2000\n");
  EXPECT_EQ(run({"--rm", "-e", "FOO=flag", "-e", "NEW=1", "--entrypoint", "sh", "cfg:1", "-c", "echo $FOO $NEW"}).out, "flag 1\n");
  fs::path env_file = tmp_.path / "env";
  std::ofstream(env_file) << "# comment\nFROMFILE=yes\n\nFOO=file\n";
  EXPECT_EQ(run({"--rm", "--env-file", env_file.string(), "--entrypoint", "sh", "cfg:1", "-c", "echo $FROMFILE $FOO"}).out,
            "yes file\n");
  EXPECT_EQ(run({"--rm", "-w", "/tmp", "-u", "0:0", "--entrypoint", "sh", "cfg:1", "-c", "pwd; id -u"}).out, "/tmp\n0\n");
  EXPECT_EQ(run({"--rm", "-u", "1234", "--entrypoint", "id", "cfg:1", "-u"}).out, "1234\n");
  auto bad_user = run({"--rm", "-u", "nobody-here", "cfg:1"});
  EXPECT_EQ(bad_user.exit_code, 125);
  EXPECT_NE(bad_user.err.find("unable to find user nobody-here"), std::string::npos) << bad_user.err;
}

TEST_F(RuntimeTest, DetachedContainerLogsStopAndRemove) {
  auto started = run({"-d", "--name", "svc", "img", "sh", "-c",
                      "echo hello; echo oops >&2; trap 'echo bye; exit 3' TERM; while :; do sleep 0.1; done"});
  ASSERT_EQ(started.exit_code, 0) << started.err;
  std::string id = trim(started.out);
  ASSERT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{64}"))) << id;
  auto ps = cpk_({"ps"});
  EXPECT_NE(ps.out.find("CONTAINER ID   IMAGE"), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find(id.substr(0, 12)), std::string::npos);
  EXPECT_NE(ps.out.find("Up "), std::string::npos);
  EXPECT_NE(ps.out.find("svc"), std::string::npos);
  EXPECT_TRUE(eventually([&] { return cpk_({"logs", "svc"}).out == "hello\n"; }));
  EXPECT_EQ(cpk_({"logs", "svc"}).err, "oops\n");
  EXPECT_EQ(inspect("svc")["State"]["Status"], "running");
  EXPECT_GT(inspect("svc")["State"]["Pid"].get<int>(), 1);

  auto stop = cpk_({"stop", "svc"});
  EXPECT_EQ(stop.out, "svc\n");
  auto info = inspect(id.substr(0, 6));
  EXPECT_EQ(info["State"]["Status"], "exited");
  EXPECT_EQ(info["State"]["ExitCode"], 3);
  EXPECT_NE(cpk_({"logs", "svc"}).out.find("bye"), std::string::npos);
  auto all = cpk_({"ps", "-a"});
  EXPECT_NE(all.out.find("Exited (3)"), std::string::npos) << all.out;
  EXPECT_EQ(cpk_({"ps", "-q"}).out, "");
  EXPECT_EQ(cpk_({"rm", "svc"}).exit_code, 0);
  EXPECT_FALSE(fs::exists(cpk_.root / "containers" / id));
  EXPECT_NE(cpk_({"rm", "svc"}).err.find("No such container: svc"), std::string::npos);
}

TEST_F(RuntimeTest, KillStopTimeoutAndRemoveRules) {
  std::string id = trim(run({"-d", "img", "sleep", "100"}).out);  // pid 1 ignores SIGTERM
  auto refused = cpk_({"rm", id});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("You cannot remove a running container"), std::string::npos) << refused.err;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(cpk_({"stop", "-t", "1", id}).exit_code, 0);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(900));  // waited, then SIGKILL
  EXPECT_EQ(inspect(id)["State"]["ExitCode"], 137);

  std::string other = trim(run({"-d", "img", "sleep", "100"}).out);
  EXPECT_EQ(cpk_({"kill", "-s", "USR1", other}).exit_code, 0);  // ignored by pid 1
  EXPECT_EQ(inspect(other)["State"]["Status"], "running");
  EXPECT_EQ(cpk_({"kill", other}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return inspect(other)["State"]["Status"] == "exited"; }));
  EXPECT_EQ(inspect(other)["State"]["ExitCode"], 137);
  EXPECT_NE(cpk_({"kill", other}).err.find("is not running"), std::string::npos);
  EXPECT_NE(cpk_({"kill", "-s", "NOPE", other}).err.find("invalid signal"), std::string::npos);

  std::string third = trim(run({"-d", "img", "sleep", "100"}).out);
  EXPECT_EQ(cpk_({"rm", "-f", third}).exit_code, 0);
  EXPECT_FALSE(fs::exists(cpk_.root / "containers" / third));
}

TEST_F(RuntimeTest, DetachedAutoRemove) {
  std::string id = trim(run({"-d", "--rm", "img", "sh", "-c", "sleep 0.2"}).out);
  ASSERT_EQ(id.size(), 64u);
  EXPECT_TRUE(eventually([&] { return !fs::exists(cpk_.root / "containers" / id); }));
}

// The process that ran a container, once done with it, is no longer named its owner: a process that lives
// on afterwards (the image builder runs its steps in-process) must not be what `rm -f` kills, and an `rm`
// right after `wait` must not take the ending monitor for a running container.
TEST_F(RuntimeTest, AnOwnerThatIsDoneLeavesNoOwnerOnTheRecord) {
  auto owner_of = [&](const std::string& name) {
    const std::string id = inspect(name)["Id"].get<std::string>();
    auto state = record(id)["state"];
    return std::pair{state["monitor_pid"].get<pid_t>(), state["monitor_start"].get<std::uint64_t>()};
  };
  using Owner = std::pair<pid_t, std::uint64_t>;
  ASSERT_EQ(run({"--name", "ended", "img", "true"}).exit_code, 0);
  EXPECT_EQ(owner_of("ended"), (Owner{0, 0}));
  ASSERT_EQ(run({"--name", "unstarted", "img", "nosuchcommand"}).exit_code, 127);
  EXPECT_EQ(inspect("unstarted")["State"]["Status"], "created");
  EXPECT_EQ(owner_of("unstarted"), (Owner{0, 0}));
  for (int i = 0; i < 5; ++i) {
    const std::string name = "detached" + std::to_string(i);
    ASSERT_EQ(run({"-d", "--name", name, "img", "true"}).exit_code, 0);
    EXPECT_EQ(cpk_({"wait", name}).out, "0\n");
    EXPECT_EQ(owner_of(name), (Owner{0, 0}));
    auto rm = cpk_({"rm", name});
    EXPECT_EQ(rm.exit_code, 0) << rm.err;
  }
  EXPECT_EQ(cpk_({"rm", "ended", "unstarted"}).exit_code, 0);
}

// A detached container is kept by a fresh exec of cppcker, the monitor-wait stage, not by a copy of the
// CLI: the pid the record names runs `cppcker monitor-wait`, the container is its child, and once the
// container ends the same process (exec'd back into `monitor`) records the exit; the output is logged.
TEST_F(RuntimeTest, DetachedMonitorIsTheWaitStage) {
  for (bool tty : {false, true}) {
    SCOPED_TRACE(tty ? "with -t" : "without -t");
    std::vector<std::string> args = {"-d"};
    if (tty) args.push_back("-t");
    for (const char* a : {"img", "sh", "-c", "echo out; echo err >&2; while [ ! -e /go ]; do sleep 0.05; done; exit 7"})
      args.push_back(a);
    auto started = run(args);
    ASSERT_EQ(started.exit_code, 0) << started.err;
    std::string id = trim(started.out);
    auto state = inspect(id)["State"];
    const int container = state["Pid"].get<int>();
    auto state_on_disk = record(id)["state"];
    const pid_t monitor = state_on_disk["monitor_pid"].get<int>();
    const std::uint64_t monitor_start = state_on_disk["monitor_start"].get<std::uint64_t>();
    ASSERT_GT(monitor, 1);
    // Its stage takes a moment to be exec'd after the start was reported.
    auto cmdline = [&] {
      std::string argv = cppcker::read_file_if_exists("/proc/" + std::to_string(monitor) + "/cmdline").value_or("");
      std::replace(argv.begin(), argv.end(), '\0', ' ');
      return argv;
    };
    EXPECT_TRUE(eventually([&] { return cmdline().rfind("cppcker monitor-wait ", 0) == 0; })) << cmdline();
    EXPECT_EQ(fs::read_symlink("/proc/" + std::to_string(monitor) + "/exe"), fs::canonical(CPPCKER_BINARY));
    std::istringstream stat(cppcker::read_file("/proc/" + std::to_string(container) + "/stat"));
    std::string pid, comm, st;
    int ppid = 0;
    stat >> pid >> comm >> st >> ppid;
    EXPECT_EQ(ppid, monitor);  // the container is still the child of the process that started it
    if (tty) {
      EXPECT_TRUE(eventually([&] { return cpk_({"logs", id}).out.find("err") != std::string::npos; }));
      EXPECT_NE(cpk_({"logs", id}).out.find("out"), std::string::npos);
    } else {
      EXPECT_TRUE(eventually([&] { return cpk_({"logs", id}).out == "out\n"; })) << cpk_({"logs", id}).out;
      EXPECT_EQ(cpk_({"logs", id}).err, "err\n");
    }
    ASSERT_EQ(cpk_({"exec", id, "touch", "/go"}).exit_code, 0);
    EXPECT_TRUE(eventually([&] { return inspect(id)["State"]["Status"] == "exited"; })) << inspect(id).dump();
    EXPECT_EQ(inspect(id)["State"]["ExitCode"], 7);
    EXPECT_TRUE(eventually([&] { return !cppcker::process_alive(monitor, monitor_start); }));
    EXPECT_EQ(cpk_({"rm", id}).exit_code, 0);
  }
}

TEST_F(RuntimeTest, ExecJoinsNamespacesRootAndCgroup) {
  load_image("cfg:2", {{"Env", {"PATH=/bin", "FROMIMAGE=1"}}, {"WorkingDir", "/home/app"}});
  std::string id = trim(run({"-d", "--name", "target", "cfg:2", "sleep", "100"}).out);
  auto r = cpk_({"exec", "target", "sh", "-c", "echo $$; hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; pwd; echo $FROMIMAGE"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream out(r.out);
  std::string pid, hostname, cmd1, cmd2, pwd, env;
  out >> pid >> hostname >> cmd1 >> cmd2 >> pwd >> env;
  EXPECT_GT(std::stoi(pid), 1);
  EXPECT_LT(std::stoi(pid), 100) << "not in the container's pid namespace";
  EXPECT_EQ(hostname, id.substr(0, 12));
  EXPECT_EQ(cmd1 + " " + cmd2, "sleep 100");
  EXPECT_EQ(pwd, "/home/app");
  EXPECT_EQ(env, "1");
  // Inside its cgroup namespace, and counted in the container's cgroup on the host.
  auto cg = cpk_({"exec", "target", "cat", "/proc/self/cgroup"});
  std::istringstream lines(cg.out);
  std::string line;
  while (std::getline(lines, line))
    if (line.find("memory") != std::string::npos || line.rfind("0::", 0) == 0) {
      EXPECT_EQ(line.substr(line.rfind(':')), ":/") << line;
    }
  ASSERT_EQ(cpk_({"exec", "-d", "target", "sleep", "30"}).exit_code, 0);
  fs::path procs = container_cgroup("memory", id) / "cgroup.procs";
  EXPECT_TRUE(eventually([&] {
    std::istringstream p(cppcker::read_file(procs));
    int n = 0;
    std::string x;
    while (p >> x) ++n;
    return n == 2;
  })) << cppcker::read_file(procs);

  EXPECT_EQ(cpk_({"exec", "-e", "X=5", "-w", "/tmp", "-u", "app", "target", "sh", "-c", "echo $X $(pwd) $(id -u)"}).out, "5 /tmp 1000\n");
  EXPECT_EQ(cpk_({"exec", "target", "sh", "-c", "exit 7"}).exit_code, 7);
  EXPECT_EQ(cpk_({"exec", "target", "nosuch"}).exit_code, 127);
  cpk_({"kill", "target"});
  EXPECT_TRUE(eventually([&] { return inspect("target")["State"]["Status"] == "exited"; }));
  auto stopped = cpk_({"exec", "target", "true"});
  EXPECT_EQ(stopped.exit_code, 1);
  EXPECT_NE(stopped.err.find("is not running"), std::string::npos);
}

TEST_F(RuntimeTest, MemoryLimitKillsWithOomKilled) {
  auto r = run({"--name", "oom", "--mem=128", "--swap=0", "img", "sh", "-c", "head -c 200m /dev/zero | tail"});
  EXPECT_EQ(r.exit_code, 137) << r.err;
  auto info = inspect("oom");
  EXPECT_EQ(info["State"]["OOMKilled"], true);
  EXPECT_EQ(info["HostConfig"]["Memory"], 128 << 20);
  auto fits = run({"--rm", "-m", "128m", "img", "sh", "-c", "head -c 20m /dev/zero | tail | wc -c"});
  EXPECT_EQ(fits.exit_code, 0) << fits.err;
}

TEST_F(RuntimeTest, PidsLimitMakesForkFail) {
  auto r = run({"--rm", "--pids=7", "img", "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 1 & done; wait"});
  EXPECT_NE(r.err.find("can't fork"), std::string::npos) << r.err;
  auto ok = run({"--rm", "--pids-limit", "20", "img", "sh", "-c", "for i in 1 2 3 4 5; do sleep 0.1 & done; wait"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.err, "");
}

TEST_F(RuntimeTest, CpuLimitHoldsABusyLoopNearItsShare) {
  std::string id = trim(run({"-d", "--cpus=0.2", "img", "sh", "-c", "while :; do :; done"}).out);
  ASSERT_EQ(id.size(), 64u);
  auto usage = [&] {
    if (cppcker::detect_cgroup_mode() == cppcker::CgroupMode::v2) {
      std::istringstream in(cppcker::read_file(container_cgroup("", id) / "cpu.stat"));
      std::string k;
      std::uint64_t v;
      while (in >> k >> v)
        if (k == "usage_usec") return static_cast<double>(v) / 1e6;
      return 0.0;
    }
    return std::stod(cppcker::read_file(container_cgroup("cpuacct", id) / "cpuacct.usage")) / 1e9;
  };
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  double u0 = usage();
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  double used = usage() - u0;
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double share = used / wall;
  EXPECT_GT(share, 0.12) << "CPU share " << share;
  EXPECT_LT(share, 0.28) << "CPU share " << share;
  EXPECT_EQ(cppcker::read_file(container_cgroup("cpu", id) / (cppcker::detect_cgroup_mode() == cppcker::CgroupMode::v2 ? "cpu.max" : "cpu.cfs_quota_us")).substr(0, 5),
            cppcker::detect_cgroup_mode() == cppcker::CgroupMode::v2 ? "20000" : "20000");
}

TEST_F(RuntimeTest, InvalidLimitsAreRefusedAndCreateNothing) {
  struct Case {
    std::vector<std::string> flags;
    const char* error;
  };
  for (const auto& c : std::vector<Case>{{{"-m", "abc"}, "invalid size"},
                                         {{"-m", "1k"}, "Minimum memory limit allowed is 6MB"},
                                         {{"--mem", "-5"}, "Minimum memory limit"},
                                         {{"--cpus", "-1"}, "range of CPUs"},
                                         {{"--cpus", "1000"}, "range of CPUs"},
                                         {{"--cpus", "x"}, "failed to parse"},
                                         {{"-m", "64m", "--memory-swap", "32m"}, "should be larger than memory limit"},
                                         {{"--memory-swap", "1g"}, "always set the Memory limit"},
                                         {{"--cpuset-cpus", "a-b"}, "Invalid value"},
                                         {{"--network", "nosuchnet"}, "network nosuchnet not found"},
                                         {{"--network", "container:nosuch"}, "No such container: nosuch"},
                                         {{"-p", "99999:80"}, "invalid port specification"},
                                         {{"-p", "1.2.3:80:80"}, "invalid IP address"},
                                         {{"-p", "80/sctp"}, "invalid proto"},
                                         {{"--dns", "x"}, "is not an ip address"},
                                         {{"--add-host", "bad"}, "bad format for add-host"},
                                         {{"--name", "bad name!"}, "Invalid container name"}}) {
    std::vector<std::string> args = c.flags;
    args.insert(args.end(), {"img", "true"});
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 125) << c.flags[0];
    EXPECT_NE(r.err.find(c.error), std::string::npos) << c.flags[0] << ": " << r.err;
  }
  EXPECT_EQ(cpk_({"ps", "-aq"}).out, "");
  EXPECT_NE(cpk_({"run", "--mem", "lots", "img", "true"}).exit_code, 0);
}

TEST_F(RuntimeTest, NamesPrefixesAndConflicts) {
  std::string a = trim(run({"-d", "--name", "alpha", "img", "sleep", "100"}).out);
  auto dup = run({"-d", "--name", "alpha", "img", "sleep", "100"});
  EXPECT_EQ(dup.exit_code, 125);
  EXPECT_NE(dup.err.find("is already in use"), std::string::npos);
  EXPECT_EQ(inspect(a.substr(0, 5))["Name"], "/alpha");
  EXPECT_EQ(inspect("/alpha")["Id"], a);
  auto unknown = cpk_({"stop", "zzz"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("No such container: zzz"), std::string::npos);
  auto json = cpk_({"ps", "--format", "json"});
  auto j = nlohmann::json::parse(json.out.substr(0, json.out.find('\n')));
  EXPECT_EQ(j["Names"], "alpha");
  EXPECT_EQ(j["State"], "running");
}

TEST_F(RuntimeTest, RmiRefusesAnImageAContainerUses) {
  std::string id = trim(run({"-d", "img", "sleep", "100"}).out);
  auto r = cpk_({"rmi", "img"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("container " + id.substr(0, 12) + " is using"), std::string::npos) << r.err;
  auto forced = cpk_({"rmi", "-f", "img"});
  EXPECT_EQ(forced.exit_code, 1);
  EXPECT_NE(forced.err.find("being used by running container"), std::string::npos) << forced.err;
  cpk_({"kill", id});
  EXPECT_TRUE(eventually([&] { return inspect(id)["State"]["Status"] == "exited"; }));
  EXPECT_EQ(cpk_({"rmi", "-f", "img"}).exit_code, 0);  // untagged; the image stays for the container
  EXPECT_NE(cpk_({"images", "-q"}).out, "");
}

TEST_F(RuntimeTest, InitReapsOrphansAndForwardsSignals) {
  // The orphaned `sleep 0.1` is reparented to PID 1. When PID 1 is a program that never waits (here the
  // shell execs into `sleep`), the orphan lingers as a zombie; with --init, cppcker's init reaps it.
  auto zombies = [&](bool init) {
    std::vector<std::string> args = {"-d"};
    if (init) args.push_back("--init");
    args.insert(args.end(), {"img", "sh", "-c", "(sleep 0.1 &); exec sleep 30"});
    std::string id = trim(run(args).out);
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    auto r = cpk_({"exec", id, "sh", "-c", "ps -o stat | grep -c '^Z' || true"});
    cpk_({"rm", "-f", id});
    return trim(r.out);
  };
  EXPECT_EQ(zombies(false), "1") << "the test must see the zombie that --init prevents";
  EXPECT_EQ(zombies(true), "0");
  EXPECT_EQ(run({"--rm", "--init", "img", "sh", "-c", "exit 5"}).exit_code, 5);
  EXPECT_EQ(run({"--rm", "--init", "img", "nosuchcommand"}).exit_code, 127);
  // pid 1 without --init ignores SIGTERM; with it the signal reaches the command.
  std::string id = trim(run({"-d", "--init", "img", "sleep", "100"}).out);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(cpk_({"stop", "-t", "5", id}).exit_code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4)) << "SIGTERM was not forwarded";
  EXPECT_EQ(inspect(id)["State"]["ExitCode"], 143);
}

TEST_F(RuntimeTest, StartAgainKeepsTheContainersFiles) {
  std::string id = trim(run({"-d", "--name", "again", "img", "sh", "-c", "echo run >> /state; cat /state | wc -l; sleep 100"}).out);
  EXPECT_TRUE(eventually([&] { return cpk_({"logs", "again"}).out == "1\n"; }));
  cpk_({"kill", "again"});
  EXPECT_TRUE(eventually([&] { return inspect("again")["State"]["Status"] == "exited"; }));
  auto started = cpk_({"start", "again"});
  ASSERT_EQ(started.exit_code, 0) << started.err;
  EXPECT_EQ(started.out, "again\n");
  EXPECT_TRUE(eventually([&] { return cpk_({"logs", "--tail", "1", "again"}).out == "2\n"; })) << cpk_({"logs", "again"}).out;
  EXPECT_EQ(inspect("again")["State"]["Status"], "running");
  EXPECT_EQ(cpk_({"logs", "again"}).out, "1\n2\n");
  EXPECT_EQ(cpk_({"logs", "-n", "0", "again"}).out, "");
  auto ts_line = cpk_({"logs", "-t", "--tail", "1", "again"}).out;
  EXPECT_TRUE(std::regex_match(ts_line, std::regex("\\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z 2\n"))) << ts_line;
}

TEST_F(RuntimeTest, LogsFollowUntilTheContainerEnds) {
  std::string id = trim(run({"-d", "img", "sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.2; done"}).out);
  auto r = cpk_({"logs", "-f", id});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "1\n2\n3\n");
}

TEST_F(RuntimeTest, VolumesBindNamedAnonymousTmpfsAndReadOnly) {
  fs::path host = tmp_.path / "hostdir";
  fs::create_directories(host);
  std::ofstream(host / "from-host") << "host-data";
  std::string bind = host.string() + ":/data";
  EXPECT_EQ(run({"--rm", "-v", bind, "img", "sh", "-c", "cat /data/from-host; echo ctr > /data/from-ctr"}).out, "host-data");
  EXPECT_EQ(cppcker::read_file(host / "from-ctr"), "ctr\n");
  auto ro = run({"--rm", "-v", bind + ":ro", "img", "sh", "-c", "echo x > /data/nope"});
  EXPECT_NE(ro.exit_code, 0);
  EXPECT_NE(ro.err.find("Read-only file system"), std::string::npos) << ro.err;
  EXPECT_FALSE(fs::exists(host / "nope"));

  EXPECT_EQ(run({"--rm", "-v", "shared:/vol", "img", "sh", "-c", "echo kept > /vol/f"}).exit_code, 0);
  EXPECT_EQ(run({"--rm", "-v", "shared:/vol:ro", "img", "cat", "/vol/f"}).out, "kept\n");
  EXPECT_EQ(cpk_({"volume", "ls", "-q"}).out, "shared\n");
  auto vinfo = nlohmann::json::parse(cpk_({"volume", "inspect", "shared"}).out);
  EXPECT_EQ(vinfo[0]["Driver"], "local");
  std::string user = trim(run({"-d", "-v", "shared:/vol", "img", "sleep", "100"}).out);
  auto busy = cpk_({"volume", "rm", "shared"});
  EXPECT_EQ(busy.exit_code, 1);
  EXPECT_NE(busy.err.find("volume is in use"), std::string::npos) << busy.err;
  cpk_({"rm", "-f", user});
  EXPECT_EQ(cpk_({"volume", "rm", "shared"}).out, "shared\n");

  std::string anon = trim(run({"-d", "-v", "/anon", "img", "sh", "-c", "echo a > /anon/x; sleep 100"}).out);
  auto mounts = inspect(anon)["Mounts"];
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0]["Destination"], "/anon");
  EXPECT_EQ(cpk_({"volume", "ls", "-q"}).out, mounts[0]["Name"].get<std::string>() + "\n");
  cpk_({"rm", "-f", "-v", anon});
  EXPECT_EQ(cpk_({"volume", "ls", "-q"}).out, "") << "rm -v keeps the anonymous volume";

  EXPECT_EQ(run({"--rm", "--tmpfs", "/scratch", "img", "sh", "-c", "mount | grep -c ' /scratch type tmpfs'"}).out, "1\n");
  auto readonly = run({"--rm", "--read-only", "img", "touch", "/x"});
  EXPECT_NE(readonly.exit_code, 0);
  EXPECT_EQ(run({"--rm", "--read-only", "--tmpfs", "/tmp", "img", "touch", "/tmp/x"}).exit_code, 0);

  for (const char* bad : {"relative:dir", "/x:/y:zz", "bad name!:/x", "/a:/"}) {
    auto r = run({"--rm", "-v", bad, "img", "true"});
    EXPECT_EQ(r.exit_code, 125) << bad;
  }
}

TEST_F(RuntimeTest, MountTargetsResolveInsideTheRootfs) {
  // An image whose /escape is a symlink to a host directory: a volume at /escape/sub must land inside the
  // container's rootfs, never in the host directory the link names.
  fs::path victim = tmp_.path / "victim";
  fs::create_directories(victim);
  fs::path layer_dir = tmp_.path / "evil-image";
  fs::create_directories(layer_dir / "layer");
  std::string base = busybox_layer();
  std::string tar = ts::make_tar({ts::symlink("escape", victim.string())});
  std::ofstream(layer_dir / "layer/base.tar", std::ios::binary) << base;
  std::ofstream(layer_dir / "layer/evil.tar", std::ios::binary) << tar;
  nlohmann::json cfg = {{"architecture", cppcker::Platform::host().architecture}, {"os", "linux"},
                        {"config", {{"Cmd", {"sh"}}}},
                        {"rootfs", {{"type", "layers"}, {"diff_ids", {cppcker::sha256_digest(base), cppcker::sha256_digest(tar)}}}}};
  std::ofstream(layer_dir / "config.json") << cfg.dump();
  std::ofstream(layer_dir / "manifest.json") << nlohmann::json::array(
      {{{"Config", "config.json"}, {"RepoTags", {"evil:1"}}, {"Layers", {"layer/base.tar", "layer/evil.tar"}}}}).dump();
  ASSERT_EQ(cpk_({"load", "-i", layer_dir.string()}).exit_code, 0);
  auto r = run({"--rm", "--tmpfs", "/escape/sub", "-v", "vol:/escape/other", "evil:1", "sh", "-c", "ls -d /escape/sub /escape/other"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_empty(victim)) << "a mount target was created on the host";
  cpk_({"volume", "rm", "vol"});
}

// -t: a terminal inside the container, driven here as a user at a keyboard would drive it.
TEST_F(RuntimeTest, TtyWithoutStdinShowsTheTerminalAndItsSize) {
  ts::PtySession s(run_argv({"--rm", "-t", "img", "sh", "-c", "tty; stty size; echo TERM=$TERM; exit 3"}), 33, 101);
  EXPECT_TRUE(s.expect("/dev/pts/0")) << s.output();
  EXPECT_TRUE(s.expect("33 101")) << s.output();
  EXPECT_TRUE(s.expect("TERM=xterm")) << s.output();
  EXPECT_EQ(s.wait(), 3) << s.output();
}

TEST_F(RuntimeTest, InteractiveTtyPassesKeysResizesAndRestoresTheTerminal) {
  ts::PtySession s(run_argv({"--rm", "-it", "img", "sh"}), 24, 80);
  // busybox's line editor asks for the cursor position after each prompt and takes the keys that come
  // before the answer for it: type only once it has asked.
  auto ready = [&] { return s.expect("/ # ") && s.expect("\x1b[6n"); };
  ASSERT_TRUE(ready()) << s.output();
  // Raw while it runs: our echo and line editing are off, the container's terminal does them.
  EXPECT_FALSE(s.local_modes() & ICANON);
  EXPECT_FALSE(s.local_modes() & ECHO);
  s.send("echo $((6*7))\r");
  EXPECT_TRUE(s.expect("42")) << s.output();
  ASSERT_TRUE(ready()) << s.output();
  // Ctrl-C reaches the container's foreground job through its terminal, not cppcker.
  s.send("sleep 100\r");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  s.send("\x03");
  EXPECT_TRUE(s.expect("^C")) << s.output();
  ASSERT_TRUE(ready()) << s.output();
  s.send("echo after-$((1+1))\r");
  EXPECT_TRUE(s.expect("after-2", 3000)) << "Ctrl-C did not interrupt the foreground job: " << s.output();
  ASSERT_TRUE(ready()) << s.output();
  // A resize of our terminal reaches the container's.
  s.resize(40, 120);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  s.send("stty size\r");
  EXPECT_TRUE(s.expect("40 120")) << s.output();
  ASSERT_TRUE(ready()) << s.output();
  // Ctrl-D ends the shell; cppcker leaves our terminal as it found it.
  s.send("\x04");
  EXPECT_EQ(s.wait(), 0) << s.output();
  EXPECT_TRUE(s.local_modes() & ICANON) << "terminal left in raw mode";
  EXPECT_TRUE(s.local_modes() & ECHO) << "terminal left without echo";
}

TEST_F(RuntimeTest, ExecWithTtyAndDetachedTtyLogs) {
  std::string id = trim(run({"-d", "-t", "img", "sh", "-c", "tty; echo started; sleep 100"}).out);
  ASSERT_EQ(id.size(), 64u);
  EXPECT_TRUE(eventually([&] { return cpk_({"logs", id}).out.find("started\r\n") != std::string::npos; }))
      << "a detached terminal's output is logged as written by the terminal: " << cpk_({"logs", id}).out;
  EXPECT_NE(cpk_({"logs", id}).out.find("/dev/pts/0"), std::string::npos);
  EXPECT_EQ(inspect(id)["Config"]["Tty"], true);

  ts::PtySession e(cpk_.argv({"exec", "-it", "-u", "app", id, "sh"}), 20, 60);
  ASSERT_TRUE(e.expect("$ ") && e.expect("\x1b[6n")) << e.output();  // prompted and asked for the cursor
  e.send("tty; stty size; echo uid=$(id -u) owner=$(stat -c %u $(tty))\r");
  EXPECT_TRUE(e.expect("/dev/pts/1")) << e.output();
  EXPECT_TRUE(e.expect("20 60")) << e.output();
  EXPECT_TRUE(e.expect("uid=1000 owner=1000")) << "the user's terminal is the user's: " << e.output();
  ASSERT_TRUE(e.expect("$ ") && e.expect("\x1b[6n")) << e.output();
  e.send("exit 5\r");
  EXPECT_EQ(e.wait(), 5) << e.output();

  // -i -t wants a terminal to read from, as in Docker.
  auto r = cpk_({"exec", "-it", id, "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the input device is not a TTY"), std::string::npos) << r.err;
  auto r2 = run({"--rm", "-it", "img", "true"});
  EXPECT_EQ(r2.exit_code, 1);
  EXPECT_NE(r2.err.find("the input device is not a TTY"), std::string::npos) << r2.err;
}

// The start-path marks the benchmark reads (CPPCKER_TIMING): every step of a start, from the CLI and from
// the child-mode stage, in order, each once; and the marks' file is never open in the container.
TEST_F(RuntimeTest, StartPathMarksEveryStepAndStaysOutOfTheContainer) {
  ts::TempDir dir;
  const fs::path marks = dir.path / "marks";
  auto argv = run_argv({"--rm", "--network", "none", "img", "ls", "-l", "/proc/self/fd/"});
  auto r = ts::run(argv, {"CPPCKER_TIMING=" + marks.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find(marks.string()), std::string::npos) << "the marks' file reached the container:\n" << r.out;
  std::map<std::string, long long> at;
  std::istringstream in(cppcker::read_file(marks));
  std::string label;
  long long ns = 0;
  while (in >> label >> ns) EXPECT_TRUE(at.emplace(label, ns).second) << label << " marked twice";
  const std::vector<std::string> parent = {"cli", "parsed", "record", "clone", "spec", "files", "seccomp", "cgroup", "go",
                                           "started", "recorded", "exited", "cgroup-removed", "network-down",
                                           "exit-recorded", "record-removed", "cleaned"};
  const std::vector<std::string> child = {"child-mode", "child-request", "mounts", "pivot_root", "child-go", "confined"};
  for (const auto* order : {&parent, &child})
    for (std::size_t i = 0; i < order->size(); ++i) {
      ASSERT_TRUE(at.count((*order)[i])) << (*order)[i] << " not marked";
      if (i > 0) {
        EXPECT_LE(at[(*order)[i - 1]], at[(*order)[i]]) << (*order)[i - 1] << " after " << (*order)[i];
      }
    }
  EXPECT_LE(at["clone"], at["child-mode"]);
  EXPECT_LE(at["confined"], at["started"]);
  // exec too: its helper moves its report socket onto descriptor 3, where no mark may follow it.
  const std::string id = trim(run({"-d", "--network", "none", "img", "sleep", "30"}).out);
  ASSERT_EQ(id.size(), 64u);
  const fs::path exec_marks = dir.path / "exec-marks";
  auto e = ts::run(cpk_.argv({"exec", id, "echo", "in"}), {"CPPCKER_TIMING=" + exec_marks.string()});
  EXPECT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(e.out, "in\n");
  const std::string exec_text = cppcker::read_file(exec_marks);
  for (const char* label : {"cli ", "exec-record ", "exec-joined ", "exec-confined ", "exec-inner ", "exec-exited "})
    EXPECT_NE(exec_text.find(label), std::string::npos) << label << "not marked:\n" << exec_text;
  EXPECT_EQ(cpk_({"rm", "-f", id}).exit_code, 0);
  // Without the variable nothing is marked.
  const std::size_t marked = cppcker::read_file(marks).size();
  EXPECT_EQ(run({"--rm", "--network", "none", "img", "true"}).exit_code, 0);
  EXPECT_EQ(cppcker::read_file(marks).size(), marked);
}
