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

#include "cppcker/cgroup/device_filter.hpp"
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

// One write per line on one open file: the kernel takes one devices rule per write (and strips the
// newline), a regular file (the tests' fake tree) keeps every line in order.
void write_lines(const fs::path& file, const std::vector<std::string>& lines) {
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (!fd) throw_errno("cgroup: open " + file.string());
  for (const auto& line : lines) {
    std::string text = line + "\n";
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
      throw_errno("cgroup: write \"" + line + "\" to " + file.string());
  }
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

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> out;
  std::size_t begin = 0;
  while (true) {
    std::size_t end = text.find(separator, begin);
    out.emplace_back(text.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin));
    if (end == std::string_view::npos) return out;
    begin = end + 1;
  }
}

// Whether the hierarchy `key` ("cpu,cpuacct") holds `controller` ("cpuacct").
bool key_has(const std::string& key, const std::string& controller) {
  for (const auto& c : split(key, ','))
    if (c == controller) return true;
  return false;
}

std::optional<std::string> lookup_path(const CgroupPaths& paths, const std::string& key) {
  if (auto it = paths.find(key); it != paths.end()) return it->second;
  if (key.find(',') != std::string::npos)
    for (const auto& c : split(key, ','))
      if (auto it = paths.find(c); it != paths.end()) return it->second;
  if (auto it = paths.find(""); it != paths.end()) return it->second;
  return std::nullopt;
}

// The cgroup's directory in hierarchy `h`; none when `paths` has no entry for it, or names the
// hierarchy's root (never a container's cgroup: killing what is in it would kill the host).
std::optional<fs::path> leaf_dir(const CgroupHierarchy& h, const CgroupPaths& paths) {
  auto path = lookup_path(paths, h.key);
  if (!path) return std::nullopt;
  fs::path rel = fs::path(*path).lexically_normal().relative_path();
  if (rel.empty() || rel == ".") return std::nullopt;
  return h.dir / rel;
}

// Creates every missing directory from `base` down to `leaf`, remembering which ones were made here.
void make_cgroup_dirs(const fs::path& base, const fs::path& leaf, std::vector<fs::path>& created) {
  fs::path current = base;
  for (const auto& part : leaf.lexically_relative(base)) {
    current /= part;
    if (::mkdir(current.c_str(), 0755) == 0) {
      created.push_back(current);
    } else if (errno != EEXIST) {
      throw_errno("cgroup: mkdir " + current.string());
    }
  }
}

// Waits a little longer each time: most waits here end within a fraction of a millisecond.
class Backoff {
 public:
  // False once the total wait has passed ~1 s.
  bool wait() {
    if (waited_ > std::chrono::seconds(1)) return false;
    std::this_thread::sleep_for(step_);
    waited_ += step_;
    step_ = std::min<std::chrono::microseconds>(step_ * 2, std::chrono::milliseconds(4));
    return true;
  }

 private:
  std::chrono::microseconds step_{50};
  std::chrono::microseconds waited_{0};
};

// Kills every process of the cgroup (cgroup.kill where the kernel has it) and waits until it is empty.
void empty_cgroup(const fs::path& dir) {
  if (::access((dir / "cgroup.kill").c_str(), F_OK) == 0) {
    try {
      write_value(dir / "cgroup.kill", "1");
    } catch (const Error&) {
    }
  }
  Backoff backoff;
  do {
    auto pids = read_pids(dir / "cgroup.procs");
    if (pids.empty()) return;
    for (pid_t p : pids) ::kill(p, SIGKILL);
  } while (backoff.wait());
}

// Removes the directories one create() made on the way to `leaf` (parents first in `created`), deepest
// first. The leaf is retried while its last task is still exiting; a parent that holds another cgroup
// stays, at once.
void remove_created(std::vector<fs::path>& created, const fs::path& leaf) {
  for (auto it = created.rbegin(); it != created.rend(); ++it) {
    if (*it != leaf) {
      ::rmdir(it->c_str());
      continue;
    }
    Backoff backoff;
    while (::rmdir(it->c_str()) != 0 && errno == EBUSY && backoff.wait()) {
    }
  }
  created.clear();
}

class CgroupV2 : public Cgroup {
 public:
  CgroupV2(std::string path, fs::path mount) : path_(std::move(path)), mount_(std::move(mount)) {
    dir_ = mount_ / fs::path(path_).relative_path();
  }
  ~CgroupV2() override {
    if (released_ || created_.empty()) return;
    try {
      if (std::find(created_.begin(), created_.end(), dir_) != created_.end()) empty_cgroup(dir_);
      remove_created(created_, dir_);
    } catch (...) {
      // A destructor cannot report; what is left is what `rm` removes.
    }
  }

  void create(const ResourceLimits& l) override {
    // A rule list the program cannot express fails before anything exists.
    UniqueFd device_program;
    if (l.devices) device_program = load_device_filter(device_filter_program(*l.devices));
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
    if (device_program) {
      // v2 has no devices files: the program, attached to the directory, decides every access.
      UniqueFd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!dir) throw_errno("cgroup: open " + dir_.string());
      attach_device_filter(dir.get(), device_program.get(), dir_.string());
    }
  }

  void add_process(pid_t pid) override { write_value(dir_ / "cgroup.procs", std::to_string(pid)); }
  bool oom_killed() const override { return stat_field(dir_ / "memory.events", "oom_kill") > 0; }
  std::uint64_t cpu_usage_ns() const override { return stat_field(dir_ / "cpu.stat", "usage_usec") * 1000; }
  std::vector<pid_t> processes() const override { return read_pids(dir_ / "cgroup.procs"); }
  void destroy() override {
    if (::access(dir_.c_str(), F_OK) == 0) empty_cgroup(dir_);
    if (created_.empty()) created_.push_back(dir_);
    remove_created(created_, dir_);
  }
  void release() override { released_ = true; }
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
  bool released_ = false;
};

class CgroupV1 : public Cgroup {
 public:
  CgroupV1(CgroupPaths paths, std::vector<CgroupHierarchy> hierarchies)
      : paths_(std::move(paths)), hierarchies_(std::move(hierarchies)) {
    // The unified hierarchy of a hybrid host first: its cgroup.kill empties the cgroup in one write.
    std::stable_partition(hierarchies_.begin(), hierarchies_.end(), [](const CgroupHierarchy& h) { return h.key.empty(); });
  }
  ~CgroupV1() override {
    if (released_) return;
    try {
      for (auto& d : dirs_) {
        if (d.created.empty()) continue;
        if (std::find(d.created.begin(), d.created.end(), d.leaf) != d.created.end()) empty_cgroup(d.leaf);
        remove_created(d.created, d.leaf);
      }
    } catch (...) {
      // A destructor cannot report; what is left is what `rm` removes.
    }
  }

  void create(const ResourceLimits& l) override {
    // What cannot be applied fails before anything exists: a rule list v1 cannot express, a limit whose
    // hierarchy is not mounted (ignoring it would leave the container unconfined).
    std::optional<DevicePolicy> devices;
    if (l.devices) devices = device_policy(*l.devices);
    auto mounted = [&](const std::string& controller) {
      return std::any_of(hierarchies_.begin(), hierarchies_.end(), [&](const CgroupHierarchy& h) { return key_has(h.key, controller); });
    };
    if (l.cpuset_cpus && !mounted("cpuset")) throw Error("cgroup: --cpuset-cpus needs the cpuset hierarchy, which is not mounted");
    if (devices && !mounted("devices")) throw Error("cgroup: device rules need the devices hierarchy, which is not mounted");
    created_ = true;
    for (const auto& h : hierarchies_) {
      auto leaf = leaf_dir(h, paths_);
      if (!leaf) continue;
      // cpuset only when asked: it confines nothing by default (the root set is every CPU), and on a
      // host without other cpuset cgroups each one made and removed flips a kernel static key, which
      // patches the kernel's text twice per container (milliseconds on a VM).
      if (h.key == "cpuset" && !l.cpuset_cpus) continue;
      Dir& d = dirs_.emplace_back(Dir{h, *leaf, {}});
      make_cgroup_dirs(h.dir, *leaf, d.created);
      // A v1 cpuset cgroup admits no task until cpus and mems are set: each new level inherits its parent's.
      if (key_has(h.key, "cpuset"))
        for (const auto& level : d.created)
          for (const char* f : {"cpuset.cpus", "cpuset.mems"})
            if (read_value(level / f).value_or("").find_first_not_of(" \n") == std::string::npos)
              write_value(level / f, read_value(level.parent_path() / f).value_or(""));
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
    if (auto cpuset = dir("cpuset"); cpuset && l.cpuset_cpus) write_value(*cpuset / "cpuset.cpus", *l.cpuset_cpus);
    if (auto dev = dir("devices"); dev && devices) {
      // The default first ("a" resets the list), then the exceptions, each file's lines in order.
      auto writes = device_cgroup_v1_writes(*devices);
      std::vector<std::pair<std::string, std::vector<std::string>>> runs;
      for (auto& [file, line] : writes) {
        if (runs.empty() || runs.back().first != file) runs.emplace_back(file, std::vector<std::string>{});
        runs.back().second.push_back(line);
      }
      for (const auto& [file, lines] : runs) write_lines(*dev / file, lines);
    }
  }

  void add_process(pid_t pid) override {
    for (const auto& d : current_dirs()) write_value(d.leaf / "cgroup.procs", std::to_string(pid));
  }

  bool oom_killed() const override {
    auto mem = dir("memory");
    if (!mem) return false;
    // memory.oom_control has an oom_kill counter since Linux 4.13.
    return stat_field(*mem / "memory.oom_control", "oom_kill") > 0;
  }

  std::uint64_t cpu_usage_ns() const override {
    if (auto d = dir("cpuacct")) {
      auto v = read_value(*d / "cpuacct.usage");
      if (v) return std::stoull(*v);
    }
    return 0;
  }

  std::vector<pid_t> processes() const override {
    auto dirs = current_dirs();
    return dirs.empty() ? std::vector<pid_t>{} : read_pids(dirs.front().leaf / "cgroup.procs");
  }

  void destroy() override {
    if (!created_) dirs_ = current_dirs();  // a fresh object for an existing cgroup: its directories
    for (const auto& d : dirs_)
      if (::access(d.leaf.c_str(), F_OK) == 0) empty_cgroup(d.leaf);
    for (auto& d : dirs_) {
      if (d.created.empty()) d.created.push_back(d.leaf);
      remove_created(d.created, d.leaf);
    }
  }

  void release() override { released_ = true; }

  std::vector<fs::path> paths() const override {
    std::vector<fs::path> out;
    for (const auto& d : current_dirs()) out.push_back(d.leaf);
    return out;
  }

 private:
  struct Dir {
    CgroupHierarchy hierarchy;
    fs::path leaf;                  // the cgroup's directory in this hierarchy
    std::vector<fs::path> created;  // what create() made, parents first (the leaf last, if it made it)
  };

  // What create() set up, or for an object that did not create the cgroup, the directories it has.
  std::vector<Dir> current_dirs() const {
    if (created_) return dirs_;
    std::vector<Dir> out;
    for (const auto& h : hierarchies_)
      if (auto leaf = leaf_dir(h, paths_); leaf && ::access(leaf->c_str(), F_OK) == 0) out.push_back(Dir{h, *leaf, {}});
    return out;
  }

  std::optional<fs::path> dir(const std::string& controller) const {
    for (const auto& d : current_dirs())
      if (key_has(d.hierarchy.key, controller)) return d.leaf;
    return std::nullopt;
  }

  CgroupPaths paths_;
  std::vector<CgroupHierarchy> hierarchies_;
  std::vector<Dir> dirs_;
  bool created_ = false;   // create() ran (dirs_ is what it set up)
  bool released_ = false;
};

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mountinfo(std::string_view field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    auto digit = [&](std::size_t j) { return j < field.size() && field[j] >= '0' && field[j] <= '7'; };
    if (field[i] == '\\' && digit(i + 1) && digit(i + 2) && digit(i + 3)) {
      out += static_cast<char>(std::stoi(std::string(field.substr(i + 1, 3)), nullptr, 8));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

// The key /proc/self/cgroup gives a v1 hierarchy, from its mount's super options ("rw,cpu,cpuacct" ->
// "cpu,cpuacct", "rw,xattr,name=systemd" -> "name=systemd"): the kernel lists the controllers in the same
// order in both, and the name last.
std::string v1_key(std::string_view super_options) {
  static const std::vector<std::string> flags = {"rw", "ro", "noprefix", "xattr", "clone_children", "cpuset_v2_mode",
                                                 "favordynmods", "nofavordynmods", "none", "all"};
  std::string controllers, name;
  for (const auto& o : split(super_options, ',')) {
    if (o.empty() || o.starts_with("release_agent=") || std::find(flags.begin(), flags.end(), o) != flags.end()) continue;
    if (o.starts_with("name=")) name = o;
    else controllers += (controllers.empty() ? "" : ",") + o;
  }
  if (!name.empty()) controllers += (controllers.empty() ? "" : ",") + name;
  return controllers;
}

}  // namespace

std::vector<CgroupHierarchy> cgroup_hierarchies_from_mountinfo(std::string_view mountinfo, const fs::path& mount) {
  fs::path base = mount.lexically_normal();
  if (base.has_parent_path() && base.filename().empty()) base = base.parent_path();  // "/sys/fs/cgroup/"
  // Mount point -> hierarchy; a later mount on the same point hides the earlier one.
  std::vector<std::pair<fs::path, std::optional<CgroupHierarchy>>> points;
  for (const auto& line : split(mountinfo, '\n')) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream left(line.substr(0, dash)), right(line.substr(dash + 3));
    std::string id, parent, devno, root, point, fstype, source, super_options;
    if (!(left >> id >> parent >> devno >> root >> point) || !(right >> fstype >> source >> super_options)) continue;
    fs::path mp = fs::path(unescape_mountinfo(point)).lexically_normal();
    std::optional<CgroupHierarchy> h;
    if (fstype == "cgroup2" && (mp == base || mp.parent_path() == base)) h = CgroupHierarchy{"", mp};
    else if (fstype == "cgroup" && mp.parent_path() == base) h = CgroupHierarchy{v1_key(super_options), mp};
    else if (mp != base) continue;  // not ours; anything else mounted on `base` hides what was below it
    std::erase_if(points, [&](const auto& p) { return p.first == mp || (mp == base && p.first.parent_path() == base); });
    points.emplace_back(mp, h);
  }
  std::vector<CgroupHierarchy> out;
  for (const auto& [mp, h] : points) {
    if (!h) continue;
    if (mp == base) return {*h};  // cgroup v2: one hierarchy
    // One directory per hierarchy, should one be mounted twice.
    if (std::none_of(out.begin(), out.end(), [&](const CgroupHierarchy& o) { return o.key == h->key; })) out.push_back(*h);
  }
  return out;
}

std::vector<CgroupHierarchy> cgroup_hierarchies(const fs::path& mount) {
  if (detect_cgroup_mode(mount) == CgroupMode::v2) return {{"", mount}};
  return cgroup_hierarchies_from_mountinfo(read_file("/proc/self/mountinfo"), mount);
}

std::vector<std::string> cgroup_hierarchy_keys(const fs::path& mount) {
  std::vector<std::string> keys;
  for (const auto& h : cgroup_hierarchies(mount)) keys.push_back(h.key);
  return keys;
}

CgroupMode detect_cgroup_mode(const fs::path& mount) {
  struct statfs st{};
  if (::statfs(mount.c_str(), &st) != 0) throw_errno("statfs " + mount.string());
  if (st.f_type == CGROUP2_SUPER_MAGIC) return CgroupMode::v2;
  struct statfs unified{};
  if (::statfs((mount / "unified").c_str(), &unified) == 0 && unified.f_type == CGROUP2_SUPER_MAGIC)
    return CgroupMode::hybrid;
  return CgroupMode::v1;
}

std::string cgroup_path_in(std::string_view proc_cgroup, const std::string& key) {
  std::optional<std::string> single;  // `key` as one controller of a co-mounted line
  for (const auto& line : split(proc_cgroup, '\n')) {
    auto c1 = line.find(':');
    auto c2 = line.find(':', c1 + 1);
    if (c1 == std::string::npos || c2 == std::string::npos) continue;
    std::string controllers = line.substr(c1 + 1, c2 - c1 - 1);
    std::string path = line.substr(c2 + 1);
    if (key.empty()) {
      if (line.substr(0, c1) == "0" && controllers.empty()) return path;
      continue;
    }
    if (controllers == key) return path;
    if (!single && key_has(controllers, key)) single = path;
  }
  return single.value_or("/");
}

std::string own_cgroup(const std::string& key) { return cgroup_path_in(read_file("/proc/self/cgroup"), key); }

std::unique_ptr<Cgroup> make_cgroup_v2(const std::string& path, const fs::path& mount) {
  return std::make_unique<CgroupV2>(path, mount);
}
std::unique_ptr<Cgroup> make_cgroup_v1(const CgroupPaths& paths, std::vector<CgroupHierarchy> hierarchies) {
  return std::make_unique<CgroupV1>(paths, std::move(hierarchies));
}
std::unique_ptr<Cgroup> make_cgroup_v1(const CgroupPaths& paths, const fs::path& mount) {
  return make_cgroup_v1(paths, cgroup_hierarchies(mount));
}

std::unique_ptr<Cgroup> make_cgroup(const CgroupPaths& paths, const fs::path& mount) {
  // Hybrid hosts keep their controllers in v1 hierarchies; the unified one there is joined, not limited.
  if (detect_cgroup_mode(mount) == CgroupMode::v2) return make_cgroup_v2(path_for(paths, ""), mount);
  return make_cgroup_v1(paths, mount);
}

std::string path_for(const CgroupPaths& paths, const std::string& key) { return lookup_path(paths, key).value_or("/"); }

std::vector<int> open_cgroup_procs(const CgroupPaths& paths, const fs::path& mount) {
  std::vector<int> fds;
  for (const auto& h : cgroup_hierarchies(mount)) {
    auto leaf = leaf_dir(h, paths);
    if (!leaf) continue;
    int fd = ::open((*leaf / "cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) fds.push_back(fd);
  }
  if (fds.empty()) throw Error("the container's cgroup does not exist");
  return fds;
}

void remove_empty_cgroup_parents(const CgroupPaths& paths, const CgroupPaths& tops, const fs::path& mount) {
  for (const auto& h : cgroup_hierarchies(mount)) {
    auto top = lookup_path(tops, h.key);
    auto path = lookup_path(paths, h.key);
    if (!top || !path) continue;
    fs::path rel_top = fs::path(*top).relative_path();
    if (rel_top.empty()) continue;
    for (fs::path p = fs::path(*path).relative_path().parent_path(); !p.empty(); p = p.parent_path()) {
      // Only the owned part: `top` itself and what lies below it.
      auto mismatch = std::mismatch(rel_top.begin(), rel_top.end(), p.begin(), p.end());
      if (mismatch.first != rel_top.end()) break;
      if (::rmdir((h.dir / p).c_str()) != 0 && errno != ENOENT) break;
    }
  }
}

std::uint64_t cpu_shares_to_weight(std::uint64_t shares) {
  if (shares == 0) return 100;
  shares = std::clamp<std::uint64_t>(shares, 2, 262144);
  return 1 + ((shares - 2) * 9999) / 262142;
}

}  // namespace cppcker

namespace cppcker {
// Transitional (issue 10 in progress): the v1/v2 classes override these.
void Cgroup::update(const oci::Resources&) { throw Error("cgroup update is not implemented yet", 125); }
void Cgroup::freeze() { throw Error("cgroup freeze is not implemented yet", 125); }
void Cgroup::thaw() { throw Error("cgroup thaw is not implemented yet", 125); }
bool Cgroup::frozen() const { return false; }
CgroupStats Cgroup::stats() const { throw Error("cgroup stats are not implemented yet", 125); }
}  // namespace cppcker
