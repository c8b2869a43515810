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
#include <string_view>
#include <vector>

#include "cppcker/oci/runtime_spec.hpp"

namespace cppcker {

// Docker's CFS period (µs), and the quota in it for a --cpus value (> 0), rounded to the nearest µs.
inline constexpr std::int64_t kCpuPeriod = 100000;
std::int64_t cpu_quota_us(double cpus);

struct ResourceLimits {
  std::optional<std::int64_t> memory;       // bytes
  std::optional<std::int64_t> memory_swap;  // memory + swap in bytes, -1 = unlimited (Docker's --memory-swap)
  std::optional<double> cpus;               // CPUs, e.g. 0.2
  std::optional<std::int64_t> pids;         // maximum number of tasks, -1 = unlimited
  std::optional<std::string> cpuset_cpus;   // "0-1,3"
  std::optional<std::uint64_t> cpu_shares;  // Docker's --cpu-shares (v1 scale, 2..262144)
  // The devices cgroup's rules in order, as linux.resources.devices means them (cgroup/device_filter.hpp
  // says exactly how); nullopt leaves the devices controller alone, an empty list denies every device.
  std::optional<std::vector<oci::DeviceRule>> devices;
  bool empty() const {
    return !memory && !memory_swap && !cpus && !pids && !cpuset_cpus && !cpu_shares && !devices;
  }
};

// What `runc events --stats` reports of a cgroup (the fields of runc's types.Stats that cppcker reads).
struct CgroupStats {
  struct Cpu {
    std::uint64_t total = 0, kernel = 0, user = 0;  // ns
    std::vector<std::uint64_t> percpu;              // ns per CPU (v1 cpuacct.usage_percpu; empty on v2)
    std::uint64_t periods = 0, throttled_periods = 0, throttled_time = 0;
  } cpu;
  struct MemoryEntry {
    std::uint64_t limit = 0, usage = 0, max = 0, failcnt = 0;
  };
  struct Memory {
    std::uint64_t cache = 0;
    MemoryEntry usage, swap, kernel, kernel_tcp;
    std::map<std::string, std::uint64_t> raw;  // memory.stat as it is
  } memory;
  struct Pids {
    std::uint64_t current = 0, limit = 0;  // limit 0: unlimited
  } pids;
  struct BlkioEntry {
    std::uint64_t major = 0, minor = 0;
    std::string op;  // Read, Write, Sync, Async, Discard, Total
    std::uint64_t value = 0;
  };
  struct Blkio {
    std::vector<BlkioEntry> io_service_bytes_recursive, io_serviced_recursive;
  } blkio;
  struct Hugetlb {
    std::uint64_t usage = 0, max = 0, failcnt = 0;
  };
  std::map<std::string, Hugetlb> hugetlb;  // page size ("2MB") -> usage
};
// runc's JSON of it (the "data" of an `events --stats` event).
nlohmann::json runc_stats_json(const CgroupStats& stats);

enum class CgroupMode { v1, hybrid, v2 };

// Where a cgroup lives in each hierarchy: hierarchy key -> path ("memory" -> "/a/b"), keys as
// /proc/self/cgroup names them ("cpu,cpuacct" where a host co-mounts them, "name=systemd", "" for cgroup2).
// The "" entry is the path for every hierarchy without its own entry, and the one path on v2. A relative
// --cgroup-parent lies below the caller's own cgroup, which differs per hierarchy on v1, hence one path each.
using CgroupPaths = std::map<std::string, std::string>;
// A container's cgroup in each hierarchy and the topmost of its parents that cppcker made for it (removed
// with it once empty: Cgroup::destroy): the two always travel together.
struct CgroupPlacement {
  CgroupPaths paths;
  CgroupPaths owned_tops;  // empty: no parent is cppcker's to remove (an OCI bundle's cgroupsPath)
};
// The path for the hierarchy `key`: its own entry, else that of one of a co-mounted key's controllers
// ("cpu" for "cpu,cpuacct"), else the "" entry, else "/".
std::string path_for(const CgroupPaths& paths, const std::string& key);

// A mounted cgroup hierarchy: its key (as above) and the directory of its root.
struct CgroupHierarchy {
  std::string key;
  std::filesystem::path dir;
  bool operator==(const CgroupHierarchy&) const = default;
};
// The hierarchies a container joins: on v2 the one at `mount`; on v1 and hybrid hosts every v1 hierarchy
// mounted directly below `mount` (as /proc/self/mountinfo lists them) and the cgroup2 one beside them.
std::vector<CgroupHierarchy> cgroup_hierarchies(const std::filesystem::path& mount = "/sys/fs/cgroup");
// The same from the text of a mountinfo file (a seam for tests).
std::vector<CgroupHierarchy> cgroup_hierarchies_from_mountinfo(std::string_view mountinfo,
                                                               const std::filesystem::path& mount);
// The keys of cgroup_hierarchies(): {""} on v2; every v1 key and "" on a hybrid host.
std::vector<std::string> cgroup_hierarchy_keys(const std::filesystem::path& mount = "/sys/fs/cgroup");

// statfs of the cgroup mount: cgroup2 -> v2; tmpfs with a cgroup2 "unified" inside -> hybrid; else v1.
CgroupMode detect_cgroup_mode(const std::filesystem::path& mount = "/sys/fs/cgroup");

// The cgroup path of the calling process in the hierarchy `key` ("memory", "cpu,cpuacct", "name=systemd";
// "" for the unified one), from /proc/self/cgroup, e.g. "/process_api/abc"; "/" if it has none. A key
// matches its line exactly, or a single controller matches a co-mounted line ("cpu" in "cpu,cpuacct").
std::string own_cgroup(const std::string& key = "");
// The same from the text of a /proc/<pid>/cgroup file.
std::string cgroup_path_in(std::string_view proc_cgroup, const std::string& key);

// A container's cgroup. The object owns what its create() made: its destructor removes those directories
// again (killing what runs inside, as destroy() does) unless destroy() or release() came first, so a start
// that fails anywhere leaves nothing behind. An object made for an existing cgroup (to destroy() it, or
// read it) removes nothing when it goes.
class Cgroup {
 public:
  virtual ~Cgroup() = default;
  // Creates the cgroup (and missing parents) in every hierarchy and applies the limits in theirs (memory,
  // cpu/cpuacct, pids, cpuset, devices). Validates the limits before creating anything. Throws Error naming
  // the file.
  virtual void create(const ResourceLimits& limits) = 0;
  virtual void add_process(pid_t pid) = 0;
  virtual bool oom_killed() const = 0;
  virtual std::uint64_t cpu_usage_ns() const = 0;
  virtual std::vector<pid_t> processes() const = 0;
  // Kills what is left in the cgroup and removes its directories (and the parents create() made, when they
  // are empty); then, above those, each parent up to and including the `owned_tops` entry of its hierarchy
  // (the part cppcker made for itself: a --cgroup-parent other containers share), whoever made it, while
  // it is empty. Nothing above a top, nor without one. Idempotent; works on an object that did not create
  // the cgroup.
  virtual void destroy(const CgroupPaths& owned_tops) = 0;
  // The cgroup outlives this object: the destructor leaves it alone (destroy() still removes it).
  virtual void release() = 0;
  // The directories that make up this cgroup (one per hierarchy; one on v2).
  virtual std::vector<std::filesystem::path> paths() const = 0;

  // Applies every field of the OCI resources (memory incl. reservation/swap/swappiness/disableOOMKiller,
  // kernel/kernelTCP ignored; cpu shares/quota/period/cpus/mems; pids; blockIO weight and throttles;
  // hugepage limits; devices; unified on v2) to the existing cgroup: `create` with the limits, then for
  // an OCI container's full resources, and `update`. Validates everything before writing anything; throws
  // Error naming the field or file (a field the host's cgroups cannot honour, e.g. unified on v1).
  // Fields left unset (nullopt, empty; 0 for sizes, shares, quota, period and weights, as runc reads
  // them) are left alone; so is the devices controller for an empty rule list. On v2 the controllers the fields need are enabled in the parents first. On v1, cpus/mems make
  // the cpuset cgroup (create() makes it only when asked) and move the cgroup's processes into it.
  virtual void update(const oci::Resources& resources) = 0;
  // pause/resume: the v1 freezer hierarchy's freezer.state, v2's cgroup.freeze (also used on a hybrid
  // host without a v1 freezer); returns once every process is frozen (or thawed). Throws Error when the
  // host has no freezer; a freeze that does not complete is undone before the Error.
  virtual void freeze() = 0;
  virtual void thaw() = 0;
  virtual bool frozen() const = 0;
  // What the cgroup's files say now; a controller the cgroup lacks reads as zeros.
  virtual CgroupStats stats() const = 0;
};

// runc's cgroupsPath with the cgroupfs driver: an absolute path lies below the hierarchies' roots; a
// relative one below the caller's own cgroup; "slice:prefix:name" (the systemd form) is laid out as
// systemd would ("a-b.slice" nests as a.slice/a-b.slice, then prefix-name.scope); empty: "<id>" below the
// caller's cgroup. Throws Error for a malformed one.
// The systemd form gives one path ("" key); the others one per hierarchy key. ".." anywhere is refused.
CgroupPaths oci_cgroup_paths(const std::string& cgroups_path, const std::string& id);
// The same for a process whose /proc/<pid>/cgroup reads `proc_cgroup`, on a host with these hierarchy
// keys (cgroup_hierarchy_keys()); a seam for tests.
CgroupPaths oci_cgroup_paths(const std::string& cgroups_path, const std::string& id, std::string_view proc_cgroup,
                             const std::vector<std::string>& keys);

std::unique_ptr<Cgroup> make_cgroup(const CgroupPaths& paths, const std::filesystem::path& mount = "/sys/fs/cgroup");
std::unique_ptr<Cgroup> make_cgroup_v2(const std::string& path, const std::filesystem::path& mount);
// v1 and hybrid hosts: the cgroup in every hierarchy cgroup_hierarchies(mount) finds, or in the given ones.
std::unique_ptr<Cgroup> make_cgroup_v1(const CgroupPaths& paths, const std::filesystem::path& mount);
std::unique_ptr<Cgroup> make_cgroup_v1(const CgroupPaths& paths, std::vector<CgroupHierarchy> hierarchies);

// The cgroup.procs files of the existing cgroup at `path` in every hierarchy that has it, opened for
// writing: a process that writes "0" to them moves itself in (exec opens them before it leaves the
// host's mount namespace, and only the final process joins). Throws Error if the cgroup is gone.
std::vector<int> open_cgroup_procs(const CgroupPaths& paths, const std::filesystem::path& mount = "/sys/fs/cgroup");

// Docker's --cpu-shares (2..262144) to cgroup v2 cpu.weight (1..10000), as runc converts it.
std::uint64_t cpu_shares_to_weight(std::uint64_t shares);

}  // namespace cppcker
