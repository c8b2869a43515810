// start: releases a created container from its exec fifo; the user's program runs.
#include "cppcker/ocicli/ocicli.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::ocicli {

void start_container(const BundleRecord& record, const std::string& status) {
  if (status == "stopped") throw Error("cannot start a container that has stopped");
  if (status == "running") throw Error("cannot start an already running container");
  if (status != "created") throw Error("cannot start a container in the " + status + " state");
  start_bundle_container(record.exec_fifo);
  oci::Spec spec = record.spec();
  if (spec.hooks.poststart.empty()) return;
  oci::State state;
  state.id = record.id;
  state.status = "running";
  state.pid = record.pid;
  state.bundle = record.bundle.string();
  state.annotations = record.annotations;
  try {
    run_hooks(spec.hooks.poststart, "poststart", state);
  } catch (const Error& e) {
    log(Level::warning, e.what());
  }
}

void register_start(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("start", "executes the user defined process in a created container");
  auto args = std::make_shared<std::vector<std::string>>();
  cmd->add_option("container-id", *args, "the container's id");
  set_action(cmd, [&g, args] {
    check_args(g, "start", args->size(), 1, '=');
    BundleStore store = g.store();
    // Under the lock: of two starts, the second sees the container running.
    FileLock lock = store.lock(args->front());
    BundleRecord record = store.get(args->front());
    start_container(record, store.status(record));
    return 0;
  });
}

}  // namespace cppcker::ocicli
