#include "cppcker/runtime/rootfs.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <deque>
#include <sstream>

#include "cppcker/cgroup/cgroup.hpp"
#include "cppcker/security/userns.hpp"
#include "cppcker/util/humanize.hpp"
#include "cppcker/util/timing.hpp"

namespace cppcker {

// ---------------------------------------------------------------- options

namespace {

struct FlagOption {
  const char* name;
  bool clears;
  unsigned long flag;
};
constexpr FlagOption kFlagOptions[] = {
    {"async", true, MS_SYNCHRONOUS},   {"atime", true, MS_NOATIME},         {"bind", false, MS_BIND},
    {"defaults", false, 0},            {"dev", true, MS_NODEV},             {"diratime", true, MS_NODIRATIME},
    {"dirsync", false, MS_DIRSYNC},    {"exec", true, MS_NOEXEC},           {"iversion", false, MS_I_VERSION},
    {"lazytime", false, MS_LAZYTIME},  {"loud", true, MS_SILENT},           {"mand", false, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},    {"nodev", false, MS_NODEV},          {"nodiratime", false, MS_NODIRATIME},
    {"noexec", false, MS_NOEXEC},      {"noiversion", true, MS_I_VERSION},  {"nolazytime", true, MS_LAZYTIME},
    {"nomand", true, MS_MANDLOCK},     {"norelatime", true, MS_RELATIME},   {"nostrictatime", true, MS_STRICTATIME},
    {"nosuid", false, MS_NOSUID},      {"rbind", false, MS_BIND | MS_REC},  {"relatime", false, MS_RELATIME},
    {"remount", false, MS_REMOUNT},    {"ro", false, MS_RDONLY},            {"rw", true, MS_RDONLY},
    {"silent", false, MS_SILENT},      {"strictatime", false, MS_STRICTATIME}, {"suid", true, MS_NOSUID},
    {"sync", false, MS_SYNCHRONOUS}};

struct PropagationOption {
  const char* name;
  unsigned long flags;
};
constexpr PropagationOption kPropagation[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC}, {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC}, {"slave", MS_SLAVE},             {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC}};

constexpr const char* kIdmapOptions[] = {"idmap", "ridmap"};

}  // namespace

MountOptions parse_mount_options(const std::vector<std::string>& options) {
  MountOptions o;
  for (const auto& option : options) {
    bool known = false;
    for (const auto& f : kFlagOptions) {
      if (option != f.name) continue;
      known = true;
      if (f.clears) {
        o.flags &= ~f.flag;
        o.clear |= f.flag;
      } else {
        o.flags |= f.flag;
        o.clear &= ~f.flag;
      }
    }
    for (const auto& p : kPropagation)
      if (option == p.name) {
        known = true;
        o.propagation = p.flags;
      }
    for (const char* name : kIdmapOptions)
      if (option == name) {
        known = true;
        o.idmap = true;
      }
    if (!known && !option.empty()) o.data += (o.data.empty() ? "" : ",") + option;
  }
  o.bind = o.flags & MS_BIND;
  o.recursive = o.bind && (o.flags & MS_REC);
  return o;
}

std::vector<std::string> known_mount_options() {
  std::vector<std::string> names;
  for (const auto& f : kFlagOptions) names.emplace_back(f.name);
  for (const auto& p : kPropagation) names.emplace_back(p.name);
  for (const char* name : kIdmapOptions) names.emplace_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

std::uint32_t map_to_host(const std::vector<oci::IdMapping>& mappings, std::uint32_t id) {
  if (mappings.empty()) return id;
  for (const auto& m : mappings)
    if (id >= m.container_id && id - m.container_id < m.size) return m.host_id + (id - m.container_id);
  throw StageError("mount", "id " + std::to_string(id) + " is outside the container's id mappings");
}

std::string map_mount_data(const std::string& type, const std::string& data, const std::vector<oci::IdMapping>& uids,
                           const std::vector<oci::IdMapping>& gids) {
  if (uids.empty() && gids.empty()) return data;
  std::string out;
  bool has_uid = false, has_gid = false;
  for (const auto& option : split(data, ',')) {
    if (option.empty()) continue;
    std::string o = option;
    if (o.rfind("uid=", 0) == 0) {
      o = "uid=" + std::to_string(map_to_host(uids, static_cast<std::uint32_t>(std::stoul(o.substr(4)))));
      has_uid = true;
    } else if (o.rfind("gid=", 0) == 0) {
      o = "gid=" + std::to_string(map_to_host(gids, static_cast<std::uint32_t>(std::stoul(o.substr(4)))));
      has_gid = true;
    }
    out += (out.empty() ? "" : ",") + o;
  }
  if (type == "tmpfs") {
    // Made by host root, it would belong to host root; the container's root should own it.
    if (!has_uid) out += (out.empty() ? "" : ",") + ("uid=" + std::to_string(map_to_host(uids, 0)));
    if (!has_gid) out += (out.empty() ? "" : ",") + ("gid=" + std::to_string(map_to_host(gids, 0)));
  }
  return out;
}

// ---------------------------------------------------------------- paths inside the rootfs

namespace {

[[noreturn]] void mount_failed(const std::string& what) { stage_failed("mount", what); }

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

}  // namespace

UniqueFd open_target_in_root(const fs::path& root, const std::string& target, bool directory) {
  UniqueFd rootfd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd) mount_failed("open rootfs " + root.string());
  std::deque<std::string> todo;
  for (const auto& part : fs::path(target).relative_path()) todo.push_back(part.string());
  std::vector<std::string> resolved;  // symlink-free components from the rootfs down
  auto joined = [&](const std::string& extra) {
    std::string p = ".";
    for (const auto& r : resolved) p += "/" + r;
    return extra.empty() ? p : p + "/" + extra;
  };
  int links = 0;
  while (!todo.empty()) {
    std::string c = todo.front();
    todo.pop_front();
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (!resolved.empty()) resolved.pop_back();
      continue;
    }
    std::string path = joined(c);  // every component before it is a real directory: no link is followed here
    struct stat st{};
    if (::fstatat(rootfd.get(), path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) mount_failed("mount target " + target);
      if (todo.empty() && !directory) {
        int fd = ::openat(rootfd.get(), path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) mount_failed("create mount target " + target);
        ::close(fd);
      } else if (::mkdirat(rootfd.get(), path.c_str(), 0755) != 0) {
        mount_failed("create mount target " + target);
      }
      resolved.push_back(c);
      continue;
    }
    if (S_ISLNK(st.st_mode)) {
      if (++links > 40) throw StageError("mount", "mount target " + target + ": too many levels of symbolic links", ELOOP);
      // /proc's links (/proc/self/fd/N, /proc/<pid>/cwd) read as paths but lead to whatever a process holds.
      struct statfs where{};
      if (::fstatfs(rootfd.get(), &where) == 0 && where.f_type == PROC_SUPER_MAGIC)
        throw StageError("mount", "mount target " + target + ": refusing to follow a link in /proc", ELOOP);
      if (UniqueFd parent{::openat(rootfd.get(), joined("").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)};
          parent && ::fstatfs(parent.get(), &where) == 0 && where.f_type == PROC_SUPER_MAGIC)
        throw StageError("mount", "mount target " + target + ": refusing to follow a link in /proc", ELOOP);
      char buf[4096];
      ssize_t n = ::readlinkat(rootfd.get(), path.c_str(), buf, sizeof buf - 1);
      if (n < 0) mount_failed("mount target " + target);
      std::string link(buf, static_cast<std::size_t>(n));
      if (!link.empty() && link.front() == '/') resolved.clear();
      std::vector<std::string> parts;
      for (const auto& part : fs::path(link).relative_path()) parts.push_back(part.string());
      todo.insert(todo.begin(), parts.begin(), parts.end());
      continue;
    }
    if (!todo.empty() && !S_ISDIR(st.st_mode))
      throw StageError("mount", "mount target " + target + ": not a directory", ENOTDIR);
    resolved.push_back(c);
  }
  struct open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS;
  std::string final_path = joined("");
  UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, rootfd.get(), final_path.c_str(), &how, sizeof how)));
  if (!fd) mount_failed("mount target " + target);
  return fd;
}

// ---------------------------------------------------------------- the filesystem

namespace {

struct Builder {
  const StartRequest& request;
  const oci::Spec& spec;
  int userns_fd;
  fs::path root;
  const std::vector<CgroupHierarchy>& cgroups;

  const std::vector<oci::IdMapping>& uids() const { return spec.linux.uid_mappings; }
  const std::vector<oci::IdMapping>& gids() const { return spec.linux.gid_mappings; }
  bool userns() const { return userns_fd >= 0; }

  void overlay() {
    const OverlayRootfs& o = *request.overlay;
    // The lowers are relative to the layer store: a deep image still fits the kernel's one page of options.
    stage_check(::chdir(o.layers_dir.c_str()), "mount", "chdir " + o.layers_dir);
    std::string lowers;
    for (const auto& l : o.lowers) {
      lowers += (lowers.empty() ? "" : ":") + l;
      if (!userns()) continue;
      // The layer seen through the container's id mapping, over itself in this mount namespace only: the
      // image is neither copied nor chowned, and the host's view of it does not change.
      UniqueFd mapped;
      try {
        mapped = idmapped_mount(AT_FDCWD, l, userns_fd, /*recursive=*/false, /*readonly=*/true);
      } catch (const SystemError& e) {
        throw StageError("mount", "idmapped mount of image layer " + l + " (needs Linux 5.19 or newer): " + e.what(),
                         e.sys_errno());
      }
      if (::syscall(SYS_move_mount, mapped.get(), "", AT_FDCWD, l.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
        mount_failed("attach idmapped layer " + l);
    }
    std::string opts = "lowerdir=" + lowers + ",upperdir=" + o.upper + ",workdir=" + o.work;
    if (opts.size() >= 4096) throw StageError("mount", "image has too many layers for one overlay mount", E2BIG);
    if (::mount("overlay", root.c_str(), "overlay", 0, opts.c_str()) != 0) {
      if (userns() && errno == EINVAL)
        throw StageError("mount", "mount overlay rootfs on idmapped layers: " + std::string(std::strerror(errno)) +
                                      " (overlayfs on idmapped lower layers needs Linux 5.19 or newer)",
                         EINVAL);
      mount_failed("mount overlay rootfs");
    }
  }

  // A bind mount, made aside as a detached tree (open_tree), given its attributes there (read-only,
  // nosuid, ... for every submount too; the container's id mapping when the options ask for it), then
  // attached on the target's descriptor: nothing is looked up again between the mount and its flags, and
  // no submount of a read-only volume stays writable.
  void bind(const oci::Mount& m, const MountOptions& o) {
    struct stat st{};
    if (::stat(m.source.c_str(), &st) != 0) mount_failed("bind mount source " + m.source);
    UniqueFd target = open_target_in_root(root, m.destination, S_ISDIR(st.st_mode));
    const unsigned recursive = o.recursive ? AT_RECURSIVE : 0;
    UniqueFd tree(static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, m.source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | recursive)));
    if (!tree) mount_failed("bind " + m.source);
    mount_attr attr{};
    auto flag = [&](unsigned long ms, std::uint64_t attribute) {
      if (o.flags & ms) attr.attr_set |= attribute;
      if (o.clear & ms) attr.attr_clr |= attribute;
    };
    flag(MS_RDONLY, MOUNT_ATTR_RDONLY);
    flag(MS_NOSUID, MOUNT_ATTR_NOSUID);
    flag(MS_NODEV, MOUNT_ATTR_NODEV);
    flag(MS_NOEXEC, MOUNT_ATTR_NOEXEC);
    flag(MS_NODIRATIME, MOUNT_ATTR_NODIRATIME);
    if (o.idmap && userns()) {
      mount_attr mapped = attr;
      mapped.attr_set |= MOUNT_ATTR_IDMAP;
      mapped.userns_fd = static_cast<std::uint64_t>(userns_fd);
      if (::syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH | recursive, &mapped, sizeof mapped) == 0) {
        attr = {};  // all applied
      } else if (errno != EINVAL) {
        mount_failed("idmapped bind of " + m.source);
      }
      // EINVAL: a filesystem that cannot be idmapped is bound as it is; its files keep their host owners,
      // which the container sees as the overflow id.
    }
    if ((attr.attr_set || attr.attr_clr) &&
        ::syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH | recursive, &attr, sizeof attr) != 0)
      mount_failed("set the options of " + m.destination);
    if (::syscall(SYS_move_mount, tree.get(), "", target.get(), "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
      mount_failed("bind " + m.source + " on " + m.destination);
    propagate(m, o);
  }

  void propagate(const oci::Mount& m, const MountOptions& o) {
    // Every mount here is private already ("/" was made rprivate first, and new mounts of private ones
    // are private): asking again would only cost a lookup and a mount call.
    if (!o.propagation || (o.propagation & ~static_cast<unsigned long>(MS_REC)) == MS_PRIVATE) return;
    UniqueFd top = open_target_in_root(root, m.destination, true);
    if (::mount(nullptr, fd_path(top.get()).c_str(), nullptr, o.propagation, nullptr) != 0)
      mount_failed("set the propagation of " + m.destination);
  }

  // /sys/fs/cgroup: the container's own cgroup (the cgroup namespace is rooted there) in every hierarchy.
  void cgroupfs(const oci::Mount& m, const MountOptions& o) {
    UniqueFd target = open_target_in_root(root, m.destination, true);
    const unsigned long flags = o.flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
    // Without a cgroup namespace a new mount would show the host's whole tree: the container's own
    // directories are bound there instead (runc's way), read from the host's /sys/fs/cgroup before pivot_root.
    const bool own_namespace = spec.linux.find_namespace("cgroup") != nullptr;
    const std::string proc_cgroup = own_namespace ? "" : read_file("/proc/self/cgroup");
    auto bind_own = [&](const CgroupHierarchy& h, const std::string& where) {
      const fs::path source = h.dir / fs::path(cgroup_path_in(proc_cgroup, h.key)).relative_path();
      if (::mount(source.c_str(), where.c_str(), nullptr, MS_BIND, nullptr) != 0) mount_failed("bind " + source.string());
      if (::mount(nullptr, where.c_str(), nullptr, MS_REMOUNT | MS_BIND | (flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)),
                  nullptr) != 0)
        mount_failed("set the options of " + source.string());
    };
    if (detect_cgroup_mode() == CgroupMode::v2) {
      if (!own_namespace && !cgroups.empty()) return bind_own(cgroups.front(), fd_path(target.get()));
      if (::mount("cgroup2", fd_path(target.get()).c_str(), "cgroup2", flags, nullptr) != 0) mount_failed("mount cgroup2");
      return;
    }
    // v1: a tmpfs holding one mount per hierarchy the container is in, named as the host names them.
    if (::mount("tmpfs", fd_path(target.get()).c_str(), "tmpfs", flags & ~MS_RDONLY,
                map_mount_data("tmpfs", "mode=755", uids(), gids()).c_str()) != 0)
      mount_failed("mount tmpfs on " + m.destination);
    UniqueFd dir = open_target_in_root(root, m.destination, true);
    for (const auto& h : cgroups) {
      const std::string name = h.dir.filename().string();
      const bool unified = h.key.empty();
      // A named hierarchy without controllers is mounted as "none,name=..."; the others by their controllers.
      const std::string data = h.key.rfind("name=", 0) == 0 ? "none," + h.key : h.key;
      if (::mkdirat(dir.get(), name.c_str(), 0755) != 0 && errno != EEXIST) mount_failed("mkdir /sys/fs/cgroup/" + name);
      std::string where = fd_path(dir.get()) + "/" + name;
      if (!own_namespace) {
        bind_own(h, where);
        continue;
      }
      if (::mount(unified ? "cgroup2" : "cgroup", where.c_str(), unified ? "cgroup2" : "cgroup", flags,
                  unified ? nullptr : data.c_str()) != 0)
        mount_failed("mount cgroup hierarchy " + name);
    }
    // The host's aliases of co-mounted hierarchies (cpu -> cpu,cpuacct).
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/sys/fs/cgroup", ec)) {
      if (!e.is_symlink(ec)) continue;
      std::string link = fs::read_symlink(e.path(), ec).string();
      if (!ec && ::symlinkat(link.c_str(), dir.get(), e.path().filename().c_str()) != 0 && errno != EEXIST)
        mount_failed("symlink /sys/fs/cgroup/" + e.path().filename().string());
    }
    if (flags & MS_RDONLY) {
      if (::mount(nullptr, fd_path(dir.get()).c_str(), nullptr, MS_REMOUNT | flags, nullptr) != 0)
        mount_failed("make /sys/fs/cgroup read-only");
    }
  }

  void filesystem(const oci::Mount& m) {
    MountOptions o = parse_mount_options(m.options);
    if (m.type == "cgroup") return cgroupfs(m, o);
    if (o.bind || m.type == "bind") return bind(m, o);
    UniqueFd target = open_target_in_root(root, m.destination, true);
    std::string data = userns() ? map_mount_data(m.type, o.data, uids(), gids()) : o.data;
    if (::mount(m.source.c_str(), fd_path(target.get()).c_str(), m.type.c_str(), o.flags, data.c_str()) != 0)
      mount_failed("mount " + m.type + " on " + m.destination);
    propagate(m, o);
  }

  void device(const oci::Device& d) {
    fs::path path(d.path);
    UniqueFd parent = open_target_in_root(root, path.parent_path().string(), true);
    // The descriptor is O_PATH; *at() calls take it as their directory.
    const std::string name = path.filename().string();
    struct stat st{};
    if (::fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
      ::unlinkat(parent.get(), name.c_str(), 0);
    mode_t type = d.type == "b" ? S_IFBLK : d.type == "p" ? S_IFIFO : S_IFCHR;
    mode_t mode = d.file_mode.value_or(0666) & 07777;
    dev_t dev = makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor));
    // Exactly `mode` (no umask), and the owner set on the node itself (an O_PATH descriptor of it, taken
    // without following links), never through a path a writer elsewhere could swap meanwhile.
    const mode_t saved = ::umask(0);
    int rc = ::mknodat(parent.get(), name.c_str(), type | mode, dev);
    ::umask(saved);
    if (rc != 0) stage_failed("devices", "mknod " + d.path);
    uid_t uid = map_to_host(uids(), d.uid.value_or(0));
    gid_t gid = map_to_host(gids(), d.gid.value_or(0));
    if (uid != 0 || gid != 0) {
      UniqueFd node(::openat(parent.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!node || ::fstat(node.get(), &st) != 0 || (st.st_mode & S_IFMT) != type)
        stage_failed("devices", "open " + d.path);
      if (::fchownat(node.get(), "", uid, gid, AT_EMPTY_PATH) != 0) stage_failed("devices", "chown " + d.path);
    }
  }

  void devices() {
    struct Default {
      const char* path;
      int major, minor;
    };
    for (const Default& d : {Default{"/dev/null", 1, 3}, Default{"/dev/zero", 1, 5}, Default{"/dev/full", 1, 7},
                             Default{"/dev/random", 1, 8}, Default{"/dev/urandom", 1, 9}, Default{"/dev/tty", 5, 0}})
      device({"c", d.path, d.major, d.minor, 0666, 0, 0});
    for (const auto& d : spec.linux.devices) device(d);
    UniqueFd dev = open_target_in_root(root, "/dev", true);
    const std::pair<const char*, const char*> links[] = {{"pts/ptmx", "ptmx"},       {"/proc/self/fd", "fd"},
                                                         {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
                                                         {"/proc/self/fd/2", "stderr"}};
    for (const auto& [to, name] : links)
      if (::symlinkat(to, dev.get(), name) != 0 && errno != EEXIST) stage_failed("devices", std::string("symlink /dev/") + name);
  }

  void pivot() {
    stage_check(::chdir(root.c_str()), "pivot_root", "chdir rootfs");
    if (request.no_pivot) {
      // runc's --no-pivot (a rootfs on a ramfs, where pivot_root fails): the rootfs moved over / and
      // chroot'ed into; the host's root stays underneath in this mount namespace.
      stage_check(::mount(".", "/", nullptr, MS_MOVE, nullptr), "pivot_root", "move the rootfs onto /");
      stage_check(::chroot("."), "pivot_root", "chroot");
      stage_check(::chdir("/"), "pivot_root", "chdir /");
      return;
    }
    // pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the container's.
    stage_check(static_cast<int>(::syscall(SYS_pivot_root, ".", ".")), "pivot_root", "pivot_root");
    stage_check(::umount2(".", MNT_DETACH), "pivot_root", "detach the old root");
    stage_check(::chdir("/"), "pivot_root", "chdir /");
  }

  // After pivot_root: the paths below are the container's.
  void sysctls() {
    for (const auto& [key, value] : spec.linux.sysctl) {
      std::string path = "/proc/sys/" + key;
      for (std::size_t i = 10; i < path.size(); ++i)
        if (path[i] == '.') path[i] = '/';
      UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
      if (!fd || ::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
        stage_failed("sysctl", "set sysctl " + key + "=" + value);
    }
  }

  void readonly_paths() {
    for (const auto& p : spec.linux.readonly_paths) {
      if (::mount(p.c_str(), p.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
        if (errno == ENOENT) continue;
        stage_failed("mount", "bind " + p + " read-only");
      }
      if (::mount(p.c_str(), p.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_REC,
                  nullptr) != 0)
        stage_failed("mount", "make " + p + " read-only");
    }
  }

  void masked_paths() {
    for (const auto& p : spec.linux.masked_paths) {
      struct stat st{};
      if (::stat(p.c_str(), &st) != 0) {
        if (errno == ENOENT) continue;
        stage_failed("mount", "mask " + p);
      }
      int rc = S_ISDIR(st.st_mode) ? ::mount("tmpfs", p.c_str(), "tmpfs", MS_RDONLY, nullptr)
                                   : ::mount("/dev/null", p.c_str(), nullptr, MS_BIND, nullptr);
      if (rc != 0) stage_failed("mount", "mask " + p);
    }
  }
};

}  // namespace

void build_container_filesystem(const StartRequest& request, int userns_fd, const std::vector<CgroupHierarchy>& cgroups,
                                const std::function<void()>& before_pivot) {
  const oci::Spec& spec = request.spec;
  Builder b{request, spec, userns_fd, fs::path(spec.root.path), cgroups};
  // Nothing mounted from here on propagates back to the host.
  stage_check(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "mount", "make / private");
  if (request.overlay) {
    b.overlay();
  } else {
    // A bundle's rootfs directory: a mount point of its own, as pivot_root needs one.
    stage_check(::mount(spec.root.path.c_str(), spec.root.path.c_str(), nullptr, MS_BIND | MS_REC, nullptr), "mount",
                "bind the rootfs " + spec.root.path);
  }
  for (const auto& m : spec.mounts) b.filesystem(m);
  b.devices();
  if (before_pivot) before_pivot();
  timing_mark("mounts");
  b.pivot();
  timing_mark("pivot_root");
  if (!spec.linux.rootfs_propagation.empty()) {
    MountOptions o = parse_mount_options({spec.linux.rootfs_propagation});
    stage_check(::mount(nullptr, "/", nullptr, o.propagation, nullptr), "mount", "set the rootfs propagation");
  }
  b.sysctls();
  b.readonly_paths();
  b.masked_paths();
  if (spec.root.readonly)
    stage_check(::mount(nullptr, "/", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr), "mount", "make the rootfs read-only");
}

}  // namespace cppcker
