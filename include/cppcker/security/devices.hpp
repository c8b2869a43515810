#pragma once
// Which devices a container may use: Docker's default allow-list for the devices cgroup, --device and
// --device-cgroup-rule, and the host's device nodes that --privileged hands over.
#include <string>
#include <vector>

#include "cppcker/oci/runtime_spec.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

// Deny everything, then allow mknod of any node (`c *:* m`, `b *:* m`) and the use of null, zero, full,
// random, urandom, tty, console, ptmx and the pty slaves (136:*), as Docker does.
std::vector<oci::DeviceRule> default_device_rules();
// Everything allowed (--privileged).
std::vector<oci::DeviceRule> allow_all_device_rules();

// --device-cgroup-rule "c 1:3 mr", "a *:* rwm", "b 8:* rw". Throws Error (125) in Docker's words.
oci::DeviceRule parse_device_cgroup_rule(const std::string& text);

// --device HOST[:CONTAINER][:PERMISSIONS], PERMISSIONS a combination of r, w, m (default rwm).
struct DeviceMapping {
  std::string host_path, container_path, permissions = "rwm";
  bool operator==(const DeviceMapping&) const = default;
  nlohmann::json to_json() const;
  static DeviceMapping from_json(const nlohmann::json& j);
};
DeviceMapping parse_device_flag(const std::string& text);

// The node to make for a mapping (type, major, minor, mode and owner of the host's node) and the cgroup
// rule that lets the container use it; a host directory gives every device node below it, as Docker
// does. Throws Error (125): "error gathering device information while adding custom device ...".
struct ResolvedDevice {
  oci::Device node;
  oci::DeviceRule rule;
};
std::vector<ResolvedDevice> resolve_device(const DeviceMapping& mapping, const fs::path& host_dev = "/dev");

// Every device node below `dev` (the host's /dev for --privileged), skipping /dev/pts, /dev/shm,
// /dev/mqueue and the console and ptmx nodes the container makes for itself.
std::vector<oci::Device> host_device_nodes(const fs::path& dev = "/dev");

}  // namespace cppcker
