// cppcker kill: send a signal to running containers.
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

void register_kill(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("kill", "Kill one or more running containers");
  auto names = std::make_shared<std::vector<std::string>>();
  auto signal = std::make_shared<std::string>("KILL");
  cmd->add_option("CONTAINER", *names, "Containers to signal")->required();
  cmd->add_option("-s,--signal", *signal, "Signal to send to the container");
  set_action(cmd, [&global, names, signal] {
    ContainerStore store(global.root);
    int sig = parse_signal(*signal);
    return for_each_argument(*names, [&](const std::string& name) {
      Container c = store.resolve(name);
      try {
        kill_container(store, c, sig);
      } catch (const Error& e) {
        throw Error("Cannot kill container: " + name + ": " + e.what(), e.exit_code());
      }
      std::cout << name << "\n";
    });
  });
}

}  // namespace cppcker::cli
