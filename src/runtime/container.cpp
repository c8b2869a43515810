#include "cppcker/runtime/container.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <regex>

#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker {

using nlohmann::json;

namespace {

template <typename T>
json json_array(const std::vector<T>& items) {
  json out = json::array();
  for (const auto& x : items) out.push_back(x.to_json());
  return out;
}

json limits_to_json(const ResourceLimits& l) {
  json j = json::object();
  if (l.memory) j["Memory"] = *l.memory;
  if (l.memory_swap) j["MemorySwap"] = *l.memory_swap;
  if (l.cpus) j["NanoCpus"] = static_cast<std::int64_t>(*l.cpus * 1e9);
  if (l.pids) j["PidsLimit"] = *l.pids;
  if (l.cpuset_cpus) j["CpusetCpus"] = *l.cpuset_cpus;
  if (l.cpu_shares) j["CpuShares"] = *l.cpu_shares;
  return j;
}

ResourceLimits limits_from_json(const json& j) {
  ResourceLimits l;
  if (j.contains("Memory")) l.memory = j["Memory"].get<std::int64_t>();
  if (j.contains("MemorySwap")) l.memory_swap = j["MemorySwap"].get<std::int64_t>();
  if (j.contains("NanoCpus")) l.cpus = static_cast<double>(j["NanoCpus"].get<std::int64_t>()) / 1e9;
  if (j.contains("PidsLimit")) l.pids = j["PidsLimit"].get<std::int64_t>();
  if (j.contains("CpusetCpus")) l.cpuset_cpus = j["CpusetCpus"].get<std::string>();
  if (j.contains("CpuShares")) l.cpu_shares = j["CpuShares"].get<std::uint64_t>();
  return l;
}

}  // namespace

CgroupPaths Container::cgroup_paths() const {
  CgroupPaths parents = spec.cgroup_parents.empty() ? CgroupPaths{{"", "/cppcker"}} : spec.cgroup_parents;
  CgroupPaths out;
  for (auto [controller, parent] : parents) {
    while (!parent.empty() && parent.back() == '/') parent.pop_back();
    out[controller] = parent + "/" + id;
  }
  return out;
}

std::vector<std::string> Container::argv() const {
  std::vector<std::string> out = spec.entrypoint;
  out.insert(out.end(), spec.cmd.begin(), spec.cmd.end());
  return out;
}

json Container::to_json() const {
  return {{"id", id},
          {"name", name},
          {"spec",
           {{"image", spec.image},
            {"image_id", spec.image_id},
            {"entrypoint", spec.entrypoint},
            {"cmd", spec.cmd},
            {"env", spec.env},
            {"workdir", spec.workdir},
            {"user", spec.user},
            {"hostname", spec.hostname},
            {"network", spec.network},
            {"extra_networks", [&] {
               json out = json::array();
               for (const auto& a : spec.extra_networks) out.push_back(a.to_json());
               return out;
             }()},
            {"ports", json_array(spec.ports)},
            {"dns", spec.dns},
            {"dns_search", spec.dns_search},
            {"dns_options", spec.dns_options},
            {"extra_hosts", spec.extra_hosts},
            {"detach", spec.detach},
            {"interactive", spec.interactive},
            {"tty", spec.tty},
            {"init", spec.init},
            {"read_only", spec.read_only},
            {"mounts", json_array(spec.mounts)},
            {"auto_remove", spec.auto_remove},
            {"limits", limits_to_json(spec.limits)},
            {"cgroup_parent", spec.cgroup_parent},
            {"cgroup_parents", spec.cgroup_parents},
            {"cgroup_owned_tops", spec.cgroup_owned_tops},
            {"stop_signal", spec.stop_signal},
            {"stop_timeout", spec.stop_timeout},
            {"cap_add", spec.cap_add},
            {"cap_drop", spec.cap_drop},
            {"privileged", spec.privileged},
            {"security_opt", spec.security_opt},
            {"seccomp_profile", spec.seccomp_profile},
            {"no_new_privileges", spec.no_new_privileges},
            {"systempaths_unconfined", spec.systempaths_unconfined},
            {"devices", json_array(spec.devices)},
            {"device_cgroup_rules", spec.device_cgroup_rules},
            {"userns_mode", spec.userns_mode},
            {"userns", spec.userns ? json{{"uid", spec.userns->host_uid}, {"gid", spec.userns->host_gid},
                                          {"size", spec.userns->size}}
                                   : json(nullptr)},
            {"ulimits", [&] {
               json out = json::array();
               for (const auto& r : spec.ulimits) out.push_back({{"type", r.type}, {"hard", r.hard}, {"soft", r.soft}});
               return out;
             }()},
            {"shm_size", spec.shm_size},
            {"log_max_size", spec.log_max_size},
            {"log_max_file", spec.log_max_file},
            {"labels", spec.labels},
            {"exposed_ports", spec.exposed_ports},
            {"restart", {{"name", spec.restart.name}, {"maximum_retry_count", spec.restart.maximum_retry_count}}},
            {"health", spec.health ? json{{"test", spec.health->test},
                                          {"interval", spec.health->interval_ns},
                                          {"timeout", spec.health->timeout_ns},
                                          {"start_period", spec.health->start_period_ns},
                                          {"retries", spec.health->retries}}
                                   : json(nullptr)}}},
          {"state",
           {{"status", state.status},
            {"pid", state.pid},
            {"pid_start", state.pid_start},
            {"monitor_pid", state.monitor_pid},
            {"monitor_start", state.monitor_start},
            {"exit_code", state.exit_code},
            {"oom_killed", state.oom_killed},
            {"error", state.error},
            {"created", state.created},
            {"started", state.started},
            {"finished", state.finished},
            {"net", state.net ? state.net->to_json() : json(nullptr)},
            // Every endpoint, the primary (`net`) first: the list readers of several networks use.
            {"networks", [&] {
               json out = json::array();
               if (state.net) out.push_back(state.net->to_json());
               for (const auto& e : state.extra_nets) out.push_back(e.to_json());
               return out;
             }()},
            {"restart_count", state.restart_count},
            {"stopped_by_user", state.stopped_by_user},
            {"paused", state.paused},
            {"health", {{"status", state.health.status}, {"failing_streak", state.health.failing_streak}, {"log", [&] {
                          json out = json::array();
                          for (const auto& p : state.health.log)
                            out.push_back({{"start", p.start}, {"end", p.end}, {"exit_code", p.exit_code}, {"output", p.output}});
                          return out;
                        }()}}}}}};
}

Container Container::from_json(const json& j) {
  Container c;
  c.id = j.at("id").get<std::string>();
  c.name = j.at("name").get<std::string>();
  const json& s = j.at("spec");
  c.spec.image = s.value("image", "");
  c.spec.image_id = s.value("image_id", "");
  c.spec.entrypoint = s.value("entrypoint", std::vector<std::string>{});
  c.spec.cmd = s.value("cmd", std::vector<std::string>{});
  c.spec.env = s.value("env", std::vector<std::string>{});
  c.spec.workdir = s.value("workdir", "");
  c.spec.user = s.value("user", "");
  c.spec.hostname = s.value("hostname", "");
  c.spec.network = s.value("network", "none");
  for (const auto& a : s.value("extra_networks", json::array())) c.spec.extra_networks.push_back(NetworkAttachment::from_json(a));
  for (const auto& p : s.value("ports", json::array())) c.spec.ports.push_back(PortBinding::from_json(p));
  c.spec.dns = s.value("dns", std::vector<std::string>{});
  c.spec.dns_search = s.value("dns_search", std::vector<std::string>{});
  c.spec.dns_options = s.value("dns_options", std::vector<std::string>{});
  c.spec.extra_hosts = s.value("extra_hosts", std::vector<std::string>{});
  c.spec.detach = s.value("detach", false);
  c.spec.interactive = s.value("interactive", false);
  c.spec.tty = s.value("tty", false);
  c.spec.init = s.value("init", false);
  c.spec.read_only = s.value("read_only", false);
  if (s.contains("mounts"))
    for (const auto& m : s["mounts"]) c.spec.mounts.push_back(MountSpec::from_json(m));
  c.spec.auto_remove = s.value("auto_remove", false);
  c.spec.limits = limits_from_json(s.value("limits", json::object()));
  c.spec.cgroup_parent = s.value("cgroup_parent", "");
  c.spec.cgroup_parents = s.value("cgroup_parents", CgroupPaths{});
  c.spec.cgroup_owned_tops = s.value("cgroup_owned_tops", CgroupPaths{});
  c.spec.stop_signal = s.value("stop_signal", 15);
  c.spec.stop_timeout = s.value("stop_timeout", 10);
  c.spec.cap_add = s.value("cap_add", std::vector<std::string>{});
  c.spec.cap_drop = s.value("cap_drop", std::vector<std::string>{});
  c.spec.privileged = s.value("privileged", false);
  c.spec.security_opt = s.value("security_opt", std::vector<std::string>{});
  c.spec.seccomp_profile = s.value("seccomp_profile", "");
  c.spec.no_new_privileges = s.value("no_new_privileges", false);
  c.spec.systempaths_unconfined = s.value("systempaths_unconfined", false);
  for (const auto& d : s.value("devices", json::array())) c.spec.devices.push_back(DeviceMapping::from_json(d));
  c.spec.device_cgroup_rules = s.value("device_cgroup_rules", std::vector<std::string>{});
  c.spec.userns_mode = s.value("userns_mode", "");
  if (s.contains("userns") && s["userns"].is_object())
    c.spec.userns = IdRange{s["userns"].value("uid", 0u), s["userns"].value("gid", 0u), s["userns"].value("size", 0u)};
  for (const auto& r : s.value("ulimits", json::array()))
    c.spec.ulimits.push_back({r.value("type", ""), r.value("hard", std::uint64_t{0}), r.value("soft", std::uint64_t{0})});
  c.spec.shm_size = s.value("shm_size", std::int64_t{64} * 1024 * 1024);
  c.spec.log_max_size = s.value("log_max_size", std::int64_t{-1});
  c.spec.log_max_file = s.value("log_max_file", 1);
  c.spec.labels = s.value("labels", std::map<std::string, std::string>{});
  c.spec.exposed_ports = s.value("exposed_ports", std::vector<std::string>{});
  if (s.contains("restart") && s["restart"].is_object()) {
    c.spec.restart.name = s["restart"].value("name", "no");
    c.spec.restart.maximum_retry_count = s["restart"].value("maximum_retry_count", 0);
  }
  if (s.contains("health") && s["health"].is_object()) {
    const json& h = s["health"];
    HealthConfig hc;
    hc.test = h.value("test", std::vector<std::string>{});
    hc.interval_ns = h.value("interval", hc.interval_ns);
    hc.timeout_ns = h.value("timeout", hc.timeout_ns);
    hc.start_period_ns = h.value("start_period", hc.start_period_ns);
    hc.retries = h.value("retries", hc.retries);
    c.spec.health = hc;
  }
  const json& st = j.at("state");
  c.state.status = st.value("status", "created");
  c.state.pid = st.value("pid", 0);
  c.state.pid_start = st.value("pid_start", std::uint64_t{0});
  c.state.monitor_pid = st.value("monitor_pid", 0);
  c.state.monitor_start = st.value("monitor_start", std::uint64_t{0});
  c.state.exit_code = st.value("exit_code", 0);
  c.state.oom_killed = st.value("oom_killed", false);
  c.state.error = st.value("error", "");
  c.state.created = st.value("created", "");
  c.state.started = st.value("started", "");
  c.state.finished = st.value("finished", "");
  if (st.contains("net") && st["net"].is_object()) c.state.net = Endpoint::from_json(st["net"]);
  // "networks" repeats `net` first (records before it have `net` alone): the rest are the extra ones.
  for (const auto& e : st.value("networks", json::array()))
    if (!(c.state.net && e.value("interface", "eth0") == c.state.net->interface))
      c.state.extra_nets.push_back(Endpoint::from_json(e));
  c.state.restart_count = st.value("restart_count", 0);
  c.state.stopped_by_user = st.value("stopped_by_user", false);
  c.state.paused = st.value("paused", false);
  if (st.contains("health") && st["health"].is_object()) {
    const json& h = st["health"];
    c.state.health.status = h.value("status", "");
    c.state.health.failing_streak = h.value("failing_streak", 0);
    for (const auto& p : h.value("log", json::array()))
      c.state.health.log.push_back({p.value("start", ""), p.value("end", ""), p.value("exit_code", 0), p.value("output", "")});
  }
  return c;
}

namespace {
struct ProcStat {
  char state = '?';
  std::uint64_t start_time = 0;
};
std::optional<ProcStat> read_proc_stat(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  auto stat = read_file_if_exists("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return std::nullopt;
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  auto close = stat->rfind(')');
  if (close == std::string::npos || close + 2 >= stat->size()) return std::nullopt;
  ProcStat st;
  st.state = (*stat)[close + 2];
  std::size_t pos = close + 2;
  for (int field = 3; field < 22; ++field) {
    pos = stat->find(' ', pos);
    if (pos == std::string::npos) return std::nullopt;
    ++pos;
  }
  st.start_time = std::strtoull(stat->c_str() + pos, nullptr, 10);
  return st;
}
}  // namespace

std::uint64_t process_start_time(pid_t pid) {
  auto st = read_proc_stat(pid);
  return st ? st->start_time : 0;
}

bool process_alive(pid_t pid, std::uint64_t start_time) {
  if (pid <= 0 || start_time == 0) return false;
  auto st = read_proc_stat(pid);
  // A zombie has ended; whoever adopted it may reap it late (this machine's PID 1 takes over a second).
  return st && st->start_time == start_time && st->state != 'Z' && st->state != 'X';
}

ContainerStore::ContainerStore(fs::path root) : root_(std::move(root)) {
  make_dirs(root_ / "containers");
  ::chmod(root_.c_str(), 0700);
}

FileLock ContainerStore::lock() const { return FileLock(root_ / "containers" / ".lock"); }
namespace {
// Records being built or torn down live under these names, which list() never shows.
constexpr std::string_view kCreatingPrefix = ".creating-";
constexpr std::string_view kRemovingPrefix = ".removing-";
}  // namespace

std::optional<FileLock> ContainerStore::try_owner_lock(const std::string& id) const {
  try {
    return FileLock::try_lock(dir(id) / "owner.lock");
  } catch (const SystemError& e) {
    if (e.sys_errno() == ENOENT) throw Error("No such container: " + id);
    throw;
  }
}

FileLock ContainerStore::take_ownership(Container& c) const {
  auto owner = try_owner_lock(c.id);
  if (!owner) throw Error("container " + c.id + " is in use: it is being started or removed", 125);
  // An `rm` renames the record away while it holds this lock: if it came first, the record is gone now.
  if (!fs::exists(dir(c.id) / "container.json")) throw Error("No such container: " + c.id, 125);
  c.state.monitor_pid = ::getpid();
  c.state.monitor_start = process_start_time(c.state.monitor_pid);
  save(c, Durability::unsynced);
  return std::move(*owner);
}

bool valid_container_name(const std::string& name) {
  static const std::regex re("^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$");
  return std::regex_match(name, re);
}

std::string generate_name() {
  static const char* adjectives[] = {"brave", "calm", "eager", "fervent", "gifted", "happy", "jolly", "keen",
                                     "lucid", "merry", "nifty", "quirky", "sharp", "tender", "vivid", "zealous"};
  static const char* names[] = {"babbage", "curie", "dijkstra", "euler", "feynman", "gauss", "hopper", "knuth",
                                "lovelace", "noether", "pascal", "ritchie", "shannon", "thompson", "turing", "wirth"};
  std::random_device rd;
  return std::string(adjectives[rd() % 16]) + "_" + names[rd() % 16];
}

Container ContainerStore::create(ContainerSpec spec, const std::string& requested,
                                 const std::function<void(Container&)>& complete, std::optional<FileLock>* owner) const {
  auto guard = lock();
  auto existing = scan(/*records=*/true, /*sweep=*/true);
  std::string name = requested;
  if (!name.empty()) {
    if (name.front() == '/') name.erase(0, 1);
    if (!valid_container_name(name))
      throw Error("Invalid container name (" + requested + "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", 125);
    for (const auto& c : existing)
      if (c.name == name)
        throw Error("Conflict. The container name \"/" + name + "\" is already in use by container \"" + c.id +
                        "\". You have to remove (or rename) that container to be able to reuse that name.",
                    125);
  } else {
    for (int attempt = 0; attempt < 100 && name.empty(); ++attempt) {
      name = generate_name();
      if (attempt > 10) name += std::to_string(attempt);
      for (const auto& c : existing)
        if (c.name == name) name.clear();
    }
  }
  Container c;
  c.id = random_hex(32);
  c.name = name;
  c.spec = std::move(spec);
  c.state.created = format_rfc3339(now());
  if (complete) complete(c);
  fs::path staging = root_ / "containers" / (std::string(kCreatingPrefix) + c.id);
  make_dirs(staging);
  try {
    std::optional<FileLock> owned;
    if (owner) {
      // flock belongs to the open file: the lock moves with the directory's rename below.
      owned.emplace(staging / "owner.lock");
      c.state.monitor_pid = ::getpid();
      c.state.monitor_start = process_start_time(c.state.monitor_pid);
    }
    write_file_atomic(staging / "container.json", c.to_json().dump(2), 0600, Durability::synced);
    if (::rename(staging.c_str(), dir(c.id).c_str()) != 0) throw_errno("create container " + c.id);
    if (owner) *owner = std::move(owned);
  } catch (...) {
    try {
      remove_tree(staging);
    } catch (const Error&) {
      // Swept by the next create.
    }
    throw;
  }
  return c;
}

void ContainerStore::save(const Container& c, Durability durability) const {
  write_file_atomic(dir(c.id) / "container.json", c.to_json().dump(2), 0600, durability);
}

std::optional<Container> ContainerStore::load(const std::string& id) const {
  auto text = read_file_if_exists(dir(id) / "container.json");
  if (!text) return std::nullopt;
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded()) throw Error("corrupt container record " + id);
  return Container::from_json(j);
}

std::vector<Container> ContainerStore::list() const { return scan(/*records=*/true, /*sweep=*/false); }

std::vector<Container> ContainerStore::scan(bool records, bool sweep) const {
  std::vector<Container> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(root_ / "containers", ec)) {
    std::string name = e.path().filename();
    if (name.starts_with(kCreatingPrefix) || name.starts_with(kRemovingPrefix)) {
      if (!sweep) continue;
      try {
        // A `.removing-` tree may still be deleted by its own `rm` at this moment: both sides tolerate that.
        remove_tree(e.path());
      } catch (const Error&) {
        // Left for the next sweep; it is invisible to list() and harms nothing meanwhile.
      }
      continue;
    }
    if (!records || name.starts_with(".") || !e.is_directory()) continue;
    try {
      if (auto c = load(name)) out.push_back(std::move(*c));
    } catch (const Error&) {
      // A record cut short cannot be, since it is renamed into place; skip anything unreadable.
    }
  }
  std::sort(out.begin(), out.end(), [](const Container& a, const Container& b) { return a.state.created > b.state.created; });
  return out;
}

Container ContainerStore::resolve(const std::string& text) const {
  std::string key = !text.empty() && text.front() == '/' ? text.substr(1) : text;
  // A full ID (what scripts and the benchmarks pass) wins over every name: its record alone is read.
  if (key.size() == 64 && key.find_first_not_of("0123456789abcdef") == std::string::npos)
    if (auto c = load(key)) return std::move(*c);
  auto all = list();
  for (const auto& c : all)
    if (c.id == key || c.name == key) return c;
  std::vector<const Container*> matches;
  if (!key.empty())
    for (const auto& c : all)
      if (c.id.compare(0, key.size(), key) == 0) matches.push_back(&c);
  if (matches.size() == 1) return *matches.front();
  if (matches.size() > 1)
    throw Error("multiple IDs found with provided prefix: " + text);
  throw Error("No such container: " + text);
}

void ContainerStore::remove(const std::string& id) const {
  // Renamed away first, so that a crash mid-removal leaves no half record under the real name.
  fs::path doomed = root_ / "containers" / (std::string(kRemovingPrefix) + id);
  if (::rename(dir(id).c_str(), doomed.c_str()) != 0 && errno != ENOENT) throw_errno("remove container " + id);
  try {
    remove_tree(doomed);
  } catch (const SystemError& e) {
    if (e.sys_errno() != EBUSY) throw;
    // A mount inside: the network namespace's, made by a setup stage killed after the teardown ran.
    unmount_below(doomed);
    remove_tree(doomed);
  }
  // Opportunistic: a create holding the store lock sweeps for itself.
  if (auto guard = FileLock::try_lock(root_ / "containers" / ".lock")) scan(/*records=*/false, /*sweep=*/true);
}

void ContainerStore::rename(const std::string& id, const std::string& requested) const {
  std::string name = !requested.empty() && requested.front() == '/' ? requested.substr(1) : requested;
  if (name.empty()) throw Error("Neither old nor new names may be empty");
  if (!valid_container_name(name))
    throw Error("Invalid container name (" + requested + "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  auto guard = lock();
  auto c = load(id);
  if (!c) throw Error("No such container: " + id);
  if (c->name == name) throw Error("Renaming a container with the same name as its current name");
  for (const auto& other : scan(/*records=*/true, /*sweep=*/false))
    if (other.name == name)
      throw Error("Conflict. The container name \"/" + name + "\" is already in use by container \"" + other.id +
                  "\". You have to remove (or rename) that container to be able to reuse that name.");
  c->name = name;
  save(*c);
}

ContainerState ContainerStore::observed_state(const Container& c) {
  ContainerState s = c.state;
  if (s.status == "running" && !process_alive(s.pid, s.pid_start) && !process_alive(s.monitor_pid, s.monitor_start)) {
    // Nobody was left to record the end: the container died with its monitor (kill -9, crash).
    s.status = "exited";
    s.exit_code = 137;
    s.error = "the container's monitor is gone";
  }
  if (s.status == "restarting" && !process_alive(s.monitor_pid, s.monitor_start)) {
    // The monitor died waiting to restart it: nobody will, it stays as its last run ended.
    s.status = "exited";
    s.error = "the container's monitor is gone";
  }
  if (s.status != "running") s.paused = false;  // a frozen cgroup outlives no process
  return s;
}

}  // namespace cppcker
