// cppcker volume: create, list, inspect and remove volumes.
#include <iostream>

#include "cppcker/cli/commands.hpp"
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
  ls->add_flag("-q,--quiet", *quiet, "Only display volume names");
  set_action(ls, [&global, quiet] {
    std::vector<std::vector<std::string>> rows = {{"DRIVER", "VOLUME NAME"}};
    for (const auto& v : VolumeStore(global.root).list()) {
      if (*quiet) std::cout << v << "\n";
      else rows.push_back({"local", v});
    }
    if (!*quiet) std::cout << format_table(rows);
    return 0;
  });

  auto* inspect = cmd->add_subcommand("inspect", "Display detailed information on volumes");
  auto inspect_names = std::make_shared<std::vector<std::string>>();
  inspect->add_option("VOLUME", *inspect_names, "Volumes")->required();
  set_action(inspect, [&global, inspect_names] {
    VolumeStore store(global.root);
    return print_inspected(*inspect_names, [&](const std::string& n) { return store.inspect(n); });
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
}

}  // namespace cppcker::cli
