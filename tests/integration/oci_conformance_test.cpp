// Conformance of a runc-compatible runtime binary (cppcker-runc by default; CPPCKER_OCI_RUNTIME overrides it,
// e.g. /usr/sbin/runc): driven exactly as containerd does, `<rt> --root R --log R/log.json --log-format json
// <command>`, on busybox bundles made by the test. Every test deletes its containers with `delete --force` and
// checks that no process, cgroup directory or state entry is left.
#include <gtest/gtest.h>

#include <future>

#include "oci_bundle.hpp"

using namespace oci_test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

class OciConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "the conformance tests need root";
    const char* env = std::getenv("CPPCKER_OCI_RUNTIME");
    runtime_ = env && *env ? env : CPPCKER_OCI_RUNTIME_DEFAULT;
    ASSERT_TRUE(fs::exists(runtime_)) << "no runtime at " << runtime_ << " (set CPPCKER_OCI_RUNTIME)";
    root_ = tmp_.path / "root";
    fs::create_directories(root_);  // containerd makes it; the runtime opens its --log there at once
    log_ = root_ / "log.json";
    bundle_ = tmp_.path / "bundle";
    make_rootfs(bundle_ / "rootfs");
    cgroup_prefix_ = "oci-conform-" + random_hex(6);
  }

  void TearDown() override {
    for (const auto& id : ids_) rt({"delete", "--force", id});
    for (const auto& id : ids_) {
      EXPECT_NE(rt({"state", id}).code, 0) << "state still answers for " << id;
      EXPECT_FALSE(fs::exists(root_ / id)) << "state entry left: " << (root_ / id);
      for (const auto& h : own_cgroups()) {
        fs::path dir = h.dir / cgroup_name(id);
        EXPECT_FALSE(fs::exists(dir)) << "cgroup left: " << dir;
        if (fs::exists(dir)) remove_cgroup(dir);
      }
    }
    for (pid_t pid : pids_) {
      EXPECT_TRUE(eventually([&] { return !alive(pid); })) << "process left: " << pid;
      if (alive(pid)) ::kill(pid, SIGKILL);  // the test failed: the machine still gets rid of it
    }
    EXPECT_TRUE(TempDir::mounts_under(tmp_.path).empty()) << "a mount left below " << tmp_.path;
    for (const auto& entry : fs::directory_iterator(root_))
      EXPECT_EQ(entry.path(), log_) << "left in the state root: " << entry.path();
  }

  // After a failed test: thaw, kill what is inside by pid, remove the directory (and any below it).
  static void remove_cgroup(const fs::path& dir) {
    if (fs::exists(dir / "freezer.state")) std::ofstream(dir / "freezer.state") << "THAWED";
    if (fs::exists(dir / "cgroup.freeze")) std::ofstream(dir / "cgroup.freeze") << "0";
    std::istringstream procs(read_text(dir / "cgroup.procs"));
    for (pid_t pid; procs >> pid;) ::kill(pid, SIGKILL);
    eventually([&] { return read_text(dir / "cgroup.procs").empty(); });
    std::vector<fs::path> dirs;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
      if (it->is_directory()) dirs.push_back(it->path());
    std::sort(dirs.rbegin(), dirs.rend());
    for (const auto& d : dirs) ::rmdir(d.c_str());
    ::rmdir(dir.c_str());
  }

  std::string cgroup_name(const std::string& id) const { return cgroup_prefix_ + "-" + id; }

  // The runtime as containerd calls it.
  Result rt(std::vector<std::string> args, SpawnOptions o = {}) const {
    std::vector<std::string> argv = {runtime_, "--root", root_.string(), "--log", log_.string(), "--log-format",
                                     "json"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, o);
  }

  json config(const std::string& id, const std::vector<std::string>& args) const {
    return default_config(args, cgroup_name(id));
  }
  void write_config(const json& cfg, const fs::path& dir) const { write_text(dir / "config.json", cfg.dump(2)); }

  // Writes the bundle's config for `id` and runs `<command> [flags] --bundle B id` (create, run).
  Result launch(const std::string& command, const std::string& id, const json& cfg,
                std::vector<std::string> flags = {}, SpawnOptions o = {}) {
    ids_.push_back(id);
    write_config(cfg, bundle_);
    std::vector<std::string> args = {command};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"--bundle", bundle_.string(), id});
    return rt(args, o);
  }
  Result create(const std::string& id, const std::vector<std::string>& program, std::vector<std::string> flags = {}) {
    return launch("create", id, config(id, program), std::move(flags));
  }
  // A container whose program runs until it is killed.
  void start_sleeper(const std::string& id) {
    auto r = launch("run", id, config(id, {"sleep", "1000"}), {"--detach"});
    ASSERT_EQ(r.code, 0) << r.err;
    ASSERT_EQ(status(id), "running");
  }

  json state(const std::string& id) const {
    auto r = rt({"state", id});
    if (r.code != 0) return json::object();
    return json::parse(r.out, nullptr, false);
  }
  std::string status(const std::string& id) const {
    auto s = state(id);
    return s.is_object() && s.contains("status") ? s["status"].get<std::string>() : "";
  }
  pid_t pid_of(const std::string& id) {
    auto s = state(id);
    pid_t pid = s.is_object() && s.contains("pid") ? s["pid"].get<pid_t>() : 0;
    if (pid > 0) pids_.push_back(pid);
    return pid;
  }
  bool becomes(const std::string& id, const std::string& want) const {
    return eventually([&] { return status(id) == want; });
  }

  // A refusal as runc gives it: exit 1, a message on stderr and a json error line in the --log file.
  // `mentions` is checked only where the spec names what the message must say.
  // `exec` gives 255 instead: its own statuses 0-254 are the program's.
  void expect_error(const std::vector<std::string>& args, const std::string& mentions = "") const {
    const int code = args.front() == "exec" ? 255 : 1;
    std::string what;
    for (const auto& a : args) what += a + " ";
    std::size_t before = fs::exists(log_) ? fs::file_size(log_) : 0;
    auto r = rt(args);
    EXPECT_EQ(r.code, code) << what << "\nstdout: " << r.out << "\nstderr: " << r.err;
    EXPECT_FALSE(trim(r.err).empty()) << what << ": no message on stderr";
    std::string added = read_text(log_).substr(before);
    std::istringstream lines(added);
    json last;
    for (std::string line; std::getline(lines, line);)
      if (!trim(line).empty()) last = json::parse(line, nullptr, false);
    ASSERT_TRUE(last.is_object()) << what << ": no json line in the log, it got: " << added;
    EXPECT_EQ(last.value("level", ""), "error") << last.dump();
    EXPECT_TRUE(last.contains("msg") && last["msg"].is_string() && !last["msg"].get<std::string>().empty())
        << last.dump();
    EXPECT_TRUE(last.contains("time") && last["time"].is_string()) << last.dump();
    if (!mentions.empty()) {
      EXPECT_NE(last.value("msg", "").find(mentions), std::string::npos) << last.dump() << " does not mention "
                                                                         << mentions;
    }
  }

  fs::path rootfs() const { return bundle_ / "rootfs"; }

  TempDir tmp_;
  std::string runtime_;
  fs::path root_, log_, bundle_;
  std::string cgroup_prefix_;
  std::vector<std::string> ids_;
  std::vector<pid_t> pids_;
};

TEST_F(OciConformance, StateMachineAndWrongOrders) {
  // The program leaves a mark, then waits for the test's go-ahead to exit.
  auto r = create("sm", {"sh", "-c", "touch /tmp/ran; while [ ! -e /tmp/go ]; do sleep 0.05; done"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto s = state("sm");
  EXPECT_EQ(s.value("ociVersion", "").substr(0, 2), "1.") << s.dump();
  EXPECT_EQ(s.value("id", ""), "sm");
  EXPECT_EQ(s.value("status", ""), "created");
  EXPECT_EQ(s.value("bundle", ""), bundle_.string());
  pid_t pid = pid_of("sm");
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(alive(pid)) << "created: the container's process exists";
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(fs::exists(rootfs() / "tmp/ran")) << "the user's program ran before start";
  expect_error({"create", "--bundle", bundle_.string(), "sm"});  // an existing id
  EXPECT_EQ(status("sm"), "created") << "a refused create touched the existing container";

  r = rt({"start", "sm"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(status("sm"), "running");
  EXPECT_EQ(state("sm").value("pid", 0), pid) << "start keeps the created process";
  EXPECT_TRUE(eventually([&] { return fs::exists(rootfs() / "tmp/ran"); })) << "start did not run the program";
  expect_error({"start", "sm"});
  expect_error({"delete", "sm"});  // running, no --force
  EXPECT_EQ(status("sm"), "running");

  write_text(rootfs() / "tmp/go", "");
  EXPECT_TRUE(becomes("sm", "stopped")) << status("sm");
  expect_error({"start", "sm"});
  expect_error({"kill", "sm", "KILL"});  // stopped
  expect_error({"exec", "sm", "true"});
  expect_error({"pause", "sm"});
  r = rt({"delete", "sm"});
  EXPECT_EQ(r.code, 0) << r.err;
  expect_error({"state", "sm"});
  EXPECT_FALSE(fs::exists(root_ / "sm"));
}

TEST_F(OciConformance, UnknownIdIsAnErrorForEveryCommand) {
  expect_error({"state", "nosuch"});
  expect_error({"start", "nosuch"});
  expect_error({"kill", "nosuch", "KILL"});
  expect_error({"delete", "nosuch"});
}

TEST_F(OciConformance, DeleteForceOfCreatedAndRunning) {
  ASSERT_EQ(create("fc", {"sleep", "1000"}).code, 0);
  pid_t created = pid_of("fc");
  ASSERT_NO_FATAL_FAILURE(start_sleeper("fr"));
  pid_t running = pid_of("fr");
  ASSERT_GT(created, 0);
  ASSERT_GT(running, 0);
  for (const char* id : {"fc", "fr"}) {
    auto r = rt({"delete", "--force", id});
    EXPECT_EQ(r.code, 0) << id << ": " << r.err;
    EXPECT_NE(rt({"state", id}).code, 0) << id;
  }
  EXPECT_TRUE(eventually([&] { return !alive(created) && !alive(running); }));
}

TEST_F(OciConformance, KillByNameNumberAndDefault) {
  // SIGTERM (the default) reaches a pid 1 only through a handler: the program installs one.
  auto r = launch("run", "kt",
                  config("kt", {"sh", "-c", "trap 'touch /tmp/term; exit 0' TERM; while :; do sleep 0.05; done"}),
                  {"--detach"});
  ASSERT_EQ(r.code, 0) << r.err;
  pid_of("kt");
  std::this_thread::sleep_for(200ms);  // the trap is set before the loop's first sleep
  r = rt({"kill", "kt"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(becomes("kt", "stopped"));
  EXPECT_TRUE(fs::exists(rootfs() / "tmp/term")) << "the default signal is SIGTERM";

  for (auto [id, sig] : std::vector<std::pair<std::string, std::string>>{{"kk", "KILL"}, {"ks", "SIGKILL"},
                                                                         {"kn", "9"}}) {
    ASSERT_NO_FATAL_FAILURE(start_sleeper(id));
    pid_t pid = pid_of(id);
    r = rt({"kill", id, sig});
    EXPECT_EQ(r.code, 0) << sig << ": " << r.err;
    EXPECT_TRUE(becomes(id, "stopped")) << sig;
    EXPECT_TRUE(eventually([&] { return !alive(pid); })) << sig;
  }
}

TEST_F(OciConformance, KillAllReachesEveryProcess) {
  ASSERT_NO_FATAL_FAILURE(start_sleeper("ka"));
  pid_t init = pid_of("ka");
  fs::path pid_file = tmp_.path / "exec.pid";
  auto r = rt({"exec", "--detach", "--pid-file", pid_file.string(), "ka", "sleep", "1000"});
  ASSERT_EQ(r.code, 0) << r.err;
  pid_t extra = std::stoi(read_text(pid_file));
  pids_.push_back(extra);
  r = rt({"kill", "--all", "ka", "KILL"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(becomes("ka", "stopped"));
  EXPECT_TRUE(eventually([&] { return !alive(init) && !alive(extra); }));
}

TEST_F(OciConformance, RunForegroundGivesTheExitStatus) {
  auto r = launch("run", "re", config("re", {"sh", "-c", "echo out; exit 3"}));
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(r.out, "out\n");
  EXPECT_NE(rt({"state", "re"}).code, 0) << "run deletes its container when the program ends";

  // A death by signal: 128+N, as runc's `run` gives it.
  ids_.push_back("rk");
  write_config(config("rk", {"sleep", "1000"}), bundle_);
  auto running = std::async(std::launch::async, [&] { return rt({"run", "--bundle", bundle_.string(), "rk"}); });
  ASSERT_TRUE(becomes("rk", "running"));
  pid_of("rk");
  EXPECT_EQ(rt({"kill", "rk", "KILL"}).code, 0);
  ASSERT_EQ(running.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(running.get().code, 128 + SIGKILL);
}

TEST_F(OciConformance, RunDetach) {
  auto start = std::chrono::steady_clock::now();
  ASSERT_NO_FATAL_FAILURE(start_sleeper("rd"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_TRUE(alive(pid_of("rd")));
}

TEST_F(OciConformance, HooksRunInOrderWithTheState) {
  // One script for all six: the hook's name to the shared log (the order), its stdin to a file of its own. The
  // host runs it at rootfs/hook.sh, the container at /hook.sh (startContainer resolves in the container).
  write_text(rootfs() / "hook.sh", "#!/bin/sh\ncat > \"$2.$1\"\necho \"$1\" >> \"$2\"\n", fs::perms::owner_all);
  auto hook = [](const std::string& name, const fs::path& path, const fs::path& log) {
    return json{{"path", path.string()}, {"args", {"hook.sh", name, log.string()}}};
  };
  fs::path host_log = rootfs() / "hooks.log";
  // The mount namespace each ran in, next to the container's.
  auto ns_hook = [](const fs::path& out) {
    return json{{"path", "/bin/sh"}, {"args", {"sh", "-c", "readlink /proc/self/ns/mnt > " + out.string()}}};
  };
  json cfg = config("hk", {"sleep", "1000"});
  cfg["annotations"] = {{"org.example.conform", "v1"}};
  cfg["hooks"] = {
      {"prestart", {hook("prestart", rootfs() / "hook.sh", host_log)}},
      {"createRuntime", {hook("createRuntime", rootfs() / "hook.sh", host_log), ns_hook(rootfs() / "ns.createRuntime")}},
      {"createContainer",
       {hook("createContainer", rootfs() / "hook.sh", host_log), ns_hook(rootfs() / "ns.createContainer")}},
      {"startContainer", {hook("startContainer", "/hook.sh", "/hooks.log"), ns_hook("/ns.startContainer")}},
      {"poststart", {hook("poststart", rootfs() / "hook.sh", host_log)}},
      {"poststop", {hook("poststop", rootfs() / "hook.sh", host_log)}}};
  auto lines = [&] {
    std::vector<std::string> out;
    std::istringstream in(read_text(host_log));
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  };
  auto r = launch("create", "hk", cfg);
  ASSERT_EQ(r.code, 0) << r.err;
  pid_t pid = pid_of("hk");
  // The spec runs poststart after the user's program started; runc 1.1 runs it at the end of create. Both
  // are accepted here; everything else must be done, in order.
  auto after_create = lines();
  if (!after_create.empty() && after_create.back() == "poststart") after_create.pop_back();
  EXPECT_EQ(after_create, (std::vector<std::string>{"prestart", "createRuntime", "createContainer"}));
  std::string container_ns = fs::read_symlink("/proc/" + std::to_string(pid) + "/ns/mnt").string();
  EXPECT_EQ(trim(read_text(rootfs() / "ns.createRuntime")), fs::read_symlink("/proc/self/ns/mnt").string())
      << "createRuntime runs in the runtime's namespace";
  EXPECT_EQ(trim(read_text(rootfs() / "ns.createContainer")), container_ns)
      << "createContainer runs in the container's mount namespace";

  r = rt({"start", "hk"});
  ASSERT_EQ(r.code, 0) << r.err;
  // startContainer follows start; poststart is after createContainer (see above).
  EXPECT_TRUE(eventually([&] { return lines().size() == 5; })) << read_text(host_log);
  auto after_start = lines();
  ASSERT_EQ(after_start.size(), 5u);
  std::sort(after_start.begin() + 3, after_start.end());
  EXPECT_EQ(after_start[3], "poststart");
  EXPECT_EQ(after_start[4], "startContainer");
  // The namespace hook runs after the logging one: wait for its file too.
  EXPECT_TRUE(eventually([&] { return !trim(read_text(rootfs() / "ns.startContainer")).empty(); }));
  EXPECT_EQ(trim(read_text(rootfs() / "ns.startContainer")), container_ns);

  r = rt({"delete", "--force", "hk"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto all = lines();
  ASSERT_EQ(all.size(), 6u) << read_text(host_log);
  EXPECT_EQ(all.back(), "poststop");

  for (const std::string name :
       {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}) {
    std::string text = read_text(host_log.string() + "." + name);
    json st = json::parse(text, nullptr, false);
    ASSERT_TRUE(st.is_object()) << name << " got on stdin: " << text;
    EXPECT_EQ(st.value("id", ""), "hk") << name;
    EXPECT_EQ(st.value("bundle", ""), bundle_.string()) << name;
    EXPECT_EQ(st.value("annotations", json::object()), cfg["annotations"]) << name;
    EXPECT_EQ(st.value("ociVersion", "").substr(0, 2), "1.") << name;
    std::string status = st.value("status", "");
    if (name == "prestart" || name == "createRuntime" || name == "createContainer") {
      EXPECT_EQ(status, "creating") << name;
    } else if (name == "poststop") {
      EXPECT_EQ(status, "stopped") << name;
    } else {
      EXPECT_TRUE(status == "created" || status == "running") << name << ": " << status;
    }
    // The runtime-namespace hooks see the host pid; the ones in the container may see its own pid namespace's.
    if (name == "prestart" || name == "createRuntime" || name == "poststart") {
      EXPECT_EQ(st.value("pid", 0), pid) << name;
    } else if (name != "poststop") {
      EXPECT_GT(st.value("pid", 0), 0) << name;
    }
  }
}

TEST_F(OciConformance, FailingPrestartHookFailsCreateAndLeavesNothing) {
  json cfg = config("hf", {"sleep", "1000"});
  cfg["hooks"] = {{"prestart", {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "echo hook-broke >&2; exit 3"}}}}}};
  ids_.push_back("hf");
  write_config(cfg, bundle_);
  expect_error({"create", "--bundle", bundle_.string(), "hf"}, "hook");
  EXPECT_NE(rt({"state", "hf"}).code, 0);
  EXPECT_FALSE(fs::exists(root_ / "hf"));
  for (const auto& h : own_cgroups()) EXPECT_FALSE(fs::exists(h.dir / cgroup_name("hf"))) << h.dir;
  auto list = rt({"list", "--format", "json"});
  EXPECT_EQ(list.code, 0) << list.err;
  auto j = json::parse(list.out, nullptr, false);
  EXPECT_TRUE(j.is_null() || (j.is_array() && j.empty())) << list.out;
}

TEST_F(OciConformance, HookTimeoutFailsCreate) {
  json cfg = config("ht", {"sleep", "1000"});
  cfg["hooks"] = {{"createRuntime", {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "exec sleep 30"}}, {"timeout", 1}}}}};
  ids_.push_back("ht");
  write_config(cfg, bundle_);
  auto start = std::chrono::steady_clock::now();
  expect_error({"create", "--bundle", bundle_.string(), "ht"}, "hook");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s) << "the hook's timeout of 1s was not applied";
  EXPECT_NE(rt({"state", "ht"}).code, 0);
}

TEST_F(OciConformance, ConsoleSocketGetsThePtyMaster) {
  ConsoleSocket console(tmp_.path / "console.sock");
  json cfg = config("tty", {"sh"});
  cfg["process"]["terminal"] = true;
  ids_.push_back("tty");
  write_config(cfg, bundle_);
  auto creating = std::async(std::launch::async, [&] {
    return rt({"create", "--bundle", bundle_.string(), "--console-socket", console.path().string(), "tty"});
  });
  Fd master = console.receive();
  ASSERT_EQ(creating.wait_for(30s), std::future_status::ready);
  auto r = creating.get();
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(master) << "no fd came over the console socket";
  pid_of("tty");
  ASSERT_EQ(rt({"start", "tty"}).code, 0);
  // The echo of the command line shows "$((6*7))", only the shell's output shows 42.
  write_all(master.get(), "echo tty-$((6*7))-ok; tty\n");
  std::string got = read_until(master.get(), "tty-42-ok");
  EXPECT_NE(got.find("tty-42-ok"), std::string::npos) << got;
  if (got.find("/dev/pts/") == std::string::npos) got += read_until(master.get(), "/dev/pts/");
  EXPECT_NE(got.find("/dev/pts/"), std::string::npos) << "the program's stdin is not the pty: " << got;
  write_all(master.get(), "exit\n");
  EXPECT_TRUE(becomes("tty", "stopped"));
}

TEST_F(OciConformance, PidFileAbsoluteAndRelative) {
  fs::path abs = tmp_.path / "abs.pid";
  ASSERT_EQ(create("pa", {"sleep", "1000"}, {"--pid-file", abs.string()}).code, 0);
  EXPECT_EQ(trim(read_text(abs)), std::to_string(pid_of("pa")));

  ids_.push_back("pr");
  write_config(config("pr", {"sleep", "1000"}), bundle_);
  SpawnOptions in_tmp;
  in_tmp.cwd = tmp_.path;
  auto r = rt({"create", "--pid-file", "rel.pid", "--bundle", bundle_.string(), "pr"}, in_tmp);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(trim(read_text(tmp_.path / "rel.pid")), std::to_string(pid_of("pr"))) << "relative to the caller's cwd";

  ASSERT_EQ(rt({"start", "pa"}).code, 0);
  fs::path exec_pid = tmp_.path / "exec.pid";
  r = rt({"exec", "--detach", "--pid-file", exec_pid.string(), "pa", "sleep", "1000"});
  ASSERT_EQ(r.code, 0) << r.err;
  pid_t pid = std::stoi(read_text(exec_pid));
  pids_.push_back(pid);
  EXPECT_TRUE(alive(pid));
  // The pid file may come before the process's exec of the program: its command line follows.
  const std::string want("sleep\0" "1000\0", 11);
  auto cmdline = [&] { return read_text("/proc/" + std::to_string(pid) + "/cmdline"); };
  EXPECT_TRUE(eventually([&] { return cmdline() == want; })) << cmdline();
}

TEST_F(OciConformance, PreserveFdsPassesAPipe) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  Fd read_end(p[0]), write_end(p[1]);
  SpawnOptions o;
  o.extra_fds = {write_end.get()};
  auto r = launch("run", "pf", config("pf", {"sh", "-c", "echo through-fd3 >&3"}), {"--preserve-fds", "1"}, o);
  EXPECT_EQ(r.code, 0) << r.err;
  write_end.reset();
  EXPECT_EQ(read_until(read_end.get(), "through-fd3\n"), "through-fd3\n");
}

TEST_F(OciConformance, ListenFdsArePassedThrough) {
  // systemd socket activation: LISTEN_FDS=1 with LISTEN_PID the runtime's own pid; fd 3 is the listened fd,
  // --preserve-fds 1 adds fd 4 after it. The container sees both and LISTEN_FDS/LISTEN_PID for itself.
  write_text(tmp_.path / "listened", "listened-data\n");
  Fd listened(::open((tmp_.path / "listened").c_str(), O_RDONLY | O_CLOEXEC));
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  Fd read_end(p[0]), write_end(p[1]);
  SpawnOptions o;
  o.extra_fds = {listened.get(), write_end.get()};
  o.env = {"LISTEN_FDS=1"};
  o.listen_pid = true;
  auto r = launch("run", "lf",
                  config("lf", {"sh", "-c", "echo \"fds=$LISTEN_FDS pid=$LISTEN_PID\" >&4; cat <&3 >&4"}),
                  {"--preserve-fds", "1"}, o);
  EXPECT_EQ(r.code, 0) << r.err;
  write_end.reset();
  EXPECT_EQ(read_until(read_end.get(), "listened-data\n"), "fds=1 pid=1\nlistened-data\n");
}

TEST_F(OciConformance, ExecVariants) {
  ASSERT_NO_FATAL_FAILURE(start_sleeper("ex"));
  auto r = rt({"exec", "ex", "sh", "-c", "echo a  b; exit 7"});
  EXPECT_EQ(r.code, 7) << r.err;
  EXPECT_EQ(r.out, "a b\n");
  r = rt({"exec", "--cwd", "/tmp", "ex", "pwd"});
  EXPECT_EQ(r.out, "/tmp\n") << r.err;
  r = rt({"exec", "--env", "FOO=bar baz", "ex", "sh", "-c", "echo \"$FOO\""});
  EXPECT_EQ(r.out, "bar baz\n") << r.err;
  r = rt({"exec", "--user", "1000:1000", "ex", "id"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("uid=1000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gid=1000"), std::string::npos) << r.out;

  // CAP_SYS_ADMIN (bit 21) is not in the config; --cap adds it to this process only.
  auto cap_eff = [](const std::string& status) {
    auto at = status.find("CapEff:");
    return at == std::string::npos ? 0ull : std::stoull(status.substr(at + 7), nullptr, 16);
  };
  r = rt({"exec", "ex", "cat", "/proc/self/status"});
  EXPECT_EQ(cap_eff(r.out) & (1ull << 21), 0u) << r.out;
  r = rt({"exec", "--cap", "CAP_SYS_ADMIN", "ex", "cat", "/proc/self/status"});
  EXPECT_NE(cap_eff(r.out) & (1ull << 21), 0u) << r.out << r.err;

  json process = {{"terminal", false},
                  {"user", {{"uid", 1000}, {"gid", 1000}}},
                  {"args", {"/bin/sh", "-c", "echo \"$X $(pwd) $(id -u)\"; exit 4"}},
                  {"env", {"PATH=/bin", "X=from-process"}},
                  {"cwd", "/tmp"}};
  write_text(tmp_.path / "process.json", process.dump());
  r = rt({"exec", "--process", (tmp_.path / "process.json").string(), "ex"});
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_EQ(r.out, "from-process /tmp 1000\n");

  // A terminal through the console socket.
  ConsoleSocket console(tmp_.path / "exec.sock");
  auto execing = std::async(std::launch::async, [&] {
    return rt({"exec", "--tty", "--detach", "--console-socket", console.path().string(), "ex", "sh"});
  });
  Fd master = console.receive();
  ASSERT_EQ(execing.wait_for(30s), std::future_status::ready);
  r = execing.get();
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(master);
  write_all(master.get(), "echo exec-$((6*7))-tty; exit\n");
  std::string got = read_until(master.get(), "exec-42-tty");
  EXPECT_NE(got.find("exec-42-tty"), std::string::npos) << got;
}

TEST_F(OciConformance, PsAndList) {
  ASSERT_NO_FATAL_FAILURE(start_sleeper("ps"));
  pid_t init = pid_of("ps");
  fs::path pid_file = tmp_.path / "exec.pid";
  ASSERT_EQ(rt({"exec", "--detach", "--pid-file", pid_file.string(), "ps", "sleep", "1000"}).code, 0);
  pid_t extra = std::stoi(read_text(pid_file));
  pids_.push_back(extra);
  auto r = rt({"ps", "--format", "json", "ps"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto pids = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(pids.is_array()) << r.out;
  std::vector<pid_t> got = pids.get<std::vector<pid_t>>();
  std::sort(got.begin(), got.end());
  std::vector<pid_t> want = {init, extra};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);

  r = rt({"list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("ID", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\nps "), std::string::npos) << r.out;
  r = rt({"list", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto list = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(list.is_array() && list.size() == 1) << r.out;
  EXPECT_EQ(list[0].value("id", ""), "ps");
  EXPECT_EQ(list[0].value("status", ""), "running");
  EXPECT_EQ(list[0].value("pid", 0), init);
  EXPECT_EQ(list[0].value("bundle", ""), bundle_.string());
}

TEST_F(OciConformance, PauseAndResume) {
  ASSERT_NO_FATAL_FAILURE(start_sleeper("pz"));
  pid_of("pz");
  auto freezer = [&] {
    return cgroup_v2_only() ? trim(read_text(cgroup_dir("", cgroup_name("pz")) / "cgroup.freeze"))
                            : trim(read_text(cgroup_dir("freezer", cgroup_name("pz")) / "freezer.state"));
  };
  auto r = rt({"pause", "pz"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(status("pz"), "paused");
  EXPECT_EQ(freezer(), cgroup_v2_only() ? "1" : "FROZEN");
  r = rt({"resume", "pz"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(status("pz"), "running");
  EXPECT_EQ(freezer(), cgroup_v2_only() ? "0" : "THAWED");
  // A paused container goes with `delete --force` too.
  ASSERT_EQ(rt({"pause", "pz"}).code, 0);
  r = rt({"delete", "--force", "pz"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(rt({"state", "pz"}).code, 0);
}

TEST_F(OciConformance, UpdateFromFlagsAndJson) {
  ASSERT_NO_FATAL_FAILURE(start_sleeper("up"));
  pid_of("up");
  fs::path memory = cgroup_v2_only() ? cgroup_dir("", cgroup_name("up")) / "memory.max"
                                     : cgroup_dir("memory", cgroup_name("up")) / "memory.limit_in_bytes";
  fs::path pids = cgroup_dir("pids", cgroup_name("up")) / "pids.max";
  auto r = rt({"update", "--memory", "64M", "up"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(trim(read_text(memory)), "67108864");
  SpawnOptions o;
  o.input = R"({"memory": {"limit": 100663296}, "pids": {"limit": 50}})";
  r = rt({"update", "--resources", "-", "up"}, o);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(trim(read_text(memory)), "100663296");
  EXPECT_EQ(trim(read_text(pids)), "50");
}

TEST_F(OciConformance, EventsStats) {
  ASSERT_NO_FATAL_FAILURE(start_sleeper("ev"));
  pid_of("ev");
  auto r = rt({"events", "--stats", "ev"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = json::parse(trim(r.out), nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j.value("type", ""), "stats");
  EXPECT_EQ(j.value("id", ""), "ev");
  ASSERT_TRUE(j.contains("data")) << r.out;
  for (const char* part : {"memory", "cpu", "pids"}) EXPECT_TRUE(j["data"].contains(part)) << part << ": " << r.out;
  EXPECT_GE(j["data"]["pids"].value("current", 0), 1) << r.out;
  EXPECT_GT(j["data"]["memory"]["usage"].value("usage", 0ull), 0u) << r.out;
}

TEST_F(OciConformance, Features) {
  auto r = rt({"features"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j.value("ociVersionMax", "").substr(0, 2), "1.") << r.out;
  ASSERT_TRUE(j.contains("hooks") && j["hooks"].is_array()) << r.out;
  auto hooks = j["hooks"].get<std::vector<std::string>>();
  for (const char* h : {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"})
    EXPECT_NE(std::find(hooks.begin(), hooks.end(), h), hooks.end()) << h;
}

TEST_F(OciConformance, SpecWritesAConfigTheRuntimeRuns) {
  // `spec` in the caller's cwd, `spec --rootless --bundle` elsewhere; each run with only the program, the
  // terminal, the rootfs and the cgroup changed.
  for (bool rootless : {false, true}) {
    std::string id = rootless ? "sl" : "sd";
    fs::path dir = tmp_.path / ("spec-" + id);
    fs::create_directories(dir);
    Result r;
    if (rootless) {
      r = rt({"spec", "--rootless", "--bundle", dir.string()});
    } else {
      SpawnOptions o;
      o.cwd = dir;
      r = rt({"spec"}, o);
    }
    ASSERT_EQ(r.code, 0) << r.err;
    auto cfg = json::parse(read_text(dir / "config.json"), nullptr, false);
    ASSERT_TRUE(cfg.is_object()) << id;
    EXPECT_EQ(cfg["linux"].contains("uidMappings"), rootless) << cfg.dump(2);
    cfg["process"]["terminal"] = false;
    cfg["process"]["args"] = {"sh", "-c", "exit 5"};
    cfg["root"]["path"] = rootfs().string();
    cfg["linux"]["cgroupsPath"] = cgroup_name(id);
    write_config(cfg, dir);
    ids_.push_back(id);
    r = rt({"run", "--bundle", dir.string(), id});
    EXPECT_EQ(r.code, 5) << id << ": " << r.err;
  }
}

}  // namespace
