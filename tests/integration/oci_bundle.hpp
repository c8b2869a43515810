#pragma once
// OCI bundles for the conformance tests, and the few process helpers they need. Self-contained (gtest and
// nlohmann only): the tests drive a runc-compatible binary and must not share code with the runtime they judge.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

extern char** environ;

namespace oci_test {
namespace fs = std::filesystem;

inline std::runtime_error sys_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

// A file descriptor closed on scope exit.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

inline std::string random_hex(std::size_t n) {
  static std::mt19937_64 rng{std::random_device{}()};
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += digits[rng() % 16];
  return s;
}

inline std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_text(const fs::path& p, const std::string& s, fs::perms mode = fs::perms::owner_read |
                                                                                 fs::perms::owner_write) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << s;
  fs::permissions(p, mode);
}

// A directory under /tmp removed with everything in it at scope exit.
struct TempDir {
  TempDir() {
    std::string tmpl = "/tmp/oci-conform-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw sys_error("mkdtemp");
    path = tmpl;
  }
  ~TempDir() {
    // A runtime that left a mount here must not have remove_all walk into it: detach those first.
    for (const auto& m : mounts_under(path)) ::umount2(m.c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  // Mount points at or below `dir` in this mount namespace, deepest first.
  static std::vector<std::string> mounts_under(const fs::path& dir) {
    std::vector<std::string> out;
    std::ifstream in("/proc/self/mountinfo");
    for (std::string line; std::getline(in, line);) {
      std::istringstream f(line);
      std::string id, parent, devno, root, point;
      f >> id >> parent >> devno >> root >> point;
      if (point == dir.string() || point.rfind(dir.string() + "/", 0) == 0) out.push_back(point);
    }
    std::sort(out.rbegin(), out.rend());
    return out;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  fs::path path;
};

struct Result {
  int code = -1;  // exit status, 128+N for a signal death, -1 when it had to be killed at the time limit
  std::string out, err;
};

struct SpawnOptions {
  std::string input;                  // stdin (empty: /dev/null)
  std::vector<int> extra_fds;         // become fds 3, 4, ... in the child
  std::vector<std::string> env;       // added to this process's environment
  fs::path cwd;                       // empty: this process's
  bool listen_pid = false;            // sets LISTEN_PID to the child's own pid (systemd socket activation)
  std::chrono::milliseconds limit = std::chrono::seconds(60);
};

inline Fd memfd(const char* name) {
  int fd = ::memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) throw sys_error("memfd_create");
  return Fd(fd);
}

inline std::string read_all_from_start(int fd) {
  std::string s;
  char buf[8192];
  ::lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) s.append(buf, static_cast<std::size_t>(n));
  return s;
}

// Runs argv to completion. Its stdout and stderr are memory files, not pipes: a runtime's detached
// container inherits them and would otherwise hold a pipe open past the runtime's exit.
inline Result run_process(const std::vector<std::string>& argv, const SpawnOptions& o = {}) {
  Fd out = memfd("out"), err = memfd("err"), in;
  if (o.input.empty()) {
    in = Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  } else {
    in = memfd("in");
    if (::write(in.get(), o.input.data(), o.input.size()) != static_cast<ssize_t>(o.input.size()))
      throw sys_error("write stdin");
    ::lseek(in.get(), 0, SEEK_SET);
  }
  // Everything the child needs is built before fork: after it only async-signal-safe calls.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    bool replaced = false;
    for (const auto& add : o.env)
      if (kv.substr(0, kv.find('=') + 1) == add.substr(0, add.find('=') + 1)) replaced = true;
    if (!replaced && !(o.listen_pid && kv.rfind("LISTEN_PID=", 0) == 0)) env_strings.push_back(kv);
  }
  for (const auto& add : o.env) env_strings.push_back(add);
  std::string listen_pid(32, '\0');
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  if (o.listen_pid) envp.push_back(listen_pid.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& a : argv_copy) args.push_back(a.data());
  args.push_back(nullptr);
  std::string cwd = o.cwd.string();
  std::vector<int> moved(o.extra_fds.size());  // allocated before fork: another thread may hold malloc's lock

  pid_t pid = ::fork();
  if (pid < 0) throw sys_error("fork");
  if (pid == 0) {
    if (o.listen_pid) {
      char digits[24];
      int n = 0;
      for (pid_t p = ::getpid(); p > 0; p /= 10) digits[n++] = static_cast<char>('0' + p % 10);
      std::memcpy(listen_pid.data(), "LISTEN_PID=", 11);
      for (int i = 0; i < n; ++i) listen_pid[11 + i] = digits[n - 1 - i];
    }
    // Move the extra fds out of the way of their targets first, then into place (dup2 clears CLOEXEC).
    for (std::size_t i = 0; i < moved.size(); ++i) moved[i] = ::fcntl(o.extra_fds[i], F_DUPFD_CLOEXEC, 100);
    ::dup2(in.get(), 0);
    ::dup2(out.get(), 1);
    ::dup2(err.get(), 2);
    for (std::size_t i = 0; i < moved.size(); ++i) ::dup2(moved[i], 3 + static_cast<int>(i));
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(127);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  Result r;
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + o.limit;
  while (true) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) throw sys_error("waitpid");
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      r.out = read_all_from_start(out.get());
      r.err = read_all_from_start(err.get()) + "\n[killed at the time limit]";
      return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_all_from_start(out.get());
  r.err = read_all_from_start(err.get());
  return r;
}

// A rootfs of Debian's busybox-static: /bin/busybox and a link per applet, and the files `id` reads.
inline void make_rootfs(const fs::path& rootfs) {
  for (const char* d : {"bin", "etc", "tmp", "proc", "sys", "dev", "root", "home/app"})
    fs::create_directories(rootfs / d);
  fs::permissions(rootfs / "tmp", fs::perms::all | fs::perms::sticky_bit);
  fs::copy_file("/bin/busybox", rootfs / "bin/busybox");
  fs::permissions(rootfs / "bin/busybox", fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec |
                                             fs::perms::group_read | fs::perms::others_read);
  Result list = run_process({"/bin/busybox", "--list"});
  if (list.code != 0) throw std::runtime_error("busybox --list failed: " + list.err);
  std::istringstream applets(list.out);
  for (std::string a; applets >> a;)
    if (a != "busybox") fs::create_symlink("busybox", rootfs / "bin" / a);
  write_text(rootfs / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
             fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
  write_text(rootfs / "etc/group", "root:x:0:\napp:x:1000:\n",
             fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
}

// The config.json of a plain container: the namespaces, mounts and capabilities of `runc spec`, without a
// terminal, its cgroup at `cgroups_path` (relative: below the runtime's own cgroup).
inline nlohmann::json default_config(const std::vector<std::string>& args, const std::string& cgroups_path) {
  nlohmann::json caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  return {
      {"ociVersion", "1.0.2"},
      {"process",
       {{"terminal", false},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", args},
        {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
        {"cwd", "/"},
        {"capabilities",
         {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"inheritable", caps}, {"ambient", caps}}},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}, {"readonly", false}}},
      {"hostname", "oci-conform"},
      {"mounts",
       {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
        {{"destination", "/dev"},
         {"type", "tmpfs"},
         {"source", "tmpfs"},
         {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
        {{"destination", "/dev/pts"},
         {"type", "devpts"},
         {"source", "devpts"},
         {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}}},
        {{"destination", "/dev/shm"},
         {"type", "tmpfs"},
         {"source", "shm"},
         {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
        {{"destination", "/sys"},
         {"type", "sysfs"},
         {"source", "sysfs"},
         {"options", {"nosuid", "noexec", "nodev", "ro"}}}}},
      {"linux",
       {{"cgroupsPath", cgroups_path},
        {"resources", {{"devices", {{{"allow", false}, {"access", "rwm"}}}}}},
        {"namespaces", {{{"type", "pid"}}, {{"type", "network"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}}},
        {"maskedPaths", {"/proc/kcore", "/proc/keys", "/sys/firmware"}},
        {"readonlyPaths", {"/proc/bus", "/proc/sys", "/proc/sysrq-trigger"}}}}};
}

// A unix socket the runtime connects to with --console-socket; receive() takes the pty master it sends.
class ConsoleSocket {
 public:
  explicit ConsoleSocket(fs::path path) : path_(std::move(path)) {
    sock_ = Fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!sock_) throw sys_error("socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.string().size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long");
    std::strcpy(addr.sun_path, path_.c_str());
    if (::bind(sock_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw sys_error("bind");
    if (::listen(sock_.get(), 1) != 0) throw sys_error("listen");
  }
  const fs::path& path() const { return path_; }

  // The fd passed over SCM_RIGHTS by the first connection within `limit`; invalid on timeout.
  Fd receive(std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    pollfd p{sock_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) return {};
    Fd conn(::accept4(sock_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return {};
    char data[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    iovec iov{data, sizeof data};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    pollfd c{conn.get(), POLLIN, 0};
    if (::poll(&c, 1, static_cast<int>(limit.count())) != 1) return {};
    if (::recvmsg(conn.get(), &msg, MSG_CMSG_CLOEXEC) <= 0) return {};
    for (cmsghdr* h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
      if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(h), sizeof fd);
        return Fd(fd);
      }
    }
    return {};
  }

 private:
  fs::path path_;
  Fd sock_;
};

// Reads from `fd` until `needle` appeared or `limit` passed; returns all that was read.
inline std::string read_until(int fd, const std::string& needle,
                              std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (got.find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) != 1) break;
    char buf[1024];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

inline void write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw sys_error("write");
    done += static_cast<std::size_t>(n);
  }
}

// Whether `pid` is still a process that is not a zombie.
inline bool alive(pid_t pid) {
  if (pid <= 0) return false;
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return false;
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

template <typename F>
bool eventually(F f, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return f();
}

// A cgroup hierarchy this process is in: where it is mounted and this process's own directory in it.
struct OwnCgroup {
  std::string controllers;  // "memory", "name=systemd", "" for the unified hierarchy
  fs::path dir;             // mount point + own path
};

inline std::vector<OwnCgroup> own_cgroups() {
  // Mount points by their first controller (or "" for cgroup2), from mountinfo's super options.
  std::vector<std::pair<std::string, fs::path>> mounts;
  std::istringstream mi(read_text("/proc/self/mountinfo"));
  for (std::string line; std::getline(mi, line);) {
    std::istringstream f(line);
    std::vector<std::string> w;
    for (std::string x; f >> x;) w.push_back(x);
    auto dash = std::find(w.begin(), w.end(), "-");
    if (w.size() < 5 || dash == w.end() || w.end() - dash < 4) continue;
    std::string type = *(dash + 1);
    if (type == "cgroup2") {
      mounts.emplace_back("", w[4]);
    } else if (type == "cgroup") {
      std::istringstream opts(*(dash + 3));
      for (std::string o; std::getline(opts, o, ',');) mounts.emplace_back(o, w[4]);
    }
  }
  std::vector<OwnCgroup> out;
  std::istringstream cg(read_text("/proc/self/cgroup"));
  for (std::string line; std::getline(cg, line);) {
    auto a = line.find(':'), b = line.find(':', a + 1);
    std::string ctrls = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    std::string first = ctrls.substr(0, ctrls.find(','));
    for (const auto& [key, mount] : mounts)
      if (key == first) {
        out.push_back({ctrls, mount / fs::path(path).relative_path()});
        break;
      }
  }
  return out;
}

inline bool cgroup_v2_only() { return fs::exists("/sys/fs/cgroup/cgroup.controllers"); }

// The directory of the relative cgroup `name` in the hierarchy that holds `controller`.
inline fs::path cgroup_dir(const std::string& controller, const std::string& name) {
  for (const auto& h : own_cgroups()) {
    std::istringstream parts(h.controllers);
    bool match = cgroup_v2_only() && h.controllers.empty();
    for (std::string c; !match && std::getline(parts, c, ',');) match = c == controller;
    if (match) return h.dir / name;
  }
  return {};
}

}  // namespace oci_test
