#pragma once
// Container records under the state root: containers/<id>/container.json, written atomically under
// containers/.lock. A record holds what `run` asked for, and the state the monitor keeps current.
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cppcker/cgroup/cgroup.hpp"
#include "cppcker/network/network.hpp"
#include "cppcker/oci/runtime_spec.hpp"
#include "cppcker/runtime/volume.hpp"
#include "cppcker/security/devices.hpp"
#include "cppcker/security/userns.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

// --restart: Docker's policies, carried out by the container's monitor.
struct RestartPolicy {
  std::string name = "no";  // no | on-failure | always | unless-stopped
  int maximum_retry_count = 0;  // on-failure:N (0: no limit)
};

// --health-*: a command the monitor runs inside the container (as exec does) every `interval`.
struct HealthConfig {
  std::vector<std::string> test;  // Docker's form: {"CMD", args...} or {"CMD-SHELL", "cmd"} or {"NONE"}
  std::int64_t interval_ns = 30'000'000'000;
  std::int64_t timeout_ns = 30'000'000'000;
  std::int64_t start_period_ns = 0;
  int retries = 3;
};

// One health probe's result, as Docker's State.Health.Log keeps the last five.
struct HealthProbe {
  std::string start, end;  // RFC 3339
  int exit_code = 0;
  std::string output;
};

struct ContainerHealth {
  std::string status;  // "" (no health check) | starting | healthy | unhealthy
  int failing_streak = 0;
  std::vector<HealthProbe> log;
};

struct ContainerSpec {
  std::string image;     // as the user named it
  std::string image_id;  // config digest
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;
  std::string workdir;
  std::string user;
  std::string hostname;
  std::string network = "bridge";  // bridge | none | host | container:<id> | a user network's name
  std::vector<NetworkAttachment> extra_networks;  // `network connect`: joined as eth1... at every start
  std::vector<PortBinding> ports;       // -p (and -P, resolved against the image's ExposedPorts)
  std::vector<std::string> dns, dns_search, dns_options;
  std::vector<std::string> extra_hosts;  // --add-host "name:ip"
  bool detach = false;
  bool interactive = false;  // -i: stdin attached
  bool tty = false;          // -t: a pseudo-terminal inside the container
  bool init = false;         // --init: cppcker's own init as PID 1
  bool read_only = false;    // --read-only root filesystem
  std::vector<MountSpec> mounts;  // -v and --tmpfs
  bool auto_remove = false;
  ResourceLimits limits;
  std::string cgroup_parent;     // as given by --cgroup-parent (shown by inspect)
  CgroupPaths cgroup_parents;    // resolved per hierarchy: {"": "/cppcker"} by default
  CgroupPaths cgroup_owned_tops; // the topmost parents cppcker made for itself and removes when empty
  int stop_signal = 15;
  int stop_timeout = 10;
  // Confinement (inspect shows them under Docker's HostConfig names).
  std::vector<std::string> cap_add, cap_drop;
  bool privileged = false;
  std::vector<std::string> security_opt;  // as given, for inspect
  std::string seccomp_profile;            // "" (the default), "unconfined", or a profile's JSON text
  bool no_new_privileges = false;
  bool systempaths_unconfined = false;    // --security-opt systempaths=unconfined
  std::vector<DeviceMapping> devices;     // --device
  std::vector<std::string> device_cgroup_rules;
  std::string userns_mode;                // "" / "host", "auto", "auto:size=N"
  std::optional<IdRange> userns;          // the host ids the container's ids map to (taken at create)
  std::vector<oci::Rlimit> ulimits;
  std::int64_t shm_size = 64 * 1024 * 1024;
  std::int64_t log_max_size = -1;  // --log-opt max-size (bytes; -1 unlimited)
  int log_max_file = 1;            // --log-opt max-file
  std::map<std::string, std::string> labels;  // --label, --label-file
  std::vector<std::string> exposed_ports;     // Config.ExposedPorts: the image's and --expose's ("80/tcp")
  RestartPolicy restart;
  std::optional<HealthConfig> health;  // from the image's Healthcheck or --health-*; nullopt: none
};

struct ContainerState {
  std::string status = "created";  // created | running | restarting (waiting out the back-off) | exited
  pid_t pid = 0;
  std::uint64_t pid_start = 0;  // /proc/<pid>/stat starttime: a reused pid is never taken for ours
  pid_t monitor_pid = 0;
  std::uint64_t monitor_start = 0;
  int exit_code = 0;
  bool oom_killed = false;
  std::string error;
  std::string created, started, finished;
  std::optional<Endpoint> net;  // while attached to a bridge network
  std::vector<Endpoint> extra_nets;  // while running: the extra_networks' endpoints (eth1, ...)
  int restart_count = 0;        // restarts the monitor made under the restart policy
  bool stopped_by_user = false; // stop/kill by the user: the restart policy (but "always" at a new start) ends
  bool paused = false;          // `pause`: its cgroup is frozen (meaningful while "running" only)
  ContainerHealth health;
};

struct Container {
  std::string id;  // 64 hex
  std::string name;
  ContainerSpec spec;
  ContainerState state;

  CgroupPaths cgroup_paths() const;  // each parent + "/" + id
  CgroupPlacement cgroup_placement() const { return {cgroup_paths(), spec.cgroup_owned_tops}; }
  std::vector<std::string> argv() const;  // entrypoint + cmd
  nlohmann::json to_json() const;
  static Container from_json(const nlohmann::json& j);
};

// Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat); 0 if it is gone.
std::uint64_t process_start_time(pid_t pid);
bool process_alive(pid_t pid, std::uint64_t start_time);

class ContainerStore {
 public:
  // Makes the state root 0700 and containers/ below it: records hold secrets (-e), upper dirs setuid files.
  explicit ContainerStore(fs::path root);
  const fs::path& root() const { return root_; }
  fs::path dir(const std::string& id) const { return root_ / "containers" / id; }

  FileLock lock() const;
  // The owner lock is held by the process that runs a container (its monitor, or a foreground `run`)
  // for as long as it lives, and by `rm` while it removes the record; taking it means no owner is left.
  // Nullopt when someone holds it; Error("No such container") when the record is gone.
  std::optional<FileLock> try_owner_lock(const std::string& id) const;
  // Makes the calling process the owner of `c` before anything of it starts: takes the owner lock,
  // checks that the record still exists (an `rm` may have won the race) and records this pid in it.
  FileLock take_ownership(Container& c) const;
  // Creates the record with a fresh ID and a unique name (Docker-style random one if `name` is empty).
  // The record is complete before it appears under its ID (built aside, then renamed into place), and
  // what a crash left half made or half removed is swept away here and in remove().
  // `complete` fills in what depends on the ID (hostname, ...) before the record is first written; if it
  // throws, nothing is left.
  // With `owner`, the calling process owns the container from its first moment, as take_ownership() makes
  // it: the owner lock is taken in the staging directory and this pid is in the record's first (and only)
  // write, so no one ever sees the record without its owner; the lock is stored in *owner.
  Container create(ContainerSpec spec, const std::string& name, const std::function<void(Container&)>& complete = {},
                   std::optional<FileLock>* owner = nullptr) const;
  // Atomic (temp + rename) under the caller's lock. State transitions (owner, running, exited) may be
  // `unsynced`: after a machine crash an older state is read, and observed_state() corrects it from the
  // pids, which are gone then; the record itself (spec) is always synced.
  void save(const Container& c, Durability durability = Durability::synced) const;
  std::optional<Container> load(const std::string& id) const;
  std::vector<Container> list() const;
  // Full ID, unique ID prefix or name, as Docker resolves them. Throws Error("No such container: x").
  Container resolve(const std::string& text) const;
  // Docker's rename, under the store lock: `new_name` valid and free. Throws Error (exit 1) with Docker's wording.
  void rename(const std::string& id, const std::string& new_name) const;
  // Renames the record away, then deletes it. Callers hold the owner lock, so no start can be under way.
  void remove(const std::string& id) const;
  // The state as the world sees it: a "running" record whose process is gone is reported exited.
  static ContainerState observed_state(const Container& c);

 private:
  // One pass over containers/: the records (with `records`), and with `sweep` (under the store lock)
  // the leftovers of a create or remove that was killed part-way removed on the way.
  std::vector<Container> scan(bool records, bool sweep) const;
  fs::path root_;
};

std::string generate_name();
bool valid_container_name(const std::string& name);

}  // namespace cppcker
