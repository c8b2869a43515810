// cppcker pause / unpause: freeze and thaw every process of containers (the cgroup freezer).
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/lifecycle.hpp"

namespace cppcker::cli {

namespace {
void register_one(CLI::App& app, GlobalOptions& global, const char* name, const char* description,
                  void (*operation)(const ContainerStore&, const Container&)) {
  auto* cmd = app.add_subcommand(name, description);
  auto names = std::make_shared<std::vector<std::string>>();
  cmd->add_option("CONTAINER", *names, "Containers")->required();
  set_action(cmd, [&global, names, operation] {
    ContainerStore store(global.root);
    return for_each_argument(*names, [&](const std::string& n) {
      operation(store, store.resolve(n));
      std::cout << n << "\n";
    });
  });
}
}  // namespace

void register_pause(CLI::App& app, GlobalOptions& global) {
  register_one(app, global, "pause", "Pause all processes within one or more containers", pause_container);
  register_one(app, global, "unpause", "Unpause all processes within one or more containers", unpause_container);
}

}  // namespace cppcker::cli
