#pragma once
// The build context and COPY/ADD. There is no daemon: a context directory is read in place (never copied
// whole), a context tar from stdin is extracted once into a private scratch directory. Every path inside a
// source root is resolved in it (openat2 RESOLVE_IN_ROOT), so neither a symlink in the context nor one in a
// stage's filesystem reaches the host; the destination is the step container's root, resolved the same way.
#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cppcker/build/dockerfile.hpp"
#include "cppcker/build/dockerignore.hpp"
#include "cppcker/util/fd.hpp"

namespace cppcker::build {

class BuildContext {
 public:
  // A directory; its `.dockerignore` (if any) is read. Throws Error("unable to prepare context: path \"x\"
  // not found") and the like.
  static BuildContext open_directory(const std::filesystem::path& dir);
  // A tar (plain or compressed) read from `in` to its end, extracted below `scratch` (made by the caller,
  // removed by the caller). Throws Error for a stream that is no tar.
  static BuildContext from_tar(int in, const std::filesystem::path& scratch);

  int root() const { return root_.get(); }  // O_PATH directory
  const std::filesystem::path& path() const { return path_; }
  const IgnoreMatcher& ignore() const { return ignore_; }
  // A file of the context (the Dockerfile), resolved inside it; nullopt when it does not exist.
  std::optional<std::string> read(const std::string& relative) const;

 private:
  std::filesystem::path path_;
  UniqueFd root_;
  IgnoreMatcher ignore_;
};

// Where COPY/ADD read from: the context (with its ignore rules) or, for --from, a stage's or an image's
// root filesystem (no ignore rules; absolute paths allowed).
struct SourceRoot {
  int root = -1;                          // O_PATH directory
  const IgnoreMatcher* ignore = nullptr;  // the context's; nullptr for --from
};

// One COPY or ADD, its words already expanded by the builder.
struct CopySpec {
  bool add = false;                  // ADD: local archives are extracted; http(s) URLs are fetched
  std::vector<std::string> sources;  // as written after expansion: may hold wildcards (Go's filepath.Match)
  std::string dest;                  // as written after expansion; relative to `workdir` unless absolute
  std::string workdir = "/";         // the step's WORKDIR
  std::string chown;                 // --chown "user[:group]" (names looked up in the destination's
                                     // /etc/passwd and /etc/group, as Docker does), "" for root
  std::optional<mode_t> chmod;       // --chmod (octal, already parsed)
  std::vector<Heredoc> heredocs;     // COPY <<EOF /dst: each heredoc is a file source named after it
};

// A copy whose sources were selected, read for the cache and (ADD with a URL) fetched into `scratch`.
class PreparedCopy {
 public:
  // Throws Error in Docker's wording with the source named: a source outside the context ("forbidden path
  // outside the build context: ../x ()"), a missing or excluded source ("COPY failed: file not found in
  // build context or excluded by .dockerignore: stat x: file does not exist"), a wildcard that matches
  // nothing ("COPY failed: no source files were specified"; "ADD failed: ..." for ADD), several sources to a
  // destination without a trailing "/" ("When using COPY with more than one source file, the destination
  // must be a directory and end with a /"), a URL to COPY ("source can't be a URL for COPY"), a URL that
  // cannot be fetched ("failed to GET <url> with status 404: <body>").
  static PreparedCopy prepare(const SourceRoot& source, const CopySpec& spec, const std::filesystem::path& scratch);

  // The cache's view: sha256 over every selected entry's name below its source, type, mode, owner,
  // extended attributes, link target and content (not its mtime, as BuildKit), plus the destination,
  // --chown and --chmod, a URL's fetched body and a heredoc's content. Equal digests mean an equal result.
  const std::string& digest() const { return digest_; }

  // Copies into `dest_root` (an O_PATH directory: the step container's root, writable) with Docker's rules:
  // a directory's contents (not the directory) are copied; a file to a destination ending in "/" (or an
  // existing directory) goes inside it; missing parents are created (0755, owned by --chown's user or
  // root, as Docker and buildah); owners are root or --chown's (a copy --from without --chown keeps the
  // source's, as BuildKit and buildah); modes kept or --chmod's; mtimes and xattrs kept; ADD extracts a
  // local tar (any compression) as a directory merge with the archive's owners (its "./" entry applied to
  // the destination, as buildah) and stores a URL's body as a file (0600, its name from the URL when dest
  // ends in "/"). Errors name the destination path; `--chown` names missing from the destination's
  // /etc/passwd or /etc/group: "unable to find user x: no matching entries in passwd file".
  void apply(int dest_root) const;

 private:
  // One selected source, in order: a path in the source root, a fetched URL or a heredoc.
  struct Entry {
    enum class Kind { path, url, heredoc } kind = Kind::path;
    std::string path;                // Kind::path: cleaned, below the source root ("" for the root itself)
    std::string name;                // the name a file takes inside a directory destination
    std::filesystem::path fetched;   // Kind::url: the body, in the scratch directory
    std::optional<long long> mtime;  // Kind::url: Last-Modified (seconds since the epoch)
    std::size_t heredoc = 0;         // Kind::heredoc: index into spec_.heredocs
  };
  SourceRoot source_;
  CopySpec spec_;
  std::vector<Entry> entries_;
  std::string digest_;
};

// WORKDIR's directory: `path` (absolute) made in `root` (an O_PATH directory) with its missing parents, each
// 0755 whatever the umask and owned by `user` (the stage's USER: "" is root, "name|uid[:group|gid]" resolved
// in the root's own /etc/passwd and /etc/group), as BuildKit and buildah make it; existing directories are
// left as they are. Every component is resolved inside the root.
void make_workdir(int root, const std::string& path, const std::string& user);

}  // namespace cppcker::build
