// cppcker inspect: low-level information on images, as JSON.
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/image/inspect.hpp"
#include "cppcker/runtime/inspect.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

void register_inspect(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("inspect", "Return low-level information on containers and images");
  auto names = std::make_shared<std::vector<std::string>>();
  auto type = std::make_shared<std::string>();
  cmd->add_option("NAME|ID", *names, "Objects to inspect")->required();
  cmd->add_option("--type", *type, "Only inspect objects of this type")->check(CLI::IsMember({"container", "image"}));
  set_action(cmd, [&global, names, type] {
    ImageStore store = global.store();
    ContainerStore containers(global.root);
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    std::vector<std::string> missing;
    auto not_found = [](const Error& e) {
      std::string m = e.what();
      return m.rfind("No such image", 0) == 0 || m.rfind("No such container", 0) == 0;
    };
    for (const auto& name : *names) {
      // As Docker: a container by that name or ID first, then an image.
      if (*type != "image") {
        try {
          out.push_back(inspect_container(store, containers, containers.resolve(name)));
          continue;
        } catch (const Error& e) {
          if (!not_found(e)) throw;
        }
      }
      if (*type == "container") {
        missing.push_back(name);
        continue;
      }
      try {
        out.push_back(inspect_image(store, store.resolve_image(name)));
      } catch (const Error& e) {
        if (not_found(e)) missing.push_back(name);
        else throw;
      }
    }
    std::cout << out.dump(4) << "\n";
    std::cout.flush();
    for (const auto& m : missing) std::cerr << "Error: No such object: " << m << "\n";
    return missing.empty() ? 0 : 1;
  });
}

}  // namespace cppcker::cli
