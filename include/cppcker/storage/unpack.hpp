#pragma once
// Path-safe extraction of one layer tar into its own directory, converting OCI whiteouts to the form
// overlayfs understands. Every path is resolved inside the layer root (openat2 RESOLVE_IN_ROOT), the
// final component is never followed, and entries that try to leave the root fail the extraction.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace cppcker {

// A pull-based stream of bytes; an empty view means end of stream.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual std::string_view next() = 0;
};

// Cleans a tar entry name to a relative path ("" for the root). Leading "/" and "./" are dropped,
// "." components removed and ".." applied lexically; std::nullopt when it would leave the root.
std::optional<std::string> clean_layer_path(std::string_view name);

struct WhiteoutEntry {
  enum class Kind { none, file, opaque, meta } kind = Kind::none;
  std::string dir;   // directory holding the whiteout ("" for the root)
  std::string name;  // for Kind::file: the name being deleted
};
// Classifies an already-cleaned path: ".wh..wh..opq" -> opaque, ".wh.<name>" -> file, other
// ".wh..wh.*" (AUFS metadata) -> meta, everything else -> none. Throws Error for ".wh." with no name.
WhiteoutEntry classify_whiteout(std::string_view clean_path);

// True when a symlink at `link_path` (cleaned) with a relative `target` would point outside the root
// lexically (Docker refuses such links as a breakout). Absolute targets are resolved in the root and allowed.
bool symlink_escapes(std::string_view link_path, std::string_view target);

struct UnpackStats {
  std::uint64_t entries = 0;
  std::uint64_t bytes = 0;  // sum of regular file sizes: the layer's size as Docker reports it
};

// Extracts the uncompressed tar from `source` into the existing empty directory `dest`, keeping numeric
// owners, modes (setuid after chown), xattrs, hardlinks, devices and times. Reads `source` to its end.
// Throws Error naming the entry on any bad entry or I/O failure.
UnpackStats unpack_layer(ByteSource& source, const std::filesystem::path& dest);

}  // namespace cppcker
