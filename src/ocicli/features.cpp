// features: what this build supports, as the runtime-spec's features document (runtime/features.hpp).
#include <iostream>

#include "cppcker/ocicli/ocicli.hpp"
#include "cppcker/runtime/features.hpp"

namespace cppcker::ocicli {

void register_features(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("features", "show the enabled features");
  auto args = std::make_shared<std::vector<std::string>>();
  cmd->add_option("args", *args, "")->group("");
  set_action(cmd, [&g, args] {
    check_args(g, "features", args->size(), 0, '=');
    std::cout << runtime_features().dump(4) << "\n";
    return 0;
  });
}

}  // namespace cppcker::ocicli
