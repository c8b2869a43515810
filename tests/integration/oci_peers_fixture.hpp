#pragma once
// Helpers for the tests in which podman (with conmon) and containerd (with the runc v2 shim) drive an OCI
// runtime binary: processes, a pseudo-terminal, cgroups below the test's own, mounts and leftovers.
// Self-contained (gtest and the C++ library only): these tests exercise a binary, not libcppcker.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace peers {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_file(const fs::path& p, const std::string& content) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + p.string() + ": " + std::strerror(errno));
}

inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

inline std::string random_hex(int n) {
  static std::mt19937_64 rng{std::random_device{}()};
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < n; ++i) s += digits[rng() % 16];
  return s;
}

template <typename F>
bool eventually(F f, std::chrono::milliseconds limit = 10s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return f();
}

// The OCI runtime under test: $CPPCKER_OCI_RUNTIME (e.g. /usr/sbin/runc, to prove the tests themselves), else
// cppcker-runc beside the cppcker binary of this build.
inline std::string oci_runtime() {
  if (const char* env = std::getenv("CPPCKER_OCI_RUNTIME"); env && *env) return env;
  return CPPCKER_RUNC_DEFAULT;
}

struct Result {
  int code = -1;  // exit status, or 128+N for a signal, as a shell reports it
  std::string out, err;
  bool timed_out = false;
};

inline std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// The environment of this process with `extra` ("NAME=value") added or replacing.
inline std::vector<std::string> environment_with(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    std::string name = entry.substr(0, entry.find('='));
    bool replaced = std::any_of(extra.begin(), extra.end(), [&](const std::string& x) {
      return x.substr(0, x.find('=')) == name;
    });
    if (!replaced) env.push_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

inline std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

struct RunOptions {
  std::vector<std::string> env;
  std::chrono::seconds timeout = 120s;
  // In a mount namespace of its own with a tmpfs on /var/lib: containers/image keeps a blob-info cache in
  // /var/lib/containers/cache whatever podman's --root says, and the host's podman state must stay untouched.
  bool private_var_lib = false;
};

// Runs a program (no shell), stdin from /dev/null, and captures its output.
inline Result run(const std::vector<std::string>& argv, const RunOptions& opt = {}) {
  Result r;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    r.err = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  auto args = argv;
  auto env = environment_with(opt.env);
  auto c_args = c_strings(args);
  auto c_env = c_strings(env);
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    if (opt.private_var_lib) {
      if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
          ::mount("tmpfs", "/var/lib", "tmpfs", 0, "mode=0755") != 0) {
        dprintf(2, "private /var/lib: %s\n", std::strerror(errno));
        _exit(125);
      }
    }
    ::execvpe(c_args[0], c_args.data(), c_env.data());
    dprintf(2, "exec %s: %s\n", c_args[0], std::strerror(errno));
    _exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  auto deadline = std::chrono::steady_clock::now() + opt.timeout;
  int open_fds = 2;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    if (::poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[8192];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (r.timed_out) r.err += "\n(killed after " + std::to_string(opt.timeout.count()) + "s: " + join(argv) + ")";
  return r;
}

// Starts a long-running program with stdout and stderr to `log`; the caller stops it by pid.
inline pid_t spawn(const std::vector<std::string>& argv, const fs::path& log) {
  auto args = argv;
  auto c_args = c_strings(args);
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDONLY);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    ::dup2(null, 0);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execvp(c_args[0], c_args.data());
    _exit(127);
  }
  return pid;
}

// SIGTERM, then SIGKILL after `grace`; reaps the child.
inline void stop_child(pid_t pid, std::chrono::milliseconds grace = 10s) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  bool gone = eventually([&] { return ::waitpid(pid, nullptr, WNOHANG) == pid; }, grace);
  if (!gone) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
}

inline bool alive(pid_t pid) {
  // A zombie has finished; its parent (not us, for a daemonized conmon or shim) reaps it.
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

// Processes (other than zombies) whose command line mentions `text`.
inline std::vector<pid_t> processes_mentioning(const std::string& text) {
  std::vector<pid_t> out;
  for (auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(name);
    if (pid == ::getpid()) continue;
    auto cmdline = read_file(e.path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(text) != std::string::npos && alive(pid)) out.push_back(pid);
  }
  return out;
}

inline void kill_and_wait_gone(const std::vector<pid_t>& pids) {
  for (pid_t p : pids) ::kill(p, SIGKILL);
  for (pid_t p : pids) eventually([&] { return !alive(p); }, 5s);
}

// Mount points at or below `dir`, deepest first.
inline std::vector<std::string> mounts_below(const fs::path& dir) {
  std::vector<std::string> out;
  std::istringstream in(read_file("/proc/self/mountinfo"));
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point == dir.string() || point.rfind(dir.string() + "/", 0) == 0) out.push_back(point);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  return out;
}

inline void unmount_below(const fs::path& dir) {
  for (int round = 0; round < 5; ++round) {
    auto points = mounts_below(dir);
    if (points.empty()) return;
    for (const auto& p : points) ::umount2(p.c_str(), MNT_DETACH);
  }
}

// One mounted cgroup hierarchy: its mount point, the cgroup of this process in it, and the root of the mount.
struct Hierarchy {
  fs::path mount;
  std::string own;         // e.g. "/process_api/abc"
  std::string mount_root;  // usually "/"
  // The directory of cgroup `path` (absolute in the hierarchy) in the file system.
  fs::path dir(const std::string& path) const {
    std::string rel = path;
    if (mount_root != "/" && rel.rfind(mount_root, 0) == 0) rel = rel.substr(mount_root.size());
    return mount / fs::path(rel).relative_path();
  }
};

inline std::vector<Hierarchy> cgroup_hierarchies() {
  // /proc/self/cgroup: "N:controllers:path"; the v2 line is "0::path".
  std::map<std::string, std::string> own;
  {
    std::istringstream in(read_file("/proc/self/cgroup"));
    for (std::string line; std::getline(in, line);) {
      auto a = line.find(':'), b = line.find(':', a + 1);
      own[line.substr(a + 1, b - a - 1)] = line.substr(b + 1);
    }
  }
  std::vector<Hierarchy> out;
  std::istringstream in(read_file("/proc/self/mountinfo"));
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point, opts, tok;
    fields >> id >> parent >> dev >> root >> point >> opts;
    while (fields >> tok && tok != "-") {}
    std::string type, source, super;
    fields >> type >> source >> super;
    std::string key;
    if (type == "cgroup2") {
      key = "";
    } else if (type == "cgroup") {
      // The controllers (or name=) among the super options, in the order /proc/self/cgroup lists them.
      std::set<std::string> options;
      std::istringstream parts(super);
      for (std::string o; std::getline(parts, o, ',');) options.insert(o);
      bool found = false;
      for (const auto& [k, path] : own) {
        if (k.empty()) continue;
        std::istringstream ks(k);
        bool all = true;
        for (std::string c; std::getline(ks, c, ',');) all = all && options.count(c);
        if (all) key = k, found = true;
      }
      if (!found) continue;
    } else {
      continue;
    }
    if (!own.count(key)) continue;
    out.push_back({point, own[key], root});
  }
  return out;
}

// A cgroup path below this process's own cgroup in every hierarchy at once (podman's --cgroup-parent and
// ctr's --cgroup name one path for all controllers): the deepest own cgroup, provided every other one is an
// ancestor of it. Empty if the hierarchies disagree.
inline std::string common_own_cgroup(const std::vector<Hierarchy>& hs) {
  std::string deepest = "/";
  for (const auto& h : hs)
    if (h.own.size() > deepest.size()) deepest = h.own;
  for (const auto& h : hs) {
    if (h.own == "/" || h.own == deepest) continue;
    if (deepest.rfind(h.own + "/", 0) != 0) return "";
  }
  return deepest;
}

// Removes a cgroup directory tree bottom-up after killing what runs in it; true if none of it remains.
inline bool remove_cgroup_tree(const fs::path& dir) {
  if (!fs::exists(dir)) return true;
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_directory(ec)) dirs.push_back(it->path());
  dirs.push_back(dir);
  std::sort(dirs.begin(), dirs.end(), [](const auto& a, const auto& b) { return a.string().size() > b.string().size(); });
  for (const auto& d : dirs) {
    std::istringstream procs(read_file(d / "cgroup.procs"));
    std::vector<pid_t> pids;
    for (pid_t p; procs >> p;) pids.push_back(p);
    kill_and_wait_gone(pids);
    eventually([&] { return ::rmdir(d.c_str()) == 0 || errno == ENOENT; }, 5s);
  }
  return !fs::exists(dir);
}

// A program on a pseudo-terminal of its own, as a user's shell would run it.
class PtySession {
 public:
  explicit PtySession(std::vector<std::string> argv, const std::vector<std::string>& env = {}) {
    auto full_env = environment_with(env);
    auto c_args = c_strings(argv);
    auto c_env = c_strings(full_env);
    winsize ws{24, 80, 0, 0};
    pid_ = ::forkpty(&master_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      ::execvpe(c_args[0], c_args.data(), c_env.data());
      _exit(127);
    }
    if (pid_ < 0) ADD_FAILURE() << "forkpty: " << std::strerror(errno);
    if (master_ >= 0) ::fcntl(master_, F_SETFD, FD_CLOEXEC);
  }
  ~PtySession() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) ::close(master_);
  }
  PtySession(const PtySession&) = delete;
  PtySession& operator=(const PtySession&) = delete;

  void send(const std::string& keys) {
    if (::write(master_, keys.data(), keys.size()) != static_cast<ssize_t>(keys.size()))
      ADD_FAILURE() << "write to the pty: " << std::strerror(errno);
  }
  // Reads until `text` appears in the output after what earlier expects consumed.
  bool expect(const std::string& text, std::chrono::milliseconds timeout = 20s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto at = output_.find(text, seen_);
      if (at != std::string::npos) {
        seen_ = at + text.size();
        return true;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !pump(static_cast<int>(left.count()))) return false;
    }
  }
  // Waits for the program's end, draining the terminal; its exit status, or -1 after `timeout`.
  int wait(std::chrono::milliseconds timeout = 30s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        while (pump(50)) {}
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      pump(50);
    }
    return -1;
  }
  const std::string& output() const { return output_; }

 private:
  bool pump(int timeout_ms) {
    pollfd p{master_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[4096];
    ssize_t n = ::read(master_, buf, sizeof buf);
    if (n <= 0) return false;  // EIO once the last holder of the terminal's other side is gone
    output_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  int master_ = -1;
  pid_t pid_ = -1;
  std::string output_;
  std::size_t seen_ = 0;
};

// The entries of a directory (names), empty if it does not exist.
inline std::set<std::string> entries(const fs::path& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
    out.insert(it->path().filename());
  return out;
}

// What a test must not leave or create outside its own directory: cgroups outside its parent (at the top of
// each hierarchy, or the well-known places of podman and containerd), named network namespaces, and the
// runtime state directories that would be used without a private --root.
struct HostSnapshot {
  std::vector<std::set<std::string>> top_cgroups;
  std::set<std::string> netns;
  std::map<std::string, bool> exists;

  static const std::vector<std::string>& watched_paths() {
    static const std::vector<std::string> paths = {"/run/runc", "/run/containerd/runc", "/run/containerd/fifo",
                                                   "/run/libpod", "/run/containers", "/var/lib/containerd",
                                                   "/run/cppcker-runc"};
    return paths;
  }

  static HostSnapshot take(const std::vector<Hierarchy>& hs) {
    HostSnapshot s;
    for (const auto& h : hs) s.top_cgroups.push_back(entries(h.mount));
    s.netns = entries("/run/netns");
    for (const auto& p : watched_paths()) s.exists[p] = fs::exists(p);
    return s;
  }

  // Names podman, conmon, containerd and its shim give the cgroups they make when no parent is given.
  static bool peer_cgroup_name(const std::string& name) {
    for (const char* part : {"libpod", "conmon", "machine", "containerd", "default", "podman"})
      if (name.find(part) != std::string::npos) return true;
    return false;
  }

  // Adds a failure for everything that `now` has and this snapshot had not. Other programs on the machine
  // may make cgroups meanwhile: only the names of the peers' own count (at the top and in our own cgroup).
  void expect_nothing_new(const std::vector<Hierarchy>& hs) const {
    auto now = take(hs);
    for (std::size_t i = 0; i < hs.size() && i < top_cgroups.size(); ++i) {
      for (const auto& name : now.top_cgroups[i])
        EXPECT_FALSE(peer_cgroup_name(name) && !top_cgroups[i].count(name))
            << "a cgroup appeared outside the test's parent: " << (hs[i].mount / name);
      if (hs[i].own == "/") continue;
      for (const auto& name : entries(hs[i].dir(hs[i].own)))
        EXPECT_FALSE(peer_cgroup_name(name)) << "cgroup left: " << (hs[i].dir(hs[i].own) / name);
    }
    for (const auto& n : now.netns) EXPECT_TRUE(netns.count(n)) << "network namespace left: /run/netns/" << n;
    for (const auto& [path, was] : exists) {
      EXPECT_TRUE(now.exists.at(path) || !was) << path << " disappeared";
      if (was || !now.exists.at(path)) continue;
      // podman's `container cleanup` (conmon's exit command) calls `<runtime> delete --force <id>` without the
      // --runtime-flag root, and runc makes its default root for that: an empty one is taken back; state in it
      // is a leak.
      EXPECT_TRUE(entries(path).empty()) << "state left outside the private root, in " << path;
      std::error_code ec;
      fs::remove(path, ec);
    }
  }
};

}  // namespace peers
