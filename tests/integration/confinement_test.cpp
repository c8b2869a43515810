// Confinement on the real kernel: what a default container may not do (and --privileged may), the
// runtime attacks (CVE-2019-5736, CVE-2024-21626 shapes), the findings of the audit, each as a test.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <map>
#include <set>

#include "cppcker/runtime/container.hpp"
#include "runtime_fixture.hpp"

namespace {

// "name allowed" / "name refused ERRNO" lines of escape-probe into name -> outcome.
std::map<std::string, std::string> outcomes(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string name, verdict, why;
    words >> name >> verdict >> why;
    if (!name.empty()) out[name] = verdict == "allowed" ? "allowed" : why;
  }
  return out;
}

std::string status_field(const std::string& status, const std::string& key) {
  std::istringstream in(status);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) {
      std::string v = line.substr(key.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  return "";
}

// Docker's 14 default capabilities as /proc/<pid>/status prints them.
constexpr const char* kDockerCaps = "00000000a80425fb";

}  // namespace

class ConfinementTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    // The probe in a second layer, also as a setuid-root copy.
    std::string probe = cppcker::read_file(CPPCKER_ESCAPE_PROBE);
    load_image_layers("probe:1", nlohmann::json{{"Cmd", {"sh"}}, {"Env", {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}}},
                      {ts::file("probe", probe, 0755), ts::file("probe-suid", probe, 04755)});
  }

  // A busybox image with one more layer of `extra` entries.
  void load_image_layers(const std::string& name, const nlohmann::json& config, const std::vector<ts::Entry>& extra) {
    fs::path dir = tmp_.path / ("image-" + cppcker::random_hex(4));
    fs::create_directories(dir / "layers");
    std::string top = ts::make_tar(extra);
    std::ofstream(dir / "layers/base.tar", std::ios::binary) << busybox_layer();
    std::ofstream(dir / "layers/top.tar", std::ios::binary) << top;
    nlohmann::json cfg = {{"architecture", cppcker::Platform::host().architecture},
                          {"os", "linux"},
                          {"config", config},
                          {"rootfs",
                           {{"type", "layers"},
                            {"diff_ids", {cppcker::sha256_digest(busybox_layer()), cppcker::sha256_digest(top)}}}}};
    std::ofstream(dir / "config.json") << cfg.dump();
    std::ofstream(dir / "manifest.json") << nlohmann::json::array({{{"Config", "config.json"},
                                                                    {"RepoTags", {name}},
                                                                    {"Layers", {"layers/base.tar", "layers/top.tar"}}}})
                                                 .dump();
    auto r = cpk_({"load", "-i", dir.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  std::map<std::string, std::string> attempts(const std::vector<std::string>& flags) {
    std::vector<std::string> args = {"--rm", "--network", "none"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"probe:1", "/probe", "attempts"});
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return outcomes(r.out);
  }
};

TEST_F(ConfinementTest, DefaultContainerIsRefusedWhatPrivilegedMayDo) {
  auto confined = attempts({});
  auto privileged = attempts({"--privileged"});
  ASSERT_GE(confined.size(), 20u) << "the probe did not run its attempts";
  // Whatever the host itself lacks (no firmware entries in /sys, ...) cannot tell a refusal apart.
  std::set<std::string> host_dependent;
  if (fs::is_empty("/sys/firmware")) host_dependent.insert("list_sys_firmware");
  if (!fs::exists("/proc/sched_debug")) host_dependent.insert("read_sched_debug");
  if (!fs::exists("/proc/sysrq-trigger")) host_dependent.insert("write_sysrq_trigger");
  if (!fs::exists("/proc/kcore")) host_dependent.insert("read_kcore");
  for (const auto& [name, outcome] : confined) {
    EXPECT_NE(outcome, "allowed") << name << " is allowed in a default container";
    if (!host_dependent.count(name)) {
      EXPECT_EQ(privileged[name], "allowed") << name << " is refused even with --privileged (" << privileged[name]
                                             << "): the probe cannot tell a refusal from a failure";
    }
  }
  // The refusals are the ones Docker gives.
  EXPECT_EQ(confined["clone3"], "ENOSYS");  // glibc falls back to clone
  EXPECT_EQ(confined["mount_tmpfs"], "EPERM");
  EXPECT_EQ(confined["write_proc_sys"], "EROFS");
  EXPECT_EQ(confined["write_sys"], "EROFS");
  EXPECT_EQ(confined["write_cgroupfs"], "EROFS");
  EXPECT_EQ(confined["mknod_open_fuse"], "EPERM");  // made (CAP_MKNOD), not opened (devices cgroup)
  EXPECT_EQ(confined["mknod_open_block"], "EPERM");

  auto caps = run({"--rm", "--network", "none", "probe:1", "/probe", "caps"});
  EXPECT_EQ(status_field(caps.out, "CapEff"), kDockerCaps);
  EXPECT_EQ(status_field(caps.out, "CapPrm"), kDockerCaps);
  EXPECT_EQ(status_field(caps.out, "CapBnd"), kDockerCaps);
  EXPECT_EQ(status_field(caps.out, "CapInh"), "0000000000000000");
  EXPECT_EQ(status_field(caps.out, "CapAmb"), "0000000000000000");
  EXPECT_EQ(status_field(caps.out, "Seccomp"), "2");
  EXPECT_EQ(status_field(caps.out, "NoNewPrivs"), "0");
  auto nnp = run({"--rm", "--network", "none", "--security-opt", "no-new-privileges", "probe:1", "/probe", "caps"});
  EXPECT_EQ(status_field(nnp.out, "NoNewPrivs"), "1");
  auto unconfined = run({"--rm", "--network", "none", "--security-opt", "seccomp=unconfined", "probe:1", "/probe", "caps"});
  EXPECT_EQ(status_field(unconfined.out, "Seccomp"), "0");
  // --cap-add / --cap-drop
  auto adjusted = run({"--rm", "--network", "none", "--cap-add", "sys_admin", "--cap-drop", "CAP_CHOWN", "probe:1", "/probe", "caps"});
  std::uint64_t eff = std::stoull(status_field(adjusted.out, "CapEff"), nullptr, 16);
  EXPECT_TRUE(eff & (1ull << 21)) << "CAP_SYS_ADMIN missing";
  EXPECT_FALSE(eff & 1ull) << "CAP_CHOWN still there";
}

TEST_F(ConfinementTest, OrdinaryWorkStillWorksConfined) {
  auto r = run({"--rm", "--network", "none", "probe:1", "sh", "-c",
                "set -e; mkdir -p /www; echo hello > /www/index.html; httpd -p 80 -h /www; "
                "wget -q -O- http://127.0.0.1:80/; ping -c1 -W2 127.0.0.1 >/dev/null && echo ping-ok; "
                "touch /tmp/f; chown 1000:1000 /tmp/f; stat -c %u:%g /tmp/f; su app -c 'id -u'"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello\nping-ok\n1000:1000\n1000\n");
  // A non-root user keeps the bounding set but has no effective capabilities, as in Docker.
  auto user = run({"--rm", "--network", "none", "-u", "65534", "probe:1", "/probe", "caps"});
  EXPECT_EQ(status_field(user.out, "CapEff"), "0000000000000000");
  EXPECT_EQ(status_field(user.out, "CapBnd"), kDockerCaps);
  // A setuid-root program run by that user gains at most the bounding set (it was all 40 before).
  auto suid = run({"--rm", "--network", "none", "-u", "65534", "probe:1", "/probe-suid", "caps"});
  EXPECT_EQ(status_field(suid.out, "CapEff"), kDockerCaps) << suid.out << suid.err;
}

TEST_F(ConfinementTest, ExecGetsTheContainersConfinement) {
  std::string id = trim(run({"-d", "--network", "none", "probe:1", "sleep", "60"}).out);
  ASSERT_EQ(id.size(), 64u);
  auto caps = cpk_({"exec", id, "/probe", "caps"});
  EXPECT_EQ(status_field(caps.out, "CapEff"), kDockerCaps);
  EXPECT_EQ(status_field(caps.out, "CapBnd"), kDockerCaps);
  EXPECT_EQ(status_field(caps.out, "Seccomp"), "2");
  auto attempts = outcomes(cpk_({"exec", id, "/probe", "attempts"}).out);
  ASSERT_GE(attempts.size(), 20u);
  for (const auto& [name, outcome] : attempts) EXPECT_NE(outcome, "allowed") << name << " is allowed in exec";
  // Its failures are reported as Docker reports them, -d too.
  auto missing = cpk_({"exec", id, "/nonexistent"});
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_NE(missing.err.find("exec: \"/nonexistent\""), std::string::npos) << missing.err;
  EXPECT_EQ(cpk_({"exec", "-d", id, "/nonexistent"}).exit_code, 127);
  auto nouser = cpk_({"exec", "-u", "nosuchuser", id, "true"});
  EXPECT_EQ(nouser.exit_code, 125);
  EXPECT_NE(nouser.err.find("unable to find user nosuchuser"), std::string::npos) << nouser.err;
  auto nodir = cpk_({"exec", "-w", "/nonexistent", id, "true"});
  EXPECT_EQ(nodir.exit_code, 126);
  EXPECT_NE(nodir.err.find("chdir to the working directory \"/nonexistent\" failed"), std::string::npos) << nodir.err;
  // exec --privileged: every capability of the host, the container's seccomp filter stays (as in Docker).
  auto privileged = cpk_({"exec", "--privileged", id, "/probe", "caps"});
  EXPECT_NE(status_field(privileged.out, "CapEff"), kDockerCaps);
  EXPECT_TRUE(std::stoull(status_field(privileged.out, "CapEff"), nullptr, 16) & (1ull << 21));
  EXPECT_EQ(status_field(privileged.out, "Seccomp"), "2");
}

TEST_F(ConfinementTest, MaskedAndReadOnlyPathsAndCgroupfs) {
  auto r = run({"--rm", "--network", "none", "probe:1", "sh", "-c",
                "wc -c < /proc/timer_list; wc -c < /proc/keys; ls /sys/firmware | wc -l; "
                "grep ' /proc/sys ' /proc/self/mountinfo | grep -c ' ro,'; "
                "grep ' /sys/fs/cgroup' /proc/self/mountinfo | grep -vc ' ro,'; cat /proc/self/cgroup | grep -vc ':/$'; true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::istringstream out(r.out);
  std::string timer_list, keys, firmware, ro_sys, rw_cgroup, not_root;
  out >> timer_list >> keys >> firmware >> ro_sys >> rw_cgroup >> not_root;
  EXPECT_EQ(timer_list, "0");
  EXPECT_EQ(keys, "0");
  EXPECT_EQ(firmware, "0");
  EXPECT_EQ(ro_sys, "1");
  EXPECT_EQ(rw_cgroup, "0") << "a cgroup mount is writable:\n" << r.out;
  EXPECT_EQ(not_root, "0") << "the container sees cgroup paths above its own";
  auto open = run({"--rm", "--network", "none", "--security-opt", "systempaths=unconfined", "probe:1", "sh", "-c",
                   "head -c1 /proc/timer_list | grep -q . && echo visible"});
  EXPECT_EQ(open.out, "visible\n");
}

TEST_F(ConfinementTest, EveryCgroupHierarchyIsJoined) {
  std::string id = trim(run({"-d", "--network", "none", "probe:1", "sleep", "60"}).out);
  ASSERT_EQ(id.size(), 64u);
  pid_t pid = inspect(id)["State"]["Pid"].get<pid_t>();
  std::string cgroups = cppcker::read_file("/proc/" + std::to_string(pid) + "/cgroup");
  std::istringstream in(cgroups);
  for (std::string line; std::getline(in, line);) {
    // cpuset is joined only with cpuset limits (below): it confines nothing otherwise, and making one
    // costs every start a kernel text patch on a host without other cpuset cgroups.
    if (line.find(":cpuset:") != std::string::npos) continue;
    EXPECT_NE(line.find("/" + parent_ + "/" + id), std::string::npos) << "not in its own cgroup: " << line;
  }
  // A hierarchy it is not in is not mounted in it either (it would show the host's whole tree).
  EXPECT_EQ(cpk_({"exec", id, "test", "-e", "/sys/fs/cgroup/cpuset"}).exit_code, 1);
  auto pinned = run({"--rm", "--network", "none", "--cpuset-cpus", "0", "probe:1", "cat", "/sys/fs/cgroup/cpuset/cpuset.cpus"});
  EXPECT_EQ(pinned.out, "0\n") << pinned.err;
  // The devices cgroup holds Docker's list (v1), and the mknod'ed node outside it cannot be opened.
  if (cppcker::detect_cgroup_mode() != cppcker::CgroupMode::v2) {
    std::string list = cppcker::read_file(container_cgroup("devices", id) / "devices.list");
    EXPECT_NE(list.find("c 1:3 rwm"), std::string::npos) << list;
    EXPECT_EQ(list.find("a *:* rwm"), std::string::npos) << list;
  }
  auto fuse = cpk_({"exec", id, "sh", "-c", "mknod /tmp/fuse c 10 229 && cat /tmp/fuse"});
  EXPECT_NE(fuse.exit_code, 0);
  EXPECT_NE(fuse.err.find("Operation not permitted"), std::string::npos) << fuse.err;
  // --device hands one over.
  auto null = run({"--rm", "--network", "none", "--device", "/dev/null:/dev/extra:rw", "probe:1", "sh", "-c", "echo x > /dev/extra && echo ok"});
  EXPECT_EQ(null.out, "ok\n") << null.err;
  auto rule = run({"--rm", "--network", "none", "--device-cgroup-rule", "c 10:229 r", "probe:1", "sh", "-c",
                   "mknod /tmp/fuse c 10 229 && head -c0 /tmp/fuse && echo readable"});
  EXPECT_EQ(rule.out, "readable\n") << rule.err;
}

TEST_F(ConfinementTest, RuntimeBinaryIsOutOfReachThroughProcExe) {
  // CVE-2019-5736's shape: a process in the container waits for cppcker's exec helper to appear in its
  // pid namespace and tries to open the helper's /proc/<pid>/exe (the host binary) for writing.
  const std::string before = cppcker::sha256_digest(cppcker::read_file(CPPCKER_BINARY));
  std::string id = trim(run({"-d", "--network", "none", "probe:1", "/probe", "watch-exe", "20"}).out);
  ASSERT_EQ(id.size(), 64u);
  ASSERT_TRUE(eventually([&] { return cpk_({"logs", id}).out.find("watching") != std::string::npos; }));
  for (int i = 0; i < 40; ++i) cpk_({"exec", id, "true"});
  cpk_({"stop", "-t", "1", id});
  std::string log = cpk_({"logs", id}).out;
  int seen = 0;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("helper ", 0) != 0) continue;
    ++seen;
    EXPECT_EQ(line.find("opened"), std::string::npos) << "the host binary was reachable: " << line;
  }
  EXPECT_GT(seen, 0) << "the watcher never saw an exec helper, so the test proved nothing:\n" << log;
  EXPECT_EQ(cppcker::sha256_digest(cppcker::read_file(CPPCKER_BINARY)), before);
}

TEST_F(ConfinementTest, NoHostDescriptorCrossesIntoTheContainer) {
  // CVE-2024-21626's shape: the caller holds a file and a directory of the host's root open.
  fs::path secret = tmp_.path / "secret";
  std::ofstream(secret) << "host secret\n";
  int file = ::open(secret.c_str(), O_RDONLY);  // no O_CLOEXEC: inherited by cppcker
  int root = ::open("/", O_RDONLY | O_DIRECTORY);
  ASSERT_GE(file, 3);
  ASSERT_GE(root, 3);
  auto fds = run({"--rm", "--network", "none", "probe:1", "/probe", "fds"});
  EXPECT_EQ(fds.out, "0 1 2\n") << fds.err;
  auto init_fds = run({"--rm", "--init", "--network", "none", "probe:1", "sh", "-c", "ls /proc/1/fd | tr '\\n' ' '"});
  EXPECT_EQ(init_fds.out, "0 1 2 ") << init_fds.err;
  std::string id = trim(run({"-d", "--network", "none", "probe:1", "sleep", "60"}).out);
  ASSERT_EQ(id.size(), 64u);
  EXPECT_EQ(cpk_({"exec", id, "/probe", "fds"}).out, "0 1 2\n");
  // A working directory through a descriptor's magic link cannot resolve outside the rootfs.
  for (int fd : {file, root}) {
    std::string cwd = "/proc/self/fd/" + std::to_string(fd);
    auto r = run({"--rm", "--network", "none", "-w", cwd, "probe:1", "pwd"});
    EXPECT_NE(r.exit_code, 0) << "run -w " << cwd << " gave " << r.out;
    auto e = cpk_({"exec", "-w", cwd, id, "pwd"});
    EXPECT_NE(e.exit_code, 0) << "exec -w " << cwd << " gave " << e.out;
  }
  ::close(file);
  ::close(root);
}

TEST_F(ConfinementTest, ImageSymlinksCannotSendMountsToTheHost) {
  // An image whose /etc is a link to a host directory, one whose /etc/hosts is a link to a host file.
  fs::path host_dir = tmp_.path / "host-etc";
  fs::create_directories(host_dir);
  std::ofstream(host_dir / "keep") << "untouched\n";
  std::ofstream(host_dir / "hosts") << "host's hosts\n";
  auto listing = [&] {
    std::string out;
    for (const auto& e : fs::directory_iterator(host_dir)) out += e.path().filename().string() + "=" + cppcker::read_file(e.path()) + ";";
    return out;
  };
  const std::string before = listing();
  load_image_layers("evil-etc:1", {{"Cmd", {"true"}}}, {ts::symlink("etc", host_dir.string())});
  load_image_layers("evil-hosts:1", {{"Cmd", {"true"}}}, {ts::symlink("etc/hosts", (host_dir / "hosts").string())});
  for (const char* image : {"evil-etc:1", "evil-hosts:1"}) {
    auto r = run({"--network", "none", "--name", std::string("c-") + (image[5] == 'e' ? "etc" : "hosts"), image, "sh", "-c",
                  "cat /etc/hostname >/dev/null && echo ran"});
    EXPECT_EQ(r.exit_code, 0) << image << ": " << r.err;
    EXPECT_EQ(listing(), before) << image << " changed the host";
  }
  // A container that plants the link itself on the way to one of its mount targets, then is started again.
  fs::path volume = tmp_.path / "volume";
  fs::create_directories(volume);
  auto planted = run({"--network", "none", "--name", "planter", "-v", volume.string() + ":/plant/dir/target", "probe:1", "sh",
                      "-c", "test -L /plant || { mv /plant /plant.old && ln -s " + host_dir.string() + " /plant && echo planted; }"});
  EXPECT_EQ(planted.out, "planted\n") << planted.err;
  auto again = cpk_({"start", "planter"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(eventually([&] { return inspect("planter")["State"]["Status"] == "exited"; }));
  EXPECT_EQ(inspect("planter")["State"]["ExitCode"], 0) << inspect("planter")["State"]["Error"];
  EXPECT_EQ(listing(), before) << "the planted link sent a mount to the host";
  EXPECT_FALSE(fs::exists(host_dir / "dir")) << "a mount target was made on the host";
}

TEST_F(ConfinementTest, ContainerWithoutTerminalCannotReachTheCallersTerminal) {
  // The caller's terminal is a pty the test holds; after the container, the shell reads what is pending.
  std::string cmd;
  for (const auto& a : run_argv({"--rm", "--network", "none", "probe:1", "/probe", "tiocsti"})) cmd += "'" + a + "' ";
  ts::PtySession session({"/bin/bash", "-c", cmd + "; readlink /proc/self/fd/0; read -t 1 line; echo \"pending:[$line]\""}, 24, 80);
  EXPECT_EQ(session.wait(20000), 0) << session.output();
  const std::string& out = session.output();
  for (const char* attempt : {"tiocsti_fd0", "tiocsti_fd1", "tiocsti_fd2", "tiocsti_dev_tty"})
    EXPECT_NE(out.find(std::string(attempt) + " refused"), std::string::npos) << attempt << " in:\n" << out;
  EXPECT_NE(out.find("pending:[]"), std::string::npos) << "input was injected into the caller's terminal:\n" << out;
  // Its output goes through a pipe cppcker relays, never the caller's own file.
  fs::path file = tmp_.path / "out.txt";
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fd, 1);
    auto argv = run_argv({"--rm", "--network", "none", "probe:1", "readlink", "/proc/self/fd/1"});
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::string written = cppcker::read_file(file);
  EXPECT_EQ(written.rfind("pipe:", 0), 0u) << written;
}

TEST_F(ConfinementTest, InitIsNotTheHostBinary) {
  auto r = run({"--rm", "--init", "--network", "none", "probe:1", "sh", "-c",
                "readlink /proc/1/exe; echo x 2>/dev/null > /proc/1/exe || echo unwritable"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("/memfd:cppcker-init", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("unwritable"), std::string::npos) << r.out;
  // It still reaps and passes on the status.
  EXPECT_EQ(run({"--rm", "--init", "--network", "none", "probe:1", "sh", "-c", "exit 7"}).exit_code, 7);
}

TEST_F(ConfinementTest, HostUsersReadNoStateOfContainers) {
  // Only cppcker's own permissions stand between `nobody` and the state (the test's temp dir is 0700).
  fs::permissions(tmp_.path, fs::perms(0755));
  std::string id = trim(run({"-d", "--network", "none", "-e", "PASSWORD=hunter2", "probe:1", "sh", "-c",
                             "echo logged; cp /bin/busybox /tmp/suid && chmod 4755 /tmp/suid; sleep 60"})
                            .out);
  ASSERT_EQ(id.size(), 64u);
  ASSERT_TRUE(eventually([&] { return cpk_({"logs", id}).out == "logged\n"; }));
  fs::path dir = cpk_.root / "containers" / id;
  for (const char* f : {"container.json", "config.json", "container.log"}) {
    struct stat st{};
    ASSERT_EQ(::stat((dir / f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
  struct stat root_st{};
  ASSERT_EQ(::stat(cpk_.root.c_str(), &root_st), 0);
  EXPECT_EQ(root_st.st_mode & 0077, 0u) << "the state root is open to others";
  // As `nobody`: nothing readable, and the setuid file in the upper dir cannot be reached to run it.
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
    int failures = 0;
    for (const char* f : {"container.json", "config.json", "container.log"})
      if (::open((dir / f).c_str(), O_RDONLY) >= 0) ++failures;
    if (::access((dir / "upper/tmp/suid").c_str(), X_OK) == 0) ++failures;
    ::_exit(failures);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "user nobody could read or run something of the container's";
}

TEST_F(ConfinementTest, BadInputIsRefusedAndLeavesNothing) {
  fs::path bad_profile = tmp_.path / "bad.json";
  std::ofstream(bad_profile) << R"({"defaultAction": "SCMP_ACT_MAYBE"})";
  const std::vector<std::vector<std::string>> cases = {
      {"--cap-add", "NOPE"},
      {"--cap-drop", "cap_bogus"},
      {"--security-opt", "seccomp=/does/not/exist.json"},
      {"--security-opt", "seccomp=" + bad_profile.string()},
      {"--security-opt", "bogus"},
      {"--device", "/dev/does-not-exist"},
      {"--device", "relative"},
      {"--device-cgroup-rule", "x 1:2 r"},
      {"--userns", "sideways"},
      {"--privileged", "--userns", "auto"},
      {"--ulimit", "nofile=2:1"},
      {"--ulimit", "bogus=1"},
      {"--shm-size", "lots"},
      {"--log-opt", "max-size=huge"},
      {"--log-opt", "colour=blue"},
      {"-v", "anon-volume-check:/data", "--cap-add", "NOPE"},
      {"-u", "4294967296"},  // not wrapped onto root
      {"-v", "/tmp:/x:rox"},
  };
  for (const auto& flags : cases) {
    std::vector<std::string> args = {"--rm", "--network", "none"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"probe:1", "true"});
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 125) << flags[0] << " " << flags[1] << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "not one line: " << r.err;
  }
  EXPECT_EQ(cpk_({"ps", "-aq"}).out, "");
  EXPECT_EQ(cpk_({"volume", "ls", "-q"}).out, "") << "a refused run left a volume";
  for (const auto& d : cgroup_dirs()) EXPECT_FALSE(fs::exists(d)) << d;
}

TEST_F(ConfinementTest, UlimitsShmSizeTmpfsDefaultsAndLogRotation) {
  auto r = run({"--rm", "--network", "none", "--ulimit", "nofile=256:512", "--shm-size", "2m", "--tmpfs", "/scratch",
                "probe:1", "sh", "-c",
                "ulimit -n; ulimit -Hn; df -k /dev/shm | tail -1 | awk '{print $2}'; "
                "grep ' /scratch ' /proc/self/mountinfo | grep -o 'nosuid,nodev,noexec'"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "256\n512\n2048\nnosuid,nodev,noexec\n");
  std::string id = trim(run({"-d", "--network", "none", "--log-opt", "max-size=1k", "--log-opt", "max-file=2", "probe:1",
                             "sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done"})
                            .out);
  ASSERT_EQ(id.size(), 64u);
  ASSERT_TRUE(eventually([&] { return inspect(id)["State"]["Status"] == "exited"; }));
  fs::path log = cpk_.root / "containers" / id / "container.log";
  EXPECT_LE(fs::file_size(log), 1024u);
  EXPECT_TRUE(fs::exists(log.string() + ".1"));
  EXPECT_FALSE(fs::exists(log.string() + ".2"));
  std::string logs = cpk_({"logs", id}).out;
  EXPECT_NE(logs.find("line-199\n"), std::string::npos);
  EXPECT_EQ(logs.find("line-0\n"), std::string::npos) << "the oldest lines should have rotated away";
  // Output without a newline is logged in entries of at most 16 KiB (nothing piles up in cppcker), and
  // `logs` gives it back whole.
  std::string long_id = trim(run({"-d", "--network", "none", "probe:1", "sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a"}).out);
  ASSERT_EQ(long_id.size(), 64u);
  ASSERT_TRUE(eventually([&] { return inspect(long_id)["State"]["Status"] == "exited"; }));
  EXPECT_EQ(cpk_({"logs", long_id}).out, std::string(100000, 'a'));
  std::istringstream entries(cppcker::read_file(cpk_.root / "containers" / long_id / "container.log"));
  int count = 0;
  for (std::string line; std::getline(entries, line); ++count) EXPECT_LT(line.size(), 17000u);
  EXPECT_EQ(count, 7);  // 6 x 16 KiB + the rest
}

TEST_F(ConfinementTest, VolumeNamesCannotLeaveTheVolumeStore) {
  // A file beside the state root that a path-like name would reach.
  fs::create_directories(cpk_.root / "volumes");
  fs::create_directories(tmp_.path / "outside" / "_data");
  std::ofstream(tmp_.path / "outside" / "volume.json") << R"({"Name": "outside"})";
  for (const char* name : {"../../outside", "../containers", "/etc", ".", "..", "a/b"}) {
    auto inspect = cpk_({"volume", "inspect", name});
    EXPECT_EQ(inspect.exit_code, 1) << name << ": " << inspect.out;
    EXPECT_NE(inspect.err.find("no such volume"), std::string::npos) << name << ": " << inspect.err;
    auto rm = cpk_({"volume", "rm", name});
    EXPECT_NE(rm.exit_code, 0) << name;
  }
  EXPECT_TRUE(fs::exists(tmp_.path / "outside" / "volume.json"));
  EXPECT_TRUE(fs::exists(cpk_.root / "containers"));
}

namespace {
// Runs a command with `input` on its stdin (a pipe) and its stdout and stderr in files; returns
// {exit code, stdout, stderr}.
ts::CommandResult run_with_input(const std::vector<std::string>& argv, const std::string& input, const fs::path& dir) {
  int in[2];
  EXPECT_EQ(::pipe(in), 0);
  fs::path out = dir / "stdout", err = dir / "stderr";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::close(in[0]);
    ::close(in[1]);
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(o, 1);
    ::dup2(e, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  if (::write(in[1], input.data(), input.size()) != static_cast<ssize_t>(input.size())) ADD_FAILURE() << "write stdin";
  ::close(in[1]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, cppcker::read_file(out), cppcker::read_file(err)};
}
}  // namespace

TEST_F(ConfinementTest, ForegroundStreamsAreRelayedAndLogged) {
  auto r = run({"--name", "fg", "--network", "none", "probe:1", "sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  // Docker logs a foreground container too.
  auto logs = cpk_({"logs", "fg"});
  EXPECT_EQ(logs.out, "out\n");
  EXPECT_EQ(logs.err, "err\n");
  // -i: the caller's stdin reaches the container through a pipe cppcker feeds, up to its end.
  std::string input;
  for (int i = 0; i < 20000; ++i) input += "line " + std::to_string(i) + "\n";  // more than a pipe holds
  auto piped = run_with_input(run_argv({"--rm", "-i", "--network", "none", "probe:1", "sh", "-c", "wc -l; readlink /proc/self/fd/0"}),
                              input, tmp_.path);
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.out.substr(0, piped.out.find('\n')), "20000");
  EXPECT_NE(piped.out.find("pipe:"), std::string::npos) << piped.out;
  // Without -i the container reads its own /dev/null, whatever the caller's stdin is.
  auto closed = run_with_input(run_argv({"--rm", "--network", "none", "probe:1", "sh", "-c", "wc -c"}), "ignored\n", tmp_.path);
  EXPECT_EQ(closed.out, "0\n");
  // exec -i likewise, and the command sees the end of its input.
  std::string id = trim(run({"-d", "--network", "none", "probe:1", "sleep", "60"}).out);
  ASSERT_EQ(id.size(), 64u);
  auto exec = run_with_input(cpk_.argv({"exec", "-i", id, "sh", "-c", "wc -l; echo done >&2"}), input, tmp_.path);
  EXPECT_EQ(exec.exit_code, 0) << exec.err;
  EXPECT_EQ(exec.out, "20000\n");
  EXPECT_EQ(exec.err, "done\n");
}

TEST_F(ConfinementTest, ContainerDiesWithItsOwnerWhateverItsUser) {
  // A user switch (and entering a user namespace) clears the parent-death signal: set again after it.
  for (const std::vector<std::string>& flags : {std::vector<std::string>{"-u", "65534"}, std::vector<std::string>{"-u", "app"}}) {
    std::vector<std::string> args = {"--name", "owned", "--network", "none"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"probe:1", "sleep", "100"});
    pid_t cli = ts::spawn(run_argv(args), tmp_.path / "owned.log");
    ASSERT_TRUE(eventually([&] { return inspect("owned")["State"]["Status"] == "running"; }));
    pid_t pid = inspect("owned")["State"]["Pid"].get<pid_t>();
    ASSERT_GT(pid, 0);
    const std::uint64_t start = cppcker::process_start_time(pid);
    ::kill(cli, SIGKILL);
    ::waitpid(cli, nullptr, 0);
    EXPECT_TRUE(eventually([&] { return !cppcker::process_alive(pid, start); })) << flags[1] << ": the container outlived its owner";
    EXPECT_EQ(cpk_({"rm", "-f", "owned"}).exit_code, 0);
  }
}

TEST_F(ConfinementTest, ReadOnlyVolumesAreReadOnlyBelowTheirTopMount) {
  // A host directory with a mount below it, bound :ro: the submount is read-only in the container too.
  fs::path dir = tmp_.path / "rotest";
  fs::create_directories(dir / "sub");
  ASSERT_EQ(::mount("tmpfs", (dir / "sub").c_str(), "tmpfs", 0, "size=64k"), 0) << std::strerror(errno);
  struct Unmount {
    fs::path p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{dir / "sub"};
  auto r = run({"--rm", "--network", "none", "-v", dir.string() + ":/r:ro", "probe:1", "sh", "-c",
                "touch /r/top 2>/dev/null && echo top-writable; touch /r/sub/f 2>/dev/null && echo sub-writable; echo done"});
  EXPECT_EQ(r.out, "done\n") << r.err;
  EXPECT_FALSE(fs::exists(dir / "sub" / "f"));
  // And without :ro both are writable (the test sees a refusal, not a broken mount).
  auto rw = run({"--rm", "--network", "none", "-v", dir.string() + ":/r", "probe:1", "sh", "-c", "touch /r/sub/f && echo ok"});
  EXPECT_EQ(rw.out, "ok\n") << rw.err;
}
