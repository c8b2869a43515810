#pragma once
// OCI / Docker manifest, index and config documents, and platform choice.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace cppcker {

namespace media_type {
inline constexpr std::string_view oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view oci_config = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view oci_layer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view oci_layer_gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view oci_layer_zstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view docker_list = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view docker_config = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view docker_layer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view docker_layer_gzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view docker_schema1 = "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view docker_schema1_signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
// The one Accept header sent for manifests.
std::string accept_header();
}  // namespace media_type

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;

  // "linux/arm64/v8" style; throws Error on a malformed value. Normalises aliases (aarch64, x86_64...).
  static Platform parse(std::string_view text);
  // The platform of this machine (uname), normalised as above.
  static Platform host();
  std::string string() const;
  bool operator==(const Platform&) const = default;
};

// Normalises os/arch/variant the way containerd's platforms package does.
Platform normalize(Platform p);

struct Descriptor {
  std::string media_type;
  std::string digest;
  std::int64_t size = 0;
  std::optional<Platform> platform;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> urls;
};

enum class ManifestKind { index, image };

// A fetched or loaded manifest document, classified.
struct ManifestDocument {
  ManifestKind kind;
  std::string media_type;
  nlohmann::json json;
};

// Classifies `body`; the media type comes from the body when it has one, else from `content_type`.
// Schema 1 and unknown types are refused with a clear Error.
ManifestDocument parse_manifest_document(std::string_view body, std::string_view content_type);

struct ImageManifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
};
ImageManifest parse_image_manifest(const nlohmann::json& doc, std::string_view media_type);

struct ImageIndex {
  std::string media_type;
  std::vector<Descriptor> manifests;
};
ImageIndex parse_image_index(const nlohmann::json& doc, std::string_view media_type);

// The entry of `index` for `want`, as containerd/Docker choose it: os and architecture must match; a
// variant must match when asked for (arm64's "v8" equals no variant). Throws Error naming the platform.
const Descriptor& select_platform(const ImageIndex& index, const Platform& want);

// Parsed parts of an image config that the store needs; the raw JSON is kept as well.
struct ImageConfig {
  std::vector<std::string> diff_ids;
  std::string created;  // RFC 3339 or empty
  Platform platform;
  nlohmann::json json;
};
ImageConfig parse_image_config(std::string_view body);

enum class Compression { none, gzip, zstd };
// Detects compression by magic bytes (at least 4 bytes should be given).
Compression detect_compression(std::string_view head);
std::string_view compression_name(Compression c);

bool is_layer_media_type(std::string_view mt);

// chainID(L0) = diffID(L0); chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)).
std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids);

}  // namespace cppcker
