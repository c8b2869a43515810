#include "cppcker/oci/defaults.hpp"

#include <unistd.h>

#include <string>
#include <vector>

#include "cppcker/oci/runtime_spec.hpp"

namespace cppcker::oci {

using nlohmann::json;

namespace {

json mount(const char* destination, const char* type, const char* source, std::vector<std::string> options) {
  json m = {{"destination", destination}, {"type", type}, {"source", source}};
  if (!options.empty()) m["options"] = std::move(options);
  return m;
}

}  // namespace

json default_spec_json(const SpecDefaults& d) {
  // runc's three capabilities, in every set runc fills (inheritable stays empty: CVE-2022-24769).
  const std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  json process = {
      {"terminal", true},
      {"user", {{"uid", 0}, {"gid", 0}}},
      {"args", {"sh"}},
      {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
      {"cwd", "/"},
      {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"ambient", caps}}},
      {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
      {"noNewPrivileges", true}};

  std::vector<std::string> devpts = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"};
  // The tty group of the container's image; a rootless container has no mapping for gid 5.
  if (!d.rootless) devpts.emplace_back("gid=5");
  json mounts = json::array();
  mounts.push_back(mount("/proc", "proc", "proc", {}));
  mounts.push_back(mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}));
  mounts.push_back(mount("/dev/pts", "devpts", "devpts", devpts));
  mounts.push_back(mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}));
  mounts.push_back(mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}));
  // Without the network namespace's owner a fresh sysfs cannot be mounted: the host's is bound instead.
  if (d.rootless)
    mounts.push_back(mount("/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"}));
  else
    mounts.push_back(mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}));
  mounts.push_back(mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}));

  json namespaces = json::array();
  for (const char* type : {"pid", "network", "ipc", "uts", "mount"}) {
    if (d.rootless && std::string(type) == "network") continue;  // an unprivileged user cannot give it a link
    namespaces.push_back({{"type", type}});
  }
  if (d.cgroup_namespace) namespaces.push_back({{"type", "cgroup"}});

  json linux = {{"namespaces", namespaces},
                {"maskedPaths",
                 {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                  "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"}},
                {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}};
  if (d.rootless) {
    linux["namespaces"].push_back({{"type", "user"}});
    linux["uidMappings"] = {{{"containerID", 0}, {"hostID", d.uid}, {"size", 1}}};
    linux["gidMappings"] = {{{"containerID", 0}, {"hostID", d.gid}, {"size", 1}}};
  } else {
    // Every device denied in the devices cgroup; a rootless container gets no cgroup settings at all.
    linux["resources"] = {{"devices", {{{"allow", false}, {"access", "rwm"}}}}};
  }

  return {{"ociVersion", kRuntimeSpecVersion},
          {"process", process},
          {"root", {{"path", "rootfs"}, {"readonly", true}}},
          {"hostname", "cppcker"},
          {"mounts", mounts},
          {"linux", linux}};
}

json default_spec_json(bool rootless) {
  return default_spec_json(SpecDefaults{rootless, static_cast<std::uint32_t>(::geteuid()),
                                        static_cast<std::uint32_t>(::getegid()), false});
}

}  // namespace cppcker::oci
