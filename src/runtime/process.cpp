#include "cppcker/runtime/process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <linux/close_range.h>
#include <linux/keyctl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <sstream>

#include "cppcker/network/netlink.hpp"
#include "cppcker/runtime/bundle.hpp"
#include "cppcker/runtime/init.hpp"
#include "cppcker/runtime/rootfs.hpp"
#include "cppcker/runtime/spec.hpp"
#include "cppcker/runtime/tty.hpp"
#include "cppcker/security/capabilities.hpp"
#include "cppcker/security/seccomp.hpp"
#include "cppcker/security/userns.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/prefault.hpp"
#include "cppcker/util/timing.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker {

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

// The clone flags for the namespaces the spec asks to be made (those with a path are joined instead).
unsigned long clone_flags(const std::vector<oci::Namespace>& namespaces) {
  static const std::pair<const char*, unsigned long> kinds[] = {
      {"pid", CLONE_NEWPID}, {"mount", CLONE_NEWNS}, {"uts", CLONE_NEWUTS}, {"ipc", CLONE_NEWIPC}, {"network", CLONE_NEWNET}};
  unsigned long flags = 0;
  for (const auto& ns : namespaces)
    for (const auto& [type, flag] : kinds)
      if (ns.type == type && ns.path.empty()) flags |= flag;
  return flags;
}

// The container's user namespace: the spec's mappings in a new one, or the one at its path.
UniqueFd user_namespace(const oci::Linux& l) {
  const oci::Namespace* ns = l.find_namespace("user");
  if (!ns) return {};
  if (!ns->path.empty()) {
    UniqueFd fd(::open(ns->path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("open user namespace " + ns->path);
    return fd;
  }
  if (l.uid_mappings.size() != 1 || l.gid_mappings.size() != 1 || l.uid_mappings[0].container_id != 0 ||
      l.gid_mappings[0].container_id != 0 || l.uid_mappings[0].size != l.gid_mappings[0].size)
    throw Error("a new user namespace needs one uid and one gid mapping of the same size, from container id 0", 125);
  if (!kernel_supports_idmapped_overlay())
    throw Error("user namespaces need idmapped mounts for the image's layers, which this kernel cannot do (Linux 5.19 or newer)", 125);
  return make_user_namespace({l.uid_mappings[0].host_id, l.gid_mappings[0].host_id, l.uid_mappings[0].size});
}

UniqueFd open_namespace(const oci::Linux& l, const char* type) {
  const oci::Namespace* ns = l.find_namespace(type);
  if (!ns || ns->path.empty()) return {};
  UniqueFd fd(::open(ns->path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw Error("cannot join the " + std::string(type) + " namespace " + ns->path + ": " + std::strerror(errno), 125);
  return fd;
}

}  // namespace

namespace {

// What the cloned child needs until its exec, prepared by the parent: the child shares the parent's
// memory until then (vfork), so it must not allocate or touch anything else.
struct SpawnArgs {
  int fds[3];
  int sync_fd;
  bool outlive_parent;
  const char* argv[5];
};

int exec_child_mode(void* arg) {
  const auto* a = static_cast<const SpawnArgs*>(arg);
  // The container never outlives the process that started it (but a bundle container outlives `create`).
  if (!a->outlive_parent) ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The container's streams are what the caller made for it; unset ones become its own /dev/null later.
  for (int target = 0; target < 3; ++target)
    if (a->fds[target] >= 0 && a->fds[target] != target) ::dup2(a->fds[target], target);
  ::fcntl(a->sync_fd, F_SETFD, 0);  // the socket survives the exec (this child's own descriptor table)
  ::execv("/proc/self/exe", const_cast<char* const*>(a->argv));
  ::_exit(125);
}

}  // namespace

ContainerProcess ContainerProcess::spawn(const std::vector<oci::Namespace>& namespaces, const StdioFds& stdio,
                                         SpawnMode mode) {
  for (const auto& ns : namespaces)
    if (ns.type == "mount" && !ns.path.empty())
      throw Error("joining an existing mount namespace (linux.namespaces mount path) is not supported by cppcker", 125);
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair");
  UniqueFd parent_end(sv[0]), child_end(sv[1]);
  const std::string fd_arg = std::to_string(child_end.get());
  const std::string preserve_arg = std::to_string(mode.preserve_fds);
  SpawnArgs args{{stdio.in, stdio.out, stdio.err},
                 child_end.get(),
                 mode.outlive_parent,
                 {"cppcker", "child-mode", fd_arg.c_str(), preserve_arg.c_str(), nullptr}};
  // A pid namespace given by path is entered at the clone: this process's children are born in it
  // (setns on a pid namespace changes only that), and this process's own view is restored after.
  UniqueFd own_pidns, join_pidns;
  for (const auto& ns : namespaces)
    if (ns.type == "pid" && !ns.path.empty()) {
      own_pidns.reset(::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
      join_pidns.reset(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!own_pidns || !join_pidns) throw Error("cannot join the pid namespace " + ns.path + ": " + std::strerror(errno), 125);
      if (::setns(join_pidns.get(), CLONE_NEWPID) != 0)
        throw Error("cannot join the pid namespace " + ns.path + ": " + std::strerror(errno), 125);
    }
  struct RestorePidns {
    int fd;
    ~RestorePidns() {
      if (fd >= 0) ::setns(fd, CLONE_NEWPID);
    }
  } restore{own_pidns.get()};
  // vfork semantics with new namespaces: no copy of this process's page tables (the child execs at
  // once), and this process goes on as soon as the exec has begun. The stage waits for the spec, so
  // nothing of the user's runs before release().
  constexpr std::size_t kStack = 64 * 1024;
  auto stack = std::make_unique_for_overwrite<char[]>(kStack);
  timing_mark("clone");  // before: the child may exec and mark before this process runs again
  pid_t pid = ::clone(exec_child_mode, stack.get() + kStack, static_cast<int>(clone_flags(namespaces)) | CLONE_VM | CLONE_VFORK | SIGCHLD,
                      &args);
  if (pid < 0) throw SystemError("clone", errno);
  ContainerProcess proc;
  proc.child_ = OwnedChild(pid);
  proc.sync_ = std::move(parent_end);
  return proc;
}

ContainerProcess ContainerProcess::adopt(pid_t pid, const CgroupPlacement& cgroup) {
  ContainerProcess proc;
  proc.cgroup_ = make_cgroup(cgroup.paths);
  proc.cgroup_owned_tops_ = cgroup.owned_tops;
  proc.child_ = OwnedChild(pid);
  return proc;
}

void ContainerProcess::release(const oci::Spec& spec, LaunchOptions options) {
  const bool tty = spec.process.terminal;
  StartRequest request;
  request.spec = spec;
  if (spec.linux.seccomp) {
    request.seccomp_program = seccomp_program(*spec.linux.seccomp, options.seccomp_cache);
    request.spec.linux.seccomp->syscalls.clear();  // it travels compiled
    timing_mark("seccomp");
  }
  request.overlay = std::move(options.overlay);
  request.init = options.init;
  request.create_cwd = options.create_cwd;
  request.loopback_up = options.loopback_up;
  // A bundle container's stdio is what it inherited from the caller, as runc passes it on.
  request.stdin_null = !tty && options.stdio.in < 0 && !options.bundle;
  request.docker_user = options.docker_user;
  request.bundle = options.bundle;
  request.preserve_fds = options.preserve_fds;
  request.no_pivot = options.no_pivot;
  request.no_new_keyring = options.no_new_keyring;
  request.runtime_hooks = static_cast<bool>(options.runtime_hooks);
  request.hook_state = options.hook_state;
  request.hook_state.pid = child_.pid();
  // Descriptors the stage gets with the spec: the user namespace to enter, the network namespace to join,
  // the other namespaces given by path, the exec fifo.
  UniqueFd userns = user_namespace(spec.linux);
  UniqueFd netns = open_namespace(spec.linux, "network");
  std::vector<UniqueFd> joined;
  for (const char* type : {"ipc", "uts", "cgroup"})
    if (UniqueFd fd = open_namespace(spec.linux, type)) {
      request.joined_namespaces.push_back(type);
      joined.push_back(std::move(fd));
    }
  std::vector<int> fds;
  if ((request.has_userns_fd = static_cast<bool>(userns))) fds.push_back(userns.get());
  if ((request.has_netns_fd = static_cast<bool>(netns))) fds.push_back(netns.get());
  for (const auto& fd : joined) fds.push_back(fd.get());
  if ((request.has_fifo_fd = static_cast<bool>(options.exec_fifo))) fds.push_back(options.exec_fifo.get());

  cgroup_ = make_cgroup(options.cgroup.paths);
  cgroup_owned_tops_ = std::move(options.cgroup.owned_tops);
  try {
    if (options.bundle) {
      // runc's semantics: every field of linux.resources, as given.
      cgroup_->create({});
      if (spec.linux.resources && !(*spec.linux.resources == oci::Resources{})) cgroup_->update(*spec.linux.resources);
    } else {
      cgroup_->create(limits_from_resources(spec.linux.resources.value_or(oci::Resources{})));
    }
  } catch (const Error& e) {
    throw Error(std::string("failed to create the container's cgroup: ") + e.what(), 125);
  }
  // In its cgroup before it runs anything of the user's. The stage builds the container's filesystem
  // while the network is finished here; the user's process waits for the go.
  cgroup_->add_process(child_.pid());
  timing_mark("cgroup");
  try {
    send_message(sync_.get(), encode(request), fds);
  } catch (const SystemError& e) {
    throw Error(std::string("container start failed: ") + e.what(), 125);
  }
  userns.reset();
  netns.reset();
  joined.clear();
  options.exec_fifo.reset();
  if (options.before_release) options.before_release();
  timing_mark("go");
  std::optional<SystemError> go_failed;
  try {
    send_message(sync_.get(), encode_go());
  } catch (const SystemError& e) {
    go_failed = e;  // the stage gave up meanwhile: its reply below says why
  }
  for (;;) {
    UniqueFd passed;
    std::optional<std::string> reply;
    try {
      reply = receive_message(sync_.get(), &passed);
    } catch (const Error& e) {
      throw Error(std::string("container start failed: ") + e.what(), 125);
    }
    if (!reply) break;  // EOF: the process was exec'd (or the stage died, which wait() will tell)
    StageReply r = decode_stage_reply(*reply);
    if (r.kind == StageReply::Kind::tty) {
      if (!passed) throw Error("container start failed: no terminal received", 125);
      tty_master_ = std::move(passed);
      continue;
    }
    if (r.kind == StageReply::Kind::hooks && options.runtime_hooks) {
      options.runtime_hooks(child_.pid());
      send_message(sync_.get(), encode_hooks_done());
      continue;
    }
    if (r.kind == StageReply::Kind::created && options.bundle) {
      if (go_failed) throw Error(std::string("container start failed: ") + go_failed->what(), 125);
      return;  // the socket stays open: await_exec() reads what happens after the start
    }
    if (r.kind != StageReply::Kind::error) throw Error("container start failed: unexpected reply from the container", 125);
    throw Error(r.message, r.exit_code);
  }
  if (options.bundle) {
    throw Error("container start failed: the child-mode stage exited (" + std::to_string(exit_status(child_.wait())) + ")", 125);
  }
  sync_.reset();
  timing_mark("started");
  if (go_failed) throw Error(std::string("container start failed: ") + go_failed->what(), 125);
  if (tty && !tty_master_) {
    // The stage ended without reporting: it died before it could say why.
    throw Error("container start failed: the child-mode stage exited (" + std::to_string(exit_status(child_.wait())) + ")", 125);
  }
}

void ContainerProcess::await_exec() {
  if (!sync_) return;
  UniqueFd sync = std::move(sync_);
  for (;;) {
    std::optional<std::string> reply;
    try {
      reply = receive_message(sync.get());
    } catch (const Error& e) {
      throw Error(std::string("container start failed: ") + e.what(), 125);
    }
    if (!reply) return;
    StageReply r = decode_stage_reply(*reply);
    if (r.kind == StageReply::Kind::error) throw Error(r.message, r.exit_code);
  }
}

void ContainerProcess::detach() {
  sync_.reset();
  tty_master_.reset();
  held_.clear();
  if (cgroup_) cgroup_->release();
  child_.release();
}

ContainerProcess::Exit ContainerProcess::wait() {
  Exit e;
  e.code = exit_status(child_.wait());
  timing_mark("exited");
  tty_master_.reset();
  held_.clear();  // the published ports are free again once the container has ended
  e.oom_killed = cgroup_->oom_killed();
  cgroup_->destroy(cgroup_owned_tops_);
  timing_mark("cgroup-removed");
  return e;
}

// ---------------------------------------------------------------- inside the container

namespace {

[[noreturn]] void user_error(int code, const std::string& message) { throw StageError("user", message, 0, code); }

std::vector<std::vector<std::string>> read_colon_file(const char* path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(read_file_if_exists(path).value_or(""));
  std::string line;
  while (std::getline(in, line)) rows.push_back(split(line, ':'));
  return rows;
}

bool all_digits(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

// A numeric uid or gid, refused outside 0..2^31-1 (as runc does) rather than wrapped onto root.
std::uint32_t id_number(const std::string& text, const char* what) {
  if (text.size() > 10 || std::stoull(text) > 0x7fffffffULL)
    throw StageError("user", std::string(what) + " " + text + " is out of range: uids and gids must be in range 0-2147483647");
  return static_cast<std::uint32_t>(std::stoull(text));
}

}  // namespace

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
      if (!all_digits(f[2]) || !all_digits(f[3])) continue;
      ids.uid = id_number(f[2], "uid");
      ids.gid = id_number(f[3], "gid");
      ids.home = f[5];
      user_name = f[0];
      found = true;
      break;
    }
  }
  if (!found) {
    if (!user.empty() && !all_digits(user)) user_error(125, "unable to find user " + user + ": no matching entries in passwd file");
    ids.uid = user.empty() ? 0 : id_number(user, "uid");
    ids.gid = ids.uid == 0 ? 0 : ids.uid;
  }
  if (!group.empty()) {
    bool group_found = false;
    for (const auto& f : groups)
      if (f.size() >= 3 && all_digits(f[2]) && (f[0] == group || (all_digits(group) && f[2] == group))) {
        ids.gid = id_number(f[2], "gid");
        group_found = true;
      }
    if (!group_found) {
      if (!all_digits(group)) user_error(125, "unable to find group " + group + ": no matching entries in group file");
      ids.gid = id_number(group, "gid");
    }
  }
  ids.groups.push_back(ids.gid);
  if (!user_name.empty())
    for (const auto& f : groups) {
      if (f.size() < 4) continue;
      std::istringstream members(f[3]);
      std::string m;
      while (std::getline(members, m, ','))
        if (m == user_name && all_digits(f[2])) ids.groups.push_back(id_number(f[2], "gid"));
    }
  return ids;
}

std::string env_value(const std::vector<std::string>& env, const std::string& key) {
  for (const auto& e : env)
    if (e.rfind(key + "=", 0) == 0) return e.substr(key.size() + 1);
  return "";
}

namespace {
[[noreturn]] void exec_error(int code, const std::string& message, int err = 0) {
  throw StageError("exec", message, err, code);
}
}  // namespace

// The program to exec: a name with a '/' as it is, else the first executable match in PATH.
std::string find_executable(const std::string& name, const std::string& path_env) {
  if (name.find('/') != std::string::npos) {
    struct stat st{};
    if (::stat(name.c_str(), &st) != 0)
      exec_error(127, "exec: \"" + name + "\": stat " + name + ": no such file or directory", errno);
    if (S_ISDIR(st.st_mode)) exec_error(126, "exec: \"" + name + "\": is a directory", EISDIR);
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
  if (denied) exec_error(126, "exec: \"" + name + "\": permission denied", EACCES);
  exec_error(127, "exec: \"" + name + "\": executable file not found in $PATH", ENOENT);
}

namespace {

int rlimit_resource(const std::string& type) {
  static const std::pair<const char*, int> names[] = {
      {"RLIMIT_AS", RLIMIT_AS},         {"RLIMIT_CORE", RLIMIT_CORE},       {"RLIMIT_CPU", RLIMIT_CPU},
      {"RLIMIT_DATA", RLIMIT_DATA},     {"RLIMIT_FSIZE", RLIMIT_FSIZE},     {"RLIMIT_LOCKS", RLIMIT_LOCKS},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
      {"RLIMIT_NOFILE", RLIMIT_NOFILE}, {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO}, {"RLIMIT_RTTIME", RLIMIT_RTTIME},   {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_STACK", RLIMIT_STACK}};
  for (const auto& [name, resource] : names)
    if (type == name) return resource;
  throw StageError("rlimits", "unknown rlimit " + type);
}

// Go's error texts start lower-case ("not a directory"), strerror's do not.
std::string lowercase_first(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

// The working directory, resolved inside the container's root (which is "/" now) without following
// magic links: a `-w /proc/self/fd/N` cannot reach a descriptor of the runtime's on the host.
void enter_working_directory(const std::string& cwd, bool create) {
  auto open_cwd = [&] {
    struct open_how how{};
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    return UniqueFd(static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, cwd.c_str(), &how, sizeof how)));
  };
  UniqueFd dir = open_cwd();
  if (!dir && errno == ENOENT && create) {
    try {
      open_target_in_root("/", cwd, /*directory=*/true);  // made as the image's links lead, inside the root
    } catch (const StageError&) {
      // Reported below as Docker words it.
    }
    dir = open_cwd();
  }
  // The user wrote -w (or the image's WorkingDir): the messages name it, not the spec file.
  if (!dir || ::fchdir(dir.get()) != 0) {
    const int err = errno;
    // Docker makes the directory for `run` before the start and words a file in the way so (exit 125).
    if (create && err == ENOTDIR) throw StageError("cwd", "Cannot mkdir: " + cwd + " is not a directory", err, 125);
    throw StageError("cwd", "chdir to the working directory \"" + cwd + "\" failed: " + lowercase_first(std::strerror(err)), err, 126);
  }
  char buf[4096];
  if (!::getcwd(buf, sizeof buf) || buf[0] != '/')
    throw StageError("cwd", "chdir to the working directory \"" + cwd + "\" failed: it lies outside the container", EPERM, 126);
}

}  // namespace

ConfinedProcess confine_process(oci::Process p, const LaunchContext& ctx, int report_fd) {
  if (p.args.empty()) throw StageError("exec", "no command specified");
  if (report_fd < 3 + static_cast<int>(ctx.preserve_fds))
    throw StageError("exec", "the report socket must lie above the preserved descriptors");
  // Only the streams, the preserved descriptors and the report socket cross into the container: nothing
  // the runtime or its caller held (CVE-2024-21626's shape) is reachable through /proc/self/fd, not even
  // before the exec. (`keep`: close-on-exec descriptors the caller still needs until then.)
  std::vector<int> keep = ctx.keep_fds;
  keep.push_back(report_fd);
  if (timing_fd() >= 0) keep.push_back(timing_fd());  // close-on-exec: a benchmark's, gone at the exec
  std::sort(keep.begin(), keep.end());
  unsigned from = 3 + ctx.preserve_fds;
  for (int fd : keep) {
    if (fd < static_cast<int>(from)) continue;
    if (fd > static_cast<int>(from) && ::syscall(SYS_close_range, from, static_cast<unsigned>(fd - 1), 0u) != 0)
      stage_failed("exec", "close inherited descriptors");
    from = static_cast<unsigned>(fd) + 1;
  }
  if (::syscall(SYS_close_range, from, ~0u, 0u) != 0) stage_failed("exec", "close inherited descriptors");
  ::fcntl(report_fd, F_SETFD, FD_CLOEXEC);  // closing at the exec is the parent's "started"
  if (ctx.stdin_null) {
    UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));  // the container's own
    if (!null || ::dup2(null.get(), 0) < 0) stage_failed("exec", "open /dev/null for stdin");
  }

  UserIds ids{p.user.uid, p.user.gid, {}, "/"};
  if (ctx.docker_user) {
    ids = resolve_user(p.user.username);
  } else {
    ids.groups.push_back(p.user.gid);
    for (auto g : p.user.additional_gids) ids.groups.push_back(g);
    for (const auto& f : read_colon_file("/etc/passwd"))
      if (f.size() >= 7 && all_digits(f[2]) && f[2].size() <= 10 && std::stoull(f[2]) == p.user.uid) ids.home = f[5];
  }
  if (env_value(p.env, "HOME").empty()) p.env.push_back("HOME=" + ids.home);

  for (const auto& r : p.rlimits) {
    rlimit limit{r.soft, r.hard};
    if (::setrlimit(rlimit_resource(r.type), &limit) != 0) stage_failed("rlimits", "set " + r.type);
  }
  ::umask(p.user.umask.value_or(022));
  enter_working_directory(p.cwd, ctx.create_cwd);
  // A session of its own and no controlling terminal: /dev/tty inside cannot reach the caller's
  // (TIOCSTI injection). With a terminal, the process that execs makes it its controlling one.
  if (::setsid() < 0 && errno != EPERM) stage_failed("exec", "setsid");
  if (p.oom_score_adj) {
    std::string value = std::to_string(*p.oom_score_adj);
    UniqueFd fd(::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC));
    if (!fd || ::write(fd.get(), value.data(), value.size()) < 0) stage_failed("oom_score_adj", "set oom_score_adj " + value);
  }

  // The user, keeping the capabilities until the container's own sets are applied below.
  CapabilityMasks caps = p.capabilities ? capability_masks(*p.capabilities) : CapabilityMasks{};
  if (ctx.docker_user && ids.uid != 0) caps.effective = caps.permitted = 0;  // Docker's rule for a non-root user
  stage_check(::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), "user", "keep capabilities across the user switch");
  if (::setgroups(ids.groups.size(), ids.groups.data()) != 0 || ::setresgid(ids.gid, ids.gid, ids.gid) != 0 ||
      ::setresuid(ids.uid, ids.uid, ids.uid) != 0)
    stage_failed("user", "set user " + (p.user.username.empty() ? std::to_string(ids.uid) : p.user.username));
  // Everything still permitted is effective again until the end: dropping from the bounding set needs
  // CAP_SETPCAP, installing a seccomp filter without no_new_privs needs CAP_SYS_ADMIN.
  try {
    apply_capability_sets({0, ~std::uint64_t{0}, ~std::uint64_t{0}, 0, 0});
    drop_bounding_set(caps.bounding);
  } catch (const SystemError& e) {
    throw StageError("capabilities", e.what(), e.sys_errno());
  }
  if (p.no_new_privileges) stage_check(::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privileges", "set no_new_privs");

  ConfinedProcess out;
  out.shown = p.args[0];
  out.program = find_executable(p.args[0], env_value(p.env, "PATH"));
  out.argv = p.args;
  if (ctx.init) {
    out.init = sealed_init_program();
    out.argv.insert(out.argv.begin(), {"cppcker-init", out.program});
  }
  out.env = std::move(p.env);
  out.terminal = p.terminal;
  if (p.console_size)
    out.size = winsize{static_cast<unsigned short>(p.console_size->height), static_cast<unsigned short>(p.console_size->width), 0, 0};
  out.uid = ids.uid;

  if (ctx.before_seccomp) ctx.before_seccomp(out);
  // Last of the confinement: the filter, then the container's capability sets.
  if (!ctx.seccomp_program.empty()) {
    try {
      install_seccomp_program(ctx.seccomp_program, ctx.seccomp_flags);
    } catch (const SystemError& e) {
      throw StageError("seccomp", std::string("install the seccomp filter: ") + e.what(), e.sys_errno());
    }
  }
  try {
    apply_capability_sets(caps);
  } catch (const SystemError& e) {
    throw StageError("capabilities", e.what(), e.sys_errno());
  }
  return out;
}

[[noreturn]] void exec_confined(ConfinedProcess p, int report_fd) {
  if (p.terminal) {
    UniqueFd master = open_container_tty(p.size, p.uid);
    send_message(report_fd, encode(StageReply{StageReply::Kind::tty, "tty", 0, "", 0}), master.get());
  }
  std::vector<char*> args, envp;
  for (auto& a : p.argv) args.push_back(a.data());
  args.push_back(nullptr);
  for (auto& e : p.env) envp.push_back(e.data());
  envp.push_back(nullptr);
  if (p.init) ::syscall(SYS_execveat, p.init.get(), "", args.data(), envp.data(), AT_EMPTY_PATH);
  else ::execve(p.program.c_str(), args.data(), envp.data());
  int err = errno;
  const std::string what = "exec: \"" + p.shown + "\": ";
  if (err == EACCES) exec_error(126, what + "permission denied", err);
  if (err == ENOEXEC) exec_error(126, what + "exec format error", err);
  if (err == ENOENT) exec_error(127, what + "no such file or directory", err);
  exec_error(126, what + std::strerror(err), err);
}

bool peer_gone(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

namespace {

// A bundle container's wait for `start`: the exec fifo's read end (opened non-blocking by the parent, so
// that its open never blocked) becomes readable once `start` has written to it.
void wait_for_start(int fifo) {
  pollfd p{fifo, POLLIN, 0};
  for (;;) {
    int n = ::poll(&p, 1, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) stage_failed("start", "wait at the exec fifo");
    char byte;
    ssize_t got = ::read(fifo, &byte, 1);
    if (got == 1) return;
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    throw StageError("start", "the exec fifo was closed without a start");
  }
}

void set_personality(const oci::Personality& p) {
  unsigned long persona = p.domain == "LINUX32" ? PER_LINUX32 : PER_LINUX;
  if (::personality(persona) < 0) stage_failed("personality", "personality " + p.domain);
}

}  // namespace

int child_mode_main(int sync_fd, unsigned preserve_fds) {
  const std::int64_t entered = monotonic_ns();
  // CVE-2019-5736: until its exec this process is the host's cppcker binary inside the container's
  // namespaces; non-dumpable, its /proc/<pid>/exe is out of reach of anything in the container.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  ::umask(022);
  // The socket just above the preserved descriptors (where confine_process keeps it), and nothing else
  // the caller may have leaked.
  const int report_fd = 3 + static_cast<int>(preserve_fds);
  if (sync_fd != report_fd) {
    if (::dup3(sync_fd, report_fd, O_CLOEXEC) < 0) return 125;
    ::close(sync_fd);
    sync_fd = report_fd;
  }
  ::syscall(SYS_close_range, static_cast<unsigned>(report_fd) + 1, ~0u, 0u);
  ::fcntl(sync_fd, F_SETFD, FD_CLOEXEC);  // a successful exec closes it: that is the parent's "started"
  timing_mark("child-mode", entered);
  prefault_heap(256 * 1024);  // decoding the spec and confining grow it to ~260 kB
  auto reply = [&](const StageReply& r) {
    try {
      send_message(sync_fd, encode(r));
    } catch (const Error&) {
      // The parent is gone; the exit code is all that is left.
    }
    return r.exit_code;
  };
  try {
    std::vector<UniqueFd> fds;
    std::optional<std::string> message = receive_message(sync_fd, &fds);
    if (!message) return 125;  // the parent went away
    StartRequest request = decode_start_request(*message);
    timing_mark("child-request");
    const oci::Spec& spec = request.spec;
    if (fds.size() != std::size_t{request.has_userns_fd} + std::size_t{request.has_netns_fd} +
                          request.joined_namespaces.size() + std::size_t{request.has_fifo_fd})
      throw StageError("child-mode", "the start message came with the wrong descriptors");
    std::size_t next_fd = 0;
    UniqueFd userns = request.has_userns_fd ? std::move(fds[next_fd++]) : UniqueFd();
    if (request.has_netns_fd) {
      // A namespace made (or chosen) while this stage was starting: joined first, with the host's rights.
      UniqueFd netns = std::move(fds[next_fd++]);
      stage_check(::setns(netns.get(), CLONE_NEWNET), "namespaces", "join the network namespace");
    }
    bool joined_cgroupns = false;
    for (const auto& type : request.joined_namespaces) {
      UniqueFd ns = std::move(fds[next_fd++]);
      const int flag = type == "ipc" ? CLONE_NEWIPC : type == "uts" ? CLONE_NEWUTS : CLONE_NEWCGROUP;
      stage_check(::setns(ns.get(), flag), "namespaces", "join the " + type + " namespace");
      joined_cgroupns = joined_cgroupns || flag == CLONE_NEWCGROUP;
    }
    UniqueFd exec_fifo = request.has_fifo_fd ? std::move(fds[next_fd++]) : UniqueFd();
    // Now in its cgroup: a cgroup namespace rooted there hides the host's hierarchy. A hierarchy it was
    // not put in (cpuset without --cpuset-cpus) stays at the host's root: that one is not mounted.
    // Without a cgroup namespace (a bundle may ask so) /sys/fs/cgroup shows the same directories, bound.
    std::vector<CgroupHierarchy> cgroups;
    const bool mounts_cgroupfs = std::any_of(spec.mounts.begin(), spec.mounts.end(), [](const oci::Mount& m) { return m.type == "cgroup"; });
    if (spec.linux.find_namespace("cgroup") || (request.bundle && mounts_cgroupfs)) {
      const std::string mine = read_file("/proc/self/cgroup");
      for (auto& h : cgroup_hierarchies())
        if (cgroup_path_in(mine, h.key) != "/") cgroups.push_back(std::move(h));
    }
    if (spec.linux.find_namespace("cgroup") && !joined_cgroupns)
      stage_check(::unshare(CLONE_NEWCGROUP), "namespaces", "unshare the cgroup namespace");
    // A session keyring of its own (as runc does): nothing of the host's keys is reachable through it.
    if (!request.no_new_keyring && ::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, nullptr) < 0 && errno != ENOSYS)
      stage_failed("keyring", "join a new session keyring");
    if (request.loopback_up) {
      try {
        set_link_up_ioctl("lo");
      } catch (const SystemError& e) {
        throw StageError("network", e.what(), e.sys_errno());
      }
    }
    bool got_go = false;
    oci::State hook_state = request.hook_state;
    hook_state.status = "creating";
    build_container_filesystem(request, userns.get(), cgroups, [&] {
      if (request.runtime_hooks) {
        // The parent's prestart and createRuntime hooks run now, in the runtime's namespaces.
        send_message(sync_fd, encode(StageReply{StageReply::Kind::hooks, "hooks", 0, "", 0}));
        for (;;) {
          std::optional<std::string> m = receive_message(sync_fd);
          if (!m) throw StageError("hooks", "cppcker went away while its hooks ran");
          if (is_go(*m)) {
            got_go = true;
            continue;
          }
          if (is_hooks_done(*m)) break;
          throw StageError("hooks", "expected the end of cppcker's hooks");
        }
      }
      // createContainer: in the container's namespaces, before pivot_root (the host's paths still resolve).
      try {
        run_hooks(spec.hooks.create_container, "createContainer", hook_state);
      } catch (const Error& e) {
        throw StageError("hooks", e.what());
      }
    });
    if (spec.linux.find_namespace("uts") && !spec.hostname.empty())
      stage_check(::sethostname(spec.hostname.data(), spec.hostname.size()), "hostname", "sethostname");
    if (userns) {
      // Last of all the namespaces, so that everything above was done with the host's privileges.
      stage_check(::setns(userns.get(), CLONE_NEWUSER), "namespaces", "enter the user namespace");
      if (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0) stage_failed("namespaces", "become the container's root");
      userns.reset();
    }
    // Everything above needed nothing more from outside; the user's process needs the go (its network).
    if (!got_go) {
      std::optional<std::string> go = receive_message(sync_fd);
      if (!go) return 125;  // the parent went away (or gave up on the start): nothing to report to
      if (!is_go(*go)) throw StageError("child-mode", "expected the go from cppcker");
    }
    timing_mark("child-go");
    if (spec.linux.personality) set_personality(*spec.linux.personality);
    static const std::vector<std::string> no_flags;
    LaunchContext context{request.seccomp_program, spec.linux.seccomp ? spec.linux.seccomp->flags : no_flags,
                          request.create_cwd, request.init, request.stdin_null, request.docker_user};
    context.preserve_fds = request.preserve_fds;
    if (request.bundle) {
      context.keep_fds.push_back(exec_fifo.get());
      context.before_seccomp = [&](ConfinedProcess& process) {
        if (process.terminal) {
          // The terminal before "created": the caller's console socket gets its master during create.
          UniqueFd master = open_container_tty(process.size, process.uid);
          send_message(sync_fd, encode(StageReply{StageReply::Kind::tty, "tty", 0, "", 0}), master.get());
          process.terminal = false;
        }
        send_message(sync_fd, encode(StageReply{StageReply::Kind::created, "created", 0, "", 0}));
        wait_for_start(exec_fifo.get());
        exec_fifo.reset();
        oci::State started = request.hook_state;
        started.status = "created";
        try {
          run_hooks(spec.hooks.start_container, "startContainer", started);
        } catch (const Error& e) {
          throw StageError("hooks", e.what());
        }
      };
    }
    ConfinedProcess process = confine_process(std::move(request.spec.process), context, sync_fd);
    if (!request.bundle) {
      // A credential change clears the parent-death signal: set again, and the parent checked still there.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (peer_gone(sync_fd)) return 125;
    }
    timing_mark("confined");
    exec_confined(std::move(process), sync_fd);
  } catch (const StageError& e) {
    return reply(e.reply());
  } catch (const SystemError& e) {
    return reply({StageReply::Kind::error, "child-mode", e.sys_errno(), e.what(), 125});
  } catch (const Error& e) {
    return reply({StageReply::Kind::error, "child-mode", 0, e.what(), e.exit_code() == 1 ? 125 : e.exit_code()});
  } catch (const std::exception& e) {
    return reply({StageReply::Kind::error, "child-mode", 0, e.what(), 125});
  }
}

}  // namespace cppcker
