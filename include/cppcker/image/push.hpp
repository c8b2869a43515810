#pragma once
// Pushing an image to a registry, as `docker push` does: every layer blob is checked with HEAD and skipped
// when the repository has it, else mounted from another repository of the same registry that the store
// knows has it, else uploaded (3 at a time, resuming after a dropped connection); then the config blob,
// then the manifest by tag: the form the image came in (Docker v2 schema 2 or OCI), or the one asked for.
// Layers stored compressed are pushed as they are; uncompressed ones are compressed (gzip without name
// or time, or zstd) into a blob the store keeps, so that a second push sends the same bytes.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cppcker/image/manifest.hpp"
#include "cppcker/image/reference.hpp"
#include "cppcker/registry/client.hpp"
#include "cppcker/registry/config.hpp"
#include "cppcker/storage/store.hpp"

namespace cppcker {

enum class ManifestFormat { docker_v2s2, oci };
// "oci" / "v2s2" (also "docker"); throws Error for anything else.
ManifestFormat parse_manifest_format(std::string_view text);
// "gzip" / "zstd"; throws Error for anything else.
Compression parse_push_compression(std::string_view text);

enum class PushState { preparing, waiting, pushing, pushed, already_exists, mounted };

// Progress observer; `layer` may be called from several threads at once.
class PushObserver {
 public:
  virtual ~PushObserver() = default;
  // `id` is the layer's diffID (Docker names layers by it when pushing); `detail` is the repository a
  // mounted layer came from.
  virtual void layer(const std::string& /*id*/, PushState /*state*/, std::uint64_t /*current*/,
                     std::uint64_t /*total*/, const std::string& /*detail*/) {}
  struct Pushed {
    std::string tag;
    std::string digest;
    std::size_t size = 0;
  };
  // After each tag's manifest: Docker prints "<tag>: digest: <digest> size: <size>".
  virtual void tag_pushed(const Pushed& /*pushed*/) {}
};

struct PushOptions {
  bool all_tags = false;                   // every tag of the reference's repository
  std::optional<ManifestFormat> format;    // default: the form the image came in
  std::optional<Compression> compression;  // for layers stored uncompressed; default gzip
  int max_concurrent_uploads = 3;
  UploadOptions upload;
  RetryPolicy retry;
};

// Pushes `ref` (its tag; with all_tags, every tag of its repository). Errors as Docker words them:
// "An image does not exist locally with the tag: x", "denied: requested access to the resource is denied".
std::vector<PushObserver::Pushed> push_image(const ImageStore& store, const RegistryConfig& config,
                                             const Reference& ref, const PushOptions& options,
                                             PushObserver& observer);

// The manifest for `record` in `format` with `layers` (digest, size and media type as pushed) and the
// config bytes' descriptor: media types switched, everything else as it was.
std::string build_manifest(ManifestFormat format, const Descriptor& config, const std::vector<Descriptor>& layers);

// Compresses `data` to the bytes a push sends: gzip with no name and no time in its header (so equal input
// gives an equal digest), or zstd; fed in pieces to `sink`.
class LayerCompressor {
 public:
  LayerCompressor(Compression compression, std::function<void(std::string_view)> sink);
  ~LayerCompressor();
  LayerCompressor(const LayerCompressor&) = delete;
  LayerCompressor& operator=(const LayerCompressor&) = delete;
  void write(std::string_view data);
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cppcker
