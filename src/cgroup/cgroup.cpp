#include "cppcker/cgroup/cgroup.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cstring>
#include <limits>
#include <sstream>
#include <thread>

#include "cgroup_internal.hpp"
#include "cppcker/cgroup/device_filter.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

std::int64_t cpu_quota_us(double cpus) {
  // Not std::llround: cppcker's only use of libm, which the loader would otherwise map at every exec.
  return static_cast<std::int64_t>(cpus * static_cast<double>(kCpuPeriod) + 0.5);
}

namespace {

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

// A file of one number (0 if absent or unreadable).
std::uint64_t stat_number(const fs::path& file) {
  std::uint64_t v = 0;
  std::istringstream(read_value(file).value_or("0")) >> v;
  return v;
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

// After destroy() removed the cgroup's own directories: their parents from `from` up to and including
// `top` (a path in the hierarchy at `hierarchy_dir`), each while it is empty; not above `top`.
void remove_owned_parents(const fs::path& hierarchy_dir, const fs::path& from, const std::string& top) {
  const fs::path rel_top = fs::path(top).lexically_normal().relative_path();
  if (rel_top.empty() || rel_top == ".") return;
  for (fs::path p = from.lexically_relative(hierarchy_dir); !p.empty() && p != "."; p = p.parent_path()) {
    if (std::mismatch(rel_top.begin(), rel_top.end(), p.begin(), p.end()).first != rel_top.end()) break;
    if (::rmdir((hierarchy_dir / p).c_str()) != 0 && errno != ENOENT) break;
  }
}

// ---- update(): validation, planned writes ----

constexpr std::uint64_t kSwappinessUnset = std::numeric_limits<std::uint64_t>::max();  // "-1" in the JSON

bool swappiness_set(const oci::MemoryResources& m) { return m.swappiness && *m.swappiness != kSwappinessUnset; }

// One write update() plans: every one is validated and checked against the host before the first happens.
struct PlannedWrite {
  fs::path file;
  std::string value;
  std::string field;        // the OCI field, for errors
  bool deferrable = false;  // on EINVAL, retried after the next write (pairs of limits the kernel orders)
  bool check = true;        // the file must exist already (false: update() makes its directory first)
};

// 0 or the errno; no O_CREAT: a cgroup file the host lacks must not be made (in a fake tree, either).
int try_write(const fs::path& file, const std::string& value) {
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return errno;
  ssize_t n = ::write(fd.get(), value.data(), value.size());
  if (n != static_cast<ssize_t>(value.size())) return n < 0 ? errno : EIO;
  return 0;
}

[[noreturn]] void throw_write(const PlannedWrite& w, int err) {
  throw SystemError("cgroup: " + w.field + ": write \"" + w.value + "\" to " + w.file.string(), err);
}

[[noreturn]] void throw_unsupported(const std::string& field, const std::string& file, const std::string& why) {
  throw Error("cgroup: " + field + ": " + file + " is not supported by this host's cgroups (" + why + ")");
}

void check_supported(const std::vector<PlannedWrite>& plan) {
  for (const auto& w : plan)
    if (w.check && ::access(w.file.c_str(), F_OK) != 0) throw_unsupported(w.field, w.file.filename().string(), "no " + w.file.string());
}

void apply(const std::vector<PlannedWrite>& plan) {
  // A limit the kernel refuses because of its partner's old value (memory above memsw, a period whose
  // old quota exceeds the parent's) goes in once the partner, next in the plan, has its new value.
  const PlannedWrite* pending = nullptr;
  for (const auto& w : plan) {
    int err = try_write(w.file, w.value);
    if (err == EINVAL && w.deferrable && !pending) {
      pending = &w;
      continue;
    }
    if (err != 0) throw_write(w, err);
    if (pending) {
      if (int e = try_write(pending->file, pending->value)) throw_write(*pending, e);
      pending = nullptr;
    }
  }
  if (pending) throw_write(*pending, EINVAL);
}

// "0-3,5": what the kernel takes in cpuset.cpus and cpuset.mems.
bool valid_cpu_list(const std::string& list) {
  for (const auto& range : split(list, ',')) {
    auto parts = split(range, '-');
    if (parts.size() > 2) return false;
    for (const auto& p : parts)
      if (p.empty() || p.find_first_not_of("0123456789") != std::string::npos) return false;
  }
  return true;
}

bool valid_page_size(const std::string& size) {
  std::size_t digits = size.find_first_not_of("0123456789");
  if (digits == 0 || digits == std::string::npos) return false;
  std::string unit = size.substr(digits);
  return unit == "KB" || unit == "MB" || unit == "GB";
}

// runc's reading of the spec: a zero size, share, quota or period means "not set" (the kernel would refuse
// most of them, and a zero memory limit would kill the container).
oci::Resources without_zeros(oci::Resources r) {
  for (auto* v : {&r.memory.limit, &r.memory.reservation, &r.memory.swap, &r.cpu.quota})
    if (v->value_or(1) == 0) v->reset();
  for (auto* v : {&r.cpu.shares, &r.cpu.period})
    if (v->value_or(1) == 0) v->reset();
  return r;
}

// What both versions refuse, before either looks at the host.
void validate_resources(const oci::Resources& r) {
  const auto& m = r.memory;
  for (const auto& [value, name] : {std::pair{m.limit, "limit"}, std::pair{m.reservation, "reservation"}, std::pair{m.swap, "swap"}})
    if (value && *value < -1)
      throw Error(std::string("linux.resources.memory.") + name + ": " + std::to_string(*value) + " is not a size (-1: unlimited)");
  if (swappiness_set(m) && *m.swappiness > 100)
    throw Error("linux.resources.memory.swappiness: " + std::to_string(*m.swappiness) + " is not in 0..100");
  if (m.swap && *m.swap > 0 && m.limit && *m.limit > 0 && *m.swap < *m.limit)
    throw Error("linux.resources.memory.swap: memory+swap limit (" + std::to_string(*m.swap) +
                ") should be >= memory limit (" + std::to_string(*m.limit) + ")");
  const auto& c = r.cpu;
  if (c.shares && *c.shares != 0 && (*c.shares < 2 || *c.shares > 262144))
    throw Error("linux.resources.cpu.shares: " + std::to_string(*c.shares) + " is not in 2..262144");
  if (c.quota && *c.quota != 0 && *c.quota != -1 && *c.quota < 1000)
    throw Error("linux.resources.cpu.quota: " + std::to_string(*c.quota) + " µs is below the kernel's minimum of 1000 (-1: unlimited)");
  if (c.period && *c.period != 0 && (*c.period < 1000 || *c.period > 1000000))
    throw Error("linux.resources.cpu.period: " + std::to_string(*c.period) + " µs is not in 1000..1000000");
  if (!c.cpus.empty() && !valid_cpu_list(c.cpus)) throw Error("linux.resources.cpu.cpus: \"" + c.cpus + "\" is not a list of CPUs");
  if (!c.mems.empty() && !valid_cpu_list(c.mems)) throw Error("linux.resources.cpu.mems: \"" + c.mems + "\" is not a list of memory nodes");
  if (r.block_io) {
    auto weight = [](const std::optional<std::uint16_t>& w, const std::string& field) {
      if (w && *w != 0 && (*w < 10 || *w > 1000)) throw Error(field + ": " + std::to_string(*w) + " is not in 10..1000");
    };
    weight(r.block_io->weight, "linux.resources.blockIO.weight");
    weight(r.block_io->leaf_weight, "linux.resources.blockIO.leafWeight");
    for (const auto& wd : r.block_io->weight_device) {
      if (wd.major < 0 || wd.minor < 0) throw Error("linux.resources.blockIO.weightDevice: negative device number");
      weight(wd.weight, "linux.resources.blockIO.weightDevice.weight");
      weight(wd.leaf_weight, "linux.resources.blockIO.weightDevice.leafWeight");
    }
    for (const auto* list : {&r.block_io->throttle_read_bps_device, &r.block_io->throttle_write_bps_device,
                             &r.block_io->throttle_read_iops_device, &r.block_io->throttle_write_iops_device})
      for (const auto& td : *list)
        if (td.major < 0 || td.minor < 0) throw Error("linux.resources.blockIO: negative device number in a throttle");
  }
  for (const auto& h : r.hugepage_limits)
    if (!valid_page_size(h.page_size))
      throw Error("linux.resources.hugepageLimits: \"" + h.page_size + "\" is not a page size (e.g. 2MB, 1GB)");
  for (const auto& [key, value] : r.unified) {
    if (key.empty() || key.find('/') != std::string::npos || key.find("..") != std::string::npos)
      throw Error("linux.resources.unified: \"" + key + "\" is not a cgroup file name");
    if (key.find('.') == std::string::npos)
      throw Error("linux.resources.unified: \"" + key + "\" must be in the form CONTROLLER.PARAMETER");
  }
}

std::string device_number(std::int64_t major, std::int64_t minor) { return std::to_string(major) + ":" + std::to_string(minor); }

// The throttle lists with their v1 file and v2 io.max key.
struct Throttle {
  const std::vector<oci::ThrottleDevice>* list;
  const char* v1_file;
  const char* v2_key;
  const char* field;
};
std::vector<Throttle> throttles(const oci::BlockIO& b) {
  return {{&b.throttle_read_bps_device, "blkio.throttle.read_bps_device", "rbps", "linux.resources.blockIO.throttleReadBpsDevice"},
          {&b.throttle_write_bps_device, "blkio.throttle.write_bps_device", "wbps", "linux.resources.blockIO.throttleWriteBpsDevice"},
          {&b.throttle_read_iops_device, "blkio.throttle.read_iops_device", "riops", "linux.resources.blockIO.throttleReadIOPSDevice"},
          {&b.throttle_write_iops_device, "blkio.throttle.write_iops_device", "wiops", "linux.resources.blockIO.throttleWriteIOPSDevice"}};
}

bool block_io_set(const oci::Resources& r) {
  if (!r.block_io) return false;
  const auto& b = *r.block_io;
  bool any = (b.weight && *b.weight) || (b.leaf_weight && *b.leaf_weight) || !b.weight_device.empty();
  for (const auto& t : throttles(b)) any |= !t.list->empty();
  return any;
}

// runc's blkio weight (10..1000) to io.weight (1..10000).
std::uint64_t blkio_weight_to_io_weight(std::uint64_t weight) { return 1 + (weight - 10) * 9999 / 990; }

std::string trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

// The devices policy in a v1 devices cgroup: the default first ("a" resets the list), then the
// exceptions, each file's lines in order.
void write_v1_devices(const fs::path& dir, const DevicePolicy& policy) {
  auto writes = device_cgroup_v1_writes(policy);
  std::vector<std::pair<std::string, std::vector<std::string>>> runs;
  for (auto& [file, line] : writes) {
    if (runs.empty() || runs.back().first != file) runs.emplace_back(file, std::vector<std::string>{});
    runs.back().second.push_back(line);
  }
  for (const auto& [file, lines] : runs) write_lines(dir / file, lines);
}

long sys_bpf(int cmd, union bpf_attr* attr) { return ::syscall(SYS_bpf, cmd, attr, sizeof(*attr)); }

// Attaches the program to the cgroup2 directory in place of the device programs attached there before
// (by create() or an earlier update): added beside them, it could only narrow what they allow.
void replace_device_filter(const fs::path& dir, int program_fd) {
  UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d) throw_errno("cgroup: open " + dir.string());
  std::vector<std::uint32_t> ids(64);
  union bpf_attr query;
  std::memset(&query, 0, sizeof(query));
  query.query.target_fd = static_cast<std::uint32_t>(d.get());
  query.query.attach_type = BPF_CGROUP_DEVICE;
  query.query.prog_ids = reinterpret_cast<std::uint64_t>(ids.data());
  query.query.prog_cnt = static_cast<std::uint32_t>(ids.size());
  if (sys_bpf(BPF_PROG_QUERY, &query) != 0) throw_errno("bpf: query the device programs of " + dir.string());
  ids.resize(query.query.prog_cnt);
  attach_device_filter(d.get(), program_fd, dir.string());
  for (std::uint32_t id : ids) {
    union bpf_attr get;
    std::memset(&get, 0, sizeof(get));
    get.prog_id = id;
    UniqueFd old(static_cast<int>(sys_bpf(BPF_PROG_GET_FD_BY_ID, &get)));
    if (!old) {
      if (errno == ENOENT) continue;  // gone meanwhile
      throw_errno("bpf: open device program " + std::to_string(id) + " of " + dir.string());
    }
    union bpf_attr detach;
    std::memset(&detach, 0, sizeof(detach));
    detach.target_fd = static_cast<std::uint32_t>(d.get());
    detach.attach_bpf_fd = static_cast<std::uint32_t>(old.get());
    detach.attach_type = BPF_CGROUP_DEVICE;
    if (sys_bpf(BPF_PROG_DETACH, &detach) != 0 && errno != ENOENT)
      throw_errno("bpf: detach the previous device program from " + dir.string());
  }
}

// ---- freezer ----

// v1: FROZEN until the state reads so. As runc does: a cgroup whose processes keep forking can stay
// FREEZING, so the write is repeated, with an occasional thaw to let them settle.
void freeze_v1(const fs::path& dir) {
  fs::path state = dir / "freezer.state";
  auto undo = [&] { try_write(state, "THAWED"); };
  for (int i = 0; i < 1000; ++i) {
    if (i % 50 == 49) {
      undo();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (int err = try_write(state, "FROZEN")) throw SystemError("cgroup: write FROZEN to " + state.string(), err);
    if (i % 25 == 24) std::this_thread::sleep_for(std::chrono::microseconds(10));
    std::string now = trimmed(read_value(state).value_or(""));
    if (now == "FROZEN") return;
    if (now != "FREEZING") {
      undo();
      throw Error("cgroup: " + state.string() + " reads \"" + now + "\" after writing FROZEN");
    }
  }
  undo();
  throw Error("cgroup: unable to freeze " + dir.string() + ": it stayed FREEZING");
}

void thaw_v1(const fs::path& dir) {
  fs::path state = dir / "freezer.state";
  if (int err = try_write(state, "THAWED")) throw SystemError("cgroup: write THAWED to " + state.string(), err);
  Backoff backoff;
  do {
    if (trimmed(read_value(state).value_or("")) == "THAWED") return;
  } while (backoff.wait());
  throw Error("cgroup: " + dir.string() + " did not thaw");
}

// v2: cgroup.freeze, then cgroup.events' "frozen" once every task has stopped (or runs again).
void set_frozen_v2(const fs::path& dir, bool frozen) {
  fs::path freeze = dir / "cgroup.freeze";
  if (int err = try_write(freeze, frozen ? "1" : "0")) throw SystemError("cgroup: write to " + freeze.string(), err);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto step = std::chrono::microseconds(50);
  while (stat_field(dir / "cgroup.events", "frozen") != (frozen ? 1u : 0u)) {
    if (std::chrono::steady_clock::now() > deadline) {
      if (frozen) try_write(freeze, "0");
      throw Error("cgroup: " + dir.string() + (frozen ? " did not freeze" : " did not thaw") + " within 5 s");
    }
    std::this_thread::sleep_for(step);
    step = std::min<std::chrono::microseconds>(step * 2, std::chrono::milliseconds(10));
  }
}

bool frozen_v2(const fs::path& dir) { return trimmed(read_value(dir / "cgroup.freeze").value_or("")) == "1"; }

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
    if (l.cpus) write_value(dir_ / "cpu.max", std::to_string(cpu_quota_us(*l.cpus)) + " " + std::to_string(kCpuPeriod));
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
  void destroy(const CgroupPaths& owned_tops) override {
    if (::access(dir_.c_str(), F_OK) == 0) empty_cgroup(dir_);
    if (created_.empty()) created_.push_back(dir_);
    const fs::path above = created_.front().parent_path();
    remove_created(created_, dir_);
    if (auto top = lookup_path(owned_tops, "")) remove_owned_parents(mount_, above, *top);
  }
  void release() override { released_ = true; }
  std::vector<fs::path> paths() const override { return {dir_}; }

  void update(const oci::Resources& given) override {
    const oci::Resources r = without_zeros(given);
    validate_resources(r);
    const auto& m = r.memory;
    if (swappiness_set(m)) throw Error("linux.resources.memory.swappiness is not supported on cgroup v2");
    if (m.disable_oom_killer) throw Error("linux.resources.memory.disableOOMKiller is not supported on cgroup v2");
    // v2 counts swap alone; the OCI value is memory + swap, so it needs the memory limit (runc's rule).
    if (m.swap && *m.swap > 0 && (!m.limit || *m.limit <= 0))
      throw Error("linux.resources.memory.swap: unable to set a swap limit without a memory limit on cgroup v2");
    if (r.block_io) {
      bool leaf = r.block_io->leaf_weight && *r.block_io->leaf_weight;
      for (const auto& wd : r.block_io->weight_device) leaf |= wd.leaf_weight && *wd.leaf_weight;
      if (leaf) throw Error("linux.resources.blockIO.leafWeight is not supported on cgroup v2");
    }
    UniqueFd device_program;
    if (!r.devices.empty()) device_program = load_device_filter(device_filter_program(r.devices));

    // The controllers the fields need, enabled in every parent (what create() enabled stays).
    std::vector<std::pair<std::string, std::string>> needs;  // controller, field
    if (m.limit || m.reservation || m.swap) needs.emplace_back("memory", "linux.resources.memory");
    const auto& c = r.cpu;
    if ((c.shares && *c.shares) || (c.quota && *c.quota) || (c.period && *c.period)) needs.emplace_back("cpu", "linux.resources.cpu");
    if (!c.cpus.empty() || !c.mems.empty()) needs.emplace_back("cpuset", "linux.resources.cpu.cpus/mems");
    if (r.pids_limit) needs.emplace_back("pids", "linux.resources.pids");
    if (block_io_set(r)) needs.emplace_back("io", "linux.resources.blockIO");
    if (!r.hugepage_limits.empty()) needs.emplace_back("hugetlb", "linux.resources.hugepageLimits");
    for (const auto& [key, value] : r.unified)
      if (std::string controller = key.substr(0, key.find('.')); controller != "cgroup")
        needs.emplace_back(controller, "linux.resources.unified." + key);
    auto available = split(trimmed(read_value(mount_ / "cgroup.controllers").value_or("")), ' ');
    std::vector<std::string> wanted;
    for (const auto& [controller, field] : needs) {
      if (std::find(available.begin(), available.end(), controller) == available.end())
        throw_unsupported(field, "the " + controller + " controller", "not in " + (mount_ / "cgroup.controllers").string());
      if (std::find(wanted.begin(), wanted.end(), controller) == wanted.end()) wanted.push_back(controller);
    }
    if (!wanted.empty()) {
      fs::path current = mount_;
      for (const auto& part : fs::path(path_).relative_path()) {
        enable_controllers(current, wanted);
        current /= part;
      }
    }

    std::vector<PlannedWrite> plan;
    auto add = [&](const std::string& file, std::string value, const std::string& field) {
      plan.push_back({dir_ / file, std::move(value), field});
    };
    auto bytes = [](std::int64_t v) { return v == -1 ? std::string("max") : std::to_string(v); };
    // Swap first, as runc: memory.swap.max and memory.max are independent on v2.
    if (m.swap && *m.swap != 0) {
      add("memory.swap.max", *m.swap == -1 ? "max" : std::to_string(*m.swap - *m.limit), "linux.resources.memory.swap");
    } else if (!m.swap && m.limit == -1 && ::access((dir_ / "memory.swap.max").c_str(), F_OK) == 0) {
      add("memory.swap.max", "max", "linux.resources.memory.swap");  // unlimited memory: swap too, as on v1
    }
    if (m.limit) add("memory.max", bytes(*m.limit), "linux.resources.memory.limit");
    if (m.reservation) add("memory.low", bytes(*m.reservation), "linux.resources.memory.reservation");
    if (c.shares && *c.shares) add("cpu.weight", std::to_string(cpu_shares_to_weight(*c.shares)), "linux.resources.cpu.shares");
    if ((c.quota && *c.quota) || (c.period && *c.period)) {
      // cpu.max is "quota period"; a period alone keeps the quota there is.
      std::string quota;
      if (c.quota && *c.quota) quota = *c.quota < 0 ? "max" : std::to_string(*c.quota);
      else quota = split(trimmed(read_value(dir_ / "cpu.max").value_or("max")), ' ').front();
      if (c.period && *c.period) quota += " " + std::to_string(*c.period);
      add("cpu.max", quota, c.quota && *c.quota ? "linux.resources.cpu.quota" : "linux.resources.cpu.period");
    }
    if (!c.cpus.empty()) add("cpuset.cpus", c.cpus, "linux.resources.cpu.cpus");
    if (!c.mems.empty()) add("cpuset.mems", c.mems, "linux.resources.cpu.mems");
    if (r.pids_limit) add("pids.max", *r.pids_limit > 0 ? std::to_string(*r.pids_limit) : "max", "linux.resources.pids.limit");
    if (block_io_set(r)) {
      const auto& b = *r.block_io;
      // BFQ takes blkio's own scale; the io controller's weight is 1..10000.
      bool bfq = ::access((dir_ / "io.bfq.weight").c_str(), F_OK) == 0;
      auto weight = [&](std::uint16_t w) { return std::to_string(bfq ? w : blkio_weight_to_io_weight(w)); };
      const std::string weight_file = bfq ? "io.bfq.weight" : "io.weight";
      if (b.weight && *b.weight) add(weight_file, weight(*b.weight), "linux.resources.blockIO.weight");
      for (const auto& wd : b.weight_device)
        if (wd.weight && *wd.weight)
          add(weight_file, device_number(wd.major, wd.minor) + " " + weight(*wd.weight), "linux.resources.blockIO.weightDevice");
      for (const auto& t : throttles(b))
        for (const auto& td : *t.list)
          add("io.max", device_number(td.major, td.minor) + " " + t.v2_key + "=" + std::to_string(td.rate), t.field);
    }
    for (const auto& h : r.hugepage_limits)
      add("hugetlb." + h.page_size + ".max", std::to_string(h.limit), "linux.resources.hugepageLimits");
    for (const auto& [key, value] : r.unified) add(key, value, "linux.resources.unified." + key);

    check_supported(plan);
    apply(plan);
    if (device_program) replace_device_filter(dir_, device_program.get());
  }

  void freeze() override {
    require_freezer();
    set_frozen_v2(dir_, true);
  }
  void thaw() override {
    require_freezer();
    set_frozen_v2(dir_, false);
  }
  bool frozen() const override { return frozen_v2(dir_); }
  CgroupStats stats() const override { return cgroup_detail::read_stats_v2(dir_); }

 private:
  void require_freezer() const {
    if (::access((dir_ / "cgroup.freeze").c_str(), F_OK) != 0)
      throw Error("cgroup: this host's cgroups have no freezer (no " + (dir_ / "cgroup.freeze").string() + ")");
  }

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
      make_levels(h, *leaf, d.created);
    }
    if (auto mem = dir("memory")) {
      if (l.memory) write_value(*mem / "memory.limit_in_bytes", std::to_string(*l.memory));
      if (l.memory_swap && ::access((*mem / "memory.memsw.limit_in_bytes").c_str(), F_OK) == 0)
        write_value(*mem / "memory.memsw.limit_in_bytes", std::to_string(*l.memory_swap));
    }
    if (auto cpu = dir("cpu")) {
      if (l.cpus) {
        write_value(*cpu / "cpu.cfs_period_us", std::to_string(kCpuPeriod));
        write_value(*cpu / "cpu.cfs_quota_us", std::to_string(cpu_quota_us(*l.cpus)));
      }
      if (l.cpu_shares) write_value(*cpu / "cpu.shares", std::to_string(*l.cpu_shares));
    }
    if (auto pids = dir("pids"); pids && l.pids) write_value(*pids / "pids.max", *l.pids < 0 ? "max" : std::to_string(*l.pids));
    if (auto cpuset = dir("cpuset"); cpuset && l.cpuset_cpus) write_value(*cpuset / "cpuset.cpus", *l.cpuset_cpus);
    if (auto dev = dir("devices"); dev && devices) write_v1_devices(*dev, *devices);
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

  void destroy(const CgroupPaths& owned_tops) override {
    if (!created_) {
      // A fresh object for an existing cgroup: its directory in every hierarchy, also where it is gone
      // already (an earlier destroy may have ended before the parents).
      dirs_.clear();
      for (const auto& h : hierarchies_)
        if (auto leaf = leaf_dir(h, paths_)) dirs_.push_back(Dir{h, *leaf, {}});
    }
    for (const auto& d : dirs_)
      if (::access(d.leaf.c_str(), F_OK) == 0) empty_cgroup(d.leaf);
    for (auto& d : dirs_) {
      if (d.created.empty()) d.created.push_back(d.leaf);
      const fs::path above = d.created.front().parent_path();
      remove_created(d.created, d.leaf);
      if (auto top = lookup_path(owned_tops, d.hierarchy.key)) remove_owned_parents(d.hierarchy.dir, above, *top);
    }
  }

  void release() override { released_ = true; }

  std::vector<fs::path> paths() const override {
    std::vector<fs::path> out;
    for (const auto& d : current_dirs()) out.push_back(d.leaf);
    return out;
  }

  void update(const oci::Resources& given) override {
    const oci::Resources r = without_zeros(given);
    validate_resources(r);
    if (!r.unified.empty()) throw Error("linux.resources.unified requires cgroup v2");
    // The directory of the hierarchy a field needs; its absence names the file the field would write.
    auto need = [&](const std::string& controller, const std::string& field, const std::string& file) -> fs::path {
      if (auto d = dir(controller)) return *d;
      throw_unsupported(field, file, "no " + controller + " hierarchy");
    };
    std::vector<PlannedWrite> plan;

    const auto& m = r.memory;
    if (m.limit || m.reservation || m.swap || swappiness_set(m) || m.disable_oom_killer) {
      fs::path d = need("memory", "linux.resources.memory", "memory.limit_in_bytes");
      std::optional<std::int64_t> swap = m.swap;
      // Unlimited memory without a swap value: unlimited memory+swap too (runc), where the host counts swap.
      if (m.limit == -1 && !swap && ::access((d / "memory.memsw.limit_in_bytes").c_str(), F_OK) == 0) swap = -1;
      PlannedWrite limit{d / "memory.limit_in_bytes", m.limit ? std::to_string(*m.limit) : "", "linux.resources.memory.limit", true};
      PlannedWrite memsw{d / "memory.memsw.limit_in_bytes", swap ? std::to_string(*swap) : "", "linux.resources.memory.swap", true};
      if (m.limit && swap) {
        // The kernel keeps memory <= memory+swap at every step: raise memsw first when it grows past
        // the current memory limit, else lower memory first (a refused write is retried after the other).
        std::uint64_t current = stat_number(d / "memory.limit_in_bytes");
        if (*swap == -1 || current < static_cast<std::uint64_t>(*swap)) plan.insert(plan.end(), {memsw, limit});
        else plan.insert(plan.end(), {limit, memsw});
      } else if (m.limit) {
        plan.push_back(limit);
      } else if (swap) {
        plan.push_back(memsw);
      }
      if (m.reservation) plan.push_back({d / "memory.soft_limit_in_bytes", std::to_string(*m.reservation), "linux.resources.memory.reservation"});
      if (swappiness_set(m)) plan.push_back({d / "memory.swappiness", std::to_string(*m.swappiness), "linux.resources.memory.swappiness"});
      if (m.disable_oom_killer) plan.push_back({d / "memory.oom_control", "1", "linux.resources.memory.disableOOMKiller"});
    }

    const auto& c = r.cpu;
    bool shares = c.shares && *c.shares, quota = c.quota && *c.quota, period = c.period && *c.period;
    if (shares || quota || period) {
      fs::path d = need("cpu", "linux.resources.cpu", "cpu.cfs_quota_us");
      if (shares) plan.push_back({d / "cpu.shares", std::to_string(*c.shares), "linux.resources.cpu.shares"});
      // A shorter period can be refused while the old quota would exceed the parent's: then after the quota.
      if (period) plan.push_back({d / "cpu.cfs_period_us", std::to_string(*c.period), "linux.resources.cpu.period", quota});
      if (quota) plan.push_back({d / "cpu.cfs_quota_us", std::to_string(*c.quota), "linux.resources.cpu.quota"});
    }

    // cpuset: create() makes this cgroup only when asked; cpus or mems make it here.
    std::optional<CgroupHierarchy> cpuset;
    fs::path cpuset_leaf;
    bool make_cpuset = false;
    if (!c.cpus.empty() || !c.mems.empty()) {
      for (const auto& h : hierarchies_)
        if (key_has(h.key, "cpuset")) cpuset = h;
      if (!cpuset) throw_unsupported(c.cpus.empty() ? "linux.resources.cpu.mems" : "linux.resources.cpu.cpus", "cpuset.cpus", "no cpuset hierarchy");
      auto leaf = leaf_dir(*cpuset, paths_);
      if (!leaf) throw Error("cgroup: the cgroup has no path in the cpuset hierarchy");
      cpuset_leaf = *leaf;
      make_cpuset = ::access(cpuset_leaf.c_str(), F_OK) != 0;
      if (make_cpuset && ::access((cpuset->dir / "cpuset.cpus").c_str(), F_OK) != 0)
        throw_unsupported("linux.resources.cpu.cpus", "cpuset.cpus", "no " + (cpuset->dir / "cpuset.cpus").string());
      if (!c.cpus.empty()) plan.push_back({cpuset_leaf / "cpuset.cpus", c.cpus, "linux.resources.cpu.cpus", false, !make_cpuset});
      if (!c.mems.empty()) plan.push_back({cpuset_leaf / "cpuset.mems", c.mems, "linux.resources.cpu.mems", false, !make_cpuset});
    }

    if (r.pids_limit)
      plan.push_back({need("pids", "linux.resources.pids.limit", "pids.max") / "pids.max",
                      *r.pids_limit > 0 ? std::to_string(*r.pids_limit) : "max", "linux.resources.pids.limit"});

    if (block_io_set(r)) {
      const auto& b = *r.block_io;
      fs::path d = need("blkio", "linux.resources.blockIO", "blkio.weight");
      // CFQ's files where the kernel has them, else BFQ's (runc's choice).
      bool cfq = ::access((d / "blkio.weight").c_str(), F_OK) == 0;
      const std::string weight_file = cfq ? "blkio.weight" : "blkio.bfq.weight";
      const std::string weight_device_file = cfq ? "blkio.weight_device" : "blkio.bfq.weight_device";
      if (b.weight && *b.weight) plan.push_back({d / weight_file, std::to_string(*b.weight), "linux.resources.blockIO.weight"});
      if (b.leaf_weight && *b.leaf_weight)
        plan.push_back({d / "blkio.leaf_weight", std::to_string(*b.leaf_weight), "linux.resources.blockIO.leafWeight"});
      for (const auto& wd : b.weight_device) {
        std::string device = device_number(wd.major, wd.minor);
        if (wd.weight && *wd.weight)
          plan.push_back({d / weight_device_file, device + " " + std::to_string(*wd.weight), "linux.resources.blockIO.weightDevice"});
        if (wd.leaf_weight && *wd.leaf_weight)
          plan.push_back({d / "blkio.leaf_weight_device", device + " " + std::to_string(*wd.leaf_weight),
                          "linux.resources.blockIO.weightDevice.leafWeight"});
      }
      for (const auto& t : throttles(b))
        for (const auto& td : *t.list)
          plan.push_back({d / t.v1_file, device_number(td.major, td.minor) + " " + std::to_string(td.rate), t.field});
    }

    for (const auto& h : r.hugepage_limits) {
      std::string file = "hugetlb." + h.page_size + ".limit_in_bytes";
      plan.push_back({need("hugetlb", "linux.resources.hugepageLimits", file) / file, std::to_string(h.limit),
                      "linux.resources.hugepageLimits"});
    }

    std::optional<DevicePolicy> devices;
    fs::path devices_dir;
    if (!r.devices.empty()) {
      devices = device_policy(r.devices);
      devices_dir = need("devices", "linux.resources.devices", "devices.allow");
      for (const char* f : {"devices.allow", "devices.deny"})
        if (::access((devices_dir / f).c_str(), F_OK) != 0) throw_unsupported("linux.resources.devices", f, "no " + (devices_dir / f).string());
    }

    check_supported(plan);
    std::vector<pid_t> to_move;
    if (make_cpuset) {
      std::vector<fs::path> created;
      make_levels(*cpuset, cpuset_leaf, created);
      if (created_) dirs_.push_back(Dir{*cpuset, cpuset_leaf, std::move(created)});
      to_move = processes();
    }
    apply(plan);
    // The cgroup's processes join the cpuset cgroup made for them (once it has its cpus and mems).
    for (pid_t p : to_move)
      if (int err = try_write(cpuset_leaf / "cgroup.procs", std::to_string(p)); err != 0 && err != ESRCH)
        throw SystemError("cgroup: move " + std::to_string(p) + " into " + cpuset_leaf.string(), err);
    if (devices) write_v1_devices(devices_dir, *devices);
  }

  void freeze() override {
    if (auto d = dir("freezer")) return freeze_v1(*d);
    return set_frozen_v2(freezer_v2(), true);
  }
  void thaw() override {
    if (auto d = dir("freezer")) return thaw_v1(*d);
    return set_frozen_v2(freezer_v2(), false);
  }
  bool frozen() const override {
    if (auto d = dir("freezer")) return trimmed(read_value(*d / "freezer.state").value_or("")) == "FROZEN";
    auto u = unified();
    return u && frozen_v2(*u);
  }
  CgroupStats stats() const override {
    return cgroup_detail::read_stats_v1([this](const std::string& controller) { return dir(controller); });
  }

 private:
  // Makes the directories down to `leaf`; a v1 cpuset cgroup admits no task until cpus and mems are set,
  // so each new level there inherits its parent's.
  static void make_levels(const CgroupHierarchy& h, const fs::path& leaf, std::vector<fs::path>& created) {
    make_cgroup_dirs(h.dir, leaf, created);
    if (key_has(h.key, "cpuset"))
      for (const auto& level : created)
        for (const char* f : {"cpuset.cpus", "cpuset.mems"})
          if (read_value(level / f).value_or("").find_first_not_of(" \n") == std::string::npos)
            write_value(level / f, read_value(level.parent_path() / f).value_or(""));
  }

  // The cgroup's directory in the unified hierarchy of a hybrid host.
  std::optional<fs::path> unified() const {
    for (const auto& d : current_dirs())
      if (d.hierarchy.key.empty()) return d.leaf;
    return std::nullopt;
  }
  // Without a v1 freezer hierarchy, a hybrid host's unified one freezes (cgroup.freeze, Linux 5.2).
  fs::path freezer_v2() const {
    auto u = unified();
    if (!u || ::access((*u / "cgroup.freeze").c_str(), F_OK) != 0)
      throw Error("cgroup: this host's cgroups have no freezer (no freezer hierarchy, no cgroup.freeze)");
    return *u;
  }

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

std::uint64_t cpu_shares_to_weight(std::uint64_t shares) {
  if (shares == 0) return 100;
  shares = std::clamp<std::uint64_t>(shares, 2, 262144);
  return 1 + ((shares - 2) * 9999) / 262142;
}

}  // namespace cppcker
