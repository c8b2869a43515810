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
    int status = 0;
    for (const auto& name : *names) {
      try {
        Container c = store.resolve(name);
        stop_container(store, c, *timeout >= 0 ? *timeout : c.spec.stop_timeout);
        std::cout << name << "\n";
      } catch (const Error& e) {
        std::cout.flush();
        std::cerr << "Error: " << e.what() << "\n";
        status = 1;
      }
    }
    return status;
  });
}

}  // namespace cppcker::cli
