// cppcker logs: what a detached container wrote.
#include <deque>
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker::cli {

namespace {
// Docker's RFC3339NanoFixed: always nine digits of fraction, so that the columns line up.
std::string fixed_time(const std::string& time) {
  auto t = parse_rfc3339(time);
  if (!t) return time;
  std::string text = format_rfc3339(TimePoint(std::chrono::seconds(
      std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()))));
  auto frac = (t->time_since_epoch() % std::chrono::seconds(1)).count();
  char buf[16];
  std::snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(frac));
  return text.substr(0, text.size() - 1) + buf + "Z";
}
}  // namespace

void register_logs(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("logs", "Fetch the logs of a container");
  auto name = std::make_shared<std::string>();
  auto follow = std::make_shared<bool>(false);
  auto timestamps = std::make_shared<bool>(false);
  auto tail = std::make_shared<std::string>("all");
  auto since = std::make_shared<std::string>();
  auto until = std::make_shared<std::string>();
  cmd->add_option("CONTAINER", *name, "Container")->required();
  cmd->add_flag("-f,--follow", *follow, "Follow log output");
  cmd->add_flag("-t,--timestamps", *timestamps, "Show timestamps");
  cmd->add_option("-n,--tail", *tail, "Number of lines to show from the end of the logs (or \"all\")");
  cmd->add_option("--since", *since, "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)");
  cmd->add_option("--until", *until, "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)");
  set_action(cmd, [&global, name, follow, timestamps, tail, since, until] {
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
    // Both read against the same moment; the epoch (as "0") sets no limit.
    const TimePoint reference = now();
    std::optional<TimePoint> from, to;
    if (!since->empty()) from = parse_log_time(*since, reference);
    if (!until->empty()) to = parse_log_time(*until, reference);
    if (from && from->time_since_epoch().count() == 0) from.reset();
    if (to && to->time_since_epoch().count() == 0) to.reset();
    auto print = [&](const LogLine& l) {
      if (from || to) {
        // As Docker: entries before --since and after --until are left out.
        auto t = parse_rfc3339(l.time);
        if (!t || (from && *t < *from) || (to && *t > *to)) return;
      }
      std::ostream& out = l.stream == "stderr" ? std::cerr : std::cout;
      if (*timestamps) out << fixed_time(l.time) << " ";
      out << l.text;
      out.flush();
    };
    // --tail applies to what is there now (before --since/--until, as Docker's json-file reader does);
    // lines that come later (with -f) all follow.
    std::deque<LogLine> last;
    bool initial = true;
    auto running = [&] {
      if (initial && keep >= 0) {
        for (const auto& l : last) print(l);
        last.clear();
      }
      initial = false;
      // Following ends at --until: nothing later would be shown.
      if (to && now() > *to) return false;
      auto fresh = store.load(c.id);
      if (!fresh) return false;
      const std::string status = ContainerStore::observed_state(*fresh).status;
      return status == "running" || status == "restarting";
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
