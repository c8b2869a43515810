#include "cppcker/runtime/exec.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <nlohmann/json.hpp>

#include "cppcker/cgroup/cgroup.hpp"
#include "cppcker/runtime/process.hpp"
#include "cppcker/runtime/run.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker {

namespace {
volatile sig_atomic_t g_exec_child = 0;
void forward(int sig) {
  if (g_exec_child > 0) ::kill(g_exec_child, sig);
}
}  // namespace

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

  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw_errno("pipe");
  pid_t child = ::fork();
  if (child < 0) throw_errno("fork");
  if (child == 0) {
    ::close(report[0]);
    auto fail = [&](int code, const std::string& msg) {
      std::string reply = nlohmann::json{{"code", code}, {"error", msg}}.dump();
      if (::write(report[1], reply.data(), reply.size()) < 0) {
      }
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
        g_exec_child = inner;
        struct sigaction sa{};
        sa.sa_handler = forward;
        for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) ::sigaction(s, &sa, nullptr);
        int status = 0;
        while (::waitpid(inner, &status, 0) < 0 && errno == EINTR) {
        }
        ::_exit(exit_status(status));
      }
      // Into the container's cgroup before anything of the command runs.
      for (int fd : cgroup_procs)
        if (::write(fd, "0", 1) != 1) fail(125, std::string("join the container's cgroup: ") + std::strerror(errno));
      std::vector<std::string> env = c.spec.env;
      for (const auto& e : o.env) {
        std::string key = e.substr(0, e.find('='));
        std::erase_if(env, [&](const std::string& x) { return x.substr(0, x.find('=')) == key; });
        env.push_back(e);
      }
      UserIds ids = resolve_user(o.user.empty() ? c.spec.user : o.user);
      if (env_value(env, "HOME").empty()) env.push_back("HOME=" + ids.home);
      std::string workdir = !o.workdir.empty() ? o.workdir : (c.spec.workdir.empty() ? "/" : c.spec.workdir);
      if (::chdir(workdir.c_str()) != 0)
        fail(126, "chdir to cwd (\"" + workdir + "\") set in config.json failed: " + std::strerror(errno));
      if (::setgroups(ids.groups.size(), ids.groups.data()) != 0 || ::setgid(ids.gid) != 0 || ::setuid(ids.uid) != 0)
        fail(125, std::string("set user: ") + std::strerror(errno));
      std::string program = find_executable(o.argv[0], env_value(env, "PATH"));
      std::vector<std::string> argv = o.argv;
      std::vector<char*> args, envp;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      for (auto& e : env) envp.push_back(e.data());
      envp.push_back(nullptr);
      ::execve(program.c_str(), args.data(), envp.data());
      fail(errno == ENOENT ? 127 : 126,
           "exec: \"" + o.argv[0] + "\": " + (errno == EACCES ? std::string("permission denied") : std::strerror(errno)));
    } catch (const Error& e) {
      fail(e.exit_code() == 1 ? 125 : e.exit_code(), e.what());
    } catch (const std::exception& e) {
      fail(125, e.what());
    }
  }
  ::close(report[1]);
  g_exec_child = child;
  struct sigaction sa{}, old[6];
  const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  sa.sa_handler = forward;
  for (int i = 0; i < 6; ++i) ::sigaction(sigs[i], &sa, &old[i]);
  std::string reply;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(report[0], buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    reply.append(buf, static_cast<std::size_t>(n));
  }
  ::close(report[0]);
  int status = 0;
  if (!o.detach || !reply.empty())
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
  g_exec_child = 0;
  for (int i = 0; i < 6; ++i) ::sigaction(sigs[i], &old[i], nullptr);
  if (!reply.empty()) {
    auto j = nlohmann::json::parse(reply, nullptr, false);
    throw Error(j.is_discarded() ? "exec failed" : j.value("error", "exec failed"), j.is_discarded() ? 126 : j.value("code", 126));
  }
  return o.detach ? 0 : exit_status(status);
}

}  // namespace cppcker
