#pragma once
// The devices cgroup: what a list of OCI device rules means, as the lines cgroup v1 takes in devices.allow
// and devices.deny, and as the BPF_PROG_TYPE_CGROUP_DEVICE program cgroup v2 runs on every device access.
// The program is a few instructions emitted by hand (as runc and crun do): it is made per container at
// run time, and libbpf would add a dependency and load time for nothing.
//
// What a rule list means (the v1 devices controller's semantics, which runc also gives its v2 programs):
// the rules apply in order, starting from "deny every device". A rule of type "a" (every device, access
// rwm) makes its verdict the default and drops every rule before it. Any other rule names a pattern (type
// c or b, major or any, minor or any) and an access (r, w, m): when its verdict differs from the default it
// adds that access to the exception for exactly its pattern, otherwise it takes the access away from that
// exception; so per pattern and access the last rule wins. A request (type, major, minor and the accesses
// it needs) gets the exceptions' verdict when, with deny by default, one matching exception holds every
// requested access, or, with allow by default, a matching exception holds any of them. A rule that would
// take access away while another pattern overlapping its own still grants it ("deny c 1:3" after
// "allow c *:*") has no effect in v1 and is refused rather than silently ignored (runc refuses it too).
#include <linux/bpf.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cppcker/oci/runtime_spec.hpp"
#include "cppcker/util/fd.hpp"

namespace cppcker {

// Access bits as the kernel passes them to the program (upper half of bpf_cgroup_dev_ctx.access_type).
inline constexpr std::uint32_t kDeviceMknod = BPF_DEVCG_ACC_MKNOD;
inline constexpr std::uint32_t kDeviceRead = BPF_DEVCG_ACC_READ;
inline constexpr std::uint32_t kDeviceWrite = BPF_DEVCG_ACC_WRITE;
inline constexpr std::uint32_t kDeviceAllAccess = kDeviceMknod | kDeviceRead | kDeviceWrite;

// One pattern and the access it grants (or, when the default is allow, denies).
struct DeviceException {
  char type = 'c';                     // 'c' or 'b'
  std::optional<std::uint32_t> major;  // nullopt: any
  std::optional<std::uint32_t> minor;  // nullopt: any
  std::uint32_t access = 0;            // kDevice* bits, never 0
  // The v1 line: "c 1:3 rwm", "b *:* m".
  std::string cgroup_v1_line() const;
  bool operator==(const DeviceException&) const = default;
};

// The state a rule list leaves: a default verdict and the exceptions to it, in the order their patterns
// first appear.
struct DevicePolicy {
  bool default_allow = false;
  std::vector<DeviceException> exceptions;
  bool operator==(const DevicePolicy&) const = default;
};

// Applies the rules as described above. Throws Error naming the rule (its index and "allow c 1:3 rwm") for
// an unknown type or access, a major or minor outside 0..2^32-1, a type "a" rule that is not for every
// device and access, and a rule v1 would silently ignore.
DevicePolicy device_policy(const std::vector<oci::DeviceRule>& rules);

// The v1 writes that give a fresh devices cgroup this policy, in order: (file, line), the file being
// "devices.allow" or "devices.deny". The first sets the default ("a"), the others are the exceptions.
std::vector<std::pair<std::string, std::string>> device_cgroup_v1_writes(const DevicePolicy& policy);

// The cgroup v2 device program for the rules (the policy's exceptions checked in turn, then the default):
// returns 1 to allow, 0 to deny. Uses only loads from the context, 32-bit ALU and jumps: no helper, no map.
std::vector<bpf_insn> device_filter_program(const std::vector<oci::DeviceRule>& rules);
std::vector<bpf_insn> device_filter_program(const DevicePolicy& policy);

// BPF_PROG_LOAD of a BPF_PROG_TYPE_CGROUP_DEVICE program; the error carries the verifier's last word.
UniqueFd load_device_filter(const std::vector<bpf_insn>& program);
// BPF_PROG_ATTACH (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI) of the program to the open cgroup2 directory;
// `where` names the directory in errors. The cgroup keeps the program; the fd may be closed afterwards.
void attach_device_filter(int cgroup_dir_fd, int program_fd, const std::string& where);

}  // namespace cppcker
