#pragma once
// What this build of cppcker implements, as the runtime-spec's features document (features.md,
// features-linux.md) and `runc features` print it: callers such as containerd read it to decide what they
// may put in config.json. Only what the core honours is listed.
#include <nlohmann/json.hpp>

namespace cppcker {

// ociVersionMin/Max, hooks, mountOptions, linux {namespaces, capabilities, cgroup, seccomp, apparmor,
// selinux, intelRdt}, annotations. seccomp.supportedFlags is probed on the running kernel.
nlohmann::json runtime_features();

}  // namespace cppcker
