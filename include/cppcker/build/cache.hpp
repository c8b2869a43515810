#pragma once
// The build cache: <root>/build-cache/<key hex>.json, one small file per step that was built, naming the
// parent image and the image the step made. Keys hash what decides a step's result (the parent image, the
// instruction after substitution, the build args a RUN sees, a COPY's content digest); the images
// themselves live in the image store, so an entry whose image is gone is a miss. Entries are written
// atomically; a prune takes the cache's lock.
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cppcker/image/catalog.hpp"
#include "cppcker/storage/store.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker::build {

struct CacheEntry {
  std::string key;     // 64 hex
  std::string parent;  // image ID ("" for FROM scratch)
  std::string image;   // the step's image ID
};

// sha256 over the parts, each length-prefixed (so no two different lists give the same key).
std::string cache_key(const std::vector<std::string>& parts);

class BuildCache {
 public:
  explicit BuildCache(const fs::path& state_root);
  // The entry's image, when the entry exists and the store still has that image.
  std::optional<std::string> lookup(const ImageStore& images, const std::string& key) const;
  void put(const CacheEntry& entry) const;
  std::vector<CacheEntry> entries() const;
  // Images other steps were built on: `images` hides them (untagged) unless -a, as Docker hides
  // intermediate images.
  std::set<std::string> parents() const;
  // Removes every entry (`stale_only`: only those whose image is gone); returns the removed entries.
  std::vector<CacheEntry> prune(const ImageStore& images, bool stale_only) const;

 private:
  fs::path dir_;
};

struct CachePruneResult {
  std::vector<std::string> entries;  // the keys removed
  std::vector<std::string> images;   // the images deleted with them
  std::uint64_t reclaimed = 0;       // bytes of the layers removed
};
// `builder prune`: every entry goes, and with it each image an entry made that no tag names and no
// container uses; then layers and blobs no image uses any more.
CachePruneResult prune_build_cache(const fs::path& state_root, const ImageStore& images, const ImageUsers& users);

}  // namespace cppcker::build
