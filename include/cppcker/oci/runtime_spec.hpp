#pragma once
// The OCI runtime-spec (1.1) types that the runtime core executes, with their JSON mapping (config.json).
// Only what cppcker implements is modelled; spec_from_json refuses a field it does not know how to honour,
// naming it, instead of ignoring it.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cppcker::oci {

inline constexpr const char* kRuntimeSpecVersion = "1.1.0";

struct IdMapping {
  std::uint32_t container_id = 0;
  std::uint32_t host_id = 0;
  std::uint32_t size = 0;
  bool operator==(const IdMapping&) const = default;
};

struct User {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::optional<std::uint32_t> umask;
  std::vector<std::uint32_t> additional_gids;
  // Not in the spec's user object as runc reads it: cppcker resolves names inside the container's
  // /etc/passwd (Docker's -u name[:group]); when set, uid/gid/additional_gids are filled from it there.
  std::string username;
  bool operator==(const User&) const = default;
};

struct Rlimit {
  std::string type;  // "RLIMIT_NOFILE"
  std::uint64_t hard = 0;
  std::uint64_t soft = 0;
  bool operator==(const Rlimit&) const = default;
};

struct Capabilities {
  std::vector<std::string> bounding, effective, inheritable, permitted, ambient;  // "CAP_CHOWN", ...
  bool operator==(const Capabilities&) const = default;
};

struct ConsoleSize {
  unsigned height = 0;
  unsigned width = 0;
  bool operator==(const ConsoleSize&) const = default;
};

struct Process {
  bool terminal = false;
  std::optional<ConsoleSize> console_size;
  User user;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::optional<int> oom_score_adj;
  bool operator==(const Process&) const = default;
};

struct Root {
  std::string path;
  bool readonly = false;
  bool operator==(const Root&) const = default;
};

struct Mount {
  std::string destination;
  std::string type;    // "bind", "proc", "tmpfs", "cgroup", ...; "bind" also when options hold bind/rbind
  std::string source;
  std::vector<std::string> options;
  std::vector<IdMapping> uid_mappings, gid_mappings;  // an idmapped mount
  bool operator==(const Mount&) const = default;
};

struct Namespace {
  std::string type;  // pid, network, mount, ipc, uts, user, cgroup, time
  std::string path;  // join this one instead of making a new one
  bool operator==(const Namespace&) const = default;
};

// A device node made in the container's /dev.
struct Device {
  std::string type;  // c, b, u, p
  std::string path;
  std::int64_t major = 0;
  std::int64_t minor = 0;
  std::optional<std::uint32_t> file_mode;
  std::optional<std::uint32_t> uid, gid;
  bool operator==(const Device&) const = default;
};

// One rule of the devices cgroup; absent major/minor or type "a" mean "any".
struct DeviceRule {
  bool allow = false;
  std::string type = "a";  // a, c, b
  std::optional<std::int64_t> major, minor;
  std::string access = "rwm";
  bool operator==(const DeviceRule&) const = default;
};

struct MemoryResources {
  std::optional<std::int64_t> limit, reservation, swap;
  std::optional<std::uint64_t> swappiness;
  bool disable_oom_killer = false;
  bool operator==(const MemoryResources&) const = default;
};

struct CpuResources {
  std::optional<std::uint64_t> shares;
  std::optional<std::int64_t> quota;
  std::optional<std::uint64_t> period;
  std::string cpus, mems;
  bool operator==(const CpuResources&) const = default;
};

struct WeightDevice {
  std::int64_t major = 0, minor = 0;
  std::optional<std::uint16_t> weight, leaf_weight;
  bool operator==(const WeightDevice&) const = default;
};

struct ThrottleDevice {
  std::int64_t major = 0, minor = 0;
  std::uint64_t rate = 0;
  bool operator==(const ThrottleDevice&) const = default;
};

struct BlockIO {
  std::optional<std::uint16_t> weight, leaf_weight;
  std::vector<WeightDevice> weight_device;
  std::vector<ThrottleDevice> throttle_read_bps_device, throttle_write_bps_device, throttle_read_iops_device,
      throttle_write_iops_device;
  bool operator==(const BlockIO&) const = default;
};

struct HugepageLimit {
  std::string page_size;  // "2MB", "1GB"
  std::uint64_t limit = 0;
  bool operator==(const HugepageLimit&) const = default;
};

struct Resources {
  std::vector<DeviceRule> devices;
  MemoryResources memory;
  CpuResources cpu;
  std::optional<std::int64_t> pids_limit;
  std::optional<BlockIO> block_io;
  std::vector<HugepageLimit> hugepage_limits;
  std::map<std::string, std::string> unified;  // cgroup v2 files written as given
  bool operator==(const Resources&) const = default;
};

struct SeccompArg {
  unsigned index = 0;
  std::uint64_t value = 0;
  std::uint64_t value_two = 0;
  std::string op;  // SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ, ...
  bool operator==(const SeccompArg&) const = default;
};

struct SeccompSyscall {
  std::vector<std::string> names;
  std::string action;  // SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, ...
  std::optional<std::uint32_t> errno_ret;
  std::vector<SeccompArg> args;
  bool operator==(const SeccompSyscall&) const = default;
};

struct Seccomp {
  std::string default_action;
  std::optional<std::uint32_t> default_errno_ret;
  std::vector<std::string> architectures;  // SCMP_ARCH_X86_64, ...
  std::vector<std::string> flags;          // SECCOMP_FILTER_FLAG_*
  std::vector<SeccompSyscall> syscalls;
  bool operator==(const Seccomp&) const = default;
};

// personality(2): the execution domain ("LINUX", "LINUX32") and flags (none are defined by the spec yet).
struct Personality {
  std::string domain;
  std::vector<std::string> flags;
  bool operator==(const Personality&) const = default;
};

struct Linux {
  std::vector<IdMapping> uid_mappings, gid_mappings;
  std::optional<Personality> personality;
  std::map<std::string, std::string> sysctl;
  std::optional<Resources> resources;
  std::string cgroups_path;
  std::vector<Namespace> namespaces;
  std::vector<Device> devices;
  std::optional<Seccomp> seccomp;
  std::string rootfs_propagation;  // "", private, rprivate, slave, rslave, shared, rshared, unbindable
  std::vector<std::string> masked_paths, readonly_paths;
  bool operator==(const Linux&) const = default;

  const Namespace* find_namespace(const std::string& type) const;
};

// A program the runtime runs at one of the container's moments, with the state (below) on its stdin.
struct Hook {
  std::string path;                    // absolute
  std::vector<std::string> args, env;  // args[0] is argv[0]
  std::optional<int> timeout;          // seconds, > 0
  bool operator==(const Hook&) const = default;
};

struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart, poststop;
  bool empty() const {
    return prestart.empty() && create_runtime.empty() && create_container.empty() && start_container.empty() &&
           poststart.empty() && poststop.empty();
  }
  bool operator==(const Hooks&) const = default;
};

struct Spec {
  std::string oci_version = kRuntimeSpecVersion;
  Process process;
  Root root;
  std::string hostname;
  std::vector<Mount> mounts;
  std::map<std::string, std::string> annotations;
  Hooks hooks;
  Linux linux;
  bool operator==(const Spec&) const = default;
};

// The runtime-spec's state of a container, as `state` prints it and hooks read it on stdin.
struct State {
  std::string oci_version = kRuntimeSpecVersion;
  std::string id;
  std::string status;  // creating, created, running, stopped (and runc's "paused")
  int pid = 0;         // 0 once stopped (omitted from the JSON then)
  std::string bundle;
  std::map<std::string, std::string> annotations;
  bool operator==(const State&) const = default;
};
nlohmann::json to_json(const State& state);

// The namespace types spec_from_json accepts ("pid", "network", ...) and the hook lists it reads
// ("prestart", "createRuntime", ... "poststop", in the order the spec runs them): `features` lists them.
const std::vector<std::string>& namespace_types();
const std::vector<std::string>& hook_names();

nlohmann::json to_json(const Spec& spec);
nlohmann::json to_json(const Process& process);
nlohmann::json to_json(const Seccomp& seccomp);
nlohmann::json to_json(const std::vector<DeviceRule>& rules);
// Throw Error naming the first field that is malformed or that cppcker does not implement.
Spec spec_from_json(const nlohmann::json& j);
Process process_from_json(const nlohmann::json& j);
Seccomp seccomp_from_json(const nlohmann::json& j);
std::vector<DeviceRule> device_rules_from_json(const nlohmann::json& j);

}  // namespace cppcker::oci
