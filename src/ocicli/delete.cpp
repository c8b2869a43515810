// delete [--force] ID: removes a stopped (or created) container: its cgroup, its state, poststop hooks.
#include <signal.h>

#include <chrono>
#include <thread>

#include "cppcker/ocicli/ocicli.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::ocicli {

namespace {
// runc's killContainer: SIGKILL, then up to 10 s for the process to go (it is not our child: poll).
void kill_and_wait(const BundleRecord& record) {
  try {
    signal_container(record, SIGKILL);
  } catch (const Error&) {
    return;  // already gone
  }
  // A frozen process dies only once thawed.
  try {
    auto cgroup = make_cgroup(record.cgroup);
    if (cgroup->frozen()) cgroup->thaw();
  } catch (const Error&) {
  }
  for (int i = 0; i < 1000; ++i) {
    if (!process_alive(record.pid, record.pid_start)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw Error("container init still running");
}
}  // namespace

void register_delete(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("delete", "delete any resources held by the container often used with detached container");
  auto args = std::make_shared<std::vector<std::string>>();
  auto force = std::make_shared<bool>(false);
  cmd->add_flag("-f,--force", *force, "Forcibly deletes the container if it is still running (uses SIGKILL)");
  cmd->add_option("container-id", *args, "the container's id");
  set_action(cmd, [&g, args, force] {
    check_args(g, "delete", args->size(), 1, '=');
    const std::string& id = args->front();
    BundleStore store = g.store();
    validate_bundle_id(id);
    if (!store.load(id)) {
      // A directory without a record (a create that died before writing it) is removed all the same.
      std::error_code ec;
      if (fs::exists(store.dir(id), ec)) remove_tree(store.dir(id));
      if (*force) return 0;
      throw Error("container does not exist");
    }
    // Waits for a create in progress to finish: a record still "creating" once the lock is ours was left
    // by a create that crashed.
    FileLock lock = store.lock(id);
    BundleRecord record = store.get(id);
    std::string status = store.status(record);
    if (*force || status == "created" || status == "creating") {
      kill_and_wait(record);
    } else if (status != "stopped") {
      throw Error("cannot delete container " + id + " that is not stopped: " + status);
    }
    destroy_container(store, record);
    return 0;
  });
}

}  // namespace cppcker::ocicli
