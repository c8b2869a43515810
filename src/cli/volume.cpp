// cppcker volume: create, list, inspect and remove volumes.
#include <iostream>
#include <set>

#include "cppcker/cli/commands.hpp"
#include "cppcker/cli/formatting.hpp"
#include "cppcker/cli/prune.hpp"
#include "cppcker/format/filter.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/runtime/volume.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

void register_volume(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("volume", "Manage volumes");
  cmd->require_subcommand(1);

  auto* create = cmd->add_subcommand("create", "Create a volume");
  auto name = std::make_shared<std::string>();
  create->add_option("VOLUME", *name, "Name (a random one if none is given)");
  set_action(create, [&global, name] {
    std::cout << VolumeStore(global.root).create(*name) << "\n";
    return 0;
  });

  auto* ls = cmd->add_subcommand("ls", "List volumes");
  auto quiet = std::make_shared<bool>(false);
  auto ls_format = std::make_shared<std::string>();
  auto ls_filters = std::make_shared<std::vector<std::string>>();
  ls->add_flag("-q,--quiet", *quiet, "Only display volume names");
  ls->add_option("-f,--filter", *ls_filters, "Provide filter values (e.g. 'dangling=true')")->allow_extra_args(false);
  ls->add_option("--format", *ls_format,
                 "Format output: \"table\" (default), \"json\" (one object per line), \"table TEMPLATE\" or a Go template");
  set_action(ls, [&global, quiet, ls_format, ls_filters] {
    auto filters = format::Filters::parse(*ls_filters, {"name", "label", "dangling", "driver"});
    VolumeStore store(global.root);
    // dangling: no container (running or not) refers to the volume.
    std::set<std::string> used;
    if (filters.has("dangling"))
      for (const auto& c : ContainerStore(global.root).list())
        for (const auto& m : c.spec.mounts)
          if (m.type == "volume") used.insert(m.source);
    std::vector<FormatRow> rows;
    for (const auto& v : store.list()) {
      // Volumes keep no labels yet: a label filter matches none.
      if (!filters.match_regex("name", v) || !filters.match_labels({}) || !filters.match_exact("driver", "local"))
        continue;
      if (filters.has("dangling") && filters.boolean("dangling", false) == (used.count(v) > 0)) continue;
      FormatRow row;
      row.fields = {{"Driver", "local"},      {"Labels", ""},  {"Links", "N/A"}, {"Mountpoint", store.data_path(v).string()},
                    {"Name", v},              {"Scope", "local"}, {"Size", "N/A"}};
      rows.push_back(std::move(row));
    }
    ListLayout layout{{{"Driver", "DRIVER"},
                       {"Labels", "LABELS"},
                       {"Links", "LINKS"},
                       {"Mountpoint", "MOUNTPOINT"},
                       {"Name", "VOLUME NAME"},
                       {"Scope", "SCOPE"},
                       {"Size", "SIZE"}},
                      "table {{.Driver}}\t{{.Name}}"};
    std::string format = *ls_format;
    if (*quiet && (format.empty() || format == "table")) format = "{{.Name}}";
    std::cout << render_list(format, layout, rows);
    return 0;
  });

  auto* inspect = cmd->add_subcommand("inspect", "Display detailed information on volumes");
  auto inspect_names = std::make_shared<std::vector<std::string>>();
  auto inspect_format = std::make_shared<std::string>();
  inspect->add_option("VOLUME", *inspect_names, "Volumes")->required();
  inspect->add_option("-f,--format", *inspect_format, "Format the output using the given Go template");
  set_action(inspect, [&global, inspect_names, inspect_format] {
    VolumeStore store(global.root);
    return print_inspected_as(*inspect_format, *inspect_names, [&](const std::string& n) { return store.inspect(n); });
  });

  auto* rm = cmd->add_subcommand("rm", "Remove one or more volumes");
  auto rm_names = std::make_shared<std::vector<std::string>>();
  rm->add_option("VOLUME", *rm_names, "Volumes")->required();
  set_action(rm, [&global, rm_names] {
    VolumeStore store(global.root);
    ContainerStore containers(global.root);
    return for_each_argument(*rm_names, [&](const std::string& n) {
      std::vector<std::string> users;
      for (const auto& c : containers.list())
        for (const auto& m : c.spec.mounts)
          if (m.type == "volume" && m.source == n) users.push_back(c.id);
      if (!users.empty()) throw Error("remove " + n + ": volume is in use - [" + users.front() + "]");
      store.remove(n);
      std::cout << n << "\n";
    });
  });

  // Docker 23+: anonymous volumes only, unless -a; a volume any container mentions (running or not) stays.
  auto* prune = cmd->add_subcommand("prune", "Remove unused local volumes");
  auto prune_all = std::make_shared<bool>(false);
  auto prune_force = std::make_shared<bool>(false);
  prune->add_flag("-a,--all", *prune_all, "Remove all unused volumes, not just anonymous ones");
  prune->add_flag("-f,--force", *prune_force, "Do not prompt for confirmation");
  set_action(prune, [&global, prune_all, prune_force] {
    if (!*prune_force && !confirm_prune(*prune_all ? "This will remove all local volumes not used by at least one container."
                                                   : "This will remove anonymous local volumes not used by at least one container."))
      return 0;
    PruneReport report = prune_volumes(ContainerStore(global.root), *prune_all);
    std::cout << prune_section("Deleted Volumes:", report.deleted) << reclaimed_line(report.reclaimed);
    return 0;
  });
}

}  // namespace cppcker::cli
