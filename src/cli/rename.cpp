// cppcker rename: give a container another name.
#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/container.hpp"

namespace cppcker::cli {

void register_rename(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("rename", "Rename a container");
  auto container = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  cmd->add_option("CONTAINER", *container, "The container")->required();
  cmd->add_option("NEW_NAME", *name, "Its new name")->required();
  set_action(cmd, [&global, container, name] {
    ContainerStore store(global.root);
    store.rename(store.resolve(*container).id, *name);
    return 0;
  });
}

}  // namespace cppcker::cli
