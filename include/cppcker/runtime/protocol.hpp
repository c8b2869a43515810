#pragma once
// The messages between cppcker and its stages inside a container (child-mode, the exec helper): one typed
// request in (the OCI spec, or its process object for exec), one typed reply out. This module alone knows
// their encoding; a message may be larger than one socket datagram (SOCK_SEQPACKET): it is split into
// frames and put back together, and may carry one descriptor (SCM_RIGHTS).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cppcker/network/network.hpp"
#include "cppcker/oci/runtime_spec.hpp"
#include "cppcker/runtime/restart.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fd.hpp"

namespace cppcker {

// cppcker's own root filesystem: the image's layers and the container's upper layer as one overlay,
// mounted at spec.root.path inside the container's mount namespace (so the host never sees it).
struct OverlayRootfs {
  std::string layers_dir;           // the lower paths are relative to it (short mount options)
  std::vector<std::string> lowers;  // topmost first
  std::string upper, work;
  bool operator==(const OverlayRootfs&) const = default;
};

// Everything the child-mode stage needs to turn itself into the container's first process.
struct StartRequest {
  oci::Spec spec;                // linux.seccomp is empty: it travels compiled, in seccomp_program
  std::string seccomp_program;   // BPF (struct sock_filter[]), empty for none
  std::optional<OverlayRootfs> overlay;
  bool init = false;             // --init: cppcker's init runs the process and reaps orphans
  bool create_cwd = false;       // Docker creates a missing working directory for `run`
  bool stdin_null = false;       // stdin is the container's own /dev/null
  bool loopback_up = false;      // a new, empty network namespace: bring `lo` up
  bool docker_user = false;      // process.user.username is Docker's -u, resolved in the container
  // A bundle container (runc's semantics, runtime/bundle.hpp): once ready the stage reports "created"
  // and waits for `start` at the exec fifo (its read end comes with the message) before the
  // startContainer hooks and the exec; it outlives the process that created it.
  bool bundle = false;
  unsigned preserve_fds = 0;     // descriptors 3..3+N-1 reach the process (the report socket sits above)
  bool no_pivot = false;         // MS_MOVE the rootfs onto / and chroot instead of pivot_root
  bool no_new_keyring = false;
  bool runtime_hooks = false;    // stop before pivot_root so the parent runs prestart/createRuntime hooks
  oci::State hook_state;         // what createContainer/startContainer hooks read (pid: the host's)
  // Which descriptors come with the message, in this order: the user namespace to enter, the network
  // namespace to join (one made or chosen after the child was started), the namespaces of
  // `joined_namespaces` (ipc, uts, cgroup given by path), the exec fifo's read end.
  bool has_userns_fd = false;
  bool has_netns_fd = false;
  std::vector<std::string> joined_namespaces;
  bool has_fifo_fd = false;
  bool operator==(const StartRequest&) const = default;
};

// A process joining a running container (`exec`): its helper is a fork of cppcker, so this one travels
// in memory, not over a socket.
struct ExecRequest {
  oci::Process process;
  std::string seccomp_program;
  bool stdin_null = false;
  bool docker_user = false;
  bool operator==(const ExecRequest&) const = default;
};

// How a stage failed (or, with kind tty, that the terminal is ready and its master is attached; hooks:
// the parent may run its hooks now and answer with encode_hooks_done(); created: the bundle container
// waits at its exec fifo; pid: an exec'd process's pid in the caller's pid namespace).
struct StageReply {
  enum class Kind { error, tty, hooks, created, pid };
  Kind kind = Kind::error;
  std::string stage;    // "mount", "pivot_root", "capabilities", "exec", ...
  int error_number = 0; // errno, 0 when the failure was not a system call's
  std::string message;  // one line for the user
  int exit_code = 125;  // Docker's: 125 runtime, 126 cannot invoke, 127 not found
  int pid = 0;          // with kind pid
  bool operator==(const StageReply&) const = default;
};

// A failure inside a stage, as it travels back: which step, its errno, Docker's exit code.
class StageError : public Error {
 public:
  StageError(std::string stage, const std::string& message, int error_number = 0, int exit_code = 125)
      : Error(message, exit_code), stage_(std::move(stage)), errno_(error_number) {}
  const std::string& stage() const { return stage_; }
  int error_number() const { return errno_; }
  StageReply reply() const { return {StageReply::Kind::error, stage_, errno_, what(), exit_code()}; }

 private:
  std::string stage_;
  int errno_;
};
// Throws StageError for `stage` with "what: strerror(errno)" and the current errno (exit code 125).
[[noreturn]] void stage_failed(const char* stage, const std::string& what);
// Throws it for a non-zero `rc` (a syscall's result).
inline void stage_check(int rc, const char* stage, const std::string& what) {
  if (rc != 0) stage_failed(stage, what);
}

// The parent's word that the stage may go on to the user's process: everything the container needs
// from outside (its network) is there. Sent after the StartRequest, which the stage works on meanwhile.
std::string encode_go();
bool is_go(const std::string& bytes);
// The parent's word that its prestart/createRuntime hooks have run.
std::string encode_hooks_done();
bool is_hooks_done(const std::string& bytes);

// The container's monitor (runtime/monitor.hpp) goes on as stages of its own, exec'd from /proc/self/exe:
// `monitor-wait` only relays the running container's output to its log and waits for it to end, then
// execs `monitor`, which records the end and carries out the restart policy (the whole runtime). Each exec keeps the pid (the container stays this process's child,
// the record's monitor_pid/monitor_start stay true) and gets one of these, read from a pipe to its EOF.
// The descriptors named here are inherited across the exec; the stage marks them close-on-exec again.
struct MonitorRequest {
  enum class Step {
    restart,  // a foreground run's policy restarts it: take over as owner, wait the back-off, start
    wait,     // monitor-wait: relay the running container's output to the log until it ends
    ended,    // it ended (a child of this process, not reaped): record the end, then the policy
  };
  Step step = Step::restart;
  std::string container_id;
  std::string state_root, image_root, network_root;  // the stores' roots
  NetworkConfig network;
  int report_fd = -1;              // restart: EOF once this process is the owner
  int owner_fd = -1;               // the owner lock, held across the exec
  RestartProgress restart_progress;  // where the restart manager stands
  std::int64_t restart_in_ms = 0;  // restart: the wait before the restart
  // wait and ended:
  int pid = 0;                               // the container's process
  int tty_fd = -1, out_fd = -1, err_fd = -1;  // wait: its terminal's master, or its stdout and stderr pipes
  std::vector<int> held_fds;                 // wait: the published ports' sockets, closed once it ended
  std::string log_path;
  std::int64_t log_max_size = -1;
  int log_max_file = 1;
};
std::string encode(const MonitorRequest& r);
MonitorRequest decode_monitor_request(const std::string& bytes);
// A pipe that holds `bytes` (at most one pipe buffer) and is closed for writing: its read end, for a
// stage about to be exec'd (close-on-exec, which the exec'ing side clears). Throws SystemError, or Error
// when the message does not fit.
UniqueFd message_pipe(const std::string& bytes);
// All of it, up to EOF; closes `fd`. Throws SystemError.
std::string read_message_pipe(UniqueFd fd);

// Encoding (exposed for the unit tests).
std::string encode(const StartRequest& r);
std::string encode(const StageReply& r);
StartRequest decode_start_request(const std::string& bytes);
StageReply decode_stage_reply(const std::string& bytes);

// One message, split into datagrams of at most kFrameSize bytes; `fds` (up to kMaxFds) ride on the first.
inline constexpr std::size_t kFrameSize = 64 * 1024;
inline constexpr std::size_t kMaxFds = 8;
void send_message(int sock, const std::string& bytes, const std::vector<int>& fds = {});
inline void send_message(int sock, const std::string& bytes, int fd) {
  send_message(sock, bytes, fd >= 0 ? std::vector<int>{fd} : std::vector<int>{});
}
// One whole message; nullopt on EOF (the peer exec'd or died). Descriptors that came with it land in
// `passed` (close-on-exec), in the order they were sent. Throws SystemError, or Error for a malformed message.
std::optional<std::string> receive_message(int sock, std::vector<UniqueFd>* passed);
inline std::optional<std::string> receive_message(int sock, UniqueFd* passed = nullptr) {
  std::vector<UniqueFd> fds;
  auto message = receive_message(sock, &fds);
  if (passed && !fds.empty()) *passed = std::move(fds.front());
  return message;
}

}  // namespace cppcker
