#include "cppcker/runtime/housekeeping.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <tuple>

#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/util/child.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker {

namespace {
std::string scaled(double size, double base, const char* const* units, int count) {
  int i = 0;
  while (size >= base && i < count - 1) {
    size /= base;
    ++i;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g%s", size, units[i]);
  return buf;
}
}  // namespace

std::string human_size4(double bytes) {
  static const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  return scaled(bytes, 1000.0, units, 9);
}

std::string binary_size(double bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  return scaled(bytes, 1024.0, units, 9);
}

// ---- prune ----

std::vector<std::string> prunable_containers(const std::vector<Container>& containers, const ContainerPruneFilter& filter) {
  std::vector<std::string> out;
  for (const auto& c : containers) {
    const std::string status = ContainerStore::observed_state(c).status;
    if (status == "running" || status == "restarting") continue;
    if (filter.until) {
      auto created = parse_rfc3339(c.state.created);
      if (!created || *created >= *filter.until) continue;
    }
    if (filter.labels && !filter.labels(c.spec.labels)) continue;
    out.push_back(c.id);
  }
  return out;
}

std::set<std::string> volumes_in_use(const std::vector<Container>& containers) {
  std::set<std::string> used;
  for (const auto& c : containers)
    for (const auto& m : c.spec.mounts)
      if (m.type == "volume") used.insert(m.source);
  return used;
}

bool anonymous_volume_name(const std::string& name) {
  return name.size() == 64 && name.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::vector<std::string> prunable_volumes(const std::vector<std::string>& volumes, const std::set<std::string>& in_use,
                                          bool all) {
  std::vector<std::string> out;
  for (const auto& v : volumes)
    if (!in_use.count(v) && (all || anonymous_volume_name(v))) out.push_back(v);
  return out;
}

PruneReport prune_containers(const ContainerStore& containers, const NetworkStore& networks,
                             const ContainerPruneFilter& filter) {
  PruneReport report;
  auto all = containers.list();
  for (const auto& id : prunable_containers(all, filter)) {
    auto c = containers.load(id);
    if (!c) continue;  // removed by someone else meanwhile
    const std::uint64_t size = tree_size(containers.dir(id) / "upper");
    try {
      remove_container(containers, networks, *c, /*force=*/false);
    } catch (const Error&) {
      continue;  // started meanwhile (refused) or taken by another rm: not ours to report
    }
    report.deleted.push_back(id);
    report.reclaimed += size;
  }
  return report;
}

PruneReport prune_volumes(const ContainerStore& containers, bool all) {
  PruneReport report;
  VolumeStore volumes(containers.root());
  for (const auto& name : prunable_volumes(volumes.list(), volumes_in_use(containers.list()), all)) {
    // Under the container store's lock: a `run` records its volumes in the container's record, which a
    // create makes under this lock, so a volume checked here cannot gain a user before it is gone.
    auto guard = containers.lock();
    if (volumes_in_use(containers.list()).count(name)) continue;
    const std::uint64_t size = tree_size(volumes.data_path(name));
    try {
      volumes.remove(name);
    } catch (const Error&) {
      continue;
    }
    report.deleted.push_back(name);
    report.reclaimed += size;
  }
  return report;
}

ImageUsers image_users(const ContainerStore& containers) {
  return [&containers](const std::string& image_id) {
    std::vector<ImageUser> out;
    for (const auto& c : containers.list()) {
      if (c.spec.image_id != image_id) continue;
      const std::string status = ContainerStore::observed_state(c).status;
      out.push_back({c.id, status == "running" || status == "restarting"});
    }
    return out;
  };
}

// ---- system df ----

std::vector<DiskUsageLine> disk_usage(const std::vector<ImageRecord>& images, const std::set<std::string>& used_images,
                                      const std::vector<ContainerUsage>& containers,
                                      const std::vector<VolumeUsage>& volumes) {
  DiskUsageLine img{"Images"};
  std::map<std::string, std::uint64_t> layers, used_layers;  // chain -> size, each layer once
  for (const auto& image : images) {
    ++img.total;
    const bool used = used_images.count(image.id) > 0;
    img.active += used;
    for (const auto& l : image.layers) {
      layers[l.chain_id] = l.unpacked_size;
      if (used) used_layers[l.chain_id] = l.unpacked_size;
    }
  }
  for (const auto& [chain, size] : layers) img.size += size;
  std::uint64_t in_use = 0;
  for (const auto& [chain, size] : used_layers) in_use += size;
  img.reclaimable = img.size - in_use;

  DiskUsageLine ctr{"Containers"};
  for (const auto& c : containers) {
    ++ctr.total;
    ctr.active += c.running;
    ctr.size += c.size;
    if (!c.running) ctr.reclaimable += c.size;
  }

  DiskUsageLine vol{"Local Volumes"};
  for (const auto& v : volumes) {
    ++vol.total;
    vol.active += v.links > 0;
    vol.size += v.size;
    if (v.links == 0) vol.reclaimable += v.size;
  }
  DiskUsageLine cache{"Build Cache"};
  cache.percent = false;
  return {img, ctr, vol, cache};
}

std::string reclaimable_text(const DiskUsageLine& line) {
  std::string text = human_size4(static_cast<double>(line.reclaimable));
  if (line.percent && line.size > 0)
    text += " (" + std::to_string(static_cast<std::int64_t>(static_cast<double>(line.reclaimable) * 100.0 / static_cast<double>(line.size))) + "%)";
  return text;
}

// ---- stats ----

std::pair<std::uint64_t, std::uint64_t> parse_net_dev(std::string_view text) {
  std::uint64_t rx = 0, tx = 0;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;  // the two header lines
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    if (name == "lo") continue;
    std::istringstream fields(line.substr(colon + 1));
    std::vector<std::uint64_t> v;
    std::uint64_t x;
    while (fields >> x) v.push_back(x);
    if (v.size() < 9) continue;
    rx += v[0];  // receive: bytes packets errs drop fifo frame compressed multicast; then transmit
    tx += v[8];
  }
  return {rx, tx};
}

std::uint64_t parse_proc_stat_cpu_ns(std::string_view text, long ticks_per_second) {
  std::istringstream in{std::string(text.substr(0, text.find('\n')))};
  std::string label;
  in >> label;
  if (label != "cpu") throw Error("unexpected /proc/stat: no cpu line first");
  std::uint64_t ticks = 0, v;
  // user nice system idle iowait irq softirq steal, as Docker's getSystemCPUUsage adds them.
  for (int i = 0; i < 8 && in >> v; ++i) ticks += v;
  return ticks * (1'000'000'000ull / static_cast<std::uint64_t>(ticks_per_second > 0 ? ticks_per_second : 100));
}

namespace {
std::uint64_t host_memory() {
  auto text = read_file_if_exists("/proc/meminfo").value_or("");
  auto pos = text.find("MemTotal:");
  if (pos == std::string::npos) return 0;
  return std::strtoull(text.c_str() + pos + 9, nullptr, 10) * 1024;
}
unsigned count_online_cpus() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<unsigned>(n) : 1u;
}
}  // namespace

StatsSample sample_stats(const Container& c) {
  StatsSample s;
  const CgroupStats cg = make_cgroup(c.cgroup_paths())->stats();
  s.cpu_ns = cg.cpu.total;
  s.system_ns = parse_proc_stat_cpu_ns(read_file("/proc/stat"), ::sysconf(_SC_CLK_TCK));
  s.online_cpus = cg.cpu.percpu.empty() ? count_online_cpus() : static_cast<unsigned>(cg.cpu.percpu.size());
  // Docker's CLI leaves the inactive page cache out of the usage.
  std::uint64_t inactive = 0;
  if (auto it = cg.memory.raw.find("total_inactive_file"); it != cg.memory.raw.end()) inactive = it->second;
  else if (auto it2 = cg.memory.raw.find("inactive_file"); it2 != cg.memory.raw.end()) inactive = it2->second;
  s.mem_usage = cg.memory.usage.usage > inactive ? cg.memory.usage.usage - inactive : cg.memory.usage.usage;
  // An unlimited cgroup reads as a huge number; Docker shows the host's memory instead.
  const std::uint64_t host = host_memory();
  s.mem_limit = cg.memory.usage.limit;
  if (host && (s.mem_limit == 0 || s.mem_limit > host)) s.mem_limit = host;
  for (const auto& e : cg.blkio.io_service_bytes_recursive) {
    if (e.op == "Read" || e.op == "read") s.blk_read += e.value;
    if (e.op == "Write" || e.op == "write") s.blk_write += e.value;
  }
  s.pids = cg.pids.current;
  // /proc/<pid>/net/dev shows the network namespace of that process: the container's.
  if (process_alive(c.state.pid, c.state.pid_start))
    if (auto dev = read_file_if_exists("/proc/" + std::to_string(c.state.pid) + "/net/dev"))
      std::tie(s.net_rx, s.net_tx) = parse_net_dev(*dev);
  return s;
}

double cpu_percent(const StatsSample& before, const StatsSample& after) {
  if (after.cpu_ns <= before.cpu_ns || after.system_ns <= before.system_ns) return 0.0;
  const double cpu_delta = static_cast<double>(after.cpu_ns - before.cpu_ns);
  const double system_delta = static_cast<double>(after.system_ns - before.system_ns);
  return cpu_delta / system_delta * static_cast<double>(after.online_cpus) * 100.0;
}

double memory_percent(const StatsSample& s) {
  return s.mem_limit == 0 ? 0.0 : static_cast<double>(s.mem_usage) / static_cast<double>(s.mem_limit) * 100.0;
}

// ---- top ----

PsTable filter_ps_output(std::string_view output, const std::set<pid_t>& pids) {
  PsTable table;
  std::istringstream in{std::string(output)};
  std::string line;
  if (!std::getline(in, line)) throw Error("Couldn't find PID field in ps output");
  {
    std::istringstream words(line);
    std::string w;
    while (words >> w) table.titles.push_back(w);
  }
  auto pid_column = std::find(table.titles.begin(), table.titles.end(), "PID");
  if (pid_column == table.titles.end()) throw Error("Couldn't find PID field in ps output");
  const std::size_t pid_index = static_cast<std::size_t>(pid_column - table.titles.begin());
  const std::size_t columns = table.titles.size();
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::vector<std::string> fields;
    std::string w;
    while (words >> w) fields.push_back(w);
    if (fields.size() <= pid_index) continue;
    pid_t pid = 0;
    try {
      std::size_t used = 0;
      pid = static_cast<pid_t>(std::stol(fields[pid_index], &used));
      if (used != fields[pid_index].size()) throw Error("");
    } catch (...) {
      throw Error("Unexpected pid '" + fields[pid_index] + "': not a number");
    }
    if (!pids.count(pid)) continue;
    // The last column (the command) keeps its words together, as Docker joins them.
    if (fields.size() > columns) {
      std::string last = fields[columns - 1];
      for (std::size_t i = columns; i < fields.size(); ++i) last += " " + fields[i];
      fields.resize(columns);
      fields.back() = last;
    }
    table.rows.push_back(std::move(fields));
  }
  return table;
}

std::string run_host_ps(const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe");
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  std::vector<std::string> words = {"ps"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) {
    ::dup2(write_end.get(), STDOUT_FILENO);
    ::dup2(write_end.get(), STDERR_FILENO);
    ::execvp("ps", argv.data());
    ::_exit(127);
  }
  OwnedChild child(pid);
  write_end.reset();
  std::string out = read_all(read_end.get(), "ps output");
  const int status = child.wait();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    while (!out.empty() && out.back() == '\n') out.pop_back();
    throw Error("ps: exit status " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) +
                ": " + out);
  }
  return out;
}

std::set<pid_t> container_pids(const Container& c) {
  auto list = make_cgroup(c.cgroup_paths())->processes();
  return {list.begin(), list.end()};
}

}  // namespace cppcker
