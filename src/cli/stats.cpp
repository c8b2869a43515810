// cppcker stats: live resource usage of containers from their cgroups (Docker's columns and arithmetic).
#include <cstdio>
#include <iostream>
#include <thread>

#include "cppcker/cli/commands.hpp"
#include "cppcker/cli/formatting.hpp"
#include "cppcker/runtime/housekeeping.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

namespace {

struct Watched {
  Container c;
  std::optional<StatsSample> previous;  // nullopt while it is not running
};

std::string percent(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", p);
  return buf;
}

FormatRow stats_row(const Watched& w, const std::optional<StatsSample>& now, bool no_trunc) {
  FormatRow row;
  const StatsSample s = now.value_or(StatsSample{});
  const double cpu = now && w.previous ? cpu_percent(*w.previous, *now) : 0.0;
  auto pair = [](std::uint64_t a, std::uint64_t b) {
    return human_size(static_cast<double>(a)) + " / " + human_size(static_cast<double>(b));
  };
  row.fields = {{"BlockIO", pair(s.blk_read, s.blk_write)},
                {"CPUPerc", percent(cpu)},
                {"Container", no_trunc ? w.c.id : short_id(w.c.id)},
                {"ID", no_trunc ? w.c.id : short_id(w.c.id)},
                {"MemPerc", percent(memory_percent(s))},
                {"MemUsage", binary_size(static_cast<double>(s.mem_usage)) + " / " + binary_size(static_cast<double>(s.mem_limit))},
                {"Name", w.c.name},
                {"NetIO", pair(s.net_rx, s.net_tx)},
                {"PIDs", std::to_string(s.pids)}};
  return row;
}

const ListLayout kLayout{{{"BlockIO", "BLOCK I/O"},
                          {"CPUPerc", "CPU %"},
                          {"Container", "CONTAINER"},
                          {"ID", "CONTAINER ID"},
                          {"MemPerc", "MEM %"},
                          {"MemUsage", "MEM USAGE / LIMIT"},
                          {"Name", "NAME"},
                          {"NetIO", "NET I/O"},
                          {"PIDs", "PIDS"}},
                         "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"};

bool running(const Container& c) { return ContainerStore::observed_state(c).status == "running"; }

// A sample, or nullopt for a container that is not running (or stopped between the listing and now).
std::optional<StatsSample> sample(const Container& c) {
  if (!running(c)) return std::nullopt;
  try {
    return sample_stats(c);
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace

void register_stats(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("stats", "Display a live stream of container(s) resource usage statistics");
  struct Opts {
    bool all = false, no_stream = false, no_trunc = false;
    std::string format;
    std::vector<std::string> names;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_flag("-a,--all", o->all, "Show all containers (default shows just running)");
  cmd->add_flag("--no-stream", o->no_stream, "Disable streaming stats and only pull the first result");
  cmd->add_flag("--no-trunc", o->no_trunc, "Do not truncate output");
  cmd->add_option("--format", o->format, "Pretty-print stats using a Go template");
  cmd->add_option("CONTAINER", o->names, "Containers (default: the running ones)");
  set_action(cmd, [&global, o] {
    ContainerStore store(global.root);
    // The containers named (each must exist, as Docker checks), else the running ones (all with -a),
    // looked up again at every refresh so that new ones show up.
    auto listing = [&] {
      std::vector<Container> out;
      if (!o->names.empty()) {
        for (const auto& n : o->names) {
          auto c = store.load(store.resolve(n).id);
          if (c) out.push_back(*c);
        }
      } else {
        for (auto& c : store.list())
          if (o->all || running(c)) out.push_back(std::move(c));
      }
      return out;
    };
    std::vector<Watched> watched;
    for (auto& c : listing()) watched.push_back({c, sample(c)});
    for (;;) {
      // CPU % needs two samples, a second apart, as Docker's one-shot result has them.
      std::this_thread::sleep_for(std::chrono::seconds(1));
      std::vector<FormatRow> rows;
      std::vector<Watched> next;
      std::vector<Container> current = o->no_stream ? std::vector<Container>{} : listing();
      if (o->no_stream) for (const auto& w : watched) current.push_back(w.c);
      for (auto& c : current) {
        std::optional<StatsSample> now = sample(c);
        Watched w{c, std::nullopt};
        for (const auto& old : watched)
          if (old.c.id == c.id) w.previous = old.previous;
        rows.push_back(stats_row(w, now, o->no_trunc));
        next.push_back({c, now});
      }
      if (!o->no_stream) std::cout << "\033[2J\033[H";  // Docker's clear-screen between refreshes
      std::cout << render_list(o->format, kLayout, rows);
      std::cout.flush();
      if (o->no_stream) return 0;
      watched = std::move(next);
    }
  });
}

}  // namespace cppcker::cli
