// cppcker create: make a container from an image without starting it (`start` runs it later).
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/cli/container_options.hpp"

namespace cppcker::cli {

void register_create(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("create", "Create a new container");
  auto o = add_container_options(cmd, /*run=*/false);
  set_action(cmd, [&global, o] {
    std::cout << create_container_from(global, *o, "create").container.id << "\n";
    return 0;
  });
}

}  // namespace cppcker::cli
