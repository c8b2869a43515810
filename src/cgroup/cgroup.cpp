#include "cppcker/cgroup/cgroup.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>
#include <thread>

#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

namespace {

constexpr std::int64_t kCpuPeriod = 100000;  // µs, the kernel's and Docker's default

void write_value(const fs::path& file, const std::string& value) {
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) throw_errno("cgroup: open " + file.string());
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
    throw_errno("cgroup: write \"" + value + "\" to " + file.string());
}

std::optional<std::string> read_value(const fs::path& file) {
  try {
    return read_file_if_exists(file);
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::uint64_t stat_field(const fs::path& file, const std::string& key) {
  auto text = read_value(file);
  if (!text) return 0;
  std::istringstream in(*text);
  std::string k;
  std::uint64_t v;
  while (in >> k >> v)
    if (k == key) return v;
  return 0;
}

std::vector<pid_t> read_pids(const fs::path& file) {
  std::vector<pid_t> out;
  auto text = read_value(file);
  if (!text) return out;
  std::istringstream in(*text);
  pid_t p;
  while (in >> p) out.push_back(p);
  return out;
}

// Creates every missing directory of `path` below `base`, remembering which ones were made here so
// that destroy() removes exactly those.
void make_cgroup_dirs(const fs::path& base, const std::string& path, std::vector<fs::path>& created) {
  fs::path current = base;
  for (const auto& part : fs::path(path).relative_path()) {
    current /= part;
    if (::mkdir(current.c_str(), 0755) == 0) {
      created.push_back(current);
    } else if (errno != EEXIST) {
      throw_errno("cgroup: mkdir " + current.string());
    }
  }
}

// Kills every process of the cgroup (cgroup.kill where the kernel has it) and waits until it is empty.
void empty_cgroup(const fs::path& dir) {
  if (::access((dir / "cgroup.kill").c_str(), F_OK) == 0) {
    try {
      write_value(dir / "cgroup.kill", "1");
    } catch (const Error&) {
    }
  }
  for (int i = 0; i < 500; ++i) {
    auto pids = read_pids(dir / "cgroup.procs");
    if (pids.empty()) return;
    for (pid_t p : pids) ::kill(p, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void remove_created(std::vector<fs::path>& created) {
  // Deepest first; a directory that still has children (another container) stays.
  for (auto it = created.rbegin(); it != created.rend(); ++it) {
    for (int i = 0; i < 100; ++i) {
      if (::rmdir(it->c_str()) == 0 || errno == ENOENT || errno == ENOTEMPTY) break;
      if (errno != EBUSY) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the last task is still exiting
    }
  }
  created.clear();
}

class CgroupV2 : public Cgroup {
 public:
  CgroupV2(std::string path, fs::path mount) : path_(std::move(path)), mount_(std::move(mount)) {
    dir_ = mount_ / fs::path(path_).relative_path();
  }

  void create(const ResourceLimits& l) override {
    // Controllers must be enabled in every ancestor's subtree_control; only add what is missing.
    std::vector<std::string> wanted = {"cpu", "memory", "pids"};
    if (l.cpuset_cpus) wanted.push_back("cpuset");
    fs::path current = mount_;
    for (const auto& part : fs::path(path_).relative_path()) {
      enable_controllers(current, wanted);
      current /= part;
      if (::mkdir(current.c_str(), 0755) == 0) created_.push_back(current);
      else if (errno != EEXIST) throw_errno("cgroup: mkdir " + current.string());
    }
    if (l.memory) write_value(dir_ / "memory.max", std::to_string(*l.memory));
    if (l.memory_swap) {
      // v2 counts swap alone; Docker's value is memory + swap.
      std::string swap = *l.memory_swap < 0 ? "max" : std::to_string(std::max<std::int64_t>(0, *l.memory_swap - l.memory.value_or(0)));
      write_value(dir_ / "memory.swap.max", swap);
    }
    if (l.cpus) write_value(dir_ / "cpu.max", std::to_string(std::llround(*l.cpus * kCpuPeriod)) + " " + std::to_string(kCpuPeriod));
    if (l.cpu_shares) write_value(dir_ / "cpu.weight", std::to_string(cpu_shares_to_weight(*l.cpu_shares)));
    if (l.pids) write_value(dir_ / "pids.max", *l.pids < 0 ? "max" : std::to_string(*l.pids));
    if (l.cpuset_cpus) write_value(dir_ / "cpuset.cpus", *l.cpuset_cpus);
  }

  void add_process(pid_t pid) override { write_value(dir_ / "cgroup.procs", std::to_string(pid)); }
  bool oom_killed() const override { return stat_field(dir_ / "memory.events", "oom_kill") > 0; }
  std::uint64_t cpu_usage_ns() const override { return stat_field(dir_ / "cpu.stat", "usage_usec") * 1000; }
  std::vector<pid_t> processes() const override { return read_pids(dir_ / "cgroup.procs"); }
  void destroy() override {
    if (::access(dir_.c_str(), F_OK) == 0) empty_cgroup(dir_);
    if (created_.empty()) created_.push_back(dir_);
    remove_created(created_);
  }
  std::vector<fs::path> paths() const override { return {dir_}; }

 private:
  void enable_controllers(const fs::path& dir, const std::vector<std::string>& wanted) {
    auto available = read_value(dir / "cgroup.controllers").value_or("");
    auto enabled = read_value(dir / "cgroup.subtree_control").value_or("");
    auto has = [](const std::string& list, const std::string& c) {
      std::istringstream in(list);
      std::string w;
      while (in >> w)
        if (w == c) return true;
      return false;
    };
    std::string missing;
    for (const auto& c : wanted)
      if (has(available, c) && !has(enabled, c)) missing += (missing.empty() ? "+" : " +") + c;
    // One write for all of them: the kernel takes a space-separated list.
    if (!missing.empty()) write_value(dir / "cgroup.subtree_control", missing);
  }

  std::string path_;
  fs::path mount_;
  fs::path dir_;
  std::vector<fs::path> created_;
};

class CgroupV1 : public Cgroup {
 public:
  CgroupV1(CgroupPaths paths, fs::path mount) : paths_(std::move(paths)), mount_(std::move(mount)) {}

  void create(const ResourceLimits& l) override {
    for (const auto& c : v1_controllers()) {
      fs::path base = mount_ / c;
      if (::access(base.c_str(), F_OK) != 0) continue;
      // cpuset only when asked for: each of its levels needs cpus and mems before it admits a task.
      if (c == "cpuset" && !l.cpuset_cpus) continue;
      // cpu and cpuacct are usually one hierarchy behind two names.
      fs::path canonical = fs::canonical(base);
      bool seen = false;
      for (const auto& [name, dir] : dirs_) seen |= fs::canonical(mount_ / name) == canonical;
      if (seen) continue;
      const std::string path = path_for(paths_, c);
      make_cgroup_dirs(base, path, created_);
      dirs_.emplace_back(c, base / fs::path(path).relative_path());
    }
    if (auto mem = dir("memory")) {
      if (l.memory) write_value(*mem / "memory.limit_in_bytes", std::to_string(*l.memory));
      if (l.memory_swap && ::access((*mem / "memory.memsw.limit_in_bytes").c_str(), F_OK) == 0)
        write_value(*mem / "memory.memsw.limit_in_bytes", std::to_string(*l.memory_swap));
    }
    if (auto cpu = dir("cpu")) {
      if (l.cpus) {
        write_value(*cpu / "cpu.cfs_period_us", std::to_string(kCpuPeriod));
        write_value(*cpu / "cpu.cfs_quota_us", std::to_string(std::llround(*l.cpus * kCpuPeriod)));
      }
      if (l.cpu_shares) write_value(*cpu / "cpu.shares", std::to_string(*l.cpu_shares));
    }
    if (auto pids = dir("pids"); pids && l.pids) write_value(*pids / "pids.max", *l.pids < 0 ? "max" : std::to_string(*l.pids));
    if (auto cpuset = dir("cpuset")) {
      // A v1 cpuset cgroup admits no task until cpus and mems are set: each level inherits its parent's.
      fs::path base = mount_ / "cpuset";
      fs::path level = base;
      for (const auto& part : fs::path(path_for(paths_, "cpuset")).relative_path()) {
        fs::path parent = level;
        level /= part;
        for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
          auto current = read_value(level / f).value_or("");
          if (current.find_first_not_of(" \n") == std::string::npos)
            write_value(level / f, read_value(parent / f).value_or(""));
        }
      }
      write_value(*cpuset / "cpuset.cpus", *l.cpuset_cpus);
    }
  }

  void add_process(pid_t pid) override {
    for (const auto& [name, d] : dirs_) write_value(d / "cgroup.procs", std::to_string(pid));
  }

  bool oom_killed() const override {
    auto mem = dir("memory");
    if (!mem) return false;
    // memory.oom_control has an oom_kill counter since Linux 4.13.
    return stat_field(*mem / "memory.oom_control", "oom_kill") > 0;
  }

  std::uint64_t cpu_usage_ns() const override {
    for (const char* c : {"cpuacct", "cpu"})
      if (auto d = dir(c)) {
        auto v = read_value(*d / "cpuacct.usage");
        if (v) return std::stoull(*v);
      }
    return 0;
  }

  std::vector<pid_t> processes() const override {
    return dirs_.empty() ? std::vector<pid_t>{} : read_pids(dirs_.front().second / "cgroup.procs");
  }

  void destroy() override {
    if (dirs_.empty()) {  // a fresh object for an existing cgroup: find its directories
      for (const auto& c : v1_controllers()) {
        fs::path d = mount_ / c / fs::path(path_for(paths_, c)).relative_path();
        if (::access(d.c_str(), F_OK) == 0) dirs_.emplace_back(c, d);
      }
    }
    for (const auto& [name, d] : dirs_) empty_cgroup(d);
    if (created_.empty())
      for (const auto& [name, d] : dirs_) created_.push_back(d);
    remove_created(created_);
  }

  std::vector<fs::path> paths() const override {
    std::vector<fs::path> out;
    for (const auto& [name, d] : dirs_) out.push_back(d);
    return out;
  }

 private:
  std::optional<fs::path> dir(const std::string& controller) const {
    for (const auto& [name, d] : dirs_) {
      if (name == controller) return d;
      if (controller == "cpuacct" && name == "cpu") return d;
    }
    return std::nullopt;
  }

  CgroupPaths paths_;
  fs::path mount_;
  std::vector<std::pair<std::string, fs::path>> dirs_;
  std::vector<fs::path> created_;
};

}  // namespace

CgroupMode detect_cgroup_mode(const fs::path& mount) {
  struct statfs st{};
  if (::statfs(mount.c_str(), &st) != 0) throw_errno("statfs " + mount.string());
  if (st.f_type == CGROUP2_SUPER_MAGIC) return CgroupMode::v2;
  struct statfs unified{};
  if (::statfs((mount / "unified").c_str(), &unified) == 0 && unified.f_type == CGROUP2_SUPER_MAGIC)
    return CgroupMode::hybrid;
  return CgroupMode::v1;
}

std::string own_cgroup(const std::string& controller) {
  std::istringstream in(read_file("/proc/self/cgroup"));
  std::string line;
  while (std::getline(in, line)) {
    auto c1 = line.find(':');
    auto c2 = line.find(':', c1 + 1);
    if (c1 == std::string::npos || c2 == std::string::npos) continue;
    std::string controllers = line.substr(c1 + 1, c2 - c1 - 1);
    std::string path = line.substr(c2 + 1);
    if (controller.empty()) {
      if (line.substr(0, c1) == "0" && controllers.empty()) return path;
      continue;
    }
    std::istringstream list(controllers);
    std::string c;
    while (std::getline(list, c, ','))
      if (c == controller) return path;
  }
  return "/";
}

std::unique_ptr<Cgroup> make_cgroup_v2(const std::string& path, const fs::path& mount) {
  return std::make_unique<CgroupV2>(path, mount);
}
std::unique_ptr<Cgroup> make_cgroup_v1(const CgroupPaths& paths, const fs::path& mount) {
  return std::make_unique<CgroupV1>(paths, mount);
}

std::unique_ptr<Cgroup> make_cgroup(const CgroupPaths& paths, const fs::path& mount) {
  // Hybrid hosts keep their controllers in v1 hierarchies; the unified one there has none worth using.
  if (detect_cgroup_mode(mount) == CgroupMode::v2) return make_cgroup_v2(path_for(paths, ""), mount);
  return make_cgroup_v1(paths, mount);
}

const std::vector<std::string>& v1_controllers() {
  static const std::vector<std::string> list = {"memory", "cpu", "cpuacct", "pids", "cpuset"};
  return list;
}

std::string path_for(const CgroupPaths& paths, const std::string& controller) {
  if (auto it = paths.find(controller); it != paths.end()) return it->second;
  if (auto it = paths.find(""); it != paths.end()) return it->second;
  return "/";
}

namespace {
// (directory of a hierarchy's root, controller key) for every hierarchy in use.
std::vector<std::pair<fs::path, std::string>> hierarchies(const fs::path& mount) {
  if (detect_cgroup_mode(mount) == CgroupMode::v2) return {{mount, ""}};
  std::vector<std::pair<fs::path, std::string>> out;
  for (const auto& c : v1_controllers()) out.emplace_back(mount / c, c);
  return out;
}
}  // namespace

std::vector<int> open_cgroup_procs(const CgroupPaths& paths, const fs::path& mount) {
  std::vector<int> fds;
  for (const auto& [root, controller] : hierarchies(mount)) {
    fs::path procs = root / fs::path(path_for(paths, controller)).relative_path() / "cgroup.procs";
    int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) fds.push_back(fd);
  }
  if (fds.empty()) throw Error("the container's cgroup does not exist");
  return fds;
}

void remove_empty_cgroup_parents(const CgroupPaths& paths, const CgroupPaths& tops, const fs::path& mount) {
  for (const auto& [root, controller] : hierarchies(mount)) {
    if (!tops.count(controller) && !tops.count("")) continue;
    fs::path rel_top = fs::path(path_for(tops, controller)).relative_path();
    if (rel_top.empty()) continue;
    for (fs::path p = fs::path(path_for(paths, controller)).relative_path().parent_path(); !p.empty(); p = p.parent_path()) {
      // Only the owned part: `top` itself and what lies below it.
      auto mismatch = std::mismatch(rel_top.begin(), rel_top.end(), p.begin(), p.end());
      if (mismatch.first != rel_top.end()) break;
      if (::rmdir((root / p).c_str()) != 0 && errno != ENOENT) break;
    }
  }
}

std::uint64_t cpu_shares_to_weight(std::uint64_t shares) {
  if (shares == 0) return 100;
  shares = std::clamp<std::uint64_t>(shares, 2, 262144);
  return 1 + ((shares - 2) * 9999) / 262142;
}

}  // namespace cppcker
