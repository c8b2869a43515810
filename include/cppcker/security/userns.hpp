#pragma once
// User namespaces: container root is an unprivileged host id range (Docker's --userns-remap, podman's
// --userns=auto), taken from /etc/subuid and /etc/subgid entries of a remap user ("cppcker" by default,
// created on first use as Docker creates dockremap), never shared by two containers; image layers and
// volumes are not copied or chowned but seen through idmapped mounts.
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cppcker/util/fd.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

// One contiguous range: container ids 0..size-1 are host ids host_uid.. / host_gid.. .
struct IdRange {
  std::uint32_t host_uid = 0;
  std::uint32_t host_gid = 0;
  std::uint32_t size = 0;
  bool operator==(const IdRange&) const = default;
};

// --userns values: "" or "host" (none), "auto", "auto:size=N". Throws Error (125) otherwise.
struct UsernsMode {
  bool enabled = false;
  std::uint32_t size = 65536;
};
UsernsMode parse_userns_mode(const std::string& text);

// An /etc/subuid or /etc/subgid file: "name:start:count" lines (a name may also be a numeric uid).
struct SubidEntry {
  std::string name;
  std::uint64_t start = 0, count = 0;
};
std::vector<SubidEntry> parse_subid_file(const std::string& text);

// Where the remap user's ranges come from and where allocations are recorded.
struct SubidFiles {
  fs::path subuid = "/etc/subuid";
  fs::path subgid = "/etc/subgid";
};

class UsernsAllocator {
 public:
  // `state_dir` holds allocations.json and its lock (<state root>/userns). `user` is the remap user.
  UsernsAllocator(fs::path state_dir, std::string user = "cppcker", SubidFiles files = {});

  // The remap user's ranges, created when it has none: one range of `kDefaultPool` ids in both files,
  // starting at the first multiple of 65536 at or above 100000 that overlaps no other entry in that file
  // (the same start in both files when possible), appended atomically (temp file + rename, mode and owner
  // kept) while holding shadow's own lock (<file>.lock, as useradd/usermod take it).
  std::vector<SubidEntry> ensure_subids(std::vector<SubidEntry>* gid_ranges = nullptr) const;

  // A range of `size` ids for container `id` (its earlier one if it has one: as it was when at least
  // `size` ids, else grown in place when it can be, else a new one), disjoint from every other live
  // allocation, inside the remap user's subuid and subgid ranges. An allocation whose container
  // `still_exists` says is gone is free again. Throws Error (125) "no room for N ids in /etc/subuid ..."
  // when nothing fits.
  IdRange allocate(const std::string& id, std::uint32_t size,
                   const std::function<bool(const std::string&)>& still_exists) const;
  std::optional<IdRange> find(const std::string& id) const;
  void release(const std::string& id) const;

  static constexpr std::uint64_t kDefaultPool = 65536ull * 1024;

 private:
  fs::path state_dir_;
  std::string user_;
  SubidFiles files_;
};

// A new user namespace with uid_map/gid_map "0 host_id size", returned as an open /proc/<pid>/ns/user
// descriptor (made by a short-lived CLONE_VM child that is reaped before returning; ~70 us). Throws
// SystemError (Error for a size of 0).
UniqueFd make_user_namespace(const IdRange& range);

// A detached copy of the mount at (dirfd, path) (open_tree(OPEN_TREE_CLONE), recursive when asked) with
// the idmapping of `userns_fd` applied (mount_setattr(MOUNT_ATTR_IDMAP)), and read-only when asked.
// Returns the mount's descriptor: attach it with move_mount, or name it as /proc/self/fd/N in mount
// options (overlay lowerdir; the overlay keeps it alive once mounted, so the descriptor may be closed
// then). Throws SystemError; EINVAL/ENOSYS/EPERM say the kernel or filesystem cannot.
UniqueFd idmapped_mount(int dirfd, const std::string& path, int userns_fd, bool recursive, bool readonly);

// The running kernel's version, and whether it can put overlayfs on idmapped lower layers (5.19+).
struct KernelVersion {
  unsigned major = 0, minor = 0;
};
KernelVersion kernel_version();
bool kernel_supports_idmapped_overlay();

}  // namespace cppcker
