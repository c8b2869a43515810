// cppcker images: list stored images.
#include <algorithm>
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "cppcker/cli/commands.hpp"
#include "cppcker/image/catalog.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker::cli {

namespace {

struct Row {
  std::string repository, tag, digest, id, created_since, created_at, size;
  std::uint64_t created_sort = 0;
};

std::string created_since(const std::string& created) {
  auto t = parse_rfc3339(created);
  if (!t || t->time_since_epoch().count() <= 0) return "N/A";
  return human_duration(now() - *t) + " ago";
}

std::string created_at(const std::string& created) {
  auto t = parse_rfc3339(created);
  if (!t) return "";
  std::time_t secs = std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %z %Z", &tm);
  return buf;
}

}  // namespace

void register_images(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("images", "List images");
  struct Opts {
    bool quiet = false, all = false, digests = false, no_trunc = false;
    std::string format, filter;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("REPOSITORY[:TAG]", o->filter, "Show only images of this repository (and tag)");
  cmd->add_flag("-q,--quiet", o->quiet, "Only show image IDs");
  cmd->add_flag("-a,--all", o->all, "Show all images (cppcker keeps no intermediate images, so the same list)");
  cmd->add_flag("--digests", o->digests, "Show digests");
  cmd->add_flag("--no-trunc", o->no_trunc, "Don't truncate output");
  cmd->add_option("--format", o->format, "Format output: \"table\" (default) or \"json\" (one object per line)")
      ->check(CLI::IsMember({"table", "json"}));
  set_action(cmd, [&global, o] {
    ImageStore store = global.store();
    auto images = store.list_images();
    auto names = names_by_image(store.refs());
    std::optional<Reference> filter;
    if (!o->filter.empty()) filter = Reference::parse_name_only(o->filter);

    std::vector<Row> rows;
    for (const auto& img : images) {
      Row base;
      base.id = o->no_trunc ? img.id : short_id(img.id);
      base.created_since = created_since(img.created);
      base.created_at = created_at(img.created);
      base.size = human_size(static_cast<double>(img.size()));
      if (auto t = parse_rfc3339(img.created)) base.created_sort = static_cast<std::uint64_t>(t->time_since_epoch().count());
      const ImageNames& n = names[img.id];
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
        mine.push_back(r);
      }
      // An image known only by digest shows as <none> tag with its digest, as in Docker.
      std::set<std::string> tagged;
      for (const auto& t : n.tags) tagged.insert(t.name());
      for (const auto& d : n.digests) {
        if (tagged.count(d.name())) continue;
        if (filter && (filter->name() != d.name() || !filter->tag.empty())) continue;
        Row r = base;
        r.repository = d.familiar_name();
        r.tag = "<none>";
        r.digest = d.digest;
        mine.push_back(r);
      }
      if (n.tags.empty() && n.digests.empty() && !filter) {
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

    if (o->quiet) {
      std::set<std::string> seen;
      for (const auto& r : rows)
        if (seen.insert(r.id).second) std::cout << (o->no_trunc ? r.id : r.id) << "\n";
      return 0;
    }
    if (o->format == "json") {
      for (const auto& r : rows) {
        nlohmann::json j = {{"Containers", "N/A"},        {"CreatedAt", r.created_at}, {"CreatedSince", r.created_since},
                            {"Digest", r.digest},          {"ID", r.id},                {"Repository", r.repository},
                            {"SharedSize", "N/A"},         {"Size", r.size},            {"Tag", r.tag},
                            {"UniqueSize", "N/A"},         {"VirtualSize", r.size}};
        std::cout << j.dump() << "\n";
      }
      return 0;
    }
    std::vector<std::vector<std::string>> table;
    if (o->digests) table.push_back({"REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"});
    else table.push_back({"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"});
    for (const auto& r : rows) {
      if (o->digests) table.push_back({r.repository, r.tag, r.digest, r.id, r.created_since, r.size});
      else table.push_back({r.repository, r.tag, r.id, r.created_since, r.size});
    }
    std::cout << format_table(table);
    return 0;
  });
}

}  // namespace cppcker::cli
