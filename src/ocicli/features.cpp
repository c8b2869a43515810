// features: what this build supports, as the runtime-spec's features document (helper "ocispec" owns it).
#include <iostream>

#include "cppcker/ocicli/ocicli.hpp"
#if __has_include("cppcker/runtime/features.hpp")
#include "cppcker/runtime/features.hpp"
#endif

namespace cppcker::ocicli {

void register_features(CLI::App& app, Globals& g) {
#if __has_include("cppcker/runtime/features.hpp")
  auto* cmd = app.add_subcommand("features", "show the enabled features");
  set_action(cmd, [&g] {
    (void)g;
    std::cout << nlohmann::ordered_json(runtime_features()).dump(4) << "\n";
    return 0;
  });
#else
  // Built before runtime/features.hpp existed: the command is absent (an unknown command), not faked.
  (void)app;
  (void)g;
#endif
}

}  // namespace cppcker::ocicli
