// cppcker run: create and run a container from an image.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "cppcker/cli/commands.hpp"
#include "cppcker/cli/container_options.hpp"
#include "cppcker/image/pull.hpp"
#include "cppcker/runtime/container_defaults.hpp"
#include "cppcker/runtime/health.hpp"
#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/runtime/options.hpp"
#include "cppcker/runtime/networking.hpp"
#include "cppcker/runtime/restart.hpp"
#include "cppcker/runtime/run.hpp"
#include "cppcker/runtime/volume.hpp"
#include "cppcker/security/capabilities.hpp"
#include "cppcker/security/devices.hpp"
#include "cppcker/security/options.hpp"
#include "cppcker/security/seccomp.hpp"
#include "cppcker/security/userns.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/timing.hpp"

namespace cppcker::cli {

struct ContainerOptions {
  CLI::App* cmd = nullptr;        // its remaining() words are IMAGE [COMMAND] [ARG...]
  CLI::Option* entrypoint_option = nullptr;
  std::string name, entrypoint, workdir, user, hostname, network = "bridge", cgroup_parent, stop_signal;
  std::vector<std::string> env, env_files, volumes, tmpfs;
  std::vector<std::string> publish, expose, dns, dns_search, dns_options, add_hosts;
  bool publish_all = false;
  bool read_only = false;
  bool detach = false, rm = false, interactive = false, tty = false, init = false;
  std::string memory, memory_swap, cpus, cpuset_cpus;
  std::optional<std::int64_t> mem_mb, swap_mb;
  std::int64_t pids_gocker = 0, pids_limit = 0;
  std::int64_t cpu_shares = 0;  // signed: Docker refuses a negative value, CLI11 would wrap it
  int stop_timeout = -1;
  bool entrypoint_given = false;
  std::vector<std::string> cap_add, cap_drop, security_opt, devices, device_cgroup_rules, ulimits, log_opts;
  bool privileged = false;
  std::string userns, shm_size;
  // --restart and the health check (read in restart_and_health below).
  std::string restart = "no", health_cmd, health_interval, health_timeout, health_start_period;
  int health_retries = 0;
  bool no_healthcheck = false;
  std::vector<std::string> labels, label_files, mounts;
};

namespace {
using RunOptions = ContainerOptions;

// --restart and --health-*: checked before anything is made (as Docker's CLI does); the health check is
// merged with the image's afterwards (merge_health_config).
struct RestartAndHealth {
  RestartPolicy restart;
  HealthFlags health;
};
RestartAndHealth restart_and_health(const RunOptions& o) {
  RestartAndHealth r;
  r.restart = parse_restart_policy(o.restart);
  if (o.rm && r.restart.name != "no") throw Error("Conflicting options: --restart and --rm", 125);
  auto duration = [](const std::string& value, const char* flag) -> std::int64_t {
    if (value.empty()) return 0;
    try {
      return parse_go_duration(value);
    } catch (const Error& e) {
      throw Error("invalid argument \"" + value + "\" for \"" + flag + "\" flag: " + e.what(), 125);
    }
  };
  r.health.cmd = o.health_cmd;
  r.health.interval_ns = duration(o.health_interval, "--health-interval");
  r.health.timeout_ns = duration(o.health_timeout, "--health-timeout");
  r.health.start_period_ns = duration(o.health_start_period, "--health-start-period");
  r.health.retries = o.health_retries;
  r.health.none = o.no_healthcheck;
  merge_health_config(r.health, nullptr);  // the flags' own checks, before any image is pulled
  return r;
}

// The image's ID, pulled first when it is not here (as `docker run` does).
std::string find_or_pull(const GlobalOptions& global, const ImageStore& store, const std::string& name) {
  if (auto id = store.find_image(name)) return *id;
  Reference ref;
  try {
    ref = Reference::parse(name);
  } catch (const Error& e) {
    throw Error(e.what(), 125);  // as `docker run`: a malformed reference is a usage error
  }
  std::cerr << "Unable to find image '" << ref.familiar_string() << "' locally\n";
  PullObserver quiet;
  PullResult result;
  try {
    result = pull_image(store, global.registry_config(), ref, {}, quiet);
  } catch (const Error& e) {
    throw Error(e.what(), 125);  // as `docker run`: a failed pull is the runtime's failure
  }
  std::cerr << "Digest: " << result.digest << "\nStatus: Downloaded newer image for " << ref.familiar_string() << "\n";
  return result.image_id;
}

ResourceLimits limits_from(const RunOptions& o, const RuntimeConfig& config) {
  ResourceLimits l;
  if (!o.memory.empty()) l.memory = parse_memory_size(o.memory, "-m, --memory");
  if (o.mem_mb) l.memory = *o.mem_mb * 1024 * 1024;
  if (l.memory == 0) l.memory.reset();  // Docker: 0 is no limit
  if (l.memory && *l.memory < 6 * 1024 * 1024) throw Error("Minimum memory limit allowed is 6MB", 125);
  if (!o.memory_swap.empty()) l.memory_swap = o.memory_swap == "-1" ? -1 : parse_memory_size(o.memory_swap, "--memory-swap");
  if (o.swap_mb) {
    if (!l.memory) throw Error("--swap needs --mem (or --memory): swap is limited on top of memory", 125);
    if (*o.swap_mb < -1) throw Error("invalid --swap " + std::to_string(*o.swap_mb) + ": MB of swap, or -1 for unlimited", 125);
    l.memory_swap = *o.swap_mb < 0 ? -1 : *l.memory + *o.swap_mb * 1024 * 1024;
  }
  if (l.memory_swap && *l.memory_swap >= 0) {
    if (!l.memory) throw Error("You should always set the Memory limit when using Memoryswap limit", 125);
    if (*l.memory_swap < *l.memory)
      throw Error("Minimum memoryswap limit should be larger than memory limit, see usage", 125);
  }
  // Docker: --cpus 0 is no limit (NanoCPUs 0).
  if (!o.cpus.empty() && o.cpus.find_first_not_of("0.") != std::string::npos) l.cpus = parse_cpus(o.cpus);
  std::int64_t pids = o.pids_limit != 0 ? o.pids_limit : o.pids_gocker;
  if (pids == 0 && config.default_pids_limit) pids = *config.default_pids_limit;
  if (pids != 0) l.pids = pids < 0 ? -1 : pids;
  if (!o.cpuset_cpus.empty()) {
    check_cpuset_cpus(o.cpuset_cpus, online_cpus());  // before anything is made, not as a cgroup write error
    l.cpuset_cpus = o.cpuset_cpus;
  }
  if (o.cpu_shares < 0) throw Error("shares: invalid argument", 125);  // moby's getCPUResources
  if (o.cpu_shares != 0) l.cpu_shares = static_cast<std::uint64_t>(o.cpu_shares);  // 0: the default
  return l;
}

std::vector<std::string> json_strings(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_array()) return {};
  std::vector<std::string> out;
  for (const auto& v : j[key])
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

// Capabilities, seccomp, devices, user namespace, ulimits, /dev/shm and log options, checked here so that a
// bad one is refused before anything is made.
void confine(ContainerSpec& spec, const RunOptions& o, const RuntimeConfig& config) {
  for (const auto& c : o.cap_add) normalize_capability(c);
  for (const auto& c : o.cap_drop) normalize_capability(c);
  spec.cap_add = o.cap_add;
  spec.cap_drop = o.cap_drop;
  spec.privileged = o.privileged;
  spec.security_opt = o.security_opt;
  SecurityOptions security = parse_security_options(o.security_opt);
  // The config's defaults first (no-new-privileges, seccomp, ulimits, /dev/shm), then the flags over them.
  apply_confinement_defaults(spec, config);
  if (security.no_new_privileges) spec.no_new_privileges = *security.no_new_privileges;
  spec.systempaths_unconfined = security.systempaths_unconfined;
  set_seccomp_profile(spec, security.seccomp);
  for (const auto& d : o.devices) {
    spec.devices.push_back(parse_device_flag(d));
    resolve_device(spec.devices.back());  // the host's node must exist now
  }
  for (const auto& r : o.device_cgroup_rules) parse_device_cgroup_rule(r);
  spec.device_cgroup_rules = o.device_cgroup_rules;
  spec.userns_mode = !o.userns.empty() ? o.userns : config.userns_remap.empty() ? "" : "auto";
  if (o.privileged && parse_userns_mode(spec.userns_mode).enabled)
    throw Error("privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode", 125);
  for (const auto& u : o.ulimits) {
    oci::Rlimit r = parse_ulimit(u);
    std::erase_if(spec.ulimits, [&](const oci::Rlimit& x) { return x.type == r.type; });
    spec.ulimits.push_back(r);
  }
  if (!o.shm_size.empty()) {
    spec.shm_size = parse_memory_size(o.shm_size, "--shm-size");
    if (spec.shm_size <= 0) throw Error("invalid argument \"" + o.shm_size + "\" for \"--shm-size\" flag: size must be positive", 125);
  }
  parse_log_options(o.log_opts, spec.log_max_size, spec.log_max_file);
}

}  // namespace

std::shared_ptr<ContainerOptions> add_container_options(CLI::App* cmd, bool run) {
  auto o = std::make_shared<ContainerOptions>();
  o->cmd = cmd;
  cmd->prefix_command();  // IMAGE ends the options: what follows is the command and its arguments
  cmd->set_help_flag("--help", "Print usage");  // -h is the hostname, as in Docker
  cmd->fallthrough(false);  // the image and command are ours, not the parent's extras
  cmd->add_option("--name", o->name, "Assign a name to the container");
  if (run) cmd->add_flag("-d,--detach", o->detach, "Run container in background and print container ID");
  cmd->add_flag("--rm", o->rm, "Automatically remove the container when it exits");
  cmd->add_flag("-i,--interactive", o->interactive, "Keep STDIN open");
  cmd->add_flag("-t,--tty", o->tty, "Allocate a pseudo-TTY");
  cmd->add_flag("--init", o->init, "Run an init inside the container that forwards signals and reaps processes");
  cmd->add_option("-v,--volume", o->volumes, "Bind mount a volume: /host:/ctr[:ro], name:/ctr[:ro] or /ctr")
      ->allow_extra_args(false);
  cmd->add_option("--tmpfs", o->tmpfs, "Mount a tmpfs directory: /ctr[:options]")
      ->allow_extra_args(false);
  cmd->add_flag("--read-only", o->read_only, "Mount the container's root filesystem as read only");
  cmd->add_option("-e,--env", o->env, "Set environment variables")
      ->allow_extra_args(false);
  cmd->add_option("--env-file", o->env_files, "Read in a file of environment variables")
      ->allow_extra_args(false);
  o->entrypoint_option = cmd->add_option("--entrypoint", o->entrypoint, "Overwrite the default ENTRYPOINT of the image");
  cmd->add_option("-w,--workdir", o->workdir, "Working directory inside the container");
  cmd->add_option("-u,--user", o->user, "Username or UID (format: <name|uid>[:<group|gid>])");
  cmd->add_option("-h,--hostname", o->hostname, "Container host name");
  cmd->add_option("--network,--net", o->network,
                  "Connect a container to a network: bridge (default), none, host, container:<name|id>, or a user network");
  cmd->add_option("-p,--publish", o->publish, "Publish a container's port(s) to the host: [ip:][hostPort:]containerPort[/proto]")
      ->allow_extra_args(false);
  cmd->add_flag("-P,--publish-all", o->publish_all, "Publish all exposed ports to random ports");
  cmd->add_option("--expose", o->expose, "Expose a port or a range of ports")->allow_extra_args(false);
  cmd->add_option("--dns", o->dns, "Set custom DNS servers")->allow_extra_args(false);
  cmd->add_option("--dns-search", o->dns_search, "Set custom DNS search domains")->allow_extra_args(false);
  cmd->add_option("--dns-option", o->dns_options, "Set DNS options")->allow_extra_args(false);
  cmd->add_option("--add-host", o->add_hosts, "Add a custom host-to-IP mapping (host:ip)")->allow_extra_args(false);
  cmd->add_option("-m,--memory", o->memory, "Memory limit (e.g. 128m, 1g)");
  cmd->add_option("--mem", o->mem_mb, "Memory limit in MB (Gocker's flag)");
  cmd->add_option("--memory-swap", o->memory_swap, "Swap limit equal to memory plus swap: '-1' to enable unlimited swap");
  cmd->add_option("--swap", o->swap_mb, "Swap limit in MB on top of --mem; -1 for unlimited (Gocker's flag)");
  cmd->add_option("--cpus", o->cpus, "Number of CPUs");
  cmd->add_option("--pids-limit", o->pids_limit, "Tune container pids limit (set -1 for unlimited)");
  cmd->add_option("--pids", o->pids_gocker, "Number of max processes (Gocker's flag)");
  cmd->add_option("--cpuset-cpus", o->cpuset_cpus, "CPUs in which to allow execution (0-3, 0,1)");
  cmd->add_option("-c,--cpu-shares", o->cpu_shares, "CPU shares (relative weight)");
  cmd->add_option("--cgroup-parent", o->cgroup_parent,
                  "Parent cgroup for the container (absolute, or relative to the caller's own cgroup)");
  cmd->add_option("--stop-signal", o->stop_signal, "Signal to stop the container");
  cmd->add_option("--stop-timeout", o->stop_timeout, "Timeout (in seconds) to stop a container");
  cmd->add_option("--cap-add", o->cap_add, "Add Linux capabilities")->allow_extra_args(false);
  cmd->add_option("--cap-drop", o->cap_drop, "Drop Linux capabilities")->allow_extra_args(false);
  cmd->add_flag("--privileged", o->privileged, "Give extended privileges to this container");
  cmd->add_option("--security-opt", o->security_opt,
                  "Security options: seccomp=PATH|unconfined, no-new-privileges, systempaths=unconfined")
      ->allow_extra_args(false);
  cmd->add_option("--device", o->devices, "Add a host device to the container: HOST[:CONTAINER][:rwm]")->allow_extra_args(false);
  cmd->add_option("--device-cgroup-rule", o->device_cgroup_rules, "Add a rule to the cgroup allowed devices list")
      ->allow_extra_args(false);
  cmd->add_option("--userns", o->userns, "User namespace to use: host (default), auto[:size=N]");
  cmd->add_option("--ulimit", o->ulimits, "Ulimit options: NAME=SOFT[:HARD]")->allow_extra_args(false);
  cmd->add_option("--shm-size", o->shm_size, "Size of /dev/shm (default 64m)");
  cmd->add_option("--log-opt", o->log_opts, "Log driver options: max-size=SIZE, max-file=N")->allow_extra_args(false);
  cmd->add_option("--restart", o->restart, "Restart policy to apply when a container exits (no, on-failure[:max-retries], always, unless-stopped)");
  cmd->add_option("--health-cmd", o->health_cmd, "Command to run to check health");
  cmd->add_option("--health-interval", o->health_interval, "Time between running the check (ms|s|m|h) (default 0s)");
  cmd->add_option("--health-timeout", o->health_timeout, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)");
  cmd->add_option("--health-start-period", o->health_start_period,
                  "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)");
  cmd->add_option("--health-retries", o->health_retries, "Consecutive failures needed to report unhealthy");
  cmd->add_flag("--no-healthcheck", o->no_healthcheck, "Disable any container-specified HEALTHCHECK");
  cmd->add_option("-l,--label", o->labels, "Set meta data on a container")->allow_extra_args(false);
  cmd->add_option("--label-file", o->label_files, "Read in a line delimited file of labels")->allow_extra_args(false);
  cmd->add_option("--mount", o->mounts, "Attach a filesystem mount to the container")->allow_extra_args(false);
  return o;
}

CreatedContainer create_container_from(const GlobalOptions& global, const ContainerOptions& options,
                                       const std::string& command_name) {
  const ContainerOptions* o = &options;
  CLI::Option* ep = o->entrypoint_option;
  std::vector<std::string> rest = o->cmd->remaining();
  if (rest.empty())
    throw Error("\"cppcker " + command_name + "\" requires at least 1 argument.\nSee 'cppcker " + command_name + " --help'.", 125);
  const NetworkMode mode = network_mode(o->network);
  if (mode == NetworkMode::container && (!o->publish.empty() || o->publish_all))
    throw Error("conflicting options: port publishing and the container type network mode", 125);
  if (mode == NetworkMode::host && (!o->publish.empty() || o->publish_all))
    std::cerr << "WARNING: Published ports are discarded when using host network mode\n";
  if (mode == NetworkMode::container && !o->hostname.empty())
    throw Error("conflicting options: hostname and the network mode", 125);
  for (const auto& ip : o->dns) {
    try {
      parse_ipv4(ip);
    } catch (const Error&) {
      throw Error(ip + " is not an ip address", 125);
    }
  }
  for (const auto& h : o->add_hosts) {
    auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0) throw Error("bad format for add-host: \"" + h + "\"", 125);
    try {
      parse_ipv4(h.substr(colon + 1));
    } catch (const Error&) {
      throw Error("invalid IP address in add-host: \"" + h.substr(colon + 1) + "\"", 125);
    }
  }
  std::vector<PortBinding> ports;
  for (const auto& p : o->publish) {
    auto more = parse_publish(p);
    ports.insert(ports.end(), more.begin(), more.end());
  }
  const RestartAndHealth restart_health = restart_and_health(*o);
  if (o->detach && o->rm) {
    // Docker allows it: the monitor removes the container when it exits.
  }
  // Labels, exposed ports and --mount values checked before an image is pulled or anything is made.
  std::vector<std::string> exposed = parse_expose(o->expose);
  std::map<std::string, std::string> labels = parse_labels(o->label_files, o->labels);
  std::vector<MountSpec> flag_mounts;
  for (const auto& m : o->mounts) flag_mounts.push_back(parse_mount_flag(m));
  std::string image_name = rest.front();
  std::vector<std::string> command(rest.begin() + 1, rest.end());

  const RuntimeConfig runtime_config = global.runtime_config();
  ContainerSpec spec;
  spec.limits = limits_from(*o, runtime_config);  // invalid values fail before anything is created
  confine(spec, *o, runtime_config);
  std::vector<std::string> env = parse_env(o->env);
  std::vector<std::string> file_env;
  for (const auto& f : o->env_files) {
    auto more = read_env_file(f);
    file_env.insert(file_env.end(), more.begin(), more.end());
  }
  if (!o->stop_signal.empty()) {
    try {
      spec.stop_signal = parse_signal(o->stop_signal);
    } catch (const Error&) {
      throw Error("Invalid signal: " + o->stop_signal, 125);  // moby's signal.ParseSignal
    }
  }
  resolve_cgroup_parent(spec, o->cgroup_parent);

  ImageStore images = global.store();
  std::string image_id = find_or_pull(global, images, image_name);
  auto config = nlohmann::json::parse(images.read_blob(image_id), nullptr, false);
  nlohmann::json cfg = !config.is_discarded() && config.contains("config") && config["config"].is_object() ? config["config"]
                                                                                                            : nlohmann::json::object();
  spec.image = image_name;
  spec.image_id = image_id;
  if (ep->count() > 0) {
    spec.entrypoint = o->entrypoint.empty() ? std::vector<std::string>{} : std::vector<std::string>{o->entrypoint};
    spec.cmd = command;
  } else {
    spec.entrypoint = json_strings(cfg, "Entrypoint");
    spec.cmd = command.empty() ? json_strings(cfg, "Cmd") : command;
  }
  if (spec.entrypoint.empty() && spec.cmd.empty())
    throw Error("No command specified", 125);
  std::vector<std::string> image_env = json_strings(cfg, "Env");
  bool has_path = false;
  for (const auto& e : image_env) has_path |= e.rfind("PATH=", 0) == 0;
  if (!has_path) image_env.insert(image_env.begin(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  spec.workdir = !o->workdir.empty() ? o->workdir : cfg.value("WorkingDir", "");
  if (!spec.workdir.empty() && spec.workdir.front() != '/')
    throw Error("the working directory '" + spec.workdir + "' is invalid, it needs to be an absolute path", 125);
  spec.user = !o->user.empty() ? o->user : cfg.value("User", "");
  if (o->stop_signal.empty() && cfg.contains("StopSignal") && cfg["StopSignal"].is_string())
    spec.stop_signal = parse_signal(cfg["StopSignal"].get<std::string>());
  if (o->stop_timeout >= 0) spec.stop_timeout = o->stop_timeout;
  spec.network = o->network;
  if (mode == NetworkMode::bridge) {
    if (o->publish_all) {
      // Every port the image exposes (and --expose), each on a free host port, unless -p named it.
      std::vector<std::string> all = exposed;
      if (cfg.contains("ExposedPorts") && cfg["ExposedPorts"].is_object())
        for (auto& [key, value] : cfg["ExposedPorts"].items()) all.push_back(key);
      for (const auto& e : all) {
        PortBinding b = parse_exposed_port(e);
        bool named = false;
        for (const auto& p : ports) named |= p.container_key() == b.container_key();
        if (!named) ports.push_back(b);
      }
    }
    spec.ports = ports;
  }
  // Config.ExposedPorts as Docker has it: the image's, --expose's and every -p container port.
  if (cfg.contains("ExposedPorts") && cfg["ExposedPorts"].is_object())
    for (auto& [key, value] : cfg["ExposedPorts"].items()) spec.exposed_ports.push_back(key.find('/') == std::string::npos ? key + "/tcp" : key);
  for (const auto& e : exposed) spec.exposed_ports.push_back(e);
  for (const auto& p : ports) spec.exposed_ports.push_back(p.container_key());
  std::sort(spec.exposed_ports.begin(), spec.exposed_ports.end());
  spec.exposed_ports.erase(std::unique(spec.exposed_ports.begin(), spec.exposed_ports.end()), spec.exposed_ports.end());
  // The image's labels under the container's own (container labels win), as Docker merges them.
  if (cfg.contains("Labels") && cfg["Labels"].is_object())
    for (auto& [key, value] : cfg["Labels"].items())
      if (value.is_string()) spec.labels[key] = value.get<std::string>();
  for (const auto& [key, value] : labels) spec.labels[key] = value;
  spec.dns = o->dns;
  spec.dns_search = o->dns_search;
  spec.dns_options = o->dns_options;
  spec.extra_hosts = o->add_hosts;
  spec.detach = o->detach;
  spec.interactive = o->interactive;
  spec.tty = o->tty;
  if (o->tty) image_env = merge_env({"TERM=xterm"}, image_env);  // as Docker: the image or -e may override it
  spec.init = o->init;
  spec.read_only = o->read_only;
  for (const auto& v : o->volumes) spec.mounts.push_back(parse_volume_flag(v));
  for (const auto& t : o->tmpfs) spec.mounts.push_back(parse_tmpfs_flag(t));
  spec.mounts.insert(spec.mounts.end(), flag_mounts.begin(), flag_mounts.end());
  // Named now, made at the start: a run refused before that leaves no volume behind.
  for (auto& m : spec.mounts)
    if (m.anonymous) m.source = random_hex(32);
  spec.auto_remove = o->rm;
  spec.restart = restart_health.restart;
  spec.health = merge_health_config(restart_health.health, cfg.contains("Healthcheck") ? cfg["Healthcheck"] : nlohmann::json());

  ContainerStore containers(global.root);
  NetworkStore networks = global.networks();
  validate_network(networks, containers, spec.network);
  const UsernsMode userns = parse_userns_mode(spec.userns_mode);
  std::optional<UsernsAllocator> allocator;
  if (userns.enabled) {
    if (!kernel_supports_idmapped_overlay())
      throw Error("--userns=auto needs idmapped mounts under overlayfs, which this kernel cannot do (Linux 5.19 or newer)", 125);
    allocator.emplace(containers.root() / "userns");
    allocator->ensure_subids();
  }
  std::string shared_hostname;  // --network container:x: x's host name, as Docker shows it
  if (mode == NetworkMode::container) shared_hostname = containers.resolve(spec.network.substr(10)).spec.hostname;
  // A foreground run is this process's own from the start: the record is written once, with its owner.
  std::optional<FileLock> owner;
  const bool runs_here = command_name == "run" && !o->detach;
  Container c = containers.create(spec, o->name, [&](Container& r) {
    r.spec.hostname = !o->hostname.empty()       ? o->hostname
                      : !shared_hostname.empty() ? shared_hostname
                      : r.spec.network == "host" ? ""
                                                 : r.id.substr(0, 12);
    if (r.spec.hostname.empty()) {
      char host[256] = {0};
      ::gethostname(host, sizeof host - 1);
      r.spec.hostname = host;
    }
    r.spec.env = merge_env(merge_env(image_env, {"HOSTNAME=" + r.spec.hostname}), merge_env(file_env, env));
    if (userns.enabled) r.spec.userns = allocator->allocate(r.id, userns.size, [&](const std::string& id) {
      return fs::exists(containers.dir(id)) || fs::exists(containers.root() / "containers" / (".creating-" + id));
    });
  }, runs_here ? &owner : nullptr);

  return {c, o->detach, std::move(owner)};
}

void register_run(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("run", "Create and run a new container from an image");
  auto o = add_container_options(cmd, /*run=*/true);
  set_action(cmd, [&global, o] {
    // As the Docker CLI: a terminal is relayed only from a terminal.
    if (o->tty && o->interactive && !o->detach && !::isatty(0)) throw Error("the input device is not a TTY", 1);
    timing_mark("parsed");
    CreatedContainer created = create_container_from(global, *o, "run");
    timing_mark("record");
    Container& c = created.container;
    ImageStore images = global.store();
    ContainerStore containers(global.root);
    NetworkStore networks = global.networks();
    if (created.detach) {
      run_detached(images, containers, networks, c);
      std::cout << c.id << "\n";
      return 0;
    }
    int status = run_foreground(images, containers, networks, c, /*attach_stdin=*/true, {}, std::move(created.owner));
    timing_mark("cleaned");
    return status;
  });
}

}  // namespace cppcker::cli
