// cppcker builder: the management command's `prune` (remove the build cache).
#include <iostream>

#include "cppcker/build/cache.hpp"
#include "cppcker/cli/commands.hpp"
#include "cppcker/cli/prune.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/runtime/housekeeping.hpp"

namespace cppcker::cli {

void register_builder(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("builder", "Manage builds");
  cmd->require_subcommand(1);

  auto* prune = cmd->add_subcommand("prune", "Remove build cache");
  auto all = std::make_shared<bool>(false);
  auto force = std::make_shared<bool>(false);
  // The cache has no entries in use by a running build to keep: -a and the default remove the same.
  prune->add_flag("-a,--all", *all, "Remove all unused build cache, not just dangling ones");
  prune->add_flag("-f,--force", *force, "Do not prompt for confirmation");
  set_action(prune, [&global, all, force] {
    if (!*force && !confirm_prune(*all ? "This will remove all build cache." : "This will remove all dangling build cache."))
      return 0;
    ContainerStore containers(global.root);
    build::CachePruneResult result = build::prune_build_cache(global.root, global.store(), image_users(containers));
    std::vector<std::string> lines = result.entries;
    for (const auto& id : result.images) lines.push_back(id);
    std::cout << prune_section("Deleted build cache objects:", lines) << reclaimed_line(result.reclaimed);
    return 0;
  });
}

}  // namespace cppcker::cli
