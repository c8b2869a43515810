#pragma once
// What every container the runtime makes gets unless the caller says otherwise: where its cgroup goes and
// the runtime config's confinement defaults. `run`/`create` and the image builder's step containers both
// start from these, so a RUN step is confined exactly as `run` confines a container.
#include <string>

#include "cppcker/runtime/config.hpp"
#include "cppcker/runtime/container.hpp"

namespace cppcker {

// --cgroup-parent: "" -> "/cppcker" (made and removed by cppcker); an absolute path -> the user's (created
// if missing, never removed); a relative one -> below the caller's own cgroup in each hierarchy (a
// daemonless runtime has no daemon's), its first component owned (removed once empty).
void resolve_cgroup_parent(ContainerSpec& spec, const std::string& cgroup_parent);

// The config's no-new-privileges, seccomp profile (its content read now, so a later start does not
// depend on the file), ulimits and /dev/shm size. Throws Error (125) for a profile that cannot be read.
void apply_confinement_defaults(ContainerSpec& spec, const RuntimeConfig& config);

}  // namespace cppcker
