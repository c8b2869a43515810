// kill [--all] ID [SIGNAL]: a signal to the container's first process, or to every process in its cgroup.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cppcker/ocicli/ocicli.hpp"
#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::ocicli {

namespace {
void signal_all(const BundleRecord& record, int sig) {
  for (pid_t pid : cgroup_pids(record)) {
    // Through a pidfd: a process that ended after the cgroup was read cannot have its pid's successor hit.
    UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (fd) ::syscall(SYS_pidfd_send_signal, fd.get(), sig, nullptr, 0);
  }
}
}  // namespace

void register_kill(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("kill", "kill sends the specified signal (default: SIGTERM) to the container's init process");
  auto args = std::make_shared<std::vector<std::string>>();
  auto all = std::make_shared<bool>(false);
  cmd->add_flag("-a,--all", *all, "send the specified signal to all processes inside the container");
  cmd->add_option("container-id", *args, "the container's id, then the signal");
  set_action(cmd, [&g, args, all] {
    check_args(g, "kill", args->size(), 1, '>');
    check_args(g, "kill", args->size(), 2, '<');
    int sig = parse_signal(args->size() > 1 ? (*args)[1] : "SIGTERM");
    BundleStore store = g.store();
    BundleRecord record = store.get(args->front());
    std::string status = store.status(record);
    if (status == "stopped" || status == "creating") throw Error("container not running");
    if (*all) {
      signal_all(record, sig);
    } else {
      signal_container(record, sig);
    }
    // A frozen process takes SIGKILL only once thawed (cgroup v1): runc thaws after it.
    if (status == "paused" && sig == SIGKILL) make_cgroup(record.cgroup)->thaw();
    return 0;
  });
}

}  // namespace cppcker::ocicli
