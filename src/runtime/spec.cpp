#include "cppcker/runtime/spec.hpp"

#include "cppcker/runtime/networking.hpp"
#include "cppcker/security/capabilities.hpp"
#include "cppcker/security/devices.hpp"
#include "cppcker/security/options.hpp"
#include "cppcker/security/seccomp.hpp"
#include "cppcker/security/userns.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker {

namespace {

oci::Mount mount(std::string destination, std::string type, std::string source, std::vector<std::string> options) {
  return {std::move(destination), std::move(type), std::move(source), std::move(options), {}, {}};
}

// Docker's mounts of a container's own kernel filesystems, /dev included.
std::vector<oci::Mount> system_mounts(const ContainerSpec& s) {
  const std::string ro_unless_privileged = s.privileged ? "rw" : "ro";
  return {mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
          mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
          mount("/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
          mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", ro_unless_privileged}),
          // The container's own cgroup (the cgroup namespace makes it the root), read-only.
          mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", ro_unless_privileged}),
          mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
          mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=" + std::to_string(s.shm_size)})};
}

std::vector<oci::Mount> user_mounts(const ContainerSpec& s, const ContainerPaths& paths) {
  std::vector<oci::Mount> out;
  for (const auto& m : s.mounts) {
    if (m.type == "tmpfs") {
      // Docker's defaults for --tmpfs, which the user's options may override (later options win).
      std::vector<std::string> options = {"noexec", "nosuid", "nodev"};
      for (const auto& o : split(m.options, ',')) if (!o.empty()) options.push_back(o);
      out.push_back(mount(m.target, "tmpfs", "tmpfs", options));
      continue;
    }
    std::string source = m.type == "volume" ? (fs::path(paths.volumes_dir) / m.source / "_data").string() : m.source;
    std::vector<std::string> options = {"rbind", m.readonly ? "ro" : "rw", m.propagation.empty() ? "rprivate" : m.propagation};
    // In a user namespace, a volume of cppcker's own is seen through the container's mapping (its root is
    // the container's root); a host directory only when asked (`:idmap`): container root would write
    // there as host root.
    if (s.userns && (m.type == "volume" || m.idmap)) options.push_back("idmap");
    out.push_back(mount(m.target, "bind", source, options));
  }
  return out;
}

std::vector<oci::IdMapping> mapping(std::uint32_t host, std::uint32_t size) { return {{0, host, size}}; }

}  // namespace

oci::Resources resources_from_limits(const ResourceLimits& l) {
  oci::Resources r;
  r.memory.limit = l.memory;
  r.memory.swap = l.memory_swap;
  if (l.cpus) {
    r.cpu.quota = cpu_quota_us(*l.cpus);
    r.cpu.period = kCpuPeriod;
  }
  r.cpu.shares = l.cpu_shares;
  if (l.cpuset_cpus) r.cpu.cpus = *l.cpuset_cpus;
  r.pids_limit = l.pids;
  if (l.devices) r.devices = *l.devices;
  return r;
}

ResourceLimits limits_from_resources(const oci::Resources& r) {
  ResourceLimits l;
  l.memory = r.memory.limit;
  l.memory_swap = r.memory.swap;
  if (r.cpu.quota && *r.cpu.quota > 0)
    l.cpus = static_cast<double>(*r.cpu.quota) / static_cast<double>(r.cpu.period.value_or(kCpuPeriod));
  l.cpu_shares = r.cpu.shares;
  if (!r.cpu.cpus.empty()) l.cpuset_cpus = r.cpu.cpus;
  l.pids = r.pids_limit;
  if (!r.devices.empty()) l.devices = r.devices;  // none given: the devices controller is left alone
  return l;
}

std::vector<oci::Namespace> container_namespaces(const Container& c, const ContainerPaths& paths) {
  std::vector<oci::Namespace> out = {{"pid", ""}, {"ipc", ""}, {"uts", ""}, {"mount", ""}, {"cgroup", ""}};
  switch (network_mode(c.spec.network)) {
    case NetworkMode::host:
      break;
    case NetworkMode::bridge:
      out.push_back({"network", paths.netns});
      break;
    case NetworkMode::none:
      out.push_back({"network", ""});
      break;
    case NetworkMode::container:
      out.push_back({"network", c.spec.network});  // "container:<x>": x's, opened at each start
      break;
  }
  if (c.spec.userns) out.push_back({"user", ""});
  return out;
}

HostFacts read_host_facts(bool privileged) {
  HostFacts h;
  h.capabilities = host_capabilities();
  SeccompContext ctx = host_seccomp_context({});
  h.architecture = ctx.architecture;
  h.kernel_major = ctx.kernel_major;
  h.kernel_minor = ctx.kernel_minor;
  h.default_seccomp_profile = default_seccomp_profile();
  if (privileged) h.host_devices = host_device_nodes();
  return h;
}

oci::Spec build_spec(const Container& c, const ContainerPaths& paths, const HostFacts& host) {
  const ContainerSpec& s = c.spec;
  oci::Spec spec;

  // ---- the process
  oci::Process& p = spec.process;
  p.terminal = s.tty;
  p.args = c.argv();
  p.env = s.env;
  p.cwd = s.workdir.empty() ? "/" : s.workdir;
  p.user.username = s.user;  // resolved in the container's /etc/passwd at start
  std::vector<std::string> caps = s.privileged ? host.capabilities : adjust_capabilities(default_capabilities(), s.cap_add, s.cap_drop);
  p.capabilities = capability_sets(caps, /*root_user=*/true);  // emptied at start for a non-root user
  p.rlimits = s.ulimits;
  p.no_new_privileges = s.no_new_privileges;

  // ---- the filesystem
  spec.root = {paths.rootfs, s.read_only};
  spec.hostname = s.hostname;
  spec.mounts = system_mounts(s);
  const std::pair<const char*, const std::string*> files[] = {
      {"/etc/resolv.conf", &paths.resolv_conf}, {"/etc/hostname", &paths.hostname}, {"/etc/hosts", &paths.hosts}};
  for (const auto& [target, source] : files) {
    std::vector<std::string> options = {"rbind", "rprivate"};
    if (s.userns) options.push_back("idmap");  // container root's, as Docker chowns them to the remapped root
    spec.mounts.push_back(mount(target, "bind", *source, options));
  }
  for (auto& m : user_mounts(s, paths)) spec.mounts.push_back(std::move(m));

  // ---- namespaces
  oci::Linux& l = spec.linux;
  l.namespaces = container_namespaces(c, paths);
  if (s.userns) {
    l.uid_mappings = mapping(s.userns->host_uid, s.userns->size);
    l.gid_mappings = mapping(s.userns->host_gid, s.userns->size);
  }
  // Docker's defaults for a network namespace of the container's own: low ports and ping for everyone.
  if (network_mode(s.network) == NetworkMode::bridge || network_mode(s.network) == NetworkMode::none) {
    l.sysctl["net.ipv4.ip_unprivileged_port_start"] = "0";
    l.sysctl["net.ipv4.ping_group_range"] = "0 2147483647";
  }

  // ---- devices and resources
  ResourceLimits limits = s.limits;
  std::vector<oci::DeviceRule> rules = s.privileged ? allow_all_device_rules() : default_device_rules();
  if (s.privileged) l.devices = host.host_devices;
  for (const auto& d : s.devices)
    for (auto& resolved : resolve_device(d)) {
      l.devices.push_back(resolved.node);
      if (!s.privileged) rules.push_back(resolved.rule);
    }
  for (const auto& r : s.device_cgroup_rules) rules.push_back(parse_device_cgroup_rule(r));
  limits.devices = rules;
  l.resources = resources_from_limits(limits);
  l.cgroups_path = path_for(c.cgroup_paths(), "");

  // ---- what the container may see and do
  if (!s.privileged && !s.systempaths_unconfined) {
    l.masked_paths = default_masked_paths();
    l.readonly_paths = default_readonly_paths();
  }
  if (!s.privileged && s.seccomp_profile != "unconfined") {
    SeccompContext ctx{caps, host.architecture, host.kernel_major, host.kernel_minor};
    l.seccomp = resolve_docker_profile(s.seccomp_profile.empty() ? host.default_seccomp_profile : s.seccomp_profile, ctx);
  }
  return spec;
}

}  // namespace cppcker
