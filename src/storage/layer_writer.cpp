#include "cppcker/storage/layer_writer.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "cppcker/util/error.hpp"
#include "cppcker/util/fd.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

char change_letter(LayerChange::Kind kind) {
  switch (kind) {
    case LayerChange::Kind::modify: return 'C';
    case LayerChange::Kind::add: return 'A';
    case LayerChange::Kind::remove: return 'D';
  }
  return '?';
}

namespace {

constexpr const char* kOpaque = "trusted.overlay.opaque";
constexpr const char* kRedirect = "trusted.overlay.redirect";
constexpr const char* kMetacopy = "trusted.overlay.metacopy";

bool is_whiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0); }

std::string proc_path(int dirfd, const std::string& name) {
  return "/proc/self/fd/" + std::to_string(dirfd) + "/" + name;
}

// One xattr of the entry `name` in `dirfd` (the final component never followed); nullopt when absent.
std::optional<std::string> get_xattr(int dirfd, const std::string& name, const char* key) {
  std::string path = proc_path(dirfd, name);
  char buf[4096];
  ssize_t n = ::lgetxattr(path.c_str(), key, buf, sizeof buf);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<std::size_t>(n));
}

std::vector<std::pair<std::string, std::string>> list_xattrs(int dirfd, const std::string& name, const std::string& rel) {
  std::string path = proc_path(dirfd, name);
  std::vector<std::pair<std::string, std::string>> out;
  ssize_t n = ::llistxattr(path.c_str(), nullptr, 0);
  if (n < 0) {
    if (errno == ENOTSUP) return out;
    throw_errno("list xattrs of /" + rel);
  }
  std::string names(static_cast<std::size_t>(n), '\0');
  n = ::llistxattr(path.c_str(), names.data(), names.size());
  if (n < 0) throw_errno("list xattrs of /" + rel);
  names.resize(static_cast<std::size_t>(n));
  for (std::size_t at = 0; at < names.size();) {
    std::string key = names.c_str() + at;
    at += key.size() + 1;
    if (key.empty() || key.rfind("trusted.overlay.", 0) == 0) continue;
    ssize_t size = ::lgetxattr(path.c_str(), key.c_str(), nullptr, 0);
    if (size < 0) continue;  // removed meanwhile
    std::string value(static_cast<std::size_t>(size), '\0');
    size = ::lgetxattr(path.c_str(), key.c_str(), value.data(), value.size());
    if (size < 0) continue;
    value.resize(static_cast<std::size_t>(size));
    out.emplace_back(std::move(key), std::move(value));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> split_path(const std::string& rel) {
  std::vector<std::string> out;
  for (std::size_t start = 0; start < rel.size();) {
    auto slash = rel.find('/', start);
    if (slash == std::string::npos) slash = rel.size();
    if (slash > start) out.push_back(rel.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

UniqueFd open_dir_at(int dirfd, const std::string& name) {
  return UniqueFd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

// Sorted names of an open directory (without . and ..).
std::vector<std::string> list_dir(int dirfd, const std::string& what) {
  int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) throw_errno("dup " + what);
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    throw_errno("read directory " + what);
  }
  struct Closer {
    void operator()(DIR* p) const { ::closedir(p); }
  };
  std::unique_ptr<DIR, Closer> guard(d);
  ::rewinddir(d);
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
    errno = 0;
  }
  if (errno != 0) throw_errno("read directory " + what);
  std::sort(names.begin(), names.end());
  return names;
}

// The lowers of an overlay, seen as overlayfs merges them.
class Lowers {
 public:
  explicit Lowers(const std::vector<fs::path>& dirs) {
    for (const auto& d : dirs) {
      UniqueFd fd(::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!fd) throw_errno("open layer " + d.string());
      fds_.push_back(std::move(fd));
    }
  }

  // The merged lowers' entry at `rel` ("" is the root): its stat, or nullopt when none is visible.
  std::optional<struct stat> find(const std::string& rel) const {
    auto comps = split_path(rel);
    for (const auto& fd : fds_) {
      Step s = walk(fd.get(), comps);
      if (s.state == Step::found) return s.st;
      if (s.state != Step::absent) return std::nullopt;  // deleted or hidden for the lowers below
    }
    return std::nullopt;
  }

  // Names the merged lowers show in the directory `rel`.
  std::set<std::string> children(const std::string& rel) const {
    auto comps = split_path(rel);
    std::set<std::string> shown, hidden;
    for (const auto& fd : fds_) {
      Step s = walk(fd.get(), comps, true);
      if (s.state == Step::found) {
        if (!S_ISDIR(s.st.st_mode)) break;
        for (const auto& name : list_dir(s.dir.get(), "/" + rel)) {
          if (shown.count(name) || hidden.count(name)) continue;
          struct stat st{};
          if (::fstatat(s.dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
          (is_whiteout(st) ? hidden : shown).insert(name);
        }
        if (s.opaque) break;
      } else if (s.state != Step::absent) {
        break;
      }
    }
    return shown;
  }

 private:
  struct Step {
    enum State { found, absent, deleted, blocked } state = absent;
    struct stat st {};
    UniqueFd dir;         // the directory itself (when asked for and it is one)
    bool opaque = false;  // the found directory is opaque in this layer
  };

  // One layer's view of `comps`: found, absent (look further down), or deleted/blocked (a whiteout, an
  // opaque directory or a non-directory on the way hides the layers below).
  static Step walk(int root, const std::vector<std::string>& comps, bool want_dir = false) {
    Step out;
    UniqueFd cur(::fcntl(root, F_DUPFD_CLOEXEC, 0));
    bool opaque_above = false;
    if (comps.empty()) {
      ::fstat(cur.get(), &out.st);
      out.state = Step::found;
      out.opaque = get_xattr(cur.get(), ".", kOpaque) == std::optional<std::string>("y");
      if (want_dir) out.dir = std::move(cur);
      return out;
    }
    for (std::size_t k = 0; k < comps.size(); ++k) {
      struct stat st{};
      if (::fstatat(cur.get(), comps[k].c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        out.state = opaque_above ? Step::blocked : Step::absent;
        return out;
      }
      if (is_whiteout(st)) {
        out.state = Step::deleted;
        return out;
      }
      bool last = k + 1 == comps.size();
      if (last) {
        out.state = Step::found;
        out.st = st;
        if (S_ISDIR(st.st_mode)) {
          out.opaque = get_xattr(cur.get(), comps[k], kOpaque) == std::optional<std::string>("y");
          if (want_dir) out.dir = open_dir_at(cur.get(), comps[k]);
        }
        return out;
      }
      if (!S_ISDIR(st.st_mode)) {
        out.state = Step::blocked;
        return out;
      }
      if (get_xattr(cur.get(), comps[k], kOpaque) == std::optional<std::string>("y")) opaque_above = true;
      UniqueFd next = open_dir_at(cur.get(), comps[k]);
      if (!next) {
        out.state = Step::blocked;
        return out;
      }
      cur = std::move(next);
    }
    return out;
  }

  std::vector<UniqueFd> fds_;
};

// One entry of the upper dir, as the layer will have it.
struct Node {
  std::string rel;  // "etc/passwd"
  struct stat st {};
  bool whiteout = false;
  bool opaque = false;
  bool in_lower = false;  // a visible entry of the lowers has this path
  std::vector<std::pair<std::string, std::string>> xattrs;
  std::string link;  // symlink target
};

class UpperWalk {
 public:
  explicit UpperWalk(const UpperLayer& layer) : layer_(layer), lowers_(layer.lowers) {
    for (const auto& p : layer.excluded) excluded_.insert(clean(p));
    for (const auto& p : layer.mount_targets) mounts_.insert(clean(p));
    root_.reset(::open(layer.upper.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root_) throw_errno("open " + layer.upper.string());
  }

  std::vector<Node> nodes() {
    std::vector<Node> out;
    std::size_t left_out = 0;
    walk(root_.get(), "", true, out, left_out);
    return out;
  }
  const Lowers& lowers() const { return lowers_; }

 private:
  static std::string clean(const std::string& p) {
    std::string out;
    for (const auto& c : split_path(p)) out += (out.empty() ? "" : "/") + c;
    return out;
  }

  // Appends the entries below `dir` (already open) to `out`; returns whether any was kept. `left_out`
  // counts the entries of `dir` left out (excluded, or directories that held only excluded ones).
  bool walk(int dirfd, const std::string& dir, bool lowers_visible, std::vector<Node>& out, std::size_t& left_out) {
    bool kept = false;
    for (const auto& name : list_dir(dirfd, "/" + dir)) {
      std::string rel = dir.empty() ? name : dir + "/" + name;
      if (excluded_.count(rel)) {
        ++left_out;
        continue;
      }
      Node n;
      n.rel = rel;
      if (::fstatat(dirfd, name.c_str(), &n.st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // removed meanwhile (an unpaused container)
        throw_errno("stat /" + rel);
      }
      shift(n.st);
      n.whiteout = is_whiteout(n.st);
      std::optional<struct stat> found = lowers_visible ? lowers_.find(rel) : std::nullopt;
      n.in_lower = found.has_value();
      struct stat below {};
      if (found) below = *found;
      if (n.whiteout) {
        out.push_back(std::move(n));
        kept = true;
        continue;
      }
      if (!S_ISLNK(n.st.st_mode)) {
        if (get_xattr(dirfd, name, kRedirect))
          throw Error("cannot read the container's changes: /" + rel +
                      " was renamed with overlayfs redirect_dir, which a layer cannot express");
        if (S_ISREG(n.st.st_mode) && get_xattr(dirfd, name, kMetacopy))
          throw Error("cannot read the container's changes: /" + rel + " is an overlayfs metacopy-only file");
      }
      if (S_ISLNK(n.st.st_mode)) {
        std::string target(PATH_MAX, '\0');
        ssize_t len = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
        if (len < 0) throw_errno("readlink /" + rel);
        target.resize(static_cast<std::size_t>(len));
        n.link = std::move(target);
      } else {
        n.xattrs = list_xattrs(dirfd, name, rel);
      }
      if (!S_ISDIR(n.st.st_mode)) {
        out.push_back(std::move(n));
        kept = true;
        continue;
      }
      n.opaque = get_xattr(dirfd, name, kOpaque) == std::optional<std::string>("y");
      std::size_t at = out.size();
      out.push_back(n);
      bool kept_prior = kept;
      kept = true;
      if (mounts_.count(rel)) continue;  // a mount target: the directory, not what the mount put there
      UniqueFd sub = open_dir_at(dirfd, name);
      if (!sub) throw_errno("open /" + rel);
      std::size_t child_left_out = 0;
      bool child_kept = walk(sub.get(), rel, lowers_visible && !n.opaque, out, child_left_out);
      // A directory that is in the upper dir only for left-out files (/etc for /etc/hosts), and unchanged
      // from the lowers, is no change.
      if (!child_kept && child_left_out > 0 && !n.opaque && n.in_lower && S_ISDIR(below.st_mode) &&
          (below.st_mode & 07777) == (n.st.st_mode & 07777) && below.st_uid == n.st.st_uid &&
          below.st_gid == n.st.st_gid) {
        out.erase(out.begin() + static_cast<std::ptrdiff_t>(at), out.end());
        ++left_out;
        kept = kept_prior;
      }
    }
    return kept;
  }

  void shift(struct stat& st) const {
    if (!layer_.ids) return;
    const auto& r = *layer_.ids;
    if (st.st_uid >= r.host_uid && st.st_uid - r.host_uid < r.size) st.st_uid -= r.host_uid;
    if (st.st_gid >= r.host_gid && st.st_gid - r.host_gid < r.size) st.st_gid -= r.host_gid;
  }

  const UpperLayer& layer_;
  Lowers lowers_;
  UniqueFd root_;
  std::set<std::string> excluded_, mounts_;
};

// ---- tar output

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

constexpr std::size_t kChunk = 1u << 20;

struct SinkContext {
  const std::function<void(std::string_view)>* sink;
  std::string buffer;
  std::exception_ptr error;
  void flush() {
    if (buffer.empty()) return;
    (*sink)(buffer);
    buffer.clear();
  }
};

la_ssize_t write_callback(archive*, void* ctx, const void* data, size_t size) {
  auto* c = static_cast<SinkContext*>(ctx);
  try {
    c->buffer.append(static_cast<const char*>(data), size);
    if (c->buffer.size() >= kChunk) c->flush();
  } catch (...) {
    c->error = std::current_exception();
    return -1;
  }
  return static_cast<la_ssize_t>(size);
}

class TarOut {
 public:
  explicit TarOut(const std::function<void(std::string_view)>& sink) : a_(archive_write_new()) {
    ctx_.sink = &sink;
    if (!a_) throw Error("libarchive: cannot allocate a writer");
    archive_write_set_format_pax_restricted(a_.get());
    // One 512-byte record per block: the tar ends right after its two zero blocks, as Go's writer ends it.
    archive_write_set_bytes_per_block(a_.get(), 512);
    if (archive_write_open(a_.get(), &ctx_, nullptr, write_callback, nullptr) != ARCHIVE_OK) fail("open");
  }

  void entry(const Node& n, const std::string& name, mode_t type, mode_t perm, la_int64_t size,
             const std::string& hardlink = {}) {
    std::unique_ptr<archive_entry, EntryDeleter> e(archive_entry_new());
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), perm);
    archive_entry_set_uid(e.get(), n.st.st_uid);
    archive_entry_set_gid(e.get(), n.st.st_gid);
    archive_entry_set_mtime(e.get(), n.st.st_mtim.tv_sec, n.st.st_mtim.tv_nsec);
    archive_entry_set_size(e.get(), size);
    if (!hardlink.empty()) {
      archive_entry_set_hardlink(e.get(), hardlink.c_str());
      archive_entry_set_size(e.get(), 0);
    } else if (type == AE_IFLNK) {
      archive_entry_set_symlink(e.get(), n.link.c_str());
    } else if (type == AE_IFCHR || type == AE_IFBLK) {
      archive_entry_set_rdev(e.get(), n.st.st_rdev);
    }
    if (type != AE_IFLNK)
      for (const auto& [k, v] : n.xattrs) archive_entry_xattr_add_entry(e.get(), k.c_str(), v.data(), v.size());
    if (archive_write_header(a_.get(), e.get()) != ARCHIVE_OK) fail(name);
  }

  void data(const char* p, std::size_t size, const std::string& name) {
    while (size > 0) {
      la_ssize_t n = archive_write_data(a_.get(), p, size);
      if (n <= 0) fail(name);
      p += n;
      size -= static_cast<std::size_t>(n);
    }
  }

  void close() {
    if (archive_write_close(a_.get()) != ARCHIVE_OK) fail("close");
    ctx_.flush();
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    if (ctx_.error) std::rethrow_exception(ctx_.error);
    const char* why = archive_error_string(a_.get());
    throw Error("write layer tar (" + what + "): " + (why ? why : "unknown error"));
  }
  SinkContext ctx_;
  std::unique_ptr<archive, ArchiveDeleter> a_;
};

void write_file(TarOut& tar, const fs::path& upper, const Node& n, const std::string& name) {
  UniqueFd fd = open_beneath(upper, n.rel);
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) throw_errno("stat /" + n.rel);
  if (!S_ISREG(st.st_mode) || st.st_ino != n.st.st_ino)
    throw Error("/" + n.rel + " changed while the container's changes were read");
  auto size = static_cast<std::uint64_t>(n.st.st_size);
  std::uint64_t done = 0;
  std::string buf(std::min<std::uint64_t>(kChunk, std::max<std::uint64_t>(size, 1)), '\0');
  while (done < size) {
    ssize_t r = ::read(fd.get(), buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - done)));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_errno("read /" + n.rel);
    }
    if (r == 0) {  // shrank while read (an unpaused container): the header's size is kept, padded with zeros
      std::fill(buf.begin(), buf.end(), '\0');
      while (done < size) {
        auto k = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - done));
        tar.data(buf.data(), k, name);
        done += k;
      }
      break;
    }
    tar.data(buf.data(), static_cast<std::size_t>(r), name);
    done += static_cast<std::uint64_t>(r);
  }
}

}  // namespace

std::vector<LayerChange> layer_changes(const UpperLayer& layer) {
  UpperWalk walk(layer);
  std::vector<LayerChange> out;
  std::set<std::string> upper_names;
  auto nodes = walk.nodes();
  for (const auto& n : nodes) upper_names.insert(n.rel);
  for (const auto& n : nodes) {
    std::string path = "/" + n.rel;
    if (n.whiteout) {
      out.push_back({LayerChange::Kind::remove, path});
      continue;
    }
    out.push_back({n.in_lower ? LayerChange::Kind::modify : LayerChange::Kind::add, path});
    if (n.opaque && n.in_lower)
      for (const auto& child : walk.lowers().children(n.rel))
        if (!upper_names.count(n.rel + "/" + child)) out.push_back({LayerChange::Kind::remove, path + "/" + child});
  }
  std::sort(out.begin(), out.end(), [](const LayerChange& a, const LayerChange& b) { return a.path < b.path; });
  return out;
}

std::uint64_t write_layer_tar(const UpperLayer& layer, const std::function<void(std::string_view)>& sink) {
  UpperWalk walk(layer);
  auto nodes = walk.nodes();
  TarOut tar(sink);
  std::map<std::pair<dev_t, ino_t>, std::string> links;  // first name written of each multiply-linked file
  std::uint64_t entries = 0;
  for (const auto& n : nodes) {
    const mode_t perm = n.st.st_mode & 07777;
    if (n.whiteout) {
      auto slash = n.rel.rfind('/');
      std::string name = slash == std::string::npos ? ".wh." + n.rel
                                                     : n.rel.substr(0, slash + 1) + ".wh." + n.rel.substr(slash + 1);
      Node wh = n;
      wh.xattrs.clear();
      tar.entry(wh, name, AE_IFREG, 0600, 0);
    } else if (S_ISDIR(n.st.st_mode)) {
      tar.entry(n, n.rel + "/", AE_IFDIR, perm, 0);
      if (n.opaque) {
        Node wh = n;
        wh.xattrs.clear();
        tar.entry(wh, n.rel + "/.wh..wh..opq", AE_IFREG, perm & 0777, 0);
        ++entries;
      }
    } else if (S_ISREG(n.st.st_mode)) {
      if (n.st.st_nlink > 1) {
        auto [it, first] = links.emplace(std::pair{n.st.st_dev, n.st.st_ino}, n.rel);
        if (!first) {
          tar.entry(n, n.rel, AE_IFREG, perm, 0, it->second);
          ++entries;
          continue;
        }
      }
      tar.entry(n, n.rel, AE_IFREG, perm, n.st.st_size);
      write_file(tar, layer.upper, n, n.rel);
    } else if (S_ISLNK(n.st.st_mode)) {
      tar.entry(n, n.rel, AE_IFLNK, 0777, 0);
    } else if (S_ISCHR(n.st.st_mode) || S_ISBLK(n.st.st_mode) || S_ISFIFO(n.st.st_mode)) {
      mode_t type = S_ISCHR(n.st.st_mode) ? AE_IFCHR : S_ISBLK(n.st.st_mode) ? AE_IFBLK : AE_IFIFO;
      tar.entry(n, n.rel, type, perm, 0);
    } else {
      continue;  // sockets: tar has no form for them (GNU tar and Docker skip them too)
    }
    ++entries;
  }
  tar.close();
  return entries;
}

}  // namespace cppcker
