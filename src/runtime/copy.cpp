#include "cppcker/runtime/copy.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <exception>
#include <map>
#include <memory>
#include <thread>
#include <tuple>
#include <vector>

#include "cppcker/runtime/container_fs.hpp"
#include "cppcker/runtime/stdio.hpp"
#include "cppcker/storage/unpack.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker {

// ---------------------------------------------------------------- Docker's path rules

namespace {

bool has_trailing_separator(const std::string& p) { return !p.empty() && p.back() == '/'; }

// filepath.Base: the last element after trailing slashes are removed ("/" for "/", "." for "").
std::string base_name(std::string p) {
  if (p.empty()) return ".";
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (p == "/") return "/";
  auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

bool specifies_current_dir(const std::string& p) { return base_name(p) == "."; }

// filepath.Clean for absolute paths: "." removed, ".." applied (stopping at "/"), no trailing slash.
std::string clean_absolute(const std::string& p) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= p.size()) {
    auto slash = p.find('/', start);
    if (slash == std::string::npos) slash = p.size();
    std::string comp = p.substr(start, slash - start);
    if (comp == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!comp.empty() && comp != ".") {
      parts.push_back(comp);
    }
    start = slash + 1;
  }
  std::string out;
  for (const auto& part : parts) out += "/" + part;
  return out.empty() ? "/" : out;
}

// archive.PreserveTrailingDotOrSeparator
std::string preserve_trailing(std::string cleaned, const std::string& original) {
  if (!specifies_current_dir(cleaned) && specifies_current_dir(original)) {
    if (!has_trailing_separator(cleaned)) cleaned += "/";
    cleaned += ".";
  }
  if (!has_trailing_separator(cleaned) && has_trailing_separator(original)) cleaned += "/";
  return cleaned;
}

// archive.GetRebaseName: the resolved path keeps the original's trailing "/." or "/", and the entries
// are renamed to the original's base when the two bases differ.
std::pair<std::string, std::string> rebase_for(const std::string& path, std::string resolved) {
  if (specifies_current_dir(path) && !specifies_current_dir(resolved)) resolved += "/.";
  if (has_trailing_separator(path) && !has_trailing_separator(resolved)) resolved += "/";
  std::string rebase;
  if (base_name(path) != base_name(resolved)) rebase = base_name(path);
  return {resolved, rebase};
}

}  // namespace

std::string clean_container_path(const std::string& path) {
  return preserve_trailing(clean_absolute("/" + path), path);
}

std::pair<std::string, std::string> split_path_dir_entry(const std::string& path) {
  std::string cleaned = path.empty() ? "." : path;
  // filepath.Clean without the absolute assumption: a relative path stays relative.
  const bool absolute = cleaned.front() == '/';
  cleaned = clean_absolute(cleaned);
  if (!absolute) cleaned = cleaned == "/" ? "." : cleaned.substr(1);
  if (specifies_current_dir(path)) cleaned += (cleaned == "/" ? "." : "/.");
  if (cleaned == "/") return {"/", "/"};
  auto slash = cleaned.rfind('/');
  if (slash == std::string::npos) return {".", cleaned};
  return {slash == 0 ? "/" : cleaned.substr(0, slash), cleaned.substr(slash + 1)};
}

bool asserts_directory(const std::string& path) { return has_trailing_separator(path) || specifies_current_dir(path); }

CopyPlan prepare_archive_copy(const CopyInfo& src, const CopyInfo& dst) {
  auto [dst_dir, dst_base] = split_path_dir_entry(dst.path);
  std::string src_base = split_path_dir_entry(src.path).second;
  if (!src.rebase_name.empty()) src_base = src.rebase_name;
  if (dst.exists && dst.is_dir) return {dst.path, "", ""};  // extracted into it as it is
  if (dst.exists && src.is_dir) throw Error("cannot copy directory");
  if (dst.exists || src.is_dir) return {dst_dir, src_base, dst_base};
  if (asserts_directory(dst.path)) throw Error("no such directory");
  return {dst_dir, src_base, dst_base};
}

std::string rebase_entry_name(const std::string& name, const std::string& old_base, const std::string& new_base) {
  if (old_base.empty()) return name;
  std::string n = name;
  // Writers name a directory "x/"; "./x" and "x" are the same entry.
  while (n.size() > 1 && n.back() == '/') n.pop_back();
  if (old_base != "." && n.rfind("./", 0) == 0) n = n.substr(2);
  if (n == old_base) return new_base;
  if (n.size() > old_base.size() && n.compare(0, old_base.size(), old_base) == 0 && n[old_base.size()] == '/')
    return new_base + n.substr(old_base.size());
  return name;
}

std::pair<std::string, std::string> split_cp_arg(const std::string& arg) {
  if (!arg.empty() && arg.front() == '/') return {"", arg};
  auto colon = arg.find(':');
  if (colon == std::string::npos || arg.front() == '.') return {"", arg};
  return {arg.substr(0, colon), arg.substr(colon + 1)};
}

// ---------------------------------------------------------------- tar streams

namespace {

struct ArchiveWriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct ArchiveReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

class TarWriter {
 public:
  TarWriter(int out, const OwnerPolicy& owners) : a_(archive_write_new()), owners_(owners) {
    if (!a_) throw Error("libarchive: out of memory");
    if (archive_write_set_format_pax_restricted(a_.get()) != ARCHIVE_OK || archive_write_open_fd(a_.get(), out) != ARCHIVE_OK)
      fail("open the tar stream");
  }

  // `fd`: an O_PATH descriptor of the file (never a symlink followed by it); `name` its entry name.
  void add(int fd, const std::string& name) {
    struct stat st{};
    if (::fstat(fd, &st) != 0) throw_errno("stat " + shown(name));
    if (S_ISSOCK(st.st_mode)) return;  // a tar cannot carry one (Docker leaves them out too)
    if (S_ISDIR(st.st_mode)) return add_dir(fd, st, name);
    std::unique_ptr<archive_entry, EntryDeleter> e(archive_entry_new());
    fill(e.get(), st, name);
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
      auto [it, fresh] = links_.try_emplace({st.st_dev, st.st_ino}, name);
      if (!fresh) {
        archive_entry_set_size(e.get(), 0);
        archive_entry_set_hardlink(e.get(), it->second.c_str());
        return header(e.get(), name);
      }
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target(PATH_MAX, '\0');
      ssize_t n = ::readlinkat(fd, "", target.data(), target.size());
      if (n < 0) throw_errno("readlink " + shown(name));
      target.resize(static_cast<std::size_t>(n));
      archive_entry_set_symlink(e.get(), target.c_str());
      return header(e.get(), name);
    }
    if (!S_ISREG(st.st_mode)) return header(e.get(), name);  // devices and fifos: the header is all
    // O_NONBLOCK: a file swapped for a fifo meanwhile cannot hang the copy.
    UniqueFd data(::open(fd_path(fd).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!data) throw_errno("open " + shown(name));
    add_xattrs(e.get(), data.get());
    header(e.get(), name);
    std::string& buf = buffer_;
    off_t left = st.st_size;
    while (left > 0) {
      ssize_t n = ::read(data.get(), buf.data(), static_cast<std::size_t>(std::min<off_t>(left, static_cast<off_t>(buf.size()))));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno("read " + shown(name));
      if (n == 0) break;  // shrunk meanwhile: libarchive pads the entry to its recorded size
      if (archive_write_data(a_.get(), buf.data(), static_cast<std::size_t>(n)) < 0) fail("write " + shown(name));
      left -= n;
    }
  }

  void finish() {
    if (archive_write_close(a_.get()) != ARCHIVE_OK) fail("finish the tar stream");
  }

 private:
  static std::string shown(const std::string& name) { return name.empty() ? "/" : name; }

  [[noreturn]] void fail(const std::string& what) {
    const char* why = archive_error_string(a_.get());
    throw Error(what + ": " + (why ? why : "tar error"));
  }

  void fill(archive_entry* e, const struct stat& st, const std::string& name) {
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, st.st_mode & S_IFMT);
    archive_entry_set_perm(e, st.st_mode & 07777);
    archive_entry_set_uid(e, owners_.uid ? owners_.uid(st.st_uid) : st.st_uid);
    archive_entry_set_gid(e, owners_.gid ? owners_.gid(st.st_gid) : st.st_gid);
    archive_entry_set_mtime(e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    if (S_ISREG(st.st_mode)) archive_entry_set_size(e, st.st_size);
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) archive_entry_set_rdev(e, st.st_rdev);
  }

  void add_xattrs(archive_entry* e, int fd) {
    ssize_t n = ::flistxattr(fd, nullptr, 0);
    if (n <= 0) return;  // none (most files), or a filesystem without them
    std::string names(static_cast<std::size_t>(n) + 1024, '\0');
    n = ::flistxattr(fd, names.data(), names.size());
    if (n <= 0) return;
    for (std::size_t pos = 0; pos < static_cast<std::size_t>(n);) {
      std::string key = names.c_str() + pos;
      pos += key.size() + 1;
      std::string value(64 * 1024, '\0');
      ssize_t len = ::fgetxattr(fd, key.c_str(), value.data(), value.size());
      if (len < 0) continue;  // removed meanwhile
      archive_entry_xattr_add_entry(e, key.c_str(), value.data(), static_cast<std::size_t>(len));
    }
  }

  void header(archive_entry* e, const std::string& name) {
    if (archive_write_header(a_.get(), e) != ARCHIVE_OK) fail("write the header of " + shown(name));
  }

  void add_dir(int fd, const struct stat& st, const std::string& name) {
    UniqueFd dir(::openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) throw_errno("open " + shown(name));
    if (!name.empty()) {
      std::unique_ptr<archive_entry, EntryDeleter> e(archive_entry_new());
      fill(e.get(), st, name);
      add_xattrs(e.get(), dir.get());
      header(e.get(), name);
    }
    std::vector<std::string> children;
    {
      int copy = ::fcntl(dir.get(), F_DUPFD_CLOEXEC, 0);
      if (copy < 0) throw_errno("open " + shown(name));
      DIR* d = ::fdopendir(copy);
      if (!d) {
        ::close(copy);
        throw_errno("read " + shown(name));
      }
      while (dirent* ent = ::readdir(d)) {
        std::string_view n = ent->d_name;
        if (n != "." && n != "..") children.emplace_back(n);
      }
      ::closedir(d);
    }
    std::sort(children.begin(), children.end());
    for (const auto& child : children) {
      UniqueFd c(::openat(dir.get(), child.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!c) {
        if (errno == ENOENT) continue;  // removed meanwhile
        throw_errno("open " + (name.empty() ? child : name + "/" + child));
      }
      add(c.get(), name.empty() ? child : name + "/" + child);
    }
  }

  std::unique_ptr<archive, ArchiveWriteDeleter> a_;
  const OwnerPolicy& owners_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
  std::string buffer_ = std::string(1 << 20, '\0');
};

// The file `path` names inside `root`, as an O_PATH descriptor: the directories on the way resolved in
// the root, the last component followed only when asked (or when the path says it is a directory).
UniqueFd open_entry(int root, const std::string& path, bool follow) {
  auto [dir, base] = split_path_dir_entry(path);
  if (follow || asserts_directory(path) || base == "/" || base == ".") {
    UniqueFd fd(open_in_root(root, path, O_PATH));
    if (!fd) throw_errno("lstat " + path);
    return fd;
  }
  UniqueFd parent(open_in_root(root, dir, O_PATH | O_DIRECTORY));
  if (!parent) throw_errno("lstat " + path);
  UniqueFd fd(::openat(parent.get(), base.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) throw_errno("lstat " + path);
  return fd;
}

struct DirTimes {
  std::string path;
  struct timespec times[2];
};

class TarExtractor {
 public:
  TarExtractor(int root, std::string dir, const CopyPlan& plan, const OwnerPolicy& owners)
      : root_(root), dir_(std::move(dir)), plan_(plan), owners_(owners) {}

  void run(int in) {
    {
      UniqueFd point(open_in_root(root_, dir_, O_PATH));
      if (!point) throw_errno("lstat " + dir_);
      struct stat st{};
      if (::fstat(point.get(), &st) != 0) throw_errno("lstat " + dir_);
      if (!S_ISDIR(st.st_mode)) throw Error("extraction point is not a directory");
    }
    std::unique_ptr<archive, ArchiveReadDeleter> a(archive_read_new());
    if (!a) throw Error("libarchive: out of memory");
    archive_read_support_format_tar(a.get());
    archive_read_support_format_gnutar(a.get());
    archive_read_support_filter_all(a.get());
    if (archive_read_open_fd(a.get(), in, 64 * 1024) != ARCHIVE_OK)
      throw Error(std::string("read the tar stream: ") + archive_error_string(a.get()));
    for (;;) {
      archive_entry* e = nullptr;
      int r = archive_read_next_header(a.get(), &e);
      if (r == ARCHIVE_EOF) break;
      if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        throw Error(std::string("read the tar stream: ") + archive_error_string(a.get()));
      entry(a.get(), e);
    }
    // Directory times last: their children changed them.
    for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
      UniqueFd fd(open_in_root(root_, it->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
      if (fd) ::futimens(fd.get(), it->times);
    }
    // What follows the end-of-archive blocks (a writer's padding) is read, so the writer never sees EPIPE.
    char buf[64 * 1024];
    while (::read(in, buf, sizeof buf) > 0) {
    }
  }

 private:
  std::string full(const std::string& rel) const { return rel.empty() ? dir_ : dir_ + "/" + rel; }

  // The directory `rel` below the extraction point, made (with its missing parents) when absent.
  UniqueFd parent_dir(const std::string& rel) {
    UniqueFd fd(open_in_root(root_, full(rel), O_PATH | O_DIRECTORY));
    if (fd || errno != ENOENT || rel.empty()) {
      if (!fd) throw_errno("open " + full(rel));
      return fd;
    }
    auto slash = rel.rfind('/');
    UniqueFd up = parent_dir(slash == std::string::npos ? "" : rel.substr(0, slash));
    std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
    if (::mkdirat(up.get(), name.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("mkdir " + full(rel));
    if (owners_.chown && ::fchownat(up.get(), name.c_str(), owners_.uid(0), owners_.gid(0), AT_SYMLINK_NOFOLLOW) != 0)
      throw_errno("chown " + full(rel));
    fd.reset(::openat(up.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) throw_errno("open " + full(rel));
    return fd;
  }

  void set_owner(int dirfd, const char* name, int fd, archive_entry* e, const std::string& rel) {
    if (!owners_.chown) return;
    uid_t uid = owners_.uid(static_cast<std::uint32_t>(archive_entry_uid(e)));
    gid_t gid = owners_.gid(static_cast<std::uint32_t>(archive_entry_gid(e)));
    int rc = fd >= 0 ? ::fchown(fd, uid, gid) : ::fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW);
    if (rc != 0) throw_errno("chown " + full(rel));
  }

  void set_xattrs(archive_entry* e, int fd, const std::string& rel) {
    archive_entry_xattr_reset(e);
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
      // overlay's own attributes would redirect lookups in the container's layer.
      if (std::string_view(name).rfind("trusted.overlay.", 0) == 0) continue;
      if (::fsetxattr(fd, name, value, size, 0) != 0 && errno != ENOTSUP)
        throw_errno("set xattr " + std::string(name) + " on " + full(rel));
    }
  }

  void entry(archive* a, archive_entry* e) {
    const char* raw = archive_entry_pathname(e);
    if (!raw) throw Error("tar entry without a name");
    auto clean = clean_layer_path(rebase_entry_name(raw, plan_.old_base, plan_.new_base));
    if (!clean) throw Error("tar entry \"" + std::string(raw) + "\" points outside the destination");
    const std::string& rel = *clean;
    if (rel.empty()) return;  // the extraction point itself keeps its owner and mode
    auto slash = rel.rfind('/');
    const std::string parent_rel = slash == std::string::npos ? "" : rel.substr(0, slash);
    const std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
    UniqueFd parent = parent_dir(parent_rel);
    const unsigned type = archive_entry_filetype(e);
    const bool is_dir = type == AE_IFDIR && !archive_entry_hardlink(e);
    struct stat existing{};
    const bool exists = ::fstatat(parent.get(), name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && S_ISDIR(existing.st_mode) && !is_dir)
      throw Error("cannot overwrite directory \"" + full(rel) + "\" with non-directory \"" + std::string(raw) + "\"");
    if (exists && !S_ISDIR(existing.st_mode) && is_dir)
      throw Error("cannot overwrite non-directory \"" + full(rel) + "\" with directory \"" + std::string(raw) + "\"");
    if (exists && !is_dir && ::unlinkat(parent.get(), name.c_str(), 0) != 0 && errno != ENOENT)
      throw_errno("remove " + full(rel));
    const mode_t perm = archive_entry_perm(e) & 07777;
    struct timespec times[2];
    times[0].tv_sec = times[1].tv_sec = archive_entry_mtime(e);
    times[0].tv_nsec = times[1].tv_nsec = archive_entry_mtime_nsec(e);

    if (const char* link = archive_entry_hardlink(e)) {
      auto target = clean_layer_path(rebase_entry_name(link, plan_.old_base, plan_.new_base));
      if (!target || target->empty()) throw Error("hardlink \"" + rel + "\" points outside the destination");
      auto ts = target->rfind('/');
      UniqueFd tparent = parent_dir(ts == std::string::npos ? "" : target->substr(0, ts));
      std::string tname = ts == std::string::npos ? *target : target->substr(ts + 1);
      if (::linkat(tparent.get(), tname.c_str(), parent.get(), name.c_str(), 0) != 0)
        throw_errno("hardlink " + full(rel) + " to " + full(*target));
      return;
    }
    switch (type) {
      case AE_IFDIR: {
        if (!exists && ::mkdirat(parent.get(), name.c_str(), 0700) != 0) throw_errno("mkdir " + full(rel));
        UniqueFd fd(::openat(parent.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) throw_errno("open " + full(rel));
        set_owner(-1, nullptr, fd.get(), e, rel);
        if (::fchmod(fd.get(), perm) != 0) throw_errno("chmod " + full(rel));
        set_xattrs(e, fd.get(), rel);
        dir_times_.push_back({full(rel), {times[0], times[1]}});
        return;
      }
      case AE_IFREG: {
        UniqueFd fd(::openat(parent.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!fd) throw_errno("create " + full(rel));
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
            ssize_t n = ::pwrite(fd.get(), p, len, offset);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw_errno("write " + full(rel));
            p += n;
            len -= static_cast<size_t>(n);
            offset += n;
          }
        }
        if (::ftruncate(fd.get(), archive_entry_size(e)) != 0) throw_errno("truncate " + full(rel));
        set_owner(-1, nullptr, fd.get(), e, rel);
        if (::fchmod(fd.get(), perm) != 0) throw_errno("chmod " + full(rel));  // after chown: setuid bits stay
        set_xattrs(e, fd.get(), rel);
        if (::futimens(fd.get(), times) != 0) throw_errno("set times of " + full(rel));
        return;
      }
      case AE_IFLNK: {
        const char* target = archive_entry_symlink(e);
        if (!target) throw Error("symlink \"" + rel + "\" without a target");
        if (::symlinkat(target, parent.get(), name.c_str()) != 0) throw_errno("symlink " + full(rel));
        set_owner(parent.get(), name.c_str(), -1, e, rel);
        if (::utimensat(parent.get(), name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("set times of " + full(rel));
        return;
      }
      case AE_IFCHR:
      case AE_IFBLK:
      case AE_IFIFO: {
        mode_t kind = type == AE_IFCHR ? S_IFCHR : type == AE_IFBLK ? S_IFBLK : S_IFIFO;
        if (::mknodat(parent.get(), name.c_str(), kind | 0600, archive_entry_rdev(e)) != 0) throw_errno("mknod " + full(rel));
        set_owner(parent.get(), name.c_str(), -1, e, rel);
        // The node opened as O_PATH: chmod and times on it never open a device or block on a fifo.
        UniqueFd node(::openat(parent.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
        if (!node || ::chmod(fd_path(node.get()).c_str(), perm) != 0) throw_errno("chmod " + full(rel));
        if (::utimensat(parent.get(), name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("set times of " + full(rel));
        return;
      }
      default:
        return;  // sockets and unknown types
    }
  }

  int root_;
  std::string dir_;
  const CopyPlan& plan_;
  const OwnerPolicy& owners_;
  std::vector<DirTimes> dir_times_;
};

}  // namespace

void write_tar(int root, const std::string& path, bool follow, const std::string& name, const OwnerPolicy& owners,
               int out) {
  UniqueFd top = open_entry(root, path, follow);
  TarWriter writer(out, owners);
  writer.add(top.get(), name);
  writer.finish();
}

void extract_tar(int in, int root, const std::string& dir, const CopyPlan& plan, const OwnerPolicy& owners) {
  TarExtractor(root, dir, plan, owners).run(in);
}

// ---------------------------------------------------------------- the commands

namespace {

// Runs `produce` (writing a tar) on a thread and `consume` (reading it) here, joined by a pipe. The
// consumer's failure is reported first: the producer's EPIPE is only its consequence.
void pump(const std::function<void(int)>& produce, const std::function<void(int)>& consume) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe");
  UniqueFd read_end(p[0]), write_end(p[1]);
  IgnoreSigpipe ignore_sigpipe;
  std::exception_ptr produced;
  std::thread producer([&] {
    try {
      produce(write_end.get());
    } catch (...) {
      produced = std::current_exception();
    }
    write_end.reset();
  });
  std::exception_ptr consumed;
  try {
    consume(read_end.get());
  } catch (...) {
    consumed = std::current_exception();
  }
  read_end.reset();
  producer.join();
  if (consumed) std::rethrow_exception(consumed);
  if (produced) std::rethrow_exception(produced);
}

struct ContainerStat {
  bool exists = false;
  struct stat st{};
  std::string link_target;
};

// lstat of a container path as Docker's daemon does it: the parents resolved in the container, the
// last component not followed unless the path ends in "/" or "/.".
ContainerStat stat_in_container(int root, const std::string& path) {
  ContainerStat out;
  UniqueFd fd;
  try {
    fd = open_entry(root, path, false);
  } catch (const SystemError& e) {
    if (e.sys_errno() == ENOENT) return out;
    throw;
  }
  if (::fstat(fd.get(), &out.st) != 0) throw_errno("lstat " + path);
  out.exists = true;
  if (S_ISLNK(out.st.st_mode)) {
    std::string target(PATH_MAX, '\0');
    ssize_t n = ::readlinkat(fd.get(), "", target.data(), target.size());
    if (n < 0) throw_errno("readlink " + path);
    target.resize(static_cast<std::size_t>(n));
    out.link_target = target;
  }
  return out;
}

// A symlink's target as a container path: a relative one is taken from the link's directory.
std::string link_path(const std::string& link, const std::string& target) {
  if (!target.empty() && target.front() == '/') return target;
  return split_path_dir_entry(link).first + "/" + target;
}

std::string real_host_path(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::canonical(path.empty() ? "." : path, ec);
  if (ec) throw SystemError("lstat " + path, ec.value());
  return p.string();
}

// archive.CopyInfoSourcePath on the host.
CopyInfo host_source_info(const std::string& path, bool follow) {
  CopyInfo info;
  std::string resolved;
  if (follow) {
    std::tie(resolved, info.rebase_name) = rebase_for(path, real_host_path(path));
  } else {
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    resolved = real_host_path(dir);
    resolved = (resolved == "/" ? "" : resolved) + "/" + base;
    if (has_trailing_separator(path) && base_name(path) != base_name(resolved)) info.rebase_name = base_name(path);
  }
  struct stat st{};
  if (::lstat(resolved.c_str(), &st) != 0) throw_errno("lstat " + resolved);
  info.path = resolved;
  info.exists = true;
  info.is_dir = S_ISDIR(st.st_mode);
  return info;
}

// archive.CopyInfoDestinationPath on the host: a symlink is followed; a missing path needs its directory.
CopyInfo host_destination_info(const std::string& path) {
  CopyInfo info{path};
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) {
      std::error_code ec;
      fs::path target = fs::weakly_canonical(path, ec);
      if (ec) throw SystemError("lstat " + path, ec.value());
      info.path = preserve_trailing(target.string(), path);
      if (::lstat(target.c_str(), &st) != 0) {
        if (errno != ENOENT) throw_errno("lstat " + target.string());
        return info;
      }
    }
    info.exists = true;
    info.is_dir = S_ISDIR(st.st_mode);
    return info;
  }
  if (errno != ENOENT) throw_errno("lstat " + path);
  std::string parent = split_path_dir_entry(path).first;
  if (::stat(parent.c_str(), &st) != 0) throw_errno("lstat " + parent);
  if (!S_ISDIR(st.st_mode)) throw Error("not a directory");
  return info;
}

OwnerPolicy to_container_ids(const IdMap& ids) {
  return {[&ids](std::uint32_t u) { return ids.uid_to_container(u); }, [&ids](std::uint32_t g) { return ids.gid_to_container(g); },
          true};
}

}  // namespace

void copy_from_container(const ImageStore& images, const ContainerStore& containers, const std::string& container,
                         const std::string& src, const std::string& dest, const CopyOptions& o, int out) {
  Container c = containers.resolve(container);
  ContainerFs cfs = open_container_fs(images, containers, c, FsView::live);
  std::string path = clean_container_path(src);
  if (path == "/") path = "/.";  // the root has no name of its own: its contents
  ContainerStat st = stat_in_container(cfs.root(), path);
  if (!st.exists) throw Error("No such container:path: " + container + ":" + src);
  std::string rebase;
  if (o.follow_link && S_ISLNK(st.st.st_mode)) {
    // Docker's CLI follows the link once, the daemon resolves the rest inside the container.
    std::tie(path, rebase) = rebase_for(path, clean_container_path(link_path(path, st.link_target)));
    st = stat_in_container(cfs.root(), path);
    if (!st.exists) throw Error("No such container:path: " + container + ":" + src);
  }
  CopyInfo info{path, true, S_ISDIR(st.st.st_mode), rebase};
  const std::string name = rebase.empty() ? split_path_dir_entry(path).second : rebase;
  const OwnerPolicy tar_owners = to_container_ids(cfs.ids());
  if (dest == "-") {
    IgnoreSigpipe ignore_sigpipe;
    write_tar(cfs.root(), path, false, name, tar_owners, out);
    return;
  }
  CopyPlan plan = prepare_archive_copy(info, host_destination_info(dest));
  UniqueFd host_dir(::open(plan.dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!host_dir) throw_errno("open " + plan.dir);
  OwnerPolicy callers;
  callers.chown = false;  // the files belong to whoever runs cp, as Docker's CLI writes them
  pump([&](int w) { write_tar(cfs.root(), path, false, name, tar_owners, w); },
       [&](int r) { extract_tar(r, host_dir.get(), "", plan, callers); });
}

void copy_to_container(const ImageStore& images, const ContainerStore& containers, const std::string& src,
                       const std::string& container, const std::string& dest, const CopyOptions& o, int in) {
  Container c = containers.resolve(container);
  // The host side is checked first: a missing source is reported before the container is touched.
  std::optional<CopyInfo> src_info;
  if (src != "-") src_info = host_source_info(src, o.follow_link);
  ContainerFs cfs = open_container_fs(images, containers, c, FsView::live);
  std::string path = clean_container_path(dest);
  ContainerStat st = stat_in_container(cfs.root(), path);
  if (st.exists && S_ISLNK(st.st.st_mode)) {
    path = clean_container_path(link_path(path, st.link_target));
    st = stat_in_container(cfs.root(), path);
  }
  if (st.exists && !S_ISDIR(st.st.st_mode) && !S_ISREG(st.st.st_mode))
    throw Error("destination \"" + container + ":" + dest + "\" must be a directory or a regular file");
  CopyInfo dst_info{path, st.exists, st.exists && S_ISDIR(st.st.st_mode), ""};
  const IdMap& ids = cfs.ids();
  OwnerPolicy owners;
  if (o.archive) {
    owners.uid = [&ids](std::uint32_t u) { return ids.uid_to_host(u); };
    owners.gid = [&ids](std::uint32_t g) { return ids.gid_to_host(g); };
  } else {
    // Docker: what is copied in belongs to the container's root.
    owners.uid = [&ids](std::uint32_t) { return ids.uid_to_host(0); };
    owners.gid = [&ids](std::uint32_t) { return ids.gid_to_host(0); };
  }
  auto extract = [&](int r, const CopyPlan& plan) {
    if (c.spec.read_only) {
      // Docker: a read-only container takes files only into its volumes and binds.
      const std::string target = clean_container_path(plan.dir);
      bool in_mount = false;
      for (const auto& m : c.spec.mounts) {
        const std::string t = clean_container_path(m.target);
        in_mount |= target == t || target.rfind(t == "/" ? t : t + "/", 0) == 0;
      }
      if (!in_mount) throw Error("container rootfs is marked read-only");
    }
    // Docker's daemon needs the extraction point to exist (a missing parent is not made).
    UniqueFd point(open_in_root(cfs.root(), plan.dir, O_PATH));
    if (!point && errno == ENOENT) throw Error("No such container:path: " + container + ":" + plan.dir);
    extract_tar(r, cfs.root(), plan.dir, plan, owners);
  };
  if (!src_info) {
    if (!dst_info.is_dir) throw Error("destination \"" + container + ":" + dest + "\" must be a directory");
    extract(in, CopyPlan{path, "", ""});
    return;
  }
  CopyPlan plan = prepare_archive_copy(*src_info, dst_info);
  const std::string name = src_info->rebase_name.empty() ? split_path_dir_entry(src_info->path).second : src_info->rebase_name;
  UniqueFd host_root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!host_root) throw_errno("open /");
  OwnerPolicy as_is;
  pump([&](int w) { write_tar(host_root.get(), src_info->path, false, name, as_is, w); },
       [&](int r) { extract(r, plan); });
}

void export_container(const ImageStore& images, const ContainerStore& containers, const std::string& container, int out) {
  Container c = containers.resolve(container);
  ContainerFs cfs = open_container_fs(images, containers, c, FsView::layers);
  IgnoreSigpipe ignore_sigpipe;
  write_tar(cfs.root(), "/", true, "", to_container_ids(cfs.ids()), out);
}

}  // namespace cppcker
