// Capability names, --security-opt, --device and --device-cgroup-rule, --ulimit, --log-opt, mount options,
// the OCI spec's strict reading and the stage protocol.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <thread>

#include "cppcker/oci/runtime_spec.hpp"
#include "cppcker/runtime/config.hpp"
#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/runtime/protocol.hpp"
#include "cppcker/runtime/rootfs.hpp"
#include "cppcker/security/capabilities.hpp"
#include "cppcker/security/devices.hpp"
#include "cppcker/security/options.hpp"
#include "cppcker/util/error.hpp"

using namespace cppcker;

TEST(CapabilityTest, NamesAsDockerSpellsThem) {
  EXPECT_EQ(normalize_capability("net_admin"), "CAP_NET_ADMIN");
  EXPECT_EQ(normalize_capability("CAP_SYS_ADMIN"), "CAP_SYS_ADMIN");
  EXPECT_EQ(normalize_capability("Cap_Chown"), "CAP_CHOWN");
  EXPECT_EQ(normalize_capability("all"), "ALL");
  EXPECT_EQ(normalize_capability("checkpoint_restore"), "CAP_CHECKPOINT_RESTORE");
  for (const char* bad : {"", "CAP_", "NET_ADMINS", "CAP_FOO", "net admin"}) {
    try {
      normalize_capability(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 125);
      EXPECT_NE(std::string(e.what()).find("unknown capability"), std::string::npos);
    }
  }
  EXPECT_EQ(default_capabilities().size(), 14u);
  EXPECT_EQ(known_capabilities().size(), 41u);
  EXPECT_EQ(capability_number("CAP_SYS_ADMIN"), 21);
}

TEST(CapabilityTest, SetsAndMasks) {
  oci::Capabilities root = capability_sets({"CAP_CHOWN", "CAP_KILL"}, true);
  CapabilityMasks m = capability_masks(root);
  EXPECT_EQ(m.bounding, (1u << 0) | (1u << 5));
  EXPECT_EQ(m.effective, m.bounding);
  EXPECT_EQ(m.permitted, m.bounding);
  EXPECT_EQ(m.inheritable, 0u);
  EXPECT_EQ(m.ambient, 0u);
  oci::Capabilities user = capability_sets({"CAP_CHOWN"}, false);
  EXPECT_TRUE(user.effective.empty() && user.permitted.empty());
  EXPECT_EQ(user.bounding.size(), 1u);
  EXPECT_THROW(capability_masks({{"CAP_NOPE"}, {}, {}, {}, {}}), Error);
}

TEST(SecurityOptionsTest, DockerForms) {
  auto o = parse_security_options({"seccomp=/tmp/p.json", "no-new-privileges", "systempaths=unconfined"});
  EXPECT_EQ(o.seccomp, "/tmp/p.json");
  EXPECT_EQ(o.no_new_privileges, true);
  EXPECT_TRUE(o.systempaths_unconfined);
  EXPECT_EQ(parse_security_options({"seccomp:unconfined"}).seccomp, "unconfined");
  EXPECT_EQ(parse_security_options({"no-new-privileges=false"}).no_new_privileges, false);
  EXPECT_EQ(parse_security_options({"no-new-privileges:true"}).no_new_privileges, true);
  EXPECT_FALSE(parse_security_options({}).no_new_privileges.has_value());
  EXPECT_NO_THROW(parse_security_options({"apparmor=unconfined", "label=disable"}));
  for (const char* bad : {"foo", "seccomp=", "systempaths=confined", "no-new-privileges=maybe", "bogus=1"}) {
    try {
      parse_security_options({"no-new-privileges", bad});
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 125);
      EXPECT_NE(std::string(e.what()).find("invalid --security-opt 2"), std::string::npos) << e.what();
    }
  }
}

TEST(DeviceOptionsTest, DeviceFlagAndCgroupRule) {
  EXPECT_EQ(parse_device_flag("/dev/sda"), (DeviceMapping{"/dev/sda", "/dev/sda", "rwm"}));
  EXPECT_EQ(parse_device_flag("/dev/sda:/dev/xvda"), (DeviceMapping{"/dev/sda", "/dev/xvda", "rwm"}));
  EXPECT_EQ(parse_device_flag("/dev/sda:r"), (DeviceMapping{"/dev/sda", "/dev/sda", "r"}));
  EXPECT_EQ(parse_device_flag("/dev/sda:/dev/xvda:rw"), (DeviceMapping{"/dev/sda", "/dev/xvda", "rw"}));
  EXPECT_THROW(parse_device_flag("sda"), Error);
  EXPECT_THROW(parse_device_flag("/dev/sda:/dev/x:rwx"), Error);
  EXPECT_THROW(parse_device_flag("/a:/b:r:w"), Error);
  EXPECT_EQ(parse_device_cgroup_rule("c 1:3 mr"), (oci::DeviceRule{true, "c", 1, 3, "mr"}));
  EXPECT_EQ(parse_device_cgroup_rule("a *:* rwm"), (oci::DeviceRule{true, "a", std::nullopt, std::nullopt, "rwm"}));
  EXPECT_EQ(parse_device_cgroup_rule("b 8:* rw"), (oci::DeviceRule{true, "b", 8, std::nullopt, "rw"}));
  for (const char* bad : {"c 1:3", "d 1:3 r", "c 1:3 x", "c one:3 r", "c 1:3 rwmr", ""}) EXPECT_THROW(parse_device_cgroup_rule(bad), Error) << bad;
  auto resolved = resolve_device(parse_device_flag("/dev/null:/dev/n:rw"));
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].node.path, "/dev/n");
  EXPECT_EQ(resolved[0].node.type, "c");
  EXPECT_EQ(resolved[0].rule, (oci::DeviceRule{true, "c", 1, 3, "rw"}));
  try {
    resolve_device(parse_device_flag("/dev/does-not-exist"));
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("error gathering device information while adding custom device"), std::string::npos);
  }
  EXPECT_THROW(resolve_device(parse_device_flag("/etc/passwd")), Error);  // not a device
}

TEST(UlimitTest, DockerSyntax) {
  EXPECT_EQ(parse_ulimit("nofile=512:1024"), (oci::Rlimit{"RLIMIT_NOFILE", 1024, 512}));
  EXPECT_EQ(parse_ulimit("nproc=100"), (oci::Rlimit{"RLIMIT_NPROC", 100, 100}));
  EXPECT_EQ(parse_ulimit("core=0"), (oci::Rlimit{"RLIMIT_CORE", 0, 0}));
  for (const char* bad : {"nofile", "nofile=", "bogus=1", "nofile=2:1", "nofile=a:b", "nofile=-5"}) EXPECT_THROW(parse_ulimit(bad), Error) << bad;
  // Above this host's hard limit (raising needs CAP_SYS_RESOURCE): refused now, with the reason.
  rlimit current{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &current), 0);
  if (current.rlim_max != RLIM_INFINITY &&
      !(effective_capabilities() & (std::uint64_t{1} << *capability_number("CAP_SYS_RESOURCE")))) {
    std::string above = "nofile=1:" + std::to_string(current.rlim_max + 1);
    try {
      parse_ulimit(above);
      ADD_FAILURE();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("CAP_SYS_RESOURCE"), std::string::npos) << e.what();
    }
  }
}

TEST(LogOptionsTest, MaxSizeAndFile) {
  std::int64_t size = -1;
  int files = 1;
  parse_log_options({"max-size=10k", "max-file=3"}, size, files);
  EXPECT_EQ(size, 10240);
  EXPECT_EQ(files, 3);
  for (auto bad : std::vector<std::vector<std::string>>{{"max-size=x"}, {"max-file=0"}, {"max-file=2"}, {"mode=fast"}}) {
    size = -1;
    files = 1;
    EXPECT_THROW(parse_log_options(bad, size, files), Error) << bad[0];
  }
}

TEST(MountOptionsTest, RuncTable) {
  auto o = parse_mount_options({"nosuid", "noexec", "nodev", "mode=755", "size=65536k", "ro"});
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY));
  EXPECT_EQ(o.data, "mode=755,size=65536k");
  EXPECT_FALSE(o.bind);
  auto b = parse_mount_options({"rbind", "ro", "rw", "rprivate"});
  EXPECT_TRUE(b.bind && b.recursive);
  EXPECT_FALSE(b.flags & MS_RDONLY);  // the later rw wins
  EXPECT_EQ(b.propagation, static_cast<unsigned long>(MS_PRIVATE | MS_REC));
  auto e = parse_mount_options({"noexec", "exec", "idmap"});
  EXPECT_FALSE(e.flags & MS_NOEXEC);
  EXPECT_TRUE(e.idmap);
  EXPECT_EQ(map_mount_data("tmpfs", "mode=755", {{0, 100000, 65536}}, {{0, 200000, 65536}}), "mode=755,uid=100000,gid=200000");
  EXPECT_EQ(map_mount_data("devpts", "gid=5,mode=0620", {{0, 100000, 65536}}, {{0, 100000, 65536}}), "gid=100005,mode=0620");
  EXPECT_EQ(map_mount_data("tmpfs", "mode=755", {}, {}), "mode=755");
  EXPECT_THROW(map_to_host({{0, 100000, 10}}, 10), StageError);
}

TEST(OciSpecTest, RefusesWhatItCannotHonour) {
  nlohmann::json base = {{"ociVersion", "1.1.0"}, {"root", {{"path", "rootfs"}}}, {"process", {{"args", {"sh"}}, {"cwd", "/"}}}};
  EXPECT_NO_THROW(oci::spec_from_json(base));
  auto refused = [&](const std::function<void(nlohmann::json&)>& change, const std::string& words) {
    nlohmann::json j = base;
    change(j);
    try {
      oci::spec_from_json(j);
      ADD_FAILURE() << words;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
      EXPECT_EQ(e.exit_code(), 125);
    }
  };
  refused([](auto& j) { j["linux"]["intelRdt"] = {{"closID", "x"}}; }, "linux.intelRdt is not supported");
  refused([](auto& j) { j["process"]["apparmorProfile"] = "x"; }, "process.apparmorProfile is not supported");
  refused([](auto& j) { j["linux"]["namespaces"] = {{{"type", "time"}}}; }, "namespace type \"time\"");
  refused([](auto& j) { j["process"]["cwd"] = "relative"; }, "process.cwd");
  refused([](auto& j) { j["ociVersion"] = "2.0.0"; }, "ociVersion");
  refused([](auto& j) { j["linux"]["bogus"] = 1; }, "unknown field linux.bogus");
  refused([](auto& j) { j["linux"]["resources"] = {{"devices", {{{"allow", true}, {"access", "rwx"}}}}}; }, "access");
  refused([](auto& j) { j["mounts"] = {{{"destination", "rel"}}}; }, "absolute");
  // Empty values of unsupported fields are no request at all.
  nlohmann::json empty = base;
  empty["process"]["apparmorProfile"] = "";
  empty["hooks"] = nlohmann::json::object();
  EXPECT_NO_THROW(oci::spec_from_json(empty));
}

TEST(ProtocolTest, MessagesRoundTripAndCrossFrames) {
  StartRequest r;
  r.spec.root.path = "/r";
  r.spec.process.args = {"echo", std::string(300000, 'x')};  // larger than one datagram
  r.seccomp_program = std::string("\0\x01\x02\0", 4) + std::string(5000, '\xff');
  r.overlay = OverlayRootfs{"/layers", {"a/diff", "b/diff"}, "/u", "/w"};
  r.init = r.create_cwd = r.docker_user = true;
  EXPECT_EQ(decode_start_request(encode(r)), r);
  StageReply reply{StageReply::Kind::error, "mount", 2, "mount /x: No such file or directory", 125};
  EXPECT_EQ(decode_stage_reply(encode(reply)), reply);
  EXPECT_THROW(decode_stage_reply("{\"type\":\"nope\"}"), Error);

  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  std::string big = encode(r);
  std::thread sender([&] { send_message(a.get(), big, 0); });  // fd 0 rides along
  UniqueFd passed;
  auto got = receive_message(b.get(), &passed);
  sender.join();
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, big);
  EXPECT_TRUE(passed);
  a.reset();
  EXPECT_FALSE(receive_message(b.get()));  // EOF
}

TEST(ProtocolTest, MonitorRequestRoundTripsThroughItsPipe) {
  MonitorRequest r;
  r.step = MonitorRequest::Step::wait;
  r.container_id = std::string(64, 'a');
  r.state_root = "/var/lib/x";
  r.image_root = "/var/lib/y";
  r.network_root = "/var/lib/z";
  r.network.bridge = "br9";
  r.network.bip = Ipv4Net::parse("10.9.0.1/16");
  r.network.nft_table = "t9";
  r.network.pool = Ipv4Net::parse("10.10.0.0/16");
  r.network.pool_size = 26;
  r.owner_fd = 5;
  r.restart_progress = {3, std::chrono::milliseconds(800)};
  r.pid = 4321;
  r.out_fd = 7;
  r.err_fd = 8;
  r.held_fds = {9, 10};
  r.log_path = "/l/container.log";
  r.log_max_size = 1 << 20;
  r.log_max_file = 3;
  MonitorRequest back = decode_monitor_request(read_message_pipe(message_pipe(encode(r))));
  EXPECT_EQ(back.step, r.step);
  EXPECT_EQ(back.container_id, r.container_id);
  EXPECT_EQ(back.network_root, r.network_root);
  EXPECT_EQ(back.network.bridge, "br9");
  EXPECT_EQ(back.network.bip.str(), "10.9.0.1/16");
  EXPECT_EQ(back.network.nft_table, "t9");
  EXPECT_EQ(back.network.pool.str(), "10.10.0.0/16");
  EXPECT_EQ(back.network.pool_size, 26);
  EXPECT_EQ(back.owner_fd, 5);
  EXPECT_EQ(back.report_fd, -1);
  EXPECT_EQ(back.restart_progress, r.restart_progress);
  EXPECT_EQ(back.held_fds, (std::vector<int>{9, 10}));
  EXPECT_EQ(back.log_max_file, 3);
  EXPECT_THROW(decode_monitor_request(R"({"type":"monitor","step":"later"})"), Error);
  EXPECT_THROW(decode_monitor_request(R"({"type":"monitor","step":"ended"})"), Error);  // no container
  EXPECT_THROW(message_pipe(std::string(16 << 20, 'x')), Error);  // more than a pipe holds
}
