#include "cppcker/security/seccomp.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <seccomp.h>  // seccomp_syscall_resolve_name: libcppcker's forwarder to the libseccomp it loads
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cppcker/util/error.hpp"
#include "cppcker/util/fd.hpp"
#include "cppcker/util/fs.hpp"

using namespace cppcker;
using nlohmann::json;

namespace {

// Docker's default bounding set.
const std::vector<std::string> kDockerCaps = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE"};

SeccompContext context(std::vector<std::string> caps, std::string arch = "SCMP_ARCH_X86_64", unsigned major = 6,
                       unsigned minor = 1) {
  return SeccompContext{std::move(caps), std::move(arch), major, minor};
}

std::vector<std::string> all_names(const oci::Seccomp& s) {
  std::vector<std::string> out;
  for (const auto& c : s.syscalls) out.insert(out.end(), c.names.begin(), c.names.end());
  return out;
}

std::vector<const oci::SeccompSyscall*> rules_for(const oci::Seccomp& s, const std::string& name) {
  std::vector<const oci::SeccompSyscall*> out;
  for (const auto& c : s.syscalls)
    if (std::find(c.names.begin(), c.names.end(), name) != c.names.end()) out.push_back(&c);
  return out;
}

// The message of the Error `fn` throws, which must carry Docker's usage status 125.
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 125) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("cppcker-seccomp-" + random_hex(6));
  ~TempDir() { remove_tree(path); }
};

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  return out;
}

ino_t inode_of(const fs::path& p) {
  struct stat st{};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_ino;
}

// ---------------------------------------------------------------- resolution

const char* kConditionalProfile = R"({
  "defaultAction": "SCMP_ACT_ERRNO",
  "defaultErrnoRet": 1,
  "archMap": [
    {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
    {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": null}
  ],
  "syscalls": [
    {"names": ["always"], "action": "SCMP_ACT_ALLOW", "comment": "no condition"},
    {"names": ["admin"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
    {"names": ["admin_and_ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]}},
    {"names": ["without_admin"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
    {"names": ["on_amd64"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
    {"names": ["on_x86"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["x86"]}},
    {"names": ["on_arm"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm", "arm64"]}},
    {"names": ["not_on_arm64"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["arm64"]}},
    {"names": ["from_5_10"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.10"}},
    {"names": ["before_5_10"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.10"}},
    {"names": ["with_args"], "action": "SCMP_ACT_TRACE", "errnoRet": 5,
     "args": [{"index": 1, "value": 7, "valueTwo": 3, "op": "SCMP_CMP_MASKED_EQ"}]}
  ]
})";

struct ResolutionCase {
  const char* what;
  SeccompContext ctx;
  std::vector<std::string> architectures;
  std::vector<std::string> names;
};

TEST(SeccompResolve, IncludesAndExcludesAsDockerReadsThem) {
  const std::vector<ResolutionCase> cases = {
      {"no capabilities on amd64: the x86 sub-architecture counts, excluded-by-admin rule applies",
       context({}),
       {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"},
       {"always", "without_admin", "on_amd64", "on_x86", "not_on_arm64", "from_5_10", "with_args"}},
      {"CAP_SYS_ADMIN alone: one included capability missing keeps admin_and_ptrace out",
       context({"CAP_SYS_ADMIN"}),
       {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"},
       {"always", "admin", "on_amd64", "on_x86", "not_on_arm64", "from_5_10", "with_args"}},
      {"both capabilities on arm64 with an older kernel",
       context({"CAP_SYS_PTRACE", "CAP_SYS_ADMIN"}, "SCMP_ARCH_AARCH64", 5, 4),
       {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"},
       {"always", "admin", "admin_and_ptrace", "on_arm", "before_5_10", "with_args"}},
      {"kernel versions compare as numbers: 5.9 is before 5.10",
       context({}, "SCMP_ARCH_RISCV64", 5, 9),
       {"SCMP_ARCH_RISCV64"},
       {"always", "without_admin", "not_on_arm64", "before_5_10", "with_args"}},
      {"and 10.0 after it",
       context({}, "SCMP_ARCH_RISCV64", 10, 0),
       {"SCMP_ARCH_RISCV64"},
       {"always", "without_admin", "not_on_arm64", "from_5_10", "with_args"}},
      {"an architecture the archMap does not list: no architectures, only unconditional arch rules",
       context({}, "SCMP_ARCH_PPC64LE", 5, 10),
       {},
       {"always", "without_admin", "not_on_arm64", "from_5_10", "with_args"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    oci::Seccomp s = resolve_docker_profile(kConditionalProfile, c.ctx);
    EXPECT_EQ(s.default_action, "SCMP_ACT_ERRNO");
    EXPECT_EQ(s.default_errno_ret, 1u);
    EXPECT_EQ(s.architectures, c.architectures);
    EXPECT_EQ(all_names(s), c.names);
  }
}

TEST(SeccompResolve, KeepsActionsErrnoAndArguments) {
  oci::Seccomp s = resolve_docker_profile(kConditionalProfile, context({}));
  auto without_admin = rules_for(s, "without_admin");
  ASSERT_EQ(without_admin.size(), 1u);
  EXPECT_EQ(without_admin[0]->action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(without_admin[0]->errno_ret, 38u);
  auto always = rules_for(s, "always");
  ASSERT_EQ(always.size(), 1u);
  EXPECT_FALSE(always[0]->errno_ret);
  auto with_args = rules_for(s, "with_args");
  ASSERT_EQ(with_args.size(), 1u);
  EXPECT_EQ(with_args[0]->action, "SCMP_ACT_TRACE");
  EXPECT_EQ(with_args[0]->errno_ret, 5u);
  EXPECT_EQ(with_args[0]->args, (std::vector<oci::SeccompArg>{{1, 7, 3, "SCMP_CMP_MASKED_EQ"}}));
}

TEST(SeccompResolve, AcceptsTheOciForm) {
  oci::Seccomp s = resolve_docker_profile(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
    "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
    "listenerPath": "",
    "syscalls": [
      {"names": ["kexec_load", "open_by_handle_at"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
      {"name": "acct", "action": "SCMP_ACT_KILL_PROCESS"},
      {"names": ["uselib"], "action": "SCMP_ACT_LOG", "args": null, "includes": null}
    ]})",
                                          context({}, "SCMP_ARCH_AARCH64"));
  EXPECT_EQ(s.default_action, "SCMP_ACT_ALLOW");
  EXPECT_FALSE(s.default_errno_ret);
  // Given architectures are kept whatever the native one.
  EXPECT_EQ(s.architectures, (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}));
  EXPECT_EQ(s.flags, (std::vector<std::string>{"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"}));
  ASSERT_EQ(s.syscalls.size(), 3u);
  EXPECT_EQ(s.syscalls[0], (oci::SeccompSyscall{{"kexec_load", "open_by_handle_at"}, "SCMP_ACT_ERRNO", 13, {}}));
  EXPECT_EQ(s.syscalls[1], (oci::SeccompSyscall{{"acct"}, "SCMP_ACT_KILL_PROCESS", std::nullopt, {}}));
  EXPECT_EQ(s.syscalls[2], (oci::SeccompSyscall{{"uselib"}, "SCMP_ACT_LOG", std::nullopt, {}}));
}

TEST(SeccompResolve, RefusesWhatItCannotHonourNamingIt) {
  auto profile = [](const std::string& rules, const std::string& extra = "") {
    return R"({"defaultAction": "SCMP_ACT_ERRNO", )" + extra + R"("syscalls": [)" + rules + "]}";
  };
  const std::string ok = R"({"names": ["read"], "action": "SCMP_ACT_ALLOW"})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "invalid seccomp profile: parse error"},
      {"[]", "invalid seccomp profile: must be an object"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrno": "EPERM"})",
       R"(invalid seccomp profile: unknown field "defaultErrno")"},
      {R"({"syscalls": []})", "invalid seccomp profile: defaultAction: is required"},
      {R"({"defaultAction": "SCMP_ACT_FOO"})",
       R"(invalid seccomp profile: defaultAction: unknown action "SCMP_ACT_FOO")"},
      {R"({"defaultAction": 1})", "invalid seccomp profile: defaultAction: must be a string"},
      {profile(ok + "," + ok + "," + ok + R"(, {"names": ["x"], "action": "SCMP_ACT_FOO"})"),
       R"(invalid seccomp profile: syscalls[3]: unknown action "SCMP_ACT_FOO")"},
      {profile(R"({"names": ["x"], "action": "SCMP_ACT_NOTIFY"})"),
       "invalid seccomp profile: syscalls[0]: SCMP_ACT_NOTIFY is not supported"},
      {profile(R"({"names": ["x"]})"), "invalid seccomp profile: syscalls[0].action: is required"},
      {profile(ok + R"(, {"action": "SCMP_ACT_ALLOW"})"), "invalid seccomp profile: syscalls[1]: no system call names"},
      {profile(R"({"names": [], "action": "SCMP_ACT_ALLOW"})"),
       "invalid seccomp profile: syscalls[0]: no system call names"},
      {profile(R"({"names": ["a"], "name": "b", "action": "SCMP_ACT_ALLOW"})"),
       R"(invalid seccomp profile: syscalls[0]: both "name" and "names" are given)"},
      {profile(R"({"names": "read", "action": "SCMP_ACT_ALLOW"})"),
       "invalid seccomp profile: syscalls[0].names: must be an array of strings"},
      {profile(R"({"nmes": ["read"], "action": "SCMP_ACT_ALLOW"})"),
       R"(invalid seccomp profile: syscalls[0]: unknown field "nmes")"},
      {profile(
           R"({"names": ["x"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_FOO"}]})"),
       R"(invalid seccomp profile: syscalls[0].args[0]: unknown operator "SCMP_CMP_FOO")"},
      {profile(
           R"({"names": ["x"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]})"),
       "invalid seccomp profile: syscalls[0].args[0]: index 6 is out of range"},
      {profile(
           R"({"names": ["x"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]})"),
       "invalid seccomp profile: syscalls[0].args[0].value: must be a non-negative integer"},
      {profile(R"({"names": ["x"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000})"),
       "invalid seccomp profile: syscalls[0].errnoRet: 70000 is out of range"},
      {profile(R"({"names": ["x"], "action": "SCMP_ACT_ALLOW", "includes": {"cap": ["CAP_SYS_ADMIN"]}})"),
       R"(invalid seccomp profile: syscalls[0].includes: unknown field "cap")"},
      {profile(R"({"names": ["x"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "four"}})"),
       R"(invalid seccomp profile: syscalls[0].includes.minKernel: invalid kernel version "four")"},
      // A rule that does not apply here is checked all the same.
      {profile(R"({"names": ["x"], "action": "SCMP_ACT_BAD", "includes": {"caps": ["CAP_NOT_HELD"]}})"),
       R"(invalid seccomp profile: syscalls[0]: unknown action "SCMP_ACT_BAD")"},
      {profile(ok, R"("listenerPath": "/run/agent.sock", )"),
       "invalid seccomp profile: listenerPath: seccomp notification agents are not supported"},
      {profile(ok, R"("flags": ["SECCOMP_FILTER_FLAG_TSYNC"], )"),
       R"(invalid seccomp profile: flags: unsupported flag "SECCOMP_FILTER_FLAG_TSYNC")"},
      {profile(ok, R"("architectures": ["SCMP_ARCH_Z80"], )"),
       R"(invalid seccomp profile: architectures: unknown architecture "SCMP_ARCH_Z80")"},
      {profile(ok, R"("archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_386"]}], )"),
       R"(invalid seccomp profile: archMap[0]: unknown architecture "SCMP_ARCH_386")"},
      {profile(ok, R"("architectures": ["SCMP_ARCH_X86"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}], )"),
       R"(invalid seccomp profile: both "architectures" and "archMap" are given)"},
  };
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(text);
    const std::string message = error_of([&] { resolve_docker_profile(text, context(kDockerCaps)); });
    EXPECT_EQ(message.substr(0, expected.size()), expected) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

// ---------------------------------------------------------------- the default profile

TEST(SeccompDefaultProfile, IsDockerFormatWithKnownSystemCalls) {
  const json p = json::parse(default_seccomp_profile());
  EXPECT_EQ(p.at("defaultAction"), "SCMP_ACT_ERRNO");
  EXPECT_EQ(p.at("defaultErrnoRet"), 1);
  std::map<std::string, json> arch_map;
  for (const auto& a : p.at("archMap")) arch_map[a.at("architecture")] = a.at("subArchitectures");
  EXPECT_EQ(arch_map.at("SCMP_ARCH_X86_64"), json({"SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  EXPECT_EQ(arch_map.at("SCMP_ARCH_AARCH64"), json({"SCMP_ARCH_ARM"}));
  EXPECT_EQ(arch_map.at("SCMP_ARCH_S390X"), json({"SCMP_ARCH_S390"}));
  for (const char* a :
       {"SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_RISCV64"})
    EXPECT_TRUE(arch_map.count(a)) << a;

  const std::set<std::string> rule_keys = {"names", "action", "errnoRet", "args", "comment", "includes", "excludes"};
  std::set<std::string> everything;
  for (const auto& rule : p.at("syscalls")) {
    for (auto it = rule.begin(); it != rule.end(); ++it) EXPECT_TRUE(rule_keys.count(it.key())) << it.key();
    ASSERT_FALSE(rule.at("names").empty());
    for (const std::string name : rule.at("names")) {
      everything.insert(name);
      // Known to this libseccomp for at least one architecture (a pseudo number when not the native one).
      EXPECT_NE(seccomp_syscall_resolve_name(name.c_str()), __NR_SCMP_ERROR) << name;
    }
  }
  // Docker refuses the kernel keyring: no rule names it, so the default action answers.
  for (const char* refused : {"keyctl", "add_key", "request_key", "kexec_load", "userfaultfd", "swapon"})
    EXPECT_FALSE(everything.count(refused)) << refused;
  EXPECT_GT(everything.size(), 350u);
}

TEST(SeccompDefaultProfile, PersonalityOnlyWithDockersArguments) {
  oci::Seccomp s = resolve_docker_profile(default_seccomp_profile(), context(kDockerCaps));
  std::set<std::uint64_t> allowed;
  for (const auto* rule : rules_for(s, "personality")) {
    EXPECT_EQ(rule->action, "SCMP_ACT_ALLOW");
    ASSERT_FALSE(rule->args.empty());
    for (const auto& a : rule->args) {
      EXPECT_EQ(a.index, 0u);
      EXPECT_EQ(a.op, "SCMP_CMP_EQ");
      allowed.insert(a.value);
    }
  }
  EXPECT_EQ(allowed, (std::set<std::uint64_t>{0x0, 0x8, 0x20000, 0x20008, 0xffffffff}));
}

TEST(SeccompDefaultProfile, DockersDefaultCapabilitiesGetNoPrivilegedRule) {
  const SeccompContext ctx = context(kDockerCaps);
  oci::Seccomp s = resolve_docker_profile(default_seccomp_profile(), ctx);
  EXPECT_EQ(s.default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(s.default_errno_ret, 1u);
  EXPECT_EQ(s.architectures, (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));

  // No rule of the profile that needs a capability outside the set made it in.
  const json p = json::parse(default_seccomp_profile());
  for (const auto& rule : p.at("syscalls")) {
    if (!rule.contains("includes") || !rule["includes"].contains("caps")) continue;
    bool held = true;
    for (const std::string cap : rule["includes"]["caps"])
      held = held && std::find(kDockerCaps.begin(), kDockerCaps.end(), cap) != kDockerCaps.end();
    if (held) continue;
    const std::vector<std::string> names = rule.at("names");
    for (const auto& c : s.syscalls) EXPECT_NE(c.names, names) << rule.dump();
  }
  // What those rules would allow is not allowed unconditionally by any other.
  for (const char* name : {"mount",          "umount2",     "unshare",         "setns",
                           "clone3",         "bpf",         "perf_event_open", "fanotify_init",
                           "quotactl",       "sethostname", "setdomainname",   "syslog",
                           "reboot",         "init_module", "finit_module",    "delete_module",
                           "acct",           "kcmp",        "pidfd_getfd",     "process_madvise",
                           "iopl",           "ioperm",      "settimeofday",    "clock_settime",
                           "vhangup",        "mbind",       "set_mempolicy",   "open_by_handle_at",
                           "lookup_dcookie", "fsopen",      "open_tree",       "move_mount"})
    for (const auto* rule : rules_for(s, name)) EXPECT_FALSE(rule->action == "SCMP_ACT_ALLOW") << name << " is allowed";
  EXPECT_EQ(rules_for(s, "chroot").size(), 1u);  // CAP_SYS_CHROOT is one of Docker's
  EXPECT_FALSE(rules_for(s, "ptrace").empty());  // kernel 4.8 and later

  // clone only without namespace flags (argument 0 on x86), clone3 answered with ENOSYS.
  auto clone = rules_for(s, "clone");
  ASSERT_EQ(clone.size(), 1u);
  EXPECT_EQ(clone[0]->args, (std::vector<oci::SeccompArg>{{0, 0x7E020000, 0, "SCMP_CMP_MASKED_EQ"}}));
  auto clone3 = rules_for(s, "clone3");
  ASSERT_EQ(clone3.size(), 1u);
  EXPECT_EQ(clone3[0]->action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(clone3[0]->errno_ret, 38u);
  // AF_VSOCK (40) sockets are refused: every family below it, and the ones above it by name.
  auto socket = rules_for(s, "socket");
  ASSERT_EQ(socket.size(), 1u);
  EXPECT_EQ(socket[0]->args, (std::vector<oci::SeccompArg>{{0, 40, 0, "SCMP_CMP_LT"},
                                                           {0, 41, 0, "SCMP_CMP_EQ"},
                                                           {0, 42, 0, "SCMP_CMP_EQ"},
                                                           {0, 43, 0, "SCMP_CMP_EQ"},
                                                           {0, 44, 0, "SCMP_CMP_EQ"},
                                                           {0, 45, 0, "SCMP_CMP_EQ"}}));
  // io_uring's operations pass no filter (its sockets would be AF_VSOCK as well): not allowed, as in Docker.
  for (const char* name : {"io_uring_setup", "io_uring_enter", "io_uring_register"}) EXPECT_TRUE(rules_for(s, name).empty()) << name;
}

TEST(SeccompDefaultProfile, CapabilitiesAndArchitecturesOpenTheirGroups) {
  std::vector<std::string> caps = kDockerCaps;
  caps.insert(caps.end(), {"CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_MODULE", "CAP_SYS_TIME", "CAP_SYS_NICE"});
  oci::Seccomp admin = resolve_docker_profile(default_seccomp_profile(), context(caps));
  for (const char* name :
       {"mount", "unshare", "setns", "clone3", "bpf", "init_module", "kcmp", "settimeofday", "mbind"}) {
    auto rules = rules_for(admin, name);
    ASSERT_FALSE(rules.empty()) << name;
    EXPECT_TRUE(std::any_of(rules.begin(), rules.end(), [](auto* r) {
      return r->action == "SCMP_ACT_ALLOW" && r->args.empty();
    })) << name;
  }
  // With CAP_SYS_ADMIN clone is unconditional and clone3 is not refused.
  for (const auto* rule : rules_for(admin, "clone")) EXPECT_TRUE(rule->args.empty());
  for (const auto* rule : rules_for(admin, "clone3")) EXPECT_EQ(rule->action, "SCMP_ACT_ALLOW");
  EXPECT_TRUE(rules_for(admin, "reboot").empty());

  oci::Seccomp arm = resolve_docker_profile(default_seccomp_profile(), context(kDockerCaps, "SCMP_ARCH_AARCH64"));
  EXPECT_EQ(arm.architectures, (std::vector<std::string>{"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}));
  EXPECT_FALSE(rules_for(arm, "set_tls").empty());
  EXPECT_TRUE(rules_for(arm, "arch_prctl").empty());

  oci::Seccomp s390 = resolve_docker_profile(default_seccomp_profile(), context(kDockerCaps, "SCMP_ARCH_S390X"));
  auto clone = rules_for(s390, "clone");
  ASSERT_EQ(clone.size(), 1u);
  EXPECT_EQ(clone[0]->args.at(0).index, 1u);  // s390 passes clone's flags second
  EXPECT_FALSE(rules_for(s390, "s390_runtime_instr").empty());

  oci::Seccomp old_kernel =
      resolve_docker_profile(default_seccomp_profile(), context(kDockerCaps, "SCMP_ARCH_X86_64", 4, 4));
  EXPECT_TRUE(rules_for(old_kernel, "ptrace").empty());
}

// ---------------------------------------------------------------- compiling and caching

oci::Seccomp default_for_docker_caps() {
  return resolve_docker_profile(default_seccomp_profile(), host_seccomp_context(kDockerCaps));
}

TEST(SeccompCompile, DefaultProfileIsAValidProgram) {
  const std::string program = compile_seccomp(default_for_docker_caps());
  ASSERT_FALSE(program.empty());
  EXPECT_EQ(program.size() % 8, 0u);     // struct sock_filter
  EXPECT_LE(program.size() / 8, 4096u);  // BPF_MAXINSNS
}

TEST(SeccompCompile, SkipsNamesLibseccompDoesNotKnowAndRulesRepeatingTheDefault) {
  oci::Seccomp known{"SCMP_ACT_ALLOW", std::nullopt, {}, {}, {{{"getppid"}, "SCMP_ACT_ERRNO", 7, {}}}};
  oci::Seccomp with_unknown = known;
  with_unknown.syscalls[0].names.insert(with_unknown.syscalls[0].names.begin(), "no_such_syscall_at_all");
  with_unknown.syscalls.push_back({{"getpid"}, "SCMP_ACT_ALLOW", std::nullopt, {}});  // libseccomp would refuse it
  EXPECT_TRUE(compile_seccomp(with_unknown) == compile_seccomp(known));
  // ... while a rule that does something changes the program.
  oci::Seccomp other = known;
  other.syscalls[0].errno_ret = 8;
  EXPECT_TRUE(compile_seccomp(other) != compile_seccomp(known));
}

TEST(SeccompCompile, RefusesWhatItCannotHonour) {
  const oci::Seccomp base{
      "SCMP_ACT_ERRNO", 1, {"SCMP_ARCH_X86_64"}, {}, {{{"read"}, "SCMP_ACT_ALLOW", std::nullopt, {}}}};
  const std::vector<std::pair<std::function<void(oci::Seccomp&)>, std::string>> cases = {
      {[](oci::Seccomp& s) { s.syscalls[0].action = "SCMP_ACT_NOTIFY"; }, "SCMP_ACT_NOTIFY is not supported"},
      {[](oci::Seccomp& s) { s.default_action = "SCMP_ACT_FOO"; }, R"(unknown action "SCMP_ACT_FOO")"},
      {[](oci::Seccomp& s) { s.architectures.push_back("SCMP_ARCH_Z80"); }, R"(unknown architecture "SCMP_ARCH_Z80")"},
      {[](oci::Seccomp& s) { s.flags.push_back("SECCOMP_FILTER_FLAG_NEW_LISTENER"); }, "unsupported flag"},
      {[](oci::Seccomp& s) {
         s.syscalls[0].args.push_back({6, 0, 0, "SCMP_CMP_EQ"});
       },
       "index 6 is out of range"},
      {[](oci::Seccomp& s) {
         s.syscalls[0].args.push_back({0, 0, 0, "SCMP_CMP_ISH"});
       },
       "unknown operator"},
      {[](oci::Seccomp& s) { s.syscalls[0].names.clear(); }, "no system call names"},
  };
  for (const auto& [change, expected] : cases) {
    oci::Seccomp s = base;
    change(s);
    SCOPED_TRACE(expected);
    EXPECT_NE(error_of([&] { compile_seccomp(s); }).find(expected), std::string::npos);
  }
}

TEST(SeccompCache, SecondCallReusesTheFile) {
  TempDir tmp;
  const fs::path dir = tmp.path / "state" / "seccomp";  // parents made as needed
  const oci::Seccomp s = default_for_docker_caps();
  const std::string program = seccomp_program(s, dir);
  EXPECT_TRUE(program == compile_seccomp(s));
  struct stat st{};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  auto files = files_in(dir);
  ASSERT_EQ(files.size(), 1u);
  ASSERT_EQ(::stat(files[0].c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // It holds the profile's canonical text.
  EXPECT_NE(read_file(files[0]).find(oci::to_json(s).dump()), std::string::npos);

  // Reused: not written again (a write renames a new file into place).
  const ino_t before = inode_of(files[0]);
  EXPECT_TRUE(seccomp_program(s, dir) == program);
  EXPECT_EQ(inode_of(files[0]), before);
  EXPECT_EQ(files_in(dir).size(), 1u);

  // Another profile gets a file of its own.
  oci::Seccomp other = s;
  other.default_errno_ret = 13;
  EXPECT_TRUE(seccomp_program(other, dir) == compile_seccomp(other));
  EXPECT_EQ(files_in(dir).size(), 2u);
}

TEST(SeccompCache, AFileForAnotherTextIsNotUsed) {
  TempDir tmp;
  const oci::Seccomp a = default_for_docker_caps();
  oci::Seccomp b = a;
  b.syscalls.push_back({{"kexec_load"}, "SCMP_ACT_ERRNO", 9, {}});
  const std::string program_a = seccomp_program(a, tmp.path / "a");
  const std::string program_b = seccomp_program(b, tmp.path / "b");
  ASSERT_TRUE(program_a != program_b);
  // As if a's text had b's hash: b's file name holding a's text and program.
  const fs::path b_file = files_in(tmp.path / "b").at(0);
  write_file_atomic(b_file, read_file(files_in(tmp.path / "a").at(0)), 0600);
  const ino_t planted = inode_of(b_file);
  EXPECT_TRUE(seccomp_program(b, tmp.path / "b") == program_b);
  EXPECT_NE(inode_of(b_file), planted);  // compiled and written again
  EXPECT_NE(read_file(b_file).find(oci::to_json(b).dump()), std::string::npos);
}

TEST(SeccompCache, ADamagedFileIsCompiledAgain) {
  TempDir tmp;
  const oci::Seccomp s = default_for_docker_caps();
  const std::string program = seccomp_program(s, tmp.path);
  const fs::path file = files_in(tmp.path).at(0);
  const std::string good = read_file(file);
  std::string flipped = good;
  flipped[flipped.size() - 3] ^= 0x40;  // inside the program
  for (const std::string& damaged : {good.substr(0, good.size() / 2), good.substr(0, good.size() - 8), flipped,
                                     std::string("garbage"), std::string()}) {
    write_file_atomic(file, damaged, 0600);
    EXPECT_TRUE(seccomp_program(s, tmp.path) == program);
    EXPECT_TRUE(read_file(file) == good);
  }
}

// ---------------------------------------------------------------- the real kernel

// Runs `probe` in a forked child, which writes "name=result errno" lines to `out`; returns them and the
// child's wait status. The filter stays in the child: the test process is never confined.
struct Child {
  std::map<std::string, std::pair<long, int>> results;
  int status = 0;
};

Child in_child(const std::function<void(int out)>& probe) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) {
    read_end.reset();
    try {
      probe(write_end.get());
    } catch (const std::exception& e) {
      std::string line = std::string("exception=-1 0 ") + e.what() + "\n";
      (void)!::write(write_end.get(), line.data(), line.size());
      ::_exit(3);
    }
    ::_exit(0);
  }
  write_end.reset();
  Child child;
  std::string output = read_all(read_end.get(), "the child's results");
  EXPECT_EQ(::waitpid(pid, &child.status, 0), pid);
  std::size_t start = 0;
  while (start < output.size()) {
    std::size_t end = output.find('\n', start);
    std::string line = output.substr(start, end - start);
    start = end == std::string::npos ? output.size() : end + 1;
    std::size_t eq = line.find('=');
    long value = 0;
    int err = 0;
    std::sscanf(line.c_str() + eq + 1, "%ld %d", &value, &err);
    child.results[line.substr(0, eq)] = {value, err};
  }
  EXPECT_EQ(child.results.count("exception"), 0u) << output;
  return child;
}

// Records a raw system call's result and errno.
void report(int out, const char* name, long result) {
  const int err = result < 0 ? errno : 0;
  char line[128];
  int n = std::snprintf(line, sizeof line, "%s=%ld %d\n", name, result, err);
  (void)!::write(out, line, static_cast<std::size_t>(n));
}

void confine(const std::string& program, const std::vector<std::string>& flags = {}) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throw_errno("prctl(PR_SET_NO_NEW_PRIVS)");
  install_seccomp_program(program, flags);
}

long seccomp_mode() {
  std::string status = read_file("/proc/self/status");
  std::size_t at = status.find("\nSeccomp:");
  return at == std::string::npos ? -1 : std::strtol(status.c_str() + at + 9, nullptr, 10);
}

TEST(SeccompKernel, DefaultProfileConfinesAProcessAsDockersDoes) {
  const oci::Seccomp s = default_for_docker_caps();
  const std::string program = compile_seccomp(s);
  Child child = in_child([&](int out) {
    report(out, "mode_before", seccomp_mode());
    confine(program, s.flags);
    report(out, "mode", seccomp_mode());
    report(out, "getpid", ::syscall(SYS_getpid));
    report(out, "unshare_newns", ::syscall(SYS_unshare, CLONE_NEWNS));
    report(out, "clone3", ::syscall(SYS_clone3, nullptr, 0));
    report(out, "keyctl", ::syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session keyring */, 0));
    report(out, "mount", ::syscall(SYS_mount, "none", "/proc/self/no-such-dir", "tmpfs", 0, nullptr));
    report(out, "personality_query", ::syscall(SYS_personality, 0xffffffffUL));
    report(out, "personality_linux", ::syscall(SYS_personality, 0x0UL));
    report(out, "personality_other", ::syscall(SYS_personality, 0x1234UL));
    report(out, "init_module", ::syscall(SYS_init_module, nullptr, 0, ""));
    report(out, "chroot", ::syscall(SYS_chroot, "/"));
    long vsock = ::syscall(SYS_socket, 40 /* AF_VSOCK */, SOCK_STREAM, 0);
    report(out, "socket_vsock", vsock);
    // The kernel takes the family as an int: upper bits must not slip AF_VSOCK past the filter.
    long vsock_high = ::syscall(SYS_socket, 0x100000028L, SOCK_STREAM, 0);
    report(out, "socket_vsock_high_bits", vsock_high);
    if (vsock_high >= 0) ::close(static_cast<int>(vsock_high));
    report(out, "io_uring_setup", ::syscall(SYS_io_uring_setup, 4, nullptr));
    long unix_socket = ::syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    report(out, "socket_unix", unix_socket);
    if (unix_socket >= 0) ::close(static_cast<int>(unix_socket));
    // fork-like clone works; with a namespace flag it is refused.
    long pid = ::syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, 0);
    if (pid == 0) ::syscall(SYS_exit_group, 0);
    report(out, "clone_plain", pid);
    if (pid > 0) ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
    long ns = ::syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, nullptr, nullptr, nullptr, 0);
    if (ns == 0) ::syscall(SYS_exit_group, 0);
    report(out, "clone_newns", ns);
    if (ns > 0) ::waitpid(static_cast<pid_t>(ns), nullptr, 0);
  });
  ASSERT_TRUE(WIFEXITED(child.status) && WEXITSTATUS(child.status) == 0) << "status " << child.status;
  auto& r = child.results;
  auto refused = [&](const char* name, int err) {
    ASSERT_TRUE(r.count(name)) << name;
    EXPECT_EQ(r[name].first, -1) << name;
    EXPECT_EQ(r[name].second, err) << name << ": " << std::strerror(r[name].second);
  };
  auto allowed = [&](const char* name) {
    ASSERT_TRUE(r.count(name)) << name;
    EXPECT_GE(r[name].first, 0) << name << ": " << std::strerror(r[name].second);
  };
  EXPECT_EQ(r["mode_before"].first, 0);
  EXPECT_EQ(r["mode"].first, 2);  // SECCOMP_MODE_FILTER
  allowed("getpid");
  refused("unshare_newns", EPERM);
  refused("clone3", ENOSYS);
  refused("keyctl", EPERM);
  refused("mount", EPERM);
  allowed("personality_query");
  allowed("personality_linux");
  refused("personality_other", EPERM);
  refused("init_module", EPERM);
  refused("socket_vsock", EPERM);
  refused("socket_vsock_high_bits", EPERM);
  refused("io_uring_setup", EPERM);
  allowed("socket_unix");
  allowed("clone_plain");
  refused("clone_newns", EPERM);
  if (::geteuid() == 0) allowed("chroot");  // CAP_SYS_CHROOT is among Docker's capabilities
}

TEST(SeccompKernel, ArgumentsOnDistinctIndexesAllMustMatchOnOneIndexAnyMay) {
  const oci::Seccomp s = resolve_docker_profile(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [
      {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 71,
       "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 424242, "op": "SCMP_CMP_EQ"}]},
      {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 72,
       "args": [{"index": 0, "value": 111111, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 222222, "op": "SCMP_CMP_EQ"}]},
      {"names": ["getsid"], "action": "SCMP_ACT_ERRNO",
       "args": [{"index": 0, "value": 4026531840, "valueTwo": 1342177280, "op": "SCMP_CMP_MASKED_EQ"}]}
    ]})",
                                                host_seccomp_context({}));
  Child child = in_child([&](int out) {
    confine(compile_seccomp(s), {"SECCOMP_FILTER_FLAG_LOG"});
    report(out, "both_match", ::syscall(SYS_getpriority, PRIO_PROCESS, 424242));
    report(out, "first_only", ::syscall(SYS_getpriority, PRIO_PGRP, 424242));
    report(out, "second_only", ::syscall(SYS_getpriority, PRIO_PROCESS, 0));
    report(out, "one_of", ::syscall(SYS_getpgid, 111111));
    report(out, "other_of", ::syscall(SYS_getpgid, 222222));
    report(out, "neither", ::syscall(SYS_getpgid, 0));
    report(out, "masked_match", ::syscall(SYS_getsid, 0x50000001));
    report(out, "masked_miss", ::syscall(SYS_getsid, 0));
  });
  ASSERT_TRUE(WIFEXITED(child.status) && WEXITSTATUS(child.status) == 0) << "status " << child.status;
  auto& r = child.results;
  EXPECT_EQ(r["both_match"], std::make_pair(-1L, 71));
  EXPECT_EQ(r["first_only"].second, ESRCH);  // no such process group: the kernel answered
  EXPECT_GE(r["second_only"].first, 0);
  EXPECT_EQ(r["one_of"], std::make_pair(-1L, 72));
  EXPECT_EQ(r["other_of"], std::make_pair(-1L, 72));
  EXPECT_GE(r["neither"].first, 0);
  EXPECT_EQ(r["masked_match"], std::make_pair(-1L, EPERM));  // errnoRet defaults to EPERM
  EXPECT_GE(r["masked_miss"].first, 0);
}

TEST(SeccompKernel, KillProcessAction) {
  const oci::Seccomp s{
      "SCMP_ACT_ALLOW", std::nullopt, {}, {}, {{{"getppid"}, "SCMP_ACT_KILL_PROCESS", std::nullopt, {}}}};
  Child child = in_child([&](int out) {
    const rlimit no_core{0, 0};  // SIGSYS dumps core by default: leave no file behind
    ::setrlimit(RLIMIT_CORE, &no_core);
    confine(compile_seccomp(s));
    report(out, "before", 0);
    ::syscall(SYS_getppid);
    report(out, "after", 0);
  });
  ASSERT_TRUE(WIFSIGNALED(child.status)) << "status " << child.status;
  EXPECT_EQ(WTERMSIG(child.status), SIGSYS);
  EXPECT_TRUE(child.results.count("before"));
  EXPECT_FALSE(child.results.count("after"));
}

TEST(SeccompKernel, InstallRefusesMalformedProgramsAndFlagsBeforeTheKernel) {
  const std::string program = compile_seccomp(default_for_docker_caps());
  Child child = in_child([&](int out) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throw_errno("prctl");
    for (const auto& [name, fn] : std::vector<std::pair<const char*, std::function<void()>>>{
             {"short", [&] { install_seccomp_program(program.substr(0, program.size() - 3), {}); }},
             {"empty", [&] { install_seccomp_program("", {}); }},
             {"tsync", [&] { install_seccomp_program(program, {"SECCOMP_FILTER_FLAG_TSYNC"}); }}}) {
      long result = 0;
      try {
        fn();
      } catch (const Error& e) {
        result = -e.exit_code();
      }
      report(out, name, result);
    }
    report(out, "mode", seccomp_mode());
    // Misaligned bytes are fine.
    std::string shifted = " " + program;
    install_seccomp_program(std::string_view(shifted).substr(1), {});
    report(out, "installed", seccomp_mode());
  });
  ASSERT_TRUE(WIFEXITED(child.status) && WEXITSTATUS(child.status) == 0) << "status " << child.status;
  EXPECT_EQ(child.results["short"].first, -125);
  EXPECT_EQ(child.results["empty"].first, -125);
  EXPECT_EQ(child.results["tsync"].first, -125);
  EXPECT_EQ(child.results["mode"].first, 0);
  EXPECT_EQ(child.results["installed"].first, 2);
}

}  // namespace
