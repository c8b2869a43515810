#include "cppcker/runtime/container_fs.hpp"

#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "cppcker/runtime/protocol.hpp"
#include "cppcker/runtime/rootfs.hpp"
#include "cppcker/runtime/volume.hpp"
#include "cppcker/security/userns.hpp"
#include "cppcker/util/child.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/sha256.hpp"

namespace cppcker {

namespace {

constexpr std::uint32_t kOverflowId = 65534;

std::uint32_t to_container(std::uint32_t host, std::uint32_t start, std::uint32_t size) {
  return host >= start && host - start < size ? host - start : kOverflowId;
}

std::uint32_t to_host(std::uint32_t id, std::uint32_t start, std::uint32_t size) {
  if (id >= size) throw Error("id " + std::to_string(id) + " is outside the container's user namespace (" +
                              std::to_string(size) + " ids)");
  return start + id;
}

// The container's first process, if it still runs: its root and mount namespace, opened through
// /proc/<pid> and checked against the recorded start time afterwards, so a reused pid is never taken for
// it (what was opened belongs to the process that had that start time).
std::optional<std::pair<UniqueFd, UniqueFd>> open_running(const Container& c) {
  ContainerState state = ContainerStore::observed_state(c);
  if (state.status != "running" || !process_alive(c.state.pid, c.state.pid_start)) return std::nullopt;
  const std::string proc = "/proc/" + std::to_string(c.state.pid);
  UniqueFd ns(::open((proc + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
  UniqueFd root(::open((proc + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!ns || !root || !process_alive(c.state.pid, c.state.pid_start)) return std::nullopt;
  return std::make_pair(std::move(root), std::move(ns));
}

// Mounts the container's overlay (and, for the live view, its volumes and binds) in a private mount
// namespace of a child, which hands back the root and the namespace and exits: nothing is mounted on the
// host, and a kill at any point leaves nothing to undo.
std::pair<UniqueFd, UniqueFd> mount_private_view(const ImageStore& images, const ContainerStore& containers,
                                                 const Container& c, FsView view) {
  auto record = images.get_image(c.spec.image_id);
  if (!record) throw Error("No such image: " + c.spec.image);
  // Absolute: the child works from the layer store's directory (short overlay options).
  const fs::path dir = fs::absolute(containers.dir(c.id));
  const fs::path upper = dir / "upper", work = dir / "work", merged = dir / "merged";
  // A container whose start failed may have none of them yet.
  for (const auto& d : {work, merged}) make_dirs(d);
  if (::mkdir(upper.c_str(), 0755) == 0 && c.spec.userns &&
      ::chown(upper.c_str(), c.spec.userns->host_uid, c.spec.userns->host_gid) != 0)
    throw_errno("chown " + upper.string());
  std::vector<std::string> lowers;  // relative to layers/, topmost first
  for (auto it = record->layers.rbegin(); it != record->layers.rend(); ++it)
    lowers.push_back(digest_hex(it->chain_id) + "/diff");
  const std::string layers_dir = (images.root() / "layers").string();
  UniqueFd userns;
  if (c.spec.userns) userns = make_user_namespace(*c.spec.userns);
  VolumeStore volumes(fs::absolute(containers.root()));

  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) throw_errno("socketpair");
  UniqueFd ours(pair[0]), theirs(pair[1]);
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) {
    ours.reset();
    try {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      stage_check(::unshare(CLONE_NEWNS), "mount", "unshare the mount namespace");
      stage_check(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "mount", "make / private");
      stage_check(::chdir(layers_dir.c_str()), "mount", "chdir " + layers_dir);
      std::string lower_list;
      for (const auto& l : lowers) {
        lower_list += (lower_list.empty() ? "" : ":") + l;
        if (!userns) continue;
        // The image's files as the container's root owns them, as the container's own start mounts them.
        UniqueFd mapped = idmapped_mount(AT_FDCWD, l, userns.get(), false, true);
        stage_check(static_cast<int>(::syscall(SYS_move_mount, mapped.get(), "", AT_FDCWD, l.c_str(), MOVE_MOUNT_F_EMPTY_PATH)),
                    "mount", "attach idmapped layer " + l);
      }
      std::string opts = view == FsView::live
                             ? "lowerdir=" + lower_list + ",upperdir=" + upper.string() + ",workdir=" + work.string()
                             : "lowerdir=" + upper.string() + ":" + lower_list;  // read-only: needs no workdir
      stage_check(::mount("overlay", merged.c_str(), "overlay", view == FsView::live ? 0 : MS_RDONLY, opts.c_str()),
                  "mount", "mount the container's filesystem");
      if (view == FsView::live) {
        for (const auto& m : c.spec.mounts) {
          if (m.type != "volume" && m.type != "bind") continue;  // a tmpfs holds nothing while stopped
          fs::path source = m.type == "volume" ? volumes.data_path(m.source) : fs::absolute(m.source);
          struct stat st{};
          if (::stat(source.c_str(), &st) != 0) continue;  // made at the container's next start
          UniqueFd target = open_target_in_root(merged, m.target, S_ISDIR(st.st_mode));
          UniqueFd tree;
          if (userns && (m.type == "volume" || m.idmap)) {
            tree = idmapped_mount(AT_FDCWD, source.string(), userns.get(), true, m.readonly);
          } else {
            tree.reset(static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, source.c_str(),
                                                  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)));
            if (!tree) stage_failed("mount", "bind " + source.string());
            if (m.readonly) {
              mount_attr attr{};
              attr.attr_set = MOUNT_ATTR_RDONLY;
              stage_check(static_cast<int>(::syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE,
                                                     &attr, sizeof attr)),
                          "mount", "make " + m.target + " read-only");
            }
          }
          stage_check(static_cast<int>(::syscall(SYS_move_mount, tree.get(), "", target.get(), "",
                                                 MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)),
                      "mount", "mount " + source.string() + " on " + m.target);
        }
      }
      UniqueFd root(::open(merged.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      UniqueFd ns(::open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC));
      if (!root || !ns) stage_failed("mount", "open the container's filesystem");
      send_message(theirs.get(), "ready", std::vector<int>{root.get(), ns.get()});
      ::_exit(0);
    } catch (const StageError& e) {
      try {
        send_message(theirs.get(), encode(e.reply()));
      } catch (...) {
      }
    } catch (const std::exception& e) {
      try {
        send_message(theirs.get(), encode(StageReply{StageReply::Kind::error, "mount", 0, e.what(), 1}));
      } catch (...) {
      }
    }
    ::_exit(1);
  }
  OwnedChild child(pid);
  theirs.reset();
  std::vector<UniqueFd> fds;
  auto message = receive_message(ours.get(), &fds);
  child.wait();
  if (message && *message == "ready" && fds.size() == 2) return {std::move(fds[0]), std::move(fds[1])};
  if (!message) throw Error("mounting the container's filesystem failed: its helper exited");
  throw Error(decode_stage_reply(*message).message);
}

// The image's layers mounted as a detached, read-only tree by a child in a private mount namespace (the
// overlay's lower directories are short paths relative to the child's working directory).
std::pair<UniqueFd, UniqueFd> mount_image_view(const ImageStore& images, const std::string& image_id) {
  auto record = images.get_image(image_id);
  if (!record) throw Error("No such image: " + image_id);
  std::vector<std::string> lowers;  // relative to layers/, topmost first
  for (auto it = record->layers.rbegin(); it != record->layers.rend(); ++it)
    lowers.push_back(digest_hex(it->chain_id) + "/diff");
  const std::string layers_dir = fs::absolute(images.root() / "layers").string();

  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) throw_errno("socketpair");
  UniqueFd ours(pair[0]), theirs(pair[1]);
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) {
    ours.reset();
    try {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      stage_check(::unshare(CLONE_NEWNS), "mount", "unshare the mount namespace");
      stage_check(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "mount", "make / private");
      UniqueFd tree;
      if (lowers.size() == 1) {
        stage_check(::chdir(layers_dir.c_str()), "mount", "chdir " + layers_dir);
        tree.reset(static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, lowers.front().c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)));
        if (!tree) stage_failed("mount", "bind " + lowers.front());
        mount_attr attr{};
        attr.attr_set = MOUNT_ATTR_RDONLY;
        stage_check(static_cast<int>(::syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr)),
                    "mount", "make the image's layer read-only");
      } else {
        if (!lowers.empty()) stage_check(::chdir(layers_dir.c_str()), "mount", "chdir " + layers_dir);
        const char* type = lowers.empty() ? "tmpfs" : "overlay";  // scratch: an empty directory
        UniqueFd context(static_cast<int>(::syscall(SYS_fsopen, type, FSOPEN_CLOEXEC)));
        if (!context) stage_failed("mount", std::string("open a ") + type + " filesystem");
        // One "lowerdir+" per layer, topmost first (Linux 6.8): fsconfig takes at most 256 bytes per value,
        // a few layers' worth; older kernels get the whole list at once, enough for small images.
        bool appended = true;
        for (const auto& l : lowers) {
          if (::syscall(SYS_fsconfig, context.get(), FSCONFIG_SET_STRING, "lowerdir+", l.c_str(), 0) == 0) continue;
          appended = false;
          break;
        }
        if (!appended) {
          std::string lower_list;
          for (const auto& l : lowers) lower_list += (lower_list.empty() ? "" : ":") + l;
          stage_check(static_cast<int>(::syscall(SYS_fsconfig, context.get(), FSCONFIG_SET_STRING, "lowerdir", lower_list.c_str(), 0)),
                      "mount", "set the image's layers");
        }
        stage_check(static_cast<int>(::syscall(SYS_fsconfig, context.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0)), "mount",
                    "mount the image's filesystem");
        tree.reset(static_cast<int>(::syscall(SYS_fsmount, context.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY)));
        if (!tree) stage_failed("mount", "mount the image's filesystem");
      }
      UniqueFd root(::openat(tree.get(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
      UniqueFd ns(::open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC));
      if (!root || !ns) stage_failed("mount", "open the image's filesystem");
      send_message(theirs.get(), "ready", std::vector<int>{root.get(), ns.get()});
      ::_exit(0);
    } catch (const StageError& e) {
      try {
        send_message(theirs.get(), encode(e.reply()));
      } catch (...) {
      }
    } catch (const std::exception& e) {
      try {
        send_message(theirs.get(), encode(StageReply{StageReply::Kind::error, "mount", 0, e.what(), 1}));
      } catch (...) {
      }
    }
    ::_exit(1);
  }
  OwnedChild child(pid);
  theirs.reset();
  std::vector<UniqueFd> fds;
  auto message = receive_message(ours.get(), &fds);
  child.wait();
  if (message && *message == "ready" && fds.size() == 2) return {std::move(fds[0]), std::move(fds[1])};
  if (!message) throw Error("mounting the image's filesystem failed: its helper exited");
  throw Error(decode_stage_reply(*message).message);
}

}  // namespace

ImageFs open_image_fs(const ImageStore& images, const std::string& image_id) {
  ImageFs out;
  auto [root, ns] = mount_image_view(images, image_id);
  out.root_ = std::move(root);
  out.mount_ns_ = std::move(ns);
  return out;
}

std::uint32_t IdMap::uid_to_container(std::uint32_t host) const {
  return range ? to_container(host, range->host_uid, range->size) : host;
}
std::uint32_t IdMap::gid_to_container(std::uint32_t host) const {
  return range ? to_container(host, range->host_gid, range->size) : host;
}
std::uint32_t IdMap::uid_to_host(std::uint32_t id) const { return range ? to_host(id, range->host_uid, range->size) : id; }
std::uint32_t IdMap::gid_to_host(std::uint32_t id) const { return range ? to_host(id, range->host_gid, range->size) : id; }

int open_in_root(int root, const std::string& path, int flags, mode_t mode) {
  struct open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  const std::string rel = path.empty() ? "." : path;
  for (;;) {
    long fd = ::syscall(SYS_openat2, root, rel.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) return static_cast<int>(fd);
    // EAGAIN: a rename raced the lookup; RESOLVE_IN_ROOT refuses to guess, so look again.
  }
}

ContainerFs open_container_fs(const ImageStore& images, const ContainerStore& containers, const Container& c,
                              FsView view) {
  ContainerFs out;
  out.ids_.range = c.spec.userns;
  // A container between states (starting, being removed, another cp holding it) is waited for briefly.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    auto current = containers.load(c.id);
    if (!current) throw Error("No such container: " + c.id);
    if (auto running = open_running(*current)) {
      if (view == FsView::live) {
        out.root_ = std::move(running->first);
        out.mount_ns_ = std::move(running->second);
        return out;
      }
      // Export reads the layers alone, without the running container's volumes, /proc or /dev.
      auto [root, ns] = mount_private_view(images, containers, *current, view);
      out.root_ = std::move(root);
      out.mount_ns_ = std::move(ns);
      return out;
    }
    if (auto owner = containers.try_owner_lock(c.id)) {
      // Nobody runs it now, and nobody can start it until this view is closed.
      if (!containers.load(c.id)) throw Error("No such container: " + c.id);
      auto [root, ns] = mount_private_view(images, containers, *current, view);
      out.root_ = std::move(root);
      out.mount_ns_ = std::move(ns);
      out.owner_ = std::move(owner);
      return out;
    }
    if (std::chrono::steady_clock::now() > deadline)
      throw Error("container " + c.name + " is in use: it is being started or removed");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace cppcker
