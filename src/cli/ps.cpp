// cppcker ps: list containers.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "cppcker/cli/commands.hpp"
#include "cppcker/cli/formatting.hpp"
#include "cppcker/format/filter.hpp"
#include "cppcker/format/template.hpp"
#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/runtime/networking.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker::cli {

namespace {
// Docker's COMMAND column: the command cut to 20 characters with an ellipsis, then quoted as Go's
// strconv.Quote does (a newline in an argument stays on the row as \n).
std::string command_column(const Container& c, bool no_trunc) {
  std::string cmd;
  for (const auto& a : c.argv()) cmd += (cmd.empty() ? "" : " ") + a;
  if (!no_trunc && cmd.size() > 20) cmd = cmd.substr(0, 19) + "…";
  return format::go_quote(cmd);
}

// Docker's Ellipsis(s, 15) for the MOUNTS column.
std::string ellipsis(const std::string& s, std::size_t width) {
  std::size_t runes = 0, cut = s.size();
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xc0) == 0x80) continue;
    if (runes == width - 1) cut = i;
    ++runes;
  }
  return runes <= width ? s : s.substr(0, cut) + "…";
}

// A ports filter value: "80", "80/udp", "8000-8010/tcp" -> {"80/tcp"}, ...
std::set<std::string> port_keys(const std::string& value) {
  std::string range = value, proto = "tcp";
  if (auto slash = value.find('/'); slash != std::string::npos) {
    range = value.substr(0, slash);
    proto = value.substr(slash + 1);
  }
  auto dash = range.find('-');
  try {
    std::size_t used = 0;
    int first = std::stoi(range.substr(0, dash), &used);
    int last = dash == std::string::npos ? first : std::stoi(range.substr(dash + 1));
    if (first < 0 || last > 65535 || last < first || (proto != "tcp" && proto != "udp" && proto != "sctp")) throw 0;
    std::set<std::string> keys;
    for (int p = first; p <= last; ++p) keys.insert(std::to_string(p) + "/" + proto);
    return keys;
  } catch (...) {
    throw Error("invalid filter value: invalid port " + value, 1);
  }
}

const std::set<std::string> kStatuses = {"created", "restarting", "running", "removing", "paused", "exited", "dead"};
const std::set<std::string> kHealth = {"starting", "healthy", "unhealthy", "none"};

}  // namespace

void register_ps(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("ps", "List containers");
  struct Opts {
    bool all = false, quiet = false, no_trunc = false, latest = false, size = false;
    int last = -1;
    std::string format;
    std::vector<std::string> filters;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_flag("-a,--all", o->all, "Show all containers (default shows just running)");
  cmd->add_flag("-q,--quiet", o->quiet, "Only display container IDs");
  cmd->add_flag("--no-trunc", o->no_trunc, "Don't truncate output");
  cmd->add_flag("-l,--latest", o->latest, "Show the latest created container (includes all states)");
  cmd->add_option("-n,--last", o->last, "Show n last created containers (includes all states)");
  cmd->add_flag("-s,--size", o->size, "Display total file sizes");
  cmd->add_option("-f,--filter", o->filters, "Filter output based on conditions provided")->allow_extra_args(false);
  cmd->add_option("--format", o->format,
                  "Format output: \"table\" (default), \"json\" (one object per line), \"table TEMPLATE\" or a Go template");
  set_action(cmd, [&global, o] {
    auto filters = format::Filters::parse(o->filters, {"id", "name", "label", "status", "exited", "ancestor", "before",
                                                       "since", "network", "volume", "publish", "expose", "health"});
    for (const auto& v : filters.values("status"))
      if (!kStatuses.count(v)) throw Error("Unrecognised filter value for status: " + v, 1);
    for (const auto& v : filters.values("health"))
      if (!kHealth.count(v)) throw Error("Unrecognised filter value for health: " + v, 1);
    std::vector<int> exit_codes;
    for (const auto& v : filters.values("exited")) {
      try {
        std::size_t used = 0;
        exit_codes.push_back(std::stoi(v, &used));
        if (used != v.size()) throw 0;
      } catch (...) {
        throw Error("invalid filter 'exited=" + v + "'", 1);
      }
    }
    ContainerStore store(global.root);
    auto containers = store.list();
    // Docker lists the newest first.
    std::stable_sort(containers.begin(), containers.end(), [](const Container& a, const Container& b) {
      auto ta = parse_rfc3339(a.state.created), tb = parse_rfc3339(b.state.created);
      return ta && tb ? *ta > *tb : a.state.created > b.state.created;
    });
    // before/since: containers created before / after the named one.
    auto created_of = [&](const std::string& name) {
      auto t = parse_rfc3339(store.resolve(name).state.created);
      return t ? *t : TimePoint{};
    };
    std::optional<TimePoint> before, since;
    for (const auto& v : filters.values("before")) before = created_of(v);
    for (const auto& v : filters.values("since")) since = created_of(v);
    // ancestor: an image by name or ID; one that does not exist matches nothing (Docker only warns).
    std::set<std::string> ancestor_ids;
    if (filters.has("ancestor")) {
      ImageStore images = global.store();
      for (const auto& v : filters.values("ancestor")) {
        try {
          ancestor_ids.insert(images.resolve_image(v));
        } catch (const Error&) {
        }
      }
    }
    // Any status, exited or health filter (and -n, -l) shows stopped containers too, as in Docker.
    bool all = o->all || filters.has("status") || filters.has("exited") || o->latest || o->last >= 0;
    std::size_t limit = o->latest ? 1 : o->last >= 0 ? static_cast<std::size_t>(o->last) : SIZE_MAX;

    // As Docker, a template that shows .Size gets it computed without -s.
    const bool want_size = o->size || o->format.find(".Size") != std::string::npos;
    std::vector<FormatRow> rows;
    for (const auto& c : containers) {
      if (rows.size() >= limit) break;
      ContainerState s = ContainerStore::observed_state(c);
      if (!all && s.status != "running" && s.status != "restarting") continue;  // Docker counts restarting as running
      auto created = parse_rfc3339(c.state.created);
      if (!filters.match_prefix("id", c.id) || !filters.match_regex("name", c.name) || !filters.match_labels(c.spec.labels) ||
          !filters.match_exact("status", s.paused ? "paused" : s.status))
        continue;
      if (!exit_codes.empty() && (s.status != "exited" ||
                                  std::find(exit_codes.begin(), exit_codes.end(), s.exit_code) == exit_codes.end()))
        continue;
      if (!filters.match_exact("health", s.health.status.empty() ? "none" : s.health.status)) continue;
      if (before && (!created || *created >= *before)) continue;
      if (since && (!created || *created <= *since)) continue;
      if (filters.has("ancestor") && !ancestor_ids.count(c.spec.image_id) &&
          !filters.match_exact("ancestor", c.spec.image))
        continue;
      if (!filters.match("network", [&](const std::string& v) {
            if (c.spec.network == v) return true;
            for (const auto& a : c.spec.extra_networks)
              if (a.network == v) return true;
            for (const auto& e : container_endpoints(s))
              if (e.network == v || (!v.empty() && e.network_id.rfind(v, 0) == 0)) return true;
            return false;
          }))
        continue;
      if (!filters.match("volume", [&](const std::string& v) {
            return std::any_of(c.spec.mounts.begin(), c.spec.mounts.end(),
                               [&](const MountSpec& m) { return m.source == v || m.target == v; });
          }))
        continue;
      auto has_port = [&](const std::string& v) {
        auto keys = port_keys(v);
        return std::any_of(c.spec.ports.begin(), c.spec.ports.end(),
                           [&](const PortBinding& p) { return keys.count(p.container_key()) > 0; });
      };
      if (!filters.match("publish", has_port)) continue;
      if (!filters.match("expose", [&](const std::string& v) {
            if (has_port(v)) return true;
            // --expose'd ports and the image's EXPOSE'd ones count too.
            auto keys = port_keys(v);
            for (const auto& p : c.spec.exposed_ports)
              if (keys.count(p)) return true;
            try {
              auto config = nlohmann::json::parse(global.store().read_blob(c.spec.image_id));
              // Named: items() only refers to the object, which must outlive the loop.
              const auto exposed = config.value("config", nlohmann::json::object()).value("ExposedPorts", nlohmann::json::object());
              for (const auto& [port, _] : exposed.items())
                if (keys.count(port.find('/') == std::string::npos ? port + "/tcp" : port)) return true;
            } catch (const std::exception&) {
            }
            return false;
          }))
        continue;

      std::string id = o->no_trunc ? c.id : c.id.substr(0, 12);
      std::string mounts;
      int local_volumes = 0;
      for (const auto& m : c.spec.mounts) {
        if (m.type == "tmpfs") continue;
        local_volumes += m.type == "volume";
        mounts += (mounts.empty() ? "" : ",") + (o->no_trunc ? m.source : ellipsis(m.source, 15));
      }
      std::string size = "0B";
      if (want_size) {
        std::uint64_t rw = tree_size(store.dir(c.id) / "upper");
        std::uint64_t image = 0;
        if (auto img = global.store().get_image(c.spec.image_id)) image = img->size();
        size = human_size(static_cast<double>(rw)) + " (virtual " + human_size(static_cast<double>(rw + image)) + ")";
      }
      std::string network = c.spec.network.rfind("container:", 0) == 0 ? "" : c.spec.network;
      for (const auto& a : c.spec.extra_networks) network += (network.empty() ? "" : ",") + a.network;
      // Docker's row: every column a string, the keys in sorted order (its JSON is a Go map).
      FormatRow row;
      row.fields = {{"Command", command_column(c, o->no_trunc)},
                    {"CreatedAt", created_at_text(c.state.created)},
                    {"ID", id},
                    {"Image", c.spec.image},
                    {"Labels", labels_text(c.spec.labels)},
                    {"LocalVolumes", std::to_string(local_volumes)},
                    {"Mounts", mounts},
                    {"Names", c.name},
                    {"Networks", network},
                    {"Ports", ports_text(s)},
                    {"RunningFor", created ? human_duration(now() - *created) + " ago" : ""},
                    {"Size", size},
                    {"State", s.status},
                    {"Status", status_text(s)}};
      row.labels = c.spec.labels;
      rows.push_back(std::move(row));
    }
    ListLayout layout{{{"Command", "COMMAND"},
                       {"CreatedAt", "CREATED AT"},
                       {"ID", "CONTAINER ID"},
                       {"Image", "IMAGE"},
                       {"Labels", "LABELS"},
                       {"LocalVolumes", "LOCAL VOLUMES"},
                       {"Mounts", "MOUNTS"},
                       {"Names", "NAMES"},
                       {"Networks", "NETWORKS"},
                       {"Ports", "PORTS"},
                       {"RunningFor", "CREATED"},
                       {"Size", "SIZE"},
                       {"State", "STATE"},
                       {"Status", "STATUS"}},
                      std::string("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}") +
                          (o->size ? "\t{{.Size}}" : "")};
    std::string format = o->format;
    if (o->quiet && (format.empty() || format == "table")) format = "{{.ID}}";
    std::cout << render_list(format, layout, rows);
    return 0;
  });
}

}  // namespace cppcker::cli
