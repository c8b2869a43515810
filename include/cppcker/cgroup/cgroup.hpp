#pragma once
// Resource limits through cgroups: one interface, a v1 and a v2 implementation chosen once at start
// (youki's shape). The caller never asks which version it runs on.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cppcker {

struct ResourceLimits {
  std::optional<std::int64_t> memory;       // bytes
  std::optional<std::int64_t> memory_swap;  // memory + swap in bytes, -1 = unlimited (Docker's --memory-swap)
  std::optional<double> cpus;               // CPUs, e.g. 0.2
  std::optional<std::int64_t> pids;         // maximum number of tasks, -1 = unlimited
  std::optional<std::string> cpuset_cpus;   // "0-1,3"
  std::optional<std::uint64_t> cpu_shares;  // Docker's --cpu-shares (v1 scale, 2..262144)
  bool empty() const {
    return !memory && !memory_swap && !cpus && !pids && !cpuset_cpus && !cpu_shares;
  }
};

enum class CgroupMode { v1, hybrid, v2 };

// Where a cgroup lives in each hierarchy: controller -> path ("memory" -> "/a/b"); the "" entry is the
// path for every hierarchy without its own entry, and the one path on v2. A relative --cgroup-parent
// lies below the caller's own cgroup, which differs per hierarchy on v1, hence one path each.
using CgroupPaths = std::map<std::string, std::string>;
// The v1 controllers cppcker manages.
const std::vector<std::string>& v1_controllers();
std::string path_for(const CgroupPaths& paths, const std::string& controller);
// statfs of the cgroup mount: cgroup2 -> v2; tmpfs with a cgroup2 "unified" inside -> hybrid; else v1.
CgroupMode detect_cgroup_mode(const std::filesystem::path& mount = "/sys/fs/cgroup");

// The cgroup path of the calling process in the hierarchy of `controller` (v1) or the unified one
// ("" as controller), from /proc/self/cgroup; e.g. "/process_api/abc".
std::string own_cgroup(const std::string& controller = "");

class Cgroup {
 public:
  virtual ~Cgroup() = default;
  // Creates the cgroup (and missing parents) and applies the limits. Throws Error naming the file.
  virtual void create(const ResourceLimits& limits) = 0;
  virtual void add_process(pid_t pid) = 0;
  virtual bool oom_killed() const = 0;
  virtual std::uint64_t cpu_usage_ns() const = 0;
  virtual std::vector<pid_t> processes() const = 0;
  // Kills what is left in the cgroup and removes the directories it created. Idempotent.
  virtual void destroy() = 0;
  // The directories that make up this cgroup (one per v1 controller, one on v2).
  virtual std::vector<std::filesystem::path> paths() const = 0;
};

std::unique_ptr<Cgroup> make_cgroup(const CgroupPaths& paths, const std::filesystem::path& mount = "/sys/fs/cgroup");
std::unique_ptr<Cgroup> make_cgroup_v2(const std::string& path, const std::filesystem::path& mount);
std::unique_ptr<Cgroup> make_cgroup_v1(const CgroupPaths& paths, const std::filesystem::path& mount);

// The cgroup.procs files of the existing cgroup at `path` in every hierarchy that has it, opened for
// writing: a process that writes "0" to them moves itself in (exec opens them before it leaves the
// host's mount namespace, and only the final process joins). Throws Error if the cgroup is gone.
std::vector<int> open_cgroup_procs(const CgroupPaths& paths, const std::filesystem::path& mount = "/sys/fs/cgroup");

// Removes the empty parents of the cgroup at `paths`, from its parent up to and including the `tops` entry
// of each hierarchy (the part cppcker made); stops at the first one still in use. No top, no removal.
void remove_empty_cgroup_parents(const CgroupPaths& paths, const CgroupPaths& tops,
                                 const std::filesystem::path& mount = "/sys/fs/cgroup");

// Docker's --cpu-shares (2..262144) to cgroup v2 cpu.weight (1..10000), as runc converts it.
std::uint64_t cpu_shares_to_weight(std::uint64_t shares);

}  // namespace cppcker
