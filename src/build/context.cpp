#include "cppcker/build/context.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <tuple>
#include <utility>

#include "cppcker/registry/http.hpp"
#include "cppcker/runtime/container_fs.hpp"
#include "cppcker/runtime/copy.hpp"
#include "cppcker/storage/unpack.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"
#include "cppcker/util/sha256.hpp"

namespace cppcker::build {

namespace {

std::string proc_fd(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

std::string join(const std::string& dir, const std::string& name) { return dir.empty() ? name : dir + "/" + name; }

bool is_url(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

// Docker's containsWildcards: "*", "?" or "[" not escaped by a backslash.
bool has_wildcards(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') ++i;
    else if (s[i] == '*' || s[i] == '?' || s[i] == '[') return true;
  }
  return false;
}

std::vector<std::string> split_components(std::string_view p) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= p.size()) {
    auto slash = p.find('/', start);
    if (slash == std::string_view::npos) slash = p.size();
    if (slash > start) out.emplace_back(p.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

// filepath.Clean of a source below its root, without the leading "/": "" for the root. `contained`: a
// ".." above the root is refused (the context) instead of stopping there (a stage's filesystem).
std::optional<std::string> clean_relative(std::string_view p, bool contained) {
  std::vector<std::string> parts;
  for (auto& c : split_components(p)) {
    if (c == ".") continue;
    if (c == "..") {
      if (parts.empty()) {
        if (contained) return std::nullopt;
        continue;
      }
      parts.pop_back();
      continue;
    }
    parts.push_back(std::move(c));
  }
  std::string out;
  for (const auto& part : parts) out = join(out, part);
  return out;
}

// An absolute, cleaned container path ("/" for the root).
std::string clean_absolute(std::string_view p) {
  return "/" + *clean_relative(p, false);
}

// A destination that says it is a directory: it ends in "/" or "/.", or is "." (the WORKDIR, as BuildKit).
bool names_directory(const std::string& d) {
  return d.empty() || d.back() == '/' || d == "." || (d.size() >= 2 && d.compare(d.size() - 2, 2, "/.") == 0);
}

std::pair<std::string, std::string> split_parent(const std::string& abs) {
  auto slash = abs.rfind('/');
  return {slash == 0 ? "/" : abs.substr(0, slash), abs.substr(slash + 1)};
}

std::string read_link(int fd, const std::string& what) {
  std::string target(PATH_MAX, '\0');
  ssize_t n = ::readlinkat(fd, "", target.data(), target.size());
  if (n < 0) throw_errno("readlink " + what);
  target.resize(static_cast<std::size_t>(n));
  return target;
}

// The names in an open directory, sorted (a stable order for the digest and the copy).
std::vector<std::string> list_dir(int fd, const std::string& what) {
  int copy = ::openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (copy < 0) throw_errno("open " + what);
  DIR* d = ::fdopendir(copy);
  if (!d) {
    ::close(copy);
    throw_errno("read " + what);
  }
  std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
  std::vector<std::string> names;
  while (dirent* ent = ::readdir(d)) {
    std::string_view n = ent->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The source root as COPY sees it: the context's excluded files do not exist for it, except the
// directories that hold a file an exception brings back.
class SourceView {
 public:
  explicit SourceView(const SourceRoot& s) : s_(s) {}

  bool visible(int parent, const std::string& name, const std::string& rel, const struct stat& st) const {
    if (!excluded(rel)) return true;
    if (!S_ISDIR(st.st_mode) || !s_.ignore->has_exceptions()) return false;
    UniqueFd dir(::openat(parent, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    return dir && visible_at(dir.get(), rel, st);
  }

  // The same for an open node (`fd`, O_PATH): an excluded directory is seen when something below it is.
  bool visible_at(int fd, const std::string& rel, const struct stat& st) const {
    if (!excluded(rel)) return true;
    if (!S_ISDIR(st.st_mode) || !s_.ignore->has_exceptions()) return false;
    for (const auto& child : list_dir(fd, rel)) {
      struct stat cst{};
      if (::fstatat(fd, child.c_str(), &cst, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (visible(fd, child, join(rel, child), cst)) return true;
    }
    return false;
  }

  // The visible children of the directory `dir` (whose path in the source is `rel`), with their lstat.
  std::vector<std::pair<std::string, struct stat>> children(int dir, const std::string& rel) const {
    std::vector<std::pair<std::string, struct stat>> out;
    for (const auto& name : list_dir(dir, rel.empty() ? "/" : rel)) {
      struct stat st{};
      if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // removed meanwhile
        throw_errno("lstat " + join(rel, name));
      }
      if (visible(dir, name, join(rel, name), st)) out.emplace_back(name, st);
    }
    return out;
  }

  bool excluded(const std::string& rel) const { return s_.ignore && !rel.empty() && s_.ignore->excluded(rel); }

 private:
  const SourceRoot& s_;
};

// The extended attributes of a file or directory (`fd` may be O_PATH), sorted by name; none where the
// filesystem has none. overlay's trusted.overlay.* are left out.
std::vector<std::pair<std::string, std::string>> read_xattrs(int fd) {
  std::vector<std::pair<std::string, std::string>> out;
  const std::string path = proc_fd(fd);
  ssize_t n = ::listxattr(path.c_str(), nullptr, 0);
  if (n <= 0) return out;
  std::string names(static_cast<std::size_t>(n) + 1024, '\0');
  n = ::listxattr(path.c_str(), names.data(), names.size());
  if (n <= 0) return out;
  for (std::size_t pos = 0; pos < static_cast<std::size_t>(n);) {
    std::string key = names.c_str() + pos;
    pos += key.size() + 1;
    if (key.rfind("trusted.overlay.", 0) == 0) continue;
    std::string value(64 * 1024, '\0');
    ssize_t len = ::getxattr(path.c_str(), key.c_str(), value.data(), value.size());
    if (len < 0) continue;  // removed meanwhile
    value.resize(static_cast<std::size_t>(len));
    out.emplace_back(std::move(key), std::move(value));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// ---------------------------------------------------------------- the digest

// Every field length-prefixed, so that no two different inputs hash alike.
void field(Sha256& h, std::string_view v) {
  std::uint64_t n = v.size();
  h.update(&n, sizeof n);
  h.update(v);
}
void field(Sha256& h, std::uint64_t v) { h.update(&v, sizeof v); }

// The digest of a tree in the source: for each entry its name, type, mode, owner and link target or
// content (never its mtime), directories in name order.
class TreeHasher {
 public:
  TreeHasher(Sha256& h, const SourceView& view) : h_(h), view_(view) {}

  // `fd`: the node, O_PATH (a followed source named by the user).
  void node(int fd, const struct stat& st, const std::string& name, const std::string& rel) {
    header(st, name, rel);
    if (S_ISLNK(st.st_mode)) {
      field(h_, read_link(fd, rel));
    } else if (S_ISREG(st.st_mode)) {
      UniqueFd data(::open(proc_fd(fd).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
      if (!data) throw_errno("open " + rel);
      attributes(data.get());
      content(data.get(), rel);
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      field(h_, static_cast<std::uint64_t>(st.st_rdev));
    } else if (S_ISDIR(st.st_mode)) {
      if (!view_.excluded(rel)) attributes(fd);  // a plain parent otherwise: none copied
      for (const auto& [child, cst] : view_.children(fd, rel)) {
        if (S_ISREG(cst.st_mode)) {
          // Opened for reading at once: one open per file, the common case of a large context.
          UniqueFd data(::openat(fd, child.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
          if (!data) throw_errno("open " + join(rel, child));
          header(cst, join(name, child), join(rel, child));
          attributes(data.get());
          content(data.get(), join(rel, child));
          continue;
        }
        UniqueFd c(::openat(fd, child.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
        if (!c) throw_errno("open " + join(rel, child));
        node(c.get(), cst, join(name, child), join(rel, child));
      }
      field(h_, "/");  // the directory's end, so that no other listing hashes alike
    }
  }

 private:
  void header(const struct stat& st, const std::string& name, const std::string& rel) {
    field(h_, name);
    // An excluded directory kept for an exception below it is copied as a plain 0755 directory.
    const bool plain = S_ISDIR(st.st_mode) && view_.excluded(rel);
    field(h_, static_cast<std::uint64_t>(plain ? S_IFDIR | 0755 : st.st_mode));
    field(h_, static_cast<std::uint64_t>(plain ? 0 : st.st_uid));
    field(h_, static_cast<std::uint64_t>(plain ? 0 : st.st_gid));
  }

  void attributes(int fd) {
    auto xattrs = read_xattrs(fd);
    field(h_, static_cast<std::uint64_t>(xattrs.size()));
    for (const auto& [key, value] : xattrs) {
      field(h_, key);
      field(h_, value);
    }
  }

  // The content's own sha256, so that its length needs no prefix.
  void content(int data, const std::string& what) {
    Sha256 c;
    for (;;) {
      ssize_t n = ::read(data, buf_.data(), buf_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno("read " + what);
      if (n == 0) break;
      c.update(buf_.data(), static_cast<std::size_t>(n));
    }
    field(h_, c.hex());
  }

  Sha256& h_;
  const SourceView& view_;
  std::vector<char> buf_ = std::vector<char>(256 * 1024);  // reused: no allocation per file
};

// ---------------------------------------------------------------- --chown

struct Owner {
  uid_t uid = 0;
  gid_t gid = 0;
};

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::uint32_t to_id(const std::string& s, const std::string& what) {
  try {
    unsigned long v = std::stoul(s);
    if (v > 0xFFFFFFFEul) throw std::out_of_range(s);
    return static_cast<std::uint32_t>(v);
  } catch (const std::exception&) {
    throw Error("invalid " + what + " id: " + s);
  }
}

// The entry `name` of /etc/passwd or /etc/group inside the destination (fields split on ":").
std::optional<std::vector<std::string>> find_entry(int dest_root, const char* file, const std::string& name) {
  // O_NONBLOCK: a fifo planted under that name cannot hang the build; it is no file to read either.
  UniqueFd fd(open_in_root(dest_root, file, O_RDONLY | O_NONBLOCK));
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw_errno(std::string("open ") + file);
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) throw_errno(std::string("stat ") + file);
  if (!S_ISREG(st.st_mode)) return std::nullopt;
  std::string text = read_all(fd.get(), file);
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    std::vector<std::string> fields;
    std::size_t pos = 0;
    for (;;) {
      auto colon = line.find(':', pos);
      fields.push_back(line.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos));
      if (colon == std::string::npos) break;
      pos = colon + 1;
    }
    if (fields.size() >= 4 && fields[0] == name) return fields;
  }
  return std::nullopt;
}

// --chown "user[:group]": ids as they are, names from the destination's own files. A user without a group
// takes its passwd entry's group (a name) or the same number (an id), as BuildKit and buildah do.
Owner resolve_chown(int dest_root, const std::string& chown) {
  Owner o;
  if (chown.empty()) return o;
  auto colon = chown.find(':');
  std::string user = chown.substr(0, colon);
  std::optional<std::string> group;
  if (colon != std::string::npos) group = chown.substr(colon + 1);
  if (all_digits(user)) {
    o.uid = to_id(user, "user");
    o.gid = o.uid;
  } else {
    auto entry = find_entry(dest_root, "/etc/passwd", user);
    if (!entry) throw Error("unable to find user " + user + ": no matching entries in passwd file");
    o.uid = to_id((*entry)[2], "user");
    o.gid = to_id((*entry)[3], "group");
  }
  if (group && !group->empty()) {
    if (all_digits(*group)) {
      o.gid = to_id(*group, "group");
    } else {
      auto entry = find_entry(dest_root, "/etc/group", *group);
      if (!entry) throw Error("unable to find group " + *group + ": no matching entries in group file");
      o.gid = to_id((*entry)[2], "group");
    }
  }
  return o;
}

// ---------------------------------------------------------------- the destination

// The directory `path` (absolute, cleaned) in the destination, made with its missing parents (0755, owned
// by --chown's user or root, as Docker's MkdirAllAndChownNew and buildah) when absent; every component
// resolved inside the root. A dangling symlink on the way is followed inside the root and its target
// made, as MkdirAll on a scoped path does.
UniqueFd ensure_dir(int root, const std::string& path, Owner owner, int links = 0) {
  UniqueFd fd(open_in_root(root, path, O_PATH | O_DIRECTORY));
  if (fd) return fd;
  if (errno == ENOTDIR) throw Error("mkdir " + path + ": not a directory");
  if (errno != ENOENT || path == "/") throw_errno("open " + path);
  auto [parent, name] = split_parent(path);
  UniqueFd up = ensure_dir(root, parent, owner, links);
  if (::mkdirat(up.get(), name.c_str(), 0755) == 0) {
    if (::fchownat(up.get(), name.c_str(), owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("chown " + path);
    if (::fchmodat(up.get(), name.c_str(), 0755, 0) != 0) throw_errno("chmod " + path);  // whatever the umask
  } else if (errno == EEXIST) {
    struct stat st{};
    if (::fstatat(up.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
      if (links >= 40) throw SystemError("mkdir " + path, ELOOP);
      UniqueFd link(::openat(up.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!link) throw_errno("open " + path);
      const std::string target = read_link(link.get(), path);
      return ensure_dir(root, clean_absolute(target.front() == '/' ? target : parent + "/" + target), owner, links + 1);
    }
  } else {
    throw_errno("mkdir " + path);
  }
  fd.reset(open_in_root(root, path, O_PATH | O_DIRECTORY));
  if (!fd) throw_errno("mkdir " + path);
  return fd;
}

// Whether `path` is a directory in the destination, symlinks followed inside the root (Docker's os.Stat).
bool is_existing_dir(int root, const std::string& path) {
  UniqueFd fd(open_in_root(root, path, O_PATH));
  struct stat st{};
  return fd && ::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode);
}

void write_all(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("write " + what);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Writes the entries of one COPY below an open destination directory. Owners: --chown's or root, except
// for a copy from a stage or an image without --chown, which keeps the source's (BuildKit, buildah).
class Writer {
 public:
  Writer(const SourceView& view, Owner owner, std::optional<mode_t> chmod, bool keep_owners = false)
      : view_(view), owner_(owner), chmod_(chmod), keep_owners_(keep_owners) {}

  Owner owner_of(const struct stat& st) const { return keep_owners_ ? Owner{st.st_uid, st.st_gid} : owner_; }

  // Removes whatever `name` is in `parent` unless it is a directory and `dir` is wanted (Docker's untar:
  // a directory is merged, anything else replaced). Returns whether a directory remains.
  static bool clear(int parent, const std::string& name, bool dir, const std::string& where) {
    struct stat st{};
    if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return false;
      throw_errno("lstat " + where);
    }
    if (dir && S_ISDIR(st.st_mode)) return true;
    remove_tree_at(parent, name, where);
    return false;
  }

  // Copies the source node `fd` (O_PATH, never followed; for a regular file, already open for reading
  // when `readable`) to `name` in `parent`; `rel` is its path in the source (for the ignore rules),
  // `where` its path in the destination (for messages).
  void node(int fd, const struct stat& st, int parent, const std::string& name, const std::string& rel,
            const std::string& where, bool readable = false) {
    if (S_ISSOCK(st.st_mode)) return;  // Docker leaves them out too
    if (S_ISDIR(st.st_mode)) {
      const bool existed = clear(parent, name, true, where);
      if (!existed && ::mkdirat(parent, name.c_str(), 0700) != 0) throw_errno("mkdir " + where);
      UniqueFd dst(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!dst) throw_errno("open " + where);
      contents(fd, rel, dst.get(), where);
      if (!view_.excluded(rel)) {
        finish_dir(dst.get(), st, where);
        copy_xattrs(fd, dst.get(), where);
      } else if (!existed) {
        // Excluded, kept for an exception below it: a plain parent, as Docker's context tar leaves it.
        if (::fchown(dst.get(), owner_.uid, owner_.gid) != 0) throw_errno("chown " + where);
        if (::fchmod(dst.get(), 0755) != 0) throw_errno("chmod " + where);
      }
      return;
    }
    clear(parent, name, false, where);
    if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
      auto it = links_.find({st.st_dev, st.st_ino});
      if (it != links_.end()) {
        // A hardlink within the copy stays one.
        if (::linkat(AT_FDCWD, proc_fd(it->second.get()).c_str(), parent, name.c_str(), AT_SYMLINK_FOLLOW) != 0)
          throw_errno("link " + where);
        return;
      }
    }
    if (S_ISREG(st.st_mode)) {
      UniqueFd reopened;
      if (!readable) {
        reopened.reset(::open(proc_fd(fd).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
        if (!reopened) throw_errno("open " + (rel.empty() ? "/" : rel));
      }
      UniqueFd out = create_file(parent, name, where);
      copy(readable ? fd : reopened.get(), out.get(), where);
      finish_file(out.get(), owner_of(st), st.st_mode & 07777, st.st_mtim, where);
      copy_xattrs(fd, out.get(), where);  // after chown, which drops security.capability
      if (st.st_nlink > 1) {
        UniqueFd keep(::openat(parent, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
        if (keep) links_.emplace(std::make_pair(st.st_dev, st.st_ino), std::move(keep));
      }
      return;
    }
    struct timespec times[2] = {st.st_mtim, st.st_mtim};
    if (S_ISLNK(st.st_mode)) {
      const std::string target = read_link(fd, rel);
      if (::symlinkat(target.c_str(), parent, name.c_str()) != 0) throw_errno("symlink " + where);
      const Owner o = owner_of(st);
      if (::fchownat(parent, name.c_str(), o.uid, o.gid, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("chown " + where);
      if (::utimensat(parent, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("set times of " + where);
      return;
    }
    // Devices and fifos: the node alone; chmod through an O_PATH descriptor never opens it.
    if (::mknodat(parent, name.c_str(), (st.st_mode & S_IFMT) | 0600, st.st_rdev) != 0) throw_errno("mknod " + where);
    UniqueFd made(::openat(parent, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!made) throw_errno("open " + where);
    const Owner o = owner_of(st);
    if (::fchownat(made.get(), "", o.uid, o.gid, AT_EMPTY_PATH) != 0) throw_errno("chown " + where);
    if (::chmod(proc_fd(made.get()).c_str(), chmod_.value_or(st.st_mode & 07777)) != 0) throw_errno("chmod " + where);
    if (::utimensat(parent, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("set times of " + where);
  }

  // The visible children of the source directory `fd` into the destination directory `dst`.
  void contents(int fd, const std::string& rel, int dst, const std::string& where) {
    for (const auto& [child, cst] : view_.children(fd, rel)) {
      // A regular file is opened for reading at once (never a fifo: O_NONBLOCK, and O_NOFOLLOW).
      const bool reg = S_ISREG(cst.st_mode);
      UniqueFd c(::openat(fd, child.c_str(), (reg ? O_RDONLY | O_NONBLOCK : O_PATH) | O_NOFOLLOW | O_CLOEXEC));
      if (!c) {
        if (errno == ENOENT) continue;
        throw_errno("open " + join(rel, child));
      }
      node(c.get(), cst, dst, child, join(rel, child), (where == "/" ? "" : where) + "/" + child, reg);
    }
  }

  // Owner, mode and times last: the children changed the times, and a read-only mode would stop them.
  void finish_dir(int dst, const struct stat& st, const std::string& where) const {
    const Owner o = owner_of(st);
    if (::fchown(dst, o.uid, o.gid) != 0) throw_errno("chown " + where);
    if (::fchmod(dst, chmod_.value_or(st.st_mode & 07777)) != 0) throw_errno("chmod " + where);
    struct timespec times[2] = {st.st_mtim, st.st_mtim};
    if (::futimens(dst, times) != 0) throw_errno("set times of " + where);
  }

  // Extended attributes (file capabilities, user.*), as Docker's and buildah's copies keep them; overlay's
  // own would redirect lookups in the step's layer.
  static void copy_xattrs(int src, int dst, const std::string& where) {
    for (const auto& [key, value] : read_xattrs(src)) {
      if (::fsetxattr(dst, key.c_str(), value.data(), value.size(), 0) != 0 && errno != ENOTSUP)
        throw_errno("set xattr " + key + " on " + where);
    }
  }

  // In-kernel when both ends allow it; else through one buffer reused for every file (a step's root is an
  // overlay, another filesystem than the context: copy_file_range says EXDEV once, then is not tried again).
  void copy(int in, int out, const std::string& where) {
    while (try_range_) {
      ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
      if (n == 0) return;
      if (n > 0 || errno == EINTR) continue;
      if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) throw_errno("copy " + where);
      try_range_ = false;  // nothing was copied by the failing call: go on by hand from here
    }
    if (buf_.empty()) buf_.resize(256 * 1024);
    for (;;) {
      ssize_t n = ::read(in, buf_.data(), buf_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno("read for " + where);
      if (n == 0) return;
      write_all(out, std::string_view(buf_.data(), static_cast<std::size_t>(n)), where);
    }
  }

  static UniqueFd create_file(int parent, const std::string& name, const std::string& where) {
    UniqueFd out(::openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) throw_errno("create " + where);
    return out;
  }

  // Owner before mode: chown clears the setuid bits. `mtime` nullopt: the time of the copy.
  void finish_file(int out, Owner o, mode_t mode, std::optional<struct timespec> mtime, const std::string& where) const {
    if (::fchown(out, o.uid, o.gid) != 0) throw_errno("chown " + where);
    if (::fchmod(out, chmod_.value_or(mode)) != 0) throw_errno("chmod " + where);
    if (mtime) {
      struct timespec times[2] = {*mtime, *mtime};
      if (::futimens(out, times) != 0) throw_errno("set times of " + where);
    }
  }

 private:
  const SourceView& view_;
  Owner owner_;
  std::optional<mode_t> chmod_;
  bool keep_owners_;
  bool try_range_ = true;
  std::vector<char> buf_;
  std::map<std::pair<dev_t, ino_t>, UniqueFd> links_;  // first copy of each multiply-linked file
};

// ---------------------------------------------------------------- ADD

struct ArchiveReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};

// What ADD learns from a local file's first tar header: whether it is an archive at all (moby's
// IsArchivePath: decompressed if it is compressed, it starts with a valid tar header), and the archive's
// own "./" entry, whose owner, mode and time the destination directory takes (as buildah extracts it).
struct ArchiveProbe {
  bool archive = false;
  std::optional<struct stat> top;
};

ArchiveProbe probe_archive(int fd_path) {
  ArchiveProbe out;
  UniqueFd data(::open(proc_fd(fd_path).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!data) return out;
  std::unique_ptr<archive, ArchiveReadDeleter> a(archive_read_new());
  if (!a) throw Error("libarchive: out of memory");
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  archive_read_support_filter_all(a.get());
  if (archive_read_open_fd(a.get(), data.get(), 64 * 1024) != ARCHIVE_OK) return out;
  archive_entry* e = nullptr;
  int r = archive_read_next_header(a.get(), &e);
  out.archive = r == ARCHIVE_OK || r == ARCHIVE_WARN;
  if (!out.archive) return out;
  const char* name = archive_entry_pathname(e);
  auto clean = name ? clean_layer_path(name) : std::nullopt;
  if (clean && clean->empty() && archive_entry_filetype(e) == AE_IFDIR) {
    struct stat st{};
    st.st_uid = static_cast<uid_t>(archive_entry_uid(e));
    st.st_gid = static_cast<gid_t>(archive_entry_gid(e));
    st.st_mode = S_IFDIR | (archive_entry_perm(e) & 07777);
    st.st_mtim.tv_sec = archive_entry_mtime(e);
    st.st_mtim.tv_nsec = archive_entry_mtime_nsec(e);
    out.top = st;
  }
  return out;
}

// The file name Docker gives a URL's body: its path's last element.
std::string url_file_name(const std::string& url) {
  std::string rest = url.substr(url.find("://") + 3);
  rest = rest.substr(0, rest.find_first_of("?#"));
  auto slash = rest.find('/');
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.pop_back();
  std::string name = path.substr(path.rfind('/') + 1);
  if (name.empty()) throw Error("cannot determine filename from url: " + url);
  return name;
}

// An HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT") in seconds; nullopt when it does not parse.
std::optional<long long> parse_http_date(const std::string& text) {
  struct tm tm{};
  const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  return static_cast<long long>(::timegm(&tm));
}

struct Fetched {
  std::string digest;
  std::optional<long long> mtime;
};

Fetched fetch(const std::string& url, const fs::path& into) {
  UniqueFd out(::open(into.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out) throw_errno("create " + into.string());
  Sha256 h;
  HttpRequest req;
  req.url = url;
  req.sink = [&](std::string_view chunk) {
    write_all(out.get(), chunk, into.string());
    h.update(chunk);
  };
  HttpClient client;
  HttpResponse r;
  try {
    r = client.perform(req);
  } catch (const TransportError& e) {
    throw Error("failed to GET " + url + ": " + e.what());
  }
  if (r.status < 200 || r.status >= 300) {
    std::string body = r.body.substr(0, r.body.find('\n'));
    if (body.size() > 200) body.resize(200);
    throw Error("failed to GET " + url + " with status " + std::to_string(r.status) + (body.empty() ? "" : ": " + body));
  }
  return {h.hex(), parse_http_date(r.header("last-modified"))};
}

}  // namespace

// ---------------------------------------------------------------- BuildContext

BuildContext BuildContext::open_directory(const std::filesystem::path& dir) {
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) throw Error("unable to prepare context: path \"" + dir.string() + "\" not found");
    throw_errno("unable to prepare context: stat " + dir.string());
  }
  if (!S_ISDIR(st.st_mode))
    throw Error("unable to prepare context: context must be a directory: " + fs::absolute(dir).string());
  BuildContext c;
  c.path_ = dir;
  c.root_.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!c.root_) throw_errno("unable to prepare context: open " + dir.string());
  if (auto ignore = c.read(".dockerignore")) c.ignore_ = IgnoreMatcher::parse(*ignore);
  return c;
}

BuildContext BuildContext::from_tar(int in, const std::filesystem::path& scratch) {
  UniqueFd root(::open(scratch.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) throw_errno("open " + scratch.string());
  OwnerPolicy as_is;
  as_is.uid = [](std::uint32_t id) { return id; };
  as_is.gid = [](std::uint32_t id) { return id; };
  try {
    extract_tar(in, root.get(), "/", CopyPlan{}, as_is);
  } catch (const Error& e) {
    throw Error(std::string("unable to prepare context: ") + e.what());
  }
  return open_directory(scratch);
}

std::optional<std::string> BuildContext::read(const std::string& relative) const {
  UniqueFd fd(open_in_root(root_.get(), relative, O_RDONLY | O_NONBLOCK));
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw_errno("open " + relative);
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) throw_errno("stat " + relative);
  if (!S_ISREG(st.st_mode)) throw Error(relative + " is not a regular file");
  return read_all(fd.get(), relative);
}

// ---------------------------------------------------------------- PreparedCopy

PreparedCopy PreparedCopy::prepare(const SourceRoot& source, const CopySpec& spec, const std::filesystem::path& scratch) {
  PreparedCopy p;
  p.source_ = source;
  p.spec_ = spec;
  const std::string cmd = spec.add ? "ADD" : "COPY";
  const bool context = source.ignore != nullptr;
  SourceView view(p.source_);
  Sha256 h;
  field(h, cmd);
  field(h, spec.dest);
  field(h, spec.workdir);
  field(h, spec.chown);
  field(h, spec.chmod ? static_cast<std::uint64_t>(*spec.chmod) : ~std::uint64_t{0});

  for (const auto& src : spec.sources) {
    if (is_url(src)) {
      if (!spec.add) throw Error("source can't be a URL for COPY");
      Entry e;
      e.kind = Entry::Kind::url;
      e.name = url_file_name(src);
      e.fetched = scratch / ("url-" + random_hex(8));  // the scratch directory is shared by a build's steps
      Fetched f = fetch(src, e.fetched);
      e.mtime = f.mtime;
      field(h, "url");
      field(h, src);
      field(h, f.digest);
      p.entries_.push_back(std::move(e));
      continue;
    }
    std::string cleaned = src;
    while (context && !cleaned.empty() && cleaned.front() == '/') cleaned.erase(0, 1);  // "/" is the context's root
    auto rel = clean_relative(cleaned, context);
    if (!rel) throw Error("forbidden path outside the build context: " + src + " ()");
    std::vector<std::string> matched;
    if (has_wildcards(*rel)) {
      // Go's filepath.Match per component, as Docker's walk matches each path below the root.
      const auto pattern = split_components(*rel);
      std::vector<std::pair<UniqueFd, std::string>> level;
      level.emplace_back(UniqueFd(open_in_root(source.root, "/", O_PATH | O_DIRECTORY)), "");
      if (!level.front().first) throw_errno("open the source root");
      for (std::size_t i = 0; i < pattern.size(); ++i) {
        std::vector<std::pair<UniqueFd, std::string>> next;
        for (const auto& [dir, prefix] : level) {
          for (const auto& [name, st] : view.children(dir.get(), prefix)) {
            bool match = false;
            try {
              match = path_match(pattern[i], name);
            } catch (const Error&) {
              match = false;  // Docker ignores a pattern's syntax error here: it matches nothing
            }
            if (!match) continue;
            if (i + 1 == pattern.size()) {
              matched.push_back(join(prefix, name));
            } else if (S_ISDIR(st.st_mode)) {  // a symlink is not walked into, as filepath.Walk
              UniqueFd sub(::openat(dir.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
              if (sub) next.emplace_back(std::move(sub), join(prefix, name));
            }
          }
        }
        level = std::move(next);
      }
      if (matched.empty()) throw Error(cmd + " failed: no source files were specified");
    } else {
      UniqueFd fd(open_in_root(source.root, "/" + *rel, O_PATH));
      struct stat st{};
      if (fd && ::fstat(fd.get(), &st) != 0) throw_errno("stat " + *rel);
      if (!fd || !view.visible_at(fd.get(), *rel, st)) {
        if (fd || errno == ENOENT || errno == ENOTDIR || errno == ELOOP) {
          throw Error(cmd + " failed: " + (context ? "file not found in build context or excluded by .dockerignore: " : "") +
                      "stat " + (rel->empty() ? "/" : *rel) + ": file does not exist");
        }
        throw_errno("stat " + *rel);
      }
      matched.push_back(*rel);
    }
    for (auto& m : matched) {
      Entry e;
      e.path = m;
      e.name = m.empty() ? "" : m.substr(m.rfind('/') + 1);
      // The source followed (a symlink named as a source is copied as its target), inside the root.
      UniqueFd fd(open_in_root(source.root, "/" + m, O_PATH));
      if (!fd) throw_errno("stat " + (m.empty() ? "/" : m));
      struct stat st{};
      if (::fstat(fd.get(), &st) != 0) throw_errno("stat " + m);
      field(h, "path");
      field(h, m);
      TreeHasher(h, view).node(fd.get(), st, "", m);
      p.entries_.push_back(std::move(e));
    }
  }
  for (std::size_t i = 0; i < spec.heredocs.size(); ++i) {
    Entry e;
    e.kind = Entry::Kind::heredoc;
    e.name = spec.heredocs[i].name;
    e.heredoc = i;
    field(h, "heredoc");
    field(h, spec.heredocs[i].name);
    field(h, spec.heredocs[i].content);
    p.entries_.push_back(std::move(e));
  }
  if (p.entries_.size() > 1 && !names_directory(spec.dest))
    throw Error("When using " + cmd + " with more than one source file, the destination must be a directory and end with a /");
  p.digest_ = h.digest();
  return p;
}

void PreparedCopy::apply(int dest_root) const {
  const Owner owner = resolve_chown(dest_root, spec_.chown);
  const std::string& d = spec_.dest;
  const bool dir_hint = names_directory(d);
  const std::string dest = clean_absolute(!d.empty() && d.front() == '/' ? d : spec_.workdir + "/" + d);
  SourceView view(source_);
  Writer writer(view, owner, spec_.chmod, source_.ignore == nullptr && spec_.chown.empty());

  // A file goes inside a destination that ends in "/" or is a directory, else it takes the destination's name.
  struct Target {
    UniqueFd dir;
    std::string name, where;
  };
  auto file_target = [&](const std::string& name) {
    std::string dir = dest, base = name;
    if (!dir_hint && !is_existing_dir(dest_root, dest)) std::tie(dir, base) = split_parent(dest);
    return Target{ensure_dir(dest_root, dir, owner), base, (dir == "/" ? "" : dir) + "/" + base};
  };

  for (const auto& e : entries_) {
    if (e.kind == Entry::Kind::heredoc) {
      Target t = file_target(e.name);
      Writer::clear(t.dir.get(), t.name, false, t.where);
      UniqueFd out = Writer::create_file(t.dir.get(), t.name, t.where);
      write_all(out.get(), spec_.heredocs[e.heredoc].content, t.where);
      writer.finish_file(out.get(), owner, 0644, std::nullopt, t.where);
      continue;
    }
    if (e.kind == Entry::Kind::url) {
      UniqueFd in(::open(e.fetched.c_str(), O_RDONLY | O_CLOEXEC));
      if (!in) throw_errno("open " + e.fetched.string());
      Target t = file_target(e.name);
      Writer::clear(t.dir.get(), t.name, false, t.where);
      UniqueFd out = Writer::create_file(t.dir.get(), t.name, t.where);
      writer.copy(in.get(), out.get(), t.where);
      std::optional<struct timespec> mtime;
      if (e.mtime) mtime = timespec{static_cast<time_t>(*e.mtime), 0};
      writer.finish_file(out.get(), owner, 0600, mtime, t.where);
      continue;
    }
    UniqueFd fd(open_in_root(source_.root, "/" + e.path, O_PATH));
    if (!fd) throw_errno("stat " + (e.path.empty() ? "/" : e.path));
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0) throw_errno("stat " + e.path);
    if (S_ISDIR(st.st_mode)) {
      // A directory's contents, merged into the destination directory.
      UniqueFd dir = ensure_dir(dest_root, dest, owner);
      UniqueFd dst(::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!dst) throw_errno("open " + dest);
      writer.contents(fd.get(), e.path, dst.get(), dest);
      continue;
    }
    ArchiveProbe probe;
    if (spec_.add && S_ISREG(st.st_mode)) probe = probe_archive(fd.get());
    if (probe.archive) {
      // A local archive is unpacked into the destination directory with its own owners and modes.
      ensure_dir(dest_root, dest, owner);
      UniqueFd in(::open(proc_fd(fd.get()).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
      if (!in) throw_errno("open " + e.path);
      OwnerPolicy as_is;
      as_is.uid = [](std::uint32_t id) { return id; };
      as_is.gid = [](std::uint32_t id) { return id; };
      extract_tar(in.get(), dest_root, dest, CopyPlan{}, as_is);
      if (probe.top) {
        UniqueFd dir(open_in_root(dest_root, dest, O_RDONLY | O_DIRECTORY));
        if (!dir) throw_errno("open " + dest);
        Writer(view, Owner{probe.top->st_uid, probe.top->st_gid}, std::nullopt).finish_dir(dir.get(), *probe.top, dest);
      }
      continue;
    }
    Target t = file_target(e.name);
    writer.node(fd.get(), st, t.dir.get(), t.name, e.path, t.where);
  }
}

void make_workdir(int root, const std::string& path, const std::string& user) {
  ensure_dir(root, clean_absolute(path), resolve_chown(root, user));
}

}  // namespace cppcker::build
