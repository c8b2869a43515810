// cppcker image: the management command's `prune` (remove unused images).
#include <iostream>

#include "cppcker/build/cache.hpp"
#include "cppcker/cli/commands.hpp"
#include "cppcker/cli/prune.hpp"
#include "cppcker/image/catalog.hpp"

namespace cppcker::cli {

void register_image(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("image", "Manage images");
  cmd->require_subcommand(1);

  auto* prune = cmd->add_subcommand("prune", "Remove unused images");
  auto all = std::make_shared<bool>(false);
  auto force = std::make_shared<bool>(false);
  prune->add_flag("-a,--all", *all, "Remove all unused images, not just dangling ones");
  prune->add_flag("-f,--force", *force, "Do not prompt for confirmation");
  set_action(prune, [&global, all, force] {
    if (!*force && !confirm_prune(*all ? "This will remove all images without at least one container associated to them."
                                       : "This will remove all dangling images."))
      return 0;
    ContainerStore containers(global.root);
    ImagePruneResult result = prune_images(global.store(), *all, image_users(containers));
    // Build cache entries whose image went with it would only miss from now on.
    build::BuildCache(global.root).prune(global.store(), /*stale_only=*/true);
    std::vector<std::string> lines;
    for (const auto& e : result.events)
      lines.push_back((e.kind == RemovalEvent::Kind::untagged ? "untagged: " : "deleted: ") + e.what);
    std::cout << prune_section("Deleted Images:", lines) << reclaimed_line(result.reclaimed);
    return 0;
  });
}

}  // namespace cppcker::cli
