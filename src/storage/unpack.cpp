#include "cppcker/storage/unpack.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <memory>
#include <vector>

#include "cppcker/util/error.hpp"
#include "cppcker/util/fd.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

std::optional<std::string> clean_layer_path(std::string_view name) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= name.size()) {
    auto slash = name.find('/', start);
    if (slash == std::string_view::npos) slash = name.size();
    std::string_view comp = name.substr(start, slash - start);
    if (comp == "..") {
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
    } else if (!comp.empty() && comp != ".") {
      parts.push_back(comp);
    }
    start = slash + 1;
  }
  std::string out;
  for (auto p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

static std::pair<std::string, std::string> split_parent(std::string_view path) {
  auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return {"", std::string(path)};
  return {std::string(path.substr(0, slash)), std::string(path.substr(slash + 1))};
}

WhiteoutEntry classify_whiteout(std::string_view clean_path) {
  constexpr std::string_view prefix = ".wh.";
  constexpr std::string_view meta_prefix = ".wh..wh.";
  auto [dir, base] = split_parent(clean_path);
  if (base.rfind(prefix, 0) != 0) return {};
  if (base == ".wh..wh..opq") return {WhiteoutEntry::Kind::opaque, dir, ""};
  if (base.rfind(meta_prefix, 0) == 0) return {WhiteoutEntry::Kind::meta, dir, ""};
  std::string target = base.substr(prefix.size());
  if (target.empty() || target == "." || target == "..")
    throw Error("invalid whiteout entry \"" + std::string(clean_path) + "\"");
  return {WhiteoutEntry::Kind::file, dir, target};
}

bool symlink_escapes(std::string_view link_path, std::string_view target) {
  if (target.empty()) return true;
  if (target.front() == '/') return false;
  auto [dir, base] = split_parent(link_path);
  std::string joined = dir.empty() ? std::string(target) : dir + "/" + std::string(target);
  return !clean_layer_path(joined).has_value();
}

namespace {

constexpr std::string_view kOpaqueXattr = "trusted.overlay.opaque";

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};

struct ReaderContext {
  ByteSource* source;
};

la_ssize_t read_callback(archive*, void* ctx, const void** buffer) {
  auto* rc = static_cast<ReaderContext*>(ctx);
  std::string_view chunk = rc->source->next();
  *buffer = chunk.data();
  return static_cast<la_ssize_t>(chunk.size());
}

class LayerWriter {
 public:
  explicit LayerWriter(const fs::path& dest) : dest_(dest) {
    root_.reset(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root_) throw_errno("open layer directory " + dest.string());
  }

  void write_entry(archive* a, archive_entry* entry, UnpackStats& stats);
  void finish();

 private:
  // Opens directory `rel` (resolved inside the root), creating missing components as root:root 0755.
  int dir_fd(const std::string& rel);
  UniqueFd open_in_root(const std::string& rel, int& err);
  void remove_existing(int parent, const std::string& name, const std::string& rel, bool keep_dir);
  void apply_xattrs(archive_entry* entry, int fd, const std::string& rel);
  void write_file_data(archive* a, int fd, const std::string& rel, la_int64_t size);
  void invalidate_cache() { cache_.clear(); }

  fs::path dest_;
  UniqueFd root_;
  // A few recently used parent directories; entries of one directory arrive together in practice.
  std::deque<std::pair<std::string, UniqueFd>> cache_;
  struct DirTime {
    std::string rel;
    struct timespec times[2];
  };
  std::vector<DirTime> dir_times_;
};

UniqueFd LayerWriter::open_in_root(const std::string& rel, int& err) {
  if (rel.empty()) {
    UniqueFd fd(::fcntl(root_.get(), F_DUPFD_CLOEXEC, 0));
    err = fd ? 0 : errno;
    return fd;
  }
  struct open_how how{};
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  long fd = ::syscall(SYS_openat2, root_.get(), rel.c_str(), &how, sizeof how);
  err = fd < 0 ? errno : 0;
  return UniqueFd(static_cast<int>(fd));
}

int LayerWriter::dir_fd(const std::string& rel) {
  for (auto it = cache_.begin(); it != cache_.end(); ++it) {
    if (it->first != rel) continue;
    // Most recently used at the back: eviction takes the front, never an fd a caller still holds.
    if (std::next(it) != cache_.end()) {
      auto entry = std::move(*it);
      cache_.erase(it);
      cache_.push_back(std::move(entry));
    }
    return cache_.back().second.get();
  }
  int err = 0;
  UniqueFd fd = open_in_root(rel, err);
  if (!fd && err == ENOENT) {
    auto [parent, base] = split_parent(rel);
    int pfd = dir_fd(parent);
    if (::mkdirat(pfd, base.c_str(), 0755) != 0) {
      if (errno != EEXIST) throw_errno("mkdir " + rel);
    } else if (::fchmodat(pfd, base.c_str(), 0755, 0) != 0) {  // 0755 whatever the umask (cppcker's is 077)
      throw_errno("chmod " + rel);
    }
    fd = open_in_root(rel, err);
  }
  if (!fd) {
    if (err == ENOTDIR) throw Error("\"" + rel + "\" is not a directory");
    throw SystemError("open directory " + rel, err);
  }
  if (cache_.size() >= 16) cache_.pop_front();
  cache_.emplace_back(rel, std::move(fd));
  return cache_.back().second.get();
}

void LayerWriter::remove_existing(int parent, const std::string& name, const std::string& rel, bool keep_dir) {
  struct stat st{};
  if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return;
    throw_errno("stat " + rel);
  }
  if (S_ISDIR(st.st_mode)) {
    if (keep_dir) return;
    remove_tree_at(parent, name, rel);
    invalidate_cache();  // fds below the removed tree are stale now; callers fetch their parent again
    return;
  }
  if (::unlinkat(parent, name.c_str(), 0) != 0 && errno != ENOENT) throw_errno("remove " + rel);
}

void LayerWriter::apply_xattrs(archive_entry* entry, int fd, const std::string& rel) {
  archive_entry_xattr_reset(entry);
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
    std::string_view key = name;
    // overlay's own attributes are made only by whiteout conversion; one from a layer could redirect lookups.
    if (key.rfind("trusted.overlay.", 0) == 0) continue;
    if (::fsetxattr(fd, name, value, size, 0) != 0 && errno != ENOTSUP)
      throw_errno("set xattr " + std::string(key) + " on " + rel);
  }
}

void LayerWriter::write_file_data(archive* a, int fd, const std::string& rel, la_int64_t size) {
  const void* buf = nullptr;
  size_t len = 0;
  la_int64_t offset = 0;
  for (;;) {
    int r = archive_read_data_block(a, &buf, &len, &offset);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      throw Error("read data of \"" + rel + "\": " + archive_error_string(a));
    const char* p = static_cast<const char*>(buf);
    while (len > 0) {
      ssize_t n = ::pwrite(fd, p, len, offset);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("write " + rel);
      }
      p += n;
      len -= static_cast<size_t>(n);
      offset += n;
    }
  }
  // Sparse files end in a hole that no block covers.
  if (::ftruncate(fd, size) != 0) throw_errno("truncate " + rel);
}

static struct timespec entry_mtime(archive_entry* entry) {
  struct timespec ts{};
  ts.tv_sec = archive_entry_mtime(entry);
  ts.tv_nsec = archive_entry_mtime_nsec(entry);
  return ts;
}

void LayerWriter::write_entry(archive* a, archive_entry* entry, UnpackStats& stats) {
  const char* raw_name = archive_entry_pathname(entry);
  if (!raw_name) throw Error("tar entry without a name");
  auto clean = clean_layer_path(raw_name);
  if (!clean) throw Error("tar entry \"" + std::string(raw_name) + "\" points outside the layer");
  const std::string& rel = *clean;
  ++stats.entries;

  WhiteoutEntry wh = classify_whiteout(rel);
  if (wh.kind == WhiteoutEntry::Kind::meta) return;
  if (wh.kind == WhiteoutEntry::Kind::opaque) {
    int dfd = dir_fd(wh.dir);
    if (::fsetxattr(dfd, kOpaqueXattr.data(), "y", 1, 0) != 0)
      throw_errno("mark \"" + wh.dir + "\" opaque (trusted.overlay.opaque)");
    return;
  }
  if (wh.kind == WhiteoutEntry::Kind::file) {
    int dfd = dir_fd(wh.dir);
    std::string target_rel = wh.dir.empty() ? wh.name : wh.dir + "/" + wh.name;
    remove_existing(dfd, wh.name, target_rel, false);
    if (::mknodat(dfd, wh.name.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0)
      throw_errno("create whiteout for " + target_rel);
    if (::fchownat(dfd, wh.name.c_str(), 0, 0, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("chown whiteout " + target_rel);
    return;
  }

  uid_t uid = static_cast<uid_t>(archive_entry_uid(entry));
  gid_t gid = static_cast<gid_t>(archive_entry_gid(entry));
  mode_t perm = archive_entry_perm(entry) & 07777;
  struct timespec times[2] = {entry_mtime(entry), entry_mtime(entry)};

  if (rel.empty()) {  // the "./" entry: metadata of the layer root itself
    if (archive_entry_filetype(entry) != AE_IFDIR) throw Error("tar entry for the layer root is not a directory");
    if (::fchown(root_.get(), uid, gid) != 0 || ::fchmod(root_.get(), perm) != 0) throw_errno("set owner/mode of /");
    apply_xattrs(entry, root_.get(), "/");
    dir_times_.push_back({rel, {times[0], times[1]}});
    return;
  }

  auto [parent_rel, name] = split_parent(rel);
  int parent = dir_fd(parent_rel);

  if (const char* link = archive_entry_hardlink(entry)) {
    auto target = clean_layer_path(link);
    if (!target || target->empty())
      throw Error("hardlink \"" + rel + "\" points outside the layer (\"" + link + "\")");
    auto [tparent_rel, tname] = split_parent(*target);
    int tparent = dir_fd(tparent_rel);
    remove_existing(parent, name, rel, false);
    parent = dir_fd(parent_rel);  // the removal may have dropped cached fds
    tparent = dir_fd(tparent_rel);
    if (::linkat(tparent, tname.c_str(), parent, name.c_str(), 0) != 0)
      throw_errno("hardlink \"" + rel + "\" to \"" + *target + "\"");
    return;
  }

  switch (archive_entry_filetype(entry)) {
    case AE_IFREG: {
      remove_existing(parent, name, rel, false);
      parent = dir_fd(parent_rel);
      UniqueFd fd(::openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!fd) throw_errno("create " + rel);
      la_int64_t size = archive_entry_size(entry);
      write_file_data(a, fd.get(), rel, size);
      if (::fchown(fd.get(), uid, gid) != 0) throw_errno("chown " + rel);
      if (::fchmod(fd.get(), perm) != 0) throw_errno("chmod " + rel);
      apply_xattrs(entry, fd.get(), rel);
      if (::futimens(fd.get(), times) != 0) throw_errno("set times of " + rel);
      stats.bytes += static_cast<std::uint64_t>(size);
      return;
    }
    case AE_IFDIR: {
      remove_existing(parent, name, rel, true);
      parent = dir_fd(parent_rel);
      if (::mkdirat(parent, name.c_str(), 0700) != 0 && errno != EEXIST) throw_errno("mkdir " + rel);
      UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) throw_errno("open " + rel);
      if (::fchown(fd.get(), uid, gid) != 0) throw_errno("chown " + rel);
      if (::fchmod(fd.get(), perm) != 0) throw_errno("chmod " + rel);
      apply_xattrs(entry, fd.get(), rel);
      dir_times_.push_back({rel, {times[0], times[1]}});
      return;
    }
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(entry);
      if (!target || symlink_escapes(rel, target))
        throw Error("symlink \"" + rel + "\" points outside the layer (\"" + (target ? target : "") + "\")");
      remove_existing(parent, name, rel, false);
      parent = dir_fd(parent_rel);
      if (::symlinkat(target, parent, name.c_str()) != 0) throw_errno("symlink " + rel);
      if (::fchownat(parent, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("chown " + rel);
      if (::utimensat(parent, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("set times of " + rel);
      return;
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
      remove_existing(parent, name, rel, false);
      parent = dir_fd(parent_rel);
      mode_t type = archive_entry_filetype(entry) == AE_IFCHR   ? S_IFCHR
                    : archive_entry_filetype(entry) == AE_IFBLK ? S_IFBLK
                                                                : S_IFIFO;
      if (::mknodat(parent, name.c_str(), type | 0600, archive_entry_rdev(entry)) != 0) throw_errno("mknod " + rel);
      if (::fchownat(parent, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("chown " + rel);
      if (::fchmodat(parent, name.c_str(), perm, 0) != 0) throw_errno("chmod " + rel);
      if (::utimensat(parent, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("set times of " + rel);
      return;
    }
    default:
      return;  // sockets and unknown types carry nothing a container needs (Docker skips them too)
  }
}

void LayerWriter::finish() {
  // Directory times last: creating children above changed them.
  for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
    int err = 0;
    UniqueFd fd = open_in_root(it->rel, err);
    if (fd && ::futimens(fd.get(), it->times) != 0) throw_errno("set times of " + it->rel);
  }
}

}  // namespace

UnpackStats unpack_layer(ByteSource& source, const fs::path& dest) {
  std::unique_ptr<archive, ArchiveDeleter> a(archive_read_new());
  if (!a) throw Error("libarchive: out of memory");
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  ReaderContext ctx{&source};
  if (archive_read_open(a.get(), &ctx, nullptr, read_callback, nullptr) != ARCHIVE_OK)
    throw Error(std::string("layer is not a tar archive: ") + archive_error_string(a.get()));
  LayerWriter writer(dest);
  UnpackStats stats;
  for (;;) {
    archive_entry* entry = nullptr;
    int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      const char* msg = archive_error_string(a.get());
      throw Error(std::string("layer is not a valid tar archive: ") + (msg ? msg : "unknown error"));
    }
    try {
      writer.write_entry(a.get(), entry, stats);
    } catch (const Error& e) {
      throw Error(std::string("invalid layer entry: ") + e.what());
    }
  }
  writer.finish();
  // The digest covers every byte, including the padding after the end-of-archive marker.
  while (!source.next().empty()) {
  }
  return stats;
}

}  // namespace cppcker
