#include "cppcker/runtime/process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cppcker/network/netlink.hpp"
#include "cppcker/runtime/networking.hpp"
#include "cppcker/runtime/tty.hpp"
#include "cppcker/runtime/volume.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"
#include "cppcker/util/sha256.hpp"

namespace cppcker {

using nlohmann::json;

int exit_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

// ---------------------------------------------------------------- parent side

namespace {


volatile sig_atomic_t g_forward_pid = 0;
void forward_signal(int sig) {
  if (g_forward_pid > 0) ::kill(g_forward_pid, sig);
}

}  // namespace

SignalForwarder::SignalForwarder(pid_t pid, bool include_winch) : count_(include_winch ? 7 : 6) {
  g_forward_pid = pid;
  struct sigaction sa{};
  sa.sa_handler = forward_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < count_; ++i) ::sigaction(kSignals[i], &sa, &old_[i]);
}

SignalForwarder::~SignalForwarder() {
  g_forward_pid = 0;
  for (int i = 0; i < count_; ++i) ::sigaction(kSignals[i], &old_[i], nullptr);
}

namespace {
// Writes hostname, hosts and resolv.conf for the container and creates its upper/work/merged dirs.
void prepare_container_dir(const NetworkStore& networks, const ContainerStore& containers, const Container& c) {
  fs::path d = containers.dir(c.id);
  for (const char* sub : {"upper", "work", "merged"}) make_dirs(d / sub);
  // Derived files, written again at every start: no fsync on the start path.
  constexpr auto rebuilt = Durability::unsynced;
  write_file_atomic(d / "hostname", c.spec.hostname + "\n", 0644, rebuilt);
  std::string hosts;
  switch (network_mode(c.spec.network)) {
    case NetworkMode::host:
      hosts = read_file_if_exists("/etc/hosts").value_or(hosts_file(c, {}));
      break;
    case NetworkMode::container: {
      // The namespace's owner's view, as Docker shares it.
      Container other = containers.resolve(c.spec.network.substr(10));
      hosts = read_file_if_exists(containers.dir(other.id) / "hosts").value_or(hosts_file(c, {}));
      break;
    }
    default:
      hosts = hosts_file(c, network_peers(networks, containers, c));
  }
  write_file_atomic(d / "hosts", hosts, 0644, rebuilt);
  write_file_atomic(d / "resolv.conf", resolv_conf(c.spec), 0644, rebuilt);
}
}  // namespace

ContainerProcess ContainerProcess::start(const ImageStore& images, const ContainerStore& containers,
                                         const NetworkStore& networks, Container& c, const StdioFds& stdio) {
  auto record = images.get_image(c.spec.image_id);
  if (!record) throw Error("No such image: " + c.spec.image, 125);
  NetworkSetup network(networks, containers, c);
  network.begin();
  prepare_container_dir(networks, containers, c);
  json lowers = json::array();
  for (auto it = record->layers.rbegin(); it != record->layers.rend(); ++it)
    lowers.push_back(digest_hex(it->chain_id) + "/diff");  // relative to layers/: short mount options
  fs::path d = containers.dir(c.id);
  json config = {{"layers_dir", (images.root() / "layers").string()},
                 {"lowers", lowers},
                 {"upper", (d / "upper").string()},
                 {"work", (d / "work").string()},
                 {"merged", (d / "merged").string()},
                 {"files", {{"hostname", (d / "hostname").string()}, {"hosts", (d / "hosts").string()},
                            {"resolv.conf", (d / "resolv.conf").string()}}},
                 {"hostname", c.spec.hostname},
                 {"argv", c.argv()},
                 {"env", c.spec.env},
                 {"workdir", c.spec.workdir},
                 {"user", c.spec.user},
                 {"init", c.spec.init},
                 {"read_only", c.spec.read_only},
                 {"mounts", json::array()},
                 {"loopback_up", network_mode(c.spec.network) == NetworkMode::none}};
  if (stdio.tty) {
    config["tty"] = json::object();
    if (stdio.tty_size) config["tty"] = {{"rows", stdio.tty_size->ws_row}, {"cols", stdio.tty_size->ws_col}};
  }
  VolumeStore volumes(containers.dir(c.id).parent_path().parent_path());
  for (const auto& m : c.spec.mounts) {
    std::string source = m.source;
    if (m.type == "volume") source = volumes.data_path(volumes.create(m.source)).string();
    if (m.type == "bind") {
      std::error_code ec;
      if (!fs::exists(source, ec)) make_dirs(source);  // Docker creates a missing host directory
    }
    config["mounts"].push_back({{"type", m.type}, {"source", source}, {"target", m.target},
                                {"readonly", m.readonly}, {"options", m.options},
                                {"directory", m.type != "bind" || fs::is_directory(source)}});
  }

  ContainerProcess proc;
  proc.cgroup_ = make_cgroup(c.cgroup_paths());
  try {
    proc.cgroup_->create(c.spec.limits);
  } catch (const Error& e) {
    proc.cgroup_->destroy();
    throw Error(std::string("failed to create the container's cgroup: ") + e.what(), 125);
  }

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair");
  UniqueFd parent_end(sv[0]), child_end(sv[1]);

  unsigned long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
  // A bridged container joins the namespace setup-netns made; container:<x> joins x's.
  const int netns = network.netns();
  if (c.spec.network != "host" && netns < 0) flags |= CLONE_NEWNET;
  // fork semantics with new namespaces; the child only prepares its stdio and execs.
  pid_t pid = static_cast<pid_t>(::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, 0));
  if (pid < 0) {
    int err = errno;
    proc.cgroup_->destroy();
    throw SystemError("clone", err);
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // the container never outlives the process that started it
    if (netns >= 0 && ::setns(netns, CLONE_NEWNET) != 0) ::_exit(125);
    if (stdio.in != 0) ::dup2(stdio.in, 0);
    if (stdio.out != 1) ::dup2(stdio.out, 1);
    if (stdio.err != 2) ::dup2(stdio.err, 2);
    int fd = ::fcntl(child_end.get(), F_DUPFD, 3);  // without CLOEXEC: it must survive the exec
    std::string fd_arg = std::to_string(fd);
    const char* argv[] = {"cppcker", "child-mode", fd_arg.c_str(), nullptr};
    ::execv("/proc/self/exe", const_cast<char* const*>(argv));
    ::_exit(125);
  }
  proc.pid_ = pid;
  child_end.reset();
  auto fail = [&](const std::string& message, int code) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    proc.cgroup_->destroy();
    throw Error(message, code);
  };
  try {
    // In its cgroup before it runs anything of the user's.
    proc.cgroup_->add_process(pid);
    // setup-veth has run meanwhile; the command must not start before its network is there.
    try {
      network.finish();
    } catch (const Error& e) {
      fail(e.what(), 125);
    }
    send_message(parent_end.get(), config.dump());
    std::string reply = receive_message(parent_end.get(), &proc.tty_master_);
    if (stdio.tty && reply == kTtyReady) {
      if (!proc.tty_master_) fail("container start failed: no terminal received", 125);
      reply = receive_message(parent_end.get());
    }
    if (!reply.empty()) {
      json r = json::parse(reply, nullptr, false);
      if (r.is_discarded()) fail("container start failed", 125);
      int status = 0;
      ::waitpid(pid, &status, 0);
      proc.cgroup_->destroy();
      throw Error(r.value("error", "container start failed"), r.value("code", 125));
    }
  } catch (const SystemError& e) {
    fail(std::string("container start failed: ") + e.what(), 125);
  }
  network.commit();
  c.state.status = "running";
  c.state.pid = pid;
  c.state.pid_start = process_start_time(pid);
  c.state.started = format_rfc3339(now());
  containers.save(c, Durability::unsynced);
  return proc;
}

int ContainerProcess::wait(const ContainerStore& containers, const NetworkStore& networks, Container& c) {
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  tty_master_.reset();
  int code = exit_status(status);
  c.state.oom_killed = cgroup_->oom_killed();
  cgroup_->destroy();
  remove_empty_cgroup_parents(c.cgroup_paths(), c.spec.cgroup_owned_tops);
  try {
    teardown_network(networks, containers, c);
  } catch (const Error&) {
    // Left for `rm`, which tears down again; the exit is what must be recorded now.
  }
  c.state.status = "exited";
  c.state.exit_code = code;
  c.state.finished = format_rfc3339(now());
  containers.save(c, Durability::unsynced);
  return code;
}

// ---------------------------------------------------------------- inside the container

namespace {
[[noreturn]] void start_error(int code, const std::string& message) { throw Error(message, code); }
}  // namespace

static std::vector<std::vector<std::string>> read_colon_file(const char* path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(read_file_if_exists(path).value_or(""));
  std::string line;
  while (std::getline(in, line)) rows.push_back(split(line, ':'));
  return rows;
}

static bool all_digits(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

// "user", "uid", "user:group", "uid:gid", resolved in the container's /etc/passwd and /etc/group.
UserIds resolve_user(const std::string& spec) {
  UserIds ids;
  std::string user = spec.substr(0, spec.find(':'));
  std::string group = spec.find(':') == std::string::npos ? "" : spec.substr(spec.find(':') + 1);
  auto passwd = read_colon_file("/etc/passwd");
  auto groups = read_colon_file("/etc/group");
  std::string user_name;
  bool found = false;
  for (const auto& f : passwd) {
    if (f.size() < 7) continue;
    if ((user.empty() && f[2] == "0") || f[0] == user || (all_digits(user) && f[2] == user)) {
      ids.uid = static_cast<uid_t>(std::stoul(f[2]));
      ids.gid = static_cast<gid_t>(std::stoul(f[3]));
      ids.home = f[5];
      user_name = f[0];
      found = true;
      break;
    }
  }
  if (!found) {
    if (!user.empty() && !all_digits(user))
      start_error(125, "unable to find user " + user + ": no matching entries in passwd file");
    ids.uid = user.empty() ? 0 : static_cast<uid_t>(std::stoul(user));
    ids.gid = ids.uid == 0 ? 0 : ids.uid;
  }
  if (!group.empty()) {
    bool group_found = false;
    for (const auto& f : groups)
      if (f.size() >= 3 && (f[0] == group || (all_digits(group) && f[2] == group))) {
        ids.gid = static_cast<gid_t>(std::stoul(f[2]));
        group_found = true;
      }
    if (!group_found) {
      if (!all_digits(group)) start_error(125, "unable to find group " + group + ": no matching entries in group file");
      ids.gid = static_cast<gid_t>(std::stoul(group));
    }
  }
  ids.groups.push_back(ids.gid);
  if (!user_name.empty())
    for (const auto& f : groups) {
      if (f.size() < 4) continue;
      std::istringstream members(f[3]);
      std::string m;
      while (std::getline(members, m, ','))
        if (m == user_name) ids.groups.push_back(static_cast<gid_t>(std::stoul(f[2])));
    }
  return ids;
}

std::string env_value(const std::vector<std::string>& env, const std::string& key) {
  for (const auto& e : env)
    if (e.rfind(key + "=", 0) == 0) return e.substr(key.size() + 1);
  return "";
}

// The program to exec: a name with a '/' as it is, else the first executable match in PATH.
std::string find_executable(const std::string& name, const std::string& path_env) {
  if (name.find('/') != std::string::npos) {
    struct stat st{};
    if (::stat(name.c_str(), &st) != 0)
      start_error(127, "exec: \"" + name + "\": stat " + name + ": no such file or directory");
    if (S_ISDIR(st.st_mode)) start_error(126, "exec: \"" + name + "\": is a directory");
    return name;
  }
  std::istringstream dirs(path_env);
  std::string dir;
  bool denied = false;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st{};
    if (::stat(candidate.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    denied = true;
  }
  if (denied) start_error(126, "exec: \"" + name + "\": permission denied");
  start_error(127, "exec: \"" + name + "\": executable file not found in $PATH");
}


// ---------------------------------------------------------------- child-mode stage

namespace {


void check(int rc, const std::string& what) {
  if (rc != 0) start_error(125, what + ": " + std::strerror(errno));
}

void ensure_dir(const fs::path& p, mode_t mode = 0755) {
  if (::mkdir(p.c_str(), mode) != 0 && errno != EEXIST) start_error(125, "mkdir " + p.string() + ": " + std::strerror(errno));
}

void ensure_file(const fs::path& p) {
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0 && errno != EEXIST) start_error(125, "create " + p.string() + ": " + std::strerror(errno));
  if (fd >= 0) ::close(fd);
}

// Opens the mount target `target` inside the rootfs `root`, creating what is missing (directories, or an
// empty file for a file bind). Symlinks on the way are followed as the container will see them, inside
// the rootfs (an absolute link restarts at the rootfs, ".." stops at it), so an image's links cannot send
// a mount to the host. Returns an O_PATH descriptor.
UniqueFd open_target_in_root(const fs::path& root, const std::string& target, bool directory) {
  UniqueFd rootfd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd) start_error(125, "open rootfs: " + std::string(std::strerror(errno)));
  std::deque<std::string> todo;
  for (const auto& part : fs::path(target).relative_path()) todo.push_back(part.string());
  std::vector<std::string> resolved;  // symlink-free components from the rootfs down
  auto joined = [&](const std::string& extra) {
    std::string p = ".";
    for (const auto& r : resolved) p += "/" + r;
    return extra.empty() ? p : p + "/" + extra;
  };
  int links = 0;
  while (!todo.empty()) {
    std::string c = todo.front();
    todo.pop_front();
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (!resolved.empty()) resolved.pop_back();
      continue;
    }
    std::string path = joined(c);  // every component before it is a real directory: no link is followed here
    struct stat st{};
    if (::fstatat(rootfd.get(), path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) start_error(125, "mount target " + target + ": " + std::strerror(errno));
      if (todo.empty() && !directory) {
        int fd = ::openat(rootfd.get(), path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) start_error(125, "create mount target " + target + ": " + std::strerror(errno));
        ::close(fd);
      } else if (::mkdirat(rootfd.get(), path.c_str(), 0755) != 0) {
        start_error(125, "create mount target " + target + ": " + std::strerror(errno));
      }
      resolved.push_back(c);
      continue;
    }
    if (S_ISLNK(st.st_mode)) {
      if (++links > 40) start_error(125, "mount target " + target + ": too many levels of symbolic links");
      char buf[4096];
      ssize_t n = ::readlinkat(rootfd.get(), path.c_str(), buf, sizeof buf - 1);
      if (n < 0) start_error(125, "mount target " + target + ": " + std::strerror(errno));
      std::string link(buf, static_cast<std::size_t>(n));
      if (!link.empty() && link.front() == '/') resolved.clear();
      std::vector<std::string> parts;
      for (const auto& part : fs::path(link).relative_path()) parts.push_back(part.string());
      todo.insert(todo.begin(), parts.begin(), parts.end());
      continue;
    }
    if (!todo.empty() && !S_ISDIR(st.st_mode)) start_error(125, "mount target " + target + ": not a directory");
    resolved.push_back(c);
  }
  struct open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS;
  std::string final_path = joined("");
  UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, rootfd.get(), final_path.c_str(), &how, sizeof how)));
  if (!fd) start_error(125, "mount target " + target + ": " + std::strerror(errno));
  return fd;
}

void mount_volumes(const json& cfg, const fs::path& root) {
  for (const auto& m : cfg["mounts"]) {
    std::string type = m["type"], target = m["target"], source = m.value("source", "");
    UniqueFd fd = open_target_in_root(root, target, m.value("directory", true));
    std::string where = "/proc/self/fd/" + std::to_string(fd.get());
    if (type == "tmpfs") {
      std::string opts = m.value("options", "");
      check(::mount("tmpfs", where.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.empty() ? "mode=1777" : opts.c_str()),
            "mount tmpfs on " + target);
    } else {
      check(::mount(source.c_str(), where.c_str(), nullptr, MS_BIND | MS_REC, nullptr), "bind " + source + " on " + target);
    }
    if (m.value("readonly", false)) {
      // Read-only is a property of the new mount: reach it through a fresh lookup of the target.
      UniqueFd mounted = open_target_in_root(root, target, m.value("directory", true));
      std::string again = "/proc/self/fd/" + std::to_string(mounted.get());
      check(::mount(nullptr, again.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, nullptr),
            "make " + target + " read-only");
    }
  }
}

void mount_rootfs(const json& cfg) {
  // Nothing mounted from here on propagates back to the host.
  check(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "make / private");
  std::string lowers;
  for (const auto& l : cfg["lowers"]) lowers += (lowers.empty() ? "" : ":") + l.get<std::string>();
  std::string opts = "lowerdir=" + lowers + ",upperdir=" + cfg["upper"].get<std::string>() +
                     ",workdir=" + cfg["work"].get<std::string>();
  // The kernel takes one page of options; lowers are relative to the layer store to fit deep images.
  if (opts.size() >= 4096) start_error(125, "image has too many layers for one overlay mount");
  std::string layers_dir = cfg["layers_dir"];
  check(::chdir(layers_dir.c_str()), "chdir " + layers_dir);
  fs::path root = cfg["merged"].get<std::string>();
  check(::mount("overlay", root.c_str(), "overlay", 0, opts.c_str()), "mount overlay rootfs");

  ensure_dir(root / "proc", 0555);
  check(::mount("proc", (root / "proc").c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr), "mount /proc");
  ensure_dir(root / "sys", 0555);
  check(::mount("sysfs", (root / "sys").c_str(), "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr),
        "mount /sys");
  fs::path dev = root / "dev";
  ensure_dir(dev);
  check(::mount("tmpfs", dev.c_str(), "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"), "mount /dev");
  struct Node {
    const char* name;
    unsigned major, minor;
  };
  for (const Node& n : {Node{"null", 1, 3}, Node{"zero", 1, 5}, Node{"full", 1, 7}, Node{"random", 1, 8},
                        Node{"urandom", 1, 9}, Node{"tty", 5, 0}}) {
    fs::path p = dev / n.name;
    check(::mknod(p.c_str(), S_IFCHR | 0666, makedev(n.major, n.minor)), std::string("mknod /dev/") + n.name);
    check(::chmod(p.c_str(), 0666), std::string("chmod /dev/") + n.name);
  }
  ensure_dir(dev / "pts");
  check(::mount("devpts", (dev / "pts").c_str(), "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"),
        "mount /dev/pts");
  check(::symlink("pts/ptmx", (dev / "ptmx").c_str()), "symlink /dev/ptmx");
  ensure_dir(dev / "shm", 01777);
  check(::mount("shm", (dev / "shm").c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k"), "mount /dev/shm");
  ensure_dir(dev / "mqueue");
  check(::mount("mqueue", (dev / "mqueue").c_str(), "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr), "mount /dev/mqueue");
  check(::symlink("/proc/self/fd", (dev / "fd").c_str()), "symlink /dev/fd");
  check(::symlink("/proc/self/fd/0", (dev / "stdin").c_str()), "symlink /dev/stdin");
  check(::symlink("/proc/self/fd/1", (dev / "stdout").c_str()), "symlink /dev/stdout");
  check(::symlink("/proc/self/fd/2", (dev / "stderr").c_str()), "symlink /dev/stderr");

  ensure_dir(root / "etc");
  for (auto& [name, source] : cfg["files"].items()) {
    fs::path target = root / "etc" / name;
    struct stat st{};
    if (::lstat(target.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) ::unlink(target.c_str());  // e.g. resolv.conf -> ../run/...
    ensure_file(target);
    check(::mount(source.get<std::string>().c_str(), target.c_str(), nullptr, MS_BIND, nullptr), "bind /etc/" + name);
  }

  mount_volumes(cfg, root);
  if (cfg.value("read_only", false))
    check(::mount(nullptr, root.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr), "make the rootfs read-only");

  // pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the container's.
  check(::chdir(root.c_str()), "chdir rootfs");
  check(static_cast<int>(::syscall(SYS_pivot_root, ".", ".")), "pivot_root");
  check(::umount2(".", MNT_DETACH), "detach old root");
  check(::chdir("/"), "chdir /");
}

// --init: this process stays PID 1, a minimal init: the command runs as its child; every orphan that
// the kernel hands to PID 1 is reaped, signals are passed on to the command, and the command's status
// becomes the container's (128+N for signal N, which PID 1 could not die of itself).
[[noreturn]] void run_as_init(int sync_fd, const std::string& program, std::vector<char*>& args, std::vector<char*>& envp) {
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t child = ::fork();
  if (child < 0) start_error(125, std::string("init: fork: ") + std::strerror(errno));
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, nullptr);
    ::execve(program.c_str(), args.data(), envp.data());
    ::_exit(errno == ENOENT ? 127 : 126);
  }
  ::close(sync_fd);  // "started": the parent reads EOF, as after an exec
  int status = 0;
  for (;;) {
    siginfo_t info{};
    int sig = ::sigwaitinfo(&all, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      ::kill(child, sig);
      continue;
    }
    int st = 0;
    pid_t reaped;
    while ((reaped = ::waitpid(-1, &st, WNOHANG)) > 0) {
      if (reaped == child) {
        status = st;
        ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
      }
    }
  }
}

}  // namespace

[[noreturn]] void launch_in_container(LaunchSpec spec, int report_fd) {
  if (spec.argv.empty()) start_error(125, "no command specified");
  UserIds ids = resolve_user(spec.user);
  if (env_value(spec.env, "HOME").empty()) spec.env.push_back("HOME=" + ids.home);
  std::string workdir = spec.workdir.empty() ? "/" : spec.workdir;
  if (spec.create_workdir) {
    std::error_code ec;
    fs::create_directories(workdir, ec);
  }
  if (::chdir(workdir.c_str()) != 0)
    start_error(126, "chdir to cwd (\"" + workdir + "\") set in config.json failed: " + std::strerror(errno));
  if (spec.tty) {
    UniqueFd master = open_container_tty(spec.tty_size, ids.uid);
    send_message(report_fd, kTtyReady, master.get());
  }
  if (::setgroups(ids.groups.size(), ids.groups.data()) != 0 || ::setgid(ids.gid) != 0 || ::setuid(ids.uid) != 0)
    start_error(125, "set user " + spec.user + ": " + std::strerror(errno));
  std::string program = find_executable(spec.argv[0], env_value(spec.env, "PATH"));
  std::vector<char*> args, envp;
  for (auto& a : spec.argv) args.push_back(a.data());
  args.push_back(nullptr);
  for (auto& e : spec.env) envp.push_back(e.data());
  envp.push_back(nullptr);
  if (spec.init) run_as_init(report_fd, program, args, envp);  // never returns
  ::execve(program.c_str(), args.data(), envp.data());
  int err = errno;
  const std::string what = "exec: \"" + spec.argv[0] + "\": ";
  if (err == EACCES) start_error(126, what + "permission denied");
  if (err == ENOEXEC) start_error(126, what + "exec format error");
  if (err == ENOENT) start_error(127, what + "no such file or directory");
  start_error(126, what + std::strerror(err));
}

int child_mode_main(int sync_fd) {
  ::fcntl(sync_fd, F_SETFD, FD_CLOEXEC);  // a successful exec closes it: that is the parent's "started"
  try {
    std::string msg = receive_message(sync_fd);
    if (msg.empty()) return 125;  // the parent went away
    json cfg = json::parse(msg);
    // Now in its cgroup: a cgroup namespace rooted there hides the host's hierarchy.
    check(::unshare(CLONE_NEWCGROUP), "unshare cgroup namespace");
    if (cfg.value("loopback_up", false)) set_link_up_ioctl("lo");  // --network none: lo only, but up
    mount_rootfs(cfg);
    std::string hostname = cfg["hostname"];
    check(::sethostname(hostname.data(), hostname.size()), "sethostname");
    // Nothing of ours may leak into the user's process.
    ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
    ::fcntl(sync_fd, F_SETFD, FD_CLOEXEC);
    LaunchSpec spec{.argv = cfg["argv"].get<std::vector<std::string>>(),
                    .env = cfg["env"].get<std::vector<std::string>>(),
                    .user = cfg["user"].get<std::string>(),
                    .workdir = cfg["workdir"].get<std::string>(),
                    .create_workdir = true,  // Docker creates a missing working directory for run
                    .tty = cfg.contains("tty"),
                    .init = cfg.value("init", false)};
    if (spec.tty && cfg["tty"].contains("rows"))
      spec.tty_size = winsize{cfg["tty"]["rows"].get<unsigned short>(), cfg["tty"]["cols"].get<unsigned short>(), 0, 0};
    launch_in_container(std::move(spec), sync_fd);
  } catch (const Error& e) {
    int code = e.exit_code() == 1 ? 125 : e.exit_code();  // anything unplanned is the runtime's failure
    std::string reply = json{{"code", code}, {"error", e.what()}}.dump();
    ::send(sync_fd, reply.data(), reply.size(), MSG_NOSIGNAL);
    return code;
  } catch (const std::exception& e) {
    std::string reply = json{{"code", 125}, {"error", e.what()}}.dump();
    ::send(sync_fd, reply.data(), reply.size(), MSG_NOSIGNAL);
    return 125;
  }
}

}  // namespace cppcker
