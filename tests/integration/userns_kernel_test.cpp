// What the runtime relies on for --userns, checked against the real kernel: a user namespace made by
// make_user_namespace, idmapped bind mounts of a directory, and overlayfs over idmapped lower layers (attached,
// and detached ones named as /proc/self/fd/N). Everything runs in a forked child inside a private mount
// namespace, so every mount vanishes with it; the child reports "key value" lines and the parent asserts.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <vector>

#include "cppcker/security/userns.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"
#include "test_support.hpp"

namespace {

namespace ts = testsupport;
namespace fs = std::filesystem;
using cppcker::IdRange;
using cppcker::UniqueFd;

// One "key value" line per write, so lines from the child and its own children never interleave.
struct Report {
  int fd;
  void put(const std::string& key, const std::string& value) const {
    std::string line = key + " " + value + "\n";
    if (::write(fd, line.data(), line.size()) < 0) ::_exit(3);
  }
};

std::string errno_name(int err) {
  const char* name = ::strerrorname_np(err);
  return name ? name : std::to_string(err);
}

std::string owner(const fs::path& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) return errno_name(errno);
  return std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
}

std::string fs_type(const fs::path& path) {
  struct statfs st{};
  if (::statfs(path.c_str(), &st) != 0) return errno_name(errno);
  if (st.f_type == TMPFS_MAGIC) return "tmpfs";
  if (st.f_type == OVERLAYFS_SUPER_MAGIC) return "overlay";
  if (st.f_type == EXT4_SUPER_MAGIC) return "ext4";
  return std::to_string(st.f_type);
}

// Creates `path` in a child process whose filesystem ids are `id` (a container's root as the host sees it),
// without supplementary groups. Returns "ok" or the errno's name.
std::string create_as(uid_t id, const fs::path& path) {
  pid_t pid = ::fork();
  if (pid < 0) return errno_name(errno);
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::setgroups(0, nullptr) != 0) ::_exit(200);
    ::setfsgid(id);
    ::setfsuid(id);
    if (static_cast<uid_t>(::setfsuid(-1)) != id) ::_exit(201);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    ::_exit(fd < 0 ? errno : 0);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status)) return "killed";
  return WEXITSTATUS(status) == 0 ? "ok" : errno_name(WEXITSTATUS(status));
}

std::string mount_overlay(const std::string& lowerdir, const fs::path& upper, const fs::path& work,
                          const fs::path& merged) {
  std::string options = "lowerdir=" + lowerdir + ",upperdir=" + upper.string() + ",workdir=" + work.string();
  if (::mount("overlay", merged.c_str(), "overlay", 0, options.c_str()) != 0) return errno_name(errno);
  return "ok";
}

void attach(int tree, const fs::path& target) {
  if (::move_mount(tree, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    cppcker::throw_errno("move_mount to " + target.string());
}

std::string single_spaced(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  for (std::string word; in >> word;) out += (out.empty() ? "" : " ") + word;
  return out;
}

// The test's directory tree, made by the parent (so it is removed whatever the child did).
struct Tree {
  ts::TempDir tmp;
  fs::path p(const std::string& rel) const { return tmp.path / rel; }
  Tree() {
    fs::permissions(tmp.path, fs::perms(0755));  // mkdtemp's 0700 would stop the container's root at the door
    for (const char* d : {"src", "src/home", "src/sub", "top", "bind", "ro", "rec", "nonrec", "upper1", "work1",
                          "merged1", "upper2", "work2", "merged2"})
      fs::create_directories(p(d));
    std::ofstream(p("src/root_file")) << "root";
    std::ofstream(p("src/user_file")) << "user";
    std::ofstream(p("top/top_file")) << "top";
    if (::chown(p("src/user_file").c_str(), 1000, 1000) != 0 || ::chown(p("top/top_file").c_str(), 1000, 1000) != 0)
      throw std::runtime_error("chown");
  }
};

void kernel_checks(const Tree& t, const Report& r) {
  if (::unshare(CLONE_NEWNS) != 0) cppcker::throw_errno("unshare(CLONE_NEWNS)");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) cppcker::throw_errno("make / rprivate");

  const IdRange range{100000, 100000, 65536};
  UniqueFd ns = cppcker::make_user_namespace(range);
  r.put("nstype", ::ioctl(ns.get(), NS_GET_NSTYPE) == CLONE_NEWUSER ? "user" : errno_name(errno));
  r.put("holder_left", ::waitpid(-1, nullptr, WNOHANG) < 0 && errno == ECHILD ? "none" : "a child");

  // The maps as the namespace itself reads them.
  pid_t reader = ::fork();
  if (reader == 0) {
    if (::setns(ns.get(), CLONE_NEWUSER) != 0) {
      r.put("setns", errno_name(errno));
      ::_exit(1);
    }
    r.put("uid_map", single_spaced(cppcker::read_file("/proc/self/uid_map")));
    r.put("gid_map", single_spaced(cppcker::read_file("/proc/self/gid_map")));
    r.put("setgroups", single_spaced(cppcker::read_file("/proc/self/setgroups")));
    ::_exit(0);
  }
  ::waitpid(reader, nullptr, 0);

  // An idmapped bind: owners 0 and 1000 show as 100000 and 101000; a file made through it by the
  // container's root is owned by 0 underneath.
  {
    UniqueFd tree = cppcker::idmapped_mount(AT_FDCWD, t.p("src"), ns.get(), false, false);
    attach(tree.get(), t.p("bind"));
    r.put("bind.root_file", owner(t.p("bind/root_file")));
    r.put("bind.user_file", owner(t.p("bind/user_file")));
    r.put("bind.create", create_as(100000, t.p("bind/home/by_bind")));
    r.put("bind.created_below", owner(t.p("src/home/by_bind")));
    r.put("bind.create_unmapped", create_as(99999, t.p("bind/home/by_unmapped")));
  }
  {
    UniqueFd tree = cppcker::idmapped_mount(AT_FDCWD, t.p("src"), ns.get(), false, true);
    attach(tree.get(), t.p("ro"));
    r.put("ro.root_file", owner(t.p("ro/root_file")));
    r.put("ro.create", create_as(100000, t.p("ro/home/by_ro")));
  }

  // Overlay over the attached idmapped lower (the bind above).
  r.put("ovl1.mount", mount_overlay(t.p("bind"), t.p("upper1"), t.p("work1"), t.p("merged1")));
  r.put("ovl1.root_file", owner(t.p("merged1/root_file")));
  r.put("ovl1.user_file", owner(t.p("merged1/user_file")));
  r.put("ovl1.create", create_as(100000, t.p("merged1/home/created")));
  r.put("ovl1.merged_created", owner(t.p("merged1/home/created")));
  r.put("ovl1.upper_created", owner(t.p("upper1/home/created")));
  r.put("ovl1.upper_home", owner(t.p("upper1/home")));

  // Overlay over detached, read-only idmapped lowers named /proc/self/fd/N (two layers, as an image has),
  // the descriptors closed right after the mount: the overlay keeps the mounts alive.
  {
    UniqueFd lower = cppcker::idmapped_mount(AT_FDCWD, t.p("src"), ns.get(), false, true);
    UniqueFd layer2 = cppcker::idmapped_mount(AT_FDCWD, t.p("top"), ns.get(), false, true);
    std::string lowerdir =
        "/proc/self/fd/" + std::to_string(layer2.get()) + ":/proc/self/fd/" + std::to_string(lower.get());
    r.put("ovl2.mount", mount_overlay(lowerdir, t.p("upper2"), t.p("work2"), t.p("merged2")));
  }
  r.put("ovl2.fstype", fs_type(t.p("merged2")));
  r.put("ovl2.root_file", owner(t.p("merged2/root_file")));
  r.put("ovl2.user_file", owner(t.p("merged2/user_file")));
  r.put("ovl2.top_file", owner(t.p("merged2/top_file")));
  r.put("ovl2.create", create_as(100000, t.p("merged2/home/created")));
  r.put("ovl2.merged_created", owner(t.p("merged2/home/created")));
  r.put("ovl2.upper_created", owner(t.p("upper2/home/created")));

  // Recursive: a submount comes along, idmapped too; without it, the directory underneath shows.
  if (::mount("tmpfs", t.p("src/sub").c_str(), "tmpfs", 0, "mode=0755") != 0) cppcker::throw_errno("mount tmpfs");
  {
    UniqueFd rec = cppcker::idmapped_mount(AT_FDCWD, t.p("src"), ns.get(), true, false);
    attach(rec.get(), t.p("rec"));
    UniqueFd nonrec = cppcker::idmapped_mount(AT_FDCWD, t.p("src"), ns.get(), false, false);
    attach(nonrec.get(), t.p("nonrec"));
  }
  r.put("rec.sub", fs_type(t.p("rec/sub")) + " " + owner(t.p("rec/sub")));
  r.put("nonrec.sub", fs_type(t.p("nonrec/sub")) + " " + owner(t.p("nonrec/sub")));

  // A path relative to a directory descriptor.
  {
    UniqueFd dir(::open(t.tmp.path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    UniqueFd tree = cppcker::idmapped_mount(dir.get(), "top", ns.get(), false, false);
    r.put("relative", "ok");
  }

  // Errors name the path and the errno.
  auto error_of = [&](const std::function<void()>& f) -> std::string {
    try {
      f();
      return "no error";
    } catch (const cppcker::SystemError& e) {
      return errno_name(e.sys_errno()) + " " + e.what();
    }
  };
  r.put("err.missing", error_of([&] { cppcker::idmapped_mount(AT_FDCWD, t.p("missing"), ns.get(), false, false); }));
  UniqueFd not_ns(::open(t.p("top").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  r.put("err.badns", error_of([&] { cppcker::idmapped_mount(AT_FDCWD, t.p("top"), not_ns.get(), false, false); }));

  // The cost on the start path, and nothing left behind by 200 calls.
  std::vector<double> us;
  for (int i = 0; i < 200; ++i) {
    auto a = std::chrono::steady_clock::now();
    UniqueFd n = cppcker::make_user_namespace(range);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(us.begin(), us.end());
  r.put("make_user_namespace_median_us", std::to_string(static_cast<long>(us[us.size() / 2])));
  r.put("after_200.children", ::waitpid(-1, nullptr, WNOHANG) < 0 && errno == ECHILD ? "none" : "some");
}

}  // namespace

TEST(UsernsKernel, IdmappedMountsAndOverlayOverIdmappedLowers) {
  ASSERT_EQ(::geteuid(), 0u) << "needs root (mounts, user namespaces)";
  Tree t;
  const std::string mounts_before = cppcker::read_file("/proc/self/mountinfo");
  const auto fds_before = std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator());

  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd read_end(p[0]), write_end(p[1]);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    read_end.reset();
    Report r{write_end.get()};
    try {
      kernel_checks(t, r);
    } catch (const std::exception& e) {
      r.put("error", e.what());
      ::_exit(1);
    }
    ::_exit(0);
  }
  write_end.reset();
  // The child is reaped (killed first if it hangs) before `t` removes the tree.
  struct Reap {
    pid_t pid;
    int status = -1;
    ~Reap() {
      if (status == -1) ::kill(pid, SIGKILL);
      if (status == -1) ::waitpid(pid, &status, 0);
    }
  } reap{child};

  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    pollfd pfd{read_end.get(), POLLIN, 0};
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    ASSERT_GT(left, 0) << "the child did not finish; so far:\n" << out;
    if (::poll(&pfd, 1, left) < 0 && errno != EINTR) FAIL() << "poll";
    char buf[4096];
    ssize_t n = ::read(read_end.get(), buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ASSERT_EQ(::waitpid(child, &reap.status, 0), child);
  std::map<std::string, std::string> got;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    auto sp = line.find(' ');
    got[line.substr(0, sp)] = sp == std::string::npos ? "" : line.substr(sp + 1);
  }
  RecordProperty("make_user_namespace_median_us", got["make_user_namespace_median_us"]);
  ASSERT_EQ(got.count("error"), 0u) << got["error"] << "\n" << out;
  EXPECT_TRUE(WIFEXITED(reap.status) && WEXITSTATUS(reap.status) == 0) << out;

  // make_user_namespace
  EXPECT_EQ(got["nstype"], "user");
  EXPECT_EQ(got["holder_left"], "none");
  EXPECT_EQ(got["uid_map"], "0 100000 65536");
  EXPECT_EQ(got["gid_map"], "0 100000 65536");
  EXPECT_EQ(got["setgroups"], "allow");
  EXPECT_EQ(got["after_200.children"], "none");
  EXPECT_FALSE(got["make_user_namespace_median_us"].empty());

  // idmapped bind
  EXPECT_EQ(got["bind.root_file"], "100000:100000");
  EXPECT_EQ(got["bind.user_file"], "101000:101000");
  EXPECT_EQ(got["bind.create"], "ok");
  EXPECT_EQ(got["bind.created_below"], "0:0");
  EXPECT_EQ(got["bind.create_unmapped"], "EOVERFLOW");  // an id outside the mount's mapping cannot create
  EXPECT_EQ(got["ro.root_file"], "100000:100000");
  EXPECT_EQ(got["ro.create"], "EROFS");
  EXPECT_EQ(got["rec.sub"], "tmpfs 100000:100000");
  EXPECT_EQ(got["nonrec.sub"], "ext4 100000:100000");
  EXPECT_EQ(got["relative"], "ok");

  // overlay over the attached idmapped lower
  EXPECT_EQ(got["ovl1.mount"], "ok");
  EXPECT_EQ(got["ovl1.root_file"], "100000:100000");
  EXPECT_EQ(got["ovl1.user_file"], "101000:101000");
  EXPECT_EQ(got["ovl1.create"], "ok");
  EXPECT_EQ(got["ovl1.merged_created"], "100000:100000");
  EXPECT_EQ(got["ovl1.upper_created"], "100000:100000");
  EXPECT_EQ(got["ovl1.upper_home"], "100000:100000");  // copied up with the owner the lower shows

  // overlay over detached idmapped lowers as /proc/self/fd/N
  EXPECT_EQ(got["ovl2.mount"], "ok");
  EXPECT_EQ(got["ovl2.fstype"], "overlay");
  EXPECT_EQ(got["ovl2.root_file"], "100000:100000");
  EXPECT_EQ(got["ovl2.user_file"], "101000:101000");
  EXPECT_EQ(got["ovl2.top_file"], "101000:101000");
  EXPECT_EQ(got["ovl2.create"], "ok");
  EXPECT_EQ(got["ovl2.merged_created"], "100000:100000");
  EXPECT_EQ(got["ovl2.upper_created"], "100000:100000");

  // errors
  EXPECT_EQ(got["err.missing"], "ENOENT open_tree " + t.p("missing").string() + ": No such file or directory");
  EXPECT_EQ(got["err.badns"].substr(0, 7), "EINVAL ") << got["err.badns"];  // a descriptor, not a user namespace
  EXPECT_NE(got["err.badns"].find("idmapped mount of " + t.p("top").string()), std::string::npos) << got["err.badns"];

  // Nothing left here: no mount (the layers below were never touched), no descriptor.
  EXPECT_EQ(owner(t.p("src/root_file")), "0:0");
  EXPECT_EQ(owner(t.p("src/user_file")), "1000:1000");
  EXPECT_EQ(cppcker::read_file("/proc/self/mountinfo"), mounts_before);
  read_end.reset();
  EXPECT_EQ(std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator()), fds_before);
}
