// spec [--bundle B] [--rootless]: writes a default config.json (helper "ocispec" owns its content).
#include <iostream>

#include "cppcker/ocicli/ocicli.hpp"
#include "cppcker/util/error.hpp"
#if __has_include("cppcker/oci/defaults.hpp")
#include "cppcker/oci/defaults.hpp"
#endif

namespace cppcker::ocicli {

void register_spec(CLI::App& app, Globals& g) {
#if __has_include("cppcker/oci/defaults.hpp")
  auto* cmd = app.add_subcommand("spec", "create a new specification file");
  auto bundle = std::make_shared<std::string>();
  auto rootless = std::make_shared<bool>(false);
  auto args = std::make_shared<std::vector<std::string>>();
  cmd->add_option("-b,--bundle", *bundle, "path to the root of the bundle directory");
  cmd->add_flag("--rootless", *rootless, "generate a configuration for a rootless container");
  cmd->add_option("args", *args, "")->group("");
  set_action(cmd, [&g, bundle, rootless, args] {
    check_args(g, "spec", args->size(), 0, '=');
    fs::path path = fs::path(bundle->empty() ? "." : *bundle) / "config.json";
    if (fs::exists(fs::symlink_status(path))) throw Error("File config.json exists. Remove it first");
    write_file_atomic(path, nlohmann::ordered_json(oci::default_spec_json(*rootless)).dump(4) + "\n", 0666 & ~0022);
    return 0;
  });
#else
  // Built before oci/defaults.hpp existed: the command is absent (an unknown command), not faked.
  (void)app;
  (void)g;
#endif
}

}  // namespace cppcker::ocicli
