#pragma once
// The starter config.json that `spec` writes: runc's (libcontainer/specconv's Example and ToRootless) with
// cppcker's runtime-spec version, so a bundle made for runc runs the same here.
#include <cstdint>

#include <nlohmann/json.hpp>

namespace cppcker::oci {

struct SpecDefaults {
  // runc's --rootless variant: a user namespace mapping `uid`/`gid` (the caller's euid/egid) to root, no
  // network namespace, /sys bound from the host, no gid= or uid= mount options, no cgroup resources.
  bool rootless = false;
  std::uint32_t uid = 0, gid = 0;
  // runc adds a cgroup namespace on a cgroup v2 host only; the caller knows the host.
  bool cgroup_namespace = false;
};
nlohmann::json default_spec_json(const SpecDefaults& defaults);
// The same with this process's euid/egid and no cgroup namespace.
nlohmann::json default_spec_json(bool rootless);

}  // namespace cppcker::oci
