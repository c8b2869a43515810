#pragma once
// A container's read-write layer (an overlayfs upper dir over extracted layer dirs) read back as a layer:
// the changes `diff` lists and the tar `commit` stores. Overlay whiteouts (0/0 character devices) become
// OCI ".wh.NAME" entries, opaque dirs (trusted.overlay.opaque=y) get ".wh..wh..opq"; no trusted.overlay.*
// xattr is written. Entries are sorted by name, so the same tree always gives the same tar.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cppcker {

// Host ids of a user-namespaced container's files: [host, host + size) is the container's [0, size).
struct IdShift {
  std::uint32_t host_uid = 0;
  std::uint32_t host_gid = 0;
  std::uint32_t size = 0;
};

struct UpperLayer {
  std::filesystem::path upper;
  std::vector<std::filesystem::path> lowers;  // topmost first
  // Container paths ("/etc/hosts") left out: files the runtime binds over placeholders in the upper dir.
  std::vector<std::string> excluded;
  // Container paths of mount targets (volumes, binds, tmpfs): the directory stays, its contents are left out.
  std::vector<std::string> mount_targets;
  std::optional<IdShift> ids;
};

struct LayerChange {
  enum class Kind { modify, add, remove } kind;
  std::string path;  // "/etc/passwd"
  bool operator==(const LayerChange&) const = default;
};
char change_letter(LayerChange::Kind kind);  // C, A, D as `docker diff` prints them

// Docker's diff: sorted by path; a directory of the upper dir that also exists below is C, new is A, a
// whiteout is D; an opaque directory is C with a D for each child of the lowers that it hides.
std::vector<LayerChange> layer_changes(const UpperLayer& layer);

// Writes the layer as an uncompressed pax tar to `sink` (chunks of up to about 1 MB). Returns the number
// of entries written: 0 means an empty diff. Throws Error naming the path (a directory renamed with overlay's
// redirect_dir, or a metacopy-only file, cannot be represented and is refused).
std::uint64_t write_layer_tar(const UpperLayer& layer, const std::function<void(std::string_view)>& sink);

}  // namespace cppcker
