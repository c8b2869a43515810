// Statistics of a cgroup as runc reports them (`runc events --stats`), and runc's cgroupsPath.
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <sstream>

#include "cgroup_internal.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

namespace cgroup_detail {
namespace {

constexpr std::uint64_t kUnlimited = std::numeric_limits<std::uint64_t>::max();

std::optional<std::string> read_text(const fs::path& file) {
  try {
    return read_file_if_exists(file);
  } catch (const Error&) {
    return std::nullopt;
  }
}

// A file of one number; "max" is unlimited; absent or unreadable: 0.
std::uint64_t read_number(const fs::path& file) {
  auto text = read_text(file);
  if (!text) return 0;
  std::istringstream in(*text);
  std::string word;
  if (!(in >> word)) return 0;
  if (word == "max") return kUnlimited;
  try {
    // v1 reads "-1" nowhere, but a limit may read 9223372036854771712 (unlimited, page-aligned).
    return word.front() == '-' ? 0 : std::stoull(word);
  } catch (const std::exception&) {
    return 0;
  }
}

// "key value" lines (memory.stat, cpu.stat, memory.events).
std::map<std::string, std::uint64_t> read_flat_keyed(const fs::path& file) {
  std::map<std::string, std::uint64_t> out;
  auto text = read_text(file);
  if (!text) return out;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key, value;
    if (!(words >> key >> value)) continue;
    try {
      out[key] = value == "max" ? kUnlimited : std::stoull(value);
    } catch (const std::exception&) {
    }
  }
  return out;
}

std::uint64_t get(const std::map<std::string, std::uint64_t>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

// v1 blkio files: "8:0 Read 4096" lines and a closing "Total 4096" line (which runc skips).
std::vector<CgroupStats::BlkioEntry> read_blkio_v1(const fs::path& file) {
  std::vector<CgroupStats::BlkioEntry> out;
  auto text = read_text(file);
  if (!text) return out;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string device, op;
    std::uint64_t value = 0;
    if (!(words >> device >> op >> value)) continue;
    auto colon = device.find(':');
    if (colon == std::string::npos) continue;
    try {
      out.push_back({std::stoull(device.substr(0, colon)), std::stoull(device.substr(colon + 1)), op, value});
    } catch (const std::exception&) {
    }
  }
  return out;
}

// The page sizes a hugetlb directory has files for ("hugetlb.2MB.<suffix>"), in order.
std::vector<std::string> hugetlb_sizes(const fs::path& dir, const std::string& suffix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    std::string tail = "." + suffix;
    if (name.starts_with("hugetlb.") && name.ends_with(tail) && name.size() > 8 + tail.size())
      out.push_back(name.substr(8, name.size() - 8 - tail.size()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

CgroupStats read_stats_v1(const ControllerDir& dir) {
  CgroupStats s;
  if (auto d = dir("cpuacct")) {
    s.cpu.total = read_number(*d / "cpuacct.usage");
    if (auto percpu = read_text(*d / "cpuacct.usage_percpu")) {
      std::istringstream in(*percpu);
      std::uint64_t v;
      while (in >> v) s.cpu.percpu.push_back(v);
    }
    // cpuacct.stat counts clock ticks; runc converts them to nanoseconds.
    auto ticks = read_flat_keyed(*d / "cpuacct.stat");
    long hz = ::sysconf(_SC_CLK_TCK);
    std::uint64_t ns_per_tick = hz > 0 ? 1000000000ull / static_cast<std::uint64_t>(hz) : 10000000ull;
    s.cpu.user = get(ticks, "user") * ns_per_tick;
    s.cpu.kernel = get(ticks, "system") * ns_per_tick;
  }
  if (auto d = dir("cpu")) {
    auto stat = read_flat_keyed(*d / "cpu.stat");
    s.cpu.periods = get(stat, "nr_periods");
    s.cpu.throttled_periods = get(stat, "nr_throttled");
    s.cpu.throttled_time = get(stat, "throttled_time");
  }
  if (auto d = dir("memory")) {
    s.memory.raw = read_flat_keyed(*d / "memory.stat");
    s.memory.cache = get(s.memory.raw, "cache");
    auto entry = [&](const std::string& prefix) {
      CgroupStats::MemoryEntry e;
      e.usage = read_number(*d / (prefix + "usage_in_bytes"));
      e.max = read_number(*d / (prefix + "max_usage_in_bytes"));
      e.failcnt = read_number(*d / (prefix + "failcnt"));
      e.limit = read_number(*d / (prefix + "limit_in_bytes"));
      return e;
    };
    s.memory.usage = entry("memory.");
    s.memory.swap = entry("memory.memsw.");  // v1 counts memory + swap, as runc reports it
    s.memory.kernel = entry("memory.kmem.");
    s.memory.kernel_tcp = entry("memory.kmem.tcp.");
  }
  if (auto d = dir("pids")) {
    s.pids.current = read_number(*d / "pids.current");
    std::uint64_t limit = read_number(*d / "pids.max");
    s.pids.limit = limit == kUnlimited ? 0 : limit;
  }
  if (auto d = dir("blkio")) {
    // runc's order: CFQ's files, else BFQ's, else the throttle policy's (which always counts).
    for (const char* prefix : {"blkio.", "blkio.bfq.", "blkio.throttle."}) {
      auto bytes = read_blkio_v1(*d / (std::string(prefix) + "io_service_bytes_recursive"));
      auto ios = read_blkio_v1(*d / (std::string(prefix) + "io_serviced_recursive"));
      if (bytes.empty() && ios.empty() && std::string(prefix) != "blkio.throttle.") continue;
      s.blkio.io_service_bytes_recursive = std::move(bytes);
      s.blkio.io_serviced_recursive = std::move(ios);
      break;
    }
  }
  if (auto d = dir("hugetlb")) {
    for (const auto& size : hugetlb_sizes(*d, "usage_in_bytes")) {
      std::string base = "hugetlb." + size + ".";
      s.hugetlb[size] = {read_number(*d / (base + "usage_in_bytes")), read_number(*d / (base + "max_usage_in_bytes")),
                         read_number(*d / (base + "failcnt"))};
    }
  }
  return s;
}

CgroupStats read_stats_v2(const fs::path& dir) {
  CgroupStats s;
  auto cpu = read_flat_keyed(dir / "cpu.stat");
  s.cpu.total = get(cpu, "usage_usec") * 1000;
  s.cpu.user = get(cpu, "user_usec") * 1000;
  s.cpu.kernel = get(cpu, "system_usec") * 1000;
  s.cpu.periods = get(cpu, "nr_periods");
  s.cpu.throttled_periods = get(cpu, "nr_throttled");
  s.cpu.throttled_time = get(cpu, "throttled_usec") * 1000;

  s.memory.raw = read_flat_keyed(dir / "memory.stat");
  s.memory.cache = get(s.memory.raw, "file");
  s.memory.usage.usage = read_number(dir / "memory.current");
  s.memory.usage.limit = read_number(dir / "memory.max");
  s.memory.usage.max = read_number(dir / "memory.peak");
  s.memory.usage.failcnt = get(read_flat_keyed(dir / "memory.events"), "max");
  // runc reports v2's swap as memory + swap, as v1's memsw counts it.
  s.memory.swap.usage = read_number(dir / "memory.swap.current") + s.memory.usage.usage;
  s.memory.swap.limit = read_number(dir / "memory.swap.max");
  if (s.memory.swap.limit != kUnlimited && s.memory.usage.limit != kUnlimited) s.memory.swap.limit += s.memory.usage.limit;
  else s.memory.swap.limit = kUnlimited;
  s.memory.swap.failcnt = get(read_flat_keyed(dir / "memory.swap.events"), "max");

  s.pids.current = read_number(dir / "pids.current");
  std::uint64_t limit = read_number(dir / "pids.max");
  s.pids.limit = limit == kUnlimited ? 0 : limit;

  // io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" per device.
  if (auto text = read_text(dir / "io.stat")) {
    std::istringstream in(*text);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream words(line);
      std::string device, field;
      if (!(words >> device)) continue;
      auto colon = device.find(':');
      if (colon == std::string::npos) continue;
      std::uint64_t major = 0, minor = 0;
      try {
        major = std::stoull(device.substr(0, colon));
        minor = std::stoull(device.substr(colon + 1));
      } catch (const std::exception&) {
        continue;
      }
      while (words >> field) {
        auto eq = field.find('=');
        if (eq == std::string::npos) continue;
        std::string key = field.substr(0, eq);
        std::uint64_t value = 0;
        try {
          value = std::stoull(field.substr(eq + 1));
        } catch (const std::exception&) {
          continue;
        }
        if (key == "rbytes") s.blkio.io_service_bytes_recursive.push_back({major, minor, "Read", value});
        else if (key == "wbytes") s.blkio.io_service_bytes_recursive.push_back({major, minor, "Write", value});
        else if (key == "rios") s.blkio.io_serviced_recursive.push_back({major, minor, "Read", value});
        else if (key == "wios") s.blkio.io_serviced_recursive.push_back({major, minor, "Write", value});
      }
    }
  }

  for (const auto& size : hugetlb_sizes(dir, "current")) {
    std::string base = "hugetlb." + size + ".";
    s.hugetlb[size] = {read_number(dir / (base + "current")), read_number(dir / (base + "max")),
                       get(read_flat_keyed(dir / (base + "events")), "max")};
  }
  return s;
}

}  // namespace cgroup_detail

nlohmann::json runc_stats_json(const CgroupStats& s) {
  using nlohmann::json;
  // Go's encoding/json with runc's tags (types/events.go): "omitempty" numbers and lists vanish when 0 or
  // empty, structs never do.
  auto put = [](json& j, const char* key, std::uint64_t v) {
    if (v != 0) j[key] = v;
  };
  json usage = {{"kernel", s.cpu.kernel}, {"user", s.cpu.user}};
  put(usage, "total", s.cpu.total);
  if (!s.cpu.percpu.empty()) usage["percpu"] = s.cpu.percpu;
  json throttling = json::object();
  put(throttling, "periods", s.cpu.periods);
  put(throttling, "throttledPeriods", s.cpu.throttled_periods);
  put(throttling, "throttledTime", s.cpu.throttled_time);

  auto entry = [&](const CgroupStats::MemoryEntry& e) {
    json j = {{"limit", e.limit}, {"failcnt", e.failcnt}};
    put(j, "usage", e.usage);
    put(j, "max", e.max);
    return j;
  };
  json memory = {{"usage", entry(s.memory.usage)},
                 {"swap", entry(s.memory.swap)},
                 {"kernel", entry(s.memory.kernel)},
                 {"kernelTCP", entry(s.memory.kernel_tcp)}};
  put(memory, "cache", s.memory.cache);
  if (!s.memory.raw.empty()) memory["raw"] = s.memory.raw;

  json pids = json::object();
  put(pids, "current", s.pids.current);
  put(pids, "limit", s.pids.limit);

  auto entries = [&](const std::vector<CgroupStats::BlkioEntry>& list) {
    json a = json::array();
    for (const auto& e : list) {
      json j = json::object();
      put(j, "major", e.major);
      put(j, "minor", e.minor);
      if (!e.op.empty()) j["op"] = e.op;
      put(j, "value", e.value);
      a.push_back(std::move(j));
    }
    return a;
  };
  json blkio = json::object();
  if (!s.blkio.io_service_bytes_recursive.empty()) blkio["ioServiceBytesRecursive"] = entries(s.blkio.io_service_bytes_recursive);
  if (!s.blkio.io_serviced_recursive.empty()) blkio["ioServicedRecursive"] = entries(s.blkio.io_serviced_recursive);

  json hugetlb = json::object();
  for (const auto& [size, h] : s.hugetlb) {
    json j = {{"failcnt", h.failcnt}};
    put(j, "usage", h.usage);
    put(j, "max", h.max);
    hugetlb[size] = std::move(j);
  }
  return {{"cpu", {{"usage", usage}, {"throttling", throttling}}},
          {"memory", memory},
          {"pids", pids},
          {"blkio", blkio},
          {"hugetlb", hugetlb},
          {"intel_rdt", json::object()},
          {"network_interfaces", nullptr}};
}

namespace {

bool has_dot_dot(const std::string& path) {
  std::size_t begin = 0;
  while (begin <= path.size()) {
    std::size_t end = path.find('/', begin);
    if (end == std::string::npos) end = path.size();
    if (path.compare(begin, end - begin, "..") == 0 && end - begin == 2) return true;
    begin = end + 1;
  }
  return false;
}

// systemd's slice nesting: "a-b-c.slice" lies in a.slice/a-b.slice/; "-.slice" is the root.
std::string expand_slice(const std::string& slice) {
  const std::string suffix = ".slice";
  auto bad = [&] { return Error("cgroupsPath: invalid slice name \"" + slice + "\""); };
  if (slice.size() <= suffix.size() || !slice.ends_with(suffix) || slice.find('/') != std::string::npos) throw bad();
  if (slice == "-.slice") return "/";
  std::string name = slice.substr(0, slice.size() - suffix.size());
  if (name.front() == '-' || name.back() == '-' || name.find("--") != std::string::npos) throw bad();
  std::string path;
  std::size_t begin = 0;
  while (true) {
    std::size_t dash = name.find('-', begin);
    std::string component = name.substr(0, dash);
    path += "/" + component + suffix;
    if (dash == std::string::npos) break;
    begin = dash + 1;
  }
  return path;
}

}  // namespace

CgroupPaths oci_cgroup_paths(const std::string& cgroups_path, const std::string& id, std::string_view proc_cgroup,
                             const std::vector<std::string>& keys) {
  if (has_dot_dot(cgroups_path)) throw Error("cgroupsPath \"" + cgroups_path + "\" must not contain \"..\"");
  if (cgroups_path.find(':') != std::string::npos) {
    // runc's systemd form "slice:prefix:name", laid out below the hierarchies' roots as systemd would.
    std::vector<std::string> parts;
    std::size_t begin = 0;
    while (true) {
      std::size_t colon = cgroups_path.find(':', begin);
      parts.push_back(cgroups_path.substr(begin, colon == std::string::npos ? std::string::npos : colon - begin));
      if (colon == std::string::npos) break;
      begin = colon + 1;
    }
    if (parts.size() != 3 || parts[2].empty() || parts[1].find('/') != std::string::npos ||
        parts[2].find('/') != std::string::npos)
      throw Error("expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got \"" +
                  cgroups_path + "\" instead");
    std::string slice = expand_slice(parts[0].empty() ? "system.slice" : parts[0]);
    // As runc names the unit: a name that is a slice is the unit itself, else a scope.
    std::string unit = parts[2].ends_with(".slice") ? parts[2]
                       : parts[1].empty()           ? parts[2] + ".scope"
                                                    : parts[1] + "-" + parts[2] + ".scope";
    return {{"", (slice == "/" ? "" : slice) + "/" + unit}};
  }
  if (!cgroups_path.empty() && cgroups_path.front() == '/') {
    fs::path normal = fs::path(cgroups_path).lexically_normal();
    if (normal == "/") throw Error("cgroupsPath \"" + cgroups_path + "\" names the root cgroup");
    return {{"", normal.string()}};
  }
  // Relative (or empty: the container's id), below the caller's own cgroup in each hierarchy.
  std::string rel = cgroups_path.empty() ? id : fs::path(cgroups_path).lexically_normal().string();
  while (!rel.empty() && rel.back() == '/') rel.pop_back();
  if (rel.empty() || rel == ".") throw Error("cgroupsPath \"" + cgroups_path + "\" names no cgroup");
  CgroupPaths out;
  for (const auto& key : keys) {
    std::string own = cgroup_path_in(proc_cgroup, key);
    if (own == "/") own.clear();
    out[key] = own + "/" + rel;
  }
  return out;
}

CgroupPaths oci_cgroup_paths(const std::string& cgroups_path, const std::string& id) {
  return oci_cgroup_paths(cgroups_path, id, read_file("/proc/self/cgroup"), cgroup_hierarchy_keys());
}

}  // namespace cppcker
