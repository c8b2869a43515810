#include "cppcker/runtime/inspect.hpp"

#include <csignal>
#include <cctype>
#include <cstring>

#include "cppcker/security/options.hpp"

namespace cppcker {

using nlohmann::ordered_json;

namespace {
// Docker's NetworkSettings: filled while the container is attached to a bridge network.
ordered_json network_settings(const Container& c) {
  const auto& e = c.state.net;
  ordered_json ports = ordered_json::object();
  if (e)
    for (const auto& p : e->ports)
      ports[p.container_key()].push_back({{"HostIp", p.shown_host_ip()}, {"HostPort", std::to_string(p.host_port)}});
  const bool default_bridge = e && e->network == "bridge";
  ordered_json networks = ordered_json::object();
  if (e)
    networks[e->network] = {{"NetworkID", e->network_id},
                            {"Gateway", format_ipv4(e->gateway)},
                            {"IPAddress", format_ipv4(e->address.address)},
                            {"IPPrefixLen", e->address.prefix},
                            {"MacAddress", e->mac},
                            {"Aliases", c.spec.network == "bridge" ? ordered_json(nullptr) : ordered_json({c.id.substr(0, 12)})}};
  return {{"Bridge", ""},
          {"SandboxKey", e ? e->netns : ""},
          {"Ports", ports},
          {"Gateway", default_bridge ? format_ipv4(e->gateway) : ""},
          {"IPAddress", default_bridge ? format_ipv4(e->address.address) : ""},
          {"IPPrefixLen", default_bridge ? e->address.prefix : 0},
          {"MacAddress", default_bridge ? e->mac : ""},
          {"Networks", networks}};
}
}  // namespace

ordered_json inspect_container(const ImageStore& images, const ContainerStore& containers, const Container& c) {
  ContainerState s = ContainerStore::observed_state(c);
  bool running = s.status == "running";
  std::string lower;
  if (auto img = images.get_image(c.spec.image_id))
    for (auto it = img->layers.rbegin(); it != img->layers.rend(); ++it)
      lower += (lower.empty() ? "" : ":") + images.layer_diff_dir(it->chain_id).string();
  fs::path d = containers.dir(c.id);
  const ResourceLimits& l = c.spec.limits;
  const char* stop_signal = sigabbrev_np(c.spec.stop_signal);
  const std::vector<std::string> argv = c.argv();
  const bool confined_paths = !c.spec.privileged && !c.spec.systempaths_unconfined;
  return {{"Id", c.id},
          {"Created", s.created},
          {"Path", argv.empty() ? "" : argv.front()},
          {"Args", argv.size() > 1 ? ordered_json(std::vector<std::string>(argv.begin() + 1, argv.end())) : ordered_json::array()},
          {"State",
           {{"Status", s.status},
            {"Running", running},
            {"Paused", false},
            {"Restarting", false},
            {"OOMKilled", s.oom_killed},
            {"Dead", false},
            {"Pid", running ? s.pid : 0},
            {"ExitCode", s.exit_code},
            {"Error", s.error},
            {"StartedAt", s.started.empty() ? "0001-01-01T00:00:00Z" : s.started},
            {"FinishedAt", s.finished.empty() ? "0001-01-01T00:00:00Z" : s.finished}}},
          {"Image", c.spec.image_id},
          {"ResolvConfPath", (d / "resolv.conf").string()},
          {"HostnamePath", (d / "hostname").string()},
          {"HostsPath", (d / "hosts").string()},
          {"LogPath", (d / "container.log").string()},
          {"Name", "/" + c.name},
          {"Driver", "overlay"},
          {"HostConfig",
           {{"NetworkMode", c.spec.network},
            {"AutoRemove", c.spec.auto_remove},
            {"ReadonlyRootfs", c.spec.read_only},
            {"Init", c.spec.init},
            {"CgroupParent", c.spec.cgroup_parent},
            {"CgroupPaths", c.cgroup_paths()},
            {"Memory", l.memory.value_or(0)},
            {"MemorySwap", l.memory_swap.value_or(0)},
            {"NanoCpus", l.cpus ? static_cast<std::int64_t>(*l.cpus * 1e9) : 0},
            {"CpuShares", l.cpu_shares.value_or(0)},
            {"CpusetCpus", l.cpuset_cpus.value_or("")},
            {"PidsLimit", l.pids ? ordered_json(*l.pids) : ordered_json(nullptr)},
            {"PortBindings", [&] {
               ordered_json b = ordered_json::object();
               for (const auto& p : c.spec.ports)
                 b[p.container_key()].push_back(
                     {{"HostIp", p.host_ip}, {"HostPort", p.host_port ? std::to_string(p.host_port) : ""}});
               return b;
             }()},
            {"CapAdd", c.spec.cap_add.empty() ? ordered_json(nullptr) : ordered_json(c.spec.cap_add)},
            {"CapDrop", c.spec.cap_drop.empty() ? ordered_json(nullptr) : ordered_json(c.spec.cap_drop)},
            {"Privileged", c.spec.privileged},
            {"SecurityOpt", c.spec.security_opt.empty() ? ordered_json(nullptr) : ordered_json(c.spec.security_opt)},
            {"Devices", [&] {
               ordered_json devices = ordered_json::array();
               for (const auto& d : c.spec.devices)
                 devices.push_back({{"PathOnHost", d.host_path}, {"PathInContainer", d.container_path},
                                    {"CgroupPermissions", d.permissions}});
               return devices;
             }()},
            {"DeviceCgroupRules", c.spec.device_cgroup_rules.empty() ? ordered_json(nullptr) : ordered_json(c.spec.device_cgroup_rules)},
            {"UsernsMode", c.spec.userns_mode},
            {"ShmSize", c.spec.shm_size},
            {"Ulimits", [&] {
               ordered_json limits = ordered_json::array();
               for (const auto& r : c.spec.ulimits) {
                 std::string name = r.type.substr(7);  // RLIMIT_NOFILE -> nofile
                 for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                 limits.push_back({{"Name", name}, {"Hard", r.hard}, {"Soft", r.soft}});
               }
               return limits;
             }()},
            {"LogConfig", [&] {
               ordered_json config = ordered_json::object();
               if (c.spec.log_max_size > 0) config["max-size"] = std::to_string(c.spec.log_max_size);
               if (c.spec.log_max_file > 1) config["max-file"] = std::to_string(c.spec.log_max_file);
               return ordered_json{{"Type", "json-file"}, {"Config", config}};
             }()},
            {"MaskedPaths", confined_paths ? ordered_json(default_masked_paths()) : ordered_json(nullptr)},
            {"ReadonlyPaths", confined_paths ? ordered_json(default_readonly_paths()) : ordered_json(nullptr)},
            {"Dns", c.spec.dns},
            {"DnsSearch", c.spec.dns_search},
            {"DnsOptions", c.spec.dns_options},
            {"ExtraHosts", c.spec.extra_hosts}}},
          {"GraphDriver",
           {{"Data",
             {{"LowerDir", lower},
              {"MergedDir", (d / "merged").string()},
              {"UpperDir", (d / "upper").string()},
              {"WorkDir", (d / "work").string()}}},
            {"Name", "overlay"}}},
          {"Mounts", [&] {
             ordered_json mounts = ordered_json::array();
             VolumeStore volumes(containers.root());
             for (const auto& m : c.spec.mounts) {
               ordered_json j = {{"Type", m.type}};
               if (m.type == "volume") j["Name"] = m.source;
               j["Source"] = m.type == "volume" ? volumes.data_path(m.source).string() : m.source;
               j["Destination"] = m.target;
               j["RW"] = !m.readonly;
               mounts.push_back(j);
             }
             return mounts;
           }()},
          {"NetworkSettings", network_settings(c)},
          {"Config",
           {{"Hostname", c.spec.hostname},
            {"User", c.spec.user},
            {"Tty", c.spec.tty},
            {"OpenStdin", c.spec.interactive},
            {"Env", c.spec.env},
            {"Cmd", c.spec.cmd},
            {"Image", c.spec.image},
            {"WorkingDir", c.spec.workdir},
            {"Entrypoint", c.spec.entrypoint.empty() ? ordered_json(nullptr) : ordered_json(c.spec.entrypoint)},
            {"StopSignal", std::string("SIG") + (stop_signal ? stop_signal : "TERM")},
            {"StopTimeout", c.spec.stop_timeout}}}};
}

}  // namespace cppcker
