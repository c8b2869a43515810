// config.json coverage (hooks, personality, blockIO, hugepage limits, what podman and containerd send),
// the starter spec of `spec`, and the `features` document.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <unistd.h>

#include "cppcker/oci/defaults.hpp"
#include "cppcker/oci/runtime_spec.hpp"
#include "cppcker/runtime/features.hpp"
#include "cppcker/runtime/rootfs.hpp"
#include "cppcker/security/capabilities.hpp"
#include "cppcker/security/seccomp.hpp"
#include "cppcker/util/error.hpp"

using namespace cppcker;
using nlohmann::json;

namespace {

json minimal() {
  return json::parse(R"({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/"}})");
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string parse_error(const json& j) {
  return error_of([&] { oci::spec_from_json(j); });
}

// A mount's filesystem data, option by option.
std::vector<std::string> split_data(const std::string& data) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < data.size()) {
    std::size_t comma = data.find(',', start);
    if (comma == std::string::npos) comma = data.size();
    out.push_back(data.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

oci::Spec full_spec() {
  oci::Spec s = oci::spec_from_json(minimal());
  s.hooks.prestart = {{"/usr/bin/pre", {"pre", "-x"}, {"A=1"}, 5}};
  s.hooks.create_runtime = {{"/bin/cr", {}, {}, std::nullopt}};
  s.hooks.create_container = {{"/bin/cc", {"cc"}, {}, 1}};
  s.hooks.start_container = {{"/bin/sc", {}, {"B=2", "C=3"}, std::nullopt}};
  s.hooks.poststart = {{"/bin/ps1", {}, {}, 2}, {"/bin/ps2", {}, {}, std::nullopt}};
  s.hooks.poststop = {{"/bin/stop", {"stop", "now"}, {}, 30}};
  s.linux.personality = oci::Personality{"LINUX32", {}};
  oci::Resources r;
  r.pids_limit = 100;
  oci::BlockIO b;
  b.weight = 500;
  b.leaf_weight = 300;
  b.weight_device = {{8, 0, 200, std::nullopt}, {8, 16, std::nullopt, 100}};
  b.throttle_read_bps_device = {{8, 0, 1048576}};
  b.throttle_write_bps_device = {{8, 0, 2097152}};
  b.throttle_read_iops_device = {{8, 16, 1000}};
  b.throttle_write_iops_device = {{8, 16, 500}, {8, 32, 50}};
  r.block_io = b;
  r.hugepage_limits = {{"2MB", 209715200}, {"1GB", 1073741824}};
  s.linux.resources = r;
  return s;
}

}  // namespace

// ---------------------------------------------------------------- round trip

TEST(OciSpec, HooksPersonalityBlockIoAndHugepagesRoundTrip) {
  const oci::Spec s = full_spec();
  const json j = oci::to_json(s);
  EXPECT_EQ(j["hooks"]["prestart"][0], json::parse(R"({"path": "/usr/bin/pre", "args": ["pre", "-x"], "env": ["A=1"], "timeout": 5})"));
  EXPECT_EQ(j["hooks"]["createRuntime"][0], json::parse(R"({"path": "/bin/cr"})"));
  EXPECT_EQ(j["linux"]["personality"], json::parse(R"({"domain": "LINUX32"})"));
  EXPECT_EQ(j["linux"]["resources"]["blockIO"]["weightDevice"][1], json::parse(R"({"major": 8, "minor": 16, "leafWeight": 100})"));
  EXPECT_EQ(j["linux"]["resources"]["blockIO"]["throttleWriteIOPSDevice"][1],
            json::parse(R"({"major": 8, "minor": 32, "rate": 50})"));
  EXPECT_EQ(j["linux"]["resources"]["hugepageLimits"][1], json::parse(R"({"pageSize": "1GB", "limit": 1073741824})"));
  const oci::Spec back = oci::spec_from_json(j);
  EXPECT_EQ(back.hooks, s.hooks);
  EXPECT_EQ(back.linux.personality, s.linux.personality);
  EXPECT_EQ(back.linux.resources, s.linux.resources);
  EXPECT_TRUE(back == s);
  EXPECT_EQ(oci::to_json(back), j);
}

TEST(OciSpec, EmptyHooksAndResourcesAreLeftOutOfTheJson) {
  const json j = oci::to_json(oci::spec_from_json(minimal()));
  EXPECT_FALSE(j.contains("hooks"));
  json with = minimal();
  with["hooks"] = json::object();
  with["linux"]["resources"] = json::object();
  const json out = oci::to_json(oci::spec_from_json(with));
  EXPECT_FALSE(out.contains("hooks"));
  EXPECT_EQ(out["linux"]["resources"], json::object());
}

// ---------------------------------------------------------------- hooks

TEST(OciSpec, HooksAreReadFromEveryListInOrder) {
  json j = minimal();
  j["hooks"] = json::parse(R"({
    "prestart": [{"path": "/a"}], "createRuntime": [{"path": "/b", "timeout": 3}],
    "createContainer": [{"path": "/c", "args": ["c", "1"]}], "startContainer": [{"path": "/d", "env": ["X=y"]}],
    "poststart": [{"path": "/e"}, {"path": "/f"}], "poststop": null})");
  const oci::Hooks h = oci::spec_from_json(j).hooks;
  ASSERT_EQ(h.prestart.size(), 1u);
  EXPECT_EQ(h.prestart[0].path, "/a");
  EXPECT_FALSE(h.prestart[0].timeout);
  ASSERT_EQ(h.create_runtime.size(), 1u);
  EXPECT_EQ(h.create_runtime[0].timeout, 3);
  EXPECT_EQ(h.create_container[0].args, (std::vector<std::string>{"c", "1"}));
  EXPECT_EQ(h.start_container[0].env, std::vector<std::string>{"X=y"});
  ASSERT_EQ(h.poststart.size(), 2u);
  EXPECT_EQ(h.poststart[1].path, "/f");
  EXPECT_TRUE(h.poststop.empty());
  EXPECT_EQ(oci::hook_names(), (std::vector<std::string>{"prestart", "createRuntime", "createContainer",
                                                         "startContainer", "poststart", "poststop"}));
}

TEST(OciSpec, MalformedHooksAreRefusedNamingTheField) {
  auto with_hooks = [](const char* text) {
    json j = minimal();
    j["hooks"] = json::parse(text);
    return parse_error(j);
  };
  EXPECT_EQ(with_hooks(R"({"prestart": [{"path": "bin/x"}]})"),
            "config.json: hooks.prestart[0].path: \"bin/x\" must be an absolute path");
  EXPECT_EQ(with_hooks(R"({"poststop": [{"path": "/ok"}, {"args": ["x"]}]})"), "config.json: hooks.poststop[1].path: is required");
  EXPECT_EQ(with_hooks(R"({"poststart": [{"path": "/x", "timeout": 0}]})"),
            "config.json: hooks.poststart[0].timeout: 0 must be greater than zero");
  EXPECT_EQ(with_hooks(R"({"poststart": [{"path": "/x", "timeout": -2}]})"),
            "config.json: hooks.poststart[0].timeout: -2 must be greater than zero");
  EXPECT_EQ(with_hooks(R"({"poststart": [{"path": "/x", "timeout": "5"}]})"),
            "config.json: hooks.poststart[0].timeout: has the wrong type");
  EXPECT_EQ(with_hooks(R"({"preStart": [{"path": "/x"}]})"), "config.json: unknown field hooks.preStart");
  EXPECT_EQ(with_hooks(R"({"prestart": [{"path": "/x", "when": "now"}]})"),
            "config.json: unknown field hooks.prestart[0].when");
  EXPECT_EQ(with_hooks(R"({"prestart": {"path": "/x"}})"), "config.json: hooks.prestart: must be an array");
  EXPECT_EQ(with_hooks(R"([])"), "config.json: hooks: must be an object");
}

// ---------------------------------------------------------------- personality

TEST(OciSpec, PersonalityTakesLinuxAndLinux32Only) {
  auto with = [](const char* text) {
    json j = minimal();
    j["linux"]["personality"] = json::parse(text);
    return j;
  };
  EXPECT_EQ(oci::spec_from_json(with(R"({"domain": "LINUX"})")).linux.personality, (oci::Personality{"LINUX", {}}));
  EXPECT_EQ(oci::spec_from_json(with(R"({"domain": "LINUX32", "flags": []})")).linux.personality,
            (oci::Personality{"LINUX32", {}}));
  EXPECT_FALSE(oci::spec_from_json(minimal()).linux.personality);
  EXPECT_EQ(parse_error(with(R"({"domain": "PER_BSD"})")),
            "config.json: linux.personality.domain: \"PER_BSD\" is not one of LINUX, LINUX32");
  EXPECT_EQ(parse_error(with(R"({"flags": []})")), "config.json: linux.personality.domain: is required");
  EXPECT_EQ(parse_error(with(R"({"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE", "SHORT_INODE"]})")),
            "config.json: linux.personality.flags (ADDR_NO_RANDOMIZE, SHORT_INODE) is not supported by cppcker");
}

// ---------------------------------------------------------------- resources

TEST(OciSpec, BlockIoIsReadFieldByField) {
  json j = minimal();
  j["linux"]["resources"]["blockIO"] = json::parse(R"({
    "weight": 10, "leafWeight": 1000,
    "weightDevice": [{"major": 259, "minor": 0, "weight": 300, "leafWeight": 200}],
    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 104857600}],
    "throttleWriteBpsDevice": [],
    "throttleReadIOPSDevice": null,
    "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 18446744073709551615}]})");
  const oci::Resources r = *oci::spec_from_json(j).linux.resources;
  ASSERT_TRUE(r.block_io);
  EXPECT_EQ(r.block_io->weight, 10);
  EXPECT_EQ(r.block_io->leaf_weight, 1000);
  EXPECT_EQ(r.block_io->weight_device, (std::vector<oci::WeightDevice>{{259, 0, 300, 200}}));
  EXPECT_EQ(r.block_io->throttle_read_bps_device, (std::vector<oci::ThrottleDevice>{{8, 0, 104857600}}));
  EXPECT_TRUE(r.block_io->throttle_write_bps_device.empty());
  EXPECT_TRUE(r.block_io->throttle_read_iops_device.empty());
  EXPECT_EQ(r.block_io->throttle_write_iops_device[0].rate, 18446744073709551615ull);
  EXPECT_FALSE(oci::spec_from_json(minimal()).linux.resources);
}

TEST(OciSpec, MalformedBlockIoIsRefusedNamingTheField) {
  auto with = [](const char* text) {
    json j = minimal();
    j["linux"]["resources"]["blockIO"] = json::parse(text);
    return parse_error(j);
  };
  EXPECT_EQ(with(R"({"weight": 70000})"), "config.json: linux.resources.blockIO.weight: 70000 is out of range");
  EXPECT_EQ(with(R"({"weight": -1})"), "config.json: linux.resources.blockIO.weight: -1 is out of range");
  EXPECT_EQ(with(R"({"weight": 1.5})"), "config.json: linux.resources.blockIO.weight: has the wrong type");
  EXPECT_EQ(with(R"({"weightDevice": [{"minor": 0, "weight": 10}]})"),
            "config.json: linux.resources.blockIO.weightDevice[].major: is required");
  EXPECT_EQ(with(R"({"throttleReadBpsDevice": [{"major": 8, "minor": 0}]})"),
            "config.json: linux.resources.blockIO.throttleReadBpsDevice[].rate: is required");
  EXPECT_EQ(with(R"({"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": -5}]})"),
            "config.json: linux.resources.blockIO.throttleReadBpsDevice[].rate: -5 is out of range");
  EXPECT_EQ(with(R"({"throttleReadBpsDevice": {"major": 8}})"),
            "config.json: linux.resources.blockIO.throttleReadBpsDevice: must be an array");
  EXPECT_EQ(with(R"({"weightDevice": [{"major": 8, "minor": 0, "weight": 10, "bfq": true}]})"),
            "config.json: unknown field linux.resources.blockIO.weightDevice[].bfq");
  EXPECT_EQ(with(R"({"throttle": []})"), "config.json: unknown field linux.resources.blockIO.throttle");
}

TEST(OciSpec, HugepageLimitsNeedAPageSizeAndALimit) {
  auto with = [](const char* text) {
    json j = minimal();
    j["linux"]["resources"]["hugepageLimits"] = json::parse(text);
    return j;
  };
  EXPECT_EQ(oci::spec_from_json(with(R"([{"pageSize": "64KB", "limit": 0}, {"pageSize": "2MB", "limit": 4194304}])"))
                .linux.resources->hugepage_limits,
            (std::vector<oci::HugepageLimit>{{"64KB", 0}, {"2MB", 4194304}}));
  for (const char* bad : {"2M", "2mb", "MB", "02MB", "2 MB", "2TB", ""})
    EXPECT_EQ(parse_error(with(("[{\"pageSize\": \"" + std::string(bad) + "\", \"limit\": 1}]").c_str())),
              "config.json: linux.resources.hugepageLimits[].pageSize: \"" + std::string(bad) +
                  "\" is not a page size such as 2MB or 1GB")
        << bad;
  EXPECT_EQ(parse_error(with(R"([{"pageSize": "2MB"}])")), "config.json: linux.resources.hugepageLimits[].limit: is required");
  EXPECT_EQ(parse_error(with(R"([{"limit": 1}])")), "config.json: linux.resources.hugepageLimits[].pageSize: is required");
  EXPECT_EQ(parse_error(with(R"([{"pageSize": "2MB", "limit": 1}, {"pageSize": "2MB", "limit": 2}])")),
            "config.json: linux.resources.hugepageLimits[]: page size 2MB is listed twice");
}

TEST(OciSpec, KernelMemoryIsAcceptedAndNotKept) {
  json j = minimal();
  j["linux"]["resources"]["memory"] = json::parse(R"({"limit": 104857600, "kernel": 52428800, "kernelTCP": -1})");
  const oci::Spec s = oci::spec_from_json(j);
  EXPECT_EQ(s.linux.resources->memory.limit, 104857600);
  EXPECT_EQ(oci::to_json(s)["linux"]["resources"]["memory"], json::parse(R"({"limit": 104857600})"));
  j["linux"]["resources"]["memory"]["kernel"] = "lots";
  EXPECT_EQ(parse_error(j), "config.json: linux.resources.memory.kernel: has the wrong type");
}

TEST(OciSpec, WhatCppckerDoesNotImplementIsStillRefusedUnlessEmpty) {
  auto with = [](const char* pointer, const char* value) {
    json j = minimal();
    j[json::json_pointer(pointer)] = json::parse(value);
    return parse_error(j);
  };
  EXPECT_EQ(with("/linux/resources/network", R"({"classID": 1})"),
            "config.json: linux.resources.network is not supported by cppcker");
  EXPECT_EQ(with("/linux/resources/network", "{}"), "");
  EXPECT_EQ(with("/linux/resources/rdma", R"({"mlx5_1": {"hcaHandles": 3}})"),
            "config.json: linux.resources.rdma is not supported by cppcker");
  EXPECT_EQ(with("/linux/resources/memory/useHierarchy", "true"),
            "config.json: linux.resources.memory.useHierarchy is not supported by cppcker");
  EXPECT_EQ(with("/linux/intelRdt", R"({"closID": "x"})"), "config.json: linux.intelRdt is not supported by cppcker");
  EXPECT_EQ(with("/linux/timeOffsets", R"({"monotonic": {"secs": 1}})"),
            "config.json: linux.timeOffsets is not supported by cppcker");
  EXPECT_EQ(with("/process/apparmorProfile", R"("containers-default-0.50.0")"),
            "config.json: process.apparmorProfile is not supported by cppcker");
  EXPECT_EQ(with("/process/selinuxLabel", R"("system_u:system_r:container_t:s0")"),
            "config.json: process.selinuxLabel is not supported by cppcker");
  EXPECT_EQ(with("/linux/mountLabel", R"("system_u:object_r:container_file_t:s0")"),
            "config.json: linux.mountLabel is not supported by cppcker");
  EXPECT_EQ(with("/domainname", R"("example.org")"), "config.json: domainname is not supported by cppcker");
  EXPECT_EQ(with("/linux/namespaces", R"([{"type": "time"}])"),
            "config.json: namespace type \"time\" is not supported by cppcker");
}

TEST(OciSpec, IntegersOutsideTheirFieldAreRefused) {
  json j = minimal();
  j["process"]["user"] = json::parse(R"({"uid": -1, "gid": 0})");
  EXPECT_EQ(parse_error(j), "config.json: process.user.uid: -1 is out of range");
  j["process"]["user"] = json::parse(R"({"uid": 4294967296, "gid": 0})");
  EXPECT_EQ(parse_error(j), "config.json: process.user.uid: 4294967296 is out of range");
  j["process"]["user"] = json::parse(R"({"uid": 0.5, "gid": 0})");
  EXPECT_EQ(parse_error(j), "config.json: process.user.uid: has the wrong type");
  j["process"]["user"] = json::parse(R"({"uid": 4294967295, "gid": 0})");
  EXPECT_EQ(oci::spec_from_json(j).process.user.uid, 4294967295u);
  j = minimal();
  j["linux"]["resources"]["memory"] = json::parse(R"({"limit": -1, "swap": -1})");
  EXPECT_EQ(oci::spec_from_json(j).linux.resources->memory.swap, -1);
}

// ---------------------------------------------------------------- what callers send

// What podman 4.3 (pkg/specgen/generate, rootful, cgroupfs manager, no AppArmor/SELinux on the host)
// writes for `podman run -it --memory 64m alpine sh`.
TEST(OciSpec, PodmansConfigParses) {
  const json j = json::parse(R"({
  "ociVersion": "1.0.2-dev",
  "process": {
    "terminal": true,
    "user": {"uid": 0, "gid": 0, "umask": 18, "additionalGids": [0, 1, 2, 3, 4, 6, 10, 11, 20, 26, 27]},
    "args": ["sh"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "container=podman",
            "HOME=/root", "HOSTNAME=4f6a1d2c3b4a"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
                   "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"],
      "effective": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
                    "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"],
      "permitted": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
                    "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 20000, "soft": 20000},
                {"type": "RLIMIT_NPROC", "hard": 32768, "soft": 32768}],
    "apparmorProfile": "",
    "oomScoreAdj": 0,
    "selinuxLabel": ""
  },
  "root": {"path": "/var/lib/containers/storage/overlay/0123abcd/merged"},
  "hostname": "4f6a1d2c3b4a",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/etc/hostname", "type": "bind", "source": "/run/containers/storage/overlay-containers/4f/userdata/hostname",
     "options": ["bind", "rprivate"]},
    {"destination": "/run/.containerenv", "type": "bind", "source": "/run/containers/storage/overlay-containers/4f/userdata/.containerenv",
     "options": ["bind", "rprivate"]},
    {"destination": "/dev/shm", "type": "bind", "source": "/var/lib/containers/storage/overlay-containers/4f/userdata/shm",
     "options": ["bind", "rprivate", "nosuid", "noexec", "nodev"]},
    {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "rprivate", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"]}
  ],
  "annotations": {"io.container.manager": "libpod", "io.kubernetes.cri-o.Created": "2026-12-01T22:00:00Z",
                  "org.opencontainers.image.stopSignal": "15", "io.podman.annotations.autoremove": "TRUE"},
  "linux": {
    "sysctl": {"net.ipv4.ping_group_range": "0 0"},
    "resources": {
      "devices": [{"allow": false, "access": "rwm"}],
      "memory": {"limit": 67108864, "swap": 134217728},
      "pids": {"limit": 2048}
    },
    "cgroupsPath": "/libpod_parent/libpod-4f6a1d2c3b4a",
    "namespaces": [{"type": "pid"}, {"type": "network", "path": "/run/netns/netns-1234"}, {"type": "ipc"},
                   {"type": "uts"}, {"type": "mount"}],
    "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                             {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                              "args": [{"index": 0, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
                             {"names": ["bdflush"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]},
    "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/fs/selinux",
                    "/sys/dev/block"],
    "readonlyPaths": ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
})");
  const oci::Spec s = oci::spec_from_json(j);
  EXPECT_EQ(s.process.user.umask, 18u);
  EXPECT_EQ(s.linux.resources->pids_limit, 2048);
  EXPECT_EQ(s.linux.find_namespace("network")->path, "/run/netns/netns-1234");
  ASSERT_EQ(s.mounts.size(), 10u);
  for (const auto& m : s.mounts) {
    // Every flag podman sends is one mount(2) takes as a flag; what is left is the filesystem's data.
    const MountOptions o = parse_mount_options(m.options);
    for (const auto& option : split_data(o.data))
      EXPECT_TRUE(option.find('=') != std::string::npos || option == "newinstance") << m.destination << ": " << option;
  }
  EXPECT_TRUE(oci::spec_from_json(oci::to_json(s)) == s);
}

// containerd 1.6's populateDefaultUnixSpec with `ctr run`'s additions (oci/spec.go, oci/spec_opts.go).
TEST(OciSpec, ContainerdsConfigParses) {
  const json j = json::parse(R"({
  "ociVersion": "1.0.2-dev",
  "process": {
    "user": {"uid": 0, "gid": 0},
    "args": ["sh", "-c", "sleep 100"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
                   "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
                   "CAP_AUDIT_WRITE"],
      "effective": ["CAP_CHOWN", "CAP_KILL", "CAP_AUDIT_WRITE"],
      "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_AUDIT_WRITE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs"},
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/etc/resolv.conf", "type": "bind", "source": "/etc/resolv.conf", "options": ["rbind", "ro"]}
  ],
  "hooks": {"createRuntime": [{"path": "/usr/bin/nvidia-ctk", "args": ["nvidia-ctk", "hook"]}]},
  "linux": {
    "resources": {
      "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                  {"allow": true, "type": "c", "major": 136, "access": "rwm"}],
      "memory": {"limit": 268435456, "kernel": 0, "kernelTCP": 0},
      "cpu": {"shares": 1024, "quota": 50000, "period": 100000}
    },
    "cgroupsPath": "/default/redis",
    "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "network"}],
    "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                    "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
})");
  const oci::Spec s = oci::spec_from_json(j);
  EXPECT_EQ(s.linux.resources->devices.size(), 3u);
  EXPECT_FALSE(s.linux.resources->devices[2].minor);
  EXPECT_EQ(s.linux.resources->cpu.quota, 50000);
  EXPECT_EQ(s.hooks.create_runtime.size(), 1u);
  EXPECT_EQ(s.linux.cgroups_path, "/default/redis");
}

// ---------------------------------------------------------------- spec

TEST(OciDefaults, TheDefaultSpecIsRuncsAndParses) {
  const json j = oci::default_spec_json(oci::SpecDefaults{});
  EXPECT_EQ(j["ociVersion"], oci::kRuntimeSpecVersion);
  const oci::Spec s = oci::spec_from_json(j);
  EXPECT_TRUE(s.process.terminal);
  EXPECT_EQ(s.process.args, std::vector<std::string>{"sh"});
  EXPECT_EQ(s.process.env[1], "TERM=xterm");
  EXPECT_TRUE(s.process.no_new_privileges);
  ASSERT_TRUE(s.process.capabilities);
  const std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  EXPECT_EQ(s.process.capabilities->bounding, caps);
  EXPECT_EQ(s.process.capabilities->ambient, caps);
  EXPECT_TRUE(s.process.capabilities->inheritable.empty());
  EXPECT_EQ(s.process.rlimits, (std::vector<oci::Rlimit>{{"RLIMIT_NOFILE", 1024, 1024}}));
  EXPECT_EQ(s.root, (oci::Root{"rootfs", true}));
  std::vector<std::string> destinations;
  for (const auto& m : s.mounts) destinations.push_back(m.destination + " " + m.type);
  EXPECT_EQ(destinations, (std::vector<std::string>{"/proc proc", "/dev tmpfs", "/dev/pts devpts", "/dev/shm tmpfs",
                                                    "/dev/mqueue mqueue", "/sys sysfs", "/sys/fs/cgroup cgroup"}));
  EXPECT_TRUE(contains(s.mounts[2].options, "gid=5"));
  std::vector<std::string> namespaces;
  for (const auto& ns : s.linux.namespaces) namespaces.push_back(ns.type);
  EXPECT_EQ(namespaces, (std::vector<std::string>{"pid", "network", "ipc", "uts", "mount"}));
  EXPECT_TRUE(s.linux.uid_mappings.empty());
  ASSERT_TRUE(s.linux.resources);
  EXPECT_EQ(s.linux.resources->devices, (std::vector<oci::DeviceRule>{{false, "a", std::nullopt, std::nullopt, "rwm"}}));
  EXPECT_EQ(s.linux.masked_paths.size(), 10u);
  EXPECT_TRUE(contains(s.linux.masked_paths, "/proc/kcore"));
  EXPECT_EQ(s.linux.readonly_paths,
            (std::vector<std::string>{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}));
  // Every flag of the default mounts is one parse_mount_options knows; the rest is filesystem data.
  for (const auto& m : s.mounts)
    for (const auto& option : split_data(parse_mount_options(m.options).data))
      EXPECT_TRUE(option.find('=') != std::string::npos || option == "newinstance") << option;

  const json with_cgroupns = oci::default_spec_json(oci::SpecDefaults{false, 0, 0, true});
  EXPECT_EQ(oci::spec_from_json(with_cgroupns).linux.namespaces.back().type, "cgroup");
}

TEST(OciDefaults, TheRootlessSpecMapsTheCallerAndDropsWhatNeedsRoot) {
  const json j = oci::default_spec_json(oci::SpecDefaults{true, 1000, 1001, false});
  const oci::Spec s = oci::spec_from_json(j);
  EXPECT_EQ(s.linux.uid_mappings, (std::vector<oci::IdMapping>{{0, 1000, 1}}));
  EXPECT_EQ(s.linux.gid_mappings, (std::vector<oci::IdMapping>{{0, 1001, 1}}));
  EXPECT_TRUE(s.linux.find_namespace("user"));
  EXPECT_FALSE(s.linux.find_namespace("network"));
  EXPECT_TRUE(s.linux.find_namespace("pid") && s.linux.find_namespace("mount"));
  EXPECT_FALSE(s.linux.resources);
  EXPECT_FALSE(j["linux"].contains("resources"));
  for (const auto& m : s.mounts)
    for (const auto& option : m.options)
      EXPECT_TRUE(option.rfind("gid=", 0) != 0 && option.rfind("uid=", 0) != 0) << m.destination << ": " << option;
  const auto sys = std::find_if(s.mounts.begin(), s.mounts.end(), [](const oci::Mount& m) { return m.destination == "/sys"; });
  ASSERT_NE(sys, s.mounts.end());
  EXPECT_EQ(sys->source, "/sys");
  const MountOptions o = parse_mount_options(sys->options);
  EXPECT_TRUE(o.bind && o.recursive);
  EXPECT_EQ(s.mounts.size(), 7u);
}

TEST(OciDefaults, TheShortFormUsesThisProcesssIds) {
  const oci::Spec s = oci::spec_from_json(oci::default_spec_json(true));
  EXPECT_EQ(s.linux.uid_mappings[0].host_id, ::geteuid());
  EXPECT_EQ(s.linux.gid_mappings[0].host_id, ::getegid());
  EXPECT_EQ(oci::default_spec_json(false), oci::default_spec_json(oci::SpecDefaults{}));
}

// ---------------------------------------------------------------- features

TEST(RuntimeFeatures, ShapeAndVersions) {
  const json f = runtime_features();
  EXPECT_EQ(f["ociVersionMin"], "1.0.0");
  EXPECT_EQ(f["ociVersionMax"], oci::kRuntimeSpecVersion);
  EXPECT_EQ(f["hooks"].get<std::vector<std::string>>(), oci::hook_names());
  EXPECT_TRUE(std::regex_match(f["annotations"]["io.github.cppcker.version"].get<std::string>(), std::regex(R"(\d+\.\d+\.\d+)")));
  const json& l = f["linux"];
  EXPECT_EQ(l["cgroup"], json::parse(R"({"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false})"));
  EXPECT_EQ(l["apparmor"], json::parse(R"({"enabled": false})"));
  EXPECT_EQ(l["selinux"], json::parse(R"({"enabled": false})"));
  EXPECT_EQ(l["intelRdt"], json::parse(R"({"enabled": false})"));
  EXPECT_EQ(l["seccomp"]["enabled"], true);
  EXPECT_EQ(l["capabilities"].get<std::vector<std::string>>(), known_capabilities());
  EXPECT_EQ(l["namespaces"], json::parse(R"(["cgroup", "ipc", "mount", "network", "pid", "user", "uts"])"));
  std::vector<std::string> keys;
  for (auto& [key, value] : f.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"annotations", "hooks", "linux", "mountOptions", "ociVersionMax", "ociVersionMin"}));
}

TEST(RuntimeFeatures, EveryListedHookAndNamespaceIsAccepted) {
  const json f = runtime_features();
  for (const auto& hook : f["hooks"]) {
    json j = minimal();
    j["hooks"][hook.get<std::string>()] = json::parse(R"([{"path": "/bin/true"}])");
    EXPECT_FALSE(oci::spec_from_json(j).hooks.empty()) << hook;
  }
  for (const auto& ns : f["linux"]["namespaces"]) {
    json j = minimal();
    j["linux"]["namespaces"] = json::array({json{{"type", ns}}});
    EXPECT_TRUE(oci::spec_from_json(j).linux.find_namespace(ns.get<std::string>())) << ns;
  }
  for (const auto& cap : f["linux"]["capabilities"]) EXPECT_TRUE(capability_number(cap.get<std::string>())) << cap;
}

TEST(RuntimeFeatures, EveryListedMountOptionParsesAsAnOption) {
  const auto options = runtime_features()["mountOptions"].get<std::vector<std::string>>();
  EXPECT_TRUE(std::is_sorted(options.begin(), options.end()));
  for (const char* expected : {"ro", "rw", "nosuid", "nodev", "noexec", "relatime", "strictatime", "bind", "rbind",
                               "rprivate", "rslave", "rshared", "idmap"})
    EXPECT_TRUE(contains(options, expected)) << expected;
  for (const auto& option : options) {
    const MountOptions o = parse_mount_options({option});
    EXPECT_TRUE(o.data.empty()) << option << " went to the filesystem as data";
    if (option != "defaults") {
      EXPECT_NE(o, MountOptions{}) << option << " has no effect";
    }
  }
  // Filesystem data and runc's own extensions are not listed.
  for (const char* absent : {"mode=755", "size=65536k", "newinstance", "tmpcopyup", "rro", "nosymfollow"})
    EXPECT_FALSE(contains(options, absent)) << absent;
}

TEST(RuntimeFeatures, SeccompListsWhatTheCompilerTakes) {
  const json s = runtime_features()["linux"]["seccomp"];
  const auto actions = s["actions"].get<std::vector<std::string>>();
  EXPECT_TRUE(contains(actions, "SCMP_ACT_ALLOW") && contains(actions, "SCMP_ACT_ERRNO"));
  EXPECT_FALSE(contains(actions, "SCMP_ACT_NOTIFY"));  // no notification agent
  for (const auto& action : actions) {
    oci::Seccomp filter{"SCMP_ACT_ALLOW", std::nullopt, {}, {}, {{{"getpid"}, action, std::nullopt, {}}}};
    EXPECT_EQ(error_of([&] { compile_seccomp(filter); }), "") << action;
  }
  const auto operators = s["operators"].get<std::vector<std::string>>();
  EXPECT_EQ(operators.size(), 7u);
  for (const auto& op : operators) {
    oci::Seccomp filter{"SCMP_ACT_ALLOW", std::nullopt, {}, {}, {{{"kill"}, "SCMP_ACT_ERRNO", 1u, {{1, 9, 0, op}}}}};
    if (op == "SCMP_CMP_MASKED_EQ") filter.syscalls[0].args[0] = {1, 0xff, 9, op};
    EXPECT_EQ(error_of([&] { compile_seccomp(filter); }), "") << op;
  }
  const auto archs = s["archs"].get<std::vector<std::string>>();
  EXPECT_TRUE(contains(archs, "SCMP_ARCH_X86_64") && contains(archs, "SCMP_ARCH_AARCH64"));
  for (const auto& arch : archs) {
    oci::Seccomp filter{"SCMP_ACT_ALLOW", std::nullopt, {arch}, {}, {{{"getpid"}, "SCMP_ACT_ERRNO", 1u, {}}}};
    EXPECT_EQ(error_of([&] { compile_seccomp(filter); }), "") << arch;
  }
  const auto known = s["knownFlags"].get<std::vector<std::string>>();
  EXPECT_EQ(known, (std::vector<std::string>{"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"}));
  for (const auto& flag : s["supportedFlags"].get<std::vector<std::string>>()) EXPECT_TRUE(contains(known, flag)) << flag;
  // Linux 4.14 has SECCOMP_FILTER_FLAG_LOG; every kernel this project runs on does.
  EXPECT_TRUE(contains(s["supportedFlags"].get<std::vector<std::string>>(), "SECCOMP_FILTER_FLAG_LOG"));
  // Something the features leave out is refused.
  oci::Seccomp tsync{"SCMP_ACT_ALLOW", std::nullopt, {}, {"SECCOMP_FILTER_FLAG_TSYNC"}, {}};
  EXPECT_NE(error_of([&] { compile_seccomp(tsync); }), "");
}
