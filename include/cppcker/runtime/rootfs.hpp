#pragma once
// The container's filesystem, built by the child-mode stage in the container's new mount namespace, as
// host root (before it enters a user namespace): the overlay root (idmapped lower layers with a user
// namespace), the spec's mounts with every target resolved inside the rootfs, the device nodes,
// pivot_root, then what the container may not see or change: sysctls set, read-only and masked paths,
// a read-only root. Nothing of it is visible on the host.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cppcker/cgroup/cgroup.hpp"
#include "cppcker/oci/runtime_spec.hpp"
#include "cppcker/runtime/protocol.hpp"
#include "cppcker/util/fd.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

// A mount's options as mount(2) takes them (runc's table of option names).
struct MountOptions {
  unsigned long flags = 0;        // MS_* asked for
  unsigned long clear = 0;        // MS_* turned off again (rw, suid, dev, exec, ...)
  unsigned long propagation = 0;  // MS_PRIVATE/MS_SHARED/MS_SLAVE/MS_UNBINDABLE, with MS_REC for the r-forms
  std::string data;               // what the filesystem itself takes: "mode=755,size=65536k"
  bool bind = false;              // bind or rbind
  bool recursive = false;         // rbind
  bool idmap = false;             // idmap or ridmap
  bool operator==(const MountOptions&) const = default;
};
MountOptions parse_mount_options(const std::vector<std::string>& options);
// The option names parse_mount_options knows (flags, propagation, idmap/ridmap), sorted; any other option
// goes to the filesystem as data. What `features` lists as mountOptions.
std::vector<std::string> known_mount_options();

// A container id's host id under `mappings` (the id itself without mappings). Throws StageError when
// the id is outside every mapping.
std::uint32_t map_to_host(const std::vector<oci::IdMapping>& mappings, std::uint32_t id);

// Rewrites "uid=N"/"gid=N" in a filesystem's data to host ids, and gives a tmpfs without them its owner
// (container root), so that a filesystem mounted by host root for a user-namespaced container belongs to
// the container's ids.
std::string map_mount_data(const std::string& type, const std::string& data, const std::vector<oci::IdMapping>& uids,
                           const std::vector<oci::IdMapping>& gids);

// Opens the mount target `target` inside the rootfs `root`, creating what is missing (directories, or an
// empty file when !directory). Symlinks on the way are followed as the container will see them, inside
// the rootfs (an absolute link restarts at the rootfs, ".." stops at it), so an image's links cannot send
// a mount to the host. Returns an O_PATH descriptor. Throws StageError("mount", ...).
UniqueFd open_target_in_root(const fs::path& root, const std::string& target, bool directory);

// Everything of the container's filesystem, ending with the rootfs as "/" and the working directory
// unset. `userns_fd` (or -1) is the user namespace the container will enter: layers and bind mounts
// are idmapped into it, and what the stage creates is owned by the container's root. `cgroups` are the
// v1/hybrid hierarchies the container is in, shown at /sys/fs/cgroup (one it is not in would show the
// host's whole tree). `before_pivot` runs once everything is mounted, before pivot_root (the hooks'
// moment: prestart/createRuntime in the runtime's namespaces, createContainer in the container's).
// Throws StageError.
void build_container_filesystem(const StartRequest& request, int userns_fd, const std::vector<CgroupHierarchy>& cgroups,
                                const std::function<void()>& before_pivot = {});

}  // namespace cppcker
