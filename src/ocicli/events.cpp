// events [--stats] [--interval 5s] ID: the container's cgroup stats as runc's events print them (one
// {"type":"stats","id":ID,"data":...} line), every interval until the container stops, and "oom" events.
#include <iostream>
#include <thread>

#include "cppcker/ocicli/ocicli.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::ocicli {

namespace {
void emit(const std::string& type, const std::string& id, const std::optional<nlohmann::json>& data) {
  nlohmann::ordered_json event = {{"type", type}, {"id", id}};
  if (data) event["data"] = *data;
  std::cout << event.dump() << std::endl;  // a line at a time: the reader acts on each event
}
}  // namespace

void register_events(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("events", "display container events such as OOM notifications, cpu, memory, and IO usage statistics");
  auto args = std::make_shared<std::vector<std::string>>();
  auto interval = std::make_shared<std::string>("5s");
  auto stats = std::make_shared<bool>(false);
  cmd->add_option("--interval", *interval, "set the stats collection interval")->capture_default_str();
  cmd->add_flag("--stats", *stats, "display the container's stats then exit");
  cmd->add_option("container-id", *args, "the container's id");
  set_action(cmd, [&g, args, interval, stats] {
    check_args(g, "events", args->size(), 1, '=');
    auto period = parse_duration(*interval);
    if (period.count() <= 0) throw Error("duration interval must be greater than 0");
    BundleStore store = g.store();
    BundleRecord record = store.get(args->front());
    std::string status = store.status(record);
    if (status == "stopped" || status == "creating")
      throw Error("container with id " + record.id + " is not running");
    auto cgroup = make_cgroup(record.cgroup);
    if (*stats) {
      emit("stats", record.id, runc_stats_json(cgroup->stats()));
      return 0;
    }
    bool oom_seen = cgroup->oom_killed();
    for (;;) {
      std::this_thread::sleep_for(period);
      if (store.status(record) == "stopped" || !store.load(record.id)) return 0;
      bool oom = cgroup->oom_killed();
      if (oom && !oom_seen) emit("oom", record.id, std::nullopt);
      oom_seen = oom;
      emit("stats", record.id, runc_stats_json(cgroup->stats()));
    }
  });
}

}  // namespace cppcker::ocicli
