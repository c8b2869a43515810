// cppcker logs: what a detached container wrote.
#include <deque>
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

void register_logs(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("logs", "Fetch the logs of a container");
  auto name = std::make_shared<std::string>();
  auto follow = std::make_shared<bool>(false);
  auto timestamps = std::make_shared<bool>(false);
  auto tail = std::make_shared<std::string>("all");
  cmd->add_option("CONTAINER", *name, "Container")->required();
  cmd->add_flag("-f,--follow", *follow, "Follow log output");
  cmd->add_flag("-t,--timestamps", *timestamps, "Show timestamps");
  cmd->add_option("-n,--tail", *tail, "Number of lines to show from the end of the logs (or \"all\")");
  set_action(cmd, [&global, name, follow, timestamps, tail] {
    ContainerStore store(global.root);
    Container c = store.resolve(*name);
    long keep = -1;
    if (*tail != "all") {
      try {
        keep = std::stol(*tail);
      } catch (...) {
        throw Error("invalid value for \"tail\": " + *tail, 125);
      }
    }
    auto print = [&](const LogLine& l) {
      std::ostream& out = l.stream == "stderr" ? std::cerr : std::cout;
      if (*timestamps) out << l.time << " ";
      out << l.text;
      out.flush();
    };
    // --tail applies to what is there now; lines that come later (with -f) all follow.
    std::deque<LogLine> last;
    bool initial = true;
    auto running = [&] {
      if (initial && keep >= 0) {
        for (const auto& l : last) print(l);
        last.clear();
      }
      initial = false;
      auto fresh = store.load(c.id);
      return fresh && ContainerStore::observed_state(*fresh).status == "running";
    };
    read_logs(store.dir(c.id) / "container.log", *follow, running, [&](const LogLine& l) {
      if (initial && keep >= 0) {
        last.push_back(l);
        if (static_cast<long>(last.size()) > keep) last.pop_front();
      } else {
        print(l);
      }
    });
    if (initial || !*follow)
      for (const auto& l : last) print(l);
    return 0;
  });
}

}  // namespace cppcker::cli
