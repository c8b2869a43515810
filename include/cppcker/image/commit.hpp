#pragma once
// Images made here rather than pulled: `commit` (a container's read-write layer on top of its image) and
// `import` (a tar as a one-layer image), with Docker's `-c` changes. The new layer is written once as a tar
// and, in the same pass, hashed (diffID), gzip-compressed into a blob (digest) and extracted into the
// store's layer directory with the unpacker a pull uses, so a run of the image sees exactly what a push
// sends. Blob and layer are content-addressed (GC-able until named); the image record and its tag come
// last, atomically.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cppcker/image/manifest.hpp"
#include "cppcker/storage/layer_writer.hpp"
#include "cppcker/storage/store.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker {

// Applies Dockerfile instructions to `config` (an image config's "config" object) as `docker commit -c`
// and `docker import -c` do: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL, in
// Dockerfile syntax (JSON or shell form). Throws Error: "run is not a valid change command", or the
// instruction's own complaint.
nlohmann::json apply_changes(nlohmann::json config, const std::vector<std::string>& changes);

// Docker's commit merge: what `user` (the -c result) leaves empty comes from the container's config
// (Env, Labels, ExposedPorts and Volumes are added to by key; Cmd only when no Entrypoint was given).
nlohmann::json merge_config(nlohmann::json user, const nlohmann::json& container);

// Checks an image name given to commit/import and normalises it ("name:latest"). Throws Error with
// Docker's "invalid reference format" wording. "" stays "" (no name).
std::string image_name(const std::string& text);

struct CommitRequest {
  UpperLayer layer;
  std::string base_image_id;
  std::string container_id;
  nlohmann::json container_config;  // Docker's Config of the container: Cmd, Entrypoint, Env, ...
  std::string author;
  std::string comment;
  std::vector<std::string> changes;
  std::string name;  // normalised reference or ""
};

struct CommitResult {
  std::string image_id;
  bool empty_layer = false;  // nothing changed: no layer added (Docker 20.10+: history empty_layer)
};

CommitResult commit_container(const ImageStore& store, const CommitRequest& request);

// The one path that makes an image from another (commit and the image builder): the base image (or none:
// `FROM scratch`), an optional new layer, the new config and one history entry. Stored under `name` ("" for
// none) once everything else is in place.
struct NewImage {
  std::string base_image_id;  // "" for scratch
  std::optional<Platform> platform;  // the platform of a scratch image (the host's when unset)
  // Writes the new layer as an uncompressed tar to the sink and returns its number of entries (0: no layer,
  // the history entry gets empty_layer). Unset: a metadata-only image.
  std::function<std::uint64_t(const std::function<void(std::string_view)>&)> write_layer;
  nlohmann::json config;   // the image config's "config" object
  nlohmann::json history;  // the history entry to add ("created" filled in when absent)
  std::string container_id;          // the image config's "container" ("" to leave it out)
  nlohmann::json container_config;   // its "container_config" (null to leave it out)
  std::string author;
  std::string name;  // normalised reference or ""
};
CommitResult store_new_image(const ImageStore& store, const NewImage& image);

struct ImportRequest {
  // Pushes the source's bytes (any compression) into the given sink until its end.
  std::function<void(const std::function<void(std::string_view)>&)> read;
  std::string source;  // "-", a path or a URL: for the history comment "Imported from <src>"
  std::vector<std::string> changes;
  std::string comment;
  std::optional<Platform> platform;
  std::string name;  // normalised reference or ""
};

// Returns the new image's ID. A source that is no tar fails with one Error and stores nothing named.
std::string import_image(const ImageStore& store, const ImportRequest& request);

// History rows as `docker history` shows them, newest first.
struct HistoryRow {
  std::string id;  // the image ID for the top row, "<missing>" below it
  std::string created;  // RFC 3339 from the config
  std::string created_by;
  std::int64_t size = 0;
  std::string comment;
};
std::vector<HistoryRow> image_history(const ImageStore& store, const std::string& image_id);

// One row's columns as `docker history` prints them: the ID cut to 12 characters and CREATED BY to 45
// ("…" last) when `trunc`; with `human` "2 hours ago" and "1.23MB", else RFC 3339 and bytes.
struct HistoryColumns {
  std::string id, created_since, created_at, created_by, size, comment;
};
HistoryColumns history_columns(const HistoryRow& row, bool trunc, bool human, TimePoint now);

}  // namespace cppcker
