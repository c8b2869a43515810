#pragma once
// Volumes: named or anonymous directories under <root>/volumes/<name>/_data, and the -v/--tmpfs specs.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cppcker/util/fs.hpp"

namespace cppcker {

struct MountSpec {
  std::string type;    // "bind", "volume" or "tmpfs"
  std::string source;  // host path (bind) or volume name (volume)
  std::string target;  // absolute path in the container
  bool readonly = false;
  bool anonymous = false;  // a volume made for this container alone (`rm -v` removes it)
  std::string options;     // tmpfs mount options
  bool idmap = false;      // a bind seen through the container's id mapping (-v /host:/ctr:idmap, podman's)
  std::string propagation; // a bind's propagation (--mount bind-propagation=...); "" = rprivate
  nlohmann::json to_json() const;
  static MountSpec from_json(const nlohmann::json& j);
};

// Docker's -v syntax: /ctr (anonymous), name:/ctr[:OPTIONS], /host:/ctr[:OPTIONS], OPTIONS a comma-separated
// list of ro, rw and idmap (podman's: with --userns=auto, the host's ids seen through the container's
// mapping; without it a host bind's files keep their host owners). Throws Error (125).
MountSpec parse_volume_flag(const std::string& text);
// --tmpfs /ctr[:options]
MountSpec parse_tmpfs_flag(const std::string& text);
// Docker's --mount: comma-separated (CSV) key=value fields: type=bind|volume|tmpfs (default volume),
// source|src, target|dst|destination, readonly|ro[=bool], bind-propagation, volume-nocopy[=bool],
// tmpfs-size, tmpfs-mode (octal). Checked as Docker's CLI and daemon check it (a bind's source must
// exist: --mount never creates it, unlike -v). Throws Error (125) with Docker's wording.
MountSpec parse_mount_flag(const std::string& text);
bool valid_volume_name(const std::string& name);

class VolumeStore {
 public:
  explicit VolumeStore(fs::path root);
  // Creates the volume if it does not exist; returns its name.
  std::string create(const std::string& name) const;
  bool exists(const std::string& name) const;
  fs::path data_path(const std::string& name) const { return root_ / "volumes" / name / "_data"; }
  std::vector<std::string> list() const;
  nlohmann::ordered_json inspect(const std::string& name) const;
  void remove(const std::string& name) const;

 private:
  fs::path root_;
};

}  // namespace cppcker
