#pragma once
// Operations on the set of stored images and their names: tag, untag/delete (rmi), naming views.
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cppcker/image/reference.hpp"
#include "cppcker/storage/store.hpp"

namespace cppcker {

struct ImageNames {
  std::vector<Reference> tags;     // name:tag
  std::vector<Reference> digests;  // name@digest
};
// Groups the store's references by image id.
std::map<std::string, ImageNames> names_by_image(const std::map<std::string, std::string>& refs);

// `cppcker tag SOURCE TARGET`: TARGET (normalised, default tag latest) now names SOURCE's image.
void tag_image(const ImageStore& store, const std::string& source, const std::string& target);

// A container that uses an image (rmi must not pull the ground from under it).
struct ImageUser {
  std::string container_id;
  bool running = false;
};
using ImageUsers = std::function<std::vector<ImageUser>(const std::string& image_id)>;

// One line of rmi's report: "Untagged: busybox:latest" or "Deleted: sha256:...".
struct RemovalEvent {
  enum class Kind { untagged, deleted } kind;
  std::string what;
};
// Docker's rmi for one argument: removes the reference given, or (by ID) all of the image's references,
// and deletes the image once nothing names it; then removes layers and blobs nothing uses any more.
// An ID that names an image in several repositories needs `force`. One of several tags always just goes,
// also while containers use the image. An image a container uses is kept: removing its last name (or it
// by ID) is refused without `force`; with it (stopped containers only) its names go and the image stays;
// while a container runs from it, its last name cannot go even with `force`, as in Docker.
std::vector<RemovalEvent> remove_image(const ImageStore& store, const std::string& text, bool force,
                                       const ImageUsers& users = {});

// The images `image prune` removes: those no container uses (`used`) that are dangling (no tag names
// them), or with `all` every one. Sorted by ID.
std::vector<std::string> prunable_images(const std::vector<ImageRecord>& images,
                                         const std::map<std::string, std::string>& refs,
                                         const std::set<std::string>& used, bool all);
struct ImagePruneResult {
  std::vector<RemovalEvent> events;  // untagged names, deleted images and layers, as Docker lists them
  std::uint64_t reclaimed = 0;       // bytes of the layers removed
};
// Docker's image prune: under the metadata lock, the images prunable_images picks (users asked there, so
// a container made meanwhile keeps its image) lose their names and records; then layers and blobs no
// image uses are collected.
ImagePruneResult prune_images(const ImageStore& store, bool all, const ImageUsers& users);

}  // namespace cppcker
