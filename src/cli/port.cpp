// cppcker port: list a container's published ports, or the host side of one of them.
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

void register_port(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("port", "List port mappings or a specific mapping for the container");
  auto name = std::make_shared<std::string>();
  auto wanted = std::make_shared<std::string>();
  cmd->add_option("CONTAINER", *name, "Container")->required();
  cmd->add_option("PRIVATE_PORT", *wanted, "Container port, with /tcp or /udp");
  set_action(cmd, [&global, name, wanted] {
    ContainerStore containers(global.root);
    Container c = containers.resolve(*name);
    ContainerState s = ContainerStore::observed_state(c);
    std::vector<PortBinding> ports;
    if (s.status == "running" && s.net) ports = s.net->ports;
    if (wanted->empty()) {
      for (const auto& p : ports)
        std::cout << p.container_key() << " -> " << p.shown_host_ip() << ":" << p.host_port << "\n";
      return 0;
    }
    std::string key = wanted->find('/') == std::string::npos ? *wanted + "/tcp" : *wanted;
    bool found = false;
    for (const auto& p : ports)
      if (p.container_key() == key) {
        std::cout << p.shown_host_ip() << ":" << p.host_port << "\n";
        found = true;
      }
    if (!found) throw Error("No public port '" + key + "' published for " + *name);
    return 0;
  });
}

}  // namespace cppcker::cli
