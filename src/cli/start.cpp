// cppcker start: start stopped containers again (detached), with their own filesystem and settings;
// with -a (and -i) in the foreground, as `run` without -d.
#include <unistd.h>

#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/run.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

void register_start(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("start", "Start one or more stopped containers");
  auto names = std::make_shared<std::vector<std::string>>();
  auto attach = std::make_shared<bool>(false);
  auto interactive = std::make_shared<bool>(false);
  cmd->add_flag("-a,--attach", *attach, "Attach STDOUT/STDERR and forward signals");
  cmd->add_flag("-i,--interactive", *interactive, "Attach container's STDIN");
  cmd->add_option("CONTAINER", *names, "Containers to start")->required();
  set_action(cmd, [&global, names, attach, interactive] {
    ContainerStore containers(global.root);
    ImageStore images = global.store();
    NetworkStore networks = global.networks();
    if (*attach || *interactive) {
      // As Docker's CLI: -i attaches too, and one container at a time.
      if (names->size() > 1) throw Error("you cannot start and attach multiple containers at once");
      Container c = containers.resolve(names->front());
      const std::string status = ContainerStore::observed_state(c).status;
      if (status == "running" || status == "restarting")
        throw Error("container " + c.id + " is already running: cppcker keeps no stream to attach to (see `cppcker logs -f`)");
      if (c.spec.tty && c.spec.interactive && *interactive && !::isatty(0)) throw Error("the input device is not a TTY");
      return start_again_attached(images, containers, networks, c, *interactive);
    }
    return for_each_argument(*names, [&](const std::string& name) {
      Container c = containers.resolve(name);
      // One waiting out its restart back-off has a monitor that starts it: nothing to do, as in Docker.
      const std::string status = ContainerStore::observed_state(c).status;
      if (status != "running" && status != "restarting") start_again(images, containers, networks, c);
      std::cout << name << "\n";
    });
  });
}

}  // namespace cppcker::cli
