#include "cppcker/cgroup/device_filter.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "cppcker/util/error.hpp"

namespace cppcker {

namespace {

std::string access_string(std::uint32_t access) {
  std::string out;
  if (access & kDeviceRead) out += 'r';
  if (access & kDeviceWrite) out += 'w';
  if (access & kDeviceMknod) out += 'm';
  return out;
}

std::string describe(const oci::DeviceRule& r) {
  auto number = [](const std::optional<std::int64_t>& n) { return n ? std::to_string(*n) : std::string("*"); };
  return std::string(r.allow ? "allow " : "deny ") + r.type + " " + number(r.major) + ":" + number(r.minor) + " " +
         r.access;
}

bool same_pattern(const DeviceException& a, const DeviceException& b) {
  return a.type == b.type && a.major == b.major && a.minor == b.minor;
}

// Whether some device matches both patterns.
bool overlap(const DeviceException& a, const DeviceException& b) {
  auto compatible = [](const std::optional<std::uint32_t>& x, const std::optional<std::uint32_t>& y) {
    return !x || !y || *x == *y;
  };
  return a.type == b.type && compatible(a.major, b.major) && compatible(a.minor, b.minor);
}

// ---- the few eBPF instructions the program needs (encodings from linux/bpf.h and linux/bpf_common.h)

bpf_insn instruction(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t off, std::int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}
bpf_insn load_word(std::uint8_t dst, std::uint8_t src, std::int16_t off) {
  return instruction(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0);
}
bpf_insn alu32_imm(std::uint8_t op, std::uint8_t dst, std::int32_t imm) {
  return instruction(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
}
bpf_insn mov32_reg(std::uint8_t dst, std::uint8_t src) { return instruction(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0); }
bpf_insn mov64_imm(std::uint8_t dst, std::int32_t imm) { return instruction(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
bpf_insn exit_insn() { return instruction(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

long bpf(int cmd, union bpf_attr* attr) { return ::syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

}  // namespace

std::string DeviceException::cgroup_v1_line() const {
  auto number = [](const std::optional<std::uint32_t>& n) { return n ? std::to_string(*n) : std::string("*"); };
  return std::string(1, type) + " " + number(major) + ":" + number(minor) + " " + access_string(access);
}

DevicePolicy device_policy(const std::vector<oci::DeviceRule>& rules) {
  DevicePolicy policy;  // deny every device until a rule says otherwise
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const oci::DeviceRule& r = rules[i];
    const std::string what = "device rule " + std::to_string(i) + " (" + describe(r) + ")";
    std::uint32_t access = 0;
    for (char c : r.access) {
      if (c == 'r') access |= kDeviceRead;
      else if (c == 'w') access |= kDeviceWrite;
      else if (c == 'm') access |= kDeviceMknod;
      else throw Error(what + ": access must be a combination of r, w and m");
    }
    if (access == 0) throw Error(what + ": access must be a combination of r, w and m");
    if (r.type == "a") {
      // v1 takes "a" as "every device, every access", whatever else the line says.
      if (r.major || r.minor || access != kDeviceAllAccess)
        throw Error(what + ": a rule of type a must be for every device and access (a *:* rwm)");
      policy = DevicePolicy{r.allow, {}};
      continue;
    }
    if (r.type != "c" && r.type != "b") throw Error(what + ": type must be a, c or b");
    auto number = [&](const std::optional<std::int64_t>& n, const char* name) -> std::optional<std::uint32_t> {
      if (!n) return std::nullopt;
      if (*n < 0 || *n > std::numeric_limits<std::uint32_t>::max()) throw Error(what + ": " + name + " out of range");
      return static_cast<std::uint32_t>(*n);
    };
    DeviceException rule{r.type[0], number(r.major, "major"), number(r.minor, "minor"), access};
    auto same = std::find_if(policy.exceptions.begin(), policy.exceptions.end(),
                             [&](const DeviceException& e) { return same_pattern(e, rule); });
    if (r.allow != policy.default_allow) {
      if (same != policy.exceptions.end()) same->access |= access;
      else policy.exceptions.push_back(rule);
      continue;
    }
    // v1 takes access away from the exception with exactly this pattern only; another one that still
    // grants it would make the rule a silent no-op.
    for (const auto& e : policy.exceptions)
      if (!same_pattern(e, rule) && overlap(e, rule) && (e.access & access))
        throw Error(what + ": cannot take access from devices that the exception " + e.cgroup_v1_line() +
                    " of an earlier rule still " + (policy.default_allow ? "denies" : "grants") +
                    " (cgroup v1 would ignore the rule)");
    if (same != policy.exceptions.end()) {
      same->access &= ~access;
      if (same->access == 0) policy.exceptions.erase(same);
    }
  }
  return policy;
}

std::vector<std::pair<std::string, std::string>> device_cgroup_v1_writes(const DevicePolicy& policy) {
  const std::string to_default = policy.default_allow ? "devices.allow" : "devices.deny";
  const std::string to_exception = policy.default_allow ? "devices.deny" : "devices.allow";
  std::vector<std::pair<std::string, std::string>> out = {{to_default, "a"}};
  for (const auto& e : policy.exceptions) out.emplace_back(to_exception, e.cgroup_v1_line());
  return out;
}

std::vector<bpf_insn> device_filter_program(const std::vector<oci::DeviceRule>& rules) {
  return device_filter_program(device_policy(rules));
}

std::vector<bpf_insn> device_filter_program(const DevicePolicy& policy) {
  // The context (R1) is struct bpf_cgroup_dev_ctx: u32 access_type (access << 16 | type), u32 major,
  // u32 minor. Each block loads the fields it tests afresh rather than once for the whole program: then no
  // register carries what an earlier block learnt into the next, every state the verifier reaches at a
  // block's start is the same, and it checks a list of n rules in O(n) steps (with the fields kept in
  // registers, it tracks their values across blocks and gives up at about a thousand rules).
  std::vector<bpf_insn> p;
  const std::int32_t exception_verdict = policy.default_allow ? 0 : 1;
  for (const auto& e : policy.exceptions) {
    // Tests that jump past the block's end (to the next block) when the request does not match, then
    // "return the exception's verdict".
    std::vector<std::size_t> jumps;
    p.push_back(load_word(BPF_REG_2, BPF_REG_1, 0));
    p.push_back(alu32_imm(BPF_AND, BPF_REG_2, 0xffff));  // R2 = device type
    jumps.push_back(p.size());
    p.push_back(instruction(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 0,
                            e.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR));
    if (e.access != kDeviceAllAccess) {
      p.push_back(load_word(BPF_REG_3, BPF_REG_1, 0));
      p.push_back(alu32_imm(BPF_RSH, BPF_REG_3, 16));  // R3 = requested access
      p.push_back(mov32_reg(BPF_REG_6, BPF_REG_3));
      p.push_back(alu32_imm(BPF_AND, BPF_REG_6, static_cast<std::int32_t>(e.access)));  // R6 = R3 & access
      jumps.push_back(p.size());
      if (policy.default_allow)  // a deny exception matches when it holds any requested access
        p.push_back(instruction(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_6, 0, 0, 0));
      else  // an allow exception matches when it holds all of them
        p.push_back(instruction(BPF_JMP | BPF_JNE | BPF_X, BPF_REG_6, BPF_REG_3, 0, 0));
    }
    // 32-bit compares: a number above 2^31 must not be sign-extended into a 64-bit one.
    if (e.major) {
      p.push_back(load_word(BPF_REG_4, BPF_REG_1, 4));
      jumps.push_back(p.size());
      p.push_back(instruction(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, static_cast<std::int32_t>(*e.major)));
    }
    if (e.minor) {
      p.push_back(load_word(BPF_REG_5, BPF_REG_1, 8));
      jumps.push_back(p.size());
      p.push_back(instruction(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, static_cast<std::int32_t>(*e.minor)));
    }
    p.push_back(mov64_imm(BPF_REG_0, exception_verdict));
    p.push_back(exit_insn());
    for (std::size_t j : jumps) p[j].off = static_cast<std::int16_t>(p.size() - (j + 1));
  }
  p.push_back(mov64_imm(BPF_REG_0, policy.default_allow ? 1 : 0));
  p.push_back(exit_insn());
  return p;
}

UniqueFd load_device_filter(const std::vector<bpf_insn>& program) {
  // No GPL-only helper is called, so any license string will do; runc says the same.
  static const char kLicense[] = "Apache";
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = reinterpret_cast<std::uintptr_t>(program.data());
  attr.insn_cnt = static_cast<std::uint32_t>(program.size());
  attr.license = reinterpret_cast<std::uintptr_t>(kLicense);
  long fd = bpf(BPF_PROG_LOAD, &attr);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  const int err = errno;
  // Once more with the verifier's log, only to say why.
  std::string log(1 << 16, '\0');
  attr.log_level = 1;
  attr.log_buf = reinterpret_cast<std::uintptr_t>(log.data());
  attr.log_size = static_cast<std::uint32_t>(log.size());
  fd = bpf(BPF_PROG_LOAD, &attr);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  log.resize(std::strlen(log.c_str()));
  while (!log.empty() && log.back() == '\n') log.pop_back();
  std::string last = log.substr(log.rfind('\n') == std::string::npos ? 0 : log.rfind('\n') + 1);
  throw SystemError("bpf: load the device cgroup program (" + std::to_string(program.size()) + " instructions" +
                        (last.empty() ? ")" : "; verifier: " + last + ")"),
                    err);
}

void attach_device_filter(int cgroup_dir_fd, int program_fd, const std::string& where) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.target_fd = static_cast<std::uint32_t>(cgroup_dir_fd);
  attr.attach_bpf_fd = static_cast<std::uint32_t>(program_fd);
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;  // beside whatever the parents have: every program must allow
  if (bpf(BPF_PROG_ATTACH, &attr) != 0) throw_errno("bpf: attach the device cgroup program to " + where);
}

}  // namespace cppcker
