// cppcker system: df (disk usage of images, containers, volumes) and prune (everything unused at once);
// also the prompt and report layout every prune command shares (cli/prune.hpp).
#include <iostream>
#include <set>

#include "cppcker/cli/commands.hpp"
#include "cppcker/cli/formatting.hpp"
#include "cppcker/cli/prune.hpp"
#include "cppcker/image/catalog.hpp"
#include "cppcker/runtime/housekeeping.hpp"
#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

bool confirm_prune(const std::string& what) {
  std::cout << "WARNING! " << what << "\nAre you sure you want to continue? [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y";
}

std::string prune_section(const std::string& title, const std::vector<std::string>& lines) {
  if (lines.empty()) return "";
  std::string out = title + "\n";
  for (const auto& l : lines) out += l + "\n";
  return out + "\n";
}

std::string reclaimed_line(std::uint64_t bytes) {
  return "Total reclaimed space: " + human_size4(static_cast<double>(bytes)) + "\n";
}

namespace {

std::string ago(const std::string& rfc3339) {
  auto t = parse_rfc3339(rfc3339);
  return t ? human_duration(now() - *t) + " ago" : "N/A";
}

// Docker's df -v COMMAND: quoted, cut to 20 characters with an ellipsis.
std::string quoted_command(const Container& c) {
  std::string command;
  for (const auto& a : c.argv()) command += (command.empty() ? "" : " ") + a;
  if (command.size() > 20) command = command.substr(0, 19) + "…";
  return "\"" + command + "\"";
}

int system_df(const GlobalOptions& global, bool verbose, const std::string& format) {
  ImageStore images = global.store();
  ContainerStore containers(global.root);
  VolumeStore volumes(global.root);
  const auto image_list = images.list_images();
  const auto container_list = containers.list();
  std::set<std::string> used_images;
  std::map<std::string, std::size_t> image_containers;
  for (const auto& c : container_list) {
    used_images.insert(c.spec.image_id);
    ++image_containers[c.spec.image_id];
  }
  std::vector<ContainerUsage> container_usage;
  for (const auto& c : container_list)
    container_usage.push_back({c.id, ContainerStore::observed_state(c).status == "running",
                               tree_size(containers.dir(c.id) / "upper")});
  std::map<std::string, std::size_t> links;
  for (const auto& c : container_list)
    for (const auto& m : c.spec.mounts)
      if (m.type == "volume") ++links[m.source];
  std::vector<VolumeUsage> volume_usage;
  for (const auto& v : volumes.list()) volume_usage.push_back({v, links[v], tree_size(volumes.data_path(v))});
  const auto lines = disk_usage(image_list, used_images, container_usage, volume_usage);

  if (!verbose) {
    std::vector<FormatRow> rows;
    for (const auto& l : lines) {
      FormatRow row;
      row.fields = {{"Active", std::to_string(l.active)},
                    {"Reclaimable", reclaimable_text(l)},
                    {"Size", human_size4(static_cast<double>(l.size))},
                    {"TotalCount", std::to_string(l.total)},
                    {"Type", l.type}};
      rows.push_back(std::move(row));
    }
    ListLayout layout{{{"Active", "ACTIVE"}, {"Reclaimable", "RECLAIMABLE"}, {"Size", "SIZE"}, {"TotalCount", "TOTAL"}, {"Type", "TYPE"}},
                      "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"};
    std::cout << render_list(format, layout, rows);
    return 0;
  }
  if (!format.empty()) throw Error("--format and --verbose cannot be combined in cppcker system df", 125);

  // -v: Docker's four tables. An image's shared size is what its layers share with other images.
  std::map<std::string, std::size_t> layer_images;
  for (const auto& i : image_list)
    for (const auto& l : i.layers) ++layer_images[l.chain_id];
  auto names = names_by_image(images.refs());
  std::vector<std::vector<std::string>> rows = {{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"}};
  for (const auto& i : image_list) {
    std::uint64_t shared = 0;
    for (const auto& l : i.layers)
      if (layer_images[l.chain_id] > 1) shared += l.unpacked_size;
    auto add = [&](const std::string& repo, const std::string& tag) {
      rows.push_back({repo, tag, short_id(i.id), ago(i.created), human_size4(static_cast<double>(i.size())),
                      human_size4(static_cast<double>(shared)), human_size4(static_cast<double>(i.size() - shared)),
                      std::to_string(image_containers[i.id])});
    };
    const auto& tags = names[i.id].tags;
    if (tags.empty()) add("<none>", "<none>");
    for (const auto& t : tags) add(t.familiar_name(), t.tag);
  }
  std::cout << "Images space usage:\n\n" << format_table(rows) << "\n";
  rows = {{"CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"}};
  for (std::size_t k = 0; k < container_list.size(); ++k) {
    const Container& c = container_list[k];
    std::size_t local = 0;
    for (const auto& m : c.spec.mounts) local += m.type == "volume";
    rows.push_back({short_id(c.id), c.spec.image, quoted_command(c), std::to_string(local),
                    human_size4(static_cast<double>(container_usage[k].size)), ago(c.state.created),
                    status_text(ContainerStore::observed_state(c)), c.name});
  }
  std::cout << "Containers space usage:\n\n" << format_table(rows) << "\n";
  rows = {{"VOLUME NAME", "LINKS", "SIZE"}};
  for (const auto& v : volume_usage) rows.push_back({v.name, std::to_string(v.links), human_size4(static_cast<double>(v.size))});
  std::cout << "Local Volumes space usage:\n\n" << format_table(rows) << "\n";
  std::cout << "Build cache usage: 0B\n\n"
            << format_table({{"CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"}});
  return 0;
}

}  // namespace

void register_system(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("system", "Manage cppcker");
  cmd->require_subcommand(1);

  auto* df = cmd->add_subcommand("df", "Show cppcker disk usage");
  auto verbose = std::make_shared<bool>(false);
  auto df_format = std::make_shared<std::string>();
  df->add_flag("-v,--verbose", *verbose, "Show detailed information on space usage");
  df->add_option("--format", *df_format, "Pretty-print using a Go template");
  set_action(df, [&global, verbose, df_format] { return system_df(global, *verbose, *df_format); });

  auto* prune = cmd->add_subcommand("prune", "Remove unused data");
  struct Opts {
    bool all = false, force = false, volumes = false;
  };
  auto o = std::make_shared<Opts>();
  prune->add_flag("-a,--all", o->all, "Remove all unused images not just dangling ones");
  prune->add_flag("-f,--force", o->force, "Do not prompt for confirmation");
  prune->add_flag("--volumes", o->volumes, "Prune anonymous volumes");
  set_action(prune, [&global, o] {
    if (!o->force) {
      std::string what = "This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n";
      if (o->volumes) what += "  - all anonymous volumes not used by at least one container\n";
      what += o->all ? "  - all images without at least one container associated to them\n  - all build cache\n"
                     : "  - all dangling images\n  - all dangling build cache\n";
      if (!confirm_prune(what)) return 0;
    }
    ImageStore images = global.store();
    ContainerStore containers(global.root);
    NetworkStore networks = global.networks();
    std::uint64_t reclaimed = 0;
    PruneReport removed = prune_containers(containers, networks, {});
    reclaimed += removed.reclaimed;
    std::cout << prune_section("Deleted Containers:", removed.deleted) << std::flush;
    std::cout << prune_section("Deleted Networks:", networks.prune()) << std::flush;
    if (o->volumes) {
      PruneReport volumes = prune_volumes(containers, /*all=*/false);
      reclaimed += volumes.reclaimed;
      std::cout << prune_section("Deleted Volumes:", volumes.deleted) << std::flush;
    }
    ImagePruneResult pruned = prune_images(images, o->all, image_users(containers));
    reclaimed += pruned.reclaimed;
    std::vector<std::string> events;
    for (const auto& e : pruned.events)
      events.push_back((e.kind == RemovalEvent::Kind::untagged ? "untagged: " : "deleted: ") + e.what);
    std::cout << prune_section("Deleted Images:", events) << reclaimed_line(reclaimed);
    return 0;
  });
}

}  // namespace cppcker::cli
