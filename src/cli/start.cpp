// cppcker start: start stopped containers again (detached), with their own filesystem and settings.
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/run.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

void register_start(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("start", "Start one or more stopped containers");
  auto names = std::make_shared<std::vector<std::string>>();
  cmd->add_option("CONTAINER", *names, "Containers to start")->required();
  set_action(cmd, [&global, names] {
    ContainerStore containers(global.root);
    ImageStore images = global.store();
    NetworkStore networks = global.networks();
    return for_each_argument(*names, [&](const std::string& name) {
      Container c = containers.resolve(name);
      // One waiting out its restart back-off has a monitor that starts it: nothing to do, as in Docker.
      const std::string status = ContainerStore::observed_state(c).status;
      if (status != "running" && status != "restarting") start_again(images, containers, networks, c);
      std::cout << name << "\n";
    });
  });
}

}  // namespace cppcker::cli
