// pause / resume: the container's cgroup frozen or thawed.
#include "cppcker/ocicli/ocicli.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::ocicli {

namespace {
void add(CLI::App& app, Globals& g, const std::string& name, const std::string& description, bool pause) {
  auto* cmd = app.add_subcommand(name, description);
  auto args = std::make_shared<std::vector<std::string>>();
  cmd->add_option("container-id", *args, "the container's id");
  set_action(cmd, [&g, args, name, pause] {
    check_args(g, name, args->size(), 1, '=');
    BundleStore store = g.store();
    FileLock lock = store.lock(args->front());
    BundleRecord record = store.get(args->front());
    std::string status = store.status(record);
    auto cgroup = make_cgroup(record.cgroup);
    if (pause) {
      if (status != "running" && status != "created") throw Error("container not running");
      cgroup->freeze();
    } else {
      if (status != "paused") throw Error("container not paused");
      cgroup->thaw();
    }
    return 0;
  });
}
}  // namespace

void register_pause(CLI::App& app, Globals& g) {
  add(app, g, "pause", "pause suspends all processes inside the container", true);
  add(app, g, "resume", "resumes all processes that have been previously paused", false);
}

}  // namespace cppcker::ocicli
