// cppcker history: the layers of an image and the commands that made them.
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/cli/formatting.hpp"
#include "cppcker/image/commit.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker::cli {

void register_history(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("history", "Show the history of an image");
  struct Opts {
    std::string image, format;
    bool no_trunc = false, quiet = false, human = true;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("IMAGE", o->image, "Image to show")->required();
  cmd->add_option("--format", o->format, "Pretty-print images using a Go template");
  cmd->add_flag("-H,--human", o->human, "Print sizes and dates in human readable format (default true)");
  cmd->add_flag("--no-trunc", o->no_trunc, "Don't truncate output");
  cmd->add_flag("-q,--quiet", o->quiet, "Only show image IDs");
  set_action(cmd, [&global, o] {
    ImageStore store = global.store();
    auto rows = image_history(store, store.resolve_image(o->image));
    std::vector<FormatRow> shown;
    TimePoint when = now();
    for (const auto& h : rows) {
      HistoryColumns c = history_columns(h, !o->no_trunc, o->human, when);
      FormatRow row;
      row.fields = {{"Comment", c.comment},           {"CreatedAt", c.created_at}, {"CreatedBy", c.created_by},
                    {"CreatedSince", c.created_since}, {"ID", c.id},                {"Size", c.size}};
      shown.push_back(std::move(row));
    }
    ListLayout layout{{{"Comment", "COMMENT"},
                       {"CreatedAt", "CREATED AT"},
                       {"CreatedBy", "CREATED BY"},
                       {"CreatedSince", "CREATED"},
                       {"ID", "IMAGE"},
                       {"Size", "SIZE"}},
                      "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"};
    std::string format = o->format;
    if (o->quiet) format = "{{.ID}}";
    std::cout << render_list(format, layout, shown);
    return 0;
  });
}

}  // namespace cppcker::cli
