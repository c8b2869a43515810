#include "cppcker/oci/runtime_spec.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <type_traits>

#include "cppcker/util/error.hpp"

namespace cppcker::oci {

using nlohmann::json;

const Namespace* Linux::find_namespace(const std::string& type) const {
  for (const auto& ns : namespaces)
    if (ns.type == type) return &ns;
  return nullptr;
}

namespace {

// ---------------------------------------------------------------- writing

json mappings_json(const std::vector<IdMapping>& maps) {
  json out = json::array();
  for (const auto& m : maps) out.push_back({{"containerID", m.container_id}, {"hostID", m.host_id}, {"size", m.size}});
  return out;
}

json capabilities_json(const Capabilities& c) {
  return {{"bounding", c.bounding}, {"effective", c.effective}, {"inheritable", c.inheritable},
          {"permitted", c.permitted}, {"ambient", c.ambient}};
}

template <typename T>
void put_optional(json& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}

json block_io_json(const BlockIO& b) {
  json j = json::object();
  put_optional(j, "weight", b.weight);
  put_optional(j, "leafWeight", b.leaf_weight);
  if (!b.weight_device.empty()) {
    json devices = json::array();
    for (const auto& d : b.weight_device) {
      json dev = {{"major", d.major}, {"minor", d.minor}};
      put_optional(dev, "weight", d.weight);
      put_optional(dev, "leafWeight", d.leaf_weight);
      devices.push_back(dev);
    }
    j["weightDevice"] = devices;
  }
  auto throttle = [&](const char* name, const std::vector<ThrottleDevice>& list) {
    if (list.empty()) return;
    json devices = json::array();
    for (const auto& d : list) devices.push_back({{"major", d.major}, {"minor", d.minor}, {"rate", d.rate}});
    j[name] = devices;
  };
  throttle("throttleReadBpsDevice", b.throttle_read_bps_device);
  throttle("throttleWriteBpsDevice", b.throttle_write_bps_device);
  throttle("throttleReadIOPSDevice", b.throttle_read_iops_device);
  throttle("throttleWriteIOPSDevice", b.throttle_write_iops_device);
  return j;
}

json resources_json(const Resources& r) {
  json j = json::object();
  if (!r.devices.empty()) j["devices"] = to_json(r.devices);
  json memory = json::object();
  put_optional(memory, "limit", r.memory.limit);
  put_optional(memory, "reservation", r.memory.reservation);
  put_optional(memory, "swap", r.memory.swap);
  put_optional(memory, "swappiness", r.memory.swappiness);
  if (r.memory.disable_oom_killer) memory["disableOOMKiller"] = true;
  if (!memory.empty()) j["memory"] = memory;
  json cpu = json::object();
  put_optional(cpu, "shares", r.cpu.shares);
  put_optional(cpu, "quota", r.cpu.quota);
  put_optional(cpu, "period", r.cpu.period);
  if (!r.cpu.cpus.empty()) cpu["cpus"] = r.cpu.cpus;
  if (!r.cpu.mems.empty()) cpu["mems"] = r.cpu.mems;
  if (!cpu.empty()) j["cpu"] = cpu;
  if (r.pids_limit) j["pids"] = {{"limit", *r.pids_limit}};
  if (r.block_io) j["blockIO"] = block_io_json(*r.block_io);
  if (!r.hugepage_limits.empty()) {
    json limits = json::array();
    for (const auto& h : r.hugepage_limits) limits.push_back({{"pageSize", h.page_size}, {"limit", h.limit}});
    j["hugepageLimits"] = limits;
  }
  if (!r.unified.empty()) j["unified"] = r.unified;
  return j;
}

json hooks_json(const Hooks& hooks) {
  json j = json::object();
  auto put = [&](const char* name, const std::vector<Hook>& list) {
    if (list.empty()) return;
    json out = json::array();
    for (const auto& h : list) {
      json hook = {{"path", h.path}};
      if (!h.args.empty()) hook["args"] = h.args;
      if (!h.env.empty()) hook["env"] = h.env;
      put_optional(hook, "timeout", h.timeout);
      out.push_back(hook);
    }
    j[name] = out;
  };
  put("prestart", hooks.prestart);
  put("createRuntime", hooks.create_runtime);
  put("createContainer", hooks.create_container);
  put("startContainer", hooks.start_container);
  put("poststart", hooks.poststart);
  put("poststop", hooks.poststop);
  return j;
}

// ---------------------------------------------------------------- reading

[[noreturn]] void invalid(const std::string& where, const std::string& why) {
  throw Error("config.json: " + where + ": " + why, 125);
}

// Every key of `j` must be one cppcker understands; a known field that it does not implement is refused
// unless empty, so nothing asked for is silently dropped.
using Keys = std::initializer_list<std::string_view>;

bool listed(Keys keys, std::string_view key) {
  for (auto k : keys)
    if (k == key) return true;
  return false;
}

void check_keys(const json& j, const std::string& where, Keys known, Keys unsupported = {}) {
  if (!j.is_object()) invalid(where, "must be an object");
  for (auto& [key, value] : j.items()) {
    if (listed(known, key)) continue;
    const std::string path = where.empty() ? key : where + "." + key;
    if (listed(unsupported, key)) {
      if (value.is_null() || (value.is_string() && value.get<std::string>().empty()) ||
          ((value.is_object() || value.is_array()) && value.empty()))
        continue;
      throw Error("config.json: " + path + " is not supported by cppcker", 125);
    }
    throw Error("config.json: unknown field " + path, 125);
  }
}

template <typename T>
T get(const json& j, const char* key, const std::string& where, T fallback = T{}) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  const json& v = j[key];
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // nlohmann converts 1.5 or 70000 into an int or a uint16_t silently; a value that does not fit the
    // field is a mistake in the file, not something to wrap around.
    if (!v.is_number_integer()) invalid(where + "." + key, "has the wrong type");
    const bool fits = v.is_number_unsigned()
                          ? v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<T>::max())
                          : std::is_signed_v<T> && v.get<std::int64_t>() >= static_cast<std::int64_t>(std::numeric_limits<T>::min()) &&
                                v.get<std::int64_t>() <= static_cast<std::int64_t>(std::numeric_limits<T>::max());
    if (!fits) invalid(where + "." + key, v.dump() + " is out of range");
    return v.get<T>();
  } else {
    try {
      return v.get<T>();
    } catch (const json::exception&) {
      invalid(where + "." + key, "has the wrong type");
    }
  }
}

template <typename T>
std::optional<T> get_optional(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return get<T>(j, key, where);
}

// A field the spec marks REQUIRED.
template <typename T>
T required(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) invalid(where + "." + key, "is required");
  return get<T>(j, key, where);
}

// The array `key` of `j`: empty when absent or null; anything but an array is refused.
const json& array_of(const json& j, const char* key, const std::string& where) {
  static const json empty = json::array();
  if (!j.contains(key) || j[key].is_null()) return empty;
  if (!j[key].is_array()) invalid(where + "." + key, "must be an array");
  return j[key];
}

std::vector<IdMapping> mappings_from(const json& j, const std::string& where) {
  std::vector<IdMapping> out;
  if (j.is_null()) return out;
  if (!j.is_array()) invalid(where, "must be an array");
  for (const auto& m : j) {
    check_keys(m, where + "[]", {"containerID", "hostID", "size"});
    out.push_back({get<std::uint32_t>(m, "containerID", where), get<std::uint32_t>(m, "hostID", where),
                   get<std::uint32_t>(m, "size", where)});
  }
  return out;
}

Capabilities capabilities_from(const json& j) {
  const std::string where = "process.capabilities";
  check_keys(j, where, {"bounding", "effective", "inheritable", "permitted", "ambient"});
  using V = std::vector<std::string>;
  return {get<V>(j, "bounding", where), get<V>(j, "effective", where), get<V>(j, "inheritable", where),
          get<V>(j, "permitted", where), get<V>(j, "ambient", where)};
}

BlockIO block_io_from(const json& j) {
  const std::string where = "linux.resources.blockIO";
  check_keys(j, where,
             {"weight", "leafWeight", "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice",
              "throttleReadIOPSDevice", "throttleWriteIOPSDevice"});
  BlockIO b;
  b.weight = get_optional<std::uint16_t>(j, "weight", where);
  b.leaf_weight = get_optional<std::uint16_t>(j, "leafWeight", where);
  for (const auto& d : array_of(j, "weightDevice", where)) {
    const std::string w = where + ".weightDevice[]";
    check_keys(d, w, {"major", "minor", "weight", "leafWeight"});
    b.weight_device.push_back({required<std::int64_t>(d, "major", w), required<std::int64_t>(d, "minor", w),
                               get_optional<std::uint16_t>(d, "weight", w),
                               get_optional<std::uint16_t>(d, "leafWeight", w)});
  }
  auto throttle = [&](const char* name, std::vector<ThrottleDevice>& out) {
    const std::string w = where + "." + name + "[]";
    for (const auto& d : array_of(j, name, where)) {
      check_keys(d, w, {"major", "minor", "rate"});
      out.push_back({required<std::int64_t>(d, "major", w), required<std::int64_t>(d, "minor", w),
                     required<std::uint64_t>(d, "rate", w)});
    }
  };
  throttle("throttleReadBpsDevice", b.throttle_read_bps_device);
  throttle("throttleWriteBpsDevice", b.throttle_write_bps_device);
  throttle("throttleReadIOPSDevice", b.throttle_read_iops_device);
  throttle("throttleWriteIOPSDevice", b.throttle_write_iops_device);
  return b;
}

// "2MB", "1GB", "64KB": the names of the hugetlb controller's files (hugetlb.<size>.limit_in_bytes).
bool valid_page_size(const std::string& size) {
  if (size.size() < 3 || size.compare(size.size() - 1, 1, "B") != 0) return false;
  const char unit = size[size.size() - 2];
  if (unit != 'K' && unit != 'M' && unit != 'G') return false;
  const std::string digits = size.substr(0, size.size() - 2);
  return digits.find_first_not_of("0123456789") == std::string::npos && digits.front() != '0';
}

Resources resources_from(const json& j) {
  const std::string where = "linux.resources";
  check_keys(j, where, {"devices", "memory", "cpu", "pids", "blockIO", "hugepageLimits", "unified"},
             {"network", "rdma"});
  Resources r;
  if (j.contains("devices")) r.devices = device_rules_from_json(j["devices"]);
  if (j.contains("memory") && !j["memory"].is_null()) {
    const json& m = j["memory"];
    // kernel and kernelTCP are accepted and not applied, as runc 1.1 does: kernel memory accounting is
    // deprecated in the kernel (gone in 6.x) and callers still send them.
    check_keys(m, where + ".memory",
               {"limit", "reservation", "swap", "swappiness", "disableOOMKiller", "kernel", "kernelTCP"},
               {"useHierarchy", "checkBeforeUpdate"});
    get_optional<std::int64_t>(m, "kernel", where + ".memory");
    get_optional<std::int64_t>(m, "kernelTCP", where + ".memory");
    r.memory.limit = get_optional<std::int64_t>(m, "limit", where + ".memory");
    r.memory.reservation = get_optional<std::int64_t>(m, "reservation", where + ".memory");
    r.memory.swap = get_optional<std::int64_t>(m, "swap", where + ".memory");
    r.memory.swappiness = get_optional<std::uint64_t>(m, "swappiness", where + ".memory");
    r.memory.disable_oom_killer = get<bool>(m, "disableOOMKiller", where + ".memory");
  }
  if (j.contains("cpu") && !j["cpu"].is_null()) {
    const json& c = j["cpu"];
    check_keys(c, where + ".cpu", {"shares", "quota", "period", "cpus", "mems"},
               {"realtimeRuntime", "realtimePeriod", "idle", "burst"});
    r.cpu.shares = get_optional<std::uint64_t>(c, "shares", where + ".cpu");
    r.cpu.quota = get_optional<std::int64_t>(c, "quota", where + ".cpu");
    r.cpu.period = get_optional<std::uint64_t>(c, "period", where + ".cpu");
    r.cpu.cpus = get<std::string>(c, "cpus", where + ".cpu");
    r.cpu.mems = get<std::string>(c, "mems", where + ".cpu");
  }
  if (j.contains("pids") && !j["pids"].is_null()) {
    check_keys(j["pids"], where + ".pids", {"limit"});
    r.pids_limit = get_optional<std::int64_t>(j["pids"], "limit", where + ".pids");
  }
  if (j.contains("blockIO") && !j["blockIO"].is_null()) r.block_io = block_io_from(j["blockIO"]);
  for (const auto& h : array_of(j, "hugepageLimits", where)) {
    const std::string w = where + ".hugepageLimits[]";
    check_keys(h, w, {"pageSize", "limit"});
    HugepageLimit limit{required<std::string>(h, "pageSize", w), required<std::uint64_t>(h, "limit", w)};
    if (!valid_page_size(limit.page_size))
      invalid(w + ".pageSize", "\"" + limit.page_size + "\" is not a page size such as 2MB or 1GB");
    for (const auto& other : r.hugepage_limits)
      if (other.page_size == limit.page_size) invalid(w, "page size " + limit.page_size + " is listed twice");
    r.hugepage_limits.push_back(std::move(limit));
  }
  r.unified = get<std::map<std::string, std::string>>(j, "unified", where);
  return r;
}

Personality personality_from(const json& j) {
  const std::string where = "linux.personality";
  check_keys(j, where, {"domain", "flags"});
  Personality p{required<std::string>(j, "domain", where), get<std::vector<std::string>>(j, "flags", where)};
  if (p.domain != "LINUX" && p.domain != "LINUX32")
    invalid(where + ".domain", "\"" + p.domain + "\" is not one of LINUX, LINUX32");
  // The spec defines no flag names yet; one asked for cannot be honoured.
  if (!p.flags.empty()) {
    std::string names;
    for (const auto& f : p.flags) names += (names.empty() ? "" : ", ") + f;
    throw Error("config.json: " + where + ".flags (" + names + ") is not supported by cppcker", 125);
  }
  return p;
}

Linux linux_from(const json& j) {
  const std::string where = "linux";
  check_keys(j, where,
             {"uidMappings", "gidMappings", "personality", "sysctl", "resources", "cgroupsPath", "namespaces",
              "devices", "seccomp", "rootfsPropagation", "maskedPaths", "readonlyPaths"},
             {"intelRdt", "mountLabel", "timeOffsets", "memoryPolicy", "netDevices"});
  Linux l;
  if (j.contains("personality") && !j["personality"].is_null()) l.personality = personality_from(j["personality"]);
  if (j.contains("uidMappings")) l.uid_mappings = mappings_from(j["uidMappings"], where + ".uidMappings");
  if (j.contains("gidMappings")) l.gid_mappings = mappings_from(j["gidMappings"], where + ".gidMappings");
  l.sysctl = get<std::map<std::string, std::string>>(j, "sysctl", where);
  if (j.contains("resources") && !j["resources"].is_null()) l.resources = resources_from(j["resources"]);
  l.cgroups_path = get<std::string>(j, "cgroupsPath", where);
  if (j.contains("namespaces") && !j["namespaces"].is_null()) {
    const auto& types = namespace_types();
    for (const auto& ns : j["namespaces"]) {
      check_keys(ns, where + ".namespaces[]", {"type", "path"});
      Namespace n{get<std::string>(ns, "type", where + ".namespaces[]"), get<std::string>(ns, "path", where + ".namespaces[]")};
      if (std::find(types.begin(), types.end(), n.type) == types.end()) throw Error("config.json: namespace type \"" + n.type + "\" is not supported by cppcker", 125);
      if (l.find_namespace(n.type)) invalid(where + ".namespaces", "\"" + n.type + "\" is listed twice");
      l.namespaces.push_back(n);
    }
  }
  if (j.contains("devices") && !j["devices"].is_null()) {
    for (const auto& d : j["devices"]) {
      const std::string w = where + ".devices[]";
      check_keys(d, w, {"type", "path", "major", "minor", "fileMode", "uid", "gid"});
      Device dev{get<std::string>(d, "type", w), get<std::string>(d, "path", w), get<std::int64_t>(d, "major", w),
                 get<std::int64_t>(d, "minor", w), get_optional<std::uint32_t>(d, "fileMode", w),
                 get_optional<std::uint32_t>(d, "uid", w), get_optional<std::uint32_t>(d, "gid", w)};
      if (dev.path.empty() || dev.path.front() != '/') invalid(w, "path must be absolute");
      if (dev.type != "c" && dev.type != "b" && dev.type != "u" && dev.type != "p")
        invalid(w, "type \"" + dev.type + "\" is not one of c, b, u, p");
      l.devices.push_back(dev);
    }
  }
  if (j.contains("seccomp") && !j["seccomp"].is_null()) l.seccomp = seccomp_from_json(j["seccomp"]);
  l.rootfs_propagation = get<std::string>(j, "rootfsPropagation", where);
  if (!listed({"", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"},
              l.rootfs_propagation))
    invalid(where + ".rootfsPropagation", "\"" + l.rootfs_propagation + "\" is not a propagation type");
  l.masked_paths = get<std::vector<std::string>>(j, "maskedPaths", where);
  l.readonly_paths = get<std::vector<std::string>>(j, "readonlyPaths", where);
  return l;
}

using HookList = std::vector<Hook> Hooks::*;
struct HookField {
  std::string name;
  HookList list;
};
// In the order the runtime runs them.
const std::vector<HookField>& hook_fields() {
  static const std::vector<HookField> fields = {{"prestart", &Hooks::prestart},
                                                {"createRuntime", &Hooks::create_runtime},
                                                {"createContainer", &Hooks::create_container},
                                                {"startContainer", &Hooks::start_container},
                                                {"poststart", &Hooks::poststart},
                                                {"poststop", &Hooks::poststop}};
  return fields;
}

Hooks hooks_from(const json& j) {
  check_keys(j, "hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"});
  Hooks hooks;
  for (const auto& [name, list] : hook_fields()) {
    std::size_t i = 0;
    for (const auto& h : array_of(j, name.c_str(), "hooks")) {
      const std::string where = "hooks." + name + "[" + std::to_string(i++) + "]";
      check_keys(h, where, {"path", "args", "env", "timeout"});
      Hook hook{required<std::string>(h, "path", where), get<std::vector<std::string>>(h, "args", where),
                get<std::vector<std::string>>(h, "env", where), get_optional<int>(h, "timeout", where)};
      if (hook.path.empty() || hook.path.front() != '/')
        invalid(where + ".path", "\"" + hook.path + "\" must be an absolute path");
      if (hook.timeout && *hook.timeout <= 0)
        invalid(where + ".timeout", std::to_string(*hook.timeout) + " must be greater than zero");
      (hooks.*list).push_back(std::move(hook));
    }
  }
  return hooks;
}

}  // namespace

const std::vector<std::string>& namespace_types() {
  // "time" is left out: the core does not make time namespaces (nor apply timeOffsets).
  static const std::vector<std::string> types = {"pid", "network", "mount", "ipc", "uts", "user", "cgroup"};
  return types;
}

const std::vector<std::string>& hook_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& f : hook_fields()) out.push_back(f.name);
    return out;
  }();
  return names;
}

json to_json(const std::vector<DeviceRule>& rules) {
  json out = json::array();
  for (const auto& r : rules) {
    json d = {{"allow", r.allow}, {"type", r.type}};
    if (r.major) d["major"] = *r.major;
    if (r.minor) d["minor"] = *r.minor;
    d["access"] = r.access;
    out.push_back(d);
  }
  return out;
}

std::vector<DeviceRule> device_rules_from_json(const json& j) {
  std::vector<DeviceRule> out;
  if (j.is_null()) return out;
  const std::string where = "linux.resources.devices[]";
  if (!j.is_array()) invalid("linux.resources.devices", "must be an array");
  for (const auto& d : j) {
    check_keys(d, where, {"allow", "type", "major", "minor", "access"});
    DeviceRule r{get<bool>(d, "allow", where), get<std::string>(d, "type", where, "a"),
                 get_optional<std::int64_t>(d, "major", where), get_optional<std::int64_t>(d, "minor", where),
                 get<std::string>(d, "access", where, "rwm")};
    if (r.type != "a" && r.type != "c" && r.type != "b") invalid(where, "type \"" + r.type + "\" is not one of a, c, b");
    if (r.access.empty() || r.access.find_first_not_of("rwm") != std::string::npos)
      invalid(where, "access \"" + r.access + "\" is not a combination of r, w, m");
    out.push_back(r);
  }
  return out;
}

json to_json(const Seccomp& s) {
  json j = {{"defaultAction", s.default_action}};
  if (s.default_errno_ret) j["defaultErrnoRet"] = *s.default_errno_ret;
  if (!s.architectures.empty()) j["architectures"] = s.architectures;
  if (!s.flags.empty()) j["flags"] = s.flags;
  json calls = json::array();
  for (const auto& c : s.syscalls) {
    json call = {{"names", c.names}, {"action", c.action}};
    if (c.errno_ret) call["errnoRet"] = *c.errno_ret;
    if (!c.args.empty()) {
      json args = json::array();
      for (const auto& a : c.args) {
        json arg = {{"index", a.index}, {"value", a.value}, {"op", a.op}};
        if (a.value_two) arg["valueTwo"] = a.value_two;
        args.push_back(arg);
      }
      call["args"] = args;
    }
    calls.push_back(call);
  }
  j["syscalls"] = calls;
  return j;
}

Seccomp seccomp_from_json(const json& j) {
  const std::string where = "linux.seccomp";
  check_keys(j, where, {"defaultAction", "defaultErrnoRet", "architectures", "flags", "syscalls"},
             {"listenerPath", "listenerMetadata"});
  Seccomp s;
  s.default_action = get<std::string>(j, "defaultAction", where);
  if (s.default_action.empty()) invalid(where + ".defaultAction", "is required");
  s.default_errno_ret = get_optional<std::uint32_t>(j, "defaultErrnoRet", where);
  s.architectures = get<std::vector<std::string>>(j, "architectures", where);
  s.flags = get<std::vector<std::string>>(j, "flags", where);
  if (j.contains("syscalls") && !j["syscalls"].is_null()) {
    for (const auto& c : j["syscalls"]) {
      const std::string w = where + ".syscalls[]";
      check_keys(c, w, {"names", "action", "errnoRet", "args"});
      SeccompSyscall call{get<std::vector<std::string>>(c, "names", w), get<std::string>(c, "action", w),
                          get_optional<std::uint32_t>(c, "errnoRet", w), {}};
      if (call.names.empty()) invalid(w, "names is empty");
      if (call.action.empty()) invalid(w, "action is required");
      if (c.contains("args") && !c["args"].is_null()) {
        for (const auto& a : c["args"]) {
          check_keys(a, w + ".args[]", {"index", "value", "valueTwo", "op"});
          call.args.push_back({get<unsigned>(a, "index", w), get<std::uint64_t>(a, "value", w),
                               get<std::uint64_t>(a, "valueTwo", w), get<std::string>(a, "op", w)});
        }
      }
      s.syscalls.push_back(std::move(call));
    }
  }
  return s;
}

json to_json(const Process& p) {
  json user = {{"uid", p.user.uid}, {"gid", p.user.gid}};
  if (p.user.umask) user["umask"] = *p.user.umask;
  if (!p.user.additional_gids.empty()) user["additionalGids"] = p.user.additional_gids;
  if (!p.user.username.empty()) user["username"] = p.user.username;
  json j = {{"terminal", p.terminal}, {"user", user}, {"args", p.args}, {"env", p.env}, {"cwd", p.cwd}};
  if (p.console_size) j["consoleSize"] = {{"height", p.console_size->height}, {"width", p.console_size->width}};
  if (p.capabilities) j["capabilities"] = capabilities_json(*p.capabilities);
  if (!p.rlimits.empty()) {
    json limits = json::array();
    for (const auto& r : p.rlimits) limits.push_back({{"type", r.type}, {"hard", r.hard}, {"soft", r.soft}});
    j["rlimits"] = limits;
  }
  j["noNewPrivileges"] = p.no_new_privileges;
  if (p.oom_score_adj) j["oomScoreAdj"] = *p.oom_score_adj;
  return j;
}

Process process_from_json(const json& j) {
  const std::string where = "process";
  check_keys(j, where,
             {"terminal", "consoleSize", "user", "args", "env", "cwd", "capabilities", "rlimits", "noNewPrivileges",
              "oomScoreAdj"},
             {"apparmorProfile", "selinuxLabel", "ioPriority", "scheduler", "execCPUAffinity", "commandLine"});
  Process p;
  p.terminal = get<bool>(j, "terminal", where);
  if (j.contains("consoleSize") && !j["consoleSize"].is_null()) {
    check_keys(j["consoleSize"], where + ".consoleSize", {"height", "width"});
    p.console_size = ConsoleSize{get<unsigned>(j["consoleSize"], "height", where), get<unsigned>(j["consoleSize"], "width", where)};
  }
  if (j.contains("user")) {
    const json& u = j["user"];
    check_keys(u, where + ".user", {"uid", "gid", "umask", "additionalGids", "username"});
    p.user.uid = get<std::uint32_t>(u, "uid", where + ".user");
    p.user.gid = get<std::uint32_t>(u, "gid", where + ".user");
    p.user.umask = get_optional<std::uint32_t>(u, "umask", where + ".user");
    p.user.additional_gids = get<std::vector<std::uint32_t>>(u, "additionalGids", where + ".user");
    p.user.username = get<std::string>(u, "username", where + ".user");
  }
  p.args = get<std::vector<std::string>>(j, "args", where);
  p.env = get<std::vector<std::string>>(j, "env", where);
  p.cwd = get<std::string>(j, "cwd", where, "/");
  if (p.cwd.empty() || p.cwd.front() != '/') invalid(where + ".cwd", "must be an absolute path");
  if (j.contains("capabilities") && !j["capabilities"].is_null()) p.capabilities = capabilities_from(j["capabilities"]);
  if (j.contains("rlimits") && !j["rlimits"].is_null()) {
    for (const auto& r : j["rlimits"]) {
      check_keys(r, where + ".rlimits[]", {"type", "hard", "soft"});
      p.rlimits.push_back({get<std::string>(r, "type", where), get<std::uint64_t>(r, "hard", where),
                           get<std::uint64_t>(r, "soft", where)});
    }
  }
  p.no_new_privileges = get<bool>(j, "noNewPrivileges", where);
  p.oom_score_adj = get_optional<int>(j, "oomScoreAdj", where);
  return p;
}

json to_json(const Spec& s) {
  json mounts = json::array();
  for (const auto& m : s.mounts) {
    json mount = {{"destination", m.destination}, {"type", m.type}, {"source", m.source}, {"options", m.options}};
    if (!m.uid_mappings.empty()) mount["uidMappings"] = mappings_json(m.uid_mappings);
    if (!m.gid_mappings.empty()) mount["gidMappings"] = mappings_json(m.gid_mappings);
    mounts.push_back(mount);
  }
  json linux = json::object();
  const Linux& l = s.linux;
  if (!l.uid_mappings.empty()) linux["uidMappings"] = mappings_json(l.uid_mappings);
  if (!l.gid_mappings.empty()) linux["gidMappings"] = mappings_json(l.gid_mappings);
  if (!l.sysctl.empty()) linux["sysctl"] = l.sysctl;
  if (l.personality) {
    linux["personality"] = {{"domain", l.personality->domain}};
    if (!l.personality->flags.empty()) linux["personality"]["flags"] = l.personality->flags;
  }
  if (l.resources) linux["resources"] = resources_json(*l.resources);
  if (!l.cgroups_path.empty()) linux["cgroupsPath"] = l.cgroups_path;
  json namespaces = json::array();
  for (const auto& ns : l.namespaces) {
    json n = {{"type", ns.type}};
    if (!ns.path.empty()) n["path"] = ns.path;
    namespaces.push_back(n);
  }
  linux["namespaces"] = namespaces;
  if (!l.devices.empty()) {
    json devices = json::array();
    for (const auto& d : l.devices) {
      json dev = {{"type", d.type}, {"path", d.path}, {"major", d.major}, {"minor", d.minor}};
      if (d.file_mode) dev["fileMode"] = *d.file_mode;
      if (d.uid) dev["uid"] = *d.uid;
      if (d.gid) dev["gid"] = *d.gid;
      devices.push_back(dev);
    }
    linux["devices"] = devices;
  }
  if (l.seccomp) linux["seccomp"] = to_json(*l.seccomp);
  if (!l.rootfs_propagation.empty()) linux["rootfsPropagation"] = l.rootfs_propagation;
  if (!l.masked_paths.empty()) linux["maskedPaths"] = l.masked_paths;
  if (!l.readonly_paths.empty()) linux["readonlyPaths"] = l.readonly_paths;
  json j = {{"ociVersion", s.oci_version},
            {"process", to_json(s.process)},
            {"root", {{"path", s.root.path}, {"readonly", s.root.readonly}}},
            {"hostname", s.hostname},
            {"mounts", mounts},
            {"linux", linux}};
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  if (!s.hooks.empty()) j["hooks"] = hooks_json(s.hooks);
  return j;
}

Spec spec_from_json(const json& j) {
  check_keys(j, "", {"ociVersion", "process", "root", "hostname", "mounts", "annotations", "hooks", "linux"},
             {"domainname", "solaris", "windows", "vm", "zos"});
  Spec s;
  s.oci_version = get<std::string>(j, "ociVersion", "ociVersion");
  if (s.oci_version.rfind("1.", 0) != 0)
    throw Error("config.json: ociVersion " + s.oci_version + " is not supported (cppcker implements 1.x)", 125);
  if (j.contains("process") && !j["process"].is_null()) s.process = process_from_json(j["process"]);
  if (!j.contains("root") || !j["root"].is_object()) invalid("root", "is required");
  check_keys(j["root"], "root", {"path", "readonly"});
  s.root.path = get<std::string>(j["root"], "path", "root");
  s.root.readonly = get<bool>(j["root"], "readonly", "root");
  if (s.root.path.empty()) invalid("root.path", "is required");
  s.hostname = get<std::string>(j, "hostname", "hostname");
  if (j.contains("mounts") && !j["mounts"].is_null()) {
    for (const auto& m : j["mounts"]) {
      check_keys(m, "mounts[]", {"destination", "type", "source", "options", "uidMappings", "gidMappings"});
      Mount mount{get<std::string>(m, "destination", "mounts[]"), get<std::string>(m, "type", "mounts[]"),
                  get<std::string>(m, "source", "mounts[]"), get<std::vector<std::string>>(m, "options", "mounts[]"), {}, {}};
      if (mount.destination.empty() || mount.destination.front() != '/')
        invalid("mounts[]", "destination \"" + mount.destination + "\" must be an absolute path");
      if (m.contains("uidMappings")) mount.uid_mappings = mappings_from(m["uidMappings"], "mounts[].uidMappings");
      if (m.contains("gidMappings")) mount.gid_mappings = mappings_from(m["gidMappings"], "mounts[].gidMappings");
      s.mounts.push_back(std::move(mount));
    }
  }
  s.annotations = get<std::map<std::string, std::string>>(j, "annotations", "annotations");
  if (j.contains("hooks") && !j["hooks"].is_null()) s.hooks = hooks_from(j["hooks"]);
  if (j.contains("linux") && !j["linux"].is_null()) s.linux = linux_from(j["linux"]);
  return s;
}

}  // namespace cppcker::oci

namespace cppcker::oci {

json to_json(const State& s) {
  json j = {{"ociVersion", s.oci_version}, {"id", s.id}, {"status", s.status}};
  if (s.pid > 0) j["pid"] = s.pid;
  j["bundle"] = s.bundle;
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  return j;
}

}  // namespace cppcker::oci
