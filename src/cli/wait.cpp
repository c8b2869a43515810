// cppcker wait: block until containers stop, then print their exit codes.
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/lifecycle.hpp"

namespace cppcker::cli {

void register_wait(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("wait", "Block until one or more containers stop, then print their exit codes");
  auto names = std::make_shared<std::vector<std::string>>();
  cmd->add_option("CONTAINER", *names, "Containers to wait for")->required();
  set_action(cmd, [&global, names] {
    ContainerStore store(global.root);
    return for_each_argument(*names, [&](const std::string& name) {
      const int code = wait_container(store, store.resolve(name).id);
      std::cout << code << std::endl;  // at once: a caller may read the first while others still run
    });
  });
}

}  // namespace cppcker::cli
