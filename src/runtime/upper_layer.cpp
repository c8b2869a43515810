#include "cppcker/runtime/upper_layer.hpp"

#include "cppcker/util/error.hpp"

namespace cppcker {

// The container's read-write layer as the image store sees it: its overlay lowers, and what the runtime
// puts there that is no change of the container's own (init files, mount targets' contents).
UpperLayer container_upper_layer(const ContainerStore& containers, const ImageStore& images, const Container& c) {
  UpperLayer layer;
  layer.upper = containers.dir(c.id) / "upper";
  auto image = images.get_image(c.spec.image_id);
  if (!image) throw Error("No such image: " + c.spec.image_id + " (the image of container " + c.name + ")");
  for (auto it = image->layers.rbegin(); it != image->layers.rend(); ++it)
    layer.lowers.push_back(images.layer_diff_dir(it->chain_id));
  // The init files are binds over placeholders; /proc, /sys and /dev are the runtime's own mounts, their
  // directories made by it where the image has none (Docker keeps all of these in its init layer).
  layer.excluded = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/proc", "/sys", "/dev"};
  for (const auto& m : c.spec.mounts) layer.mount_targets.push_back(m.target);
  if (c.spec.userns) layer.ids = IdShift{c.spec.userns->host_uid, c.spec.userns->host_gid, c.spec.userns->size};
  return layer;
}

}  // namespace cppcker
