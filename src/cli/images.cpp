// cppcker images: list stored images.
#include <algorithm>
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "cppcker/build/cache.hpp"
#include "cppcker/cli/commands.hpp"
#include "cppcker/cli/formatting.hpp"
#include "cppcker/format/filter.hpp"
#include "cppcker/image/catalog.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker::cli {

namespace {

struct Row {
  std::string repository, tag, digest, id, created_since, created_at, size;
  std::uint64_t created_sort = 0;
  std::map<std::string, std::string> labels;
};

// The image config's Labels.
std::map<std::string, std::string> image_labels(const ImageStore& store, const std::string& id) {
  std::map<std::string, std::string> labels;
  auto config = nlohmann::json::parse(store.read_blob(id), nullptr, false);
  if (config.is_object() && config.contains("config") && config["config"].is_object()) {
    const auto& l = config["config"].value("Labels", nlohmann::json::object());
    if (l.is_object())
      for (const auto& [k, v] : l.items())
        if (v.is_string()) labels[k] = v.get<std::string>();
  }
  return labels;
}

std::string created_since(const std::string& created) {
  auto t = parse_rfc3339(created);
  if (!t || t->time_since_epoch().count() <= 0) return "N/A";
  return human_duration(now() - *t) + " ago";
}

}  // namespace

void register_images(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("images", "List images");
  struct Opts {
    bool quiet = false, all = false, digests = false, no_trunc = false;
    std::string format, filter;
    std::vector<std::string> filters;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("REPOSITORY[:TAG]", o->filter, "Show only images of this repository (and tag)");
  cmd->add_flag("-q,--quiet", o->quiet, "Only show image IDs");
  cmd->add_flag("-a,--all", o->all, "Show all images (default hides intermediate images)");
  cmd->add_flag("--digests", o->digests, "Show digests");
  cmd->add_flag("--no-trunc", o->no_trunc, "Don't truncate output");
  cmd->add_option("-f,--filter", o->filters, "Filter output based on conditions provided")->allow_extra_args(false);
  cmd->add_option("--format", o->format,
                  "Format output: \"table\" (default), \"json\" (one object per line), \"table TEMPLATE\" or a Go template");
  set_action(cmd, [&global, o] {
    auto filters = format::Filters::parse(o->filters, {"dangling", "label", "before", "since", "reference"});
    ImageStore store = global.store();
    auto images = store.list_images();
    auto names = names_by_image(store.refs());
    std::optional<Reference> filter;
    if (!o->filter.empty()) filter = Reference::parse_name_only(o->filter);
    const bool dangling_only = filters.has("dangling") && filters.boolean("dangling", false);
    const bool tagged_only = filters.has("dangling") && !filters.boolean("dangling", false);
    // before/since: images created before / after the named one (Docker: "No such image" if it is not there).
    auto created_of = [&](const std::string& name) -> std::uint64_t {
      auto record = store.get_image(store.resolve_image(name));
      auto t = record ? parse_rfc3339(record->created) : std::nullopt;
      return t ? static_cast<std::uint64_t>(t->time_since_epoch().count()) : 0;
    };
    std::optional<std::uint64_t> before, since;
    for (const auto& v : filters.values("before")) before = created_of(v);
    for (const auto& v : filters.values("since")) since = created_of(v);
    // reference: a glob against "name:tag" or the name, as Docker's FamiliarMatch.
    auto reference_matches = [&](const std::string& name, const std::string& with_tag) {
      return filters.match("reference", [&](const std::string& pattern) {
        return format::glob_match(pattern, with_tag) || format::glob_match(pattern, name);
      });
    };

    // As Docker: an untagged image that a build step was built on is an intermediate image, shown with -a.
    std::set<std::string> intermediate;
    if (!o->all) intermediate = build::BuildCache(global.root).parents();

    std::vector<Row> rows;
    for (const auto& img : images) {
      const ImageNames& n = names[img.id];
      if (n.tags.empty() && n.digests.empty() && intermediate.count(img.id)) continue;
      if (dangling_only && !n.tags.empty()) continue;
      if (tagged_only && n.tags.empty()) continue;
      Row base;
      if (filters.has("label") || !o->format.empty()) base.labels = image_labels(store, img.id);
      if (!filters.match_labels(base.labels)) continue;
      base.id = o->no_trunc ? img.id : short_id(img.id);
      base.created_since = created_since(img.created);
      base.created_at = created_at_text(img.created);
      base.size = human_size(static_cast<double>(img.size()));
      if (auto t = parse_rfc3339(img.created)) base.created_sort = static_cast<std::uint64_t>(t->time_since_epoch().count());
      if (before && base.created_sort >= *before) continue;
      if (since && base.created_sort <= *since) continue;
      auto digest_for = [&](const std::string& repo) {
        for (const auto& d : n.digests)
          if (d.name() == repo) return d.digest;
        return std::string("<none>");
      };
      std::vector<Row> mine;
      for (const auto& t : n.tags) {
        Row r = base;
        r.repository = t.familiar_name();
        r.tag = t.tag;
        r.digest = digest_for(t.name());
        if (filter && (filter->name() != t.name() || (!filter->tag.empty() && filter->tag != t.tag))) continue;
        if (!reference_matches(t.familiar_name(), t.familiar_string())) continue;
        mine.push_back(r);
      }
      // An image known only by digest shows as <none> tag with its digest, as in Docker.
      std::set<std::string> tagged;
      for (const auto& t : n.tags) tagged.insert(t.name());
      for (const auto& d : n.digests) {
        if (tagged.count(d.name())) continue;
        if (filter && (filter->name() != d.name() || !filter->tag.empty())) continue;
        if (!reference_matches(d.familiar_name(), d.familiar_string())) continue;
        Row r = base;
        r.repository = d.familiar_name();
        r.tag = "<none>";
        r.digest = d.digest;
        mine.push_back(r);
      }
      if (n.tags.empty() && n.digests.empty() && !filter && !filters.has("reference")) {
        Row r = base;
        r.repository = r.tag = r.digest = "<none>";
        mine.push_back(r);
      }
      rows.insert(rows.end(), mine.begin(), mine.end());
    }
    std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
      if (a.created_sort != b.created_sort) return a.created_sort > b.created_sort;
      return std::tie(a.repository, a.tag) < std::tie(b.repository, b.tag);
    });

    std::vector<FormatRow> shown;
    std::set<std::string> seen;
    for (const auto& r : rows) {
      if (o->quiet && !seen.insert(r.id).second) continue;  // -q: each image once
      FormatRow row;
      row.fields = {{"Containers", "N/A"}, {"CreatedAt", r.created_at}, {"CreatedSince", r.created_since},
                    {"Digest", r.digest},  {"ID", r.id},                {"Repository", r.repository},
                    {"SharedSize", "N/A"}, {"Size", r.size},            {"Tag", r.tag},
                    {"UniqueSize", "N/A"}, {"VirtualSize", r.size}};
      row.labels = r.labels;
      shown.push_back(std::move(row));
    }
    ListLayout layout{{{"Containers", "CONTAINERS"},
                       {"CreatedAt", "CREATED AT"},
                       {"CreatedSince", "CREATED"},
                       {"Digest", "DIGEST"},
                       {"ID", "IMAGE ID"},
                       {"Repository", "REPOSITORY"},
                       {"SharedSize", "SHARED SIZE"},
                       {"Size", "SIZE"},
                       {"Tag", "TAG"},
                       {"UniqueSize", "UNIQUE SIZE"},
                       {"VirtualSize", "VIRTUAL SIZE"}},
                      o->digests ? "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
                                 : "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"};
    std::string format = o->format;
    if (o->quiet && (format.empty() || format == "table")) format = "{{.ID}}";
    std::cout << render_list(format, layout, shown);
    return 0;
  });
}

}  // namespace cppcker::cli
