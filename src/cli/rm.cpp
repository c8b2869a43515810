// cppcker rm: remove containers.
#include <iostream>
#include <optional>

#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

namespace {
// Whether `text` is a name, ID or ID prefix of any container (an ambiguous prefix is not "no such").
bool names_some_container(const ContainerStore& store, const std::string& text) {
  std::string key = !text.empty() && text.front() == '/' ? text.substr(1) : text;
  for (const auto& c : store.list())
    if (c.name == key || (!key.empty() && c.id.compare(0, key.size(), key) == 0)) return true;
  return false;
}
}  // namespace

void register_rm(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("rm", "Remove one or more containers");
  auto names = std::make_shared<std::vector<std::string>>();
  auto force = std::make_shared<bool>(false);
  auto volumes = std::make_shared<bool>(false);
  cmd->add_option("CONTAINER", *names, "Containers to remove")->required();
  cmd->add_flag("-f,--force", *force, "Force the removal of a running container (uses SIGKILL)");
  cmd->add_flag("-v,--volumes", *volumes, "Remove anonymous volumes associated with the container");
  set_action(cmd, [&global, names, force, volumes] {
    ContainerStore store(global.root);
    NetworkStore networks = global.networks();
    return for_each_argument(*names, [&](const std::string& name) {
      std::optional<Container> c;
      try {
        c = store.resolve(name);
      } catch (const Error&) {
        // Docker 20.10: with --force a container that does not exist is no failure; the message stays.
        if (!*force || names_some_container(store, name)) throw;
        std::cout.flush();
        std::cerr << "Error: No such container: " << name << "\n";
        return;
      }
      remove_container(store, networks, *c, *force, *volumes);
      std::cout << name << "\n";
    });
  });
}

}  // namespace cppcker::cli
