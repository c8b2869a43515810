#include "cppcker/runtime/exec.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <nlohmann/json.hpp>

#include "cppcker/cgroup/cgroup.hpp"
#include "cppcker/runtime/options.hpp"
#include "cppcker/runtime/process.hpp"
#include "cppcker/runtime/run.hpp"
#include "cppcker/runtime/tty.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker {

int exec_in_container(const Container& c, const ExecOptions& o) {
  if (o.argv.empty()) throw Error("exec needs a command", 125);
  if (ContainerStore::observed_state(c).status != "running")
    throw Error("Container " + c.id + " is not running");
  pid_t target = c.state.pid;
  // Namespace files first, while the pid is known to be ours; the mount namespace is joined last.
  std::vector<std::pair<UniqueFd, const char*>> namespaces;
  for (const char* ns : {"cgroup", "ipc", "uts", "net", "pid", "mnt"}) {
    UniqueFd fd(::open(("/proc/" + std::to_string(target) + "/ns/" + ns).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno(std::string("open ") + ns + " namespace of the container");
    namespaces.emplace_back(std::move(fd), ns);
  }
  if (!process_alive(c.state.pid, c.state.pid_start)) throw Error("Container " + c.id + " is not running");

  // A detached exec has nobody to hand a terminal to.
  const bool tty = o.tty && !o.detach;
  if (tty && o.interactive && !::isatty(0)) throw Error("the input device is not a TTY", 1);
  const int size_from = ::isatty(0) ? 0 : 1;
  std::optional<winsize> tty_size = tty ? terminal_size(size_from) : std::nullopt;
  std::optional<RawTerminal> raw;
  if (tty && o.interactive) raw.emplace(0);

  // Failures (as JSON) and the terminal's master come back over this socket; EOF means "exec'd".
  int report[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report) != 0) throw_errno("socketpair");
  pid_t child = ::fork();
  if (child < 0) throw_errno("fork");
  if (child == 0) {
    ::close(report[0]);
    auto fail = [&](int code, const std::string& msg) {
      std::string reply = nlohmann::json{{"code", code}, {"error", msg}}.dump();
      ::send(report[1], reply.data(), reply.size(), MSG_NOSIGNAL);
      ::_exit(code);
    };
    try {
      if (o.detach) ::setsid();
      if (!o.interactive || o.detach) {
        int devnull = ::open("/dev/null", O_RDWR);
        ::dup2(devnull, 0);
        if (o.detach) {
          ::dup2(devnull, 1);
          ::dup2(devnull, 2);
        }
      }
      // Opened while the host's /sys/fs/cgroup is still in view; written by the final process only.
      std::vector<int> cgroup_procs = open_cgroup_procs(c.cgroup_paths());
      for (auto& [fd, name] : namespaces)
        if (::setns(fd.get(), 0) != 0) fail(125, std::string("join ") + name + " namespace: " + std::strerror(errno));
      // A new pid namespace applies to children only: fork once more so the command is inside it.
      pid_t inner = ::fork();
      if (inner < 0) fail(125, std::string("fork: ") + std::strerror(errno));
      if (inner > 0) {
        ::close(report[1]);
        SignalForwarder forward_signals(inner, /*include_winch=*/false);
        int status = 0;
        while (::waitpid(inner, &status, 0) < 0 && errno == EINTR) {
        }
        ::_exit(exit_status(status));
      }
      // Into the container's cgroup before anything of the command runs.
      for (int fd : cgroup_procs)
        if (::write(fd, "0", 1) != 1) fail(125, std::string("join the container's cgroup: ") + std::strerror(errno));
      std::vector<std::string> env = c.spec.env;
      if (tty && env_value(env, "TERM").empty()) env.push_back("TERM=xterm");
      env = merge_env(std::move(env), o.env);
      launch_in_container({.argv = o.argv,
                           .env = std::move(env),
                           .user = o.user.empty() ? c.spec.user : o.user,
                           .workdir = !o.workdir.empty() ? o.workdir : c.spec.workdir,
                           .tty = tty,
                           .tty_size = tty_size},
                          report[1]);
    } catch (const Error& e) {
      fail(e.exit_code() == 1 ? 125 : e.exit_code(), e.what());
    } catch (const std::exception& e) {
      fail(125, e.what());
    }
  }
  ::close(report[1]);
  UniqueFd reports(report[0]);
  SignalForwarder forward_signals(child, /*include_winch=*/!tty);
  UniqueFd master;
  std::string reply;
  try {
    reply = receive_message(reports.get(), &master);
    if (tty && reply == kTtyReady) reply = receive_message(reports.get());
  } catch (const SystemError& e) {
    reply = nlohmann::json{{"code", 126}, {"error", std::string("exec failed: ") + e.what()}}.dump();
  }
  reports.reset();
  if (reply.empty() && master) relay_tty(master.get(), o.interactive ? 0 : -1, 1, size_from, child);
  int status = 0;
  if (!o.detach || !reply.empty())
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
  if (!reply.empty()) {
    auto j = nlohmann::json::parse(reply, nullptr, false);
    throw Error(j.is_discarded() ? "exec failed" : j.value("error", "exec failed"), j.is_discarded() ? 126 : j.value("code", 126));
  }
  return o.detach ? 0 : exit_status(status);
}

}  // namespace cppcker
