#pragma once
// Pulling an image: manifest (index -> platform), config, then every missing layer downloaded in
// parallel and extracted while it downloads; the image record and references are committed last.
#include <cstdint>
#include <optional>
#include <string>

#include "cppcker/image/manifest.hpp"
#include "cppcker/image/reference.hpp"
#include "cppcker/registry/client.hpp"
#include "cppcker/registry/config.hpp"
#include "cppcker/storage/store.hpp"

namespace cppcker {

enum class LayerState { waiting, already_exists, downloading, extracting, complete };

// Progress observer; methods may be called from several threads at once.
class PullObserver {
 public:
  virtual ~PullObserver() = default;
  virtual void layer(const std::string& /*digest*/, LayerState /*state*/, std::uint64_t /*current*/,
                     std::uint64_t /*total*/) {}
};

struct PullOptions {
  std::optional<Platform> platform;  // explicit --platform; default: this machine
  int max_concurrent_downloads = 3;
  RetryPolicy retry;
};

struct PullResult {
  std::string image_id;
  std::string digest;  // the digest the reference resolved to (index or manifest): the repo digest
  bool updated = false;  // false when the reference already pointed at this image
};

PullResult pull_image(const ImageStore& store, const RegistryConfig& config, const Reference& ref,
                      const PullOptions& options, PullObserver& observer);

// Shared by pull and load: writes the record and the references under the metadata lock.
// Returns true when any of `names` pointed at another image (or nothing) before.
bool commit_image(const ImageStore& store, const ImageRecord& record, const std::vector<std::string>& names);

}  // namespace cppcker
