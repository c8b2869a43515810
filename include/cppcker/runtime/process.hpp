#pragma once
// Starting a container's first process. The parent (the `run` process, or a detached container's
// monitor) clones a child into new pid/mount/uts/ipc(/net) namespaces; the child re-executes
// /proc/self/exe as the hidden stage `child-mode`, which waits for its configuration over a socket
// (sent once the parent has put it into its cgroup), builds the rootfs, pivots into it and execs the
// command. Failures before the exec come back over the socket as data, with Docker's exit codes.
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "cppcker/runtime/container.hpp"
#include "cppcker/network/network.hpp"
#include "cppcker/storage/store.hpp"

namespace cppcker {

struct StdioFds {
  int in = 0, out = 1, err = 2;  // ignored with `tty`: the container's stdio is then its terminal
  bool tty = false;
  std::optional<winsize> tty_size;
};

// The child's message that its terminal is ready, sent with the pty's master attached.
inline constexpr const char* kTtyReady = R"({"tty":"ready"})";

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

class ContainerProcess {
 public:
  // Sets up the network, creates the cgroup, starts the child and returns once the command has been
  // exec'd. Records "running" with pid and start time. Throws Error (exit code 125/126/127) if the
  // start fails; the cgroup and the network are removed again then.
  static ContainerProcess start(const ImageStore& images, const ContainerStore& containers,
                                const NetworkStore& networks, Container& c, const StdioFds& stdio);
  pid_t pid() const { return pid_; }
  // The master of the container's terminal (with StdioFds::tty), else -1.
  int tty_master() const { return tty_master_.get(); }
  // Waits for the command to end. Records exit code, OOM and finish time; removes the cgroup and the
  // network. Returns the exit code (128+N for signal N).
  int wait(const ContainerStore& containers, const NetworkStore& networks, Container& c);

 private:
  pid_t pid_ = -1;
  UniqueFd tty_master_;
  std::unique_ptr<Cgroup> cgroup_;
};

// Inside the container (after pivot_root): a user spec ("name", "uid", "name:group", "uid:gid") resolved
// in the container's /etc/passwd and /etc/group. Throws Error (125) for an unknown name.
struct UserIds {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::string home = "/";
};
UserIds resolve_user(const std::string& spec);
// The last step inside the container, shared by `run`'s child-mode and `exec`: resolve the user (HOME
// from its passwd entry unless env has one), enter the working directory ("" = "/"), open the terminal
// when asked and send its master over `report_fd`, drop to the user, find the program and exec it (under
// cppcker's init with `init`). Throws Error with Docker's codes: 125 runtime, 126 cannot invoke, 127 not found.
struct LaunchSpec {
  std::vector<std::string> argv, env;
  std::string user, workdir;
  bool create_workdir = false;
  bool tty = false;
  std::optional<winsize> tty_size;
  bool init = false;
};
[[noreturn]] void launch_in_container(LaunchSpec spec, int report_fd);

// The program to exec: a name with '/' as it is, else the first executable match in `path_env`.
// Throws Error with Docker's codes: 127 not found, 126 not executable.
std::string find_executable(const std::string& name, const std::string& path_env);
std::string env_value(const std::vector<std::string>& env, const std::string& key);

// The hidden stage, run as "cppcker child-mode <fd>". Never returns on success.
int child_mode_main(int sync_fd);

// Docker's exit status for a wait status: the code, or 128+N for a signal.
int exit_status(int wait_status);

}  // namespace cppcker
