// spec [--bundle B] [--rootless]: writes a default config.json (oci/defaults.hpp), never over an existing one.
#include <unistd.h>

#include "cppcker/ocicli/ocicli.hpp"
#include "cppcker/oci/defaults.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::ocicli {

void register_spec(CLI::App& app, Globals& g) {
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
    oci::SpecDefaults defaults;
    defaults.rootless = *rootless;
    defaults.uid = ::geteuid();
    defaults.gid = ::getegid();
    defaults.cgroup_namespace = detect_cgroup_mode() == CgroupMode::v2;  // runc adds one on v2 hosts only
    // 0644 as runc writes it (this process runs under umask 077).
    write_file_atomic(path, oci::default_spec_json(defaults).dump(1, '\t') + "\n", 0644);
    return 0;
  });
}

}  // namespace cppcker::ocicli
