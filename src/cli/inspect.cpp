// cppcker inspect: low-level information on containers, images, networks and volumes, as JSON or through
// a Go template (-f).
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/cli/formatting.hpp"
#include "cppcker/image/inspect.hpp"
#include "cppcker/runtime/inspect.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/runtime/volume.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

void register_inspect(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("inspect", "Return low-level information on Docker objects");
  auto names = std::make_shared<std::vector<std::string>>();
  auto type = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>();
  cmd->add_option("NAME|ID", *names, "Objects to inspect")->required();
  cmd->add_option("-f,--format", *format, "Format the output using the given Go template");
  cmd->add_option("--type", *type, "Return JSON for specified type")
      ->check(CLI::IsMember({"container", "image", "network", "volume"}));
  set_action(cmd, [&global, names, type, format] {
    ImageStore store = global.store();
    ContainerStore containers(global.root);
    NetworkStore networks = global.networks();
    VolumeStore volumes(global.root);
    auto not_found = [](const Error& e) {
      std::string m = e.what();
      return m.rfind("No such ", 0) == 0 || m.find("not found") != std::string::npos;
    };
    // As Docker: a container by that name or ID first, then an image, a network, a volume.
    const std::vector<std::pair<std::string, std::function<nlohmann::ordered_json(const std::string&)>>> kinds = {
        {"container", [&](const std::string& n) { return inspect_container(store, containers, containers.resolve(n)); }},
        {"image", [&](const std::string& n) { return inspect_image(store, store.resolve_image(n)); }},
        {"network", [&](const std::string& n) { return inspect_network(networks, containers, networks.get(n)); }},
        {"volume",
         [&](const std::string& n) {
           if (!volumes.exists(n)) throw Error("No such volume: " + n);
           return volumes.inspect(n);
         }},
    };
    return print_inspected_as(*format, *names, [&](const std::string& name) {
      for (const auto& [kind, describe] : kinds) {
        if (!type->empty() && *type != kind) continue;
        try {
          return describe(name);
        } catch (const Error& e) {
          if (!not_found(e)) throw;
        }
      }
      if (!type->empty()) throw Error("No such " + *type + ": " + name);
      throw Error("No such object: " + name);
    });
  });
}

}  // namespace cppcker::cli
