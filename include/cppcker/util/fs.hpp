#pragma once
// Small filesystem helpers: atomic writes, locks, recursive removal.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "cppcker/util/fd.hpp"

namespace cppcker {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path);
// Reads an open file to its end in large chunks, calling `chunk` for each; `what` names it in errors.
void read_chunks(int fd, const std::string& what, const std::function<void(std::string_view)>& chunk);
// The same through the caller's buffer (a process that must stay small reads in small pieces).
void read_chunks(int fd, const std::string& what, const std::function<void(std::string_view)>& chunk,
                 std::span<char> buffer);
std::string read_all(int fd, const std::string& what);
// All of `data` to an open file (EINTR and short writes retried); `what` names it in errors.
void write_all(int fd, std::string_view data, const std::string& what);
// Each line of an open file (without its newline), read in 4 KiB pieces: it holds no more than one line
// at a time, for a process that must stay small (the monitor reading /proc/self/smaps).
void read_lines(int fd, const std::string& what, const std::function<void(std::string_view)>& line);
std::optional<std::string> read_file_if_exists(const fs::path& path);

// Writes to a temporary file beside `path`, fsyncs it, then renames it over `path`, so that
// readers see either the old or the new content, never a torn one. `unsynced` skips the fsync for files
// that are rebuilt whenever they are needed (a crash of the machine may lose them, never tear them).
enum class Durability { synced, unsynced };
void write_file_atomic(const fs::path& path, std::string_view data, mode_t mode = 0644,
                       Durability durability = Durability::synced);

// mkdir -p with errors that name the path.
void make_dirs(const fs::path& path);

// Removes a tree without following symlinks; a missing path is not an error.
void remove_tree(const fs::path& path);
// Removes `name` (a file or a whole directory tree) inside the open directory `dirfd`, never following
// a symlink; `where` names it in errors.
void remove_tree_at(int dirfd, const std::string& name, const std::string& where);

// Detaches every mount at or below `path` (deepest first), as /proc/self/mountinfo lists them: a
// directory about to be removed may still hold one that a killed process made.
void unmount_below(const fs::path& path);

// Opens `rel` for reading with every component resolved inside `root` (symlinks included), so that
// content from an untrusted archive cannot reach outside it. Throws SystemError naming `rel`.
UniqueFd open_beneath(const fs::path& root, const std::string& rel);
// Reads a whole file opened with open_beneath.
std::string read_beneath(const fs::path& root, const std::string& rel);
bool exists_beneath(const fs::path& root, const std::string& rel);

// fsync of a directory, so that a rename inside it is durable.
void sync_dir(const fs::path& dir);

// Random lowercase hex string of `bytes` random bytes (2*bytes characters).
std::string random_hex(std::size_t bytes);

// An flock() held for the lifetime of the object. Shared or exclusive; blocks until granted.
class FileLock {
 public:
  enum class Mode { shared, exclusive };
  FileLock(const fs::path& path, Mode mode = Mode::exclusive);
  // Non-blocking variant: std::nullopt when someone else holds the lock.
  static std::optional<FileLock> try_lock(const fs::path& path, Mode mode = Mode::exclusive);
  FileLock(FileLock&&) = default;
  FileLock& operator=(FileLock&&) = default;
  // A lock stays held across an exec (flock belongs to the open file description): its descriptor, to
  // pass on, and the lock taken over from it on the other side.
  int fd() const { return fd_.get(); }
  static FileLock adopt(UniqueFd fd) {
    FileLock lock;
    lock.fd_ = std::move(fd);
    return lock;
  }

 private:
  FileLock() = default;
  UniqueFd fd_;
};

// Sum of the apparent sizes of the regular files below `path` (no symlinks followed).
std::uint64_t tree_size(const fs::path& path);

}  // namespace cppcker
