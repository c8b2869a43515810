// cppcker diff: the changes of a container's filesystem, as Docker lists them.
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/upper_layer.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/storage/layer_writer.hpp"

namespace cppcker::cli {

void register_diff(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("diff", "Inspect changes to files or directories on a container's filesystem");
  auto name = std::make_shared<std::string>();
  cmd->add_option("CONTAINER", *name, "Container to inspect")->required();
  set_action(cmd, [&global, name] {
    ContainerStore containers(global.root);
    ImageStore images = global.store();
    Container c = containers.resolve(*name);
    for (const auto& change : layer_changes(container_upper_layer(containers, images, c)))
      std::cout << change_letter(change.kind) << " " << change.path << "\n";
    return 0;
  });
}

}  // namespace cppcker::cli
