#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "cppcker/cgroup/device_filter.hpp"
#include "cppcker/util/error.hpp"

using namespace cppcker;
using oci::DeviceRule;

namespace {

DeviceRule allow(const std::string& type, std::optional<std::int64_t> major, std::optional<std::int64_t> minor,
                 const std::string& access) {
  return {true, type, major, minor, access};
}
DeviceRule deny(const std::string& type, std::optional<std::int64_t> major, std::optional<std::int64_t> minor,
                const std::string& access) {
  return {false, type, major, minor, access};
}
constexpr std::nullopt_t any = std::nullopt;

// Docker's default for a container that is not privileged.
std::vector<DeviceRule> docker_default() {
  return {deny("a", any, any, "rwm"),     allow("c", any, any, "m"),     allow("b", any, any, "m"),
          allow("c", 1, 3, "rwm"),        allow("c", 1, 5, "rwm"),       allow("c", 1, 7, "rwm"),
          allow("c", 1, 8, "rwm"),        allow("c", 1, 9, "rwm"),       allow("c", 5, 0, "rwm"),
          allow("c", 5, 1, "rwm"),        allow("c", 5, 2, "rwm"),       allow("c", 136, any, "rwm")};
}

std::uint32_t bits(const std::string& access) {
  std::uint32_t b = 0;
  for (char c : access) b |= c == 'r' ? kDeviceRead : c == 'w' ? kDeviceWrite : c == 'm' ? kDeviceMknod : 0;
  return b;
}

// What a rule list means (device_filter.hpp), worked out for one request straight from the rules rather
// than from a policy: the last "a" rule gives the default (deny without one); after it, each pattern that
// matches the device holds, per access, the verdict of the last rule with exactly that pattern and access.
// With deny by default, one pattern must hold every requested access; with allow, any one denies.
bool reference_allows(const std::vector<DeviceRule>& rules, char type, std::uint32_t major, std::uint32_t minor,
                      std::uint32_t access) {
  std::size_t start = 0;
  bool default_allow = false;
  for (std::size_t i = 0; i < rules.size(); ++i)
    if (rules[i].type == "a") start = i + 1, default_allow = rules[i].allow;
  auto same_pattern = [](const DeviceRule& a, const DeviceRule& b) {
    return a.type == b.type && a.major == b.major && a.minor == b.minor;
  };
  for (std::size_t i = start; i < rules.size(); ++i) {
    const DeviceRule& p = rules[i];
    if (p.type[0] != type || (p.major && *p.major != major) || (p.minor && *p.minor != minor)) continue;
    std::uint32_t against_default = 0;
    for (std::uint32_t bit : {kDeviceRead, kDeviceWrite, kDeviceMknod})
      for (std::size_t j = rules.size(); j-- > start;)
        if (same_pattern(rules[j], p) && (bits(rules[j].access) & bit)) {
          if (rules[j].allow != default_allow) against_default |= bit;
          break;
        }
    if (!default_allow && (access & against_default) == access) return true;
    if (default_allow && (access & against_default)) return false;
  }
  return default_allow;
}

// Runs a device program as the kernel would for one access, for exactly the instructions the generator may
// emit; anything else, a backward or out-of-range jump, a read of an unset register or a result other than
// 0/1 fails the test.
int run_program(const std::vector<bpf_insn>& program, std::uint32_t type, std::uint32_t major, std::uint32_t minor,
                std::uint32_t access) {
  const std::uint32_t ctx[3] = {access << 16 | type, major, minor};
  std::uint64_t reg[11] = {};
  bool set[11] = {}, is_ctx[11] = {};
  set[1] = is_ctx[1] = true;
  auto value = [&](int r) {
    EXPECT_TRUE(set[r] && !is_ctx[r]) << "reads register " << r << " before it holds a number";
    return reg[r];
  };
  auto put = [&](int r, std::uint64_t v) {
    EXPECT_NE(r, 10) << "writes the frame pointer";
    reg[r] = v, set[r] = true, is_ctx[r] = false;
  };
  std::size_t pc = 0;
  while (true) {
    if (pc >= program.size()) {
      ADD_FAILURE() << "runs off the end of the program";
      return -1;
    }
    const bpf_insn& i = program[pc];
    const std::uint64_t imm64 = static_cast<std::uint64_t>(static_cast<std::int64_t>(i.imm));
    bool jump = false;
    switch (i.code) {
      case BPF_LDX | BPF_MEM | BPF_W:
        if (!is_ctx[i.src_reg] || i.off < 0 || i.off > 8 || i.off % 4 != 0) {
          ADD_FAILURE() << "load at " << pc << " is not a word of the context";
          return -1;
        }
        put(i.dst_reg, ctx[i.off / 4]);
        break;
      case BPF_ALU | BPF_AND | BPF_K:
        put(i.dst_reg, static_cast<std::uint32_t>(value(i.dst_reg)) & static_cast<std::uint32_t>(i.imm));
        break;
      case BPF_ALU | BPF_RSH | BPF_K:
        EXPECT_TRUE(i.imm >= 0 && i.imm < 32);
        put(i.dst_reg, static_cast<std::uint32_t>(value(i.dst_reg)) >> i.imm);
        break;
      case BPF_ALU | BPF_MOV | BPF_X:
        put(i.dst_reg, static_cast<std::uint32_t>(value(i.src_reg)));
        break;
      case BPF_ALU64 | BPF_MOV | BPF_K:
        put(i.dst_reg, imm64);
        break;
      case BPF_JMP | BPF_JNE | BPF_K:
        jump = value(i.dst_reg) != imm64;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        jump = value(i.dst_reg) == imm64;
        break;
      case BPF_JMP | BPF_JNE | BPF_X:
        jump = value(i.dst_reg) != value(i.src_reg);
        break;
      case BPF_JMP32 | BPF_JNE | BPF_K:
        jump = static_cast<std::uint32_t>(value(i.dst_reg)) != static_cast<std::uint32_t>(i.imm);
        break;
      case BPF_JMP | BPF_EXIT: {
        std::uint64_t r0 = value(0);
        EXPECT_LE(r0, 1u) << "a device program returns 0 or 1";
        return static_cast<int>(r0);
      }
      default:
        ADD_FAILURE() << "instruction " << pc << " has opcode 0x" << std::hex << int(i.code) << ", outside the subset";
        return -1;
    }
    if ((i.code & 0x07) == BPF_JMP || (i.code & 0x07) == BPF_JMP32) {
      if (i.off < 0 || pc + 1 + i.off >= program.size()) {
        ADD_FAILURE() << "jump at " << pc << " by " << i.off << " goes backwards or out of the program";
        return -1;
      }
      if (jump) pc += i.off;
    }
    ++pc;
  }
}

const std::vector<std::uint32_t> kNumbers = {0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 136, 229, 4095, 0x7fffffff, 0x80000000, 0xffffffff};

// Every (type, major, minor, access) of the grid: the program's verdict is the reference's.
void expect_program_means_rules(const std::vector<DeviceRule>& rules) {
  std::vector<bpf_insn> program = device_filter_program(rules);
  int checked = 0;
  for (char type : {'c', 'b'})
    for (std::uint32_t major : kNumbers)
      for (std::uint32_t minor : kNumbers)
        for (std::uint32_t access = 1; access <= kDeviceAllAccess; ++access) {
          std::uint32_t bpf_type = type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
          int verdict = run_program(program, bpf_type, major, minor, access);
          bool expected = reference_allows(rules, type, major, minor, access);
          ASSERT_EQ(verdict, expected ? 1 : 0) << type << " " << major << ":" << minor << " access " << access;
          ++checked;
        }
  EXPECT_EQ(checked, 2 * 17 * 17 * 7);
}

bool program_allows(const std::vector<DeviceRule>& rules, char type, std::uint32_t major, std::uint32_t minor,
                    const std::string& access) {
  return run_program(device_filter_program(rules), type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, major,
                     minor, bits(access)) == 1;
}

}  // namespace

TEST(DeviceFilter, DockerDefaultMeansWhatDockerSays) {
  auto rules = docker_default();
  EXPECT_TRUE(program_allows(rules, 'c', 1, 3, "rw"));    // /dev/null
  EXPECT_TRUE(program_allows(rules, 'c', 1, 9, "r"));     // /dev/urandom
  EXPECT_TRUE(program_allows(rules, 'c', 5, 2, "rwm"));   // /dev/ptmx
  EXPECT_TRUE(program_allows(rules, 'c', 136, 7, "rw"));  // /dev/pts/7
  EXPECT_TRUE(program_allows(rules, 'c', 1, 1, "m"));     // mknod of any char device
  EXPECT_TRUE(program_allows(rules, 'b', 8, 0, "m"));     // and of any block device
  EXPECT_FALSE(program_allows(rules, 'c', 1, 1, "r"));    // /dev/mem
  EXPECT_FALSE(program_allows(rules, 'c', 1, 1, "rm"));   // "m" alone is allowed, not with "r"
  EXPECT_FALSE(program_allows(rules, 'c', 10, 229, "r")); // /dev/fuse
  EXPECT_FALSE(program_allows(rules, 'b', 8, 0, "r"));    // /dev/sda
  EXPECT_FALSE(program_allows(rules, 'c', 5, 3, "w"));
  EXPECT_FALSE(program_allows(rules, 'b', 1, 3, "r"));    // the type counts
  expect_program_means_rules(rules);
}

TEST(DeviceFilter, EmptyListDeniesEverything) {
  expect_program_means_rules({});
  EXPECT_FALSE(program_allows({}, 'c', 1, 3, "r"));
  EXPECT_FALSE(program_allows({}, 'c', 1, 3, "m"));
}

TEST(DeviceFilter, AllowAllAllowsEverything) {
  std::vector<DeviceRule> rules = {allow("a", any, any, "rwm")};
  expect_program_means_rules(rules);
  EXPECT_TRUE(program_allows(rules, 'b', 8, 0, "rwm"));
  EXPECT_EQ(device_filter_program(rules).size(), 2u);  // "return 1"
}

TEST(DeviceFilter, MixedListsMeanWhatTheRulesSay) {
  // Deny by default; partial access, merged grants, access taken back, numbers above 2^31.
  std::vector<DeviceRule> deny_default = {
      deny("a", any, any, "rwm"),   allow("c", 1, any, "r"),        allow("c", any, 3, "w"),
      allow("c", 1, 3, "m"),        allow("b", 8, 0, "rw"),         deny("b", 8, 0, "w"),
      allow("c", 10, 229, "r"),     allow("c", 10, 229, "w"),       allow("c", 4, any, "rwm"),
      deny("c", 4, any, "r"),       allow("c", 0xffffffff, 0xffffffff, "r"), allow("b", 0x80000000, any, "w")};
  expect_program_means_rules(deny_default);
  EXPECT_TRUE(program_allows(deny_default, 'c', 10, 229, "rw"));  // two grants of one pattern add up
  EXPECT_FALSE(program_allows(deny_default, 'c', 1, 3, "rw"));    // two patterns do not (as in v1)
  EXPECT_TRUE(program_allows(deny_default, 'b', 8, 0, "r"));
  EXPECT_FALSE(program_allows(deny_default, 'b', 8, 0, "w"));
  EXPECT_FALSE(program_allows(deny_default, 'c', 4, 1, "r"));
  EXPECT_TRUE(program_allows(deny_default, 'c', 4, 1, "wm"));
  EXPECT_TRUE(program_allows(deny_default, 'c', 0xffffffff, 0xffffffff, "r"));
  EXPECT_FALSE(program_allows(deny_default, 'c', 0xffffffff, 0xfffffffe, "r"));

  // Allow by default: exceptions deny as soon as they hold one requested access.
  std::vector<DeviceRule> allow_default = {allow("a", any, any, "rwm"), deny("c", 1, 3, "w"), deny("b", any, any, "m"),
                                           deny("c", 5, any, "rwm"),    allow("c", 5, any, "r"),
                                           deny("c", 0x80000001, any, "r")};
  expect_program_means_rules(allow_default);
  EXPECT_FALSE(program_allows(allow_default, 'c', 1, 3, "rw"));
  EXPECT_TRUE(program_allows(allow_default, 'c', 1, 3, "r"));
  EXPECT_TRUE(program_allows(allow_default, 'c', 5, 1, "r"));
  EXPECT_FALSE(program_allows(allow_default, 'c', 5, 1, "rm"));
  EXPECT_FALSE(program_allows(allow_default, 'b', 7, 0, "m"));

  // "a" rules start over; a list without one starts from deny.
  std::vector<DeviceRule> resets = {allow("c", 1, 3, "rwm"), deny("a", any, any, "rwm"), allow("c", 1, 5, "r"),
                                    allow("a", any, any, "mrw"), deny("c", 1, 7, "rw"), deny("a", any, any, "rwm"),
                                    allow("c", 1, 8, "rw"), deny("c", 1, 8, "w")};
  expect_program_means_rules(resets);
  EXPECT_FALSE(program_allows(resets, 'c', 1, 3, "r"));
  EXPECT_TRUE(program_allows(resets, 'c', 1, 8, "r"));
  EXPECT_FALSE(program_allows(resets, 'c', 1, 8, "w"));
  std::vector<DeviceRule> no_default = {allow("c", 1, 3, "rw")};
  expect_program_means_rules(no_default);
  EXPECT_FALSE(program_allows(no_default, 'c', 1, 5, "r"));
}

TEST(DeviceFilter, PolicyMergesPatternsAndKeepsTheirOrder) {
  DevicePolicy docker = device_policy(docker_default());
  EXPECT_FALSE(docker.default_allow);
  ASSERT_EQ(docker.exceptions.size(), 11u);
  EXPECT_EQ(docker.exceptions[0].cgroup_v1_line(), "c *:* m");
  EXPECT_EQ(docker.exceptions[2].cgroup_v1_line(), "c 1:3 rwm");
  EXPECT_EQ(docker.exceptions[10].cgroup_v1_line(), "c 136:* rwm");

  DevicePolicy p = device_policy({deny("a", any, any, "rwm"), allow("c", 1, 3, "r"), allow("b", 7, any, "m"),
                                  allow("c", 1, 3, "mw"), deny("c", 1, 3, "r"), deny("b", 7, any, "m")});
  EXPECT_EQ(p, (DevicePolicy{false, {DeviceException{'c', 1, 3, kDeviceWrite | kDeviceMknod}}}));
  EXPECT_EQ(device_cgroup_v1_writes(p),
            (std::vector<std::pair<std::string, std::string>>{{"devices.deny", "a"}, {"devices.allow", "c 1:3 wm"}}));
  EXPECT_EQ(device_cgroup_v1_writes(device_policy({allow("a", any, any, "rwm"), deny("c", 1, 3, "w")})),
            (std::vector<std::pair<std::string, std::string>>{{"devices.allow", "a"}, {"devices.deny", "c 1:3 w"}}));
}

TEST(DeviceFilter, RefusesWhatV1WouldIgnoreOrCannotSay) {
  auto message = [](const std::vector<DeviceRule>& rules) {
    try {
      device_policy(rules);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  // Taking access from part of a wildcard grant: v1 would silently keep granting it.
  EXPECT_EQ(message({deny("a", any, any, "rwm"), allow("c", any, any, "rwm"), deny("c", 1, 3, "w")}),
            "device rule 2 (deny c 1:3 w): cannot take access from devices that the exception c *:* rwm of an "
            "earlier rule still grants (cgroup v1 would ignore the rule)");
  EXPECT_NE(message({deny("a", any, any, "rwm"), allow("c", 1, any, "r"), deny("c", any, 3, "r")}), "accepted");
  EXPECT_NE(message({allow("a", any, any, "rwm"), deny("b", any, any, "rwm"), allow("b", 8, 0, "r")}), "accepted");
  // ...but not access the wider pattern does not hold.
  EXPECT_EQ(message({deny("a", any, any, "rwm"), allow("c", any, any, "m"), allow("c", 1, 3, "rw"), deny("c", 1, 3, "w")}),
            "accepted");
  EXPECT_EQ(message({deny("a", any, any, "rwm"), allow("x", 1, 3, "r")}), "device rule 1 (allow x 1:3 r): type must be a, c or b");
  EXPECT_EQ(message({allow("c", 1, 3, "rx")}), "device rule 0 (allow c 1:3 rx): access must be a combination of r, w and m");
  EXPECT_NE(message({allow("c", 1, 3, "")}), "accepted");
  EXPECT_NE(message({deny("a", 1, any, "rwm")}), "accepted");
  EXPECT_NE(message({deny("a", any, any, "r")}), "accepted");
  EXPECT_EQ(message({allow("c", -1, 3, "r")}), "device rule 0 (allow c -1:3 r): major out of range");
  EXPECT_EQ(message({allow("c", 1, 0x100000000, "r")}), "device rule 0 (allow c 1:4294967296 r): minor out of range");
  EXPECT_THROW(device_filter_program({allow("c", any, any, "rwm"), deny("c", 1, 3, "r")}), Error);
}
