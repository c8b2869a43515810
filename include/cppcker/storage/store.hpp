#pragma once
// The image store under the state root:
//   blobs/sha256/<hex>          manifests, configs and layer blobs, by digest
//   layers/<chainhex>/diff/     one extracted layer, shared by every image that has it
//   layers/<chainhex>/layer.json
//   images/<idhex>.json         one record per image (id = config digest)
//   repositories.json           tags and digest references -> image id
// Every file is written atomically (temp + rename); a directory becomes visible by one rename. Locks:
//   store.lock   exclusive while records or references change;
//   gc.lock      shared while content is added (pull, load), exclusive while garbage is removed;
//   layers/.locks/<chainhex>  exclusive while one layer is fetched or extracted.
// Leftovers of a killed process carry ".tmp-" in their name and are swept by the next GC.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cppcker/image/reference.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

struct LayerRecord {
  std::string chain_id;
  std::string diff_id;
  std::string digest;  // the blob as fetched or loaded (possibly compressed)
  std::string media_type;
  std::int64_t size = 0;            // blob size
  std::uint64_t unpacked_size = 0;  // sum of regular file sizes in the layer
};

struct ImageRecord {
  std::string id;  // config digest
  std::string manifest_digest;
  std::string manifest_media_type;
  std::vector<LayerRecord> layers;
  std::string created;  // from the config
  std::string os;
  std::string architecture;
  std::string variant;
  std::string added;  // when this store got it

  std::uint64_t size() const;
  nlohmann::json to_json() const;
  static ImageRecord from_json(const nlohmann::json& j);
};

class ImageStore {
 public:
  explicit ImageStore(fs::path root);
  const fs::path& root() const { return root_; }

  FileLock lock_metadata() const;
  FileLock ingest_guard() const;
  // Exclusive lock for one layer; on entry, sweeps temporary leftovers of that layer and its blob.
  FileLock lock_layer(const std::string& chain_id) const;

  // Blobs
  fs::path blob_path(const std::string& digest) const;
  bool has_blob(const std::string& digest) const;
  std::string read_blob(const std::string& digest) const;
  // Verifies that `data` hashes to `digest`, then stores it atomically.
  void put_blob(const std::string& digest, std::string_view data) const;
  fs::path blob_temp_path(const std::string& digest) const;
  void commit_blob(const fs::path& temp, const std::string& digest) const;

  // Layers
  bool has_layer(const std::string& chain_id) const;
  fs::path layer_dir(const std::string& chain_id) const;
  fs::path layer_diff_dir(const std::string& chain_id) const { return layer_dir(chain_id) / "diff"; }
  // A fresh temporary layer directory with an empty diff/ inside.
  fs::path new_layer_temp(const std::string& chain_id) const;
  // Writes layer.json into `temp` and renames it into place (a no-op if another writer won the race).
  void commit_layer(const fs::path& temp, const std::string& chain_id, const nlohmann::json& meta) const;
  std::optional<nlohmann::json> layer_meta(const std::string& chain_id) const;

  // Images
  std::vector<ImageRecord> list_images() const;
  std::optional<ImageRecord> get_image(const std::string& id) const;
  void put_image(const ImageRecord& record) const;  // caller holds lock_metadata()
  void delete_image_record(const std::string& id) const;

  // References: normalised "name:tag" or "name@digest" -> image id.
  std::map<std::string, std::string> refs() const;
  void write_refs(const std::map<std::string, std::string>& refs) const;  // caller holds lock_metadata()
  // Sets one reference (taking the metadata lock itself).
  void set_ref(const Reference& ref, const std::string& image_id) const;

  // Finds an image by reference, full ID or unique ID prefix, as Docker does: nullopt when there is none
  // (what `run` and `build` pull); an ambiguous prefix is an Error.
  std::optional<std::string> find_image(std::string_view text) const;
  // find_image, or Error("No such image: x").
  std::string resolve_image(std::string_view text) const;

  // Removes layers and blobs no image references and any temporary leftovers; returns removed chain IDs.
  // Takes gc.lock exclusively, so it waits for running pulls and loads.
  std::vector<std::string> collect_garbage() const;

 private:
  fs::path root_;
};

}  // namespace cppcker
