#include "cppcker/runtime/bundle.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "cppcker/runtime/container.hpp"
#include "cppcker/runtime/exec.hpp"
#include "cppcker/runtime/protocol.hpp"
#include "cppcker/runtime/stdio.hpp"
#include "cppcker/runtime/tty.hpp"
#include "cppcker/security/seccomp.hpp"
#include "cppcker/util/child.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker {

// ---------------------------------------------------------------- hooks

namespace {

// Everything a descriptor yields until EOF (a hook's output, bounded so a chatty hook cannot exhaust us).
void drain_into(int fd, std::string& out) {
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0)
    if (out.size() < 64 * 1024) out.append(buf, static_cast<std::size_t>(n));
}

std::string hook_failure(const std::string& phase, std::size_t index, const std::string& why, const std::string& out,
                         const std::string& err) {
  auto trim = [](std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  };
  return "error running " + phase + " hook #" + std::to_string(index) + ": " + why + ", stdout: " + trim(out) +
         ", stderr: " + trim(err);
}

}  // namespace

void run_hooks(const std::vector<oci::Hook>& hooks, const std::string& phase, const oci::State& state) {
  if (hooks.empty()) return;
  const std::string input = oci::to_json(state).dump();
  for (std::size_t i = 0; i < hooks.size(); ++i) {
    const oci::Hook& hook = hooks[i];
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0) throw_errno("pipe for hook " + hook.path);
    UniqueFd in_read(in[0]), in_write(in[1]);
    if (::pipe2(out, O_CLOEXEC) != 0) throw_errno("pipe for hook " + hook.path);
    UniqueFd out_read(out[0]), out_write(out[1]);
    if (::pipe2(err, O_CLOEXEC) != 0) throw_errno("pipe for hook " + hook.path);
    UniqueFd err_read(err[0]), err_write(err[1]);
    // argv and envp built before the fork: the child only execs.
    std::vector<std::string> args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env = hook.env;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork for hook " + hook.path);
    if (pid == 0) {
      ::dup2(in_read.get(), 0);
      ::dup2(out_write.get(), 1);
      ::dup2(err_write.get(), 2);
      ::syscall(SYS_close_range, 3u, ~0u, 0u);
      ::execve(hook.path.c_str(), argv.data(), envp.data());
      const std::string msg = "exec " + hook.path + ": " + std::strerror(errno) + "\n";
      (void)!::write(2, msg.data(), msg.size());
      ::_exit(127);
    }
    OwnedChild child(pid);
    in_read.reset();
    out_write.reset();
    err_write.reset();
    {
      IgnoreSigpipe ignore;
      // A hook may not read its stdin at all: what it does not take is dropped with the pipe.
      (void)!::write(in_write.get(), input.data(), input.size());
      in_write.reset();
    }
    // Wait for the end within the timeout, reading its output meanwhile.
    std::string out_text, err_text;
    const int timeout_ms = hook.timeout ? *hook.timeout * 1000 : -1;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
    bool timed_out = false;
    pollfd fds[3] = {{child.pidfd(), POLLIN, 0}, {out_read.get(), POLLIN, 0}, {err_read.get(), POLLIN, 0}};
    for (;;) {
      int wait_ms = -1;
      if (timeout_ms >= 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0) {
          timed_out = true;
          break;
        }
        wait_ms = static_cast<int>(left);
      }
      int n = ::poll(fds, 3, wait_ms);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno("wait for hook " + hook.path);
      for (int f = 1; f < 3; ++f) {
        if (!(fds[f].revents & (POLLIN | POLLHUP))) continue;
        char buf[4096];
        ssize_t got = ::read(fds[f].fd, buf, sizeof buf);
        std::string& text = f == 1 ? out_text : err_text;
        if (got > 0 && text.size() < 64 * 1024) text.append(buf, static_cast<std::size_t>(got));
        if (got <= 0) fds[f].fd = -1;
      }
      if (fds[0].revents & POLLIN) break;
    }
    if (timed_out) {
      child.kill_and_reap();
      throw Error(hook_failure(phase, i, "timeout after " + std::to_string(*hook.timeout) + "s", out_text, err_text), 1);
    }
    int status = child.wait();
    drain_into(out_read.get(), out_text);
    drain_into(err_read.get(), err_text);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
    const std::string why = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                              : "signal: " + std::string(::strsignal(WTERMSIG(status)));
    throw Error(hook_failure(phase, i, why, out_text, err_text), 1);
  }
}

// ---------------------------------------------------------------- console socket

void send_console(const std::string& socket_path, int fd) {
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) throw_errno("socket for the console socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) throw Error("console socket path is too long: " + socket_path, 1);
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw_errno("connect to the console socket " + socket_path);
  // runc's protocol: the terminal's name as the data, its master as the one descriptor.
  unsigned int number = 0;
  std::string name = ::ioctl(fd, TIOCGPTN, &number) == 0 ? "/dev/pts/" + std::to_string(number) : "/dev/ptmx";
  iovec iov{name.data(), name.size()};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))]{};
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  cmsghdr* cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cm), &fd, sizeof(int));
  ssize_t n;
  while ((n = ::sendmsg(sock.get(), &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  if (n < 0) throw_errno("send the terminal to the console socket " + socket_path);
}

// ---------------------------------------------------------------- create and start

namespace {

// The exec fifo, removed again unless the create succeeds.
class ExecFifo {
 public:
  explicit ExecFifo(fs::path path) : path_(std::move(path)) {
    if (::mkfifo(path_.c_str(), 0622) != 0) throw_errno("mkfifo " + path_.string());
    made_ = true;
    // Non-blocking: an open for reading never waits for a writer; the stage polls it.
    read_.reset(::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!read_) throw_errno("open " + path_.string());
  }
  ~ExecFifo() {
    if (made_) ::unlink(path_.c_str());
  }
  ExecFifo(const ExecFifo&) = delete;
  ExecFifo& operator=(const ExecFifo&) = delete;
  UniqueFd take_read_end() { return std::move(read_); }
  void keep() { made_ = false; }

 private:
  fs::path path_;
  bool made_ = false;
  UniqueFd read_;
};

// runc's rule: after the spec's own device rules, the devices cgroup allows mknod of any node, the default
// devices every container gets (/dev/null, zero, full, random, urandom, tty, console, ptmx, pts/*) and each
// of linux.devices, so that a spec denying everything first (runc spec's default) still works.
void allow_default_devices(oci::Spec& spec) {
  if (!spec.linux.resources || spec.linux.resources->devices.empty()) return;  // the controller is left alone
  auto& rules = spec.linux.resources->devices;
  auto allow = [&](std::string type, std::optional<std::int64_t> major, std::optional<std::int64_t> minor, std::string access) {
    rules.push_back(oci::DeviceRule{true, std::move(type), major, minor, std::move(access)});
  };
  allow("c", std::nullopt, std::nullopt, "m");
  allow("b", std::nullopt, std::nullopt, "m");
  const std::pair<std::int64_t, std::int64_t> defaults[] = {{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}};
  for (const auto& [major, minor] : defaults) allow("c", major, minor, "rwm");
  allow("c", 136, std::nullopt, "rwm");
  for (const auto& d : spec.linux.devices)
    if (d.type == "c" || d.type == "b" || d.type == "u") allow(d.type == "b" ? "b" : "c", d.major, d.minor, "rwm");
}

bool new_network_namespace(const oci::Spec& spec) {
  const oci::Namespace* ns = spec.linux.find_namespace("network");
  return ns && ns->path.empty();
}

}  // namespace

BundleContainer BundleContainer::create(BundleLaunch launch) {
  allow_default_devices(launch.spec);
  const oci::Spec& spec = launch.spec;
  struct stat st{};
  if (::stat(spec.root.path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw Error("rootfs (" + spec.root.path + ") does not exist", 1);
  if (launch.preserve_fds > 0) {
    // Each must be open: runc passes them as they are.
    for (unsigned fd = 3; fd < 3 + launch.preserve_fds; ++fd)
      if (::fcntl(static_cast<int>(fd), F_GETFD) < 0)
        throw Error("--preserve-fds " + std::to_string(launch.preserve_fds) + ": descriptor " + std::to_string(fd) + " is not open", 1);
  }
  ExecFifo fifo(launch.exec_fifo);
  BundleContainer c;
  c.process_ = ContainerProcess::spawn(spec.linux.namespaces, StdioFds{},
                                        SpawnMode{launch.preserve_fds, /*outlive_parent=*/!launch.foreground});
  LaunchOptions options;
  options.cgroup = {launch.cgroup, {}};  // runc's cgroupsPath: no parent of it is ours to remove
  options.loopback_up = new_network_namespace(spec);
  options.seccomp_cache = launch.seccomp_cache;
  options.docker_user = false;
  options.bundle = true;
  options.exec_fifo = fifo.take_read_end();
  options.preserve_fds = launch.preserve_fds;
  options.no_pivot = launch.no_pivot;
  options.no_new_keyring = launch.no_new_keyring;
  options.hook_state = oci::State{oci::kRuntimeSpecVersion, launch.id, "creating", 0, launch.bundle.string(), spec.annotations};
  if (!spec.hooks.prestart.empty() || !spec.hooks.create_runtime.empty()) {
    options.runtime_hooks = [&](pid_t pid) {
      oci::State state{oci::kRuntimeSpecVersion, launch.id, "creating", pid, launch.bundle.string(), spec.annotations};
      run_hooks(spec.hooks.prestart, "prestart", state);
      run_hooks(spec.hooks.create_runtime, "createRuntime", state);
    };
  }
  c.process_.release(spec, std::move(options));
  if (spec.process.terminal && !launch.console_socket.empty()) {
    if (c.process_.tty_master() < 0) throw Error("container start failed: no terminal received", 1);
    send_console(launch.console_socket, c.process_.tty_master());
    c.process_.close_tty_master();
  }
  fifo.keep();
  return c;
}

void BundleContainer::detach() { process_.detach(); }

void start_bundle_container(const fs::path& exec_fifo) {
  // O_NONBLOCK: with nobody left at the read end (the process died) the open fails at once with ENXIO.
  UniqueFd fifo(::open(exec_fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fifo) {
    if (errno == ENOENT) throw Error("cannot start an already running container", 1);
    if (errno == ENXIO) throw Error("cannot start a container that has stopped", 1);
    throw_errno("open exec fifo " + exec_fifo.string());
  }
  IgnoreSigpipe ignore;
  if (::write(fifo.get(), "0", 1) != 1) {
    if (errno == EPIPE) throw Error("cannot start a container that has stopped", 1);
    throw_errno("write exec fifo " + exec_fifo.string());
  }
  ::unlink(exec_fifo.c_str());
}

// ---------------------------------------------------------------- exec

namespace {

// Moves `fd` to a number at or above `floor` (close-on-exec), out of the way of the preserved descriptors.
void lift(UniqueFd& fd, int floor) {
  if (!fd || fd.get() >= floor) return;
  int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, floor);
  if (moved < 0) stage_failed("exec", "move a descriptor");
  fd.reset(moved);
}

}  // namespace

int exec_in_bundle_container(const BundleExec& e, const std::function<void(pid_t)>& started) {
  if (e.process.args.empty()) throw Error("exec: no command specified (args must not be empty)", 1);
  // Every namespace is joined through a pidfd opened before the identity check: a reused pid is never joined.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, e.target, 0)));
  if (!pidfd || !process_alive(e.target, e.target_start)) throw Error("cannot exec in a stopped container", 1);
  const bool join_user = !shares_namespace(e.target, "user");
  std::string seccomp;
  std::vector<std::string> seccomp_flags;
  if (e.seccomp) {
    seccomp = seccomp_program(*e.seccomp, e.seccomp_cache);
    seccomp_flags = e.seccomp->flags;
  }
  for (unsigned fd = 3; fd < 3 + e.preserve_fds; ++fd)
    if (::fcntl(static_cast<int>(fd), F_GETFD) < 0)
      throw Error("--preserve-fds " + std::to_string(e.preserve_fds) + ": descriptor " + std::to_string(fd) + " is not open", 1);
  const int report_target = 3 + static_cast<int>(e.preserve_fds);
  // Opened while the host's /sys/fs/cgroup is still in view; written by the final process only.
  std::vector<UniqueFd> cgroup_procs;
  for (int fd : open_cgroup_procs(e.cgroup)) cgroup_procs.emplace_back(fd);

  int report[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report) != 0) throw_errno("socketpair");
  UniqueFd reports(report[0]), child_report(report[1]);
  IgnoreSigpipe ignore_sigpipe;
  oci::Process process = e.process;
  pid_t helper_pid = ::fork();
  if (helper_pid < 0) throw_errno("fork");
  if (helper_pid == 0) {
    reports.reset();
    auto fail = [&](const StageReply& r) {
      try {
        send_message(child_report.get(), encode(r));
      } catch (const Error&) {
      }
      ::_exit(r.exit_code);
    };
    try {
      // CVE-2019-5736: the host's binary about to enter the container stays out of its reach.
      ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
      join_container_namespaces(pidfd.get(), join_user);
      // The report socket just above the preserved descriptors; the cgroup files above it.
      for (auto& fd : cgroup_procs) lift(fd, report_target + 1);
      lift(pidfd, report_target + 1);
      if (child_report.get() != report_target) {
        if (::dup3(child_report.get(), report_target, O_CLOEXEC) < 0) stage_failed("exec", "move the report socket");
        child_report.reset(report_target);
      }
      LaunchContext context{seccomp, seccomp_flags, false, false, false, false, {}};
      context.preserve_fds = e.preserve_fds;
      for (const auto& fd : cgroup_procs) context.keep_fds.push_back(fd.get());
      ConfinedProcess confined = confine_process(std::move(process), context, report_target);
      // The process is the caller's child (CLONE_PARENT), as runc's: with --detach the caller's subreaper
      // (conmon, containerd's shim) inherits it and reads its exit status.
      pid_t inner = static_cast<pid_t>(::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
      if (inner < 0) stage_failed("exec", "clone");
      if (inner == 0) {
        // Into the container's cgroup (through descriptors the host opened) before anything of the command runs.
        for (const auto& fd : cgroup_procs)
          if (::write(fd.get(), "0", 1) != 1) stage_failed("cgroup", "join the container's cgroup");
        cgroup_procs.clear();
        exec_confined(std::move(confined), report_target);
      }
      send_message(report_target, encode(StageReply{StageReply::Kind::pid, "exec", 0, "", 0, inner}));
      ::_exit(0);
    } catch (const StageError& err) {
      fail(err.reply());
    } catch (const Error& err) {
      fail({StageReply::Kind::error, "exec", 0, err.what(), err.exit_code() == 1 ? 125 : err.exit_code()});
    } catch (const std::exception& err) {
      fail({StageReply::Kind::error, "exec", 0, err.what(), 125});
    }
  }
  OwnedChild helper(helper_pid);
  child_report.reset();
  cgroup_procs.clear();
  UniqueFd master;
  pid_t inner = 0;
  std::optional<StageReply> failure;
  for (;;) {
    UniqueFd passed;
    std::optional<std::string> reply;
    try {
      reply = receive_message(reports.get(), &passed);
    } catch (const Error& err) {
      failure = StageReply{StageReply::Kind::error, "exec", 0, std::string("exec failed: ") + err.what(), 126};
      break;
    }
    if (!reply) break;  // the helper has exited and the process exec'd (or failed, said before)
    StageReply r = decode_stage_reply(*reply);
    if (r.kind == StageReply::Kind::tty) {
      master = std::move(passed);
      continue;
    }
    if (r.kind == StageReply::Kind::pid) {
      inner = r.pid;
      continue;
    }
    failure = r;
    break;
  }
  reports.reset();
  int helper_status = helper.wait();
  // The process is this process's child: reaped here unless handed to the caller's subreaper (detach).
  OwnedChild command(inner > 0 ? OwnedChild(inner) : OwnedChild());
  if (failure) {
    if (command) command.wait();  // it exits with the failure's code, which was reported
    throw Error(failure->message, failure->exit_code);
  }
  if (!command) throw Error("exec failed: the exec helper exited (" + std::to_string(exit_status(helper_status)) + ")", 1);
  if (master && !e.console_socket.empty()) {
    send_console(e.console_socket, master.get());
    master.reset();
  }
  if (started) started(command.pid());
  if (e.detach) {
    command.release();
    return 0;
  }
  SignalForwarder forward(command.pid(), /*include_winch=*/!master);
  if (master) {
    std::optional<RawTerminal> raw;
    if (::isatty(0)) raw.emplace(0);
    relay_tty(master.get(), 0, 1, ::isatty(0) ? 0 : -1, command.pid());
  }
  return exit_status(command.wait());
}

}  // namespace cppcker
