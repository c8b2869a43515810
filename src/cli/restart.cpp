// cppcker restart: stop (if running), then start again, as Docker's restart.
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/runtime/run.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

void register_restart(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("restart", "Restart one or more containers");
  auto names = std::make_shared<std::vector<std::string>>();
  auto timeout = std::make_shared<int>(-1);
  cmd->add_option("CONTAINER", *names, "Containers to restart")->required();
  cmd->add_option("-t,--time", *timeout, "Seconds to wait for stop before killing the container");
  set_action(cmd, [&global, names, timeout] {
    ContainerStore containers(global.root);
    ImageStore images = global.store();
    NetworkStore networks = global.networks();
    return for_each_argument(*names, [&](const std::string& name) {
      Container c = containers.resolve(name);
      stop_container(containers, c, *timeout >= 0 ? *timeout : c.spec.stop_timeout);
      // The record as the stop left it (its owner recorded the end).
      auto stopped = containers.load(c.id);
      if (!stopped) throw Error("No such container: " + name);
      start_again(images, containers, networks, *stopped);
      std::cout << name << "\n";
    });
  });
}

}  // namespace cppcker::cli
