#pragma once
// Containers run from an OCI bundle (a directory with config.json and a root filesystem) on the same core as
// `cppcker run` (process.hpp), as runc's command line asks of a runtime: `create` leaves the container's
// process waiting at an exec fifo, after every setup step and the prestart/createRuntime/createContainer
// hooks; `start` releases it (startContainer hooks run inside, then the user's program is exec'd). The
// runc-compatible front end (oci-cli/) keeps the state; this module only starts, releases and joins.
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "cppcker/cgroup/cgroup.hpp"
#include "cppcker/oci/runtime_spec.hpp"
#include "cppcker/runtime/process.hpp"
#include "cppcker/util/fd.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

struct BundleLaunch {
  std::string id;
  fs::path bundle;      // absolute
  oci::Spec spec;       // root.path absolute (resolved against the bundle)
  CgroupPaths cgroup;   // where the container's cgroup goes (the front end resolves linux.cgroupsPath)
  fs::path exec_fifo;   // made here (mode 0622); the process waits until `start` reads it
  fs::path seccomp_cache;
  std::string console_socket;  // with process.terminal: the terminal's master is sent there (SCM_RIGHTS)
  unsigned preserve_fds = 0;   // the caller's descriptors 3..3+N-1 reach the process as they are
  bool no_pivot = false;       // move the rootfs onto / instead of pivot_root (a rootfs on a ramfs)
  bool no_new_keyring = false; // keep the caller's session keyring
  bool foreground = false;     // `run` without --detach: the caller waits (PDEATHSIG kept, stdio relayed)
};

// The container's first process between create and its end, owned by the caller until detach().
class BundleContainer {
 public:
  // Returns once the process waits at the exec fifo (the spec's "created"). Throws Error with runc's
  // message; nothing made (process, cgroup, fifo) is left behind then.
  static BundleContainer create(BundleLaunch launch);
  pid_t pid() const { return process_.pid(); }
  int pidfd() const { return process_.pidfd(); }
  // The terminal's master when process.terminal and no console socket was given, else -1.
  int tty_master() const { return process_.tty_master(); }
  // `create`: the process and its cgroup outlive this object (the caller's subreaper reaps the process).
  void detach();
  // `run` in the foreground, after start_bundle_container: returns once the program has been exec'd; throws
  // Error with the stage's failure (e.g. 127: the program is not found) otherwise.
  void await_exec() { process_.await_exec(); }
  // `run` in the foreground: waits for the end, removes the cgroup. Exit code 128+N for signal N.
  ContainerProcess::Exit wait() { return process_.wait(); }

 private:
  ContainerProcess process_;
};

// `start`: releases the created container whose process waits at `exec_fifo` (and removes the
// fifo). Throws Error when the process is gone or not waiting.
void start_bundle_container(const fs::path& exec_fifo);

// `exec`: a new process in the running container whose first process is `target` (verified by its start
// time against a reused pid), with `process` as given (runc's semantics: user ids as numbers, nothing
// resolved in /etc/passwd), confined like the container's (seccomp, capabilities of `process`), in its
// cgroup. The new process is a child of the caller (so that the caller's subreaper inherits it with
// --detach). `started(pid)` runs once it has been exec'd (the pid file). Returns its exit status (128+N
// for a signal), or 0 with detach once it runs.
struct BundleExec {
  pid_t target = 0;
  std::uint64_t target_start = 0;  // /proc/<pid>/stat start time
  oci::Process process;
  std::optional<oci::Seccomp> seccomp;
  fs::path seccomp_cache;
  CgroupPaths cgroup;
  std::string console_socket;
  unsigned preserve_fds = 0;
  bool detach = false;
};
int exec_in_bundle_container(const BundleExec& exec, const std::function<void(pid_t)>& started);

// Runs `hooks` (one `phase` of spec.hooks: "prestart", "createRuntime", ...) in order, each with the state
// JSON on its stdin and its timeout. Throws Error "error running <phase> hook #N: ..." (with the hook's
// exit status and stderr) at the first that fails.
void run_hooks(const std::vector<oci::Hook>& hooks, const std::string& phase, const oci::State& state);

// Sends `fd` to the unix socket at `path` (runc's --console-socket protocol: one SCM_RIGHTS message
// whose data is the terminal's name). Throws SystemError.
void send_console(const std::string& socket_path, int fd);

}  // namespace cppcker
