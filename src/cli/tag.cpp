// cppcker tag: give an image another name.
#include "cppcker/cli/commands.hpp"
#include "cppcker/image/catalog.hpp"

namespace cppcker::cli {

void register_tag(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE");
  auto source = std::make_shared<std::string>();
  auto target = std::make_shared<std::string>();
  cmd->add_option("SOURCE_IMAGE[:TAG]", *source, "Existing image")->required();
  cmd->add_option("TARGET_IMAGE[:TAG]", *target, "New name")->required();
  set_action(cmd, [&global, source, target] {
    tag_image(global.store(), *source, *target);
    return 0;
  });
}

}  // namespace cppcker::cli
