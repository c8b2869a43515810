// cppcker rm: remove containers.
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

void register_rm(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("rm", "Remove one or more containers");
  auto names = std::make_shared<std::vector<std::string>>();
  auto force = std::make_shared<bool>(false);
  auto volumes = std::make_shared<bool>(false);
  cmd->add_option("CONTAINER", *names, "Containers to remove")->required();
  cmd->add_flag("-f,--force", *force, "Force the removal of a running container (uses SIGKILL)");
  cmd->add_flag("-v,--volumes", *volumes, "Remove anonymous volumes associated with the container");
  set_action(cmd, [&global, names, force, volumes] {
    ContainerStore store(global.root);
    NetworkStore networks = global.networks();
    return for_each_argument(*names, [&](const std::string& name) {
      remove_container(store, networks, store.resolve(name), *force, *volumes);
      std::cout << name << "\n";
    });
  });
}

}  // namespace cppcker::cli
