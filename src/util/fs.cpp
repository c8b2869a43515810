#include "cppcker/util/fs.hpp"

#include <dirent.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <sstream>
#include <vector>

#include "cppcker/util/error.hpp"

namespace cppcker {

std::string read_file(const fs::path& path) {
  auto content = read_file_if_exists(path);
  if (!content) throw SystemError("open " + path.string(), ENOENT);
  return *content;
}

void read_chunks(int fd, const std::string& what, const std::function<void(std::string_view)>& chunk,
                 std::span<char> buffer) {
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("read " + what);
    }
    if (n == 0) return;
    chunk(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
  }
}

void read_chunks(int fd, const std::string& what, const std::function<void(std::string_view)>& chunk) {
  // On the stack, uninitialised: the start path reads a dozen small files, and a heap buffer above
  // malloc's mmap threshold cost an mmap, a munmap and a heap consolidation for each.
  char buf[64 * 1024];
  read_chunks(fd, what, chunk, buf);
}

void read_lines(int fd, const std::string& what, const std::function<void(std::string_view)>& line) {
  char buf[4096];
  std::string partial;  // a line cut by the end of a piece
  read_chunks(fd, what, [&](std::string_view piece) {
    for (std::size_t end; (end = piece.find('\n')) != std::string_view::npos; piece.remove_prefix(end + 1)) {
      if (partial.empty()) {
        line(piece.substr(0, end));
      } else {
        partial.append(piece.substr(0, end));
        line(partial);
        partial.clear();
      }
    }
    partial.append(piece);
  }, buf);
  if (!partial.empty()) line(partial);
}

std::string read_all(int fd, const std::string& what) {
  std::string out;
  read_chunks(fd, what, [&](std::string_view c) { out.append(c); });
  return out;
}

std::optional<std::string> read_file_if_exists(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return std::nullopt;
    throw_errno("open " + path.string());
  }
  return read_all(fd.get(), path.string());
}

void write_all(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("write " + what);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void write_file_atomic(const fs::path& path, std::string_view data, mode_t mode, Durability durability) {
  fs::path tmp = path;
  tmp += ".tmp-" + random_hex(6);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd) throw_errno("create " + tmp.string());
  try {
    // Exactly `mode`, whatever the umask (cppcker runs under 077).
    if (::fchmod(fd.get(), mode) != 0) throw_errno("chmod " + tmp.string());
    write_all(fd.get(), data, tmp.string());
    if (durability == Durability::synced && ::fsync(fd.get()) != 0) throw_errno("fsync " + tmp.string());
    fd.reset();
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw_errno("rename " + tmp.string());
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

void make_dirs(const fs::path& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) throw Error("create directory " + path.string() + ": " + ec.message());
}

UniqueFd open_beneath(const fs::path& root, const std::string& rel) {
  UniqueFd dir(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) throw_errno("open " + root.string());
  struct open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, dir.get(), rel.c_str(), &how, sizeof how);
  if (fd < 0) throw_errno("open " + rel);
  return UniqueFd(static_cast<int>(fd));
}

std::string read_beneath(const fs::path& root, const std::string& rel) {
  UniqueFd fd = open_beneath(root, rel);
  return read_all(fd.get(), rel);
}

bool exists_beneath(const fs::path& root, const std::string& rel) {
  try {
    open_beneath(root, rel);
    return true;
  } catch (const SystemError& e) {
    if (e.sys_errno() == ENOENT || e.sys_errno() == ENOTDIR) return false;
    throw;
  }
}

void sync_dir(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd) ::fsync(fd.get());
}

static void remove_children(int dirfd, const std::string& where) {
  int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) throw_errno("dup " + where);
  DIR* dir = ::fdopendir(dup);
  if (!dir) {
    ::close(dup);
    throw_errno("opendir " + where);
  }
  std::vector<std::pair<std::string, bool>> entries;
  while (struct dirent* ent = ::readdir(dir)) {
    std::string_view name = ent->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = ent->d_type == DT_DIR;
    if (ent->d_type == DT_UNKNOWN) {
      struct stat st{};
      if (::fstatat(dirfd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) is_dir = S_ISDIR(st.st_mode);
    }
    entries.emplace_back(std::string(name), is_dir);
  }
  ::closedir(dir);
  for (auto& [name, is_dir] : entries) {
    if (is_dir) {
      UniqueFd child(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!child && errno == ENOENT) continue;  // someone else removing the same tree got there first
      if (!child) throw_errno("open " + where + "/" + name);
      remove_children(child.get(), where + "/" + name);
      if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
        throw_errno("remove " + where + "/" + name);
    } else if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) {
      throw_errno("remove " + where + "/" + name);
    }
  }
}

void remove_tree_at(int dirfd, const std::string& name, const std::string& where) {
  UniqueFd child(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (child) {
    remove_children(child.get(), where);
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) throw_errno("remove " + where);
    return;
  }
  if (errno != ENOTDIR && errno != ELOOP && errno != ENOENT) throw_errno("open " + where);
  if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) throw_errno("remove " + where);
}

void remove_tree(const fs::path& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw_errno("stat " + path.string());
  }
  if (S_ISDIR(st.st_mode)) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd && errno == ENOENT) return;
    if (!fd) throw_errno("open " + path.string());
    remove_children(fd.get(), path.string());
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT) throw_errno("remove " + path.string());
  } else if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw_errno("remove " + path.string());
  }
}

namespace {
// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mount_path(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}
}  // namespace

void unmount_below(const fs::path& path) {
  std::string prefix = path.string();
  std::vector<std::string> targets;
  std::istringstream in(read_file("/proc/self/mountinfo"));
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    std::string target = unescape_mount_path(mount_point);
    if (target == prefix || target.starts_with(prefix + "/")) targets.push_back(target);
  }
  std::sort(targets.begin(), targets.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  for (const auto& t : targets)
    if (::umount2(t.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) throw_errno("unmount " + t);
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  std::size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("getrandom");
    }
    got += static_cast<std::size_t>(n);
  }
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

FileLock::FileLock(const fs::path& path, Mode mode) {
  fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd_) throw_errno("open lock " + path.string());
  int op = mode == Mode::shared ? LOCK_SH : LOCK_EX;
  while (::flock(fd_.get(), op) != 0) {
    if (errno != EINTR) throw_errno("lock " + path.string());
  }
}

std::optional<FileLock> FileLock::try_lock(const fs::path& path, Mode mode) {
  FileLock lock;
  lock.fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock.fd_) throw_errno("open lock " + path.string());
  int op = (mode == Mode::shared ? LOCK_SH : LOCK_EX) | LOCK_NB;
  if (::flock(lock.fd_.get(), op) != 0) {
    if (errno == EWOULDBLOCK) return std::nullopt;
    throw_errno("lock " + path.string());
  }
  return lock;
}

std::uint64_t tree_size(const fs::path& path) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    // A file that vanishes meanwhile counts nothing (file_size reports -1 with an error).
    std::error_code size_ec;
    if (it->is_regular_file(size_ec) && !it->is_symlink(size_ec)) {
      auto n = it->file_size(size_ec);
      if (!size_ec) total += n;
    }
  }
  return total;
}

}  // namespace cppcker
