#pragma once
// The runtime's defaults from the config file (/etc/cppcker/config.json), with dockerd's daemon.json names:
//   "no-new-privileges": true        every container runs with no_new_privs unless it says otherwise
//   "userns-remap": "default"        every container gets --userns=auto ("default" = the user "cppcker")
//   "seccomp-profile": "/path.json"  the default seccomp profile instead of the built-in one
//   "default-shm-size": "64m"        /dev/shm's size
//   "default-pids-limit": 4096       --pids-limit when none is given
//   "default-ulimits": {"nofile": {"Name": "nofile", "Hard": 4096, "Soft": 1024}}
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cppcker/oci/runtime_spec.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

struct RuntimeConfig {
  bool no_new_privileges = false;
  std::string userns_remap;  // "" (none) or "default"
  std::string seccomp_profile;
  std::optional<std::int64_t> default_shm_size;
  std::optional<std::int64_t> default_pids_limit;
  std::vector<oci::Rlimit> default_ulimits;

  static RuntimeConfig parse(const std::string& text);  // throws Error naming the bad key
  static RuntimeConfig load(const fs::path& path, bool required);
};

// Docker's --ulimit: "nofile=1024:2048", "nproc=512" (soft = hard). Throws Error (125). A hard limit
// above what this process may set (this machine lacks CAP_SYS_RESOURCE, for one) is refused here rather
// than failing inside the container.
oci::Rlimit parse_ulimit(const std::string& text);

}  // namespace cppcker
