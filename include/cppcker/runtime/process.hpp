#pragma once
// The runtime core: executes an OCI runtime spec. The parent (a foreground `run`, a detached container's
// monitor) clones a child into the spec's namespaces; the child re-executes /proc/self/exe as the hidden
// stage `child-mode`, which receives the spec as one typed message once it is in its cgroup, builds the
// container's filesystem (rootfs.hpp), enters its user namespace, confines itself and execs the process.
// A failure before the exec comes back as one typed reply {stage, errno, message, exit code}.
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cppcker/cgroup/cgroup.hpp"
#include "cppcker/oci/runtime_spec.hpp"
#include "cppcker/runtime/protocol.hpp"
#include "cppcker/util/child.hpp"
#include "cppcker/util/fd.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

// The container's standard streams: descriptors the caller made for it (pipes), never the caller's own
// stdio. Ignored with spec.process.terminal: the container's stdio is then its own terminal.
struct StdioFds {
  int in = -1, out = -1, err = -1;  // -1: stdin is the container's /dev/null; stdout/err likewise
};

// While alive, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 (and SIGWINCH when asked) sent to
// this process are passed on to `pid`, as `docker run` proxies signals.
class SignalForwarder {
 public:
  SignalForwarder(pid_t pid, bool include_winch);
  ~SignalForwarder();
  SignalForwarder(const SignalForwarder&) = delete;
  SignalForwarder& operator=(const SignalForwarder&) = delete;

 private:
  static constexpr int kSignals[7] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
  int count_;
  struct sigaction old_[7]{};
};

// What the core needs beyond the spec.
struct LaunchOptions {
  CgroupPlacement cgroup;                // the container's cgroup, and its parents removed with it
  std::optional<OverlayRootfs> overlay;  // cppcker's image rootfs (none: spec.root.path is a directory)
  bool init = false;                     // --init
  bool create_cwd = false;               // Docker's `run` creates a missing working directory
  bool loopback_up = false;              // bring `lo` up in a new network namespace
  StdioFds stdio;
  fs::path seccomp_cache;                // where compiled seccomp programs are kept
  // Runs once the child is in its cgroup and has the spec, while it builds the container's filesystem;
  // its process starts only after this returns (setup-veth finishes here).
  std::function<void()> before_release;
  bool docker_user = true;  // process.user.username is Docker's -u (false: the spec's numeric ids as given)

  // A bundle container (runtime/bundle.hpp): release() returns once the stage reports "created", and the
  // process waits at the exec fifo whose read end is `exec_fifo`; all of linux.resources is applied.
  bool bundle = false;
  UniqueFd exec_fifo;
  unsigned preserve_fds = 0;
  bool no_pivot = false;
  bool no_new_keyring = false;
  oci::State hook_state;  // for the hooks run inside (createContainer, startContainer)
  // Runs prestart and createRuntime hooks when the stage reaches them (the child's pid); unset: none.
  std::function<void(pid_t)> runtime_hooks;
};

// How the child-mode stage is started: with `preserve_fds` of the caller's descriptors (3..) passed on, and
// whether it dies with its parent (a bundle container outlives `create`).
struct SpawnMode {
  unsigned preserve_fds = 0;
  bool outlive_parent = false;
};

class ContainerProcess {
 public:
  // A start in two halves, so that the caller's own preparations (the spec, network, files, volumes) run
  // while the child execs its stage. spawn() clones the child into the spec's new namespaces (one to be
  // joined by path is joined in the stage; the same list as the spec's) and lets it exec child-mode,
  // where it waits. release() makes the user
  // namespace and the cgroup, puts the child in, sends it the spec and returns once the process has been
  // exec'd. Throws Error with Docker's exit code (125/126/127); nothing either made is left behind then
  // (the child is killed and reaped, the cgroup removed).
  static ContainerProcess spawn(const std::vector<oci::Namespace>& namespaces, const StdioFds& stdio,
                                SpawnMode mode = {});
  void release(const oci::Spec& spec, LaunchOptions options);
  // A container's process that this process is the parent of but did not start (monitor-wait keeps it
  // unreaped across its exec into `monitor`), in its cgroup `cgroup`: owned as if started here.
  static ContainerProcess adopt(pid_t pid, const CgroupPlacement& cgroup);
  pid_t pid() const { return child_.pid(); }
  int pidfd() const { return child_.pidfd(); }
  // The master of the container's terminal (spec.process.terminal), else -1.
  int tty_master() const { return tty_master_.get(); }
  void close_tty_master() { tty_master_.reset(); }

  struct Exit {
    int code = 0;  // Docker's: the exit code, or 128+N for signal N
    bool oom_killed = false;
  };
  // Waits for the process to end, then removes the cgroup (killing what is left in it) and its owned
  // parents that are empty then.
  Exit wait();
  // A bundle container after its start: returns once the process has been exec'd (its report socket
  // closed); throws Error with the stage's failure (the exit code 125/126/127) otherwise.
  void await_exec();
  // The process and its cgroup live on unowned: nothing is killed or removed when this object goes.
  void detach();
  // Descriptors that live as long as the container's process (the published ports' host sockets): closed
  // by wait() once it has ended, or with this object.
  void hold(std::vector<UniqueFd> fds) {
    for (auto& fd : fds) held_.push_back(std::move(fd));
  }
  // Those descriptors, for a monitor that passes them on across its exec.
  std::vector<int> held() const {
    std::vector<int> fds;
    for (const auto& fd : held_) fds.push_back(fd.get());
    return fds;
  }

 private:
  // Destroyed in reverse: the child is killed and reaped before its cgroup is removed.
  std::unique_ptr<Cgroup> cgroup_;
  CgroupPaths cgroup_owned_tops_;
  OwnedChild child_;
  UniqueFd sync_;  // the socket to the child-mode stage until the process is exec'd
  UniqueFd tty_master_;
  std::vector<UniqueFd> held_;
};

// Inside the container (after pivot_root): a user spec ("name", "uid", "name:group", "uid:gid") resolved
// in the container's /etc/passwd and /etc/group. Throws StageError (125) for an unknown name.
struct UserIds {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::string home = "/";
};
UserIds resolve_user(const std::string& spec);

// The last steps inside the container, shared by `run`'s child-mode and `exec`. confine_process: every
// descriptor but 0-2, the preserved ones and the report socket (it closes at the exec) closed, the user
// (from process.user.username when docker_user: HOME from its passwd entry, and Docker's rule that a
// non-root user has empty effective and permitted capability sets), rlimits, umask, the working directory
// (resolved inside the root, never through a magic link), a new session, the user switch, the capability
// sets, no_new_privs and the seccomp program (report_fd may be any descriptor above the preserved ones).
// exec_confined: the terminal (its master sent over the report socket), then execve of the program (or of
// cppcker's init). `exec` confines its helper before it forks the process into the container's pid
// namespace, so nothing there ever holds the runtime's privileges.
// Both throw StageError with Docker's codes: 125 runtime, 126 cannot invoke, 127 not found.
struct LaunchContext {
  const std::string& seccomp_program;
  const std::vector<std::string>& seccomp_flags;
  bool create_cwd = false;
  bool init = false;
  bool stdin_null = false;
  bool docker_user = false;  // process.user.username is Docker's -u ("" = root), resolved in /etc/passwd
  std::vector<int> keep_fds;  // close-on-exec descriptors left open (exec's cgroup.procs, written after the fork)
  unsigned preserve_fds = 0;  // 3..3+N-1 stay open across the exec (runc's --preserve-fds)
  // Runs last before the seccomp filter and the final capability sets (a bundle container's wait for
  // `start` and its startContainer hooks).
  std::function<void(struct ConfinedProcess&)> before_seccomp;
};
struct ConfinedProcess {
  std::string program;  // resolved in the container's PATH
  std::vector<std::string> argv, env;
  std::string shown;    // the command as the user gave it, for messages
  bool terminal = false;
  std::optional<winsize> size;
  uid_t uid = 0;
  UniqueFd init;        // cppcker-init's sealed memfd with --init
};
ConfinedProcess confine_process(oci::Process process, const LaunchContext& context, int report_fd);
[[noreturn]] void exec_confined(ConfinedProcess process, int report_fd);
// Whether the other end of a socket is gone.
bool peer_gone(int fd);

// The program to exec: a name with '/' as it is, else the first executable match in `path_env`.
// Throws StageError with Docker's codes: 127 not found, 126 not executable.
std::string find_executable(const std::string& name, const std::string& path_env);
std::string env_value(const std::vector<std::string>& env, const std::string& key);

// The hidden stage, run as "cppcker child-mode <fd> [<preserved fds>]". Never returns on success.
int child_mode_main(int sync_fd, unsigned preserve_fds = 0);

// Docker's exit status for a wait status: the code, or 128+N for a signal.
int exit_status(int wait_status);

}  // namespace cppcker
