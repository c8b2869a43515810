// cppcker network: create, list, inspect, remove and prune networks.
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/cli/formatting.hpp"
#include "cppcker/format/filter.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/runtime/networking.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

nlohmann::ordered_json inspect_network(const NetworkStore& networks, const ContainerStore& containers,
                                       const NetworkRecord& n) {
  nlohmann::ordered_json members = nlohmann::ordered_json::object();
  for (const auto& [ip, id] : networks.members(n.name)) {
    auto c = containers.load(id);
    const Endpoint* e = c ? endpoint_on(c->state, n.name) : nullptr;  // its endpoint on this network
    if (!e) continue;
    members[id] = {{"Name", c->name}, {"MacAddress", e->mac}, {"IPv4Address", e->address.str()}, {"IPv6Address", ""}};
  }
  const bool bridged = n.driver == "bridge";
  return {{"Name", n.name},
          {"Id", n.id},
          {"Created", n.created},
          {"Scope", "local"},
          {"Driver", n.driver},
          {"EnableIPv6", false},
          {"IPAM",
           {{"Driver", "default"},
            {"Options", nullptr},
            {"Config", bridged ? nlohmann::ordered_json{{{"Subnet", n.gateway.network_str()},
                                                          {"Gateway", format_ipv4(n.gateway.address)}}}
                               : nlohmann::ordered_json::array()}}},
          {"Internal", false},
          {"Attachable", false},
          {"Containers", members},
          {"Options", bridged ? nlohmann::ordered_json{{"com.docker.network.bridge.name", n.bridge}}
                              : nlohmann::ordered_json::object()},
          {"Labels", nlohmann::ordered_json::object()}};
}

void register_network(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("network", "Manage networks");
  cmd->require_subcommand(1);

  auto* create = cmd->add_subcommand("create", "Create a network");
  struct CreateOpts {
    std::string name, subnet, gateway, driver = "bridge";
  };
  auto co = std::make_shared<CreateOpts>();
  create->add_option("NETWORK", co->name, "Name")->required();
  create->add_option("--subnet", co->subnet, "Subnet in CIDR format that represents a network segment");
  create->add_option("--gateway", co->gateway, "IPv4 gateway for the subnet");
  create->add_option("-d,--driver", co->driver, "Driver to manage the network (bridge)");
  set_action(create, [&global, co] {
    if (co->driver != "bridge") throw Error("plugin \"" + co->driver + "\" not found");
    std::cout << global.networks().create(co->name, co->subnet, co->gateway).id << "\n";
    return 0;
  });

  auto* ls = cmd->add_subcommand("ls", "List networks");
  auto quiet = std::make_shared<bool>(false);
  auto no_trunc = std::make_shared<bool>(false);
  auto ls_format = std::make_shared<std::string>();
  auto ls_filters = std::make_shared<std::vector<std::string>>();
  ls->add_flag("-q,--quiet", *quiet, "Only display network IDs");
  ls->add_flag("--no-trunc", *no_trunc, "Do not truncate the output");
  ls->add_option("-f,--filter", *ls_filters, "Provide filter values (e.g. 'driver=bridge')")->allow_extra_args(false);
  ls->add_option("--format", *ls_format,
                 "Format output: \"table\" (default), \"json\" (one object per line), \"table TEMPLATE\" or a Go template");
  set_action(ls, [&global, quiet, no_trunc, ls_format, ls_filters] {
    auto filters = format::Filters::parse(*ls_filters, {"id", "name", "label", "driver", "type", "scope"});
    for (const auto& t : filters.values("type"))
      if (t != "custom" && t != "builtin") throw Error("invalid filter: 'type'='" + t + "'", 1);
    std::vector<FormatRow> rows;
    for (const auto& n : global.networks().list()) {
      // Networks keep no labels yet: a label filter matches none.
      if (!filters.match_prefix("id", n.id) || !filters.match_regex("name", n.name) || !filters.match_labels({}) ||
          !filters.match_exact("driver", n.driver) || !filters.match_exact("scope", "local") ||
          !filters.match_exact("type", n.builtin ? "builtin" : "custom"))
        continue;
      FormatRow row;
      row.fields = {{"CreatedAt", created_at_text(n.created)},
                    {"Driver", n.driver},
                    {"ID", *no_trunc ? n.id : n.id.substr(0, 12)},
                    {"IPv6", "false"},
                    {"Internal", "false"},
                    {"Labels", ""},
                    {"Name", n.name},
                    {"Scope", "local"}};
      rows.push_back(std::move(row));
    }
    ListLayout layout{{{"CreatedAt", "CREATED AT"},
                       {"Driver", "DRIVER"},
                       {"ID", "NETWORK ID"},
                       {"IPv6", "IPV6"},
                       {"Internal", "INTERNAL"},
                       {"Labels", "LABELS"},
                       {"Name", "NAME"},
                       {"Scope", "SCOPE"}},
                      "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"};
    std::string format = *ls_format;
    if (*quiet && (format.empty() || format == "table")) format = "{{.ID}}";
    std::cout << render_list(format, layout, rows);
    return 0;
  });

  auto* inspect = cmd->add_subcommand("inspect", "Display detailed information on one or more networks");
  auto inspect_names = std::make_shared<std::vector<std::string>>();
  auto inspect_format = std::make_shared<std::string>();
  inspect->add_option("NETWORK", *inspect_names, "Networks")->required();
  inspect->add_option("-f,--format", *inspect_format, "Format the output using the given Go template");
  set_action(inspect, [&global, inspect_names, inspect_format] {
    NetworkStore networks = global.networks();
    ContainerStore containers(global.root);
    return print_inspected_as(*inspect_format, *inspect_names, [&](const std::string& n) {
      return inspect_network(networks, containers, networks.get(n));
    });
  });

  auto* connect = cmd->add_subcommand("connect", "Connect a container to a network");
  struct ConnectOpts {
    std::string network, container, ip;
    std::vector<std::string> aliases;
  };
  auto cn = std::make_shared<ConnectOpts>();
  connect->add_option("NETWORK", cn->network, "Network")->required();
  connect->add_option("CONTAINER", cn->container, "Container")->required();
  connect->add_option("--ip", cn->ip, "IPv4 address (e.g., 172.30.100.104)");
  connect->add_option("--alias", cn->aliases, "Add network-scoped alias for the container")->allow_extra_args(false);
  set_action(connect, [&global, cn] {
    ContainerStore containers(global.root);
    connect_network(global.networks(), containers, cn->container, {cn->network, cn->ip, cn->aliases});
    return 0;
  });

  auto* disconnect = cmd->add_subcommand("disconnect", "Disconnect a container from a network");
  struct DisconnectOpts {
    std::string network, container;
    bool force = false;
  };
  auto dn = std::make_shared<DisconnectOpts>();
  disconnect->add_option("NETWORK", dn->network, "Network")->required();
  disconnect->add_option("CONTAINER", dn->container, "Container")->required();
  // Docker's -f matters for swarm endpoints only; accepted for scripts that pass it.
  disconnect->add_flag("-f,--force", dn->force, "Force the container to disconnect from a network");
  set_action(disconnect, [&global, dn] {
    ContainerStore containers(global.root);
    disconnect_network(global.networks(), containers, dn->container, dn->network);
    return 0;
  });

  auto* rm = cmd->add_subcommand("rm", "Remove one or more networks");
  auto rm_names = std::make_shared<std::vector<std::string>>();
  rm->add_option("NETWORK", *rm_names, "Networks")->required();
  set_action(rm, [&global, rm_names] {
    NetworkStore networks = global.networks();
    return for_each_argument(*rm_names, [&](const std::string& n) {
      networks.remove(n);
      std::cout << n << "\n";
    });
  });

  auto* prune = cmd->add_subcommand("prune", "Remove all unused networks (and the default bridge's device and NAT table when unused)");
  auto force = std::make_shared<bool>(false);
  prune->add_flag("-f,--force", *force, "Do not prompt for confirmation");
  set_action(prune, [&global, force] {
    if (!*force) {
      std::cout << "WARNING! This will remove all custom networks not used by at least one container.\n"
                   "Are you sure you want to continue? [y/N] "
                << std::flush;
      std::string answer;
      std::getline(std::cin, answer);
      if (answer != "y" && answer != "Y") return 0;
    }
    auto removed = global.networks().prune();
    if (!removed.empty()) {
      std::cout << "Deleted Networks:\n";
      for (const auto& n : removed) std::cout << n << "\n";
    }
    return 0;
  });
}

}  // namespace cppcker::cli
