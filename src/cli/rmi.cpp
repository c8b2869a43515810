// cppcker rmi: remove images.
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/image/catalog.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

void register_rmi(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("rmi", "Remove one or more images");
  auto images = std::make_shared<std::vector<std::string>>();
  auto force = std::make_shared<bool>(false);
  cmd->add_option("IMAGE", *images, "Images to remove")->required();
  cmd->add_flag("-f,--force", *force, "Force removal of the image");
  set_action(cmd, [&global, images, force] {
    ImageStore store = global.store();
    ContainerStore containers(global.root);
    auto users = [&](const std::string& image_id) {
      std::vector<ImageUser> out;
      for (const auto& c : containers.list()) {
        if (c.spec.image_id != image_id) continue;
        const std::string status = ContainerStore::observed_state(c).status;
        out.push_back({c.id, status == "running" || status == "restarting"});  // a restart needs its image
      }
      return out;
    };
    return for_each_argument(*images, [&](const std::string& name) {
      for (const auto& ev : remove_image(store, name, *force, users))
        std::cout << (ev.kind == RemovalEvent::Kind::untagged ? "Untagged: " : "Deleted: ") << ev.what << "\n";
    });
  });
}

}  // namespace cppcker::cli
