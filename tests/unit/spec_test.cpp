// The spec a container runs with, built from its record and the host's facts (no kernel involved).
#include <gtest/gtest.h>

#include <algorithm>

#include "cppcker/runtime/spec.hpp"
#include "cppcker/security/capabilities.hpp"
#include "cppcker/security/options.hpp"
#include "cppcker/security/seccomp.hpp"
#include "cppcker/util/error.hpp"

using namespace cppcker;

namespace {

Container record(const std::function<void(ContainerSpec&)>& tweak = {}) {
  Container c;
  c.id = std::string(64, 'a');
  c.name = "box";
  c.spec.image = "img";
  c.spec.cmd = {"sh", "-c", "true"};
  c.spec.env = {"PATH=/bin", "A=1"};
  c.spec.hostname = "aaaaaaaaaaaa";
  c.spec.network = "none";
  c.spec.cgroup_parents = {{"", "/cppcker"}};
  if (tweak) tweak(c.spec);
  return c;
}

ContainerPaths paths() {
  return {"/state/containers/a/merged", "/state/containers/a/hostname", "/state/containers/a/hosts",
          "/state/containers/a/resolv.conf", "/state/containers/a/netns", "/state/volumes"};
}

HostFacts host() {
  HostFacts h;
  h.capabilities = known_capabilities();
  h.capabilities.erase(std::find(h.capabilities.begin(), h.capabilities.end(), "CAP_SYS_RESOURCE"));
  h.architecture = "SCMP_ARCH_X86_64";
  h.kernel_major = 6;
  h.kernel_minor = 1;
  h.default_seccomp_profile = default_seccomp_profile();
  h.host_devices = {{"b", "/dev/vda", 254, 0, 0660, 0, 6}};
  return h;
}

const oci::Mount* find_mount(const oci::Spec& s, const std::string& destination) {
  for (const auto& m : s.mounts)
    if (m.destination == destination) return &m;
  return nullptr;
}

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

bool seccomp_names(const oci::Spec& s, const std::string& name) {
  if (!s.linux.seccomp) return false;
  for (const auto& call : s.linux.seccomp->syscalls)
    if (call.action == "SCMP_ACT_ALLOW" && has(call.names, name)) return true;
  return false;
}

}  // namespace

TEST(SpecTest, DefaultsAreDockers) {
  oci::Spec s = build_spec(record(), paths(), host());
  EXPECT_EQ(s.oci_version, "1.1.0");
  EXPECT_EQ(s.process.args, (std::vector<std::string>{"sh", "-c", "true"}));
  EXPECT_EQ(s.process.cwd, "/");
  ASSERT_TRUE(s.process.capabilities);
  EXPECT_EQ(s.process.capabilities->bounding.size(), 14u);
  EXPECT_EQ(s.process.capabilities->effective, s.process.capabilities->bounding);
  EXPECT_EQ(s.process.capabilities->permitted, s.process.capabilities->bounding);
  EXPECT_TRUE(s.process.capabilities->inheritable.empty());
  EXPECT_TRUE(s.process.capabilities->ambient.empty());
  EXPECT_FALSE(s.process.no_new_privileges);
  EXPECT_EQ(s.linux.masked_paths, default_masked_paths());
  EXPECT_EQ(s.linux.readonly_paths, default_readonly_paths());
  ASSERT_TRUE(s.linux.seccomp);
  EXPECT_EQ(s.linux.seccomp->default_action, "SCMP_ACT_ERRNO");
  EXPECT_TRUE(seccomp_names(s, "read"));
  EXPECT_FALSE(seccomp_names(s, "mount")) << "mount allowed without CAP_SYS_ADMIN";
  ASSERT_TRUE(s.linux.resources);
  const auto& rules = s.linux.resources->devices;
  ASSERT_FALSE(rules.empty());
  EXPECT_FALSE(rules.front().allow);  // deny all first
  EXPECT_EQ(rules.front().access, "rwm");
  EXPECT_TRUE(s.root.path == "/state/containers/a/merged" && !s.root.readonly);
  const oci::Mount* sys = find_mount(s, "/sys");
  ASSERT_TRUE(sys);
  EXPECT_TRUE(has(sys->options, "ro"));
  const oci::Mount* cgroup = find_mount(s, "/sys/fs/cgroup");
  ASSERT_TRUE(cgroup);
  EXPECT_EQ(cgroup->type, "cgroup");
  EXPECT_TRUE(has(cgroup->options, "ro"));
  EXPECT_TRUE(find_mount(s, "/etc/hosts") && find_mount(s, "/etc/hosts")->source == "/state/containers/a/hosts");
  EXPECT_EQ(find_mount(s, "/dev/shm")->options.back(), "size=67108864");
  for (const char* ns : {"pid", "ipc", "uts", "mount", "cgroup", "network"}) EXPECT_TRUE(s.linux.find_namespace(ns)) << ns;
  EXPECT_FALSE(s.linux.find_namespace("user"));
  EXPECT_EQ(s.linux.sysctl.at("net.ipv4.ip_unprivileged_port_start"), "0");
  EXPECT_TRUE(s.linux.uid_mappings.empty());
}

TEST(SpecTest, CapabilityFlagsFollowDocker) {
  struct Case {
    std::vector<std::string> add, drop;
    std::vector<std::string> present, absent;
    std::size_t count;
  };
  const Case cases[] = {
      {{"net_admin"}, {}, {"CAP_NET_ADMIN", "CAP_CHOWN"}, {}, 15},
      {{"CAP_SYS_ADMIN"}, {"chown"}, {"CAP_SYS_ADMIN"}, {"CAP_CHOWN"}, 14},
      {{}, {"ALL"}, {}, {"CAP_CHOWN", "CAP_KILL"}, 0},
      {{"NET_RAW"}, {"all"}, {"CAP_NET_RAW"}, {"CAP_CHOWN"}, 1},
      {{"ALL"}, {"sys_admin"}, {"CAP_SYS_PTRACE", "CAP_CHOWN"}, {"CAP_SYS_ADMIN"}, known_capabilities().size() - 1},
      {{"kill"}, {"kill"}, {"CAP_KILL"}, {}, 14},  // an add wins over a named drop
  };
  for (const auto& c : cases) {
    oci::Spec s = build_spec(record([&](ContainerSpec& r) {
                               r.cap_add = c.add;
                               r.cap_drop = c.drop;
                             }),
                             paths(), host());
    const auto& bounding = s.process.capabilities->bounding;
    for (const auto& p : c.present) EXPECT_TRUE(has(bounding, p)) << p;
    for (const auto& a : c.absent) EXPECT_FALSE(has(bounding, a)) << a;
    EXPECT_EQ(bounding.size(), c.count);
  }
  // Conditional seccomp rules follow the capability set.
  oci::Spec admin = build_spec(record([](ContainerSpec& r) { r.cap_add = {"SYS_ADMIN"}; }), paths(), host());
  EXPECT_TRUE(seccomp_names(admin, "mount"));
  EXPECT_THROW(build_spec(record([](ContainerSpec& r) { r.cap_add = {"NOPE"}; }), paths(), host()), Error);
}

TEST(SpecTest, PrivilegedLiftsTheConfinement) {
  oci::Spec s = build_spec(record([](ContainerSpec& r) { r.privileged = true; }), paths(), host());
  EXPECT_EQ(s.process.capabilities->bounding, host().capabilities);
  EXPECT_FALSE(s.linux.seccomp);
  EXPECT_TRUE(s.linux.masked_paths.empty());
  EXPECT_TRUE(s.linux.readonly_paths.empty());
  EXPECT_TRUE(has(find_mount(s, "/sys")->options, "rw"));
  EXPECT_TRUE(has(find_mount(s, "/sys/fs/cgroup")->options, "rw"));
  ASSERT_EQ(s.linux.resources->devices.size(), 1u);
  EXPECT_TRUE(s.linux.resources->devices[0].allow);
  EXPECT_EQ(s.linux.resources->devices[0].type, "a");
  ASSERT_EQ(s.linux.devices.size(), 1u);
  EXPECT_EQ(s.linux.devices[0].path, "/dev/vda");
}

TEST(SpecTest, SecurityOptionsShapeTheSpec) {
  oci::Spec unconfined = build_spec(record([](ContainerSpec& r) { r.seccomp_profile = "unconfined"; }), paths(), host());
  EXPECT_FALSE(unconfined.linux.seccomp);
  EXPECT_FALSE(unconfined.linux.masked_paths.empty());
  oci::Spec nnp = build_spec(record([](ContainerSpec& r) { r.no_new_privileges = true; }), paths(), host());
  EXPECT_TRUE(nnp.process.no_new_privileges);
  oci::Spec paths_open = build_spec(record([](ContainerSpec& r) { r.systempaths_unconfined = true; }), paths(), host());
  EXPECT_TRUE(paths_open.linux.masked_paths.empty());
  EXPECT_TRUE(paths_open.linux.readonly_paths.empty());
  EXPECT_TRUE(paths_open.linux.seccomp);
  // A user's own profile, in Docker's format.
  oci::Spec own = build_spec(record([](ContainerSpec& r) {
                               r.seccomp_profile = R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["chmod"],"action":"SCMP_ACT_ERRNO"}]})";
                             }),
                             paths(), host());
  ASSERT_TRUE(own.linux.seccomp);
  EXPECT_EQ(own.linux.seccomp->default_action, "SCMP_ACT_ALLOW");
  ASSERT_EQ(own.linux.seccomp->syscalls.size(), 1u);
  EXPECT_EQ(own.linux.seccomp->syscalls[0].names, std::vector<std::string>{"chmod"});
  EXPECT_THROW(build_spec(record([](ContainerSpec& r) { r.seccomp_profile = "{not json"; }), paths(), host()), Error);
}

TEST(SpecTest, MountsVolumesAndReadOnlyRoot) {
  oci::Spec s = build_spec(record([](ContainerSpec& r) {
                             r.read_only = true;
                             r.shm_size = 1 << 20;
                             r.mounts = {{"bind", "/srv/data", "/data", true, false, ""},
                                         {"volume", "cache", "/cache", false, false, ""},
                                         {"tmpfs", "", "/run", false, false, "size=1m,exec"}};
                           }),
                           paths(), host());
  EXPECT_TRUE(s.root.readonly);
  const oci::Mount* data = find_mount(s, "/data");
  ASSERT_TRUE(data);
  EXPECT_EQ(data->source, "/srv/data");
  EXPECT_TRUE(has(data->options, "ro"));
  EXPECT_TRUE(has(data->options, "rbind"));
  EXPECT_EQ(find_mount(s, "/cache")->source, "/state/volumes/cache/_data");
  const oci::Mount* run = find_mount(s, "/run");
  ASSERT_TRUE(run);
  EXPECT_EQ(run->type, "tmpfs");
  // Docker's defaults, then the user's options (the later exec wins over noexec).
  EXPECT_EQ(run->options, (std::vector<std::string>{"noexec", "nosuid", "nodev", "size=1m", "exec"}));
  EXPECT_EQ(find_mount(s, "/dev/shm")->options.back(), "size=1048576");
  // User mounts come after the system ones, so they may cover them.
  auto index = [&](const std::string& d) { return find_mount(s, d) - s.mounts.data(); };
  EXPECT_LT(index("/proc"), index("/data"));
}

TEST(SpecTest, NetworkModesAndUserNamespace) {
  oci::Spec bridged = build_spec(record([](ContainerSpec& r) { r.network = "bridge"; }), paths(), host());
  EXPECT_EQ(bridged.linux.find_namespace("network")->path, "/state/containers/a/netns");
  oci::Spec hostnet = build_spec(record([](ContainerSpec& r) { r.network = "host"; }), paths(), host());
  EXPECT_FALSE(hostnet.linux.find_namespace("network"));
  EXPECT_TRUE(hostnet.linux.sysctl.empty()) << "host network: sysctls would change the host";
  oci::Spec shared = build_spec(record([](ContainerSpec& r) { r.network = "container:x"; }), paths(), host());
  EXPECT_TRUE(shared.linux.sysctl.empty()) << "container:x: sysctls would change x";
  oci::Spec userns = build_spec(record([](ContainerSpec& r) { r.userns = IdRange{200000, 300000, 65536}; }), paths(), host());
  ASSERT_TRUE(userns.linux.find_namespace("user"));
  EXPECT_EQ(userns.linux.uid_mappings, (std::vector<oci::IdMapping>{{0, 200000, 65536}}));
  EXPECT_EQ(userns.linux.gid_mappings, (std::vector<oci::IdMapping>{{0, 300000, 65536}}));
}

TEST(SpecTest, DevicesRulesAndUlimits) {
  oci::Spec s = build_spec(record([](ContainerSpec& r) {
                             r.devices = {{"/dev/null", "/dev/mynull", "r"}};
                             r.device_cgroup_rules = {"c 42:* rmw"};
                             r.ulimits = {{"RLIMIT_NOFILE", 2048, 1024}};
                             r.limits.memory = 64 << 20;
                             r.limits.cpus = 0.5;
                             r.limits.pids = 50;
                           }),
                           paths(), host());
  ASSERT_EQ(s.linux.devices.size(), 1u);
  EXPECT_EQ(s.linux.devices[0].path, "/dev/mynull");
  EXPECT_EQ(s.linux.devices[0].major, 1);
  EXPECT_EQ(s.linux.devices[0].minor, 3);
  const auto& rules = s.linux.resources->devices;
  EXPECT_EQ(rules[rules.size() - 2], (oci::DeviceRule{true, "c", 1, 3, "r"}));
  EXPECT_EQ(rules.back(), (oci::DeviceRule{true, "c", 42, std::nullopt, "rmw"}));
  EXPECT_EQ(s.process.rlimits, (std::vector<oci::Rlimit>{{"RLIMIT_NOFILE", 2048, 1024}}));
  EXPECT_EQ(s.linux.resources->memory.limit, 64 << 20);
  EXPECT_EQ(s.linux.resources->cpu.quota, 50000);
  EXPECT_EQ(s.linux.resources->cpu.period, 100000u);
  EXPECT_EQ(s.linux.resources->pids_limit, 50);
  // And back, for the cgroup module.
  ResourceLimits back = limits_from_resources(*s.linux.resources);
  EXPECT_EQ(back.memory, 64 << 20);
  EXPECT_DOUBLE_EQ(*back.cpus, 0.5);
  EXPECT_EQ(back.pids, 50);
  ASSERT_TRUE(back.devices);
  EXPECT_EQ(back.devices->size(), rules.size());
  EXPECT_THROW(build_spec(record([](ContainerSpec& r) { r.device_cgroup_rules = {"x 1:2 r"}; }), paths(), host()), Error);
}

TEST(SpecTest, JsonRoundTripIsExact) {
  oci::Spec s = build_spec(record([](ContainerSpec& r) {
                             r.network = "bridge";
                             r.userns = IdRange{200000, 200000, 65536};
                             r.ulimits = {{"RLIMIT_NOFILE", 2048, 1024}};
                             r.devices = {{"/dev/null", "/dev/mynull", "rw"}};
                           }),
                           paths(), host());
  oci::Spec back = oci::spec_from_json(oci::to_json(s));
  EXPECT_EQ(back, s);
}
