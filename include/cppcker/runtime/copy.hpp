#pragma once
// `cp` and `export`: files between a container and the host as tar streams, with Docker's path rules
// (moby pkg/archive/copy.go) and every container-side path resolved inside the container's root
// (container_fs.hpp). The host side is the user's own: its paths are taken as given.
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "cppcker/runtime/container.hpp"
#include "cppcker/storage/store.hpp"

namespace cppcker {

// ---------------------------------------------------------------- Docker's path rules (pure)

// What is known about one end of a copy (archive.CopyInfo).
struct CopyInfo {
  std::string path;
  bool exists = false;
  bool is_dir = false;
  std::string rebase_name;  // -L: the source's entries take the link's name, not its target's
};

// filepath.Clean of an absolute container path, keeping a trailing "/" or "/." (Docker's
// PreserveTrailingDotOrSeparator): "/a/../b/" -> "/b/", "a/." -> "/a/.", "" -> "/".
std::string clean_container_path(const std::string& path);
// archive.SplitPathDirEntry: ("dir", "base") of a cleaned path; a path ending in "/." has base ".".
std::pair<std::string, std::string> split_path_dir_entry(const std::string& path);
// The path says it is a directory: it ends with "/" or "/.".
bool asserts_directory(const std::string& path);

// Where the source's tar (whose entries start with `old_base`) is extracted, and what its top entry is
// renamed to (archive.PrepareArchiveCopy). Throws Error with Docker's wording: "cannot copy directory"
// (a directory onto an existing file), "no such directory" (a file to a missing path ending in "/").
struct CopyPlan {
  std::string dir;
  std::string old_base, new_base;  // both empty: extracted as it is
};
CopyPlan prepare_archive_copy(const CopyInfo& src, const CopyInfo& dst);
// A tar entry's name under the plan: the top component `old_base` becomes `new_base` (archive's
// RebaseArchiveEntries); names outside it stay as they are.
std::string rebase_entry_name(const std::string& name, const std::string& old_base, const std::string& new_base);

// `cp` arguments (Docker's splitCpArg): "CONTAINER:PATH" -> {container, path}; an absolute path, a path
// starting with "." or without ":" is local -> {"", arg}.
std::pair<std::string, std::string> split_cp_arg(const std::string& arg);

// ---------------------------------------------------------------- tar streams

// Owners of the entries as they are written or extracted.
struct OwnerPolicy {
  // Writing: host owner -> the owner put in the tar. Extracting: the tar's owner -> the owner on disk.
  std::function<std::uint32_t(std::uint32_t)> uid, gid;
  bool chown = true;  // extracting: false leaves files to the calling user (Docker's copy to the host)
};

// Writes a tar of `path` (resolved inside `root`: an O_PATH directory, the symlinks on the way followed
// in it; the last component followed only with `follow`) to `out`. Its top entry is named `name`
// ("." for a directory's contents: "./x"; "" for a root with no top entry: "x", as export writes them).
// Owners, modes, times, xattrs, hardlinks, symlinks, devices and fifos are kept; sockets are left out.
void write_tar(int root, const std::string& path, bool follow, const std::string& name, const OwnerPolicy& owners,
               int out);

// Extracts the tar read from `in` below `dir` (resolved inside `root`, which must be a directory there:
// "extraction point is not a directory"). Every entry's parent is resolved inside `root`, the entry itself
// is never followed; a name leaving `dir` is refused. Existing files are replaced; a directory is never
// replaced by a non-directory or the reverse ("cannot overwrite ..."). Top entries are renamed by `plan`.
void extract_tar(int in, int root, const std::string& dir, const CopyPlan& plan, const OwnerPolicy& owners);

// ---------------------------------------------------------------- the commands

struct CopyOptions {
  bool archive = false;      // -a: owners kept (else: the container's root inside, the caller's outside)
  bool follow_link = false;  // -L
};

// `cp CONTAINER:SRC DEST|-`: `dest` "-" writes the tar to `out`.
void copy_from_container(const ImageStore& images, const ContainerStore& containers, const std::string& container,
                         const std::string& src, const std::string& dest, const CopyOptions& o, int out);
// `cp SRC|- CONTAINER:DEST`: `src` "-" reads a tar from `in`.
void copy_to_container(const ImageStore& images, const ContainerStore& containers, const std::string& src,
                       const std::string& container, const std::string& dest, const CopyOptions& o, int in);
// `export`: the container's root filesystem without its volumes, as a tar on `out`.
void export_container(const ImageStore& images, const ContainerStore& containers, const std::string& container, int out);

}  // namespace cppcker
