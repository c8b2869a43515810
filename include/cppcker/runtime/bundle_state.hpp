#pragma once
// The state of containers run from OCI bundles by the runc-compatible front end (oci-cli/): one directory
// per container below the state root (`--root`, /run/cppcker-runc), holding state.json (written atomically)
// and .lock (an flock taken by every change of the record, and held by `create` for its whole length).
// The status is never stored: it is derived from the process, the freezer and the exec fifo, as runc does.
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cppcker/cgroup/cgroup.hpp"
#include "cppcker/oci/runtime_spec.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

struct BundleRecord {
  std::string id;
  fs::path bundle;  // absolute
  fs::path rootfs;  // absolute (root.path resolved against the bundle)
  pid_t pid = 0;
  std::uint64_t pid_start = 0;  // /proc/<pid>/stat field 22: a reused pid is never taken for the container
  std::string created;          // RFC 3339 with nanoseconds
  std::string owner;            // user name of the creator ("root")
  std::map<std::string, std::string> annotations;
  CgroupPaths cgroup;
  fs::path exec_fifo;
  bool create_finished = false;  // false: `create` has not got the process to the exec fifo (yet, or ever)
  nlohmann::json config;         // config.json as loaded (exec defaults, poststop hooks, update)

  nlohmann::json to_json() const;
  static BundleRecord from_json(const nlohmann::json& j);
  oci::Spec spec() const { return oci::spec_from_json(config); }
};

// runc's statuses, derived in this order: the create never finished -> creating; the process gone (or its
// pid reused) -> stopped; the freezer frozen -> paused; the exec fifo still there -> created; else running.
// The inputs are explicit so that the derivation is testable without a container.
std::string derive_bundle_status(bool create_finished, bool process_alive, bool frozen, bool fifo_exists);

// runc's container ID rule: ^[\w+\-.]+$, and neither "." nor "..". Throws Error "invalid id format: ID".
void validate_bundle_id(const std::string& id);

class BundleStore {
 public:
  // The freezer's answer for a record (a seam: the default asks the record's cgroup, false when it is gone).
  using FrozenProbe = std::function<bool(const BundleRecord&)>;
  explicit BundleStore(fs::path root, FrozenProbe frozen = {});
  const fs::path& root() const { return root_; }
  fs::path dir(const std::string& id) const { return root_ / id; }

  // Makes <root>/<id> with `record` (create_finished false) and returns the container's lock, held: the
  // caller keeps it until the create has finished or failed. The directory is built aside and renamed into
  // place, so no reader ever sees it without a record. Throws Error "container with id exists: ID".
  FileLock create(const BundleRecord& record) const;
  // The container's lock; Error "container does not exist" (runc's ErrNotExist wording) when there is none.
  FileLock lock(const std::string& id) const;
  // Atomic (temp + fsync + rename); the caller holds the container's lock.
  void save(const BundleRecord& record) const;
  // The record, or nullopt when there is none (ids are validated first).
  std::optional<BundleRecord> load(const std::string& id) const;
  // load() or Error "container does not exist".
  BundleRecord get(const std::string& id) const;
  // Every record, sorted by id; sweeps what crashed creates and removes left half made (a directory being
  // built or removed whose lock nobody holds).
  std::vector<BundleRecord> list() const;
  // Removes the container's directory (renamed aside first, so that a crash never leaves a torn record
  // under the id); the caller holds its lock. Idempotent.
  void remove(const std::string& id) const;

  std::string status(const BundleRecord& record) const;
  // The runtime-spec state (status as status(); pid 0 once stopped, as the spec and runc say).
  oci::State state(const BundleRecord& record) const;

 private:
  void sweep() const;
  fs::path root_;
  FrozenProbe frozen_;
};

}  // namespace cppcker
