// cppcker top: the host's `ps` output, cut down to the container's processes (as Docker does it).
#include <algorithm>
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/housekeeping.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

void register_top(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("top", "Display the running processes of a container");
  cmd->prefix_command();  // what follows CONTAINER are ps's options, not ours
  cmd->fallthrough(false);
  set_action(cmd, [&global, cmd] {
    std::vector<std::string> rest = cmd->remaining();
    ContainerStore store(global.root);
    Container c = store.resolve(rest.front());
    if (ContainerStore::observed_state(c).status != "running") throw Error("Container " + c.id + " is not running");
    std::vector<std::string> argv(rest.begin() + 1, rest.end());
    if (argv.empty()) argv.push_back("-ef");
    // The pids first: a process that starts between the two reads is left out, never a stranger shown.
    const std::set<pid_t> pids = container_pids(c);
    PsTable table = filter_ps_output(run_host_ps(argv), pids);
    // Docker's CLI lays it out with tabwriter (minimum width 20, padding 3).
    std::vector<std::vector<std::string>> rows = {table.titles};
    rows.insert(rows.end(), table.rows.begin(), table.rows.end());
    std::vector<std::size_t> width;
    for (const auto& r : rows)
      for (std::size_t i = 0; i < r.size(); ++i) {
        if (width.size() <= i) width.resize(i + 1, 0);
        width[i] = std::max(width[i], r[i].size());
      }
    for (const auto& r : rows) {
      std::string line;
      for (std::size_t i = 0; i < r.size(); ++i) {
        line += r[i];
        if (i + 1 < r.size()) line += std::string(std::max<std::size_t>(width[i] + 3, 20) - r[i].size(), ' ');
      }
      std::cout << line << "\n";
    }
    return 0;
  });
}

}  // namespace cppcker::cli
