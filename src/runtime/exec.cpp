#include "cppcker/runtime/exec.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "cppcker/cgroup/cgroup.hpp"
#include "cppcker/runtime/options.hpp"
#include "cppcker/runtime/process.hpp"
#include "cppcker/runtime/protocol.hpp"
#include "cppcker/runtime/run.hpp"
#include "cppcker/runtime/stdio.hpp"
#include "cppcker/runtime/tty.hpp"
#include "cppcker/security/capabilities.hpp"
#include "cppcker/security/seccomp.hpp"
#include "cppcker/util/child.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/timing.hpp"

namespace cppcker {

namespace {

// The container's process settings with exec's own command, environment, user and directory.
oci::Process exec_process(const oci::Spec& spec, const Container& c, const ExecOptions& o, bool tty) {
  oci::Process p = spec.process;
  p.args = o.argv;
  std::vector<std::string> env = spec.process.env;
  if (tty && env_value(env, "TERM").empty()) env.push_back("TERM=xterm");
  p.env = merge_env(std::move(env), o.env);
  p.user.username = o.user.empty() ? c.spec.user : o.user;
  if (!o.workdir.empty()) p.cwd = o.workdir;
  p.terminal = tty;
  p.console_size.reset();
  if (o.privileged) {
    std::vector<std::string> all = host_capabilities();
    p.capabilities = capability_sets(all, true);
  }
  return p;
}


}  // namespace

int exec_in_container(const ContainerStore& containers, const Container& c, const ExecOptions& o) {
  if (o.argv.empty()) throw Error("exec needs a command", 125);
  if (ContainerStore::observed_state(c).status != "running") throw Error("Container " + c.id + " is not running");
  if (ContainerStore::observed_state(c).paused)
    throw Error("Container " + c.id + " is paused, unpause the container before exec");
  const pid_t target = c.state.pid;
  // The container's first process, by a pidfd opened before its identity is checked: every namespace is
  // joined through it, so a reused pid can never be joined by mistake.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, target, 0)));
  if (!pidfd || !process_alive(c.state.pid, c.state.pid_start)) throw Error("Container " + c.id + " is not running");
  const bool join_user = !shares_namespace(target, "user");

  oci::Spec spec = load_spec(containers, c);
  timing_mark("exec-spec");
  // A detached exec has nobody to hand a terminal to.
  const bool tty = o.tty && !o.detach;
  if (tty && o.interactive && !::isatty(0)) throw Error("the input device is not a TTY", 1);
  ExecRequest request;
  request.process = exec_process(spec, c, o, tty);
  if (spec.linux.seccomp) request.seccomp_program = seccomp_program(*spec.linux.seccomp, containers.root() / "seccomp");
  request.docker_user = true;
  request.stdin_null = !tty && (!o.interactive || o.detach);
  const std::vector<std::string> seccomp_flags = spec.linux.seccomp ? spec.linux.seccomp->flags : std::vector<std::string>{};

  const int size_from = ::isatty(0) ? 0 : 1;
  if (tty) {
    if (auto size = terminal_size(size_from)) request.process.console_size = oci::ConsoleSize{size->ws_row, size->ws_col};
  }
  std::optional<RawTerminal> raw;
  if (tty && o.interactive) raw.emplace(0);
  std::optional<StdioPipes> pipes;
  if (!tty && !o.detach) pipes.emplace(o.interactive);
  // Opened while the host's /sys/fs/cgroup is still in view; written by the final process only.
  std::vector<UniqueFd> cgroup_procs;
  for (int fd : open_cgroup_procs(c.cgroup_paths())) cgroup_procs.emplace_back(fd);

  // Failures (typed replies) and the terminal's master come back over this socket; EOF means "exec'd".
  int report[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report) != 0) throw_errno("socketpair");
  UniqueFd reports(report[0]), child_report(report[1]);
  IgnoreSigpipe ignore_sigpipe;
  timing_mark("exec-fork");
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
      // CVE-2019-5736: this is the host's binary about to enter the container; non-dumpable, its
      // /proc/<pid>/exe stays out of the container's reach.
      ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
      if (pipes) {
        // This helper lives until the command ends: it must not keep cppcker's ends of the pipes open
        // (the command would never read the end of its input).
        pipes->take_in_write();
        pipes->take_out_read();
        pipes->take_err_read();
        StdioFds fds = pipes->container();
        if (fds.in >= 0) ::dup2(fds.in, 0);
        ::dup2(fds.out, 1);
        ::dup2(fds.err, 2);
      }
      join_container_namespaces(pidfd.get(), join_user);
      timing_mark("exec-joined");
      if (o.detach) {
        // Nobody reads a detached exec's output: the container's own /dev/null.
        UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
        if (!null) stage_failed("exec", "open /dev/null");
        for (int target = 0; target < 3; ++target) ::dup2(null.get(), target);
      }
      // Confined here, in the host's pid namespace where the container cannot see it: the process forked
      // into the container's pid namespace below never holds more than the container's privileges (a
      // container with CAP_SYS_PTRACE could otherwise take it over while it set itself up).
      // The report socket at 3, where confine_process keeps it open (and closes everything else).
      for (auto& fd : cgroup_procs)
        if (fd.get() == 3) fd.reset(::fcntl(3, F_DUPFD_CLOEXEC, 4));
      if (child_report.get() != 3) {
        if (::dup3(child_report.get(), 3, O_CLOEXEC) < 0) stage_failed("exec", "move the report socket");
        child_report.reset(3);
      }
      LaunchContext context{request.seccomp_program, seccomp_flags, false, false, request.stdin_null, request.docker_user, {}};
      for (const auto& fd : cgroup_procs) context.keep_fds.push_back(fd.get());
      ConfinedProcess process = confine_process(std::move(request.process), context, 3);
      timing_mark("exec-confined");
      pid_t inner = ::fork();
      if (inner < 0) stage_failed("exec", "fork");
      if (inner == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        // Into the container's cgroup (through descriptors the host opened) before anything of the
        // command runs; this helper stays out of it, so an exec adds one process there, as in Docker.
        for (const auto& fd : cgroup_procs)
          if (::write(fd.get(), "0", 1) != 1) stage_failed("cgroup", "join the container's cgroup");
        cgroup_procs.clear();
        timing_mark("exec-inner");
        exec_confined(std::move(process), 3);
      }
      cgroup_procs.clear();
      ::close(3);  // the command's copy closes at its exec: that EOF is cppcker's "started"
      SignalForwarder forward_signals(inner, /*include_winch=*/false);
      int status = 0;
      while (::waitpid(inner, &status, 0) < 0 && errno == EINTR) {
      }
      ::_exit(exit_status(status));
    } catch (const StageError& e) {
      fail(e.reply());
    } catch (const Error& e) {
      fail({StageReply::Kind::error, "exec", 0, e.what(), e.exit_code() == 1 ? 125 : e.exit_code()});
    } catch (const std::exception& e) {
      fail({StageReply::Kind::error, "exec", 0, e.what(), 125});
    }
  }
  OwnedChild helper(helper_pid);
  child_report.reset();
  cgroup_procs.clear();
  if (pipes) pipes->container_started();
  SignalForwarder forward_signals(helper.pid(), /*include_winch=*/!tty);
  UniqueFd master;
  std::optional<StageReply> failure;
  for (;;) {
    UniqueFd passed;
    std::optional<std::string> reply;
    try {
      reply = receive_message(reports.get(), &passed);
    } catch (const Error& e) {
      failure = StageReply{StageReply::Kind::error, "exec", 0, std::string("exec failed: ") + e.what(), 126};
      break;
    }
    if (!reply) break;
    StageReply r = decode_stage_reply(*reply);
    if (r.kind == StageReply::Kind::tty) {
      master = std::move(passed);
      continue;
    }
    failure = r;
    break;
  }
  reports.reset();
  timing_mark("exec-started");
  if (!failure) {
    if (master) relay_tty(master.get(), o.interactive ? 0 : -1, 1, size_from, helper.pid());
    else if (pipes)
      relay_stdio(o.interactive ? 0 : -1, pipes->take_in_write(), pipes->take_out_read(), pipes->take_err_read(),
                  helper.pidfd(), caller_stdio_sink());
  }
  if (o.detach && !failure) {
    helper.release();  // it runs on; its end is nobody's business here
    return 0;
  }
  int status = helper.wait();
  timing_mark("exec-exited");
  if (failure) throw Error(failure->message, failure->exit_code);
  return exit_status(status);
}

bool shares_namespace(pid_t pid, const char* type) {
  struct stat mine{}, theirs{};
  std::string path = "/proc/" + std::to_string(pid) + "/ns/" + type;
  return ::stat(("/proc/self/ns/" + std::string(type)).c_str(), &mine) == 0 && ::stat(path.c_str(), &theirs) == 0 &&
         mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev;
}

void join_container_namespaces(int pidfd, bool join_user) {
  // Every namespace but the user one in one call, then the user namespace.
  const int flags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWPID;
  if (::setns(pidfd, flags) != 0) stage_failed("namespaces", "join the container's namespaces");
  if (!join_user) return;
  if (::setns(pidfd, CLONE_NEWUSER) != 0) stage_failed("namespaces", "join the container's user namespace");
  if (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0) stage_failed("namespaces", "become the container's root");
}

}  // namespace cppcker
