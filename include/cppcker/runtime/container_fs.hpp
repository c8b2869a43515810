#pragma once
// Reaching a container's filesystem from the host, as Docker's daemon reaches it for cp and export: a
// descriptor of the container's root directory, taken from the container's own mount namespace (running)
// or from an overlay mounted in a private mount namespace of a short-lived child (stopped; export). The
// caller never enters the container: it resolves every path against that descriptor with openat2
// (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so symlinks are followed as the container sees them and never
// out of it, and no library or file of the container is ever loaded into a host process.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "cppcker/runtime/container.hpp"
#include "cppcker/storage/store.hpp"
#include "cppcker/util/fd.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

// Container ids <-> the host ids that own its files (identity without a user namespace).
struct IdMap {
  std::optional<IdRange> range;
  // A host owner as the container sees it: outside the range it is the overflow id (65534), as in the kernel.
  std::uint32_t uid_to_container(std::uint32_t host) const;
  std::uint32_t gid_to_container(std::uint32_t host) const;
  // A container id as the host stores it; Error when the container's range has no such id.
  std::uint32_t uid_to_host(std::uint32_t id) const;
  std::uint32_t gid_to_host(std::uint32_t id) const;
};

enum class FsView {
  live,    // what the container sees now, volumes included (cp): the running container's own mounts, or
           // for a stopped one its overlay (writable: upper + work) with its volumes and binds mounted
  layers,  // the root filesystem alone, read-only (export): lowerdir=upper:layers..., no volumes
};

class ContainerFs {
 public:
  int root() const { return root_.get(); }  // O_PATH directory: the container's "/"
  const IdMap& ids() const { return ids_; }

 private:
  friend ContainerFs open_container_fs(const ImageStore&, const ContainerStore&, const Container&, FsView);
  UniqueFd root_;
  UniqueFd mount_ns_;               // keeps the private namespace (and the volumes mounted in it) alive
  std::optional<FileLock> owner_;   // a stopped container cannot be started (or removed) meanwhile
  IdMap ids_;
};

// Throws Error("No such container: ...") when the record is gone, Error for a container that is busy
// (being started or removed) for more than a few seconds, SystemError for a mount that fails.
ContainerFs open_container_fs(const ImageStore& images, const ContainerStore& containers, const Container& c,
                              FsView view);

// An image's root filesystem, read-only (the builder's `COPY --from=stage|image`): its layers as one
// overlay (one layer: that layer's directory; none: an empty directory), made in a private mount namespace
// of a short-lived child as for a container, and never attached anywhere: the root descriptor alone keeps
// it, so closing it (or a kill) leaves nothing mounted.
class ImageFs {
 public:
  int root() const { return root_.get(); }  // O_PATH directory: the image's "/"

 private:
  friend ImageFs open_image_fs(const ImageStore&, const std::string&);
  UniqueFd root_;
  UniqueFd mount_ns_;
};

// Throws Error("No such image: ...") for an unknown id, Error for a mount that fails.
ImageFs open_image_fs(const ImageStore& images, const std::string& image_id);

// openat2(root, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): -1 with errno on failure.
int open_in_root(int root, const std::string& path, int flags, mode_t mode = 0);

}  // namespace cppcker
