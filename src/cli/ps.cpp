// cppcker ps: list containers.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker::cli {

namespace {
// Docker's COMMAND column: the command quoted, cut to 20 characters with an ellipsis.
std::string command_column(const Container& c, bool no_trunc) {
  std::string cmd;
  for (const auto& a : c.argv()) cmd += (cmd.empty() ? "" : " ") + a;
  if (!no_trunc && cmd.size() > 20) cmd = cmd.substr(0, 19) + "…";
  return "\"" + cmd + "\"";
}
}  // namespace

void register_ps(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("ps", "List containers");
  struct Opts {
    bool all = false, quiet = false, no_trunc = false;
    std::string format;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_flag("-a,--all", o->all, "Show all containers (default shows just running)");
  cmd->add_flag("-q,--quiet", o->quiet, "Only display container IDs");
  cmd->add_flag("--no-trunc", o->no_trunc, "Don't truncate output");
  cmd->add_option("--format", o->format, "Format output: \"table\" (default) or \"json\" (one object per line)")
      ->check(CLI::IsMember({"table", "json"}));
  set_action(cmd, [&global, o] {
    ContainerStore store(global.root);
    std::vector<std::vector<std::string>> table = {{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}};
    for (const auto& c : store.list()) {
      ContainerState s = ContainerStore::observed_state(c);
      if (!o->all && s.status != "running") continue;
      std::string id = o->no_trunc ? c.id : c.id.substr(0, 12);
      if (o->quiet) {
        std::cout << id << "\n";
        continue;
      }
      auto created = parse_rfc3339(c.state.created);
      std::string since = created ? human_duration(now() - *created) + " ago" : "";
      if (o->format == "json") {
        std::cout << nlohmann::json{{"ID", id}, {"Image", c.spec.image}, {"Command", command_column(c, o->no_trunc)},
                                    {"CreatedAt", c.state.created}, {"RunningFor", since}, {"Status", status_text(s)},
                                    {"State", s.status}, {"Ports", ports_text(s)}, {"Names", c.name}}
                         .dump()
                  << "\n";
        continue;
      }
      table.push_back({id, c.spec.image, command_column(c, o->no_trunc), since, status_text(s), ports_text(s), c.name});
    }
    if (!o->quiet && o->format != "json") std::cout << format_table(table);
    return 0;
  });
}

}  // namespace cppcker::cli
