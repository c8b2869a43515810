// cppcker stop: stop running containers (the stop signal, then SIGKILL).
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

void register_stop(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("stop", "Stop one or more running containers");
  auto names = std::make_shared<std::vector<std::string>>();
  auto timeout = std::make_shared<int>(-1);
  cmd->add_option("CONTAINER", *names, "Containers to stop")->required();
  cmd->add_option("-t,--time", *timeout, "Seconds to wait before killing the container");
  set_action(cmd, [&global, names, timeout] {
    ContainerStore store(global.root);
    return for_each_argument(*names, [&](const std::string& name) {
      Container c = store.resolve(name);
      stop_container(store, c, *timeout >= 0 ? *timeout : c.spec.stop_timeout);
      std::cout << name << "\n";
    });
  });
}

}  // namespace cppcker::cli
