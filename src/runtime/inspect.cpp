#include "cppcker/runtime/inspect.hpp"

#include <csignal>
#include <cctype>
#include <cstring>

#include "cppcker/runtime/health.hpp"
#include "cppcker/runtime/networking.hpp"
#include "cppcker/security/options.hpp"

namespace cppcker {

using nlohmann::ordered_json;

namespace {

ordered_json or_null(const std::vector<std::string>& v) { return v.empty() ? ordered_json(nullptr) : ordered_json(v); }

// Docker's NetworkSettings: the addresses while the container is attached to a bridge network; the
// network's entry (with empty addresses) while it is not.
ordered_json network_settings(const Container& c) {
  const auto& e = c.state.net;
  ordered_json ports = ordered_json::object();
  if (e)
    for (const auto& p : e->ports)
      ports[p.container_key()].push_back({{"HostIp", p.shown_host_ip()}, {"HostPort", std::to_string(p.host_port)}});
  const bool default_bridge = e && e->network == "bridge";
  ordered_json networks = ordered_json::object();
  // One entry per network: the one given at run, then those `network connect` added (with empty
  // addresses while the container is down).
  auto entry = [&](const std::string& name, const Endpoint* x, const std::vector<std::string>& aliases,
                   const std::string& ip) {
    const bool user_network = name != "bridge" && name != "host" && name != "none";
    ordered_json alias_list = ordered_json(nullptr);
    if (user_network) {
      alias_list = aliases;
      alias_list.push_back(c.id.substr(0, 12));
    }
    networks[name] = {{"IPAMConfig", ip.empty() ? ordered_json(nullptr) : ordered_json{{"IPv4Address", ip}}},
                      {"Links", nullptr},
                      {"Aliases", alias_list},
                      {"NetworkID", x ? x->network_id : ""},
                      {"EndpointID", ""},
                      {"Gateway", x ? format_ipv4(x->gateway) : ""},
                      {"IPAddress", x ? format_ipv4(x->address.address) : ""},
                      {"IPPrefixLen", x ? x->address.prefix : 0},
                      {"IPv6Gateway", ""},
                      {"GlobalIPv6Address", ""},
                      {"GlobalIPv6PrefixLen", 0},
                      {"MacAddress", x ? x->mac : ""},
                      {"DriverOpts", nullptr}};
  };
  const std::string name = e ? e->network : c.spec.network;
  if (name.rfind("container:", 0) != 0) entry(name, e ? &*e : nullptr, {}, "");
  for (const auto& a : c.spec.extra_networks) entry(a.network, endpoint_on(c.state, a.network), a.aliases, a.ip);
  return {{"Bridge", ""},
          {"SandboxID", ""},
          {"HairpinMode", false},
          {"LinkLocalIPv6Address", ""},
          {"LinkLocalIPv6PrefixLen", 0},
          {"Ports", ports},
          {"SandboxKey", e ? e->netns : ""},
          {"SecondaryIPAddresses", nullptr},
          {"SecondaryIPv6Addresses", nullptr},
          {"EndpointID", ""},
          {"Gateway", default_bridge ? format_ipv4(e->gateway) : ""},
          {"GlobalIPv6Address", ""},
          {"GlobalIPv6PrefixLen", 0},
          {"IPAddress", default_bridge ? format_ipv4(e->address.address) : ""},
          {"IPPrefixLen", default_bridge ? e->address.prefix : 0},
          {"IPv6Gateway", ""},
          {"MacAddress", default_bridge ? e->mac : ""},
          {"Networks", networks}};
}

// Docker's State.Health, present only for a container with a health check.
ordered_json health_state(const ContainerState& s) {
  ordered_json log = ordered_json::array();
  for (const auto& p : s.health.log)
    log.push_back({{"Start", p.start}, {"End", p.end}, {"ExitCode", p.exit_code}, {"Output", p.output}});
  return {{"Status", s.health.status.empty() ? std::string("starting") : s.health.status},
          {"FailingStreak", s.health.failing_streak},
          {"Log", log}};
}


// The image's config ("config" of the image JSON), or null when the image is gone.
nlohmann::json image_config(const ImageStore& images, const std::string& id) {
  try {
    auto j = nlohmann::json::parse(images.read_blob(id), nullptr, false);
    if (j.is_object() && j.contains("config") && j["config"].is_object()) return j["config"];
  } catch (const std::exception&) {
  }
  return nullptr;
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
  const nlohmann::json image = image_config(images, c.spec.image_id);

  ordered_json state = {{"Status", s.paused ? "paused" : s.status},
                        {"Running", running || s.status == "restarting"},  // Docker: Running and Restarting
                        {"Paused", s.paused},
                        {"Restarting", s.status == "restarting"},
                        {"OOMKilled", s.oom_killed},
                        {"Dead", false},
                        {"Pid", running ? s.pid : 0},
                        {"ExitCode", s.exit_code},
                        {"Error", s.error},
                        {"StartedAt", s.started.empty() ? "0001-01-01T00:00:00Z" : s.started},
                        {"FinishedAt", s.finished.empty() ? "0001-01-01T00:00:00Z" : s.finished}};
  if (health_enabled(c.spec)) state["Health"] = health_state(s);

  // -v binds and named volumes as written (Docker's Binds); anonymous volumes are Config.Volumes.
  std::vector<std::string> binds;
  ordered_json tmpfs = ordered_json::object();
  ordered_json volumes = ordered_json::object();
  if (image.is_object() && image.contains("Volumes") && image["Volumes"].is_object())
    for (const auto& [target, _] : image["Volumes"].items()) volumes[target] = ordered_json::object();
  for (const auto& m : c.spec.mounts) {
    if (m.type == "tmpfs") tmpfs[m.target] = m.options;
    else if (m.anonymous) volumes[m.target] = ordered_json::object();
    else binds.push_back(m.source + ":" + m.target + (m.readonly ? ":ro" : "") + (m.idmap ? (m.readonly ? ",idmap" : ":idmap") : ""));
  }
  // Exposed: the image's EXPOSE'd ports and the published ones.
  ordered_json exposed = ordered_json::object();
  if (image.is_object() && image.contains("ExposedPorts") && image["ExposedPorts"].is_object())
    for (const auto& [port, _] : image["ExposedPorts"].items()) exposed[port] = ordered_json::object();
  for (const auto& p : c.spec.ports) exposed[p.container_key()] = ordered_json::object();
  for (const auto& p : c.spec.exposed_ports) exposed[p] = ordered_json::object();

  ordered_json host_config = {
      {"Binds", or_null(binds)},
      {"ContainerIDFile", ""},
      {"LogConfig", [&] {
         ordered_json config = ordered_json::object();
         if (c.spec.log_max_size > 0) config["max-size"] = std::to_string(c.spec.log_max_size);
         if (c.spec.log_max_file > 1) config["max-file"] = std::to_string(c.spec.log_max_file);
         return ordered_json{{"Type", "json-file"}, {"Config", config}};
       }()},
      {"NetworkMode", c.spec.network},
      {"PortBindings", [&] {
         ordered_json b = ordered_json::object();
         for (const auto& p : c.spec.ports)
           b[p.container_key()].push_back({{"HostIp", p.host_ip}, {"HostPort", p.host_port ? std::to_string(p.host_port) : ""}});
         return b;
       }()},
      {"RestartPolicy", {{"Name", c.spec.restart.name.empty() ? "no" : c.spec.restart.name},
                         {"MaximumRetryCount", c.spec.restart.maximum_retry_count}}},
      {"AutoRemove", c.spec.auto_remove},
      {"VolumeDriver", ""},
      {"VolumesFrom", nullptr},
      {"CapAdd", or_null(c.spec.cap_add)},
      {"CapDrop", or_null(c.spec.cap_drop)},
      {"Dns", c.spec.dns},
      {"DnsOptions", c.spec.dns_options},
      {"DnsSearch", c.spec.dns_search},
      {"ExtraHosts", or_null(c.spec.extra_hosts)},
      {"GroupAdd", nullptr},
      {"IpcMode", "private"},
      {"Cgroup", ""},
      {"Links", nullptr},
      {"OomScoreAdj", 0},
      {"PidMode", ""},
      {"Privileged", c.spec.privileged},
      {"PublishAllPorts", false},
      {"ReadonlyRootfs", c.spec.read_only},
      {"SecurityOpt", or_null(c.spec.security_opt)},
      {"UTSMode", ""},
      {"UsernsMode", c.spec.userns_mode},
      {"ShmSize", c.spec.shm_size},
      {"ConsoleSize", {0, 0}},
      {"Isolation", ""},
      {"CpuShares", l.cpu_shares.value_or(0)},
      {"Memory", l.memory.value_or(0)},
      {"NanoCpus", l.cpus ? static_cast<std::int64_t>(*l.cpus * 1e9) : 0},
      {"CgroupParent", c.spec.cgroup_parent},
      {"CgroupPaths", c.cgroup_paths()},
      {"CpusetCpus", l.cpuset_cpus.value_or("")},
      {"Devices", [&] {
         ordered_json devices = ordered_json::array();
         for (const auto& dev : c.spec.devices)
           devices.push_back({{"PathOnHost", dev.host_path}, {"PathInContainer", dev.container_path},
                              {"CgroupPermissions", dev.permissions}});
         return devices;
       }()},
      {"DeviceCgroupRules", or_null(c.spec.device_cgroup_rules)},
      {"MemorySwap", l.memory_swap.value_or(0)},
      {"PidsLimit", l.pids ? ordered_json(*l.pids) : ordered_json(nullptr)},
      {"Ulimits", [&] {
         ordered_json limits = ordered_json::array();
         for (const auto& r : c.spec.ulimits) {
           std::string name = r.type.substr(7);  // RLIMIT_NOFILE -> nofile
           for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
           limits.push_back({{"Name", name}, {"Hard", r.hard}, {"Soft", r.soft}});
         }
         return limits;
       }()},
      {"MaskedPaths", confined_paths ? ordered_json(default_masked_paths()) : ordered_json(nullptr)},
      {"ReadonlyPaths", confined_paths ? ordered_json(default_readonly_paths()) : ordered_json(nullptr)},
      {"Init", c.spec.init}};
  if (!tmpfs.empty()) host_config["Tmpfs"] = tmpfs;

  ordered_json config = {{"Hostname", c.spec.hostname},
                         {"Domainname", ""},
                         {"User", c.spec.user},
                         {"AttachStdin", c.spec.interactive && !c.spec.detach},
                         {"AttachStdout", !c.spec.detach},
                         {"AttachStderr", !c.spec.detach}};
  if (!exposed.empty()) config["ExposedPorts"] = exposed;
  config["Tty"] = c.spec.tty;
  config["OpenStdin"] = c.spec.interactive;
  config["StdinOnce"] = c.spec.interactive && !c.spec.detach;
  config["Env"] = c.spec.env;
  config["Cmd"] = c.spec.cmd;
  if (c.spec.health) {
    const HealthConfig& h = *c.spec.health;
    config["Healthcheck"] = {{"Test", h.test},
                             {"Interval", h.interval_ns},
                             {"Timeout", h.timeout_ns},
                             {"StartPeriod", h.start_period_ns},
                             {"Retries", h.retries}};
  }
  config["Image"] = c.spec.image;
  config["Volumes"] = volumes.empty() ? ordered_json(nullptr) : volumes;
  config["WorkingDir"] = c.spec.workdir;
  config["Entrypoint"] = or_null(c.spec.entrypoint);
  config["OnBuild"] = nullptr;
  config["Labels"] = c.spec.labels;
  config["StopSignal"] = std::string("SIG") + (stop_signal ? stop_signal : "TERM");
  config["StopTimeout"] = c.spec.stop_timeout;

  return {{"Id", c.id},
          {"Created", s.created},
          {"Path", argv.empty() ? "" : argv.front()},
          {"Args", argv.size() > 1 ? ordered_json(std::vector<std::string>(argv.begin() + 1, argv.end())) : ordered_json::array()},
          {"State", state},
          {"Image", c.spec.image_id},
          {"ResolvConfPath", (d / "resolv.conf").string()},
          {"HostnamePath", (d / "hostname").string()},
          {"HostsPath", (d / "hosts").string()},
          {"LogPath", (d / "container.log").string()},
          {"Name", "/" + c.name},
          {"RestartCount", s.restart_count},
          {"Driver", "overlay2"},
          {"Platform", "linux"},
          {"MountLabel", ""},
          {"ProcessLabel", ""},
          {"AppArmorProfile", ""},
          {"ExecIDs", nullptr},
          {"HostConfig", host_config},
          {"GraphDriver",
           {{"Data",
             {{"LowerDir", lower},
              {"MergedDir", (d / "merged").string()},
              {"UpperDir", (d / "upper").string()},
              {"WorkDir", (d / "work").string()}}},
            {"Name", "overlay2"}}},
          {"Mounts", [&] {
             ordered_json mounts = ordered_json::array();
             VolumeStore volume_store(containers.root());
             for (const auto& m : c.spec.mounts) {
               if (m.type == "tmpfs") continue;  // Docker lists --tmpfs under HostConfig.Tmpfs only
               ordered_json j = {{"Type", m.type}};
               if (m.type == "volume") j["Name"] = m.source;
               j["Source"] = m.type == "volume" ? volume_store.data_path(m.source).string() : m.source;
               j["Destination"] = m.target;
               if (m.type == "volume") j["Driver"] = "local";
               j["Mode"] = m.type == "volume" ? "z" : "";
               j["RW"] = !m.readonly;
               j["Propagation"] = m.type == "bind" ? "rprivate" : "";
               mounts.push_back(j);
             }
             return mounts;
           }()},
          {"Config", config},
          {"NetworkSettings", network_settings(c)}};
}

}  // namespace cppcker
