#pragma once
// `load` and `save`: image archives as `docker save` writes them since Docker 25 (an OCI image layout
// with index.json, oci-layout and blobs/sha256, plus Docker's manifest.json), and older docker-archive
// tars (manifest.json with <id>/layer.tar), plain or compressed; or an OCI image layout directory.
#include <filesystem>
#include <string>
#include <vector>

#include "cppcker/storage/store.hpp"

namespace cppcker {

struct LoadResult {
  std::vector<std::string> tags;          // familiar names: "busybox:latest"
  std::vector<std::string> untagged_ids;  // images that came without a name
};

// Loads every image of the archive at `input` (a tar file, an OCI layout directory, or "-" for stdin).
LoadResult load_images(const ImageStore& store, const std::filesystem::path& input);

// Writes `names` (references or IDs) as one archive to `out_fd`.
void save_images(const ImageStore& store, const std::vector<std::string>& names, int out_fd);

}  // namespace cppcker
