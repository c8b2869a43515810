// cppcker container: the management command's `prune` (remove stopped containers).
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/cli/prune.hpp"
#include "cppcker/format/filter.hpp"
#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

ContainerPruneFilter container_prune_filter(const std::vector<std::string>& given) {
  auto filters = format::Filters::parse(given, {"until", "label"});
  ContainerPruneFilter f;
  for (const auto& v : filters.values("until")) {
    try {
      f.until = parse_log_time(v, now());
    } catch (const Error&) {
      throw Error("failed to parse value as time or duration: \"" + v + "\"");
    }
  }
  if (filters.has("label"))
    f.labels = [filters](const std::map<std::string, std::string>& labels) { return filters.match_labels(labels); };
  return f;
}

void register_container(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("container", "Manage containers");
  cmd->require_subcommand(1);

  auto* prune = cmd->add_subcommand("prune", "Remove all stopped containers");
  auto force = std::make_shared<bool>(false);
  auto filters = std::make_shared<std::vector<std::string>>();
  prune->add_flag("-f,--force", *force, "Do not prompt for confirmation");
  prune->add_option("--filter", *filters, "Provide filter values (e.g. 'until=<timestamp>')")->allow_extra_args(false);
  set_action(prune, [&global, force, filters] {
    ContainerPruneFilter filter = container_prune_filter(*filters);  // checked before the prompt
    if (!*force && !confirm_prune("This will remove all stopped containers.")) return 0;
    PruneReport report = prune_containers(ContainerStore(global.root), global.networks(), filter);
    std::cout << prune_section("Deleted Containers:", report.deleted) << reclaimed_line(report.reclaimed);
    return 0;
  });
}

}  // namespace cppcker::cli
