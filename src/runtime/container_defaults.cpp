#include "cppcker/runtime/container_defaults.hpp"

#include "cppcker/cgroup/cgroup.hpp"
#include "cppcker/security/capabilities.hpp"
#include "cppcker/security/seccomp.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

void resolve_cgroup_parent(ContainerSpec& spec, const std::string& cgroup_parent) {
  spec.cgroup_parent = cgroup_parent;
  spec.cgroup_parents.clear();
  spec.cgroup_owned_tops.clear();
  if (cgroup_parent.empty()) {
    spec.cgroup_parents = spec.cgroup_owned_tops = {{"", "/cppcker"}};
  } else if (cgroup_parent.front() == '/') {
    spec.cgroup_parents = {{"", cgroup_parent}};
  } else {
    std::string first = cgroup_parent.substr(0, cgroup_parent.find('/'));
    const std::string mine = read_file("/proc/self/cgroup");  // once, not once per hierarchy
    for (const auto& k : cgroup_hierarchy_keys()) {
      std::string own = cgroup_path_in(mine, k);
      if (own == "/") own.clear();
      spec.cgroup_parents[k] = own + "/" + cgroup_parent;
      spec.cgroup_owned_tops[k] = own + "/" + first;
    }
  }
}

void set_seccomp_profile(ContainerSpec& spec, const std::string& profile) {
  if (profile == "unconfined") {
    spec.seccomp_profile = profile;
  } else if (!profile.empty()) {
    try {
      spec.seccomp_profile = read_file(profile);
    } catch (const SystemError& e) {
      throw Error("opening seccomp profile (" + profile + ") failed: " + e.what(), 125);
    }
    // Checked now: the container's spec is built when it starts, after its record exists.
    resolve_docker_profile(spec.seccomp_profile, host_seccomp_context(default_capabilities()));
  }
}

void apply_confinement_defaults(ContainerSpec& spec, const RuntimeConfig& config) {
  spec.no_new_privileges = config.no_new_privileges;
  set_seccomp_profile(spec, config.seccomp_profile);
  spec.ulimits = config.default_ulimits;
  if (config.default_shm_size) spec.shm_size = *config.default_shm_size;
  if (config.default_pids_limit && !spec.limits.pids) spec.limits.pids = *config.default_pids_limit;
}

}  // namespace cppcker
