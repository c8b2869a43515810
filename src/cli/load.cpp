// cppcker load: load images from an archive (docker save / OCI layout).
#include <unistd.h>

#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/image/archive.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

void register_load(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("load", "Load images from a tar archive or an OCI layout directory");
  auto input = std::make_shared<std::string>();
  auto quiet = std::make_shared<bool>(false);
  cmd->add_option("-i,--input", *input, "Read from a tar archive file or OCI layout directory, instead of STDIN");
  cmd->add_flag("-q,--quiet", *quiet, "Suppress the load output");
  set_action(cmd, [&global, input, quiet] {
    if (input->empty() && ::isatty(STDIN_FILENO))
      throw Error("requested load from stdin, but stdin is empty");
    LoadResult result = load_images(global.store(), input->empty() ? "-" : *input);
    if (!*quiet) {
      for (const auto& t : result.tags) std::cout << "Loaded image: " << t << "\n";
      for (const auto& id : result.untagged_ids) std::cout << "Loaded image ID: " << id << "\n";
    }
    return 0;
  });
}

}  // namespace cppcker::cli
